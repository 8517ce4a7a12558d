// Bad files given to the sentiment example: its saved model pair and the UCI JSON it imports
// (the cases: tests/bad_files.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bad_files.hpp"
#include "sentiment.hpp"
#include "tapegrad/data.hpp"

namespace data = tapegrad::data;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;
using namespace tapegrad_test::bad_files;

TEST_CASE("bad files: the sentiment model pair refuses bad files") {
  TempDir dir;
  sentiment::ModelConfig config;
  config.vocab_size = 6;
  config.embedding_dim = 4;
  config.hidden_size = 3;
  config.cell = tapegrad::nn::CellKind::lstm;
  sentiment::TextEncoder encoder;
  encoder.vocabulary = data::Vocabulary({"<pad>", "<unk>", "good", "bad", "film", "plot"});
  const sentiment::Predictor predictor(std::make_unique<sentiment::Classifier>(config, 1), encoder,
                                       data::LabelSet({"neg", "pos"}));
  const std::string path = dir.file("model.npz");
  predictor.save(path);
  const std::string json_path = dir.file("model.json");
  const std::string model_bytes = read_bytes(path), json_bytes = read_bytes(json_path);
  const auto load = [&](const std::string&) { sentiment::Predictor::load(path); };

  // The weights bad, the .json good.
  check_refused(dir, path, npz_cases(model_bytes), load);
  write_bytes(path, model_bytes);

  // The .json bad, the weights good.
  const auto replaced = [&](const std::string& from, const std::string& to) {
    std::string j = json_bytes;
    const auto at = j.find(from);
    REQUIRE(at != std::string::npos);
    return j.replace(at, from.size(), to);
  };
  std::vector<BadFile> json_cases = common_cases(
      "cannot open", "is a folder", "not a saved sentiment model", "not a saved sentiment model");
  const std::vector<BadFile> more = {
      with_bytes("cut in half", json_bytes.substr(0, json_bytes.size() / 2),
                 "not a saved sentiment model"),
      with_bytes("an .npz given as the .json", model_bytes, "not a saved sentiment model"),
      with_bytes("a JSON array", "[1, 2, 3]\n", "format is not tapegrad-sentiment"),
      with_bytes("a format that is an object (found by fuzz_model_json)",
                 "{\"format\": {\"a\": 1}, \"version\": 1}\n", "format is not tapegrad-sentiment"),
      with_bytes("a size that is text",
                 replaced("\"hidden_size\": 3", "\"hidden_size\": \"three\""), "hidden_size"),
      with_bytes("an enormous embedding size",
                 replaced("\"embedding_dim\": 4", "\"embedding_dim\": 4000000000000"),
                 "embedding_dim"),
      with_bytes("an enormous vocabulary size",
                 replaced("\"vocab_size\": 6", "\"vocab_size\": 6000000000000"), "vocab_size"),
      with_bytes("three labels for two classes", replaced("\"pos\"", "\"pos\", \"meh\""), "label"),
      with_bytes("another cell", replaced("\"lstm\"", "\"gru\""), "model.npz"),
  };
  json_cases.insert(json_cases.end(), more.begin(), more.end());
  for (const BadFile& c : json_cases) {
    CAPTURE(c.name);
    check_refused(dir, json_path, {c}, load);
  }
  write_bytes(json_path, json_bytes);
  CHECK(sentiment::Predictor::load(path).predict("good film").probabilities.size() == 2);
}

TEST_CASE("bad files: the UCI import refuses bad JSON and leaves its output as it was") {
  TempDir dir;
  const std::string out = dir.write("sentences.tsv", "text\tlabel\tsource\nold\tpositive\tx\n");
  const std::vector<BadFile> cases = [] {
    std::vector<BadFile> c =
        common_cases("cannot open", "is a folder", "not valid JSON", "not valid JSON");
    const std::vector<BadFile> more = {
        with_bytes("cut in half", R"([{"text":"good","class":1},{"te)", "not valid JSON"),
        with_bytes("an object, not an array", R"({"text":"good","class":1})",
                   "expected a JSON array"),
        with_bytes("a class that is text", R"([{"text":"good","class":"1"}])",
                   "record 0 has class \"1\""),
        with_bytes("a class past 32 bits", R"([{"text":"good","class":4294967297}])",
                   "record 0 has class 4294967297"),
        with_bytes("a class that is fractional", R"([{"text":"good","class":1.0}])",
                   "record 0 has class 1.0"),
        with_bytes("a record that is a number", R"([{"text":"good","class":1}, 7])",
                   "record 1 has no \"text\""),
    };
    c.insert(c.end(), more.begin(), more.end());
    return c;
  }();
  check_refused(dir, dir.file("amazon.json"), cases,
                [&](const std::string& path) { sentiment::import_uci_json({path}, out); });
}
