// gradcheck is public API: its report, its verdict on wrong rules, params, options, and that it
// leaves the Vars as it found them.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <xtensor/xmath.hpp>

#include "helpers.hpp"

namespace {

using tapegrad::Array;
using tapegrad::Context;
using tapegrad::CustomOp;
using tapegrad::gradcheck;
using tapegrad::GradcheckOptions;
using tapegrad::GradcheckReport;
using tapegrad::Grads;
using V = tapegrad::Var<double>;
using Vs = std::vector<V>;

// softplus(x) = log(1 + e^x); its derivative is sigmoid(x). `factor` != 1 makes the rule wrong.
CustomOp<double> softplus_op(double factor) {
  return CustomOp<double>(
      "softplus",
      [](const std::vector<Array<double>>& x) { return Array<double>(xt::log1p(xt::exp(x[0]))); },
      [factor](const Context<double>& c) {
        return Grads<double>{
            Array<double>(factor * c.grad_output() / (1.0 + xt::exp(-c.input(0))))};
      });
}

// y = x^2 with a rule that is wrong (by a factor 3) at flat element `bad` only.
CustomOp<double> square_wrong_at(std::size_t bad) {
  return CustomOp<double>(
      "square_wrong_at",
      [](const std::vector<Array<double>>& x) { return Array<double>(x[0] * x[0]); },
      [bad](const Context<double>& c) {
        Array<double> g = 2.0 * c.grad_output() * c.input(0);
        g.data()[bad] *= 3.0;
        return Grads<double>{std::move(g)};
      });
}

// y = x, with a rule that reverses the gradient's elements: invisible to a plain-sum reduction
// (all ones reversed are all ones), caught by the random weights R.
CustomOp<double> identity_reversed_rule() {
  return CustomOp<double>(
      "identity_reversed_rule", [](const std::vector<Array<double>>& x) { return x[0]; },
      [](const Context<double>& c) {
        Array<double> g = c.grad_output();
        std::reverse(g.begin(), g.end());
        return Grads<double>{std::move(g)};
      });
}

Array<double> sample(std::initializer_list<std::size_t> shape, double lo, double hi,
                     std::uint64_t seed) {
  tapegrad::Generator gen(seed);
  return gen.uniform<double>(tapegrad::make_shape(shape), lo, hi);
}

}  // namespace

TEST_CASE("gradcheck passes a correct custom op and reports small errors") {
  const auto softplus = softplus_op(1.0);
  const V x(sample({2, 3}, -2.0, 2.0, 3), true, "x");
  const GradcheckReport report = gradcheck([&](const Vs& in) { return softplus({in[0]}); }, {x});
  CHECK(report.passed);
  CHECK(static_cast<bool>(report));
  CHECK(report.elements_checked == 6);
  CHECK(report.rel_error < 1e-6);
  CHECK(report.abs_error < 1e-8);
  CHECK(report.index.size() == 2);
  CHECK_FALSE(report.message().empty());
}

TEST_CASE("gradcheck catches a backward rule with a factor 2 error") {
  const auto softplus = softplus_op(2.0);
  const V x(sample({2, 3}, -2.0, 2.0, 3), true, "x");
  const GradcheckReport report = gradcheck([&](const Vs& in) { return softplus({in[0]}); }, {x});
  CHECK_FALSE(report.passed);
  CHECK_FALSE(static_cast<bool>(report));
  CHECK(report.var == 0);
  CHECK(report.var_name == "x");
  REQUIRE(report.index.size() == 2);
  CHECK(report.index[0] < 2);
  CHECK(report.index[1] < 3);
  // Analytic is twice the numeric value everywhere, so the relative error is 1/2.
  CHECK(report.numeric != doctest::Approx(0.0));
  CHECK(report.analytic == doctest::Approx(2.0 * report.numeric).epsilon(1e-5));
  CHECK(report.rel_error == doctest::Approx(0.5).epsilon(1e-5));
  CHECK(report.abs_error == doctest::Approx(std::abs(report.analytic - report.numeric)));
  CHECK_FALSE(report.message().empty());
}

TEST_CASE("gradcheck names the worst element: the one input and index that are wrong") {
  const auto bad_square = square_wrong_at(4);  // flat 4 of [2,3] is (1,1)
  const V a(sample({2, 3}, 0.5, 2.0, 5), true, "a");
  const V w(sample({2, 3}, 0.5, 2.0, 6), true, "w");
  const auto fn = [&](const Vs& in) { return tapegrad::exp(in[0]) * 0.5 + bad_square({in[1]}); };
  const GradcheckReport report = gradcheck(fn, {a, w});
  CHECK_FALSE(report.passed);
  CHECK(report.elements_checked == 12);
  CHECK(report.var == 1);
  CHECK(report.var_name == "w");
  CHECK(report.index == std::vector<std::size_t>{1, 1});
  CHECK(report.analytic == doctest::Approx(3.0 * report.numeric).epsilon(1e-5));
  CHECK(report.rel_error == doctest::Approx(2.0 / 3.0).epsilon(1e-5));
  const std::string message = report.message();
  TG_CHECK_CONTAINS(message, "w");
  TG_CHECK_CONTAINS(message, "1,1");
  CHECK(message != gradcheck([](const Vs& in) { return tapegrad::exp(in[0]); }, {a}).message());
}

TEST_CASE("gradcheck reduces with random weights, which a plain sum would not catch") {
  const auto op = identity_reversed_rule();
  const V x(sample({2, 3}, -1.0, 1.0, 8), true, "x");
  const GradcheckReport report = gradcheck([&](const Vs& in) { return op({in[0]}); }, {x});
  CHECK_FALSE(report.passed);
  CHECK(report.var == 0);
}

TEST_CASE("gradcheck weights are seeded: same seed same report, another seed other weights") {
  const auto bad_square = square_wrong_at(2);
  const V x(sample({3, 2}, 0.5, 2.0, 9), true, "x");
  const auto fn = [&](const Vs& in) { return bad_square({in[0]}); };
  GradcheckOptions o0;
  o0.seed = 0;
  GradcheckOptions o1;
  o1.seed = 1;
  const GradcheckReport r0 = gradcheck(fn, {x}, {}, o0);
  const GradcheckReport r0_again = gradcheck(fn, {x}, {}, o0);
  const GradcheckReport r1 = gradcheck(fn, {x}, {}, o1);
  CHECK_FALSE(r0.passed);
  CHECK_FALSE(r1.passed);
  CHECK(r0.index == std::vector<std::size_t>{1, 0});
  CHECK(r1.index == std::vector<std::size_t>{1, 0});
  CHECK(r0.analytic == r0_again.analytic);
  CHECK(r0.numeric == r0_again.numeric);
  CHECK(r0.analytic != doctest::Approx(r1.analytic));
}

TEST_CASE("gradcheck checks params that fn captures") {
  const V x(sample({2, 3}, -1.0, 1.0, 10), true, "x");
  const V weight(sample({3, 4}, -1.0, 1.0, 11), true, "weight");
  const V frozen(sample({4}, -1.0, 1.0, 12), false, "frozen");

  SUBCASE("a correct use passes and every param element requiring a gradient is checked") {
    const auto fn = [&](const Vs& in) {
      return tapegrad::tanh(tapegrad::matmul(in[0], weight)) + frozen;
    };
    const GradcheckReport report = gradcheck(fn, {x}, {weight, frozen});
    CHECK_MESSAGE(report.passed, report.message());
    CHECK(report.elements_checked == 6 + 12);
  }
  SUBCASE("a wrong rule on a param is found and named") {
    // A "scale by 3" op whose rule scales by 2: only the param is wrong.
    const CustomOp<double> scale3(
        "scale3", [](const std::vector<Array<double>>& v) { return Array<double>(3.0 * v[0]); },
        [](const Context<double>& c) {
          return Grads<double>{Array<double>(2.0 * c.grad_output())};
        });
    const auto fn = [&](const Vs& in) { return tapegrad::matmul(in[0], scale3({weight})); };
    const GradcheckReport report = gradcheck(fn, {x}, {weight});
    CHECK_FALSE(report.passed);
    CHECK(report.var == 1);  // position among inputs, then params
    CHECK(report.var_name == "weight");
    REQUIRE(report.index.size() == 2);
    CHECK(report.index[0] < 3);
    CHECK(report.index[1] < 4);
    CHECK(report.rel_error == doctest::Approx(1.0 / 3.0).epsilon(1e-5));
  }
}

TEST_CASE("gradcheck skips inputs that do not require a gradient") {
  const V x(sample({2, 3}, -1.0, 1.0, 13), true, "x");
  const V data(sample({2, 3}, -1.0, 1.0, 14), false, "data");
  const GradcheckReport report =
      gradcheck([](const Vs& in) { return tapegrad::mul(in[0], in[1]); }, {x, data});
  CHECK(report.passed);
  CHECK(report.elements_checked == 6);
}

TEST_CASE("gradcheck options are honoured") {
  const V x(sample({2, 3}, -1.0, 1.0, 15), true, "x");
  const auto fn = [](const Vs& in) { return tapegrad::exp(in[0]); };
  GradcheckOptions exact;
  exact.atol = 0.0;
  exact.rtol = 0.0;
  // Central differences are not exact: with no tolerance at all even a correct rule fails.
  CHECK_FALSE(gradcheck(fn, {x}, {}, exact).passed);
  // And a huge tolerance lets a wrong rule through.
  GradcheckOptions loose;
  loose.atol = 1e3;
  const auto softplus = softplus_op(2.0);
  CHECK(gradcheck([&](const Vs& in) { return softplus({in[0]}); }, {x}, {}, loose).passed);
  // A large step makes the numeric derivative of exp visibly wrong.
  GradcheckOptions coarse;
  coarse.eps = 0.5;
  const GradcheckReport r = gradcheck(fn, {x}, {}, coarse);
  CHECK_FALSE(r.passed);
  // For exp, (e^(x+h) - e^(x-h)) / 2h = e^x sinh(h) / h exactly: the numeric value is off by
  // that factor, the analytic one is not.
  CHECK(r.numeric == doctest::Approx(r.analytic * std::sinh(0.5) / 0.5).epsilon(1e-9));
}

TEST_CASE("gradcheck restores values, gradients, and leaves the tape empty") {
  const Array<double> x0 = sample({2, 3}, -1.0, 1.0, 16);
  const Array<double> w0 = sample({3}, -1.0, 1.0, 17);
  V x(x0, true, "x");
  V w(w0, true, "w");
  const Array<double> old_grad = xt::ones<double>({2, 3}) * 7.0;
  x.set_grad(old_grad);
  REQUIRE_FALSE(w.has_grad());
  const auto fn = [&](const Vs& in) { return tapegrad::sigmoid(in[0] * w); };
  const GradcheckReport report = gradcheck(fn, {x}, {w});
  CHECK(report.passed);
  REQUIRE(x.has_grad());
  TG_CHECK_CLOSE(x.grad(), old_grad, 0.0);
  CHECK_FALSE(w.has_grad());
  TG_CHECK_CLOSE(x.value(), x0, 1e-15);
  TG_CHECK_CLOSE(w.value(), w0, 1e-15);
  CHECK(tapegrad::tape<double>().empty());
}
