// Smoke tests of examples/sentiment: a few training steps on a small made-up set, pooling that
// ignores padding, save -> load -> predict, the UCI importer, and the errors.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "helpers.hpp"
#include "sentiment.hpp"

namespace {

using sentiment::Index;
using tapegrad_test::message_of;
using tapegrad_test::TempDir;
namespace data = tapegrad::data;

// 48 short sentences: the label is carried by one of a few sentiment words.
struct ToyData {
  std::vector<std::string> texts;
  std::vector<Index> labels;
};

ToyData toy_data() {
  const std::vector<std::string> good = {"great", "lovely", "excellent", "fine"};
  const std::vector<std::string> bad = {"awful", "broken", "terrible", "poor"};
  const std::vector<std::string> things = {"phone", "movie", "food", "service", "case", "plot"};
  ToyData d;
  for (std::size_t i = 0; i < 48; ++i) {
    const bool positive = i % 2 == 0;
    const std::string& word = positive ? good[(i / 2) % 4] : bad[(i / 2) % 4];
    std::string text = "the " + things[i % 6] + " was " + word;
    if (i % 3 == 0) text += " , really " + word + " !";
    d.texts.push_back(text);
    d.labels.push_back(positive ? 1 : 0);
  }
  return d;
}

sentiment::TextEncoder toy_encoder(const ToyData& d) {
  sentiment::TextEncoder encoder;
  encoder.vocabulary = data::Vocabulary::build(data::Tokenizer().tokenize_all(d.texts));
  return encoder;
}

sentiment::ModelConfig tiny_config(std::size_t vocab, sentiment::Pooling pooling,
                                   tapegrad::nn::CellKind cell = tapegrad::nn::CellKind::gru) {
  sentiment::ModelConfig c;
  c.cell = cell;
  c.vocab_size = vocab;
  c.embedding_dim = 8;
  c.hidden_size = 6;
  c.pooling = pooling;
  c.embedding_dropout = 0.1;
  c.dropout = 0.1;
  return c;
}

}  // namespace

TEST_CASE("sentiment: a few epochs on a toy set lower the loss and fit it") {
  const ToyData d = toy_data();
  const sentiment::TextEncoder encoder = toy_encoder(d);
  const sentiment::Examples train = sentiment::make_examples(encoder, d.texts, d.labels);
  const sentiment::Examples valid = sentiment::make_examples(
      encoder, {d.texts.begin(), d.texts.begin() + 12}, {d.labels.begin(), d.labels.begin() + 12});
  sentiment::Classifier model(tiny_config(encoder.vocabulary.size(), sentiment::Pooling::max), 7);
  sentiment::TrainConfig tc;
  tc.epochs = 12;
  tc.patience = 12;
  tc.batch_size = 8;
  tc.lr = 0.02;
  tc.word_dropout = 0.05;
  std::vector<double> valid_losses;
  const sentiment::TrainResult r = sentiment::train(
      model, train, valid, tc, nullptr,
      [&](const sentiment::EpochStats& e) { valid_losses.push_back(e.valid_loss); });
  REQUIRE(r.history.size() == 12);
  CHECK(valid_losses.size() == 12);
  CHECK(r.history.back().train_loss < 0.5 * r.history.front().train_loss);
  CHECK(r.best_epoch >= 1);
  CHECK_FALSE(model.is_training());
  // The model holds its best epoch's parameters: evaluating gives that epoch's valid loss.
  const sentiment::Evaluation e = sentiment::evaluate(model, valid);
  CHECK(e.loss == doctest::Approx(r.history[r.best_epoch - 1].valid_loss).epsilon(1e-5));
  CHECK(e.confusion.accuracy() == doctest::Approx(1.0));
}

TEST_CASE("sentiment: texts are cut to 256 tokens by default, and the rest is never read") {
  const ToyData d = toy_data();
  const sentiment::TextEncoder encoder = toy_encoder(d);
  CHECK(encoder.max_length == 256);
  std::string huge;  // 1.9 million words, the 10 MB line of issue 13
  for (std::size_t i = 0; i < 1900000; ++i) huge += i % 2 ? "lovely " : "phone ";
  CHECK(encoder.encode(huge).size() == 256);
  CHECK(encoder.too_long(huge));
  CHECK_FALSE(encoder.too_long(d.texts[0]));
  sentiment::TextEncoder uncut = encoder;
  uncut.max_length = 0;
  CHECK(uncut.encode(d.texts[0]) == encoder.encode(d.texts[0]));
  CHECK_FALSE(uncut.too_long(huge));
}

TEST_CASE("sentiment: a training sentence over the batch budget is named") {
  const ToyData d = toy_data();
  sentiment::TextEncoder encoder = toy_encoder(d);
  encoder.max_length = 0;
  std::vector<std::string> texts = d.texts;
  texts[4].clear();
  for (int i = 0; i < 15; ++i) texts[4] += "the ";
  const sentiment::Examples train = sentiment::make_examples(encoder, texts, d.labels);
  sentiment::Classifier model(tiny_config(encoder.vocabulary.size(), sentiment::Pooling::max), 3);
  sentiment::TrainConfig config;
  config.epochs = 1;
  config.max_batch_tokens = 12;
  TG_CHECK_CONTAINS(
      message_of<tapegrad::value_error>([&] { sentiment::train(model, train, train, config); }),
      "train: training sentence 5 has 15 tokens, more than the batch budget of 12 "
      "(--max-batch-tokens); cut sentences with --max-length");
}

TEST_CASE("sentiment: the same seed trains the same model, bit for bit") {
  const ToyData d = toy_data();
  const sentiment::TextEncoder encoder = toy_encoder(d);
  const sentiment::Examples train = sentiment::make_examples(encoder, d.texts, d.labels);
  sentiment::TrainConfig tc;
  tc.epochs = 3;
  tc.batch_size = 8;
  const auto run = [&](std::uint64_t seed) {
    tc.seed = seed;
    sentiment::Classifier model(tiny_config(encoder.vocabulary.size(), sentiment::Pooling::max),
                                seed);
    const sentiment::TrainResult r = sentiment::train(model, train, train, tc);
    std::vector<double> losses;
    for (const auto& e : r.history) losses.push_back(e.train_loss);
    return std::make_pair(losses, model.state_dict());
  };
  const auto a = run(11);
  const auto b = run(11);
  const auto c = run(12);
  CHECK(a.first == b.first);
  REQUIRE(a.second.size() == b.second.size());
  for (std::size_t i = 0; i < a.second.size(); ++i) {
    CAPTURE(a.second[i].first);
    CHECK(a.second[i].second == b.second[i].second);
  }
  CHECK(a.first != c.first);
}

TEST_CASE("sentiment: pooling ignores the padding of shorter sentences in a batch") {
  const ToyData d = toy_data();
  const sentiment::TextEncoder encoder = toy_encoder(d);
  const std::vector<Index> short_ids = encoder.encode("the phone was great");
  const std::vector<Index> long_ids = encoder.encode("the movie was awful , really awful !");
  for (auto pooling :
       {sentiment::Pooling::last, sentiment::Pooling::mean, sentiment::Pooling::max}) {
    for (auto cell : {tapegrad::nn::CellKind::gru, tapegrad::nn::CellKind::lstm,
                      tapegrad::nn::CellKind::rnn_tanh}) {
      CAPTURE(sentiment::to_string(pooling));
      CAPTURE(tapegrad::nn::to_string(cell));
      sentiment::Classifier model(tiny_config(encoder.vocabulary.size(), pooling, cell), 3);
      model.eval();
      tapegrad::NoGrad no_grad;
      const data::Batch alone = data::pad_sequences({short_ids});
      const data::Batch padded = data::pad_sequences({long_ids, short_ids});
      REQUIRE(padded.ids.shape()[0] > alone.ids.shape()[0]);
      const tapegrad::Array<float> a = model(alone.ids, alone.lengths).value();
      const tapegrad::Array<float> b = model(padded.ids, padded.lengths).value();
      for (std::size_t c = 0; c < 2; ++c) CHECK(b(1, c) == doctest::Approx(a(0, c)).epsilon(1e-5));
    }
  }
}

TEST_CASE("sentiment: save -> load -> predict gives the same probabilities") {
  TempDir dir;
  const ToyData d = toy_data();
  sentiment::TextEncoder encoder = toy_encoder(d);
  encoder.max_length = 5;
  auto model = std::make_unique<sentiment::Classifier>(
      tiny_config(encoder.vocabulary.size(), sentiment::Pooling::mean,
                  tapegrad::nn::CellKind::lstm),
      5);
  const sentiment::Predictor before(std::move(model), encoder, data::LabelSet({"neg", "pos"}));
  const std::vector<std::string> texts = {"the food was lovely", "broken , poor plot",
                                          "words never seen", ""};
  const std::vector<sentiment::Prediction> expected = before.predict(texts);

  const std::string path = dir.file("model.npz");
  before.save(path);
  CHECK(std::filesystem::exists(dir.file("model.json")));
  const sentiment::Predictor after = sentiment::Predictor::load(path);
  const std::vector<sentiment::Prediction> got = after.predict(texts);
  REQUIRE(got.size() == texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CAPTURE(texts[i]);
    CHECK(got[i].label == expected[i].label);
    CHECK(got[i].name == (got[i].label == 1 ? "pos" : "neg"));
    CHECK(got[i].probability == expected[i].probability);  // bit for bit
    CHECK(got[i].probabilities[0] + got[i].probabilities[1] == doctest::Approx(1.0));
  }
  CHECK(after.encoder().max_length == 5);
  CHECK(after.model().config().cell == tapegrad::nn::CellKind::lstm);
  CHECK(after.model().config().pooling == sentiment::Pooling::mean);

  SUBCASE("a .json paired with another run's weights is refused") {
    auto other = std::make_unique<sentiment::Classifier>(after.model().config(), 99);
    sentiment::Predictor(std::move(other), encoder, data::LabelSet({"neg", "pos"}))
        .save(dir.file("other.npz"));
    std::filesystem::copy_file(dir.file("other.npz"), path,
                               std::filesystem::copy_options::overwrite_existing);
    TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { sentiment::Predictor::load(path); }),
                      "not the ones");
  }
  SUBCASE("a corrupt or missing .json names the file") {
    tapegrad_test::write_bytes(dir.file("model.json"), "{\"format\": ");
    const std::string m =
        message_of<tapegrad::value_error>([&] { sentiment::Predictor::load(path); });
    TG_CHECK_CONTAINS(m, "model.json");
    std::filesystem::remove(dir.file("model.json"));
    TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { sentiment::Predictor::load(path); }),
                      "cannot open");
  }
  SUBCASE("sizes and the version must be JSON integers in range (found by fuzz_model_json)") {
    const std::string json = tapegrad_test::read_bytes(dir.file("model.json"));
    const auto with = [&](const std::string& from, const std::string& to) {
      const std::size_t at = json.find(from);
      REQUIRE(at != std::string::npos);
      tapegrad_test::write_bytes(dir.file("model.json"),
                                 json.substr(0, at) + to + json.substr(at + from.size()));
      return message_of<tapegrad::value_error>([&] { sentiment::Predictor::load(path); });
    };
    TG_CHECK_CONTAINS(with("\"embedding_dim\": 8", "\"embedding_dim\": 1e30"),
                      "model.embedding_dim: expected a non-negative integer, got 1e+30");
    TG_CHECK_CONTAINS(with("\"embedding_dim\": 8", "\"embedding_dim\": -3"),
                      "model.embedding_dim: expected a non-negative integer, got -3");
    TG_CHECK_CONTAINS(with("\"embedding_dim\": 8", "\"embedding_dim\": 8.5"),
                      "model.embedding_dim: expected a non-negative integer, got 8.5");
    TG_CHECK_CONTAINS(with("\"version\": 1", "\"version\": 1e30"),
                      "format is not tapegrad-sentiment version 1");
  }
  SUBCASE("a truncated .npz is refused") {
    const std::string bytes = tapegrad_test::read_bytes(path);
    tapegrad_test::write_bytes(path, bytes.substr(0, bytes.size() / 2));
    TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { sentiment::Predictor::load(path); }),
                      "model.npz");
  }
  SUBCASE("a failed save leaves the saved files as they were") {
    const std::string npz_bytes = tapegrad_test::read_bytes(path);
    const std::string json_bytes = tapegrad_test::read_bytes(dir.file("model.json"));
    const auto count_files = [&] {
      return std::distance(std::filesystem::directory_iterator(dir.path),
                           std::filesystem::directory_iterator());
    };
    const auto files_before = count_files();
    auto other = std::make_unique<sentiment::Classifier>(after.model().config(), 9);
    const sentiment::Predictor next(std::move(other), encoder, data::LabelSet({"neg", "pos"}));
    // The weights cannot be written (files cannot grow past 1000 bytes): nothing is replaced.
    std::string m;
    {
      const tapegrad_test::FileSizeLimit limit(1000);
      m = message_of<tapegrad::value_error>([&] { next.save(path); });
    }
    TG_CHECK_CONTAINS(m, "model.npz");
    TG_CHECK_CONTAINS(m, "File too large");
    // A folder in the .json's place: the weights are not replaced either.
    std::filesystem::rename(dir.file("model.json"), dir.file("kept.json"));
    std::filesystem::create_directories(dir.file("model.json"));
    TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { next.save(path); }),
                      "a folder is in its place");
    std::filesystem::remove(dir.file("model.json"));
    std::filesystem::rename(dir.file("kept.json"), dir.file("model.json"));
    CHECK(tapegrad_test::read_bytes(path) == npz_bytes);
    CHECK(tapegrad_test::read_bytes(dir.file("model.json")) == json_bytes);
    CHECK(count_files() == files_before);  // no temporary left behind
  }

  SUBCASE("saved as outputs of a run, the pair is replaced only when the run commits") {
    const std::string npz_bytes = tapegrad_test::read_bytes(path);
    auto other = std::make_unique<sentiment::Classifier>(after.model().config(), 9);
    const sentiment::Predictor next(std::move(other), encoder, data::LabelSet({"neg", "pos"}));
    {
      tapegrad::OutputFiles out;
      next.save(out, path);
    }  // the run failed before its commit
    CHECK(tapegrad_test::read_bytes(path) == npz_bytes);
    tapegrad::OutputFiles out;
    next.save(out, path);
    out.commit();
    CHECK(sentiment::Predictor::load(path).predict(texts)[0].probability ==
          next.predict(texts)[0].probability);
  }
}

TEST_CASE("sentiment: two saves to one path at once leave one complete, loadable pair") {
  // Once, both wrote <path>.new and <json>.new: one rename failed, or a .json was paired with
  // the other save's weights.
  TempDir dir;
  const ToyData d = toy_data();
  const sentiment::TextEncoder encoder = toy_encoder(d);
  const std::string path = dir.file("model.npz");
  const auto saver = [&](std::uint64_t seed, std::string* error) {
    try {
      auto model = std::make_unique<sentiment::Classifier>(
          tiny_config(encoder.vocabulary.size(), sentiment::Pooling::max), seed);
      const sentiment::Predictor p(std::move(model), encoder, data::LabelSet({"neg", "pos"}));
      for (int i = 0; i < 20; ++i) p.save(path);
    } catch (const std::exception& e) {
      *error = e.what();
    }
  };
  std::string error_a, error_b;
  std::thread a(saver, 1, &error_a), b(saver, 2, &error_b);
  a.join();
  b.join();
  CHECK(error_a.empty());
  CHECK(error_b.empty());
  CHECK_NOTHROW(sentiment::Predictor::load(path));  // the fingerprints of the pair agree
  CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                      std::filesystem::directory_iterator()) == 2);
}

TEST_CASE("sentiment: a validation loss that is not finite is an error naming the epoch") {
  // `sentiment --lr 1e38 --epochs 1 --batch-size 100000`: one step makes every weight NaN. No
  // epoch had a finite validation loss, so there was no best epoch: the run ended in
  // "load_state_dict: missing embedding.weight, ..." and read history[best_epoch - 1] with
  // best_epoch 0.
  const ToyData d = toy_data();
  const sentiment::TextEncoder encoder = toy_encoder(d);
  const sentiment::Examples train = sentiment::make_examples(encoder, d.texts, d.labels);
  sentiment::Classifier model(tiny_config(encoder.vocabulary.size(), sentiment::Pooling::max), 7);
  sentiment::TrainConfig tc;
  tc.epochs = 1;
  tc.batch_size = 100000;
  tc.lr = 1e38;
  std::vector<sentiment::EpochStats> seen;
  const std::string m = message_of<tapegrad::numerical_error>([&] {
    sentiment::train(model, train, train, tc, nullptr,
                     [&](const sentiment::EpochStats& e) { seen.push_back(e); });
  });
  TG_CHECK_CONTAINS(m, "the validation loss is nan at epoch 1");
  TG_CHECK_CONTAINS(m, "try a lower learning rate than 1e+38");
  CHECK(seen.size() == 1);  // the epoch is reported, then the error ends the run
}

TEST_CASE("sentiment: the UCI importer writes a TSV the data reader reads") {
  TempDir dir;
  const std::string a =
      dir.write("amazon.json",
                R"([{"text":"Good case, Excellent value.","class":1},)"
                R"({"text":"Tied to charger\tfor hours.","class":0},{"text":"","class":null}])");
  const std::string b = dir.write("yelp.json", R"([{"text":"Crust is not good.","class":0}])");
  const std::string tsv = dir.file("sentences.tsv");
  CHECK(sentiment::import_uci_json({a, b}, tsv) == 3);
  const data::LabelledText t = data::read_labelled_text(tsv);
  REQUIRE(t.size() == 3);
  CHECK(t.texts[1] == "Tied to charger for hours.");
  CHECK(t.label_set.names() == std::vector<std::string>{"negative", "positive"});
  CHECK(t.labels == std::vector<Index>{1, 0, 0});
  CHECK(tapegrad_test::contains(tapegrad_test::read_bytes(tsv), "\tyelp\n"));

  SUBCASE("bad records name the file and the record, and nothing is written") {
    const std::string before = tapegrad_test::read_bytes(tsv);
    const std::string bad =
        dir.write("bad.json", R"([{"text":"ok","class":1},{"text":"x","class":2}])");
    std::string m =
        message_of<tapegrad::value_error>([&] { sentiment::import_uci_json({bad}, tsv); });
    TG_CHECK_CONTAINS(m, "bad.json: record 1 has class 2");
    const std::string broken = dir.write("broken.json", R"([{"text":"ok","class":1})");
    m = message_of<tapegrad::value_error>([&] { sentiment::import_uci_json({broken}, tsv); });
    TG_CHECK_CONTAINS(m, "broken.json: not valid JSON");
    const std::string no_text = dir.write("no_text.json", R"([{"class":1}])");
    m = message_of<tapegrad::value_error>([&] { sentiment::import_uci_json({no_text}, tsv); });
    TG_CHECK_CONTAINS(m, "no_text.json: record 0 has no \"text\"");
    CHECK(tapegrad_test::read_bytes(tsv) == before);
  }
}

TEST_CASE("sentiment: bad settings are value_errors naming the setting") {
  sentiment::ModelConfig c = tiny_config(10, sentiment::Pooling::max);
  c.hidden_size = 0;
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { sentiment::Classifier(c, 1); }),
                    "hidden_size must be at least 1");
  c = tiny_config(1, sentiment::Pooling::max);
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { c.check(); }), "vocab_size");
  c = tiny_config(10, sentiment::Pooling::max);
  c.dropout = 1.0;
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { c.check(); }), "dropout must be in");
  sentiment::TrainConfig tc;
  tc.lr = -1;
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { tc.check(); }), "lr must be positive");
  tc = {};
  tc.word_dropout = 1.5;
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { tc.check(); }), "word_dropout");
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { sentiment::parse_pooling("sum"); }),
                    "unknown pooling \"sum\"");
  const sentiment::TextEncoder encoder;
  TG_CHECK_CONTAINS(
      message_of<tapegrad::value_error>([&] { sentiment::make_examples(encoder, {"a"}, {}); }),
      "1 texts but 0 labels");
}
