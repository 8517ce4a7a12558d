#include "op_registry.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include <xtensor/xoperation.hpp>

namespace tapegrad_test {

namespace {

using tapegrad::Array;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::LossOptions;
using tapegrad::Reduction;
using tapegrad::Shape;

Shape s(std::initializer_list<std::size_t> sizes) {
  return tapegrad::make_shape(sizes);
}
const Shape scalar_shape{};

IndexArray scalar_index(Index value) {
  IndexArray a = IndexArray::from_shape({});
  a() = value;
  return a;
}

// The same shapes for each broadcasting binary op; `f(a, b)` calls the op.
template <class F>
void add_binary(std::vector<OpCase>& r, const std::string& name, Domain b_domain, F f) {
  const std::vector<std::pair<std::string, std::vector<Shape>>> shapes = {
      {"[3,4] . [3,4]", {s({3, 4}), s({3, 4})}},
      {"[3,4] . [4] (bias broadcast)", {s({3, 4}), s({4})}},
      {"[4] . [3,4] (left broadcast)", {s({4}), s({3, 4})}},
      {"[2,3,4] . [3,1]", {s({2, 3, 4}), s({3, 1})}},
      {"[3,1] . [1,4] (both broadcast)", {s({3, 1}), s({1, 4})}},
      {"[] . [2,3] (0-d)", {scalar_shape, s({2, 3})}},
  };
  for (const auto& [variant, in] : shapes) {
    r.push_back({name, variant, in, {Domain::real, b_domain}, [f](const auto& x) {
                   return f(x[0], x[1]);
                 }});
  }
  r.back().bad_shapes = {{s({3, 4}), s({3, 5})}, {s({2, 3}), s({3, 2})}, {s({4}), s({2, 3, 5})}};
}

void add_elementwise_binary(std::vector<OpCase>& r) {
  add_binary(r, "add", Domain::real,
             [](const auto& a, const auto& b) { return tapegrad::add(a, b); });
  add_binary(r, "sub", Domain::real,
             [](const auto& a, const auto& b) { return tapegrad::sub(a, b); });
  add_binary(r, "mul", Domain::real,
             [](const auto& a, const auto& b) { return tapegrad::mul(a, b); });
  add_binary(r, "div", Domain::nonzero,
             [](const auto& a, const auto& b) { return tapegrad::div(a, b); });
}

void add_elementwise_scalar_and_unary(std::vector<OpCase>& r) {
  for (const Shape& sh : {s({3, 4}), s({2, 3, 4}), scalar_shape}) {
    const std::string v = tapegrad::shape_str(sh);
    r.push_back(
        {"add_scalar", v, {sh}, {}, [](const auto& x) { return tapegrad::add_scalar(x[0], 0.7); }});
    r.push_back({"mul_scalar", v, {sh}, {}, [](const auto& x) {
                   return tapegrad::mul_scalar(x[0], -1.3);
                 }});
    r.push_back({"rsub_scalar", v, {sh}, {}, [](const auto& x) {
                   return tapegrad::rsub_scalar(x[0], 2.5);
                 }});
    r.push_back({"rdiv_scalar", v, {sh}, {Domain::nonzero}, [](const auto& x) {
                   return tapegrad::rdiv_scalar(x[0], 1.7);
                 }});
    r.push_back({"neg", v, {sh}, {}, [](const auto& x) { return tapegrad::neg(x[0]); }});
    r.push_back({"exp", v, {sh}, {}, [](const auto& x) { return tapegrad::exp(x[0]); }});
    r.push_back(
        {"log", v, {sh}, {Domain::positive}, [](const auto& x) { return tapegrad::log(x[0]); }});
    r.push_back({"tanh", v, {sh}, {}, [](const auto& x) { return tapegrad::tanh(x[0]); }});
    r.push_back({"sigmoid", v, {sh}, {}, [](const auto& x) { return tapegrad::sigmoid(x[0]); }});
    r.push_back(
        {"relu", v, {sh}, {Domain::spaced}, [](const auto& x) { return tapegrad::relu(x[0]); }});
    r.push_back(
        {"sqrt", v, {sh}, {Domain::positive}, [](const auto& x) { return tapegrad::sqrt(x[0]); }});
    r.push_back({"clamp", v + " lo -0.3 hi 0.4", {sh}, {Domain::spaced}, [](const auto& x) {
                   return tapegrad::clamp(x[0], -0.3, 0.4);
                 }});
  }
  const Shape sh = s({3, 5});
  r.push_back({"pow", "[3,5] p 3 (any sign)", {sh}, {}, [](const auto& x) {
                 return tapegrad::pow(x[0], 3.0);
               }});
  r.push_back({"pow", "[3,5] p 2.5", {sh}, {Domain::positive}, [](const auto& x) {
                 return tapegrad::pow(x[0], 2.5);
               }});
  r.push_back({"pow", "[3,5] p -1.5", {sh}, {Domain::positive}, [](const auto& x) {
                 return tapegrad::pow(x[0], -1.5);
               }});
  r.push_back(
      {"pow", "[3,5] p 1", {sh}, {}, [](const auto& x) { return tapegrad::pow(x[0], 1.0); }});
  r.push_back(
      {"pow", "[3,5] p 0", {sh}, {}, [](const auto& x) { return tapegrad::pow(x[0], 0.0); }});
  r.push_back({"clamp", "[3,5] lo == hi", {sh}, {Domain::spaced}, [](const auto& x) {
                 return tapegrad::clamp(x[0], 0.2, 0.2);
               }});

  const xt::xarray<bool> cond = {
      {true, false, true, true}, {false, false, true, false}, {true, true, false, true}};
  r.push_back(
      {"where", "cond [3,4], a [3,4], b [3,4]", {s({3, 4}), s({3, 4})}, {}, [cond](const auto& x) {
         return tapegrad::where(cond, x[0], x[1]);
       }});
  r.push_back(
      {"where", "cond [3,4], a [3,4], b [4]", {s({3, 4}), s({4})}, {}, [cond](const auto& x) {
         return tapegrad::where(cond, x[0], x[1]);
       }});
  r.back().bad_shapes = {{s({3, 4}), s({3})}, {s({2, 4}), s({4})}};
  const xt::xarray<bool> row = {true, false, false, true};
  r.push_back({"where",
               "cond [4], a [3,1], b [] (all broadcast)",
               {s({3, 1}), scalar_shape},
               {},
               [row](const auto& x) { return tapegrad::where(row, x[0], x[1]); }});
  r.back().bad_shapes = {{s({3, 2}), scalar_shape}, {s({3, 1}), s({3})}};

  const xt::xarray<bool> fill = {
      {true, false, false, true}, {false, false, true, false}, {true, true, true, true}};
  r.push_back({"masked_fill", "[3,4] with a [3,4] mask", {s({3, 4})}, {}, [fill](const auto& x) {
                 return tapegrad::masked_fill(x[0], fill, -3.5);
               }});
  r.back().bad_shapes = {{s({3, 5})}, {s({4})}, {s({4, 3})}};
  const xt::xarray<bool> key_pad = {{{false, false, true}}, {{false, true, true}}};  // [2,1,3]
  r.push_back({"masked_fill",
               "[2,4,3] with a [2,1,3] padding mask",
               {s({2, 4, 3})},
               {},
               [key_pad](const auto& x) { return tapegrad::masked_fill(x[0], key_pad, 0.25); }});
  r.back().bad_shapes = {{s({2, 4, 2})}, {s({1, 3})}};
}

void add_linear_algebra(std::vector<OpCase>& r) {
  const auto mm = [](const auto& x) { return tapegrad::matmul(x[0], x[1]); };
  r.push_back({"matmul", "[m,k] x [k,n] = [3,4] x [4,5]", {s({3, 4}), s({4, 5})}, {}, mm});
  r.push_back(
      {"matmul", "[b,m,k] x [b,k,n] = [2,3,4] x [2,4,5]", {s({2, 3, 4}), s({2, 4, 5})}, {}, mm});
  r.push_back({"matmul", "[b,m,k] x [k,n] = [2,3,4] x [4,5]", {s({2, 3, 4}), s({4, 5})}, {}, mm});
  r.push_back({"matmul", "[k] x [k,n] = [4] x [4,5]", {s({4}), s({4, 5})}, {}, mm});
  r.push_back({"matmul", "[m,k] x [k] = [3,4] x [4]", {s({3, 4}), s({4})}, {}, mm});
  r.push_back({"matmul", "[m,k] x [k,n] with m = 1", {s({1, 4}), s({4, 3})}, {}, mm});
  r.back().bad_shapes = {{s({1, 4}), s({3, 4})},
                         {s({2, 3, 4}), s({3, 4, 5})},
                         {s({4}), s({5})},
                         {s({2, 2, 3, 4}), s({4, 5})}};
  const auto bm = [](const auto& x) { return tapegrad::bmm(x[0], x[1]); };
  r.push_back({"bmm", "[2,3,4] x [2,4,5]", {s({2, 3, 4}), s({2, 4, 5})}, {}, bm});
  r.push_back(
      {"bmm", "[3,1,4] x [3,4,6] (one query per batch)", {s({3, 1, 4}), s({3, 4, 6})}, {}, bm});
  r.back().bad_shapes = {{s({2, 3, 4}), s({3, 4, 5})},
                         {s({2, 3, 4}), s({2, 5, 4})},
                         {s({3, 4}), s({4, 5})},
                         {s({2, 3, 4}), s({4, 5})}};

  r.push_back({"transpose", "[3,5] (2-D)", {s({3, 5})}, {}, [](const auto& x) {
                 return tapegrad::transpose(x[0]);
               }});
  r.back().bad_shapes = {{s({2, 3, 5})}};
  r.push_back({"transpose", "[2,3,4] axes 0, 2", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::transpose(x[0], 0, 2);
               }});
  r.back().bad_shapes = {{s({3, 4})}};
  r.push_back({"transpose", "[2,3,4] axes -1, 1", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::transpose(x[0], -1, 1);
               }});
  r.push_back({"transpose", "[3,5] axes 1, 1 (identity)", {s({3, 5})}, {}, [](const auto& x) {
                 return tapegrad::transpose(x[0], 1, 1);
               }});
  r.push_back({"transpose", "[3,5] axes 1, 0", {s({3, 5})}, {}, [](const auto& x) {
                 return tapegrad::transpose(x[0], 1, 0);
               }});

  const auto lin = [](const auto& x) { return tapegrad::linear(x[0], x[1], x[2]); };
  const auto lin_nb = [](const auto& x) { return tapegrad::linear(x[0], x[1]); };
  r.push_back({"linear", "x [4,3], W [5,3], b [5]", {s({4, 3}), s({5, 3}), s({5})}, {}, lin});
  r.back().optional_inputs = {2};
  r.back().bad_shapes = {{s({4, 4}), s({5, 3}), s({5})},
                         {s({4, 3}), s({5, 3}), s({4})},
                         {s({4, 3}), s({5, 3, 1}), s({5})},
                         {s({4, 3}), s({5, 3}), s({1, 5})}};
  r.push_back({"linear", "x [4,3], W [5,3], no bias", {s({4, 3}), s({5, 3})}, {}, lin_nb});
  r.back().bad_shapes = {{s({4, 3}), s({3, 5})}, {scalar_shape, s({5, 3})}};
  r.push_back(
      {"linear", "x [2,4,3], W [5,3], b [5] (3-D)", {s({2, 4, 3}), s({5, 3}), s({5})}, {}, lin});
  r.back().optional_inputs = {2};
  r.push_back(
      {"linear", "x [2,4,3], W [5,3], no bias (3-D)", {s({2, 4, 3}), s({5, 3})}, {}, lin_nb});
  r.push_back({"linear", "x [3] (1-D), W [5,3], b [5]", {s({3}), s({5, 3}), s({5})}, {}, lin});
  r.back().optional_inputs = {2};
}

void add_shape_ops(std::vector<OpCase>& r) {
  r.push_back({"reshape", "[2,6] -> [3,4]", {s({2, 6})}, {}, [](const auto& x) {
                 return tapegrad::reshape(x[0], tapegrad::make_shape({3, 4}));
               }});
  r.back().bad_shapes = {{s({2, 5})}, {scalar_shape}};
  r.push_back({"reshape", "[2,3,4] -> [6,4]", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::reshape(x[0], tapegrad::make_shape({6, 4}));
               }});
  r.push_back({"reshape", "[] -> [1,1]", {scalar_shape}, {}, [](const auto& x) {
                 return tapegrad::reshape(x[0], tapegrad::make_shape({1, 1}));
               }});
  r.push_back({"reshape", "[3,4] -> [12]", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::reshape(x[0], tapegrad::make_shape({12}));
               }});

  r.push_back({"narrow", "[3,5] axis 1 start 1 length 3", {s({3, 5})}, {}, [](const auto& x) {
                 return tapegrad::narrow(x[0], 1, 1, 3);
               }});
  r.back().bad_shapes = {{s({3, 3})}, {s({5})}};
  r.push_back({"narrow", "[4,3] axis 0 start 2 length 2", {s({4, 3})}, {}, [](const auto& x) {
                 return tapegrad::narrow(x[0], 0, 2, 2);
               }});
  r.push_back({"narrow", "[2,3,4] axis -1 start 0 length 2", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::narrow(x[0], -1, 0, 2);
               }});

  r.push_back({"select", "[3,5] axis 0 index 2", {s({3, 5})}, {}, [](const auto& x) {
                 return tapegrad::select(x[0], 0, 2);
               }});
  r.back().bad_shapes = {{s({2, 5})}, {scalar_shape}};
  r.push_back({"select", "[2,3,4] axis 1 index 1", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::select(x[0], 1, 1);
               }});
  r.push_back({"select", "[2,3,4] axis -1 index 3", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::select(x[0], -1, 3);
               }});

  // The chunks are weighted differently, so a gradient sent to the wrong chunk is caught.
  r.push_back({"chunk", "[2,6] into 3 along axis 1", {s({2, 6})}, {}, [](const auto& x) {
                 auto c = tapegrad::chunk(x[0], 3, 1);
                 return c[0] + c[1] * 2.0 - c[2] * 3.0;
               }});
  r.back().tape_op = "narrow";  // chunk is its narrows
  r.back().bad_shapes = {{s({2, 5})}, {s({6})}};
  r.push_back({"chunk", "[4,3] into 2 along axis 0", {s({4, 3})}, {}, [](const auto& x) {
                 auto c = tapegrad::chunk(x[0], 2, 0);
                 return c[0] * c[1];
               }});
  r.back().tape_op = "narrow";  // chunk is its narrows
  r.push_back({"chunk", "[2,3,4] into 4 along axis -1", {s({2, 3, 4})}, {}, [](const auto& x) {
                 auto c = tapegrad::chunk(x[0], 4, -1);
                 return c[3] - c[1] * 0.5 + c[0] * c[2];
               }});
  r.back().tape_op = "narrow";  // chunk is its narrows

  r.push_back({"concat",
               "[2,3] [2,1] [2,4] along axis 1",
               {s({2, 3}), s({2, 1}), s({2, 4})},
               {},
               [](const auto& x) { return tapegrad::concat(x, 1); }});
  r.back().bad_shapes = {{s({2, 3}), s({3, 1}), s({2, 4})}, {s({2, 3}), s({2, 1}), s({2, 4, 1})}};
  r.push_back({"concat", "[1,3] [3,3] along axis 0", {s({1, 3}), s({3, 3})}, {}, [](const auto& x) {
                 return tapegrad::concat(x, 0);
               }});
  r.push_back({"concat",
               "[2,2,3] [2,1,3] along axis -2",
               {s({2, 2, 3}), s({2, 1, 3})},
               {},
               [](const auto& x) { return tapegrad::concat(x, -2); }});
  r.push_back({"concat", "one input [2,3]", {s({2, 3})}, {}, [](const auto& x) {
                 return tapegrad::concat(x, 0);
               }});

  r.push_back(
      {"stack", "3 x [2,3] along axis 0", {s({2, 3}), s({2, 3}), s({2, 3})}, {}, [](const auto& x) {
         return tapegrad::stack(x, 0);
       }});
  r.back().bad_shapes = {{s({2, 3}), s({2, 3}), s({3, 2})}, {s({2, 3}), s({2}), s({2, 3})}};
  r.push_back({"stack", "2 x [2,3] along axis 1", {s({2, 3}), s({2, 3})}, {}, [](const auto& x) {
                 return tapegrad::stack(x, 1);
               }});
  r.push_back(
      {"stack", "2 x [2,3] along axis 2 (last)", {s({2, 3}), s({2, 3})}, {}, [](const auto& x) {
         return tapegrad::stack(x, 2);
       }});
  r.push_back({"stack", "2 x [4] along axis 0", {s({4}), s({4})}, {}, [](const auto& x) {
                 return tapegrad::stack(x, 0);
               }});

  const IndexArray ids2 = {{0, 2, 2}, {4, 0, 1}};
  r.push_back(
      {"index_rows", "table [5,3], ids [2,3] with repeats", {s({5, 3})}, {}, [ids2](const auto& x) {
         return tapegrad::index_rows(x[0], ids2);
       }});
  r.back().bad_shapes = {{s({5})}, {s({5, 3, 1})}};
  r.push_back(
      {"index_rows", "table [5,3], ids [] (0-d) -> [3]", {s({5, 3})}, {}, [](const auto& x) {
         return tapegrad::index_rows(x[0], scalar_index(4));
       }});
  const IndexArray ids1 = {3, 3, 1, 0, 3};
  r.push_back(
      {"index_rows", "table [5,3], ids [5] with repeats", {s({5, 3})}, {}, [ids1](const auto& x) {
         return tapegrad::index_rows(x[0], ids1);
       }});
  // padding_idx rows get no gradient although the output depends on them, so the output is
  // masked where ids == padding_idx: the true gradient of the padding row is then 0 too, and
  // every other row must still get its gradient (test_ops_forward checks the unmasked case).
  r.push_back({"index_rows",
               "table [5,3], ids [2,3], padding_idx 2 (masked)",
               {s({5, 3})},
               {},
               [ids2](const auto& x) {
                 using T = scalar_of<decltype(x)>;
                 Array<T> mask = xt::cast<T>(xt::not_equal(ids2, Index(2)));
                 mask.reshape({2, 3, 1});
                 return tapegrad::index_rows(x[0], ids2, 2) * tapegrad::constant(mask);
               }});
}

void add_selection(std::vector<OpCase>& r) {
  const IndexArray cols = {{3, 0}, {1, 1}, {0, 2}};  // [3,2], a repeat in row 1
  r.push_back(
      {"gather", "[3,4] axis 1, index [3,2] with a repeat", {s({3, 4})}, {}, [cols](const auto& x) {
         return tapegrad::gather(x[0], 1, cols);
       }});
  r.back().bad_shapes = {{s({3})}, {s({2, 4})}, {s({3, 4, 1})}};
  const IndexArray rows = {{2, 0, 1, 2}, {2, 2, 0, 1}};  // [2,4]
  r.push_back({"gather", "[3,4] axis 0, index [2,4]", {s({3, 4})}, {}, [rows](const auto& x) {
                 return tapegrad::gather(x[0], 0, rows);
               }});
  const IndexArray last = {{{1, 0}, {0, 0}}};  // [1,2,2]: smaller than x on the other axes
  r.push_back(
      {"gather", "[2,3,4] axis -1, index [1,2,2]", {s({2, 3, 4})}, {}, [last](const auto& x) {
         return tapegrad::gather(x[0], -1, last);
       }});
}

void add_reductions(std::vector<OpCase>& r) {
  r.push_back(
      {"sum", "all of [3,4]", {s({3, 4})}, {}, [](const auto& x) { return tapegrad::sum(x[0]); }});
  r.push_back({"sum", "all of [] (0-d)", {scalar_shape}, {}, [](const auto& x) {
                 return tapegrad::sum(x[0]);
               }});
  r.push_back({"sum", "[3,4] axis 0", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::sum(x[0], 0);
               }});
  r.push_back({"sum", "[3,4] axis 1 keepdims", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::sum(x[0], 1, true);
               }});
  r.push_back({"sum", "[2,3,4] axis -1", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::sum(x[0], -1);
               }});
  r.push_back({"sum", "[2,3,4] axis -2 keepdims", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::sum(x[0], -2, true);
               }});
  r.back().bad_shapes = {{s({4})}, {scalar_shape}};

  r.push_back({"mean", "all of [3,4]", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::mean(x[0]);
               }});
  r.back().bad_shapes = {{s({0, 3})}};
  r.push_back({"mean", "[3,4] axis 0", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::mean(x[0], 0);
               }});
  r.push_back({"mean", "[3,4] axis 1 keepdims", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::mean(x[0], 1, true);
               }});
  r.push_back({"mean", "[2,3,4] axis -1", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::mean(x[0], -1);
               }});
  r.push_back({"mean", "[2,3,4] axis -3 keepdims", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::mean(x[0], -3, true);
               }});
  r.back().bad_shapes = {{s({3, 4})}};

  const std::vector<Domain> spaced = {Domain::spaced};
  r.push_back({"max", "all of [3,4]", {s({3, 4})}, spaced, [](const auto& x) {
                 return tapegrad::max(x[0]);
               }});
  r.back().bad_shapes = {{s({0})}, {s({2, 0})}};
  r.push_back({"max", "[3,4] axis 0", {s({3, 4})}, spaced, [](const auto& x) {
                 return tapegrad::max(x[0], 0);
               }});
  r.back().bad_shapes = {{s({0, 4})}, {scalar_shape}};
  r.push_back({"max", "[3,4] axis 1 keepdims", {s({3, 4})}, spaced, [](const auto& x) {
                 return tapegrad::max(x[0], 1, true);
               }});
  r.push_back({"max", "[2,3,4] axis -1", {s({2, 3, 4})}, spaced, [](const auto& x) {
                 return tapegrad::max(x[0], -1);
               }});
  r.push_back({"max", "[2,3,4] axis -2 keepdims", {s({2, 3, 4})}, spaced, [](const auto& x) {
                 return tapegrad::max(x[0], -2, true);
               }});

  r.push_back({"logsumexp", "[3,4] axis 1", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::logsumexp(x[0], 1);
               }});
  r.push_back({"logsumexp", "[3,4] axis 0 keepdims", {s({3, 4})}, {}, [](const auto& x) {
                 return tapegrad::logsumexp(x[0], 0, true);
               }});
  r.push_back({"logsumexp", "[2,3,4] axis -1", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::logsumexp(x[0], -1);
               }});
  r.push_back({"logsumexp", "[2,3,4] axis -2 keepdims", {s({2, 3, 4})}, {}, [](const auto& x) {
                 return tapegrad::logsumexp(x[0], -2, true);
               }});
  r.back().bad_shapes = {{s({4})}};
}

void add_nn(std::vector<OpCase>& r) {
  for (const std::string op : {"softmax", "log_softmax"}) {
    const bool is_log = op == "log_softmax";
    const auto f = [is_log](const auto& x, int axis) {
      return is_log ? tapegrad::log_softmax(x, axis) : tapegrad::softmax(x, axis);
    };
    r.push_back({op, "[3,4] default axis", {s({3, 4})}, {}, [is_log](const auto& x) {
                   return is_log ? tapegrad::log_softmax(x[0]) : tapegrad::softmax(x[0]);
                 }});
    r.push_back({op, "[3,4] axis 0", {s({3, 4})}, {}, [f](const auto& x) { return f(x[0], 0); }});
    r.push_back(
        {op, "[2,3,4] axis 1", {s({2, 3, 4})}, {}, [f](const auto& x) { return f(x[0], 1); }});
    r.back().bad_shapes = {{s({5})}, {scalar_shape}};
    r.push_back(
        {op, "[5] axis -1 (1-D)", {s({5})}, {}, [f](const auto& x) { return f(x[0], -1); }});
  }

  // A fully masked row (row 2) is zeros with no gradient; masked_log_softmax's masked elements
  // are -inf, so its cases fill them with 0 to keep the output finite for the checks.
  const xt::xarray<bool> keep_out = {
      {false, true, false, false}, {true, false, true, false}, {true, true, true, true}};
  r.push_back({"masked_softmax",
               "[3,4] axis -1, a fully masked row",
               {s({3, 4})},
               {},
               [keep_out](const auto& x) { return tapegrad::masked_softmax(x[0], keep_out); }});
  r.back().bad_shapes = {{s({3, 5})}, {s({4})}};
  const xt::xarray<bool> pad = {{{false, false, true}}, {{false, true, true}}};  // [2,1,3]
  r.push_back({"masked_softmax",
               "[2,4,3] axis -1, a [2,1,3] padding mask",
               {s({2, 4, 3})},
               {},
               [pad](const auto& x) { return tapegrad::masked_softmax(x[0], pad); }});
  r.push_back({"masked_softmax", "[3,4] axis 0", {s({3, 4})}, {}, [keep_out](const auto& x) {
                 return tapegrad::masked_softmax(x[0], keep_out, 0);
               }});
  r.push_back({"masked_log_softmax",
               "[3,4] axis -1, a fully masked row",
               {s({3, 4})},
               {},
               [keep_out](const auto& x) {
                 return tapegrad::masked_fill(tapegrad::masked_log_softmax(x[0], keep_out),
                                              keep_out, 0.0);
               }});
  r.back().bad_shapes = {{s({3, 5})}, {s({4})}};
  r.push_back({"masked_log_softmax",
               "[2,4,3] axis -1, a [2,1,3] padding mask",
               {s({2, 4, 3})},
               {},
               [pad](const auto& x) {
                 return tapegrad::masked_fill(tapegrad::masked_log_softmax(x[0], pad), pad, 0.0);
               }});

  const IndexArray t = {1, 0, 4, 2};
  const IndexArray t_ignored = {1, -100, 4, -100};
  const IndexArray t_ignore3 = {3, 0, 4, 3};
  const auto opts = [](Reduction red, Index ignore = -100, double smoothing = 0.0) {
    LossOptions o;
    o.reduction = red;
    o.ignore_index = ignore;
    o.label_smoothing = smoothing;
    return o;
  };
  struct LossVariant {
    std::string name;
    IndexArray targets;
    LossOptions options;
  };
  const std::vector<LossVariant> variants = {
      {"mean", t, opts(Reduction::mean)},
      {"sum", t, opts(Reduction::sum)},
      {"none", t, opts(Reduction::none)},
      {"mean, ignore_index -100 on two rows", t_ignored, opts(Reduction::mean)},
      {"sum, ignore_index 3", t_ignore3, opts(Reduction::sum, 3)},
      {"none, ignore_index 3", t_ignore3, opts(Reduction::none, 3)},
  };
  for (const auto& v : variants) {
    r.push_back({"cross_entropy", "[4,5] " + v.name, {s({4, 5})}, {}, [v](const auto& x) {
                   return tapegrad::cross_entropy(x[0], v.targets, v.options);
                 }});
    r.back().bad_shapes = {{s({3, 5})}, {s({4, 5, 2})}, {s({5})}};
    r.push_back({"nll_loss", "[4,5] " + v.name, {s({4, 5})}, {}, [v](const auto& x) {
                   return tapegrad::nll_loss(x[0], v.targets, v.options);
                 }});
    r.back().bad_shapes = {{s({5, 5})}, {s({4})}};
  }
  r.push_back({"cross_entropy",
               "[4,5] mean, label_smoothing 0.1",
               {s({4, 5})},
               {},
               [t, opts](const auto& x) {
                 return tapegrad::cross_entropy(x[0], t, opts(Reduction::mean, -100, 0.1));
               }});
  r.push_back({"cross_entropy",
               "[4,5] none, label_smoothing 0.25",
               {s({4, 5})},
               {},
               [t, opts](const auto& x) {
                 return tapegrad::cross_entropy(x[0], t, opts(Reduction::none, -100, 0.25));
               }});
  r.push_back({"cross_entropy",
               "[4,5] mean, label_smoothing 0.2 and ignore_index",
               {s({4, 5})},
               {},
               [t_ignored, opts](const auto& x) {
                 return tapegrad::cross_entropy(x[0], t_ignored, opts(Reduction::mean, -100, 0.2));
               }});
  r.push_back(
      {"cross_entropy", "logits [5] (1-D), target [] (0-d)", {s({5})}, {}, [](const auto& x) {
         return tapegrad::cross_entropy(x[0], scalar_index(3));
       }});
  r.push_back({"nll_loss", "log_probs [5] (1-D), target [] (0-d)", {s({5})}, {}, [](const auto& x) {
                 return tapegrad::nll_loss(x[0], scalar_index(2));
               }});

  for (const auto& [name, red] : std::vector<std::pair<std::string, Reduction>>{
           {"mean", Reduction::mean}, {"sum", Reduction::sum}, {"none", Reduction::none}}) {
    const Reduction rd = red;
    r.push_back({"mse_loss", "[3,4] " + name, {s({3, 4}), s({3, 4})}, {}, [rd](const auto& x) {
                   return tapegrad::mse_loss(x[0], x[1], rd);
                 }});
    r.back().bad_shapes = {{s({3, 4}), s({4, 3})}, {s({3, 4}), s({4})}};
    // Targets are data (bce_with_logits sends no gradient to them), so they are constants.
    r.push_back({"bce_with_logits", "[3,4] " + name, {s({3, 4})}, {}, [rd](const auto& x) {
                   using T = scalar_of<decltype(x)>;
                   const Array<T> y = {{T(0.0), T(1.0), T(0.3), T(1.0)},
                                       {T(1.0), T(0.0), T(0.0), T(0.75)},
                                       {T(0.5), T(1.0), T(0.0), T(0.1)}};
                   return tapegrad::bce_with_logits(x[0], tapegrad::constant(y), rd);
                 }});
    r.back().bad_shapes = {{s({4, 3})}, {s({3, 1})}};
  }
  r.push_back({"mse_loss", "[5] mean (1-D)", {s({5}), s({5})}, {}, [](const auto& x) {
                 return tapegrad::mse_loss(x[0], x[1]);
               }});

  // The mask must be the same on every call of fn: a generator seeded inside fn.
  r.push_back(
      {"dropout", "[4,5] p 0.3 training, own generator", {s({4, 5})}, {}, [](const auto& x) {
         tapegrad::Generator gen(42);
         return tapegrad::dropout(x[0], 0.3, true, gen);
       }});
  r.push_back({"dropout",
               "[2,3,4] p 0.5 training, default generator reseeded",
               {s({2, 3, 4})},
               {},
               [](const auto& x) {
                 tapegrad::manual_seed(7);
                 return tapegrad::dropout(x[0], 0.5);
               }});
  r.push_back({"dropout", "[4,5] p 0.3 eval (identity)", {s({4, 5})}, {}, [](const auto& x) {
                 tapegrad::Generator gen(42);
                 return tapegrad::dropout(x[0], 0.3, false, gen);
               }});
  r.back().returns_input = true;
  r.push_back({"dropout", "[4,5] p 0 training (identity)", {s({4, 5})}, {}, [](const auto& x) {
                 tapegrad::Generator gen(42);
                 return tapegrad::dropout(x[0], 0.0, true, gen);
               }});
  r.back().returns_input = true;
}

// The recurrent cell steps (tapegrad/nn/cells.hpp): the fused ones with gx [T,B,G*H] read at
// step 1, or [B,G*H].
void add_recurrent(std::vector<OpCase>& r) {
  r.push_back({"fused_rnn_step",
               "tanh, gx [3,2,4], h [2,4], W [4,4], t 1",
               {s({3, 2, 4}), s({2, 4}), s({4, 4})},
               {},
               [](const auto& x) { return tapegrad::nn::fused_rnn_step(x[0], 1, x[1], x[2]); }});
  r.back().bad_shapes = {{s({3, 2, 5}), s({2, 4}), s({4, 4})},
                         {s({3, 2, 4}), s({2, 4}), s({4, 3})}};
  r.push_back({"fused_rnn_step",
               "tanh, gx [2,4] (one step), h [2,4], W [4,4]",
               {s({2, 4}), s({2, 4}), s({4, 4})},
               {},
               [](const auto& x) { return tapegrad::nn::fused_rnn_step(x[0], 0, x[1], x[2]); }});
  r.push_back({"fused_lstm_step",
               "gx [3,2,12], state [2,2,3], W [12,3], t 1",
               {s({3, 2, 12}), s({2, 2, 3}), s({12, 3})},
               {},
               [](const auto& x) { return tapegrad::nn::fused_lstm_step(x[0], 1, x[1], x[2]); }});
  r.back().bad_shapes = {{s({3, 2, 12}), s({2, 3}), s({12, 3})},
                         {s({3, 2, 12}), s({2, 2, 3}), s({9, 3})}};
  r.push_back(
      {"fused_gru_step",
       "gx [3,2,9], h [2,3], W [9,3], b [9], t 2",
       {s({3, 2, 9}), s({2, 3}), s({9, 3}), s({9})},
       {},
       [](const auto& x) { return tapegrad::nn::fused_gru_step(x[0], 2, x[1], x[2], x[3]); }});
  r.back().optional_inputs = {3};
  r.back().bad_shapes = {{s({3, 2, 9}), s({2, 3}), s({9, 3}), s({3})},
                         {s({3, 3, 9}), s({2, 3}), s({9, 3}), s({9})}};
  r.push_back(
      {"fused_gru_step",
       "gx [2,9], h [2,3], W [9,3], no bias",
       {s({2, 9}), s({2, 3}), s({9, 3})},
       {},
       [](const auto& x) { return tapegrad::nn::fused_gru_step(x[0], 0, x[1], x[2], {}); }});
  // The sequence ops: every step of a direction, forward and reversed.
  for (const bool reverse : {false, true}) {
    const std::string dir = reverse ? ", reversed" : "";
    r.push_back({"fused_rnn_sequence",
                 "tanh, gx [3,2,4], h0 [2,4], W [4,4]" + dir,
                 {s({3, 2, 4}), s({2, 4}), s({4, 4})},
                 {},
                 [reverse](const auto& x) {
                   return tapegrad::nn::fused_rnn_sequence(x[0], x[1], x[2], false, reverse);
                 }});
    r.back().bad_shapes = {{s({2, 4}), s({2, 4}), s({4, 4})}, {s({3, 2, 4}), s({2, 4}), s({4, 3})}};
    r.push_back({"fused_lstm_sequence",
                 "gx [3,2,12], h0 [2,3], c0 [2,3], W [12,3]" + dir,
                 {s({3, 2, 12}), s({2, 3}), s({2, 3}), s({12, 3})},
                 {},
                 [reverse](const auto& x) {
                   return tapegrad::nn::fused_lstm_sequence(x[0], x[1], x[2], x[3], reverse);
                 }});
    r.back().bad_shapes = {{s({3, 2, 12}), s({2, 3}), s({3, 3}), s({12, 3})},
                           {s({3, 2, 12}), s({2, 3}), s({2, 3}), s({9, 3})}};
    r.push_back({"fused_gru_sequence",
                 "gx [3,2,9], h0 [2,3], W [9,3], b [9]" + dir,
                 {s({3, 2, 9}), s({2, 3}), s({9, 3}), s({9})},
                 {},
                 [reverse](const auto& x) {
                   return tapegrad::nn::fused_gru_sequence(x[0], x[1], x[2], x[3], reverse);
                 }});
    r.back().optional_inputs = {3};
    r.back().bad_shapes = {{s({3, 2, 9}), s({2, 3}), s({9, 3}), s({3})},
                           {s({3, 3, 9}), s({2, 3}), s({9, 3}), s({9})}};
    // The layer ops: the same from x [3,2,5], with the input projection.
    r.push_back({"fused_rnn_layer",
                 "relu, x [3,2,5], W_ih [4,5], b [4], h0 [2,4], W_hh [4,4]" + dir,
                 {s({3, 2, 5}), s({4, 5}), s({4}), s({2, 4}), s({4, 4})},
                 {},
                 [reverse](const auto& x) {
                   return tapegrad::nn::fused_rnn_layer(x[0], x[1], x[2], x[3], x[4], true,
                                                        reverse);
                 }});
    r.back().optional_inputs = {2};
    r.back().bad_shapes = {{s({3, 2, 5}), s({4, 4}), s({4}), s({2, 4}), s({4, 4})},
                           {s({0, 2, 5}), s({4, 5}), s({4}), s({2, 4}), s({4, 4})},
                           {s({3, 2, 5}), s({4, 5}), s({3}), s({2, 4}), s({4, 4})}};
    r.push_back({"fused_lstm_layer",
                 "x [3,2,5], W_ih [12,5], b [12], h0 [2,3], c0 [2,3], W_hh [12,3]" + dir,
                 {s({3, 2, 5}), s({12, 5}), s({12}), s({2, 3}), s({2, 3}), s({12, 3})},
                 {},
                 [reverse](const auto& x) {
                   return tapegrad::nn::fused_lstm_layer(x[0], x[1], x[2], x[3], x[4], x[5],
                                                         reverse);
                 }});
    r.back().optional_inputs = {2};
    r.back().bad_shapes = {{s({3, 2, 5}), s({12, 5}), s({12}), s({2, 3}), s({3, 3}), s({12, 3})},
                           {s({3, 2, 5}), s({12, 5}), s({12}), s({3, 3}), s({2, 3}), s({12, 3})}};
    r.push_back({"fused_gru_layer",
                 "x [3,2,5], W_ih [9,5], b_ih [9], h0 [2,3], W_hh [9,3], b_hh [9]" + dir,
                 {s({3, 2, 5}), s({9, 5}), s({9}), s({2, 3}), s({9, 3}), s({9})},
                 {},
                 [reverse](const auto& x) {
                   return tapegrad::nn::fused_gru_layer(x[0], x[1], x[2], x[3], x[4], x[5],
                                                        reverse);
                 }});
    r.back().optional_inputs = {2, 5};
    r.back().bad_shapes = {{s({3, 2, 5}), s({9, 5}), s({9}), s({2, 3}), s({9, 3}), s({3})},
                           {s({3, 2, 5}), s({9, 4}), s({9}), s({2, 3}), s({9, 3}), s({9})}};
  }
  r.push_back({"stack_index",
               "3 x [2,2,3], index 1",
               {s({2, 2, 3}), s({2, 2, 3}), s({2, 2, 3})},
               {},
               [](const auto& x) { return tapegrad::stack_index(x, 1); }});
  r.back().bad_shapes = {{s({2, 2, 3}), s({2, 3, 2}), s({2, 2, 3})}};
}

std::vector<OpCase> build_registry() {
  std::vector<OpCase> r;
  add_elementwise_binary(r);
  add_elementwise_scalar_and_unary(r);
  add_linear_algebra(r);
  add_shape_ops(r);
  add_selection(r);
  add_reductions(r);
  add_nn(r);
  add_recurrent(r);
  return r;
}

Array<double> draw(Domain domain, const Shape& shape, tapegrad::Generator& gen) {
  switch (domain) {
    case Domain::real:
      return gen.uniform<double>(shape, -2.0, 2.0);
    case Domain::positive:
      return gen.uniform<double>(shape, 0.5, 2.0);
    case Domain::nonzero: {
      Array<double> a = gen.uniform<double>(shape, 0.5, 2.0);
      const Array<double> sign = gen.bernoulli<double>(shape, 0.5);
      return Array<double>(a * (2.0 * sign - 1.0));
    }
    case Domain::spaced: {
      Array<double> a = Array<double>::from_shape(shape);
      std::vector<double> values(a.size());
      const double half = static_cast<double>(values.size()) / 2.0;
      for (std::size_t i = 0; i < values.size(); ++i) {
        values[i] = (std::floor(static_cast<double>(i) - half) + 0.5) / 10.0;
      }
      std::shuffle(values.begin(), values.end(), gen.engine());
      std::copy(values.begin(), values.end(), a.begin());
      return a;
    }
  }
  return {};
}

}  // namespace

const std::vector<OpCase>& op_registry() {
  static const std::vector<OpCase> registry = build_registry();
  return registry;
}

std::vector<tapegrad::Var<double>> make_inputs(const OpCase& op_case, std::uint64_t seed,
                                               bool requires_grad) {
  tapegrad::Generator gen(seed);
  std::vector<tapegrad::Var<double>> inputs;
  for (std::size_t i = 0; i < op_case.shapes.size(); ++i) {
    const Domain d = op_case.domains.empty()
                         ? Domain::real
                         : op_case.domains[std::min(i, op_case.domains.size() - 1)];
    inputs.emplace_back(draw(d, op_case.shapes[i], gen), requires_grad,
                        "input" + std::to_string(i));
  }
  return inputs;
}

}  // namespace tapegrad_test
