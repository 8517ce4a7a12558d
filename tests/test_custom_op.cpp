// The extension API: ops from a forward and a backward lambda (CustomOp, and raw record()).
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "helpers.hpp"

namespace {

using tapegrad::Array;
using tapegrad::Context;
using tapegrad::CustomOp;
using tapegrad::Grad;
using tapegrad::Grads;
using tapegrad::IndexArray;
using V = tapegrad::Var<double>;
using Vs = std::vector<V>;

// softplus(x) = log(1 + e^x); d/dx = sigmoid(x).
const CustomOp<double>& softplus() {
  static const CustomOp<double> op(
      "softplus",
      [](const std::vector<Array<double>>& x) { return Array<double>(xt::log1p(xt::exp(x[0]))); },
      [](const Context<double>& c) {
        return Grads<double>{Array<double>(c.grad_output() / (1.0 + xt::exp(-c.input(0))))};
      });
  return op;
}

// hypot_op(a, b) = sqrt(a^2 + b^2), broadcasting; d/da = a / h, d/db = b / h (from the output).
V hypot_op(const V& a, const V& b) {
  Array<double> h = xt::sqrt(a.value() * a.value() + b.value() * b.value());
  return tapegrad::record<double>("hypot", {a, b}, std::move(h), [](const Context<double>& c) {
    Grads<double> g(2);
    if (c.needs_grad(0)) g[0] = Array<double>(c.grad_output() * c.input(0) / c.output());
    if (c.needs_grad(1)) g[1] = Array<double>(c.grad_output() * c.input(1) / c.output());
    return g;
  });
}

// y = x * m for a saved random mask m (a hand-written dropout with the mask saved on the tape).
V times_saved(const V& x, Array<double> mask) {
  Array<double> y = x.value() * mask;
  return tapegrad::record<double>(
      "times_saved", {x}, std::move(y),
      [](const Context<double>& c) {
        return Grads<double>{Array<double>(c.grad_output() * c.saved(0))};
      },
      {std::move(mask)});
}

// The first `n` columns of a [m, k] value, with a block gradient (no full-size array built).
V first_columns(const V& x, std::size_t n) {
  Array<double> y = xt::view(x.value(), xt::all(), xt::range(0, n));
  return tapegrad::record<double>("first_columns", {x}, std::move(y), [](const Context<double>& c) {
    return Grads<double>{Grad<double>::block(c.grad_output(), 1, 0)};
  });
}

// Row `i` of a [m, k] value, with an index gradient.
V row(const V& x, std::size_t i) {
  Array<double> y = xt::view(x.value(), i, xt::all());
  return tapegrad::record<double>("row", {x}, std::move(y), [i](const Context<double>& c) {
    return Grads<double>{Grad<double>::at(c.grad_output(), 0, i)};
  });
}

Array<double> sample(std::initializer_list<std::size_t> shape, double lo, double hi,
                     std::uint64_t seed) {
  tapegrad::Generator gen(seed);
  return gen.uniform<double>(tapegrad::make_shape(shape), lo, hi);
}

}  // namespace

TEST_CASE("CustomOp: forward value, name, and gradient") {
  tapegrad::tape<double>().clear();
  V x(Array<double>{-1.0, 0.0, 2.0}, true, "x");
  const V y = softplus()({x});
  CHECK(softplus().name() == "softplus");
  TG_CHECK_CLOSE(
      y.value(),
      (Array<double>{std::log1p(std::exp(-1.0)), std::log(2.0), std::log1p(std::exp(2.0))}), 1e-14);
  CHECK(tapegrad::tape<double>().entries().back().op == "softplus");
  tapegrad::backward(tapegrad::sum(y));
  TG_CHECK_CLOSE(x.grad(), (Array<double>{1 / (1 + std::exp(1.0)), 0.5, 1 / (1 + std::exp(-2.0))}),
                 1e-14);
}

TEST_CASE("CustomOp passes gradcheck") {
  const V x(sample({3, 4}, -3.0, 3.0, 21), true, "x");
  const auto report = tapegrad::gradcheck([](const Vs& in) { return softplus()({in[0]}); }, {x});
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(report.elements_checked == 12);
}

TEST_CASE("CustomOp with an empty input is a usage_error naming the op") {
  const std::string msg =
      tapegrad_test::message_of<tapegrad::usage_error>([] { (void)softplus()({V()}); });
  TG_CHECK_CONTAINS(msg, "softplus");
}

TEST_CASE("record: a two-input broadcasting op passes gradcheck") {
  const V a(sample({3, 4}, 0.5, 2.0, 22), true, "a");
  const V b(sample({4}, 0.5, 2.0, 23), true, "b");
  const auto report =
      tapegrad::gradcheck([](const Vs& in) { return hypot_op(in[0], in[1]); }, {a, b});
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(report.elements_checked == 16);
  // A constant input gets no gradient and need not be computed.
  tapegrad::tape<double>().clear();
  V p(Array<double>{3.0}, true);
  const V q = tapegrad::constant(Array<double>{4.0});
  const V h = hypot_op(p, q);
  CHECK(h.item() == doctest::Approx(5.0));
  tapegrad::backward(tapegrad::sum(h));
  CHECK(p.grad()(0) == doctest::Approx(0.6));
  CHECK_FALSE(q.has_grad());
}

TEST_CASE("record: saved arrays, block and index gradients pass gradcheck") {
  const V x(sample({3, 5}, -1.0, 1.0, 24), true, "x");
  tapegrad::Generator gen(3);
  const Array<double> mask = gen.uniform<double>(tapegrad::make_shape({3, 5}), 0.0, 2.0);
  auto report = tapegrad::gradcheck([&](const Vs& in) { return times_saved(in[0], mask); }, {x});
  CHECK_MESSAGE(report.passed, report.message());
  report = tapegrad::gradcheck([](const Vs& in) { return first_columns(in[0], 2); }, {x});
  CHECK_MESSAGE(report.passed, report.message());
  report = tapegrad::gradcheck([](const Vs& in) { return row(in[0], 1) * row(in[0], 2); }, {x});
  CHECK_MESSAGE(report.passed, report.message());
}

TEST_CASE("record: a block gradient that does not fit the input fails naming the op") {
  tapegrad::tape<double>().clear();
  V x(xt::ones<double>({3, 5}), true);
  const V y = tapegrad::record<double>(
      "bad_block", {x}, Array<double>(xt::ones<double>({3, 2})), [](const Context<double>& c) {
        return Grads<double>{Grad<double>::block(c.grad_output(), 1, 4)};  // columns 4..5 of 5
      });
  const std::string msg = tapegrad_test::message_of<tapegrad::shape_error>(
      [&] { tapegrad::backward(tapegrad::sum(y)); });
  TG_CHECK_CONTAINS(msg, "bad_block");
  TG_CHECK_CONTAINS(msg, "[3,5]");
}

TEST_CASE("custom ops inside a bigger expression, with params, pass gradcheck") {
  const V x(sample({4, 3}, -1.0, 1.0, 25), true, "x");
  const V weight(sample({5, 3}, -1.0, 1.0, 26), true, "weight");
  const V bias(sample({5}, -0.5, 0.5, 27), true, "bias");
  const V scale(sample({5}, 0.5, 1.5, 28), true, "scale");
  const auto fn = [&](const Vs& in) {
    const V h = softplus()({tapegrad::linear(in[0], weight, bias)});  // [4,5]
    const V r = hypot_op(h, scale);                                   // broadcast [5]
    return tapegrad::log_softmax(r * tapegrad::tanh(h), -1);
  };
  const auto report = tapegrad::gradcheck(fn, {x}, {weight, bias, scale});
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(report.elements_checked == 12 + 15 + 5 + 5);

  // And a training-style backward through it reaches every parameter.
  tapegrad::tape<double>().clear();
  const IndexArray targets = {0, 4, 2, 1};
  tapegrad::backward(tapegrad::nll_loss(fn({x}), targets));
  for (const V* p : {&weight, &bias, &scale}) {
    REQUIRE(p->has_grad());
    CHECK(tapegrad_test::all_finite(p->grad()));
  }
  CHECK(tapegrad::tape<double>().empty());
}
