// Bad files given to tapegrad::data's readers: labelled TSV/CSV files and list files (the
// cases: bad_files.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bad_files.hpp"
#include "tapegrad/data.hpp"

namespace data = tapegrad::data;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;
using namespace tapegrad_test::bad_files;

TEST_CASE("bad files: read_labelled_text refuses folders, binary files and cut records") {
  TempDir dir;
  const std::string valid = "text\tlabel\ngood film\tpos\nbad film\tneg\n";
  std::vector<BadFile> cases = {
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("PNG image", png_bytes, "line 3: a NUL byte"),
      with_bytes("an .npz archive",
                 read_bytes(tapegrad_test::source_dir() + "/tests/fixtures/numpy_stored.npz"),
                 "a NUL byte"),
      with_bytes("cut in the last record", valid.substr(0, valid.size() - 8),
                 "line 3: expected 2 fields, got 1"),
      with_bytes("a tab flipped to a NUL", valid.substr(0, 20) + '\0' + valid.substr(21),
                 "line 2: a NUL byte"),
      with_bytes("only the header", valid.substr(0, 11), "has a header line but no examples"),
  };
  check_refused(dir, dir.file("bad.tsv"), cases,
                [](const std::string& path) { data::read_labelled_text(path); });
  // A numeric label set: a word where a number belongs.
  data::ReadOptions numeric;
  numeric.labels = data::LabelSet({"0", "1"});
  check_refused(dir, dir.file("bad.tsv"),
                {with_bytes("a word label", "text\tlabel\ngood\t1\nbad\tnegative\n",
                            "line 3: unknown label 'negative' (labels: 0, 1)")},
                [&](const std::string& path) { data::read_labelled_text(path, numeric); });
}

TEST_CASE("bad files: Vocabulary and LabelSet files refuse folders and binary files") {
  TempDir dir;
  const std::vector<BadFile> cases = {
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("PNG image", png_bytes, "a NUL byte"),
      with_bytes("an .npz archive",
                 read_bytes(tapegrad_test::source_dir() + "/tests/fixtures/numpy_stored.npz"),
                 "a NUL byte"),
      with_bytes("a NUL in a token", std::string("<pad>\n<unk>\nth\0e\n", 17),
                 "line 3: a NUL byte"),
  };
  check_refused(dir, dir.file("list.txt"), cases,
                [](const std::string& path) { data::Vocabulary::load(path); });
  check_refused(dir, dir.file("list.txt"), cases,
                [](const std::string& path) { data::LabelSet::load(path); });
  // What the constructors accept, save writes and load reads back: no NUL bytes.
  CHECK_THROWS_AS(data::LabelSet({"a", std::string("b\0c", 3)}), value_error);
}
