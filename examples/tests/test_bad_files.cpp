// Bad files across the parts and the examples: a failed save of any of them leaves the file at
// its target as it was (the cases: tests/bad_files.hpp, the run: tests/training_run.hpp).
#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bad_files.hpp"
#include "sentiment.hpp"
#include "tapegrad/data.hpp"
#include "training_run.hpp"

namespace data = tapegrad::data;
using tapegrad_test::TempDir;
using namespace tapegrad_test::bad_files;

TEST_CASE("bad files: a failed save leaves the file at its target as it was") {
  TempDir dir;
  Training t;
  t.train(1);
  const data::Vocabulary vocab = data::Vocabulary::build({{"a", "b"}});
  const data::LabelSet labels({"neg", "pos"});
  const std::string json = dir.write("in.json", R"([{"text":"good","class":1}])");
  const std::vector<std::pair<std::string, std::function<void(const std::string&)>>> savers = {
      {"Npz::save", [&](const std::string& p) { Npz().save(p); }},
      {"save_model", [&](const std::string& p) { optim::save_model(t.model, p); }},
      {"save_checkpoint", [&](const std::string& p) { optim::save_checkpoint(p, t.state()); }},
      {"Vocabulary::save", [&](const std::string& p) { vocab.save(p); }},
      {"LabelSet::save", [&](const std::string& p) { labels.save(p); }},
      {"import_uci_json", [&](const std::string& p) { sentiment::import_uci_json({json}, p); }},
  };
  for (const auto& [name, save] : savers) {
    CAPTURE(name);
    // The target is a folder holding a file: the rename over it fails.
    fs::create_directories(dir.path / "target");
    const std::string inside = dir.write("target/keep.txt", "keep me\n");
    const auto before = snapshot(dir.path);
    TG_CHECK_CONTAINS(message_of<value_error>([&] { save(dir.file("target")); }),
                      dir.file("target"));
    CHECK(snapshot(dir.path) == before);  // no temporary file left behind either
    // A folder that does not exist: nothing is created.
    TG_CHECK_CONTAINS(message_of<value_error>([&] { save(dir.file("none/x.npz")); }), "none/x.npz");
    CHECK_FALSE(fs::exists(dir.path / "none"));
    CHECK(snapshot(dir.path) == before);
    fs::remove_all(dir.path / "target");
  }
}
