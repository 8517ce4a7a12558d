// Extreme inputs: the softmax family at |x| ~ 1e4, sigmoid/tanh/bce at |x| = 300, log(0).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include <xtensor/xbuilder.hpp>

#include "helpers.hpp"

namespace {

using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::Reduction;
using tapegrad_test::all_finite;

// Logits of magnitude 1e4 (exactly representable in float), and the same logits shifted so
// that each row's maximum is 0.
template <class T>
Array<T> huge_logits() {
  return Array<T>{{T(1e4), T(1e4 - 1), T(-1e4)}, {T(-1e4), T(-1e4 + 2), T(-1e4 + 1)}};
}
template <class T>
Array<T> shifted_logits() {
  return Array<T>{{T(0), T(-1), T(-2e4)}, {T(-2), T(0), T(-1)}};
}

template <class T>
double tol() {
  return std::is_same_v<T, float> ? 1e-5 : 1e-12;
}

}  // namespace

TEST_CASE_TEMPLATE("softmax family is finite and shift-invariant at |logits| = 1e4", T, float,
                   double) {
  const tapegrad::Var<T> big = tapegrad::constant(huge_logits<T>());
  const tapegrad::Var<T> small = tapegrad::constant(shifted_logits<T>());

  const Array<T> p = tapegrad::softmax(big).value();
  CHECK(all_finite(p));
  TG_CHECK_CLOSE(p, tapegrad::softmax(small).value(), tol<T>());
  CHECK(p(0, 2) == T(0));  // e^-20000 underflows to exactly 0

  const Array<T> lp = tapegrad::log_softmax(big).value();
  CHECK(all_finite(lp));
  TG_CHECK_CLOSE(lp, tapegrad::log_softmax(small).value(), tol<T>());
  CHECK(lp(0, 2) == doctest::Approx(-2e4 - std::log1p(std::exp(-1.0))).epsilon(1e-6));

  const Array<T> lse = tapegrad::logsumexp(big, 1).value();
  CHECK(all_finite(lse));
  const Array<T> lse_small = tapegrad::logsumexp(small, 1).value();
  const Array<T> maxima = {T(1e4), T(-1e4 + 2)};
  TG_CHECK_CLOSE(lse, Array<T>(lse_small + maxima), tol<T>());

  const IndexArray targets = {1, 0};
  const T ce = tapegrad::cross_entropy(big, targets).item();
  CHECK(std::isfinite(static_cast<double>(ce)));
  CHECK(static_cast<double>(ce) ==
        doctest::Approx(static_cast<double>(tapegrad::cross_entropy(small, targets).item()))
            .epsilon(tol<T>()));
}

TEST_CASE_TEMPLATE("softmax family gradients are finite at |logits| = 1e4", T, float, double) {
  tapegrad::Var<T> x(huge_logits<T>(), true);
  const IndexArray targets = {2, 0};  // the least likely classes: the largest gradients
  tapegrad::backward(tapegrad::cross_entropy(x, targets));
  CHECK(all_finite(x.grad()));
  // d/dx = (softmax - onehot) / n, with softmax of the shifted logits: row 0's target has
  // probability e^-20000 = 0, row 1's e^-2 / (1 + e^-1 + e^-2).
  CHECK(static_cast<double>(x.grad()(0, 2)) == doctest::Approx(-0.5).epsilon(tol<T>()));
  CHECK(static_cast<double>(x.grad()(1, 0)) ==
        doctest::Approx((0.09003057317038043 - 1.0) / 2.0).epsilon(tol<T>()));
  CHECK(static_cast<double>(x.grad()(0, 0)) ==
        doctest::Approx(0.7310585786300049 / 2.0).epsilon(tol<T>()));

  // d logsumexp / dx = softmax(x), which at this magnitude must come from the shifted logits.
  tapegrad::Var<T> z(huge_logits<T>(), true);
  tapegrad::backward(tapegrad::sum(tapegrad::logsumexp(z, 1)));
  CHECK(all_finite(z.grad()));
  TG_CHECK_CLOSE(z.grad(), tapegrad::softmax(tapegrad::constant(shifted_logits<T>())).value(),
                 tol<T>());

  tapegrad::Var<T> y(huge_logits<T>(), true);
  const Array<T> weights = {{T(1), T(2), T(3)}, {T(-1), T(0.5), T(2)}};
  tapegrad::backward(tapegrad::sum(tapegrad::log_softmax(y) * tapegrad::constant(weights) +
                                   tapegrad::softmax(y) * tapegrad::constant(weights) +
                                   tapegrad::logsumexp(y, 1, true)));
  CHECK(all_finite(y.grad()));
}

TEST_CASE_TEMPLATE("sigmoid and tanh are finite and exact at |x| = 300", T, float, double) {
  tapegrad::Var<T> x(Array<T>{T(-300), T(300)}, true);
  const tapegrad::Var<T> s = tapegrad::sigmoid(x);
  const tapegrad::Var<T> t = tapegrad::tanh(x);
  CHECK(all_finite(s.value()));
  CHECK(all_finite(t.value()));
  CHECK(s.value()(1) == T(1));
  CHECK(static_cast<double>(s.value()(0)) >= 0.0);
  CHECK(static_cast<double>(s.value()(0)) < 1e-100);  // e^-300 ~ 5e-131 (0 in float)
  CHECK(t.value()(0) == T(-1));
  CHECK(t.value()(1) == T(1));
  tapegrad::backward(tapegrad::sum(s + t));
  CHECK(all_finite(x.grad()));
  // sigmoid' = s (1 - s) ~ e^-300 and tanh' = 1 - t^2 = 0 there.
  CHECK(std::abs(static_cast<double>(x.grad()(0))) < 1e-100);
  CHECK(std::abs(static_cast<double>(x.grad()(1))) < 1e-100);
  // The double value is the true one, not just finite.
  if (std::is_same_v<T, double>) {
    CHECK(static_cast<double>(s.value()(0)) == doctest::Approx(std::exp(-300.0)).epsilon(1e-12));
  }
}

TEST_CASE_TEMPLATE("bce_with_logits is finite at |x| = 300", T, float, double) {
  tapegrad::Var<T> x(Array<T>{T(300), T(-300), T(300), T(-300)}, true);
  const tapegrad::Var<T> y = tapegrad::constant(Array<T>{T(0), T(1), T(1), T(0)});
  const tapegrad::Var<T> loss = tapegrad::bce_with_logits(x, y, Reduction::none);
  CHECK(all_finite(loss.value()));
  TG_CHECK_CLOSE(loss.value(), (Array<T>{T(300), T(300), T(0), T(0)}), 1e-6);
  tapegrad::backward(tapegrad::bce_with_logits(x, y, Reduction::sum));
  CHECK(all_finite(x.grad()));
  // d/dx = sigmoid(x) - y
  TG_CHECK_CLOSE(x.grad(), (Array<T>{T(1), T(-1), T(0), T(0)}), 1e-6);
}

TEST_CASE_TEMPLATE("log(0) is -inf without a crash", T, float, double) {
  const tapegrad::Var<T> x = tapegrad::constant(Array<T>{T(0), T(1)});
  const Array<T> y = tapegrad::log(x).value();
  CHECK(std::isinf(static_cast<double>(y(0))));
  CHECK(y(0) < T(0));
  CHECK(y(1) == T(0));
  tapegrad::Var<T> p(Array<T>{T(0), T(2)}, true);
  tapegrad::backward(tapegrad::sum(tapegrad::log(p)));
  CHECK(std::isinf(static_cast<double>(p.grad()(0))));  // 1/0
  CHECK(static_cast<double>(p.grad()(1)) == doctest::Approx(0.5));
}
