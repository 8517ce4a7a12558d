// Bad files: every file tapegrad and its examples read -- .npz archives, model files,
// training checkpoints, the sentiment and char_lm model pairs, labelled TSV/CSV files, list
// files, series CSVs and the UCI JSON -- given empty, truncated, corrupted, in another format,
// with the wrong shapes or contents, missing, or as a folder: each is a value_error naming the
// file and what is wrong, and changes nothing (not the model, not the optimizer, not a byte on
// disk). A save that fails leaves the file at its target as it was. This file has autograd's
// (.npz archives); test_bad_files_optim.cpp and _data.cpp the other parts', the examples' own
// tests their files' (the cases: bad_files.hpp).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "bad_files.hpp"

using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::Npz;
using tapegrad_test::TempDir;
using namespace tapegrad_test::bad_files;

// ---- .npz archives ----

TEST_CASE("bad files: Npz::load refuses empty, cut, flipped, foreign, missing and folder paths") {
  TempDir dir;
  Npz npz;
  npz.put("weight", Array<float>{{0.5f, -1.25f, 3.0f}, {4.0f, 5.5f, -6.0f}});
  npz.put("bias", Array<double>{1.0, 2.0, -3.5});
  npz.put("ids", IndexArray{3, 1, 2});
  npz.save(dir.file("good.npz"));
  const std::string valid = read_bytes(dir.file("good.npz"));
  check_refused(dir, dir.file("bad.npz"), npz_cases(valid),
                [](const std::string& path) { Npz::load(path); });
  CHECK(read_bytes(dir.file("good.npz")) == valid);
}

TEST_CASE("bad files: an .npy entry with a bad header is refused by name") {
  TempDir dir;
  Npz npz;
  npz.put("weight", Array<float>{{0.5f, -1.25f, 3.0f}, {4.0f, 5.5f, -6.0f}});
  npz.save(dir.file("good.npz"));
  const std::string valid = read_bytes(dir.file("good.npz"));
  // The surgery itself is sound: the same header loads.
  write_bytes(
      dir.file("same.npz"),
      with_npy_header(valid, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"));
  CHECK(Npz::load(dir.file("same.npz")).get<float>("weight") == npz.get<float>("weight"));

  const auto header = [&](const std::string& name, const std::string& text,
                          const std::string& expected) {
    return with_bytes(name, with_npy_header(valid, text), expected);
  };
  const std::vector<BadFile> cases = {
      header("shape of another size", "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 3), }",
             "entry 'weight': shape [3,3] of <f4 needs 36 bytes of data, the entry has 24"),
      header("shape too large for 64 bits",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }",
             "entry 'weight': "),
      header("shape overflowing when multiplied",
             "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 16), }",
             "entry 'weight': shape too large"),
      header("dtype size too large for 64 bits",
             "{'descr': '<f99999999999999999999', 'fortran_order': False, 'shape': (2, 3), }",
             "entry 'weight': "),
      header("big-endian", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
             "big-endian"),
      header("complex numbers", "{'descr': '<c4', 'fortran_order': False, 'shape': (2, 3), }",
             "unsupported dtype '<c4'"),
      header("no shape", "{'descr': '<f4', 'fortran_order': False, }", "malformed header"),
      header("shape not closed", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, }",
             "entry 'weight': "),
      header("letters in the shape", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }",
             "malformed shape"),
  };
  check_refused(dir, dir.file("bad.npz"), cases, [](const std::string& path) { Npz::load(path); });
}
