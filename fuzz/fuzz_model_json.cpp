// libFuzzer harness of sentiment::Predictor::load (examples/sentiment): the model's .json
// metadata. Any .json next to valid weights is a model or a value_error.
//
// LLVMFuzzerInitialize saves two tiny untrained models (a bidirectional one-layer GRU and a
// two-layer LSTM, 6 tokens, 2 classes) in the scratch folder; each input replaces both .json
// files and loads both models. A model that loads must predict: a label of its label set,
// probabilities that sum to 1.
//
// TAPEGRAD_FUZZ_WRITE_SEEDS=FOLDER copies the two valid .json files into FOLDER (how
// fuzz/corpus/fuzz_model_json/ was made).
#include <sys/stat.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>

#include "fuzz_common.hpp"
#include "sentiment.hpp"

namespace {

namespace data = tapegrad::data;

struct SavedModel {
  std::string npz;   // the weights, never changed
  std::string json;  // replaced by each input
};

SavedModel save_tiny_model(const std::string& name, tapegrad::nn::CellKind cell, std::size_t layers,
                           bool bidirectional) {
  const std::string dir = fuzz::scratch_dir() + "/" + name;
  ::mkdir(dir.c_str(), 0700);
  sentiment::ModelConfig config;
  config.cell = cell;
  config.vocab_size = 6;
  config.num_classes = 2;
  config.embedding_dim = 4;
  config.hidden_size = 3;
  config.num_layers = layers;
  config.bidirectional = bidirectional;
  config.pooling = bidirectional ? sentiment::Pooling::max : sentiment::Pooling::last;
  sentiment::TextEncoder encoder;
  encoder.vocabulary = data::Vocabulary({"<pad>", "<unk>", "good", "bad", "movie", "!"});
  encoder.max_length = 8;
  const sentiment::Predictor predictor(std::make_unique<sentiment::Classifier>(config, 7),
                                       std::move(encoder),
                                       data::LabelSet({"negative", "positive"}));
  const SavedModel saved{dir + "/model.npz", sentiment::metadata_path(dir + "/model.npz")};
  predictor.save(saved.npz);
  return saved;
}

SavedModel models[2];

void check(const sentiment::Predictor& predictor) {
  const sentiment::Prediction p = predictor.predict("Good movie, bad ending!");
  const auto classes = static_cast<tapegrad::Index>(predictor.labels().size());
  if (p.label < 0 || p.label >= classes || p.name != predictor.labels().name(p.label)) {
    fuzz::finding("Predictor: a prediction outside the label set");
  }
  double total = 0.0;
  for (float q : p.probabilities) total += q;
  if (p.probabilities.size() != predictor.labels().size() || !(std::fabs(total - 1.0) < 1e-4)) {
    fuzz::finding("Predictor: probabilities that do not sum to 1");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::set_small_input_limits();
  models[0] = save_tiny_model("gru", tapegrad::nn::CellKind::gru, 1, true);
  models[1] = save_tiny_model("lstm", tapegrad::nn::CellKind::lstm, 2, false);
  if (const char* seeds = std::getenv("TAPEGRAD_FUZZ_WRITE_SEEDS")) {
    const std::filesystem::path folder(seeds);
    std::filesystem::create_directories(folder);
    const auto options = std::filesystem::copy_options::overwrite_existing;
    std::filesystem::copy_file(models[0].json, folder / "gru.json", options);
    std::filesystem::copy_file(models[1].json, folder / "lstm.json", options);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  for (const SavedModel& model : models) {
    fuzz::write_file(model.json, data, size);
    std::unique_ptr<sentiment::Predictor> predictor;
    if (fuzz::read_or_typed_error([&] {
          predictor = std::make_unique<sentiment::Predictor>(sentiment::Predictor::load(model.npz));
        })) {
      check(*predictor);
    }
  }
  return 0;
}
