// Selection by index: gather (differentiable, backward scatter-adds), and argmax and topk on
// values (topk's values go through gather).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "detail.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

using detail::check_defined;

namespace {

// Row-major strides of a shape, in elements.
std::vector<std::size_t> strides_of(const Shape& shape) {
  std::vector<std::size_t> st(shape.size(), 1);
  for (std::size_t d = shape.size(); d-- > 1;) st[d - 1] = st[d] * shape[d];
  return st;
}

// For every element of `index` (row-major), the flat position in x it names.
std::vector<std::size_t> gather_sources(const Shape& xs, std::size_t axis,
                                        const IndexArray& index) {
  const std::vector<std::size_t> xst = strides_of(xs);
  const auto& is = index.shape();
  std::vector<std::size_t> pos(is.size(), 0), out(index.size());
  for (std::size_t flat = 0; flat < index.size(); ++flat) {
    std::size_t at = 0;
    for (std::size_t d = 0; d < is.size(); ++d) {
      at += (d == axis ? static_cast<std::size_t>(index.data()[flat]) : pos[d]) * xst[d];
    }
    out[flat] = at;
    for (std::size_t d = is.size(); d-- > 0;) {  // next position, last axis fastest
      if (++pos[d] < is[d]) break;
      pos[d] = 0;
    }
  }
  return out;
}

// Is a ranked before b (a larger one first, NaN the largest)?
template <class T>
bool larger(T a, T b) {
  if (std::isnan(a)) return !std::isnan(b);
  return !std::isnan(b) && a > b;
}

}  // namespace

template <class T>
Var<T> gather(const Var<T>& x, int axis, const IndexArray& index) {
  check_defined("gather", {&x});
  const Shape& xs = x.shape();
  const std::size_t ax = detail::normalize_axis("gather", axis, xs);
  const Shape is(index.shape().begin(), index.shape().end());
  bool fits = is.size() == xs.size();
  for (std::size_t d = 0; fits && d < xs.size(); ++d) fits = d == ax || is[d] <= xs[d];
  if (!fits) {
    throw shape_error(fmt::format(
        "gather: index {} must have the rank of the input {} and no larger size on any axis but "
        "axis {}",
        shape_str(is), shape_str(xs), axis));
  }
  for (std::size_t i = 0; i < index.size(); ++i) {
    const Index v = index.data()[i];
    if (v < 0 || static_cast<std::size_t>(v) >= xs[ax]) {
      throw value_error(fmt::format(
          "gather: index {} (at flat position {} of index {}) is out of range for axis {} of "
          "size {}",
          v, i, shape_str(is), axis, xs[ax]));
    }
  }
  std::vector<std::size_t> src = gather_sources(xs, ax, index);
  Array<T> y = detail::empty_array<T>(is);
  for (std::size_t i = 0; i < src.size(); ++i) y.data()[i] = x.value().data()[src[i]];
  // dx[src[i]] += dy[i]
  return record<T>(
      "gather", {x}, std::move(y),
      [src = std::move(src)](const Context<T>& c) {
        Array<T> g = detail::zeros_array<T>(c.input_shape(0));
        const T* gy = c.grad_output().data();
        for (std::size_t i = 0; i < src.size(); ++i) g.data()[src[i]] += gy[i];
        return Grads<T>{std::move(g)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(gather);

template <class T>
IndexArray argmax(const Var<T>& x, int axis, bool keepdims) {
  check_defined("argmax", {&x});
  const std::size_t ax = detail::normalize_axis("argmax", axis, x.shape());
  if (x.shape()[ax] == 0) {
    throw shape_error(fmt::format("argmax: axis {} of {} is empty", axis, shape_str(x.shape())));
  }
  const detail::Lanes l = detail::lanes(x.shape(), ax);
  IndexArray out = IndexArray::from_shape(detail::reduced_shape(x.shape(), ax, keepdims));
  const T* v = x.value().data();
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t i = 0; i < l.inner; ++i) {
      const T* lane = v + o * l.n * l.inner + i;
      std::size_t best = 0;
      for (std::size_t j = 1; j < l.n; ++j) {
        if (larger(lane[j * l.inner], lane[best * l.inner])) best = j;
      }
      out.data()[o * l.inner + i] = static_cast<Index>(best);
    }
  }
  return out;
}
template IndexArray argmax<float>(const Var<float>&, int, bool);
template IndexArray argmax<double>(const Var<double>&, int, bool);

template <class T>
TopK<T> topk(const Var<T>& x, std::size_t k, int axis, bool largest) {
  check_defined("topk", {&x});
  const std::size_t ax = detail::normalize_axis("topk", axis, x.shape());
  const std::size_t n = x.shape()[ax];
  if (k > n) {
    throw value_error(fmt::format("topk: k = {} is larger than axis {} of {} (size {})", k, axis,
                                  shape_str(x.shape()), n));
  }
  const detail::Lanes l = detail::lanes(x.shape(), ax);
  Shape os = x.shape();
  os[ax] = k;
  IndexArray idx = IndexArray::from_shape(os);
  std::vector<std::size_t> order(n);
  const T* v = x.value().data();
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t i = 0; i < l.inner; ++i) {
      const T* lane = v + o * l.n * l.inner + i;
      std::iota(order.begin(), order.end(), std::size_t(0));
      // ties keep the lower index first; NaN ranks above any number, as in PyTorch
      const auto before = [&](std::size_t a, std::size_t b) {
        const T va = lane[a * l.inner], vb = lane[b * l.inner];
        const bool a_first = largest ? larger(va, vb) : larger(vb, va);
        const bool b_first = largest ? larger(vb, va) : larger(va, vb);
        return a_first || (!b_first && a < b);
      };
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        before);
      for (std::size_t j = 0; j < k; ++j) {
        idx.data()[(o * k + j) * l.inner + i] = static_cast<Index>(order[j]);
      }
    }
  }
  Var<T> values = gather(x, static_cast<int>(ax), idx);
  return TopK<T>{std::move(values), std::move(idx)};
}
template TopK<float> topk<float>(const Var<float>&, std::size_t, int, bool);
template TopK<double> topk<double>(const Var<double>&, std::size_t, int, bool);

}  // namespace tapegrad
