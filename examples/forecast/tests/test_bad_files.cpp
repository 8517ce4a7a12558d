// Bad files given to the forecast example: the series CSV (the cases: tests/bad_files.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bad_files.hpp"
#include "forecast.hpp"

using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;
using namespace tapegrad_test::bad_files;

TEST_CASE("bad files: the forecast series CSV refuses folders and binary files") {
  TempDir dir;
  const std::vector<BadFile> cases = {
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("PNG image", png_bytes, "a NUL byte"),
      with_bytes("a binary line without NUL bytes", "price\n1.5\n\x89\x01\x02\n",
                 "line 3: '\x89\\x01\\x02' is not a finite number"),
      with_bytes("cut inside a number", "1.5\n2.5\n3e", "line 3: '3e' is not a finite number"),
  };
  check_refused(dir, dir.file("series.csv"), cases,
                [](const std::string& path) { forecast::read_series_csv(path); });
}
