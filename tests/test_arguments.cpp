// Bad arguments to the public entry points: every size, id, length, probability, rate and
// option out of range is an exception of the documented kind whose message names the bad value.
// One table per component; each row is a call that must throw and a part of its message. A few
// good edge values (lr 0, dropout 0, eta_min 0, ...) are checked to be accepted.
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "char_lm.hpp"
#include "forecast.hpp"
#include "helpers.hpp"
#include "sentiment.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace data = tapegrad::data;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::Array;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::make_shape;
using tapegrad::Var;

namespace {

const double not_a_number = std::numeric_limits<double>::quiet_NaN();
const double infinity = std::numeric_limits<double>::infinity();
// What a negative size becomes once converted to std::size_t: Linear(-1, 3) compiles.
const std::size_t minus_one = static_cast<std::size_t>(-1);

/// A call that must throw, and a part its message must contain.
struct Bad {
  std::string call;
  std::function<void()> fn;
  std::string part;
};

/// Every row throws E with a message containing its part.
template <class E>
void expect_rejected(const std::vector<Bad>& rows) {
  for (const Bad& row : rows) {
    INFO("call: ", row.call);
    REQUIRE_FALSE(row.part.empty());
    const std::string message = tapegrad_test::message_of<E>(row.fn);
    TG_CHECK_CONTAINS(message, row.part);
  }
}

/// A call that must succeed.
struct Good {
  std::string call;
  std::function<void()> fn;
};

void expect_accepted(const std::vector<Good>& rows) {
  for (const Good& row : rows) {
    INFO("call: ", row.call);
    CHECK_NOTHROW(row.fn());
  }
}

/// Default options with one change: with<optim::AdamOptions>([](auto& o) { o.eps = -1; }).
template <class Options, class Set>
Options with(Set set) {
  Options o;
  set(o);
  return o;
}

Var<double> random_var(std::initializer_list<std::size_t> shape, std::uint64_t seed,
                       bool requires_grad = false) {
  tapegrad::Generator g(seed);
  return Var<double>(g.normal<double>(make_shape(shape)), requires_grad);
}

// A trainable [3] float parameter with gradient 1 everywhere.
Var<float> parameter_with_grad() {
  Array<float> value = Array<float>::from_shape({3});
  value.fill(0.5f);
  Var<float> p(value, true);
  Array<float> grad = Array<float>::from_shape({3});
  grad.fill(1.0f);
  p.set_grad(grad);
  return p;
}

}  // namespace

TEST_CASE("arguments: layers reject bad sizes, ids, probabilities and lengths") {
  const Var<double> x2 = random_var({2, 3}, 1);
  const Var<double> seq = random_var({4, 2, 3}, 2);  // [T, B, in]
  nn::Embedding<double> table(5, 2);
  nn::LSTM<double> lstm(nn::RNNOptions(3, 2));
  expect_rejected<tapegrad::value_error>({
      {"Linear(0, 3)", [] { nn::Linear<double> l(0, 3); }, "in_features 0"},
      {"Linear(3, 0)", [] { nn::Linear<double> l(3, 0); }, "out_features 0"},
      {"Linear(-1, 3)", [] { nn::Linear<double> l(minus_one, 3); }, "in_features -1"},
      {"Embedding(0, 4)", [] { nn::Embedding<double> e(0, 4); }, "num_embeddings 0"},
      {"Embedding(5, 0)", [] { nn::Embedding<double> e(5, 0); }, "embedding_dim 0"},
      {"Embedding(-3, 4)", [] { nn::Embedding<double> e(static_cast<std::size_t>(-3), 4); },
       "num_embeddings -3"},
      {"Embedding padding_idx 5 of 5", [] { nn::Embedding<double> e(5, 4, 5); }, "padding_idx 5"},
      {"Embedding padding_idx -2", [] { nn::Embedding<double> e(5, 4, -2); }, "padding_idx -2"},
      {"Embedding::from_pretrained padding_idx 3",
       [] {
         Array<double> w = Array<double>::from_shape({3, 2});
         w.fill(0.0);
         nn::Embedding<double>::from_pretrained(w, true, 3);
       },
       "padding_idx 3"},
      {"Embedding id 5 of 5",
       [&] {
         table(IndexArray{0, 5});
       },
       "id 5"},
      {"Embedding id -1",
       [&] {
         table(IndexArray{-1, 0});
       },
       "id -1"},
      {"Dropout(1)", [] { nn::Dropout<double> d(1.0); }, "p = 1"},
      {"Dropout(-0.1)", [] { nn::Dropout<double> d(-0.1); }, "p = -0.1"},
      {"Dropout(nan)", [] { nn::Dropout<double> d(not_a_number); }, "p = nan"},
      {"dropout(x, 1.5)", [&] { tapegrad::dropout(x2, 1.5, true); }, "p = 1.5"},
      {"RNN input_size 0", [] { nn::RNN<double> r(nn::RNNOptions(0, 4)); }, "input_size 0"},
      {"LSTM hidden_size 0", [] { nn::LSTM<double> r(nn::RNNOptions(3, 0)); }, "hidden_size 0"},
      {"GRU num_layers 0", [] { nn::GRU<double> r(nn::RNNOptions(3, 2).num_layers(0)); },
       "num_layers 0"},
      {"LSTM dropout 1", [] { nn::LSTM<double> r(nn::RNNOptions(3, 2).dropout(1.0)); },
       "dropout 1"},
      {"GRU dropout -0.5", [] { nn::GRU<double> r(nn::RNNOptions(3, 2).dropout(-0.5)); },
       "dropout -0.5"},
      {"RNN dropout nan", [] { nn::RNN<double> r(nn::RNNOptions(3, 2).dropout(not_a_number)); },
       "dropout nan"},
      {"RNNCell(0, 4)", [] { nn::RNNCell<double> c(0, 4); }, "input_size 0"},
      {"LSTMCell(3, 0)", [] { nn::LSTMCell<double> c(3, 0); }, "hidden_size 0"},
      {"GRUCell(0, 2)", [] { nn::GRUCell<double> c(0, 2); }, "input_size 0"},
      {"LSTM length 0",
       [&] {
         lstm(seq, {0, 2});
       },
       "length 0"},
      {"LSTM length 5 > T 4",
       [&] {
         lstm(seq, {5, 2});
       },
       "length 5"},
      {"LSTM 1 length for 2 sequences", [&] { lstm(seq, {4}); },
       "1 lengths given for a batch of 2"},
      {"LSTM weights(1, 0) of 1 layer", [&] { lstm.weights(1, 0); }, "no layer 1"},
      {"LSTM weights(0, 1) unidirectional", [&] { lstm.weights(0, 1); }, "direction 1"},
      {"Module::parameter unknown", [&] { lstm.parameter("weight"); }, "no parameter 'weight'"},
  });
  expect_rejected<tapegrad::shape_error>({
      {"Softmax(3) on [2,3]", [&] { nn::Softmax<double>(3)(x2); }, "axis 3"},
      {"LogSoftmax(-3) on [2,3]", [&] { nn::LogSoftmax<double>(-3)(x2); }, "axis -3"},
      {"LSTM input with 5 features",
       [&] {
         lstm(random_var({4, 2, 5}, 3));
       },
       "input_size 3"},
      {"Linear input with 4 features",
       [] {
         nn::Linear<double>(3, 2)(random_var({2, 4}, 4));
       },
       "[2,4]"},
  });
  expect_rejected<tapegrad::usage_error>({
      {"Sequential::add(empty function)",
       [] {
         nn::Sequential<double> net;
         net.add(std::function<Var<double>(const Var<double>&)>());
       },
       "step 0 is an empty function"},
  });
  // A negative size converted to std::size_t is refused before anything is allocated: by the
  // layer naming it ("-1"), or else by the generator that would draw the weights, which names
  // the shape it was asked for ("a negative size?").
  for (const auto& options : {nn::RNNOptions(minus_one, 2), nn::RNNOptions(3, minus_one)}) {
    const std::string m =
        tapegrad_test::message_of<tapegrad::value_error>([&] { nn::GRU<double> r(options); });
    CHECK_MESSAGE((tapegrad_test::contains(m, "-1") || tapegrad_test::contains(m, "negative size")),
                  "message: ", m);
  }
  expect_accepted({
      {"Dropout(0)", [] { nn::Dropout<double> d(0.0); }},
      {"Dropout(0.999)", [] { nn::Dropout<double> d(0.999); }},
      {"LSTM dropout 0 with 2 layers",
       [] { nn::LSTM<double> r(nn::RNNOptions(3, 2).num_layers(2).dropout(0.0)); }},
      {"Embedding padding_idx 4 of 5", [] { nn::Embedding<double> e(5, 4, 4); }},
      {"Embedding ids 0 and 4 of 5",
       [&] {
         table(IndexArray{0, 4});
       }},
      {"LSTM lengths T and 1",
       [&] {
         lstm(seq, {4, 1});
       }},
      {"Softmax(-2) on [2,3]", [&] { nn::Softmax<double>(-2)(x2); }},
  });
}

TEST_CASE("arguments: losses reject targets out of range, batch mismatches and bad smoothing") {
  const Var<double> logits = random_var({2, 3}, 5);
  const IndexArray good_targets{0, 2};
  const auto smoothing = [](double eps) {
    tapegrad::LossOptions o;
    o.label_smoothing = eps;
    return o;
  };
  expect_rejected<tapegrad::value_error>({
      {"cross_entropy target 3 of 3 classes",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{0, 3});
       },
       "target 3 (at position 1) is out of range for 3 classes"},
      {"cross_entropy target -1",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{-1, 0});
       },
       "target -1"},
      {"cross_entropy label_smoothing 1.5",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(1.5)); },
       "label_smoothing 1.5"},
      {"cross_entropy label_smoothing -0.1",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(-0.1)); },
       "label_smoothing -0.1"},
      {"cross_entropy label_smoothing nan",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(not_a_number)); },
       "label_smoothing nan"},
      {"nll_loss target 7",
       [&] {
         tapegrad::nll_loss(logits, IndexArray{7, 0});
       },
       "target 7"},
      {"nll_loss label_smoothing 0.1",
       [&] { tapegrad::nll_loss(logits, good_targets, smoothing(0.1)); }, "label_smoothing 0.1"},
  });
  expect_rejected<tapegrad::shape_error>({
      {"cross_entropy 2 rows, 3 targets",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{0, 1, 2});
       },
       "got [2,3] and [3]"},
      {"nll_loss 2-D targets",
       [&] {
         IndexArray column = IndexArray::from_shape({2, 1});
         column.fill(0);
         tapegrad::nll_loss(logits, column);
       },
       "got [2,3] and [2,1]"},
      {"mse_loss [2,3] vs [3,2]",
       [&] {
         tapegrad::mse_loss(logits, random_var({3, 2}, 6));
       },
       "input [2,3] and target [3,2]"},
      {"bce_with_logits [2,3] vs [2]",
       [&] { tapegrad::bce_with_logits(logits, random_var({2}, 7)); },
       "logits [2,3] and targets [2]"},
  });
  expect_accepted({
      {"cross_entropy label_smoothing 0",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(0)); }},
      {"cross_entropy label_smoothing 1",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(1)); }},
      {"cross_entropy ignore_index target -100",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{-100, 1});
       }},
  });
}

TEST_CASE("arguments: optimizers reject bad learning rates, betas, eps, momentum, decay") {
  Var<float> w = parameter_with_grad();
  using SGDo = optim::SGDOptions;
  using Adamo = optim::AdamOptions;
  using RMSo = optim::RMSpropOptions;
  using Adagrado = optim::AdagradOptions;
  expect_rejected<tapegrad::value_error>({
      {"SGD lr -0.1", [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.lr = -0.1; })); },
       "SGD: learning rate -0.1"},
      {"SGD lr nan",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.lr = not_a_number; })); },
       "SGD: learning rate nan"},
      {"SGD momentum -0.5",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.momentum = -0.5; })); },
       "momentum = -0.5"},
      {"SGD weight_decay -1",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.weight_decay = -1; })); },
       "weight_decay = -1"},
      {"SGD dampening nan",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.dampening = not_a_number; })); },
       "dampening = nan"},
      {"SGD nesterov without momentum",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.nesterov = true; })); },
       "got momentum 0, dampening 0"},
      {"SGD group lr -1",
       [&] {
         optim::SGD<float> o(std::vector<optim::ParamGroup<float>>{{{w}, -1.0}}, SGDo{});
       },
       "learning rate -1"},
      {"SGD groups with default lr -2",
       [&] {
         optim::SGD<float> o(std::vector<optim::ParamGroup<float>>{{{w}, 0.1}},
                             with<SGDo>([](auto& s) { s.lr = -2; }));
       },
       "learning rate -2"},
      {"SGD no parameters", [] { optim::SGD<float> o(std::vector<Var<float>>{}, SGDo{}); },
       "no parameters"},
      {"Adam lr -0.1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.lr = -0.1; })); },
       "Adam: learning rate -0.1"},
      {"Adam lr inf",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.lr = infinity; })); },
       "learning rate inf"},
      {"Adam beta1 1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.beta1 = 1.0; })); },
       "beta1 = 1 must be in [0, 1)"},
      {"Adam beta2 -0.1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.beta2 = -0.1; })); },
       "beta2 = -0.1"},
      {"Adam beta1 nan",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.beta1 = not_a_number; })); },
       "beta1 = nan"},
      {"Adam eps -1e-08",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.eps = -1e-8; })); },
       "eps = -1e-08"},
      {"Adam weight_decay -0.1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.weight_decay = -0.1; })); },
       "weight_decay = -0.1"},
      {"AdamW weight_decay -0.01",
       [&] {
         optim::AdamWOptions a;
         a.weight_decay = -0.01;
         optim::AdamW<float> o({w}, a);
       },
       "AdamW: weight_decay = -0.01"},
      {"AdamW lr -3",
       [&] {
         optim::AdamWOptions a;
         a.lr = -3;
         optim::AdamW<float> o({w}, a);
       },
       "AdamW: learning rate -3"},
      {"RMSprop lr -1",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.lr = -1; })); },
       "RMSprop: learning rate -1"},
      {"RMSprop alpha 1.5",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.alpha = 1.5; })); },
       "alpha = 1.5"},
      {"RMSprop eps -1",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.eps = -1; })); }, "eps = -1"},
      {"RMSprop momentum -0.9",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.momentum = -0.9; })); },
       "momentum = -0.9"},
      {"RMSprop weight_decay nan",
       [&] {
         optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.weight_decay = not_a_number; }));
       },
       "weight_decay = nan"},
      {"Adagrad lr -0.01",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.lr = -0.01; })); },
       "Adagrad: learning rate -0.01"},
      {"Adagrad lr_decay -1",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.lr_decay = -1; })); },
       "lr_decay = -1"},
      {"Adagrad initial_accumulator_value -0.1",
       [&] {
         optim::Adagrad<float> o(
             {w}, with<Adagrado>([](auto& s) { s.initial_accumulator_value = -0.1; }));
       },
       "initial_accumulator_value = -0.1"},
      {"Adagrad eps -1",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.eps = -1; })); },
       "eps = -1"},
      {"Adagrad weight_decay -2",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.weight_decay = -2; })); },
       "weight_decay = -2"},
      {"step() after a group's lr became -0.5",
       [&] {
         optim::SGD<float> o({w}, SGDo{});
         o.param_groups()[0].lr = -0.5;
         o.step();
       },
       "learning rate -0.5"},
  });
  expect_rejected<tapegrad::usage_error>({
      {"SGD with an empty Var", [] { optim::SGD<float> o({Var<float>()}, SGDo{}); },
       "parameter 0 of group 0 is an empty Var"},
  });
  expect_accepted({
      {"Adam beta1 0, beta2 0, eps 0, weight_decay 0",
       [&] {
         optim::Adam<float> o({w}, with<Adamo>([](auto& s) {
                                s.beta1 = 0;
                                s.beta2 = 0;
                                s.eps = 0;
                              }));
       }},
      {"RMSprop alpha 0, momentum 0",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.alpha = 0; })); }},
      {"SGD nesterov with momentum 0.9",
       [&] {
         optim::SGD<float> o({w}, with<SGDo>([](auto& s) {
                               s.momentum = 0.9;
                               s.nesterov = true;
                             }));
       }},
  });
  // lr 0 is accepted, as in PyTorch, and a step then changes nothing.
  optim::SGD<float> frozen({w}, with<SGDo>([](auto& s) { s.lr = 0.0; }));
  frozen.step();
  for (float v : w.value()) CHECK(v == 0.5f);
  optim::Adam<float> frozen_adam({w}, with<Adamo>([](auto& s) { s.lr = 0.0; }));
  frozen_adam.step();
  for (float v : w.value()) CHECK(v == 0.5f);
}

TEST_CASE("arguments: learning-rate schedules reject bad step sizes, factors and periods") {
  Var<float> w = parameter_with_grad();
  optim::SGD<float> sgd({w}, optim::SGDOptions{});
  using Plateau = optim::PlateauOptions;
  expect_rejected<tapegrad::value_error>({
      {"StepLR step_size 0", [&] { optim::StepLR<float> s(sgd, 0); }, "step_size 0"},
      {"StepLR step_size -2", [&] { optim::StepLR<float> s(sgd, -2); }, "step_size -2"},
      {"StepLR gamma -0.5", [&] { optim::StepLR<float> s(sgd, 3, -0.5); }, "gamma -0.5"},
      {"StepLR gamma nan", [&] { optim::StepLR<float> s(sgd, 3, not_a_number); }, "gamma nan"},
      {"MultiStepLR milestone 0",
       [&] {
         optim::MultiStepLR<float> s(sgd, {0, 5});
       },
       "milestone 0 (at position 0)"},
      {"MultiStepLR milestone -3",
       [&] {
         optim::MultiStepLR<float> s(sgd, {2, -3});
       },
       "milestone -3 (at position 1)"},
      {"MultiStepLR gamma -1", [&] { optim::MultiStepLR<float> s(sgd, {2}, -1.0); }, "gamma -1"},
      {"ExponentialLR gamma -0.1", [&] { optim::ExponentialLR<float> s(sgd, -0.1); }, "gamma -0.1"},
      {"ExponentialLR gamma inf", [&] { optim::ExponentialLR<float> s(sgd, infinity); },
       "gamma inf"},
      {"CosineAnnealingLR t_max 0", [&] { optim::CosineAnnealingLR<float> s(sgd, 0); }, "t_max 0"},
      {"CosineAnnealingLR t_max -5", [&] { optim::CosineAnnealingLR<float> s(sgd, -5); },
       "t_max -5"},
      {"CosineAnnealingLR eta_min -0.001",
       [&] { optim::CosineAnnealingLR<float> s(sgd, 10, -0.001); }, "eta_min -0.001"},
      {"LinearLR start_factor 0", [&] { optim::LinearLR<float> s(sgd, 0.0); }, "start_factor 0"},
      {"LinearLR start_factor 1.5", [&] { optim::LinearLR<float> s(sgd, 1.5); },
       "start_factor 1.5"},
      {"LinearLR end_factor -0.1", [&] { optim::LinearLR<float> s(sgd, 0.5, -0.1); },
       "end_factor -0.1"},
      {"LinearLR total_iters 0", [&] { optim::LinearLR<float> s(sgd, 0.5, 1.0, 0); },
       "total_iters 0"},
      {"ReduceLROnPlateau factor 1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.factor = 1.0; }));
       },
       "factor 1"},
      {"ReduceLROnPlateau factor -0.1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.factor = -0.1; }));
       },
       "factor -0.1"},
      {"ReduceLROnPlateau patience -1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.patience = -1; }));
       },
       "patience -1"},
      {"ReduceLROnPlateau cooldown -2",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.cooldown = -2; }));
       },
       "cooldown -2"},
      {"ReduceLROnPlateau threshold -1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.threshold = -1; }));
       },
       "threshold -1"},
      {"ReduceLROnPlateau min_lr -0.1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.min_lr = -0.1; }));
       },
       "min_lr -0.1"},
      {"ReduceLROnPlateau eps nan",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd,
                                           with<Plateau>([](auto& p) { p.eps = not_a_number; }));
       },
       "eps nan"},
  });
  expect_rejected<tapegrad::usage_error>({
      {"ReduceLROnPlateau::step() without a metric",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd);
         s.step();
       },
       "step(metric)"},
  });
  // A rejected schedule leaves the optimizer's learning rate as it was.
  CHECK(sgd.param_groups()[0].lr == optim::SGDOptions{}.lr);
  expect_accepted({
      {"StepLR gamma 0 and 1",
       [&] {
         optim::StepLR<float> a(sgd, 1, 0.0);
         optim::StepLR<float> b(sgd, 1, 1.0);
       }},
      {"MultiStepLR milestones {1, 1}",
       [&] {
         optim::MultiStepLR<float> s(sgd, {1, 1});
       }},
      {"CosineAnnealingLR t_max 1, eta_min 0",
       [&] { optim::CosineAnnealingLR<float> s(sgd, 1, 0.0); }},
      {"ReduceLROnPlateau patience 0, factor 0",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) {
                                             p.patience = 0;
                                             p.factor = 0.0;
                                           }));
       }},
  });
}

TEST_CASE("arguments: gradient clipping rejects bad norms and norm types") {
  Var<float> w = parameter_with_grad();
  const std::vector<Var<float>> params{w};
  expect_rejected<tapegrad::value_error>({
      {"clip_grad_norm max_norm -1", [&] { optim::clip_grad_norm(params, -1.0); }, "max_norm -1"},
      {"clip_grad_norm max_norm nan", [&] { optim::clip_grad_norm(params, not_a_number); },
       "max_norm nan"},
      {"clip_grad_norm norm_type 1", [&] { optim::clip_grad_norm(params, 1.0, 1.0); },
       "norm_type 1"},
      {"clip_grad_norm norm_type -inf", [&] { optim::clip_grad_norm(params, 1.0, -infinity); },
       "norm_type -inf"},
      {"clip_grad_norm norm_type nan", [&] { optim::clip_grad_norm(params, 1.0, not_a_number); },
       "norm_type nan"},
      {"clip_grad_value clip -0.5", [&] { optim::clip_grad_value(params, -0.5); }, "clip -0.5"},
      {"clip_grad_value clip nan", [&] { optim::clip_grad_value(params, not_a_number); },
       "clip nan"},
  });
  // Rejected calls leave the gradient alone.
  for (float g : w.grad()) CHECK(g == 1.0f);
  expect_accepted({
      {"clip_grad_norm norm_type inf", [&] { optim::clip_grad_norm(params, 10.0, infinity); }},
      {"clip_grad_value clip 0", [&] { optim::clip_grad_value(params, 0.0); }},
  });
  for (float g : w.grad()) CHECK(g == 0.0f);
}

TEST_CASE("arguments: random generators and gradcheck options reject bad values") {
  tapegrad::Generator g(1);
  const auto fn = [](const std::vector<Var<double>>& in) { return tapegrad::exp(in[0]); };
  const Var<double> x = random_var({2}, 8, true);
  const auto grad_options = [](double eps, double atol, double rtol) {
    tapegrad::GradcheckOptions o;
    o.eps = eps;
    o.atol = atol;
    o.rtol = rtol;
    return o;
  };
  expect_rejected<tapegrad::value_error>({
      {"uniform lo 1 > hi 0", [&] { g.uniform<double>(make_shape({2}), 1.0, 0.0); },
       "lo 1 is greater than hi 0"},
      {"uniform lo -inf", [&] { g.uniform<double>(make_shape({2}), -infinity, 0.0); }, "lo -inf"},
      {"uniform shape [2, -1]",
       [&] {
         g.uniform<double>(make_shape({2, minus_one}), 0.0, 1.0);
       },
       "[2,18446744073709551615]"},
      {"normal stddev -1", [&] { g.normal<double>(make_shape({2}), 0.0, -1.0); }, "stddev -1"},
      {"normal mean nan", [&] { g.normal<double>(make_shape({2}), not_a_number, 1.0); },
       "mean nan"},
      {"bernoulli p 1.5", [&] { g.bernoulli<double>(make_shape({2}), 1.5); }, "p = 1.5"},
      {"gradcheck eps 0", [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(0, 1e-5, 1e-3)); },
       "eps = 0"},
      {"gradcheck eps inf",
       [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(infinity, 1e-5, 1e-3)); }, "eps = inf"},
      {"gradcheck atol -1", [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(1e-6, -1, 1e-3)); },
       "atol = -1"},
      {"gradcheck rtol nan",
       [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(1e-6, 1e-5, not_a_number)); },
       "rtol = nan"},
  });
  expect_accepted({
      {"uniform lo == hi", [&] { g.uniform<double>(make_shape({2}), 0.5, 0.5); }},
      {"uniform shape [0, -1] (no elements)",
       [&] {
         g.uniform<double>(make_shape({0, minus_one}), 0.0, 1.0);
       }},
      {"normal stddev 0", [&] { g.normal<double>(make_shape({2}), 0.0, 0.0); }},
      {"bernoulli p 0 and 1",
       [&] {
         g.bernoulli<double>(make_shape({2}), 0.0);
         g.bernoulli<double>(make_shape({2}), 1.0);
       }},
  });
}

TEST_CASE("arguments: data utilities reject zero batch sizes, bad fractions, labels and ids") {
  const std::vector<std::vector<Index>> seqs{{2, 3}, {4}};
  const std::vector<std::vector<Index>> with_empty{{2, 3}, {}};
  const std::vector<Index> three_labels{0, 1, 0};
  const std::vector<Index> two_labels{0, 1};
  tapegrad::Generator g(1);
  const auto batching = [](std::size_t batch_size) {
    data::BatchOptions o;
    o.batch_size = batch_size;
    return o;
  };
  const auto split = [](double train, double valid, double test) {
    data::SplitOptions o;
    o.train = train;
    o.valid = valid;
    o.test = test;
    return o;
  };
  const data::Vocabulary vocab({"<pad>", "<unk>", "a", "b"});
  const data::LabelSet labels({"negative", "positive"});
  data::ConfusionMatrix cm(3);
  const auto progress = [](double interval) {
    data::ProgressOptions o;
    o.min_interval = interval;
    return o;
  };
  std::ostringstream out;
  expect_rejected<tapegrad::value_error>({
      {"batch_indices batch_size 0",
       [&] {
         data::batch_indices({1, 2}, batching(0), g);
       },
       "batch_size is 0"},
      {"BatchIterator batch_size 0", [&] { data::BatchIterator it(seqs, two_labels, batching(0)); },
       "batch_size is 0"},
      {"BatchIterator 3 labels for 2 sequences",
       [&] { data::BatchIterator it(seqs, three_labels); }, "3 labels for 2 sequences"},
      {"BatchIterator empty sequence", [&] { data::BatchIterator it(with_empty); },
       "sequence 1 is empty"},
      {"pad_sequences empty sequence", [&] { data::pad_sequences(with_empty); },
       "sequence 1 is empty"},
      {"make_batch index 5 of 2",
       [&] {
         data::make_batch(seqs, two_labels, {0, 5});
       },
       "index 5"},
      {"make_batch 3 labels for 2 sequences", [&] { data::make_batch(seqs, three_labels, {0}); },
       "3 labels for 2 sequences"},
      {"split_indices train 0", [&] { data::split_indices(10, split(0, 0.5, 0.5)); }, "train 0,"},
      {"split_indices valid -0.1", [&] { data::split_indices(10, split(0.9, -0.1, 0.2)); },
       "valid -0.1"},
      {"split_indices sum 1.2", [&] { data::split_indices(10, split(0.8, 0.2, 0.2)); }, "sum 1.2"},
      {"split_indices test nan", [&] { data::split_indices(10, split(0.8, 0.2, not_a_number)); },
       "test nan"},
      {"stratified_split label -1",
       [&] {
         data::stratified_split({0, -1, 1});
       },
       "label -1 at position 1"},
      {"select index 3 of 2", [&] { data::select(two_labels, std::vector<std::size_t>{3}); },
       "index 3 is out of range for 2"},
      {"Vocabulary::token(-1)", [&] { vocab.token(-1); }, "id -1"},
      {"Vocabulary::decode id 4 of 4",
       [&] {
         vocab.decode({2, 4});
       },
       "id 4 at position 1"},
      {"Vocabulary::build max_size 1", [&] { data::Vocabulary::build({{"a"}}, 1, 1); },
       "max_size 1"},
      {"LabelSet::id unknown", [&] { labels.id("neutral"); }, "unknown label 'neutral'"},
      {"LabelSet::name(2)", [&] { labels.name(2); }, "id 2 is outside [0, 2)"},
      {"LabelSet::name(-1)", [&] { labels.name(-1); }, "id -1"},
      {"LabelSet duplicate",
       [] {
         data::LabelSet({"a", "b", "a"});
       },
       "label 2 'a'"},
      {"Column(-2)", [] { data::Column c(-2); }, "index -2"},
      {"ConfusionMatrix(0)", [] { data::ConfusionMatrix m(0); }, "num_classes is 0"},
      {"ConfusionMatrix::add truth 3 of 3", [&] { cm.add(3, 0); }, "= 3 is outside [0, 3)"},
      {"ConfusionMatrix::add predicted -1", [&] { cm.add(0, -1); }, "= -1 is outside"},
      {"ConfusionMatrix::add 2 vs 1 classes",
       [&] {
         cm.add({0, 1}, {0});
       },
       "2 true classes but 1 predicted"},
      {"ConfusionMatrix::report digits -1", [&] { cm.report({}, -1); }, "digits -1"},
      {"ConfusionMatrix::report 2 names for 3",
       [&] {
         cm.report({"a", "b"});
       },
       "2 names given for 3 classes"},
      {"accuracy 2 vs 3",
       [] {
         data::accuracy({0, 1}, {0, 1, 1});
       },
       "2 true classes but 3 predicted"},
      {"argmax_rows [2,0]",
       [] {
         data::argmax_rows(Array<float>::from_shape({2, 0}));
       },
       "got [2,0]"},
      {"ProgressLine min_interval -1", [&] { data::ProgressLine p(out, 10, progress(-1)); },
       "min_interval -1"},
      {"ProgressLine min_interval nan",
       [&] { data::ProgressLine p(out, 10, progress(not_a_number)); }, "min_interval nan"},
  });
  CHECK(cm.total() == 0);  // the rejected adds added nothing
  expect_accepted({
      {"split_indices train 1",
       [] {
         data::split_indices(10, {1.0, 0.0, 0.0, 0});
       }},
      {"batch_indices batch_size 1",
       [&] {
         data::batch_indices({1, 2}, batching(1), g);
       }},
      {"BatchIterator without labels", [&] { data::BatchIterator it(seqs); }},
      {"ProgressLine min_interval 0", [&] { data::ProgressLine p(out, 0, progress(0)); }},
      {"ConfusionMatrix::add 2, 2", [&] { cm.add(2, 2); }},
  });
}

TEST_CASE("arguments: the examples' options reject zero sizes, bad rates and unknown names") {
  // sentiment
  const auto model_config = [](auto set) {
    sentiment::ModelConfig c;
    c.vocab_size = 10;
    set(c);
    return c;
  };
  const auto train_config = [](auto set) {
    sentiment::TrainConfig c;
    set(c);
    return c;
  };
  expect_rejected<tapegrad::value_error>({
      {"sentiment vocab_size 1", [&] { model_config([](auto& c) { c.vocab_size = 1; }).check(); },
       "vocab_size must be at least 2 (<pad> and <unk>), got 1"},
      {"sentiment num_classes 1", [&] { model_config([](auto& c) { c.num_classes = 1; }).check(); },
       "num_classes 1"},
      {"sentiment embedding_dim 0",
       [&] { model_config([](auto& c) { c.embedding_dim = 0; }).check(); },
       "ModelConfig: embedding_dim must be at least 1, got 0"},
      {"sentiment dropout 1", [&] { model_config([](auto& c) { c.dropout = 1.0; }).check(); },
       "ModelConfig: dropout must be in [0, 1), got 1"},
      {"sentiment embedding_dropout -1e-09",
       [&] { model_config([](auto& c) { c.embedding_dropout = -1e-9; }).check(); },
       "embedding_dropout must be in [0, 1), got -1e-09"},
      {"sentiment embedding_init_std 0",
       [&] { model_config([](auto& c) { c.embedding_init_std = 0; }).check(); },
       "embedding_init_std must be positive and finite, got 0"},
      {"sentiment Classifier hidden_size 0",
       [&] { sentiment::Classifier m(model_config([](auto& c) { c.hidden_size = 0; }), 1); },
       "hidden_size must be at least 1, got 0"},
      {"sentiment epochs 0", [&] { train_config([](auto& c) { c.epochs = 0; }).check(); },
       "TrainConfig: epochs must be at least 1, got 0"},
      {"sentiment batch_size 0", [&] { train_config([](auto& c) { c.batch_size = 0; }).check(); },
       "batch_size must be at least 1, got 0"},
      {"sentiment lr -0.1", [&] { train_config([](auto& c) { c.lr = -0.1; }).check(); },
       "lr must be positive and finite, got -0.1"},
      {"sentiment lr nan", [&] { train_config([](auto& c) { c.lr = not_a_number; }).check(); },
       "got nan"},
      {"sentiment weight_decay -1",
       [&] { train_config([](auto& c) { c.weight_decay = -1; }).check(); },
       "weight_decay must be >= 0 and finite, got -1"},
      {"sentiment clip_norm -1", [&] { train_config([](auto& c) { c.clip_norm = -1; }).check(); },
       "clip_norm must be >= 0 and finite (0: off), got -1"},
      {"sentiment label_smoothing 1",
       [&] { train_config([](auto& c) { c.label_smoothing = 1.0; }).check(); },
       "label_smoothing must be in [0, 1), got 1"},
      {"sentiment word_dropout 1.5",
       [&] { train_config([](auto& c) { c.word_dropout = 1.5; }).check(); },
       "word_dropout must be in [0, 1), got 1.5"},
      {"sentiment parse_cell rnn", [] { sentiment::parse_cell("rnn"); }, "unknown cell \"rnn\""},
      {"sentiment parse_pooling sum", [] { sentiment::parse_pooling("sum"); },
       "unknown pooling \"sum\""},
      {"sentiment evaluate batch_size 0",
       [&] {
         sentiment::Classifier m(model_config([](auto&) {}), 1);
         sentiment::evaluate(m, sentiment::Examples{}, 0);
       },
       "evaluate: batch_size must be at least 1, got 0"},
  });
  expect_accepted({
      {"sentiment dropout 0, label_smoothing 0, word_dropout 0, clip_norm 0",
       [&] {
         model_config([](auto& c) {
           c.dropout = 0;
           c.embedding_dropout = 0;
         }).check();
         train_config([](auto& c) {
           c.label_smoothing = 0;
           c.word_dropout = 0;
           c.clip_norm = 0;
         }).check();
       }},
  });

  // char_lm
  const auto lm_options = [](auto set) {
    char_lm::Options o;
    set(o);
    return o;
  };
  const data::Vocabulary lm_vocab = char_lm::build_vocabulary("abc");
  tapegrad::Generator gen(1);
  char_lm::ModelConfig lm_config;
  lm_config.vocab_size = lm_vocab.size();
  lm_config.embedding_size = 2;
  lm_config.hidden_size = 2;
  char_lm::CharModel lm(lm_config, gen);
  expect_rejected<tapegrad::value_error>({
      {"char_lm valid_fraction 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.valid_fraction = 0; })); },
       "--valid-fraction must be in (0, 0.5], got 0"},
      {"char_lm valid_fraction 0.6",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.valid_fraction = 0.6; })); },
       "got 0.6"},
      {"char_lm cell rnn",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.cell = "rnn"; })); }, "got 'rnn'"},
      {"char_lm hidden 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.hidden_size = 0; })); },
       "--hidden must be at least 1, got 0"},
      {"char_lm batch_size 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.batch_size = 0; })); },
       "--batch-size must be at least 1, got 0"},
      {"char_lm dropout 1",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.dropout = 1; })); },
       "--dropout must be in [0, 1), got 1"},
      {"char_lm lr 0", [&] { char_lm::check_options(lm_options([](auto& o) { o.lr = 0; })); },
       "--lr must be positive and finite, got 0"},
      {"char_lm clip nan",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.clip = not_a_number; })); },
       "--clip must be positive, got nan"},
      {"char_lm temperature inf",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.temperature = infinity; })); },
       "got inf"},
      {"char_lm CharModel dropout 1.5",
       [&] {
         char_lm::ModelConfig c = lm_config;
         c.dropout = 1.5;
         char_lm::CharModel m(c, gen);
       },
       "dropout 1.5"},
      {"char_lm CharModel vocab_size 0",
       [&] {
         char_lm::ModelConfig c = lm_config;
         c.vocab_size = 0;
         char_lm::CharModel m(c, gen);
       },
       "vocab_size 0"},
      {"char_lm sample temperature 0", [&] { char_lm::sample(lm, lm_vocab, "ab", 0.0, 5, 1); },
       "got 0"},
      {"char_lm sample length 0", [&] { char_lm::sample(lm, lm_vocab, "ab", 1.0, 0, 1); },
       "length must be at least 1, got 0"},
      {"char_lm sample unknown prompt byte",
       [&] { char_lm::sample(lm, lm_vocab, "az", 1.0, 5, 1); }, "'z' (byte 0x7a)"},
      {"char_lm evaluate chunk 0",
       [&] {
         char_lm::evaluate(lm, {2, 3, 4}, 0);
       },
       "(got 0)"},
      {"char_lm make_streams batch 0",
       [] {
         char_lm::make_streams({2, 3, 4}, 0, 1);
       },
       "batch 0"},
      {"char_lm make_corpus fraction 0.7", [] { char_lm::make_corpus("abcdefgh", 0.7); },
       "got 0.7"},
      {"char_lm chunk_at k 0",
       [] {
         IndexArray streams = IndexArray::from_shape({4, 2});
         streams.fill(2);
         char_lm::chunk_at(streams, 0, 0);
       },
       "steps 0 .. 0"},
      {"char_lm chunk_at 1-D streams",
       [] {
         char_lm::chunk_at(IndexArray{2, 3, 4}, 0, 1);
       },
       "got [3]"},
  });

  // forecast
  const auto fc_options = [](auto set) {
    forecast::Options o;
    set(o);
    return o;
  };
  expect_rejected<tapegrad::value_error>({
      {"forecast window 0",
       [&] { forecast::validate(fc_options([](auto& o) { o.window = 0; }), 1500); },
       "--window 0 must be at least 1"},
      {"forecast batch 0",
       [&] { forecast::validate(fc_options([](auto& o) { o.batch = 0; }), 1500); }, "--batch 0"},
      {"forecast layers 0",
       [&] { forecast::validate(fc_options([](auto& o) { o.layers = 0; }), 1500); }, "--layers 0"},
      {"forecast lr nan",
       [&] { forecast::validate(fc_options([](auto& o) { o.lr = not_a_number; }), 1500); },
       "--lr nan"},
      {"forecast clip -1",
       [&] { forecast::validate(fc_options([](auto& o) { o.clip = -1; }), 1500); }, "--clip -1"},
      {"forecast valid_fraction 1",
       [&] { forecast::validate(fc_options([](auto& o) { o.valid_fraction = 1; }), 1500); },
       "--valid-fraction 1"},
      {"forecast Forecaster hidden 0",
       [&] { forecast::Forecaster m(tapegrad::nn::CellKind::lstm, 0, 1, 1, gen); },
       "hidden_size 0"},
      {"forecast Forecaster horizon 0",
       [&] { forecast::Forecaster m(tapegrad::nn::CellKind::gru, 4, 1, 0, gen); },
       "out_features 0"},
  });
  expect_accepted({
      {"forecast defaults", [&] { forecast::validate(forecast::Options{}, 1500); }},
      {"char_lm defaults", [&] { char_lm::check_options(char_lm::Options{}); }},
      {"char_lm dropout 0",
       [&] { char_lm::check_options(lm_options([](auto& o) { o.dropout = 0; })); }},
  });
}
