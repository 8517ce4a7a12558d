// nn:: layers: the Module system, every layer gradchecked in double against its inputs and
// parameters, the semantics of variable-length batches, truncated BPTT, and the errors.
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>

#include "helpers.hpp"
#include "tapegrad/nn.hpp"

namespace nn = tapegrad::nn;
using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::make_shape;
using tapegrad::shape_error;
using tapegrad::value_error;
using tapegrad::Var;
using tapegrad_test::message_of;
using V = Var<double>;
using Vs = std::vector<V>;

namespace {

Array<double> randn(std::initializer_list<std::size_t> shape, std::uint64_t seed) {
  tapegrad::Generator g(seed);
  return g.normal<double>(tapegrad::make_shape(shape), 0.0, 0.7);
}

V input(std::initializer_list<std::size_t> shape, std::uint64_t seed, bool requires_grad = true) {
  return V(randn(shape, seed), requires_grad);
}

void check_gradcheck(const tapegrad::GradcheckFn& fn, const Vs& inputs, const Vs& params) {
  const tapegrad::GradcheckReport report = tapegrad::gradcheck(fn, inputs, params);
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(report.elements_checked > 0);
}

// A model a user would write: embedding, LSTM, linear head.
class Tagger : public nn::Module<double> {
 public:
  Tagger()
      : embed_(10, 4, 0, gen()),
        rnn_(nn::RNNOptions(4, 3).bidirectional(true), gen()),
        head_(6, 2, true, gen()) {
    this->register_module("embed", embed_);
    this->register_module("rnn", rnn_);
    this->register_module("head", head_);
  }
  static tapegrad::Generator& gen() {
    static tapegrad::Generator g(7);
    return g;
  }
  nn::Embedding<double> embed_;
  nn::LSTM<double> rnn_;
  nn::Linear<double> head_;
};

}  // namespace

TEST_CASE("Module lists parameters by PyTorch's dotted names, in registration order") {
  Tagger model;
  std::vector<std::string> names;
  for (const auto& p : model.named_parameters()) names.push_back(p.first);
  const std::vector<std::string> expected = {"embed.weight",
                                             "rnn.weight_ih_l0",
                                             "rnn.weight_hh_l0",
                                             "rnn.bias_ih_l0",
                                             "rnn.bias_hh_l0",
                                             "rnn.weight_ih_l0_reverse",
                                             "rnn.weight_hh_l0_reverse",
                                             "rnn.bias_ih_l0_reverse",
                                             "rnn.bias_hh_l0_reverse",
                                             "head.weight",
                                             "head.bias"};
  CHECK(names == expected);
  CHECK(model.parameters().size() == expected.size());
  CHECK(model.num_parameters() == 10 * 4 + 2 * (12 * 4 + 12 * 3 + 12 + 12) + 2 * 6 + 2);
  CHECK(tapegrad::shape_str(model.parameter("rnn.weight_hh_l0_reverse").shape()) == "[12,3]");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { model.parameter("rnn.weight"); }),
                    "rnn.weight_ih_l0");
}

TEST_CASE("Module train and eval reach every sub-module, zero_grad every parameter") {
  Tagger model;
  CHECK(model.rnn_.is_training());
  model.eval();
  CHECK_FALSE(model.is_training());
  CHECK_FALSE(model.rnn_.is_training());
  CHECK_FALSE(model.head_.is_training());
  model.train();
  CHECK(model.head_.is_training());
  IndexArray ids = {{1, 2}, {3, 0}};
  tapegrad::sum(model.head_(model.rnn_(model.embed_(ids)).output)).backward();
  for (const auto& p : model.named_parameters()) CHECK_MESSAGE(p.second.has_grad(), p.first);
  model.zero_grad();
  for (const auto& p : model.named_parameters()) CHECK_FALSE(p.second.has_grad());
}

TEST_CASE("state_dict round trip, and a strict load that changes nothing when it fails") {
  Tagger a, b;
  CHECK_FALSE(a.parameter("head.weight").value() == b.parameter("head.weight").value());
  b.load_state_dict(a.state_dict());
  for (const auto& [name, value] : a.state_dict()) {
    CHECK_MESSAGE(b.parameter(name).value() == value, name);
  }

  Tagger c;
  const auto before = c.state_dict();
  auto missing = a.state_dict();
  missing.pop_back();
  TG_CHECK_CONTAINS(message_of<value_error>([&] { c.load_state_dict(missing); }),
                    "missing head.bias");
  auto unexpected = a.state_dict();
  unexpected.emplace_back("head.scale", Array<double>{1.0});
  TG_CHECK_CONTAINS(message_of<value_error>([&] { c.load_state_dict(unexpected); }),
                    "unexpected head.scale");
  auto wrong = a.state_dict();
  wrong[0].second = Array<double>::from_shape({3, 3});
  const std::string msg = message_of<value_error>([&] { c.load_state_dict(wrong); });
  TG_CHECK_CONTAINS(msg, "embed.weight");
  TG_CHECK_CONTAINS(msg, "[3,3]");
  TG_CHECK_CONTAINS(msg, "[10,4]");
  const auto after = c.state_dict();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i].second == before[i].second);
}

TEST_CASE("Linear: PyTorch's shapes and init bounds, gradcheck for 2-D and 3-D inputs") {
  nn::Linear<double> layer(5, 3);
  CHECK(tapegrad::shape_str(layer.weight().shape()) == "[3,5]");
  const double bound = 1.0 / std::sqrt(5.0);
  for (double w : layer.weight().value()) CHECK(std::abs(w) <= bound);
  for (double b : layer.bias().value()) CHECK(std::abs(b) <= bound);
  check_gradcheck([&](const Vs& x) { return layer(x[0]); }, {input({4, 5}, 1)}, layer.parameters());
  check_gradcheck([&](const Vs& x) { return layer(x[0]); }, {input({2, 4, 5}, 2)},
                  layer.parameters());
  nn::Linear<double> no_bias(5, 3, false);
  CHECK(no_bias.parameters().size() == 1);
  CHECK_THROWS_AS(nn::Linear<double>(0, 3), value_error);
}

TEST_CASE("Embedding: repeated ids and padding, gradcheck, out-of-range ids named") {
  nn::Embedding<double> table(6, 3, /*padding_idx=*/2);
  for (std::size_t j = 0; j < 3; ++j) CHECK(table.weight().value()(2, j) == 0.0);
  // The padding row's gradient is zero by definition (not the numeric derivative), so the
  // gradcheck uses ids without it; the padding case is checked exactly below.
  check_gradcheck(
      [&](const Vs&) {
        return table(IndexArray{{1, 4, 1}, {5, 1, 0}});
      },
      {}, table.parameters());
  const IndexArray ids = {{1, 2, 1}, {5, 1, 0}};
  tapegrad::sum(table(ids)).backward();
  const Array<double>& g = table.weight().grad();
  for (std::size_t j = 0; j < 3; ++j) {
    CHECK(g(2, j) == 0.0);  // padding row: no gradient
    CHECK(g(1, j) == 3.0);  // id 1 appears three times
    CHECK(g(3, j) == 0.0);  // unused
  }
  const std::string msg = message_of<value_error>([&] { table(IndexArray{0, 6}); });
  TG_CHECK_CONTAINS(msg, "id 6");
  TG_CHECK_CONTAINS(msg, "6 rows");
  auto frozen = nn::Embedding<double>::from_pretrained(randn({4, 2}, 3));
  CHECK_FALSE(frozen->weight().requires_grad());
  CHECK(frozen->forward(IndexArray{3}).value()(0, 1) == randn({4, 2}, 3)(3, 1));
}

TEST_CASE("Dropout: identity in eval, inverted scaling in train, gradcheck with a fixed mask") {
  nn::Dropout<double> drop(0.25, 11);
  const V x(Array<double>(xt::ones<double>({40, 50})), true);
  drop.eval();
  CHECK(drop(x).value() == x.value());
  drop.train();
  const Array<double> y = drop(x).value();
  std::size_t kept = 0;
  for (double v : y) {
    CHECK((v == 0.0 || std::abs(v - 1.0 / 0.75) < 1e-12));
    kept += v != 0.0;
  }
  CHECK(std::abs(static_cast<double>(kept) / 2000.0 - 0.75) < 0.05);
  check_gradcheck(
      [&](const Vs& in) {
        drop.generator().seed(5);  // the same mask at every evaluation
        return drop(in[0]);
      },
      {input({3, 4}, 4)}, {});
  CHECK_THROWS_AS(nn::Dropout<double>(1.0), value_error);
  CHECK_THROWS_AS(nn::Dropout<double>(-0.1), value_error);
}

TEST_CASE("Softmax and LogSoftmax modules") {
  nn::Softmax<double> sm(1);
  nn::LogSoftmax<double> lsm(-1);
  const V x = input({2, 3}, 5);
  TG_CHECK_CONTAINS(tapegrad::shape_str(sm(x).shape()), "[2,3]");
  const Array<double> p = sm(x).value();
  const Array<double> lp = lsm(x).value();
  for (std::size_t i = 0; i < p.size(); ++i)
    CHECK(std::abs(std::log(p.data()[i]) - lp.data()[i]) < 1e-12);
  check_gradcheck([&](const Vs& in) { return lsm(in[0]); }, {x}, {});
}

TEST_CASE("RNNOptions: fluent setters, a relu RNN, and LSTM and GRU ignore the nonlinearity") {
  // Each setter returns the options, and the getter of its name reads it back.
  const nn::RNNOptions o = nn::RNNOptions(3, 4)
                               .num_layers(2)
                               .bias(false)
                               .batch_first(true)
                               .dropout(0.25)
                               .bidirectional(true)
                               .nonlinearity(nn::Nonlinearity::relu)
                               .fused(false);
  CHECK(o.input_size() == 3);
  CHECK(o.hidden_size() == 4);
  CHECK(o.num_layers() == 2);
  CHECK(!o.bias());
  CHECK(o.batch_first());
  CHECK(o.dropout() == 0.25);
  CHECK(o.bidirectional());
  CHECK(o.nonlinearity() == nn::Nonlinearity::relu);
  CHECK(!o.fused());
  const nn::RNNOptions d(3, 4);
  CHECK((d.num_layers() == 1 && d.bias() && !d.batch_first() && d.dropout() == 0.0 &&
         !d.bidirectional() && d.nonlinearity() == nn::Nonlinearity::tanh && d.fused()));

  // relu: h_1 = relu(x_1 W_ih^T + b_ih + b_hh) from h_0 = 0, fused and composed alike.
  const V x = input({1, 2, 3}, 11, false);  // [T, B, in]
  for (bool fused : {true, false}) {
    tapegrad::Generator gen(5);
    nn::RNN<double> rnn(nn::RNNOptions(3, 4).nonlinearity(nn::Nonlinearity::relu).fused(fused),
                        gen);
    CHECK(rnn.kind() == nn::CellKind::rnn_relu);
    const auto& w = rnn.weights(0, 0);
    const V expected =
        tapegrad::relu(tapegrad::linear(tapegrad::select(x, 0, 0), w.w_ih, w.b_ih) + w.b_hh);
    const Array<double> out = tapegrad::select(rnn(x).output, 0, 0).value();
    TG_CHECK_CLOSE(out, expected.value(), 1e-12);
    CHECK(*std::min_element(out.begin(), out.end()) >= 0.0);
  }
  // make_recurrent: the kind sets the nonlinearity, whatever the options say.
  CHECK(nn::make_recurrent<double>(nn::CellKind::rnn_relu, nn::RNNOptions(3, 4))->kind() ==
        nn::CellKind::rnn_relu);
  CHECK(nn::make_recurrent<double>(nn::CellKind::rnn_tanh,
                                   nn::RNNOptions(3, 4).nonlinearity(nn::Nonlinearity::relu))
            ->kind() == nn::CellKind::rnn_tanh);
  // LSTM and GRU: the same outputs with either nonlinearity.
  for (nn::CellKind kind : {nn::CellKind::lstm, nn::CellKind::gru}) {
    tapegrad::Generator g1(6), g2(6);
    const auto a = nn::make_recurrent<double>(kind, nn::RNNOptions(3, 4), g1);
    const auto b = nn::make_recurrent<double>(
        kind, nn::RNNOptions(3, 4).nonlinearity(nn::Nonlinearity::relu), g2);
    TG_CHECK_CLOSE((*a)(x).output.value(), (*b)(x).output.value(), 0.0);
  }
}

TEST_CASE("cells unrolled over 3 steps pass gradcheck: RNNCell, LSTMCell, GRUCell") {
  tapegrad::Generator gen(3);
  const V x = input({3, 2, 4}, 6);  // [steps, batch, in]
  SUBCASE("RNNCell tanh and relu") {
    for (auto nl : {nn::Nonlinearity::tanh, nn::Nonlinearity::relu}) {
      nn::RNNCell<double> cell(4, 3, true, nl, gen);
      check_gradcheck(
          [&](const Vs& in) {
            V h = in[1];
            for (std::size_t t = 0; t < 3; ++t) h = cell(tapegrad::select(in[0], 0, t), h);
            return h;
          },
          {x, input({2, 3}, 7)}, cell.parameters());
    }
  }
  SUBCASE("LSTMCell") {
    nn::LSTMCell<double> cell(4, 3, true, gen);
    check_gradcheck(
        [&](const Vs& in) {
          nn::RecurrentState<double> s{in[1], in[2]};
          for (std::size_t t = 0; t < 3; ++t) s = cell(tapegrad::select(in[0], 0, t), s);
          return tapegrad::concat({s.h, s.c}, 1);
        },
        {x, input({2, 3}, 8), input({2, 3}, 9)}, cell.parameters());
  }
  SUBCASE("GRUCell, also without bias") {
    for (bool bias : {true, false}) {
      nn::GRUCell<double> cell(4, 3, bias, gen);
      check_gradcheck(
          [&](const Vs& in) {
            V h = in[1];
            for (std::size_t t = 0; t < 3; ++t) h = cell(tapegrad::select(in[0], 0, t), h);
            return h;
          },
          {x, input({2, 3}, 10)}, cell.parameters());
    }
  }
  SUBCASE("a 1-D input is one sequence") {
    nn::GRUCell<double> cell(4, 3, true, gen);
    CHECK(tapegrad::shape_str(cell(input({4}, 11)).shape()) == "[3]");
  }
}

TEST_CASE("2-layer bidirectional RNN, LSTM and GRU with unequal lengths pass gradcheck") {
  const std::vector<std::size_t> lengths = {4, 2, 3};  // unsorted on purpose
  for (bool batch_first : {false, true}) {
    CAPTURE(batch_first);
    const V x = batch_first ? input({3, 4, 3}, 12) : input({4, 3, 3}, 12);
    const V h0 = input({4, 3, 2}, 13), c0 = input({4, 3, 2}, 14);
    const auto opts =
        nn::RNNOptions(3, 2).num_layers(2).bidirectional(true).batch_first(batch_first);
    auto all = [](const nn::RecurrentOutput<double>& o) {
      V flat = tapegrad::reshape(o.output, tapegrad::make_shape({o.output.size()}));
      V hn = tapegrad::reshape(o.h_n, tapegrad::make_shape({o.h_n.size()}));
      Vs parts = {flat, hn};
      if (o.c_n.defined())
        parts.push_back(tapegrad::reshape(o.c_n, tapegrad::make_shape({o.c_n.size()})));
      return tapegrad::concat(parts, 0);
    };
    tapegrad::Generator gen(21);
    nn::RNN<double> rnn(nn::RNNOptions(opts).nonlinearity(nn::Nonlinearity::tanh), gen);
    check_gradcheck(
        [&](const Vs& in) {
          return all(rnn(in[0], {in[1], {}}, lengths));
        },
        {x, h0}, rnn.parameters());
    nn::LSTM<double> lstm(opts, gen);
    check_gradcheck(
        [&](const Vs& in) {
          return all(lstm(in[0], {in[1], in[2]}, lengths));
        },
        {x, h0, c0}, lstm.parameters());
    nn::GRU<double> gru(opts, gen);
    check_gradcheck(
        [&](const Vs& in) {
          return all(gru(in[0], {in[1], {}}, lengths));
        },
        {x, h0}, gru.parameters());
  }
}

TEST_CASE("variable lengths: each sequence gives what it gives alone, outputs zero past its end") {
  tapegrad::Generator gen(5);
  nn::LSTM<double> lstm(nn::RNNOptions(3, 4).num_layers(2).bidirectional(true), gen);
  const std::vector<std::size_t> lengths = {2, 5, 3};
  const V x = input({5, 3, 3}, 15, false);
  const auto batched = lstm(x, lengths);
  for (std::size_t b = 0; b < 3; ++b) {
    CAPTURE(b);
    // The same sequence, alone and trimmed to its length.
    const V alone = tapegrad::narrow(tapegrad::narrow(x, 1, b, 1), 0, 0, lengths[b]);
    const auto single = lstm(alone);
    for (std::size_t t = 0; t < 5; ++t) {
      for (std::size_t j = 0; j < 8; ++j) {
        const double got = batched.output.value()(t, b, j);
        const double want = t < lengths[b] ? single.output.value()(t, 0, j) : 0.0;
        CHECK(std::abs(got - want) < 1e-12);
      }
    }
    for (std::size_t k = 0; k < 4; ++k) {
      for (std::size_t j = 0; j < 4; ++j) {
        CHECK(std::abs(batched.h_n.value()(k, b, j) - single.h_n.value()(k, 0, j)) < 1e-12);
        CHECK(std::abs(batched.c_n.value()(k, b, j) - single.c_n.value()(k, 0, j)) < 1e-12);
      }
    }
  }
}

namespace {

// The outputs of a layer run twice on the same input: recording its ops (parameters requiring
// gradients) and under NoGrad, which runs the fused kernels in one loop without the tape.
template <class T, class Layer, class Run>
void check_untaped_equals_taped(Layer& layer, const Run& run) {
  tapegrad::tape<T>().clear();
  const nn::RecurrentOutput<T> taped = run(layer);
  CHECK(tapegrad::tape<T>().size() > 0);
  tapegrad::tape<T>().clear();
  nn::RecurrentOutput<T> untaped;
  {
    const tapegrad::NoGrad no_grad;
    untaped = run(layer);
  }
  CHECK(tapegrad::tape<T>().size() == 0);
  // Bit for bit: the same GEMMs and gate kernels, in the same order.
  CHECK(untaped.output.value() == taped.output.value());
  CHECK(untaped.h_n.value() == taped.h_n.value());
  CHECK(untaped.c_n.defined() == taped.c_n.defined());
  if (taped.c_n.defined()) CHECK(untaped.c_n.value() == taped.c_n.value());
}

template <class T>
void check_untaped_inference() {
  tapegrad::Generator gen(31);
  // Batch 9 takes the GEMM on weights kept in oneDNN's layout (from 8 rows), batch 3 the other.
  for (const std::size_t batch : {3, 9}) {
    for (const bool padded : {false, true}) {
      CAPTURE(batch);
      CAPTURE(padded);
      std::vector<std::size_t> lengths;
      if (padded) {
        for (std::size_t b = 0; b < batch; ++b) lengths.push_back(1 + (b * 5) % 6);
      }
      const Var<T> x(gen.normal<T>(make_shape({6, batch, 5}), T(0), T(1)));
      const Var<T> h0(gen.normal<T>(make_shape({4, batch, 7}), T(0), T(1)));
      const Var<T> c0(gen.normal<T>(make_shape({4, batch, 7}), T(0), T(1)));
      const auto opts = nn::RNNOptions(5, 7).num_layers(2).bidirectional(true);
      for (const auto nonlinearity : {nn::Nonlinearity::tanh, nn::Nonlinearity::relu}) {
        nn::RNN<T> rnn(nn::RNNOptions(opts).nonlinearity(nonlinearity), gen);
        check_untaped_equals_taped<T>(rnn, [&](auto& m) { return m(x, {h0, {}}, lengths); });
      }
      nn::LSTM<T> lstm(opts, gen);
      check_untaped_equals_taped<T>(lstm, [&](auto& m) { return m(x, {h0, c0}, lengths); });
      nn::GRU<T> gru(nn::RNNOptions(opts).bias(batch == 3), gen);
      check_untaped_equals_taped<T>(gru, [&](auto& m) { return m(x, {h0, {}}, lengths); });
      nn::LSTM<T> first(nn::RNNOptions(5, 7).batch_first(true), gen);  // no initial state
      const Var<T> xb = tapegrad::transpose(x, 0, 1);
      check_untaped_equals_taped<T>(first, [&](auto& m) { return m(xb, {}, lengths); });
    }
  }
}

}  // namespace

TEST_CASE("inference under NoGrad runs without the tape and gives the taped values bit for bit") {
  check_untaped_inference<float>();
  check_untaped_inference<double>();
}

namespace {

/// A training pass of `layer` on `threads` threads: the output, h_n and every gradient (the
/// input's, then the parameters').
template <class Layer>
std::vector<Array<float>> trained_values(Layer& layer, const Array<float>& xv,
                                         const std::vector<std::size_t>& lengths, int threads) {
  tapegrad::set_num_threads(threads);
  for (auto& p : layer.parameters()) p.zero_grad();
  const Var<float> x = tapegrad::parameter<float>(xv, "x");
  const nn::RecurrentOutput<float> out = layer(x, {}, lengths);
  // A loss that weighs every output differently.
  tapegrad::Generator weights(77);
  const Var<float> w(weights.normal<float>(out.output.shape()));
  tapegrad::sum(out.output * w).backward();
  std::vector<Array<float>> values{out.output.value(), out.h_n.value(), x.grad()};
  for (const auto& p : layer.parameters()) values.push_back(p.grad());
  return values;
}

}  // namespace

TEST_CASE("recurrent layers on two threads split each step's rows: one thread's values") {
  // From 2^20 multiply-adds per step and 4 rows per thread, a float step runs its product and
  // gate loop on one block of rows per thread (for_row_blocks in layers/src/cells/common.hpp),
  // forward and backward, taped or not. Batch 19 splits 10 + 9; H 256 puts every cell over the
  // threshold.
  const int before = tapegrad::num_threads();
  tapegrad::Generator gen(41);
  const Array<float> xv = gen.normal<float>(make_shape({4, 19, 8}));
  std::vector<std::size_t> lengths;
  for (std::size_t b = 0; b < 19; ++b) lengths.push_back(1 + (b * 3) % 4);
  for (const bool padded : {false, true}) {
    const std::vector<std::size_t> used = padded ? lengths : std::vector<std::size_t>{};
    const auto opts = nn::RNNOptions(8, 256).bidirectional(true);
    const auto check = [&](auto& layer, const char* name) {
      CAPTURE(name);
      CAPTURE(padded);
      const std::vector<Array<float>> one = trained_values(layer, xv, used, 1);
      const std::vector<Array<float>> two = trained_values(layer, xv, used, 2);
      REQUIRE(one.size() == two.size());
      for (std::size_t i = 0; i < one.size(); ++i) {
        CAPTURE(i);
        const double scale = static_cast<double>(xt::amax(xt::abs(one[i]))()) + 1e-30;
        CHECK(static_cast<double>(xt::amax(xt::abs(one[i] - two[i]))()) / scale < 1e-5);
      }
      // Untaped inference on two threads: the taped values, bit for bit.
      check_untaped_equals_taped<float>(
          layer, [&](auto& m) { return m(tapegrad::constant(xv), {}, used); });
    };
    nn::RNN<float> rnn(opts, gen);
    check(rnn, "RNN");
    nn::LSTM<float> lstm(opts, gen);
    check(lstm, "LSTM");
    nn::GRU<float> gru(opts, gen);
    check(gru, "GRU");
  }
  tapegrad::set_num_threads(before);
}

TEST_CASE("recurrent layers: PyTorch's output layouts") {
  tapegrad::Generator gen(1);
  nn::GRU<float> gru(nn::RNNOptions(5, 7).num_layers(3).bidirectional(true).batch_first(true), gen);
  const Var<float> x(gen.normal<float>(tapegrad::make_shape({2, 6, 5})));
  const auto out = gru(x);
  CHECK(tapegrad::shape_str(out.output.shape()) == "[2,6,14]");
  CHECK(tapegrad::shape_str(out.h_n.shape()) == "[6,2,7]");
  CHECK_FALSE(out.c_n.defined());
  nn::LSTM<float> lstm(nn::RNNOptions(5, 7), gen);
  const auto o2 = lstm(tapegrad::transpose(x, 0, 1));
  CHECK(tapegrad::shape_str(o2.c_n.shape()) == "[1,2,7]");
}

TEST_CASE("recurrent layers reject bad sizes, lengths and states with the value named") {
  tapegrad::Generator gen(2);
  nn::LSTM<double> lstm(nn::RNNOptions(3, 2).num_layers(2), gen);
  const V x = input({4, 2, 3}, 16, false);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { lstm(x, {4, 5}); }), "length 5");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { lstm(x, {0, 2}); }), "length 0");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { lstm(x, {4, 2, 1}); }), "3 lengths");
  TG_CHECK_CONTAINS(message_of<shape_error>([&] {
                      lstm(input({4, 2, 5}, 17, false));
                    }),
                    "input_size 3");
  const std::string state = message_of<shape_error>([&] { lstm(x, {input({1, 2, 2}, 18), {}}); });
  TG_CHECK_CONTAINS(state, "[2,2,2]");
  TG_CHECK_CONTAINS(state, "[1,2,2]");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { nn::GRU<double>(nn::RNNOptions(3, 0)); }),
                    "hidden_size 0");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { nn::GRU<double>(nn::RNNOptions(3, 2).dropout(1.5)); }),
      "dropout 1.5");
}

TEST_CASE("dropout between layers is active in training only") {
  tapegrad::Generator gen(4);
  nn::GRU<double> gru(nn::RNNOptions(3, 4).num_layers(2).dropout(0.5), gen);
  const V x = input({3, 2, 3}, 19, false);
  gru.eval();
  const Array<double> a = gru(x).output.value(), b = gru(x).output.value();
  CHECK(a == b);
  gru.train();
  CHECK_FALSE(gru(x).output.value() == a);
}

TEST_CASE("truncated BPTT: carrying detached states keeps the tape bounded across chunks") {
  tapegrad::Generator gen(9);
  nn::LSTM<float> lstm(nn::RNNOptions(2, 8), gen);
  nn::Linear<float> head(8, 1, true, gen);
  const Var<float> long_x(gen.normal<float>(tapegrad::make_shape({400, 1, 2})));
  nn::RecurrentState<float> state;
  std::vector<std::size_t> entries, bytes;
  for (std::size_t start = 0; start < 400; start += 20) {
    const auto out = lstm(tapegrad::narrow(long_x, 0, start, 20), state);
    const Var<float> loss = tapegrad::mean(head(out.output));
    entries.push_back(tapegrad::tape<float>().size());
    bytes.push_back(tapegrad::tape<float>().bytes());
    loss.backward();
    // Carry the state as a constant: backpropagation stops at the chunk boundary.
    state = {out.h_n.detach(), out.c_n.detach()};
    lstm.zero_grad();
    head.zero_grad();
  }
  CHECK(tapegrad::tape<float>().size() == 0);
  for (std::size_t i = 1; i < entries.size(); ++i) {
    CHECK(entries[i] <= entries[1]);
    CHECK(bytes[i] <= bytes[1]);
  }
  // Without detach, the next chunk would reach into a freed tape: a clear error.
  const auto out = lstm(tapegrad::narrow(long_x, 0, 0, 5));
  tapegrad::mean(out.output).backward();
  const std::string msg = message_of<tapegrad::usage_error>([&] {
    lstm(long_x, {out.h_n, out.c_n});
  });
  TG_CHECK_CONTAINS(msg, "detach()");
}

TEST_CASE("the tape of a tanh RNN keeps the step outputs and x, not the projections or the stack") {
  // Only what a backward rule reads stays on the tape (record's Reads): each step's output
  // (tanh's derivative, and dW_hh's factor at the next step) and the input x (a constant here);
  // the input projection [T, B, H] and the stacked output [T, B, H], which the user drops, go.
  const std::size_t steps = 7, batch = 3, in = 4, hidden = 5;
  const std::size_t kept = (steps * batch * in + steps * batch * hidden) * sizeof(double);
  // Small things besides: h_0, the summed biases, h_n, the loss.
  const std::size_t small = (2 * batch * hidden + hidden + 16) * sizeof(double);
  REQUIRE(small < steps * batch * hidden * sizeof(double));  // one more [T, B, H] would fail
  for (bool fused : {true, false}) {
    CAPTURE(fused);
    tapegrad::tape<double>().clear();
    tapegrad::Generator gen(12);
    nn::RNN<double> rnn(nn::RNNOptions(in, hidden).fused(fused), gen);
    const V x = input({steps, batch, in}, 13, false);
    const V loss = tapegrad::sum(rnn(x).h_n);  // the output [T, B, H] is dropped
    const std::size_t bytes = tapegrad::tape<double>().bytes();
    CHECK(bytes >= kept);
    CHECK(bytes <= kept + small);
    loss.backward();
    for (const auto& [name, p] : rnn.named_parameters()) CHECK_MESSAGE(p.has_grad(), name);
  }
}

TEST_CASE("Sequential holds a recurrent layer: its output feeds the next module") {
  tapegrad::Generator gen(8);
  nn::Sequential<double> net;
  net.add(std::make_shared<nn::GRU<double>>(nn::RNNOptions(3, 4), gen))
      .add([](const V& h) { return tapegrad::tanh(h); })
      .add(std::make_shared<nn::Linear<double>>(4, 2, true, gen));
  CHECK(net.size() == 3);
  std::vector<std::string> names;
  for (const auto& p : net.named_parameters()) names.push_back(p.first);
  CHECK(names.front() == "0.weight_ih_l0");
  CHECK(names.back() == "2.bias");  // as PyTorch: the tanh step takes index 1
  const V x = input({5, 2, 3}, 20);
  CHECK(tapegrad::shape_str(net(x).shape()) == "[5,2,2]");
  check_gradcheck([&](const Vs& in) { return net(in[0]); }, {x}, net.parameters());
}

namespace {

// A user's module as docs/training.md shows one: derived from nn::ModuleBase, a forward, no
// operator() of its own. Highway: y = t * tanh(W_h x) + (1 - t) * x, t = sigmoid(W_t x).
class Highway : public nn::ModuleBase<Highway, double> {
 public:
  Highway(std::size_t dim, tapegrad::Generator& gen)
      : transform_(dim, dim, true, gen), gate_(dim, dim, true, gen) {
    register_module("transform", transform_);
    register_module("gate", gate_);
  }
  V forward(const V& x) const {
    const V t = tapegrad::sigmoid(gate_(x));
    return tapegrad::tanh(transform_(x)) * t + x * (1.0 - t);
  }

 private:
  nn::Linear<double> transform_, gate_;
};

// Two arguments and a non-Var result, a template over the scalar, a forward that is not const.
template <class T>
class Encoder : public nn::ModuleBase<Encoder<T>, T> {
 public:
  explicit Encoder(tapegrad::Generator& gen)
      : embed_(10, 4, 0, gen), rnn_(nn::RNNOptions(4, 3), gen) {
    this->register_module("embed", embed_);
    this->register_module("rnn", rnn_);
  }
  nn::RecurrentOutput<T> forward(const IndexArray& ids, const std::vector<std::size_t>& lengths) {
    ++calls_;
    return rnn_(embed_(ids), lengths);
  }
  int calls() const { return calls_; }

 private:
  nn::Embedding<T> embed_;
  nn::GRU<T> rnn_;
  int calls_ = 0;
};

// A user's module in the form of STYLE.md's sketch: an operator() and no forward.
class Scale : public nn::Module<double> {
 public:
  Scale() : w_(register_parameter("weight", V(Array<double>{1.5, -0.5, 2.0}))) {}
  V operator()(const V& x) const { return x * w_; }

 private:
  V w_;
};

}  // namespace

TEST_CASE("a module of your own is called as model(x), runs in Sequential, and gets gradients") {
  tapegrad::Generator gen(31);
  Highway highway(3, gen);
  const V x = input({2, 3}, 32);
  const V direct = highway.forward(x);
  const V called = highway(x);  // ModuleBase's operator(): forward(x)
  CHECK(called.value() == direct.value());
  const Highway& as_const = highway;
  CHECK(as_const(x).value() == direct.value());
  tapegrad::sum(highway(x)).backward();
  for (const auto& [name, p] : highway.named_parameters()) CHECK_MESSAGE(p.has_grad(), name);
  highway.zero_grad();

  Encoder<double> encoder(gen);
  const IndexArray ids = {{1, 2}, {3, 0}, {4, 0}};
  const nn::RecurrentOutput<double> out = encoder(ids, std::vector<std::size_t>{3, 1});
  CHECK(encoder.calls() == 1);
  CHECK(tapegrad::shape_str(out.h_n.shape()) == "[1,2,3]");

  // Built-in layers, a ModuleBase module and an operator()-only module in one Sequential.
  nn::Sequential<double> net;
  net.add(std::make_shared<nn::Linear<double>>(4, 3, true, gen))
      .add(std::make_shared<Highway>(3, gen))
      .add(std::make_shared<Scale>())
      .add(std::make_shared<nn::LSTM<double>>(nn::RNNOptions(3, 2), gen));
  std::vector<std::string> names;
  for (const auto& p : net.named_parameters()) names.push_back(p.first);
  CHECK(names[2] == "1.transform.weight");
  CHECK(names[6] == "2.weight");
  const V seq = input({5, 2, 4}, 33);
  CHECK(tapegrad::shape_str(net(seq).shape()) == "[5,2,2]");
  tapegrad::sum(net(seq)).backward();
  for (const auto& [name, p] : net.named_parameters()) CHECK_MESSAGE(p.has_grad(), name);
  net.zero_grad();
  check_gradcheck([&](const Vs& in) { return net(in[0]); }, {seq}, net.parameters());
}

TEST_CASE("load_state_dict(state, false) loads what matches and names the missing and unexpected") {
  // A pretrained encoder (embed, rnn) with a language-model head, into a tagger (embed, rnn, head).
  Tagger pretrained, model;
  nn::StateDict<double> encoder;
  for (const auto& [name, value] : pretrained.state_dict()) {
    if (name.compare(0, 5, "head.") != 0) encoder.emplace_back(name, value);
  }
  encoder.emplace_back("lm_head.weight", Array<double>::from_shape({10, 6}));
  encoder.emplace_back("lm_head.bias", Array<double>::from_shape({10}));
  const auto head_before = model.head_.weight().value();

  const nn::LoadResult result = model.load_state_dict(encoder, /*strict=*/false);
  CHECK(result.missing_keys == std::vector<std::string>{"head.weight", "head.bias"});
  CHECK(result.unexpected_keys == std::vector<std::string>{"lm_head.weight", "lm_head.bias"});
  CHECK(model.parameter("embed.weight").value() == pretrained.parameter("embed.weight").value());
  CHECK(model.parameter("rnn.weight_hh_l0_reverse").value() ==
        pretrained.parameter("rnn.weight_hh_l0_reverse").value());
  CHECK(model.head_.weight().value() == head_before);  // left as it was

  // A full, matching state: nothing missing, nothing unexpected, either way.
  const nn::LoadResult all = model.load_state_dict(pretrained.state_dict(), false);
  CHECK(all.missing_keys.empty());
  CHECK(all.unexpected_keys.empty());
  CHECK(model.load_state_dict(pretrained.state_dict()).missing_keys.empty());

  // Strict is the default and refuses as before; a wrong shape is refused either way.
  Tagger fresh;
  const auto before = fresh.state_dict();
  TG_CHECK_CONTAINS(message_of<value_error>([&] { fresh.load_state_dict(encoder); }),
                    "load_state_dict: missing head.weight, head.bias");
  auto wrong = encoder;
  wrong[1].second = Array<double>::from_shape({2, 5});
  const std::string msg = message_of<value_error>([&] { fresh.load_state_dict(wrong, false); });
  TG_CHECK_CONTAINS(msg, "'rnn.weight_ih_l0' has shape [2,5], the model expects [12,4]");
  const auto after = fresh.state_dict();
  for (std::size_t i = 0; i < before.size(); ++i) CHECK(after[i].second == before[i].second);
}

TEST_CASE("layer defaults are PyTorch's") {
  nn::Linear<double> linear(3, 2);  // bias=True
  CHECK(linear.bias().defined());
  CHECK(linear.parameters().size() == 2);
  nn::Embedding<double> embed(5, 2);  // padding_idx=None
  CHECK(embed.padding_idx() == -1);
  nn::Dropout<double> dropout;  // p=0.5
  CHECK(dropout.p() == 0.5);
  const nn::RNNOptions o(3, 4);  // num_layers=1, bias=True, batch_first=False, dropout=0,
  CHECK(o.num_layers() == 1);    // bidirectional=False, nonlinearity='tanh'
  CHECK(o.bias());
  CHECK_FALSE(o.batch_first());
  CHECK(o.dropout() == 0.0);
  CHECK_FALSE(o.bidirectional());
  CHECK(o.nonlinearity() == nn::Nonlinearity::tanh);
  nn::RNN<double> rnn(o);
  CHECK(rnn.parameters().size() == 4);  // one layer, one direction, with biases
  // RNNCell(input, hidden): bias=True, nonlinearity='tanh'.
  tapegrad::manual_seed(41);
  nn::RNNCell<double> by_default(3, 4);
  CHECK(by_default.parameters().size() == 4);
  tapegrad::manual_seed(41);
  nn::RNNCell<double> explicit_tanh(3, 4, true, nn::Nonlinearity::tanh);
  const V x = input({2, 3}, 42, false);
  CHECK(by_default(x).value() == explicit_tanh(x).value());
  // Softmax(dim=-1): PyTorch's dim=None picks an axis by rank (deprecated); ours is the last.
  nn::Softmax<double> softmax;
  const V logits = input({2, 3}, 43, false);
  CHECK(softmax(logits).value() == tapegrad::softmax(logits, -1).value());
}

TEST_CASE("default initialisation is PyTorch's: U(-1/sqrt(H), 1/sqrt(H)) and N(0, 1)") {
  tapegrad::Generator gen(12);
  nn::GRU<double> gru(nn::RNNOptions(7, 16).num_layers(2).bidirectional(true), gen);
  const double bound = 1.0 / std::sqrt(16.0);
  for (const auto& [name, p] : gru.named_parameters()) {
    double lo = 1.0, hi = -1.0, mean = 0.0;
    for (double v : p.value()) {
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      mean += v / static_cast<double>(p.size());
    }
    CAPTURE(name);
    CHECK(lo >= -bound);
    CHECK(hi <= bound);
    CHECK(hi - lo > bound);  // spread over the interval, not a constant
    CHECK(std::abs(mean) < 0.1);
  }
  nn::Embedding<double> embed(200, 50, -1, gen);
  double mean = 0.0, sq = 0.0;
  for (double v : embed.weight().value()) {
    mean += v / 10000.0;
    sq += v * v / 10000.0;
  }
  CHECK(std::abs(mean) < 0.05);
  CHECK(std::abs(sq - 1.0) < 0.05);
}

TEST_CASE("RNNBase is abstract, and make_recurrent picks RNN, LSTM or GRU at run time") {
  // Only RNN, LSTM and GRU construct one (its constructor is protected).
  static_assert(!std::is_constructible_v<nn::RNNBase<float>, nn::CellKind, const nn::RNNOptions&,
                                         tapegrad::Generator&>);
  static_assert(std::is_base_of_v<nn::RNNBase<float>, nn::GRU<float>>);
  const auto options = nn::RNNOptions(3, 4).num_layers(2);
  for (const nn::CellKind kind :
       {nn::CellKind::rnn_tanh, nn::CellKind::rnn_relu, nn::CellKind::lstm, nn::CellKind::gru}) {
    CAPTURE(static_cast<int>(kind));
    const std::shared_ptr<nn::RNNBase<float>> layer = nn::make_recurrent<float>(kind, options);
    CHECK(layer->kind() == kind);
    CHECK(layer->options().num_layers() == 2);
    const bool rnn = kind == nn::CellKind::rnn_tanh || kind == nn::CellKind::rnn_relu;
    CHECK((dynamic_cast<nn::RNN<float>*>(layer.get()) != nullptr) == rnn);
    CHECK((dynamic_cast<nn::LSTM<float>*>(layer.get()) != nullptr) == (kind == nn::CellKind::lstm));
    CHECK((dynamic_cast<nn::GRU<float>*>(layer.get()) != nullptr) == (kind == nn::CellKind::gru));
    CHECK(layer->weights(1, 0).w_hh.shape()[0] == nn::gate_count(kind) * 4);
  }
}

TEST_CASE("a cell kind's name parses back to it, and an unknown name lists the known ones") {
  for (const nn::CellKind kind :
       {nn::CellKind::rnn_tanh, nn::CellKind::rnn_relu, nn::CellKind::lstm, nn::CellKind::gru}) {
    CAPTURE(nn::to_string(kind));
    CHECK(nn::parse_cell_kind(nn::to_string(kind)) == kind);
  }
  CHECK(std::string(nn::to_string(nn::CellKind::rnn_relu)) == "rnn_relu");
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([] { nn::parse_cell_kind("LSTM"); }),
                    "unknown cell kind \"LSTM\" (expected rnn_tanh, rnn_relu, lstm or gru)");
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([] { nn::parse_cell_kind(""); }),
                    "unknown cell kind \"\"");
}

TEST_CASE("anomaly: a NaN born in an LSTM names the layer, the direction and the time step") {
  tapegrad::Generator gen(1);
  nn::LSTM<double> lstm(nn::RNNOptions(3, 4).bidirectional(true), gen);
  const Var<double> x = tapegrad::constant(gen.normal<double>(make_shape({6, 2, 3})));
  // An infinite recurrent weight of the reverse direction: 0 * inf = NaN at its first step.
  Var<double> w = lstm.parameter("weight_hh_l0_reverse");
  w.mutable_value()(5, 2) = std::numeric_limits<double>::infinity();

  // Without anomaly detection the NaN flows through silently.
  const nn::RecurrentOutput<double> quiet = lstm.forward(x);
  CHECK(std::isnan(quiet.output.value()(5, 0, 5)));

  const tapegrad::DetectAnomaly on;
  const std::string message =
      tapegrad_test::message_of<tapegrad::numerical_error>([&] { lstm.forward(x); });
  MESSAGE(message);
  // The reverse direction starts at the last step, t = 5; the state is [2, B, H] (h, c).
  TG_CHECK_CONTAINS(
      message,
      "anomaly: 'fused_lstm_step' in LSTM(3, 4) / layer 0 direction 1 / step 5 computed "
      "NaN at [");
  // Only the weight held a non-finite value before the step.
  TG_CHECK_CONTAINS(message,
                    "inputs: a value of shape [6,2,16]; a value of shape [2,2,4]; "
                    "'weight_hh_l0_reverse' [16,4] (holds inf at [5,2] of shape [16,4])");
}

TEST_CASE("an initial state is passed as PyTorch's: gru(x, h0), lstm(x, {h0, c0})") {
  const V x = input({4, 2, 3}, 1, false);
  const V h0 = input({1, 2, 5}, 2, false);
  const V c0 = input({1, 2, 5}, 3, false);
  nn::GRU<double> gru(nn::RNNOptions(3, 5));
  const auto a = gru(x, h0);
  const auto b = gru(x, nn::RecurrentState<double>{h0, {}});
  TG_CHECK_CLOSE(a.output.value(), b.output.value(), 0.0);
  nn::LSTM<double> lstm(nn::RNNOptions(3, 5));
  const auto c = lstm(x, {h0, c0});
  nn::RecurrentState<double> state;
  state.h = h0;
  state.c = c0;
  TG_CHECK_CLOSE(c.output.value(), lstm(x, state).output.value(), 0.0);
  CHECK(c.h_n.value() != lstm(x).h_n.value());  // the state was used
}
