// Reductions: sum, mean, max, logsumexp. Loops over [outer, n, inner] lanes of the axis.
#include <cmath>
#include <limits>

#include "detail.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

using detail::check_defined;

namespace {

// out[o, i] = sum_j x[o, j, i]
template <class T>
Array<T> sum_lanes(const Array<T>& x, const detail::Lanes& l, const Shape& out_shape) {
  Array<T> y = detail::zeros_array<T>(out_shape);
  T* yp = y.data();
  const T* xp = x.data();
  for (std::size_t o = 0; o < l.outer; ++o) {
    T* row = yp + o * l.inner;
    for (std::size_t j = 0; j < l.n; ++j) {
      const T* src = xp + (o * l.n + j) * l.inner;
      for (std::size_t i = 0; i < l.inner; ++i) row[i] += src[i];
    }
  }
  return y;
}

// g[o, j, i] = scale * gy[o, i]: the gradient of a sum along the axis.
template <class T>
Array<T> spread_lanes(const Array<T>& gy, const detail::Lanes& l, const Shape& in_shape, T scale) {
  Array<T> g = detail::empty_array<T>(in_shape);
  T* gp = g.data();
  const T* yp = gy.data();
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t j = 0; j < l.n; ++j) {
      T* dst = gp + (o * l.n + j) * l.inner;
      for (std::size_t i = 0; i < l.inner; ++i) dst[i] = scale * yp[o * l.inner + i];
    }
  }
  return g;
}

template <class T>
Var<T> sum_impl(const char* op, const Var<T>& x, T scale) {
  T total = T(0);
  for (const T& v : x.value()) total += v;
  Array<T> y = Array<T>::from_shape({});
  y() = total * scale;
  return record<T>(
      op, {x}, std::move(y),
      [scale](const Context<T>& c) {
        Array<T> g = Array<T>::from_shape(c.input_shape(0));
        g.fill(scale * c.grad_output()());  // dy/dx_i = scale
        return Grads<T>{std::move(g)};
      },
      {}, {}, Reads::none());
}

template <class T>
Var<T> sum_axis_impl(const char* op, const Var<T>& x, int axis, bool keepdims, bool mean) {
  const std::size_t ax = detail::normalize_axis(op, axis, x.shape());
  const detail::Lanes l = detail::lanes(x.shape(), ax);
  const T scale = mean ? T(1) / static_cast<T>(l.n) : T(1);
  Array<T> y = sum_lanes(x.value(), l, detail::reduced_shape(x.shape(), ax, keepdims));
  if (mean) y *= scale;
  return record<T>(
      op, {x}, std::move(y),
      [ax, scale](const Context<T>& c) {
        const Shape& s = c.input_shape(0);
        return Grads<T>{spread_lanes(c.grad_output(), detail::lanes(s, ax), s, scale)};
      },
      {}, {}, Reads::none());
}

}  // namespace

template <class T>
Var<T> sum(const Var<T>& x) {
  check_defined("sum", {&x});
  return sum_impl("sum", x, T(1));
}
TAPEGRAD_OP_OVERLOAD(sum, Var<T>(const Var<T>&));

template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdims) {
  check_defined("sum", {&x});
  return sum_axis_impl("sum", x, axis, keepdims, false);
}
TAPEGRAD_OP_OVERLOAD(sum, Var<T>(const Var<T>&, int, bool));

template <class T>
Var<T> mean(const Var<T>& x) {
  check_defined("mean", {&x});
  if (x.size() == 0) throw shape_error("mean: the input " + shape_str(x.shape()) + " is empty");
  return sum_impl("mean", x, T(1) / static_cast<T>(x.size()));
}
TAPEGRAD_OP_OVERLOAD(mean, Var<T>(const Var<T>&));

template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdims) {
  check_defined("mean", {&x});
  return sum_axis_impl("mean", x, axis, keepdims, true);
}
TAPEGRAD_OP_OVERLOAD(mean, Var<T>(const Var<T>&, int, bool));

template <class T>
Var<T> max(const Var<T>& x) {
  check_defined("max", {&x});
  if (x.size() == 0) throw shape_error("max: the input " + shape_str(x.shape()) + " is empty");
  T m = -std::numeric_limits<T>::infinity();
  for (const T& v : x.value()) m = std::isnan(v) || v > m ? v : m;
  Array<T> y = Array<T>::from_shape({});
  y() = m;
  return record<T>("max", {x}, std::move(y), [](const Context<T>& c) {
    // the gradient is shared evenly among the elements equal to the max
    const T top = c.output()();
    const Array<T>& in = c.input(0);
    Array<T> g = detail::zeros_array<T>(in.shape());
    std::size_t count = 0;
    for (const T& v : in) count += v == top ? 1 : 0;
    const T share = count ? c.grad_output()() / static_cast<T>(count) : T(0);
    for (std::size_t i = 0; i < in.size(); ++i) g.data()[i] = in.data()[i] == top ? share : T(0);
    return Grads<T>{std::move(g)};
  });
}
TAPEGRAD_OP_OVERLOAD(max, Var<T>(const Var<T>&));

template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdims) {
  check_defined("max", {&x});
  const std::size_t ax = detail::normalize_axis("max", axis, x.shape());
  const detail::Lanes l = detail::lanes(x.shape(), ax);
  if (l.n == 0)
    throw shape_error(fmt::format("max: axis {} of {} is empty", axis, shape_str(x.shape())));
  Array<T> y = detail::empty_array<T>(detail::reduced_shape(x.shape(), ax, keepdims));
  Array<T> mask = detail::zeros_array<T>(x.shape());  // 1 at the first maximum of each lane
  const T* xp = x.value().data();
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t i = 0; i < l.inner; ++i) {
      const std::size_t base = o * l.n * l.inner + i;
      std::size_t best = 0;
      for (std::size_t j = 1; j < l.n; ++j) {
        const T v = xp[base + j * l.inner], b = xp[base + best * l.inner];
        if (v > b || (std::isnan(v) && !std::isnan(b))) best = j;
      }
      y.data()[o * l.inner + i] = xp[base + best * l.inner];
      mask.data()[base + best * l.inner] = T(1);
    }
  }
  // dy/dx = 1 at the (first) maximum of each lane, 0 elsewhere
  return record<T>(
      "max", {x}, std::move(y),
      [ax](const Context<T>& c) {
        const Shape& s = c.input_shape(0);
        Array<T> g = spread_lanes(c.grad_output(), detail::lanes(s, ax), s, T(1));
        g *= c.saved(0);
        return Grads<T>{std::move(g)};
      },
      {std::move(mask)}, {}, Reads::none());
}
TAPEGRAD_OP_OVERLOAD(max, Var<T>(const Var<T>&, int, bool));

template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdims) {
  check_defined("logsumexp", {&x});
  const std::size_t ax = detail::normalize_axis("logsumexp", axis, x.shape());
  const detail::Lanes l = detail::lanes(x.shape(), ax);
  Array<T> y = detail::empty_array<T>(detail::reduced_shape(x.shape(), ax, keepdims));
  const T* xp = x.value().data();
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t i = 0; i < l.inner; ++i) {
      const std::size_t base = o * l.n * l.inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (std::size_t j = 0; j < l.n; ++j) m = std::max(m, xp[base + j * l.inner]);
      const T shift = std::isfinite(m) ? m : T(0);  // all -inf: log(0) = -inf, not NaN
      T s = T(0);
      for (std::size_t j = 0; j < l.n; ++j) s += std::exp(xp[base + j * l.inner] - shift);
      y.data()[o * l.inner + i] = shift + std::log(s);
    }
  }
  // dy/dx_j = softmax(x)_j = exp(x_j - m) / sum_k exp(x_k - m), recomputed from the input:
  // exp(x_j - y) with the rounded output y loses precision in float at |x| ~ 1e4
  return record<T>(
      "logsumexp", {x}, std::move(y),
      [ax](const Context<T>& c) {
        const Array<T>& in = c.input(0);
        const detail::Lanes lg = detail::lanes(in.shape(), ax);
        Array<T> g = detail::empty_array<T>(in.shape());
        const T* inp = in.data();
        const T* gy = c.grad_output().data();
        for (std::size_t o = 0; o < lg.outer; ++o) {
          for (std::size_t i = 0; i < lg.inner; ++i) {
            const std::size_t base = o * lg.n * lg.inner + i;
            T m = -std::numeric_limits<T>::infinity();
            for (std::size_t j = 0; j < lg.n; ++j) m = std::max(m, inp[base + j * lg.inner]);
            const T shift = std::isfinite(m) ? m : T(0);
            T s = T(0);
            for (std::size_t j = 0; j < lg.n; ++j) s += std::exp(inp[base + j * lg.inner] - shift);
            const T gv = gy[o * lg.inner + i];
            for (std::size_t j = 0; j < lg.n; ++j) {
              const std::size_t k = base + j * lg.inner;
              g.data()[k] = s > T(0) ? gv * std::exp(inp[k] - shift) / s : T(0);
            }
          }
        }
        return Grads<T>{std::move(g)};
      },
      {}, {}, Reads::inputs_only({0}));
}
TAPEGRAD_OP(logsumexp);

}  // namespace tapegrad
