// PyTorch parity of the layers: every fixture in tests/fixtures/torch/ (written by
// tests/fixtures/generate.py with PyTorch, float64) is rebuilt with tapegrad's layers and ops,
// in double (to 1e-10) and in float (to 1e-5), comparing outputs, the weighted loss and the
// gradients of every parameter and input. Fixtures are found by listing the folder, so a new
// fixture is tested without touching this file; an unknown file name fails the suite.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "tapegrad/nn/attention.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/rnn.hpp"

namespace fs = std::filesystem;
namespace nn = tapegrad::nn;
using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::Npz;
using tapegrad::Var;

namespace {

// ---- the fixture folder ----

enum class Family {
  recurrent,
  cell,
  linear,
  embedding,
  log_softmax,
  cross_entropy,
  attention,
  unknown
};

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The family of a fixture, from its file name (see generate.py's docstring).
Family family_of(const std::string& stem) {
  for (const char* cell : {"rnn_cell_", "lstm_cell", "gru_cell"}) {
    if (starts_with(stem, cell)) return Family::cell;
  }
  for (const char* kind : {"rnn_tanh_L", "rnn_relu_L", "lstm_L", "gru_L"}) {
    if (starts_with(stem, kind)) return Family::recurrent;
  }
  if (starts_with(stem, "linear_")) return Family::linear;
  if (starts_with(stem, "embedding_")) return Family::embedding;
  if (stem == "log_softmax") return Family::log_softmax;
  if (starts_with(stem, "cross_entropy_")) return Family::cross_entropy;
  if (starts_with(stem, "attention_")) return Family::attention;
  return Family::unknown;
}

fs::path fixture_dir() {
  return fs::path(tapegrad_test::source_dir()) / "tests" / "fixtures" / "torch";
}

// Every .npz in the folder, sorted by name.
std::vector<fs::path> all_fixtures() {
  std::vector<fs::path> files;
  if (!fs::is_directory(fixture_dir())) return files;
  for (const auto& entry : fs::directory_iterator(fixture_dir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".npz") {
      files.push_back(entry.path());
    }
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<fs::path> fixtures(Family family) {
  std::vector<fs::path> files;
  for (const auto& file : all_fixtures()) {
    if (family_of(file.stem().string()) == family) files.push_back(file);
  }
  return files;
}

// At least this many fixtures per family (what generate.py writes today).
constexpr std::size_t kRecurrentFixtures = 48;
constexpr std::size_t kCellFixtures = 7;
constexpr std::size_t kLinearFixtures = 3;
constexpr std::size_t kEmbeddingFixtures = 2;
constexpr std::size_t kCrossEntropyFixtures = 8;
constexpr std::size_t kAttentionFixtures = 14;

// ---- comparisons ----

template <class T>
double tolerance() {
  return std::is_same<T, double>::value ? 1e-10 : 1e-5;
}

// CHECKs actual against the fixture's float64 entry `key`.
template <class T>
void check_entry(const std::string& what, const Array<T>& actual, const Npz& f,
                 const std::string& key) {
  const Array<double> expected = f.get<double>(key);
  CHECK_MESSAGE(tapegrad_test::all_close(actual, expected, tolerance<T>()), what, " vs ", key, ": ",
                tapegrad_test::worst_element(actual, expected), "\nactual   ",
                tapegrad_test::describe(actual), "\nexpected ", tapegrad_test::describe(expected));
}

// CHECKs a Var's gradient against the fixture's "grad.<key>".
template <class T>
void check_grad(const std::string& what, const Var<T>& v, const Npz& f, const std::string& key) {
  CHECK_MESSAGE(v.has_grad(), what, " got no gradient (expected grad.", key, ")");
  if (v.has_grad()) check_entry("grad of " + what, v.grad(), f, "grad." + key);
}

// A parameter entry: "weight", "bias", "weight_*", "bias_*", or a sub-module's
// ("key_proj.weight"), not a gradient or a setting (generate.py's convention).
bool is_param(const std::string& key) {
  if (starts_with(key, "grad.") || starts_with(key, "meta.")) return false;
  const std::string last = key.substr(key.rfind('.') + 1);  // npos + 1 = 0: the whole key
  return last == "weight" || last == "bias" || starts_with(last, "weight_") ||
         starts_with(last, "bias_");
}

std::string join(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ", ") + n;
  return "[" + s + "]";
}

// The module's parameter names must be the fixture's parameter keys, in torch's order; then
// the fixture's values are loaded into the module.
template <class T>
void load_params(nn::Module<T>& module, const Npz& f) {
  std::vector<std::string> expected;
  nn::StateDict<T> state;
  for (const auto& key : f.names()) {
    if (!is_param(key)) continue;
    expected.push_back(key);
    state.emplace_back(key, f.get_as<T>(key));
  }
  std::vector<std::string> actual;
  for (const auto& named : module.named_parameters()) actual.push_back(named.first);
  CHECK_MESSAGE(actual == expected, "named_parameters() ", join(actual), "\ntorch's            ",
                join(expected));
  module.load_state_dict(state);
}

std::size_t meta(const Npz& f, const std::string& key) {
  return static_cast<std::size_t>(f.get_index("meta." + key)());
}

// Checks the named outputs against the fixture, then L = sum over outputs of
// sum(output * w_<key>) against "loss", then backpropagates L and checks the gradient of
// every parameter of `module` (if any) and of every named input.
template <class T>
void check_outputs_and_grads(const Npz& f, const nn::Module<T>* module,
                             const std::vector<std::pair<std::string, Var<T>>>& outputs,
                             const std::vector<std::pair<std::string, Var<T>>>& inputs) {
  Var<T> loss;
  for (const auto& [key, out] : outputs) {
    if (!out.defined()) {
      FAIL_CHECK("no ", key, " was returned");
      return;
    }
    check_entry(key, out.value(), f, key);
    Var<T> term = tapegrad::sum(out * tapegrad::constant(f.get_as<T>("w_" + key)));
    loss = loss.defined() ? loss + term : term;
  }
  check_entry("loss", loss.value(), f, "loss");
  loss.backward();
  if (module != nullptr) {
    for (const auto& [name, param] : module->named_parameters()) {
      if (f.contains("grad." + name)) check_grad(name, param, f, name);
    }
  }
  for (const auto& [key, in] : inputs) check_grad(key, in, f, key);
}

// Runs `check` on every fixture of `family`; an exception fails that fixture only.
void for_each_fixture(Family family, std::size_t minimum,
                      const std::function<void(const Npz&)>& check) {
  const auto files = fixtures(family);
  CHECK_MESSAGE(files.size() >= minimum, "found ", files.size(), " fixtures, expected at least ",
                minimum, " in ", fixture_dir().string(),
                " (remake them with tests/fixtures/generate.py)");
  for (const auto& file : files) {
    INFO("fixture ", file.filename().string());
    try {
      check(Npz::load(file.string()));
    } catch (const std::exception& e) {
      FAIL_CHECK("threw: ", e.what());
    }
    // A fixture that failed half-way must not leave its ops to the next one.
    tapegrad::tape<float>().clear();
    tapegrad::tape<double>().clear();
  }
}

// ---- the families ----

template <class T>
void check_recurrent(const Npz& f) {
  const auto kind = f.get_index("meta.kind")();
  auto options = nn::RNNOptions(meta(f, "input_size"), meta(f, "hidden_size"))
                     .num_layers(meta(f, "num_layers"))
                     .bidirectional(meta(f, "bidirectional") != 0)
                     .batch_first(meta(f, "batch_first") != 0)
                     .bias(meta(f, "bias") != 0)
                     .nonlinearity(kind == 1 ? nn::Nonlinearity::relu : nn::Nonlinearity::tanh);
  std::unique_ptr<nn::RNNBase<T>> module;
  if (kind == 0 || kind == 1) {
    module = std::make_unique<nn::RNN<T>>(options);
  } else if (kind == 2) {
    module = std::make_unique<nn::LSTM<T>>(options);
  } else {
    module = std::make_unique<nn::GRU<T>>(options);
  }
  const bool lstm = kind == 2;
  CHECK(module->kind() == (kind == 0   ? nn::CellKind::rnn_tanh
                           : kind == 1 ? nn::CellKind::rnn_relu
                           : lstm      ? nn::CellKind::lstm
                                       : nn::CellKind::gru));
  load_params(*module, f);

  Var<T> x = tapegrad::parameter(f.get_as<T>("x"), "x");
  std::vector<std::pair<std::string, Var<T>>> inputs{{"x", x}};
  nn::RecurrentState<T> initial;
  if (f.contains("h0")) {
    initial.h = tapegrad::parameter(f.get_as<T>("h0"), "h0");
    inputs.emplace_back("h0", initial.h);
  }
  if (f.contains("c0")) {
    initial.c = tapegrad::parameter(f.get_as<T>("c0"), "c0");
    inputs.emplace_back("c0", initial.c);
  }
  std::vector<std::size_t> lengths;
  if (f.contains("lengths")) {
    for (auto n : f.get_index("lengths")) lengths.push_back(static_cast<std::size_t>(n));
  }

  const nn::RecurrentOutput<T> out = module->forward(x, initial, lengths);
  std::vector<std::pair<std::string, Var<T>>> outputs{{"output", out.output}, {"h_n", out.h_n}};
  if (lstm) {
    outputs.emplace_back("c_n", out.c_n);
  } else {
    CHECK_MESSAGE(!out.c_n.defined(), "c_n is only an LSTM's");
  }
  check_outputs_and_grads<T>(f, module.get(), outputs, inputs);
}

template <class T>
void check_cell(const Npz& f) {
  const auto kind = f.get_index("meta.kind")();
  const std::size_t in = meta(f, "input_size"), hidden = meta(f, "hidden_size");
  const bool bias = meta(f, "bias") != 0;
  Var<T> x = tapegrad::parameter(f.get_as<T>("x"), "x");
  Var<T> h = tapegrad::parameter(f.get_as<T>("h"), "h");
  std::vector<std::pair<std::string, Var<T>>> inputs{{"x", x}, {"h", h}};
  if (kind == 0 || kind == 1) {
    nn::RNNCell<T> cell(in, hidden, bias,
                        kind == 1 ? nn::Nonlinearity::relu : nn::Nonlinearity::tanh);
    load_params(cell, f);
    check_outputs_and_grads<T>(f, &cell, {{"h_next", cell(x, h)}}, inputs);
  } else if (kind == 2) {
    nn::LSTMCell<T> cell(in, hidden, bias);
    load_params(cell, f);
    Var<T> c = tapegrad::parameter(f.get_as<T>("c"), "c");
    inputs.emplace_back("c", c);
    const nn::RecurrentState<T> next = cell(x, {h, c});
    check_outputs_and_grads<T>(f, &cell, {{"h_next", next.h}, {"c_next", next.c}}, inputs);
  } else {
    nn::GRUCell<T> cell(in, hidden, bias);
    load_params(cell, f);
    check_outputs_and_grads<T>(f, &cell, {{"h_next", cell(x, h)}}, inputs);
  }
}

template <class T>
void check_linear(const Npz& f) {
  nn::Linear<T> layer(meta(f, "in_features"), meta(f, "out_features"), meta(f, "bias") != 0);
  load_params(layer, f);
  Var<T> x = tapegrad::parameter(f.get_as<T>("x"), "x");
  check_outputs_and_grads<T>(f, &layer, {{"y", layer(x)}}, {{"x", x}});
}

template <class T>
void check_embedding(const Npz& f) {
  const tapegrad::Index padding_idx = f.get_index("meta.padding_idx")();
  nn::Embedding<T> layer(meta(f, "num_embeddings"), meta(f, "embedding_dim"), padding_idx);
  CHECK(layer.padding_idx() == padding_idx);
  load_params(layer, f);
  check_outputs_and_grads<T>(f, &layer, {{"y", layer(f.get_index("ids"))}}, {});
  if (padding_idx >= 0 && layer.weight().has_grad()) {
    const Array<T>& grad = layer.weight().grad();
    const std::size_t dim = grad.shape()[1];
    const T* row = grad.data() + static_cast<std::size_t>(padding_idx) * dim;
    CHECK_MESSAGE(std::all_of(row, row + dim, [](T v) { return v == T(0); }),
                  "the gradient of the padding row ", padding_idx, " is not zero");
  }
}

template <class T>
void check_log_softmax(const Npz& f) {
  Var<T> logits = tapegrad::parameter(f.get_as<T>("logits"), "logits");
  nn::LogSoftmax<T> layer(-1);
  check_outputs_and_grads<T>(f, nullptr, {{"y", layer(logits)}}, {{"logits", logits}});
}

template <class T>
void check_cross_entropy(const Npz& f) {
  Var<T> logits = tapegrad::parameter(f.get_as<T>("logits"), "logits");
  tapegrad::LossOptions options;
  const auto reduction = f.get_index("meta.reduction")();
  options.reduction = reduction == 0   ? tapegrad::Reduction::mean
                      : reduction == 1 ? tapegrad::Reduction::sum
                                       : tapegrad::Reduction::none;
  options.label_smoothing = f.get<double>("meta.label_smoothing")();
  options.ignore_index = f.get_index("meta.ignore_index")();
  const Var<T> y = tapegrad::cross_entropy(logits, f.get_index("targets"), options);
  check_outputs_and_grads<T>(f, nullptr, {{"y", y}}, {{"logits", logits}});
}

template <class T>
void check_attention(const Npz& f) {
  const auto score = static_cast<nn::AttentionScore>(f.get_index("meta.score")());
  nn::AttentionOptions options;
  options.score = score;
  options.query_size = meta(f, "query_size");
  options.key_size = meta(f, "key_size");
  options.hidden_size = meta(f, "hidden_size");
  options.bias = f.contains("meta.bias") && f.get_index("meta.bias")() != 0;
  nn::Attention<T> attention(options);
  load_params(attention, f);
  Var<T> query = tapegrad::parameter(f.get_as<T>("query"), "query");
  Var<T> keys = tapegrad::parameter(f.get_as<T>("keys"), "keys");
  Var<T> values = tapegrad::parameter(f.get_as<T>("values"), "values");
  std::vector<std::size_t> lengths;
  if (f.contains("lengths")) {
    for (auto v : f.get_index("lengths")) lengths.push_back(static_cast<std::size_t>(v));
  }
  const auto [context, weights] = attention(query, keys, values, lengths);
  check_outputs_and_grads<T>(f, &attention, {{"context", context}, {"weights", weights}},
                             {{"query", query}, {"keys", keys}, {"values", values}});
}

}  // namespace

TEST_CASE("parity: the PyTorch fixtures are all there and all known") {
  const auto files = all_fixtures();
  REQUIRE_MESSAGE(!files.empty(), "no fixtures in ", fixture_dir().string(),
                  " (remake them with tests/fixtures/generate.py)");
  for (const auto& file : files) {
    CHECK_MESSAGE(family_of(file.stem().string()) != Family::unknown, "fixture ",
                  file.filename().string(),
                  " belongs to no family this test knows: add its check to this file");
  }
  CHECK(fixtures(Family::recurrent).size() >= kRecurrentFixtures);
  CHECK(fixtures(Family::cell).size() >= kCellFixtures);
  CHECK(fixtures(Family::linear).size() >= kLinearFixtures);
  CHECK(fixtures(Family::embedding).size() >= kEmbeddingFixtures);
  CHECK(fixtures(Family::log_softmax).size() == 1);
  CHECK(fixtures(Family::cross_entropy).size() >= kCrossEntropyFixtures);
  CHECK(fixtures(Family::attention).size() >= kAttentionFixtures);
}

TEST_CASE("parity: RNN, LSTM and GRU match PyTorch in double") {
  for_each_fixture(Family::recurrent, kRecurrentFixtures, check_recurrent<double>);
}

TEST_CASE("parity: RNN, LSTM and GRU match PyTorch in float") {
  for_each_fixture(Family::recurrent, kRecurrentFixtures, check_recurrent<float>);
}

TEST_CASE("parity: RNNCell, LSTMCell and GRUCell match PyTorch in double") {
  for_each_fixture(Family::cell, kCellFixtures, check_cell<double>);
}

TEST_CASE("parity: RNNCell, LSTMCell and GRUCell match PyTorch in float") {
  for_each_fixture(Family::cell, kCellFixtures, check_cell<float>);
}

TEST_CASE("parity: Linear and Embedding match PyTorch in double") {
  for_each_fixture(Family::linear, kLinearFixtures, check_linear<double>);
  for_each_fixture(Family::embedding, kEmbeddingFixtures, check_embedding<double>);
}

TEST_CASE("parity: Linear and Embedding match PyTorch in float") {
  for_each_fixture(Family::linear, kLinearFixtures, check_linear<float>);
  for_each_fixture(Family::embedding, kEmbeddingFixtures, check_embedding<float>);
}

TEST_CASE("parity: log_softmax and cross_entropy match PyTorch in double") {
  for_each_fixture(Family::log_softmax, 1, check_log_softmax<double>);
  for_each_fixture(Family::cross_entropy, kCrossEntropyFixtures, check_cross_entropy<double>);
}

TEST_CASE("parity: log_softmax and cross_entropy match PyTorch in float") {
  for_each_fixture(Family::log_softmax, 1, check_log_softmax<float>);
  for_each_fixture(Family::cross_entropy, kCrossEntropyFixtures, check_cross_entropy<float>);
}

TEST_CASE("parity: Attention (dot, general, additive, scaled_dot) matches PyTorch in double") {
  for_each_fixture(Family::attention, kAttentionFixtures, check_attention<double>);
}

TEST_CASE("parity: Attention (dot, general, additive, scaled_dot) matches PyTorch in float") {
  for_each_fixture(Family::attention, kAttentionFixtures, check_attention<float>);
}
