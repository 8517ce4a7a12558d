// Bad files given to the char_lm example: its text and its saved model pair (the cases:
// tests/bad_files.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bad_files.hpp"
#include "char_lm.hpp"

using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;
using namespace tapegrad_test::bad_files;

TEST_CASE("bad files: char_lm's text and saved pair refuse bad files") {
  TempDir dir;
  check_refused(
      dir, dir.file("text.txt"),
      {{"missing file", BadFile::missing, "", "cannot be read"},
       {"folder", BadFile::folder, "", "is a folder"},
       with_bytes("empty file", "", "is empty"),
       with_bytes("PNG image", png_bytes, "is 0x00, a NUL byte"),
       with_bytes("an .npz archive",
                  read_bytes(tapegrad_test::source_dir() + "/tests/fixtures/numpy_stored.npz"),
                  "a NUL byte"),
       with_bytes("Latin-1 text", "caf\xe9 au lait\n", "byte 3 (line 1) is 0xe9, not UTF-8")},
      [](const std::string& path) { char_lm::read_text(path); });

  const char_lm::Corpus corpus = char_lm::make_corpus("the cat sat on the mat. the mat sat.", 0.2);
  char_lm::ModelConfig config;
  config.vocab_size = corpus.vocab.size();
  config.embedding_size = 4;
  config.hidden_size = 6;
  tapegrad::Generator gen(3);
  const char_lm::CharModel model(config, gen);
  const std::string path = dir.file("lm.npz");
  char_lm::save(model, corpus.vocab, path);
  const std::string vocab_path = char_lm::vocab_path_for(path);
  const std::string model_bytes = read_bytes(path), vocab_bytes = read_bytes(vocab_path);
  const auto load = [](const std::string& p) { char_lm::load(p); };

  // The model file bad, the vocabulary good.
  std::filesystem::copy_file(vocab_path, dir.file("bad.vocab.txt"));
  check_refused(dir, dir.file("bad.npz"), npz_cases(model_bytes), load);

  // The model good, the vocabulary bad.
  const std::string lines = vocab_bytes;
  const std::vector<BadFile> vocab_cases = {
      {"missing file", BadFile::missing, "", "cannot open"},
      {"folder", BadFile::folder, "", "is a folder"},
      with_bytes("empty file", "", "is empty"),
      with_bytes("PNG image", png_bytes, "a NUL byte"),
      with_bytes("cut at a line end", lines.substr(0, lines.find('\n', 20) + 1), "not a pair"),
      with_bytes("a token that is no character", "<pad>\n<unk>\nab\n",
                 "line 3: 'ab' is not a character token"),
  };
  check_refused(dir, vocab_path, vocab_cases, [&](const std::string&) { char_lm::load(path); });
  write_bytes(vocab_path, vocab_bytes);
  CHECK_NOTHROW(char_lm::load(path));
}
