// Checkpoints: models to and from .npz under PyTorch's names (a model trained in PyTorch
// loads and gives PyTorch's outputs), training states that resume bit for bit, and bad files
// that change nothing.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>

#include <unistd.h>

#include "helpers.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace fs = std::filesystem;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::value_error;
using tapegrad::Var;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;

namespace {

std::string fixture(const std::string& name) {
  return tapegrad_test::source_dir() + "/tests/fixtures/checkpoint/" + name;
}

// The model of tests/fixtures/generate_checkpoint.py: Embedding -> BiLSTM -> Linear on [h_fwd,
// h_bwd].
template <class T>
class Tagger : public nn::Module<T> {
 public:
  explicit Tagger(tapegrad::Generator& gen, double dropout = 0.0)
      : embed_(20, 5, 0, gen),
        rnn_(nn::RNNOptions(5, 6).bidirectional(true), gen),
        head_(12, 2, true, gen),
        drop_(dropout, 3) {
    this->register_module("embed", embed_);
    this->register_module("rnn", rnn_);
    this->register_module("head", head_);
  }
  Var<T> forward(const IndexArray& ids, const std::vector<std::size_t>& lengths) const {
    const auto out = rnn_(drop_(embed_(ids)), lengths);
    return head_(
        tapegrad::concat({tapegrad::select(out.h_n, 0, 0), tapegrad::select(out.h_n, 0, 1)}, 1));
  }
  nn::Dropout<T>& dropout() { return drop_; }

 private:
  nn::Embedding<T> embed_;
  nn::LSTM<T> rnn_;
  nn::Linear<T> head_;
  nn::Dropout<T> drop_;
};

std::vector<std::size_t> to_lengths(const IndexArray& a) {
  return std::vector<std::size_t>(a.begin(), a.end());
}

}  // namespace

TEST_CASE(
    "a model trained in PyTorch and saved with numpy.savez loads and gives PyTorch's outputs") {
  tapegrad::Generator gen(1);
  Tagger<float> model(gen);
  optim::load_model(model, fixture("torch_tagger.npz"));
  const tapegrad::Npz io = tapegrad::Npz::load(fixture("torch_tagger_io.npz"));
  const Var<float> logits = model.forward(io.get_index("ids"), to_lengths(io.get_index("lengths")));
  TG_CHECK_CLOSE(logits.value(), io.get<float>("logits"), 1e-5);
}

TEST_CASE("save_model writes PyTorch's names and dtype, and load_model reads them back") {
  TempDir dir;
  tapegrad::Generator gen(2);
  Tagger<float> a(gen), b(gen);
  optim::save_model(a, dir.file("m.npz"));
  const tapegrad::Npz npz = tapegrad::Npz::load(dir.file("m.npz"));
  CHECK(npz.names().front() == "embed.weight");
  CHECK(npz.contains("rnn.weight_hh_l0_reverse"));
  CHECK(npz.dtype("head.bias") == "float32");
  optim::load_model(b, dir.file("m.npz"));
  for (const auto& [name, value] : a.state_dict())
    CHECK_MESSAGE(b.parameter(name).value() == value, name);
}

TEST_CASE("load_model rejects bad files with the file and entry named, and changes nothing") {
  TempDir dir;
  tapegrad::Generator gen(3);
  Tagger<float> model(gen);
  const auto before = model.state_dict();
  const auto unchanged = [&] {
    const auto after = model.state_dict();
    for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i].second == before[i].second);
  };
  const tapegrad::Npz good = tapegrad::Npz::load(fixture("torch_tagger.npz"));

  SUBCASE("missing file") {
    TG_CHECK_CONTAINS(
        message_of<value_error>([&] { optim::load_model(model, dir.file("none.npz")); }),
        "none.npz");
  }
  SUBCASE("truncated file") {
    const std::string bytes = read_bytes(fixture("torch_tagger.npz"));
    std::ofstream(dir.file("cut.npz"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
    TG_CHECK_CONTAINS(
        message_of<value_error>([&] { optim::load_model(model, dir.file("cut.npz")); }), "cut.npz");
  }
  SUBCASE("a missing entry") {
    tapegrad::Npz bad;
    for (const auto& name : good.names()) {
      if (name != "rnn.bias_hh_l0") bad.put(name, good.get<float>(name));
    }
    bad.save(dir.file("bad.npz"));
    const std::string msg =
        message_of<value_error>([&] { optim::load_model(model, dir.file("bad.npz")); });
    TG_CHECK_CONTAINS(msg, "bad.npz");
    TG_CHECK_CONTAINS(msg, "missing rnn.bias_hh_l0");
  }
  SUBCASE("an unexpected entry") {
    tapegrad::Npz bad = good;
    bad.put("rnn.weight_ih_l1", good.get<float>("rnn.weight_ih_l0"));
    bad.save(dir.file("bad.npz"));
    TG_CHECK_CONTAINS(
        message_of<value_error>([&] { optim::load_model(model, dir.file("bad.npz")); }),
        "unexpected rnn.weight_ih_l1");
  }
  SUBCASE("a wrong shape") {
    tapegrad::Npz bad = good;
    bad.put("head.weight", Array<float>::from_shape({2, 7}));
    bad.save(dir.file("bad.npz"));
    const std::string msg =
        message_of<value_error>([&] { optim::load_model(model, dir.file("bad.npz")); });
    TG_CHECK_CONTAINS(msg, "'head.weight' has shape [2,7]");
    TG_CHECK_CONTAINS(msg, "[2,12]");
  }
  SUBCASE("a wrong dtype") {
    tapegrad::Npz bad = good;
    bad.put("embed.weight", good.get_as<double>("embed.weight"));
    bad.save(dir.file("bad.npz"));
    TG_CHECK_CONTAINS(
        message_of<value_error>([&] { optim::load_model(model, dir.file("bad.npz")); }),
        "'embed.weight' is float64, the model is float32");
  }
  unchanged();
}

namespace {

// A pretrained language model's encoder: Tagger's embedding and LSTM, with a head of its own.
class LanguageModel : public nn::Module<float> {
 public:
  explicit LanguageModel(tapegrad::Generator& gen, std::size_t embedding_dim = 5)
      : embed_(20, embedding_dim, 0, gen),
        rnn_(nn::RNNOptions(embedding_dim, 6).bidirectional(true), gen),
        lm_head_(12, 20, true, gen) {
    register_module("embed", embed_);
    register_module("rnn", rnn_);
    register_module("lm_head", lm_head_);
  }

 private:
  nn::Embedding<float> embed_;
  nn::LSTM<float> rnn_;
  nn::Linear<float> lm_head_;
};

}  // namespace

TEST_CASE("load_model(strict=false): a pretrained encoder into a bigger model, keys reported") {
  TempDir dir;
  tapegrad::Generator gen(11);
  LanguageModel pretrained(gen);
  optim::save_model(pretrained, dir.file("lm.npz"));
  Tagger<float> model(gen);
  const auto before = model.state_dict();

  // Strict, the default: refused with the same error as ever, and nothing changes.
  const std::string msg =
      message_of<value_error>([&] { optim::load_model(model, dir.file("lm.npz")); });
  TG_CHECK_CONTAINS(msg, "lm.npz': missing head.weight, head.bias");
  for (std::size_t i = 0; i < before.size(); ++i)
    CHECK(model.state_dict()[i].second == before[i].second);

  const nn::LoadResult result = optim::load_model(model, dir.file("lm.npz"), /*strict=*/false);
  CHECK(result.missing_keys == std::vector<std::string>{"head.weight", "head.bias"});
  CHECK(result.unexpected_keys == std::vector<std::string>{"lm_head.weight", "lm_head.bias"});
  const auto after = model.state_dict();
  for (std::size_t i = 0; i < after.size(); ++i) {
    const auto& [name, value] = after[i];
    CAPTURE(name);
    if (name.compare(0, 5, "head.") == 0) {
      CHECK(value == before[i].second);  // not in the file: left as it was
    } else {
      CHECK(value == pretrained.parameter(name).value());  // the encoder's weights
    }
  }

  // The whole file of the same model: nothing missing or unexpected.
  optim::save_model(model, dir.file("tagger.npz"));
  const nn::LoadResult all = optim::load_model(model, dir.file("tagger.npz"), false);
  CHECK(all.missing_keys.empty());
  CHECK(all.unexpected_keys.empty());

  // Not strict still refuses a present entry of another shape, naming it and both shapes.
  LanguageModel wider(gen, 7);
  optim::save_model(wider, dir.file("wider.npz"));
  const auto loaded = model.state_dict();
  const std::string shape_msg = message_of<value_error>(
      [&] { optim::load_model(model, dir.file("wider.npz"), /*strict=*/false); });
  TG_CHECK_CONTAINS(shape_msg, "entry 'embed.weight' has shape [20,7], the model expects [20,5]");
  for (std::size_t i = 0; i < loaded.size(); ++i)
    CHECK(model.state_dict()[i].second == loaded[i].second);
}

TEST_CASE(
    "a training checkpoint resumes bit for bit: model, Adam, schedule, dropout and shuffling") {
  TempDir dir;
  const tapegrad::Npz io = tapegrad::Npz::load(fixture("torch_tagger_io.npz"));
  const IndexArray ids = io.get_index("ids");
  const std::vector<std::size_t> lengths = to_lengths(io.get_index("lengths"));
  const IndexArray labels = {1, 0, 1, 0};

  struct Run {
    tapegrad::Generator init{5}, shuffle{6};
    Tagger<float> model{init, 0.3};
    optim::Adam<float> adam{model.parameters(),
                            optim::AdamOptions{0.01, 0.9, 0.999, 1e-8, 0.001, false}};
    optim::StepLR<float> schedule{adam, 3, 0.5};
    optim::TrainingState<float> state() {
      optim::TrainingState<float> s;
      s.model = &model;
      s.optimizer = &adam;
      s.schedule = &schedule;
      s.generators = {{"shuffle", &shuffle}, {"dropout", &model.dropout().generator()}};
      return s;
    }
  };
  const auto train = [&](Run& run, int epochs) {
    for (int e = 0; e < epochs; ++e) {
      // The "shuffle" generator picks which example sits out this epoch (ignored target).
      IndexArray epoch_labels = labels;
      epoch_labels(run.shuffle.engine()() % 4) = -100;
      run.adam.zero_grad();
      tapegrad::cross_entropy(run.model.forward(ids, lengths), epoch_labels).backward();
      optim::clip_grad_norm(run.model.parameters(), 1.0);
      run.adam.step();
      run.schedule.step();
    }
  };

  Run straight;
  train(straight, 8);

  Run first;
  train(first, 4);
  auto s = first.state();
  s.epoch = 4;
  s.values = {{"best_valid_loss", 0.25}};
  optim::save_checkpoint(dir.file("ckpt.npz"), s);

  Run resumed;  // a fresh process, in effect
  auto r = resumed.state();
  optim::load_checkpoint(dir.file("ckpt.npz"), r);
  CHECK(r.epoch == 4);
  CHECK(r.values.at("best_valid_loss") == 0.25);
  CHECK(resumed.adam.param_groups()[0].lr == first.adam.param_groups()[0].lr);
  train(resumed, 4);
  for (const auto& [name, value] : straight.model.state_dict()) {
    CHECK_MESSAGE(resumed.model.parameter(name).value() == value, name);  // exact equality
  }
}

TEST_CASE("load_checkpoint of a mismatched file changes nothing") {
  TempDir dir;
  tapegrad::Generator gen(7);
  Tagger<float> model(gen);
  optim::SGD<float> sgd(model.parameters(), optim::SGDOptions{0.1, 0.9});
  optim::TrainingState<float> s;
  s.model = &model;
  s.optimizer = &sgd;
  s.epoch = 3;
  optim::save_checkpoint(dir.file("ckpt.npz"), s);

  tapegrad::Generator other_gen(8);
  Tagger<float> other(other_gen);
  optim::Adam<float> adam(other.parameters(), optim::AdamOptions{});
  optim::StepLR<float> schedule(adam, 2);
  optim::TrainingState<float> t;
  t.model = &other;
  t.optimizer = &adam;
  t.schedule = &schedule;  // the file has no schedule state
  const auto before = other.state_dict();
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { optim::load_checkpoint(dir.file("ckpt.npz"), t); }),
      "no schedule state");
  CHECK(t.epoch == 0);
  const auto after = other.state_dict();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i].second == before[i].second);
}
