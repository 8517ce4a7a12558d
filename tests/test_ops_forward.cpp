// Forward values of the ops against hand-computed values, and every argument error.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

#include "helpers.hpp"

namespace {

using tapegrad::Array;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::LossOptions;
using tapegrad::make_shape;
using tapegrad::Reduction;
using tapegrad::shape_error;
using tapegrad::value_error;
using tapegrad_test::message_of;
using V = tapegrad::Var<double>;

V c(Array<double> a) {
  return tapegrad::constant(std::move(a));
}

// 0, 1, 2, ... in the given shape.
Array<double> iota(std::initializer_list<std::size_t> shape) {
  Array<double> a = Array<double>::from_shape(make_shape(shape));
  double v = 0.0;
  for (auto& x : a) x = v++;
  return a;
}

LossOptions loss_options(Reduction r, Index ignore_index = -100, double smoothing = 0.0) {
  LossOptions o;
  o.reduction = r;
  o.ignore_index = ignore_index;
  o.label_smoothing = smoothing;
  return o;
}

// Checks that `fn` throws E and that the message names every part.
template <class E, class Fn>
void check_error(Fn&& fn, std::initializer_list<const char*> parts) {
  const std::string msg = message_of<E>(std::forward<Fn>(fn));
  for (const char* part : parts) TG_CHECK_CONTAINS(msg, part);
}

}  // namespace

TEST_CASE("elementwise binary ops broadcast as NumPy") {
  const V a = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  const V b = c({10.0, 20.0, 40.0});
  TG_CHECK_CLOSE(tapegrad::add(a, b).value(), (Array<double>{{11, 22, 43}, {14, 25, 46}}), 1e-15);
  TG_CHECK_CLOSE((a - b).value(), (Array<double>{{-9, -18, -37}, {-6, -15, -34}}), 1e-15);
  TG_CHECK_CLOSE((a * b).value(), (Array<double>{{10, 40, 120}, {40, 100, 240}}), 1e-15);
  TG_CHECK_CLOSE((b / a).value(), (Array<double>{{10, 10, 40.0 / 3}, {2.5, 4, 40.0 / 6}}), 1e-15);
  const V col = c(tapegrad_test::column({1.0, 2.0}));
  const V row = c({{1.0, 10.0, 100.0}});
  const V outer = col * row;
  CHECK(outer.shape() == make_shape({2, 3}));
  TG_CHECK_CLOSE(outer.value(), (Array<double>{{1, 10, 100}, {2, 20, 200}}), 1e-15);
  const V s = V::scalar(2.0);
  CHECK((s + a).shape() == make_shape({2, 3}));
  const V three = c(iota({2, 1, 3}));
  CHECK((three + col).shape() == make_shape({2, 2, 3}));
}

TEST_CASE("scalar ops and operator overloads") {
  const V x = c({1.0, 2.0, 4.0});
  TG_CHECK_CLOSE((x + 1.0).value(), (Array<double>{2, 3, 5}), 1e-15);
  TG_CHECK_CLOSE((1.0 + x).value(), (Array<double>{2, 3, 5}), 1e-15);
  TG_CHECK_CLOSE((x - 1.0).value(), (Array<double>{0, 1, 3}), 1e-15);
  TG_CHECK_CLOSE((10.0 - x).value(), (Array<double>{9, 8, 6}), 1e-15);
  TG_CHECK_CLOSE((x * 3.0).value(), (Array<double>{3, 6, 12}), 1e-15);
  TG_CHECK_CLOSE((3 * x).value(), (Array<double>{3, 6, 12}), 1e-15);
  TG_CHECK_CLOSE((x / 2.0).value(), (Array<double>{0.5, 1, 2}), 1e-15);
  TG_CHECK_CLOSE((8.0 / x).value(), (Array<double>{8, 4, 2}), 1e-15);
  TG_CHECK_CLOSE((-x).value(), (Array<double>{-1, -2, -4}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::add_scalar(x, 0.5).value(), (Array<double>{1.5, 2.5, 4.5}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::mul_scalar(x, -2.0).value(), (Array<double>{-2, -4, -8}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::rsub_scalar(x, 1.0).value(), (Array<double>{0, -1, -3}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::rdiv_scalar(x, 4.0).value(), (Array<double>{4, 2, 1}), 1e-15);
  // A double scalar with a float Var stays float.
  const tapegrad::Var<float> xf = tapegrad::constant(Array<float>{1.0f, 2.0f});
  const tapegrad::Var<float> yf = xf * 0.5 + 1;
  TG_CHECK_CLOSE(yf.value(), (Array<float>{1.5f, 2.0f}), 1e-7);
}

TEST_CASE("elementwise unary ops") {
  const V x = c({-1.0, 0.0, 0.5, 2.0});
  TG_CHECK_CLOSE(tapegrad::neg(x).value(), (Array<double>{1, 0, -0.5, -2}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::exp(x).value(),
                 (Array<double>{std::exp(-1.0), 1.0, std::exp(0.5), std::exp(2.0)}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::tanh(x).value(),
                 (Array<double>{-0.7615941559557649, 0.0, 0.46211715726000974, 0.9640275800758169}),
                 1e-14);
  TG_CHECK_CLOSE(tapegrad::sigmoid(x).value(),
                 (Array<double>{0.2689414213699951, 0.5, 0.6224593312018546, 0.8807970779778823}),
                 1e-14);
  TG_CHECK_CLOSE(tapegrad::relu(x).value(), (Array<double>{0, 0, 0.5, 2}), 0.0);
  TG_CHECK_CLOSE(tapegrad::clamp(x, -0.5, 1.0).value(), (Array<double>{-0.5, 0, 0.5, 1}), 0.0);
  TG_CHECK_CLOSE(tapegrad::pow(x, 2.0).value(), (Array<double>{1, 0, 0.25, 4}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::pow(x, 3.0).value(), (Array<double>{-1, 0, 0.125, 8}), 1e-15);
  const V p = c({0.25, 1.0, 4.0});
  TG_CHECK_CLOSE(tapegrad::sqrt(p).value(), (Array<double>{0.5, 1, 2}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::log(p).value(), (Array<double>{std::log(0.25), 0.0, std::log(4.0)}),
                 1e-15);
  TG_CHECK_CLOSE(tapegrad::pow(p, -0.5).value(), (Array<double>{2, 1, 0.5}), 1e-15);
}

TEST_CASE("where picks elementwise and broadcasts") {
  const xt::xarray<bool> cond = {{true, false, true}, {false, true, false}};
  const V a = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  const V b = c({-1.0, -2.0, -3.0});
  TG_CHECK_CLOSE(tapegrad::where(cond, a, b).value(), (Array<double>{{1, -2, 3}, {-1, 5, -3}}),
                 0.0);
  const xt::xarray<bool> row = {false, true, true};
  TG_CHECK_CLOSE(tapegrad::where(row, a, V::scalar(0.0)).value(),
                 (Array<double>{{0, 2, 3}, {0, 5, 6}}), 0.0);
  // The gradient goes to the chosen side only.
  V pa(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, true);
  V pb(Array<double>{1.0, 1.0, 1.0}, true);
  tapegrad::backward(tapegrad::sum(tapegrad::where(cond, pa, pb)));
  TG_CHECK_CLOSE(pa.grad(), (Array<double>{{1, 0, 1}, {0, 1, 0}}), 0.0);
  TG_CHECK_CLOSE(pb.grad(), (Array<double>{1, 1, 1}), 0.0);
}

TEST_CASE("where with an operand of higher rank than the condition") {
  // xtensor 0.24's xt::where with xsimd got this case wrong (found by the fuzz test).
  const xt::xarray<bool> cond = {{true, false, true}, {false, true, false}};
  Array<double> a3 = Array<double>::from_shape({1, 2, 3});
  for (std::size_t i = 0; i < 6; ++i) a3.data()[i] = 10.0 + static_cast<double>(i);
  const V a(a3, true);
  const V b(Array<double>{{0, 1, 2}, {3, 4, 5}}, true);
  const V z = tapegrad::where(cond, a, b);
  Array<double> expected = Array<double>::from_shape({1, 2, 3});
  const double values[] = {10, 1, 12, 3, 14, 5};
  std::copy(std::begin(values), std::end(values), expected.begin());
  TG_CHECK_CLOSE(z.value(), expected, 0.0);
  tapegrad::backward(tapegrad::sum(z));
  Array<double> ga = Array<double>::from_shape({1, 2, 3});
  const double mask[] = {1, 0, 1, 0, 1, 0};
  std::copy(std::begin(mask), std::end(mask), ga.begin());
  TG_CHECK_CLOSE(a.grad(), ga, 0.0);
  TG_CHECK_CLOSE(b.grad(), (Array<double>{{0, 1, 0}, {1, 0, 1}}), 0.0);
}

TEST_CASE("where broadcasts condition, a and b together, each of its own shape") {
  // condition [2,1], a [3], b [] -> [2,3]: the condition broadcasts too, and is of higher rank
  // than both operands.
  xt::xarray<bool> rows = xt::xarray<bool>::from_shape({2, 1});
  rows(0, 0) = true;
  rows(1, 0) = false;
  V a(Array<double>{1.0, 2.0, 3.0}, true);
  V b = V::scalar(-1.0);
  b.set_requires_grad(true);
  const V z = tapegrad::where(rows, a, b);
  CHECK(z.shape() == make_shape({2, 3}));
  TG_CHECK_CLOSE(z.value(), (Array<double>{{1, 2, 3}, {-1, -1, -1}}), 0.0);
  tapegrad::backward(tapegrad::sum(z));
  TG_CHECK_CLOSE(a.grad(), (Array<double>{1, 1, 1}), 0.0);  // summed over the broadcast axis
  CHECK(b.grad().shape() == make_shape({}));
  CHECK(b.grad()() == 3.0);
  // condition [3], a [2,1], b [1,3] -> [2,3]: every operand broadcast along some axis.
  const xt::xarray<bool> cols = {true, false, true};
  Array<double> column = {10.0, 20.0};
  column.reshape({2, 1});
  const V z2 = tapegrad::where(cols, c(column), c(iota({1, 3})));  // iota: {{0, 1, 2}}
  TG_CHECK_CLOSE(z2.value(), (Array<double>{{10, 1, 10}, {20, 1, 20}}), 0.0);
  // A condition that does not broadcast is a shape_error naming the shapes.
  const xt::xarray<bool> two = {true, false};
  check_error<shape_error>([&] { (void)tapegrad::where(two, a, b); }, {"where", "[2]", "[3]"});
}

TEST_CASE("every axis parameter may be negative, counting from the end") {
  const V x = c(iota({2, 3, 4}));
  const auto same = [](const V& p, const V& q) {
    CHECK(p.shape() == q.shape());
    TG_CHECK_CLOSE(p.value(), q.value(), 0.0);
  };
  for (int k = 1; k <= 3; ++k) {
    CAPTURE(k);
    const int neg = -k, pos = 3 - k;
    same(tapegrad::sum(x, neg), tapegrad::sum(x, pos));
    same(tapegrad::sum(x, neg, true), tapegrad::sum(x, pos, true));
    same(tapegrad::mean(x, neg, true), tapegrad::mean(x, pos, true));
    same(tapegrad::max(x, neg), tapegrad::max(x, pos));
    same(tapegrad::logsumexp(x, neg), tapegrad::logsumexp(x, pos));
    same(tapegrad::softmax(x, neg), tapegrad::softmax(x, pos));
    same(tapegrad::log_softmax(x, neg), tapegrad::log_softmax(x, pos));
    same(tapegrad::narrow(x, neg, 1, 1), tapegrad::narrow(x, pos, 1, 1));
    same(tapegrad::select(x, neg, 1), tapegrad::select(x, pos, 1));
    same(tapegrad::chunk(x, 1, neg)[0], tapegrad::chunk(x, 1, pos)[0]);
    same(tapegrad::concat({x, x}, neg), tapegrad::concat({x, x}, pos));
    same(tapegrad::transpose(x, neg, 0), tapegrad::transpose(x, pos, 0));
    same(tapegrad::transpose(x, 0, neg), tapegrad::transpose(x, 0, pos));
    CHECK(x.size(neg) == x.size(pos));
  }
  same(tapegrad::chunk(x, 2, -1)[1], tapegrad::chunk(x, 2, 2)[1]);
  same(tapegrad::softmax(x), tapegrad::softmax(x, 2));  // the default is -1
  same(tapegrad::log_softmax(x), tapegrad::log_softmax(x, 2));
  // stack: an axis of the output, one more than the inputs have: [-4, 3] for [2,3,4] inputs.
  for (int k = 1; k <= 4; ++k) {
    CAPTURE(k);
    same(tapegrad::stack({x, x}, -k), tapegrad::stack({x, x}, 4 - k));
  }
  CHECK(tapegrad::stack({x, x}, -1).shape() == make_shape({2, 3, 4, 2}));
  check_error<shape_error>([&] { (void)tapegrad::stack({x, x}, -5); }, {"stack", "-5"});
  check_error<shape_error>([&] { (void)tapegrad::concat({x, x}, -4); }, {"concat", "-4"});
  check_error<shape_error>([&] { (void)tapegrad::transpose(x, 0, -4); }, {"transpose", "-4"});
  check_error<shape_error>([&] { (void)tapegrad::max(x, -4); }, {"max", "-4", "[2,3,4]"});
  check_error<shape_error>([&] { (void)tapegrad::chunk(x, 1, -4); }, {"chunk", "-4"});
  check_error<shape_error>([&] { (void)tapegrad::narrow(x, -4, 0, 1); }, {"narrow", "-4"});
  check_error<shape_error>([&] { (void)tapegrad::logsumexp(x, -4); }, {"logsumexp", "-4"});
  check_error<shape_error>([&] { (void)tapegrad::softmax(x, -4); }, {"softmax", "-4"});
  check_error<shape_error>([&] { (void)x.size(-4); }, {"size", "-4"});
  // Gradients through a negative axis land where the positive axis puts them.
  V p(iota({2, 3}), true), q(iota({2, 3}), true);
  tapegrad::backward(tapegrad::sum(tapegrad::narrow(p, -1, 1, 2) * 2.0));
  tapegrad::backward(tapegrad::sum(tapegrad::narrow(q, 1, 1, 2) * 2.0));
  TG_CHECK_CLOSE(p.grad(), q.grad(), 0.0);
}

TEST_CASE("matmul in all five shape cases") {
  const V a = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});    // [2,3]
  const V b = c({{1.0, 0.0}, {0.0, 1.0}, {1.0, 1.0}});  // [3,2]
  TG_CHECK_CLOSE(tapegrad::matmul(a, b).value(), (Array<double>{{4, 5}, {10, 11}}), 1e-15);

  // [b,m,k] x [b,k,n]: batch 0 is a x b, batch 1 is 2a x b.
  Array<double> a3 = Array<double>::from_shape({2, 2, 3});
  xt::view(a3, 0) = a.value();
  xt::view(a3, 1) = 2.0 * a.value();
  Array<double> b3 = Array<double>::from_shape({2, 3, 2});
  xt::view(b3, 0) = b.value();
  xt::view(b3, 1) = b.value();
  const Array<double> expected3 = {{{4, 5}, {10, 11}}, {{8, 10}, {20, 22}}};
  TG_CHECK_CLOSE(tapegrad::matmul(c(a3), c(b3)).value(), expected3, 1e-15);
  // [b,m,k] x [k,n]
  TG_CHECK_CLOSE(tapegrad::matmul(c(a3), b).value(), expected3, 1e-15);
  // [k] x [k,n]
  TG_CHECK_CLOSE(tapegrad::matmul(c({1.0, 2.0, 3.0}), b).value(), (Array<double>{4, 5}), 1e-15);
  // [m,k] x [k]
  TG_CHECK_CLOSE(tapegrad::matmul(a, c({1.0, 0.0, -1.0})).value(), (Array<double>{-2, -2}), 1e-15);
  // float goes through the same paths
  const tapegrad::Var<float> af = tapegrad::constant(Array<float>{{1, 2, 3}, {4, 5, 6}});
  const tapegrad::Var<float> bf = tapegrad::constant(Array<float>{{1, 0}, {0, 1}, {1, 1}});
  TG_CHECK_CLOSE(tapegrad::matmul(af, bf).value(), (Array<float>{{4, 5}, {10, 11}}), 1e-7);
}

TEST_CASE("transpose, both overloads") {
  const V a = c({{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}});
  TG_CHECK_CLOSE(tapegrad::transpose(a).value(), (Array<double>{{1, 4}, {2, 5}, {3, 6}}), 0.0);
  TG_CHECK_CLOSE(tapegrad::transpose(a, 0, 1).value(), (Array<double>{{1, 4}, {2, 5}, {3, 6}}),
                 0.0);
  const Array<double> x = iota({2, 3, 4});
  const V t = tapegrad::transpose(c(x), 0, 2);
  REQUIRE(t.shape() == make_shape({4, 3, 2}));
  bool same = true;
  for (std::size_t i = 0; i < 2; ++i) {
    for (std::size_t j = 0; j < 3; ++j) {
      for (std::size_t k = 0; k < 4; ++k) same = same && t.value()(k, j, i) == x(i, j, k);
    }
  }
  CHECK(same);
  CHECK(tapegrad::transpose(c(x), -1, 1).shape() == make_shape({2, 4, 3}));
}

TEST_CASE("linear is x W^T + b") {
  const V x = c({{1.0, 2.0, 3.0}, {0.0, -1.0, 1.0}});                                   // [2,3]
  const V w = c({{1.0, 0.0, 0.0}, {0.0, 1.0, 1.0}, {1.0, 1.0, 1.0}, {0.0, 0.0, 2.0}});  // [4,3]
  const V b = c({0.5, 0.0, -1.0, 1.0});
  const Array<double> no_bias = {{1, 5, 6, 6}, {0, 0, 0, 2}};
  TG_CHECK_CLOSE(tapegrad::linear(x, w).value(), no_bias, 1e-15);
  TG_CHECK_CLOSE(tapegrad::linear(x, w, b).value(),
                 (Array<double>{{1.5, 5, 5, 7}, {0.5, 0, -1, 3}}), 1e-15);
  Array<double> x3 = Array<double>::from_shape({2, 2, 3});
  xt::view(x3, 0) = x.value();
  xt::view(x3, 1) = x.value();
  const V y3 = tapegrad::linear(c(x3), w, b);
  REQUIRE(y3.shape() == make_shape({2, 2, 4}));
  TG_CHECK_CLOSE(Array<double>(xt::view(y3.value(), 1)),
                 (Array<double>{{1.5, 5, 5, 7}, {0.5, 0, -1, 3}}), 1e-15);
}

TEST_CASE("reshape, narrow, select") {
  const V x = c(iota({2, 6}));
  const V r = tapegrad::reshape(x, make_shape({3, 4}));
  CHECK(r.shape() == make_shape({3, 4}));
  TG_CHECK_CLOSE(r.value(), iota({3, 4}), 0.0);
  TG_CHECK_CLOSE(tapegrad::narrow(x, 1, 1, 2).value(), (Array<double>{{1, 2}, {7, 8}}), 0.0);
  TG_CHECK_CLOSE(tapegrad::narrow(x, -1, 4, 2).value(), (Array<double>{{4, 5}, {10, 11}}), 0.0);
  TG_CHECK_CLOSE(tapegrad::narrow(x, 0, 1, 1).value(), (Array<double>{{6, 7, 8, 9, 10, 11}}), 0.0);
  TG_CHECK_CLOSE(tapegrad::select(x, 0, 1).value(), (Array<double>{6, 7, 8, 9, 10, 11}), 0.0);
  TG_CHECK_CLOSE(tapegrad::select(x, -1, 2).value(), (Array<double>{2, 8}), 0.0);
  const V x3 = c(iota({2, 3, 4}));
  const V s3 = tapegrad::select(x3, 1, 2);
  CHECK(s3.shape() == make_shape({2, 4}));
  TG_CHECK_CLOSE(s3.value(), (Array<double>{{8, 9, 10, 11}, {20, 21, 22, 23}}), 0.0);
}

TEST_CASE("chunk, concat, stack") {
  const V x = c(iota({2, 6}));
  const auto parts = tapegrad::chunk(x, 3, 1);
  REQUIRE(parts.size() == 3);
  TG_CHECK_CLOSE(parts[0].value(), (Array<double>{{0, 1}, {6, 7}}), 0.0);
  TG_CHECK_CLOSE(parts[1].value(), (Array<double>{{2, 3}, {8, 9}}), 0.0);
  TG_CHECK_CLOSE(parts[2].value(), (Array<double>{{4, 5}, {10, 11}}), 0.0);
  const auto rows = tapegrad::chunk(x, 2, -2);
  REQUIRE(rows.size() == 2);
  TG_CHECK_CLOSE(rows[1].value(), (Array<double>{{6, 7, 8, 9, 10, 11}}), 0.0);

  TG_CHECK_CLOSE(tapegrad::concat(std::vector<V>{parts[2], parts[0]}, 1).value(),
                 (Array<double>{{4, 5, 0, 1}, {10, 11, 6, 7}}), 0.0);
  TG_CHECK_CLOSE(tapegrad::concat(std::vector<V>{parts[0], x}, -1).value(),
                 (Array<double>{{0, 1, 0, 1, 2, 3, 4, 5}, {6, 7, 6, 7, 8, 9, 10, 11}}), 0.0);
  const V top = c({{1.0, 2.0}});
  TG_CHECK_CLOSE(tapegrad::concat(std::vector<V>{top, parts[1]}, 0).value(),
                 (Array<double>{{1, 2}, {2, 3}, {8, 9}}), 0.0);

  const V a = c({1.0, 2.0, 3.0});
  const V b = c({4.0, 5.0, 6.0});
  TG_CHECK_CLOSE(tapegrad::stack(std::vector<V>{a, b}, 0).value(),
                 (Array<double>{{1, 2, 3}, {4, 5, 6}}), 0.0);
  TG_CHECK_CLOSE(tapegrad::stack(std::vector<V>{a, b}, 1).value(),
                 (Array<double>{{1, 4}, {2, 5}, {3, 6}}), 0.0);
  const V s = tapegrad::stack(std::vector<V>{parts[0], parts[1], parts[2]}, 1);
  CHECK(s.shape() == make_shape({2, 3, 2}));
  TG_CHECK_CLOSE(s.value(), (Array<double>{{{0, 1}, {2, 3}, {4, 5}}, {{6, 7}, {8, 9}, {10, 11}}}),
                 0.0);
  CHECK(tapegrad::stack(std::vector<V>{parts[0], parts[1]}, 2).shape() == make_shape({2, 2, 2}));
}

TEST_CASE("index_rows gathers rows and scatter-adds gradients") {
  const Array<double> table = {{0.0, 1.0}, {10.0, 11.0}, {20.0, 21.0}, {30.0, 31.0}};
  const IndexArray ids = {{2, 0}, {1, 2}};
  const V y = tapegrad::index_rows(c(table), ids);
  CHECK(y.shape() == make_shape({2, 2, 2}));
  TG_CHECK_CLOSE(y.value(), (Array<double>{{{20, 21}, {0, 1}}, {{10, 11}, {20, 21}}}), 0.0);

  V t(table, true);
  tapegrad::backward(tapegrad::sum(tapegrad::index_rows(t, IndexArray{1, 2, 1, 3})));
  TG_CHECK_CLOSE(t.grad(), (Array<double>{{0, 0}, {2, 2}, {1, 1}, {1, 1}}), 0.0);
}

TEST_CASE("index_rows with padding_idx gives the padding row no gradient") {
  V t(Array<double>{{0.0, 1.0}, {10.0, 11.0}, {20.0, 21.0}, {30.0, 31.0}}, true);
  const V y = tapegrad::index_rows(t, IndexArray{1, 2, 1, 3}, 2);
  // The forward value of a padding id is still the table row (PyTorch's behaviour).
  TG_CHECK_CLOSE(y.value(), (Array<double>{{10, 11}, {20, 21}, {10, 11}, {30, 31}}), 0.0);
  tapegrad::backward(tapegrad::sum(y * 3.0));
  TG_CHECK_CLOSE(t.grad(), (Array<double>{{0, 0}, {6, 6}, {0, 0}, {3, 3}}), 0.0);
}

TEST_CASE("masked_fill fills where the mask is true, broadcast, and passes gradient elsewhere") {
  V x(Array<double>{{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, {{7.0, 8.0, 9.0}, {1.0, 2.0, 3.0}}}, true);
  const xt::xarray<bool> pad = {{{false, false, true}}, {{false, true, true}}};  // [2,1,3]
  const V y = tapegrad::masked_fill(x, pad, -1e9);
  TG_CHECK_CLOSE(y.value(),
                 (Array<double>{{{1, 2, -1e9}, {4, 5, -1e9}}, {{7, -1e9, -1e9}, {1, -1e9, -1e9}}}),
                 0.0);
  tapegrad::backward(tapegrad::sum(y * 2.0));
  TG_CHECK_CLOSE(x.grad(), (Array<double>{{{2, 2, 0}, {2, 2, 0}}, {{2, 0, 0}, {2, 0, 0}}}), 0.0);
  const std::string message = message_of<shape_error>([&] {
    (void)tapegrad::masked_fill(c(iota({2, 3})), pad, 0.0);
  });
  CHECK(message == "masked_fill: the mask [2,1,3] does not broadcast to the input's shape [2,3]");
}

TEST_CASE("masked_softmax: masked elements get 0, a fully masked row is 0 without NaN") {
  V x(Array<double>{{1.0, 2.0, 3.0}, {5.0, -1.0, 2.0}, {0.5, 0.5, 0.5}}, true);
  const xt::xarray<bool> m = {{false, false, true}, {false, true, false}, {true, true, true}};
  const V p = tapegrad::masked_softmax(x, m);
  const double e = std::exp(1.0), e3 = std::exp(3.0);
  TG_CHECK_CLOSE(
      p.value(),
      (Array<double>{{1 / (1 + e), e / (1 + e), 0}, {e3 / (e3 + 1), 0, 1 / (e3 + 1)}, {0, 0, 0}}),
      1e-15);
  const V lp = tapegrad::masked_log_softmax(x, m);
  const double inf = std::numeric_limits<double>::infinity();
  CHECK(lp.value()(0, 2) == -inf);
  CHECK(lp.value()(2, 0) == -inf);
  CHECK(lp.value()(0, 1) == doctest::Approx(std::log(e / (1 + e))).epsilon(1e-14));
  // the same as softmax over the kept elements alone
  TG_CHECK_CLOSE(Array<double>(xt::view(p.value(), 0, xt::range(0, 2))),
                 tapegrad::softmax(c({1.0, 2.0})).value(), 1e-15);
  // gradients: none to masked elements, none at all in the fully masked row, no NaN anywhere
  tapegrad::backward(tapegrad::sum(p * c({{1.0, 3.0, 5.0}, {2.0, 4.0, 6.0}, {1.0, 1.0, 1.0}})));
  CHECK(x.grad()(0, 2) == 0.0);
  CHECK(x.grad()(1, 1) == 0.0);
  CHECK(xt::view(x.grad(), 2, xt::all()) == Array<double>{0.0, 0.0, 0.0});
  CHECK(xt::all(xt::isfinite(x.grad())));
  x.zero_grad();
  const V lp2 = tapegrad::masked_log_softmax(x, m);  // backward freed the first one's tape
  tapegrad::backward(tapegrad::sum(tapegrad::masked_fill(lp2, m, 0.0)));
  CHECK(xt::all(xt::isfinite(x.grad())));
  CHECK(xt::view(x.grad(), 2, xt::all()) == Array<double>{0.0, 0.0, 0.0});
  // PyTorch: log_softmax's gradient of sum over the kept elements is 1 - n_kept * p
  CHECK(x.grad()(0, 0) == doctest::Approx(1.0 - 2.0 / (1 + e)).epsilon(1e-14));
}

TEST_CASE("bmm multiplies batch by batch, as matmul does for 3-D operands") {
  const V a = c(iota({2, 2, 3}));
  const V b = c(iota({2, 3, 2}));
  const V y = tapegrad::bmm(a, b);
  CHECK(y.shape() == make_shape({2, 2, 2}));
  TG_CHECK_CLOSE(y.value(), (Array<double>{{{10, 13}, {28, 40}}, {{172, 193}, {244, 274}}}), 0.0);
  TG_CHECK_CLOSE(y.value(), tapegrad::matmul(a, b).value(), 0.0);
  CHECK(message_of<shape_error>([&] {
          (void)tapegrad::bmm(a, c(iota({3, 2})));
        }) == "bmm: expected [b,m,k] x [b,k,n], got [2,2,3] x [3,2]");
}

TEST_CASE("gather picks along an axis as PyTorch's gather and scatter-adds its gradient") {
  V x(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, true);
  const V g1 = tapegrad::gather(x, 1, IndexArray{{2, 0, 2, 2}, {1, 1, 0, 2}});
  TG_CHECK_CLOSE(g1.value(), (Array<double>{{3, 1, 3, 3}, {5, 5, 4, 6}}), 0.0);
  const V g0 = tapegrad::gather(x, 0, IndexArray{{1, 0}});  // [1,2]: fewer columns than x
  TG_CHECK_CLOSE(g0.value(), (Array<double>{{4, 2}}), 0.0);
  tapegrad::backward(tapegrad::sum(g1));
  TG_CHECK_CLOSE(x.grad(), (Array<double>{{1, 0, 3}, {1, 2, 1}}), 0.0);
  CHECK(
      message_of<value_error>([&] {
        (void)tapegrad::gather(x, -1, IndexArray{{0, 3}});
      }) ==
      "gather: index 3 (at flat position 1 of index [1,2]) is out of range for axis -1 of size 3");
  CHECK(message_of<shape_error>([&] {
          (void)tapegrad::gather(x, 1, IndexArray{0, 1});
        }) ==
        "gather: index [2] must have the rank of the input [2,3] and no larger size on any axis "
        "but axis 1");
}

TEST_CASE("argmax and topk: first of equal values, NaN the largest, values differentiable") {
  const double nan = std::nan("");
  const V x = c({{1.0, 7.0, 7.0, 2.0}, {nan, 3.0, nan, 9.0}, {-1.0, -1.0, -1.0, -2.0}});
  CHECK(tapegrad::argmax(x, 1) == IndexArray{1, 0, 0});
  IndexArray column_of_max = {1, 0, 0};
  column_of_max.reshape({3, 1});
  CHECK(tapegrad::argmax(x, -1, true) == column_of_max);
  CHECK(tapegrad::argmax(x, 0) == IndexArray{1, 0, 1, 1});

  const tapegrad::TopK<double> top = tapegrad::topk(x, 2);
  CHECK(top.indices == IndexArray{{1, 2}, {0, 2}, {0, 1}});
  CHECK(top.values.value()(0, 0) == 7.0);
  CHECK(std::isnan(top.values.value()(1, 1)));
  const tapegrad::TopK<double> low = tapegrad::topk(x, 3, -1, false);
  CHECK(low.indices == IndexArray{{0, 3, 1}, {1, 3, 0}, {3, 0, 1}});
  CHECK(tapegrad::topk(x, 0).indices.shape() == std::vector<std::size_t>{3, 0});
  CHECK(tapegrad::topk(x, 2, 0).indices == IndexArray{{1, 0, 1, 1}, {0, 1, 0, 0}});

  V w(Array<double>{{0.5, -1.0, 3.0}, {2.0, 2.5, 0.0}}, true);
  tapegrad::backward(tapegrad::sum(tapegrad::topk(w, 2).values * 3.0));
  TG_CHECK_CLOSE(w.grad(), (Array<double>{{3, 0, 3}, {3, 3, 0}}), 0.0);
  const auto report = tapegrad::gradcheck(
      [](const std::vector<V>& in) { return tapegrad::topk(in[0], 2, 0).values; },
      {V(Array<double>{{0.1, 0.9, -0.4}, {0.7, -0.2, 0.3}, {-0.5, 0.4, 0.8}}, true)});
  CHECK(report.passed);

  CHECK(message_of<value_error>([&] { (void)tapegrad::topk(x, 5); }) ==
        "topk: k = 5 is larger than axis -1 of [3,4] (size 4)");
  CHECK(message_of<shape_error>([&] {
          (void)tapegrad::argmax(c(iota({2, 0})), 1);
        }) == "argmax: axis 1 of [2,0] is empty");
}

TEST_CASE("sum, mean, max, logsumexp values and shapes") {
  const V x = c({{1.0, 5.0, 3.0}, {4.0, 2.0, 6.0}});
  CHECK(tapegrad::sum(x).shape().empty());
  CHECK(tapegrad::sum(x).item() == 21.0);
  CHECK(tapegrad::mean(x).item() == 3.5);
  CHECK(tapegrad::max(x).item() == 6.0);
  TG_CHECK_CLOSE(tapegrad::sum(x, 0).value(), (Array<double>{5, 7, 9}), 0.0);
  TG_CHECK_CLOSE(tapegrad::sum(x, -1).value(), (Array<double>{9, 12}), 0.0);
  TG_CHECK_CLOSE(tapegrad::sum(x, 1, true).value(), tapegrad_test::column({9, 12}), 0.0);
  TG_CHECK_CLOSE(tapegrad::mean(x, 0).value(), (Array<double>{2.5, 3.5, 4.5}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::mean(x, -1, true).value(), tapegrad_test::column({3, 4}), 1e-15);
  TG_CHECK_CLOSE(tapegrad::max(x, 0).value(), (Array<double>{4, 5, 6}), 0.0);
  TG_CHECK_CLOSE(tapegrad::max(x, 1, true).value(), tapegrad_test::column({5, 6}), 0.0);
  const double lse = 3.40760596444438;  // log(e + e^2 + e^3)
  const V l = c({{1.0, 2.0, 3.0}, {3.0, 1.0, 2.0}});
  TG_CHECK_CLOSE(tapegrad::logsumexp(l, 1).value(), (Array<double>{lse, lse}), 1e-14);
  TG_CHECK_CLOSE(tapegrad::logsumexp(l, -1, true).value(), tapegrad_test::column({lse, lse}),
                 1e-14);
  CHECK(tapegrad::logsumexp(c(iota({2, 3, 4})), -2).shape() == make_shape({2, 4}));
  CHECK(tapegrad::sum(c(iota({2, 3, 4})), 1, true).shape() == make_shape({2, 1, 4}));
}

TEST_CASE("max gradients: ties share evenly over all elements, first maximum along an axis") {
  V x(Array<double>{{1.0, 3.0, 3.0}, {2.0, 2.0, 0.0}}, true);
  tapegrad::backward(tapegrad::max(x));
  TG_CHECK_CLOSE(x.grad(), (Array<double>{{0, 0.5, 0.5}, {0, 0, 0}}), 1e-15);
  x.zero_grad();
  tapegrad::backward(tapegrad::sum(tapegrad::max(x, 1)));
  TG_CHECK_CLOSE(x.grad(), (Array<double>{{0, 1, 0}, {1, 0, 0}}), 0.0);
}

TEST_CASE("softmax and log_softmax values") {
  const V x = c({{1.0, 2.0, 3.0}, {1.0, 1.0, 1.0}});
  const Array<double> p = {{0.09003057317038043, 0.24472847105479764, 0.6652409557748218},
                           {1.0 / 3, 1.0 / 3, 1.0 / 3}};
  TG_CHECK_CLOSE(tapegrad::softmax(x).value(), p, 1e-14);
  TG_CHECK_CLOSE(tapegrad::log_softmax(x).value(), Array<double>(xt::log(p)), 1e-14);
  TG_CHECK_CLOSE(tapegrad::softmax(x, 0).value(),
                 (Array<double>{{0.5, 0.7310585786300049, 0.8807970779778823},
                                {0.5, 0.2689414213699951, 0.11920292202211755}}),
                 1e-14);
  TG_CHECK_CLOSE(tapegrad::softmax(c({0.0, 0.0})).value(), (Array<double>{0.5, 0.5}), 1e-15);
}

TEST_CASE("cross_entropy and nll_loss values") {
  const V x = c({{1.0, 2.0, 3.0}, {1.0, 1.0, 1.0}});
  const IndexArray t = {2, 0};
  const double l0 = 0.4076059644443804, l1 = 1.0986122886681098;
  CHECK(tapegrad::cross_entropy(x, t).item() == doctest::Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(tapegrad::cross_entropy(x, t, loss_options(Reduction::sum)).item() ==
        doctest::Approx(l0 + l1).epsilon(1e-14));
  TG_CHECK_CLOSE(tapegrad::cross_entropy(x, t, loss_options(Reduction::none)).value(),
                 (Array<double>{l0, l1}), 1e-14);
  // Ignored targets add nothing and are not counted by the mean.
  CHECK(tapegrad::cross_entropy(x, IndexArray{2, -100}).item() == doctest::Approx(l0));
  CHECK(tapegrad::cross_entropy(x, IndexArray{1, 0}, loss_options(Reduction::mean, 1)).item() ==
        doctest::Approx(l1));
  TG_CHECK_CLOSE(
      tapegrad::cross_entropy(x, IndexArray{2, -100}, loss_options(Reduction::none)).value(),
      (Array<double>{l0, 0.0}), 1e-14);
  // Label smoothing eps: (1 - eps) nll + eps mean_c(-log p_c), as PyTorch.
  CHECK(tapegrad::cross_entropy(x, t, loss_options(Reduction::mean, -100, 0.1)).item() ==
        doctest::Approx(0.8031091265562451).epsilon(1e-14));
  // 1-D logits with a 0-d target.
  IndexArray t0 = IndexArray::from_shape({});
  t0() = 2;
  CHECK(tapegrad::cross_entropy(c({1.0, 2.0, 3.0}), t0).item() == doctest::Approx(l0));

  const V logp = c({{-0.5, -1.0, -2.0}, {-3.0, -0.25, -1.5}});
  CHECK(tapegrad::nll_loss(logp, IndexArray{1, 2}).item() == doctest::Approx(1.25));
  CHECK(tapegrad::nll_loss(logp, IndexArray{1, 2}, loss_options(Reduction::sum)).item() ==
        doctest::Approx(2.5));
  TG_CHECK_CLOSE(
      tapegrad::nll_loss(logp, IndexArray{0, -100}, loss_options(Reduction::none)).value(),
      (Array<double>{0.5, 0.0}), 1e-15);
  CHECK(tapegrad::nll_loss(tapegrad::log_softmax(x), t).item() ==
        doctest::Approx(tapegrad::cross_entropy(x, t).item()).epsilon(1e-14));
}

TEST_CASE("mse_loss and bce_with_logits values") {
  const V a = c({1.0, 2.0, 3.0});
  const V b = c({1.0, 0.0, 0.0});
  CHECK(tapegrad::mse_loss(a, b).item() == doctest::Approx(13.0 / 3.0));
  CHECK(tapegrad::mse_loss(a, b, Reduction::sum).item() == doctest::Approx(13.0));
  TG_CHECK_CLOSE(tapegrad::mse_loss(a, b, Reduction::none).value(), (Array<double>{0, 4, 9}),
                 1e-15);
  const V logits = c({0.0, 2.0});
  const V targets = c({1.0, 0.0});
  const double l0 = 0.6931471805599453, l1 = 2.1269280110429727;
  CHECK(tapegrad::bce_with_logits(logits, targets).item() ==
        doctest::Approx((l0 + l1) / 2).epsilon(1e-14));
  CHECK(tapegrad::bce_with_logits(logits, targets, Reduction::sum).item() ==
        doctest::Approx(l0 + l1).epsilon(1e-14));
  TG_CHECK_CLOSE(tapegrad::bce_with_logits(logits, targets, Reduction::none).value(),
                 (Array<double>{l0, l1}), 1e-14);
}

TEST_CASE("dropout: inverted scaling, seeded masks, identity in eval and at p = 0") {
  const V x = c(Array<double>(xt::ones<double>({100, 100})));
  tapegrad::Generator g1(123);
  const Array<double> y = tapegrad::dropout(x, 0.3, true, g1).value();
  std::size_t zeros = 0;
  bool only_two_values = true;
  for (double v : y) {
    if (v == 0.0) {
      ++zeros;
    } else if (std::abs(v - 1.0 / 0.7) > 1e-12) {
      only_two_values = false;
    }
  }
  CHECK(only_two_values);
  CHECK(zeros > 2700);
  CHECK(zeros < 3300);
  tapegrad::Generator g2(123);
  TG_CHECK_CLOSE(tapegrad::dropout(x, 0.3, true, g2).value(), y, 0.0);
  tapegrad::Generator g3(124);
  CHECK_FALSE(tapegrad_test::all_close(tapegrad::dropout(x, 0.3, true, g3).value(), y, 0.0));

  tapegrad::manual_seed(5);
  const Array<double> d1 = tapegrad::dropout(x, 0.5).value();
  const Array<double> d2 = tapegrad::dropout(x, 0.5).value();
  CHECK_FALSE(tapegrad_test::all_close(d1, d2, 0.0));
  tapegrad::manual_seed(5);
  TG_CHECK_CLOSE(tapegrad::dropout(x, 0.5).value(), d1, 0.0);
  // The default generator is per thread: another thread seeding and drawing from its own does
  // not disturb this thread's sequence, and the same seed there gives the same mask.
  Array<double> in_thread;
  std::thread worker([&] {
    tapegrad::manual_seed(5);
    in_thread = tapegrad::dropout(x, 0.5).value();
  });
  worker.join();
  TG_CHECK_CLOSE(in_thread, d1, 0.0);
  TG_CHECK_CLOSE(tapegrad::dropout(x, 0.5).value(), d2, 0.0);

  const V small = c({1.0, -2.0, 3.0});
  TG_CHECK_CLOSE(tapegrad::dropout(small, 0.5, false).value(), small.value(), 0.0);
  TG_CHECK_CLOSE(tapegrad::dropout(small, 0.0, true).value(), small.value(), 0.0);
}

// ---- errors ----

TEST_CASE("broadcasting errors name the op and both shapes") {
  const V a = c(iota({2, 3}));
  const V b = c(iota({4}));
  check_error<shape_error>([&] { (void)tapegrad::add(a, b); }, {"add", "[2,3]", "[4]"});
  check_error<shape_error>([&] { (void)tapegrad::sub(a, b); }, {"sub", "[2,3]", "[4]"});
  check_error<shape_error>([&] { (void)tapegrad::mul(b, a); }, {"mul", "[2,3]", "[4]"});
  check_error<shape_error>([&] { (void)tapegrad::div(a, b); }, {"div", "[2,3]", "[4]"});
  const xt::xarray<bool> cond = {true, false};
  check_error<shape_error>([&] { (void)tapegrad::where(cond, a, a); }, {"where", "[2,3]", "[2]"});
}

TEST_CASE("matmul, transpose and linear shape errors name the op and the shapes") {
  check_error<shape_error>(
      [] {
        (void)tapegrad::matmul(c(iota({2, 3})), c(iota({4, 5})));
      },
      {"matmul", "[2,3]", "[4,5]"});
  check_error<shape_error>(
      [] {
        (void)tapegrad::matmul(c(iota({2, 3, 4})), c(iota({3, 4, 5})));
      },
      {"matmul", "[2,3,4]", "[3,4,5]"});
  check_error<shape_error>(
      [] {
        (void)tapegrad::matmul(c(iota({3})), c(iota({4, 5})));
      },
      {"matmul", "[3]", "[4,5]"});
  check_error<shape_error>(
      [] {
        (void)tapegrad::transpose(c(iota({2, 3, 4})));
      },
      {"transpose", "[2,3,4]"});
  check_error<shape_error>(
      [] {
        (void)tapegrad::transpose(c(iota({2, 3})), 0, 2);
      },
      {"transpose", "[2,3]"});
  check_error<shape_error>(
      [] {
        (void)tapegrad::linear(c(iota({4, 3})), c(iota({5, 2})));
      },
      {"linear", "[4,3]", "[5,2]"});
  check_error<shape_error>(
      [] {
        (void)tapegrad::linear(c(iota({4, 3})), c(iota({5, 3})), c(iota({4})));
      },
      {"linear", "[5,3]", "[4]"});
}

TEST_CASE("shape op errors") {
  const V x = c(iota({2, 3}));
  check_error<shape_error>(
      [&] {
        (void)tapegrad::reshape(x, make_shape({4, 2}));
      },
      {"reshape", "[2,3]", "[4,2]"});
  check_error<shape_error>([&] { (void)tapegrad::narrow(x, 1, 2, 2); }, {"narrow", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::select(x, 0, 5); }, {"select", "5", "[2,3]"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::chunk(c(iota({2, 5})), 2, 1);
      },
      {"chunk", "[2,5]"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::concat(std::vector<V>{x, c(iota({3, 3}))}, 1);
      },
      {"concat", "[2,3]", "[3,3]"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::stack(std::vector<V>{x, c(iota({3, 2}))}, 0);
      },
      {"stack", "[2,3]", "[3,2]"});
  check_error<value_error>([] { (void)tapegrad::concat(std::vector<V>{}, 0); }, {"concat"});
  check_error<value_error>([] { (void)tapegrad::stack(std::vector<V>{}, 0); }, {"stack"});
}

TEST_CASE("bad axes are shape errors naming the op, the axis and the shape") {
  const V x = c(iota({2, 3}));
  check_error<shape_error>([&] { (void)tapegrad::sum(x, 5); }, {"sum", "5", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::mean(x, -3); }, {"mean", "-3", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::max(x, 2, true); }, {"max", "2", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::logsumexp(x, 7); }, {"logsumexp", "7"});
  check_error<shape_error>([&] { (void)tapegrad::softmax(x, 2); }, {"softmax", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::log_softmax(x, -5); }, {"log_softmax"});
  check_error<shape_error>([&] { (void)tapegrad::narrow(x, 3, 0, 1); }, {"narrow", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::select(x, -3, 0); }, {"select", "[2,3]"});
  check_error<shape_error>([&] { (void)tapegrad::chunk(x, 1, 4); }, {"chunk", "[2,3]"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::concat(std::vector<V>{x, x}, 2);
      },
      {"concat", "[2,3]"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::stack(std::vector<V>{x, x}, 4);
      },
      {"stack", "[2,3]"});
}

TEST_CASE("index_rows errors name the id and the table size") {
  const V table = c(iota({5, 3}));
  check_error<value_error>(
      [&] {
        (void)tapegrad::index_rows(table, IndexArray{1, 7});
      },
      {"index_rows", "7", "5"});
  check_error<value_error>([&] { (void)tapegrad::index_rows(table, IndexArray{-1}); },
                           {"index_rows", "-1"});
  check_error<shape_error>([&] { (void)tapegrad::index_rows(c(iota({5})), IndexArray{1}); },
                           {"index_rows", "[5]"});
}

TEST_CASE("loss argument errors") {
  const V logits = c(iota({3, 4}));
  check_error<value_error>(
      [&] {
        (void)tapegrad::cross_entropy(logits, IndexArray{0, 17, 1});
      },
      {"cross_entropy", "17", "4"});
  check_error<value_error>(
      [&] {
        (void)tapegrad::cross_entropy(logits, IndexArray{0, -3, 1});
      },
      {"cross_entropy", "-3"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::cross_entropy(logits, IndexArray{0, 1});
      },
      {"cross_entropy", "[3,4]", "[2]"});
  check_error<value_error>(
      [&] {
        (void)tapegrad::cross_entropy(logits, IndexArray{0, 1, 2},
                                      loss_options(Reduction::mean, -100, 1.5));
      },
      {"cross_entropy", "label_smoothing", "1.5"});
  check_error<value_error>(
      [&] {
        (void)tapegrad::nll_loss(logits, IndexArray{0, 4, 1});
      },
      {"nll_loss", "4"});
  check_error<shape_error>(
      [&] {
        (void)tapegrad::mse_loss(logits, c(iota({4, 3})));
      },
      {"mse_loss", "[3,4]", "[4,3]"});
  check_error<shape_error>([&] { (void)tapegrad::bce_with_logits(logits, c(iota({3}))); },
                           {"bce_with_logits", "[3,4]", "[3]"});
}

TEST_CASE("dropout p outside the range 0 to 1 and clamp lo > hi are value errors") {
  const V x = c(iota({2, 3}));
  tapegrad::Generator gen(1);
  check_error<value_error>([&] { (void)tapegrad::dropout(x, 1.0, true, gen); }, {"dropout", "1"});
  check_error<value_error>([&] { (void)tapegrad::dropout(x, -0.1, true, gen); },
                           {"dropout", "-0.1"});
  check_error<value_error>([&] { (void)tapegrad::dropout(x, 1.5, false); }, {"dropout", "1.5"});
  check_error<value_error>([&] { (void)tapegrad::clamp(x, 2.0, 1.0); }, {"clamp", "2", "1"});
}
