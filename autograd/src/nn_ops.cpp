// Softmax family, losses and dropout, in numerically stable forms.
#include <cmath>
#include <limits>

#include <xtensor/xmath.hpp>

#include "detail.hpp"
#include "tapegrad/autograd/nn_ops.hpp"
#include "tapegrad/autograd/op_registration.hpp"

namespace tapegrad {

using detail::check_defined;

namespace {

// Calls f(base, stride, n) for every lane of x along the axis.
template <class F>
void for_each_lane(const detail::Lanes& l, F&& f) {
  for (std::size_t o = 0; o < l.outer; ++o) {
    for (std::size_t i = 0; i < l.inner; ++i) f(o * l.n * l.inner + i, l.inner, l.n);
  }
}

// out = log_softmax of each lane of x (max-shifted) over the elements `masked` leaves in
// (all when it is null); -inf where masked, so a fully masked lane is all -inf.
template <class T>
void log_softmax_lanes(const T* x, T* out, const detail::Lanes& l, const bool* masked = nullptr) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  const auto in = [masked](std::size_t k) { return masked == nullptr || !masked[k]; };
  for_each_lane(l, [&](std::size_t base, std::size_t stride, std::size_t n) {
    T m = -inf;
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t k = base + j * stride;
      if (in(k)) m = std::max(m, x[k]);
    }
    const T shift = std::isfinite(m) ? m : T(0);
    T s = T(0);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t k = base + j * stride;
      if (in(k)) s += std::exp(x[k] - shift);
    }
    // (x - shift) - log(s), not x - (shift + log(s)): the latter rounds shift + log(s) at
    // |x| ~ 1e4 and loses about 1e-3 in float
    const T log_s = std::log(s);
    for (std::size_t j = 0; j < n; ++j) {
      const std::size_t k = base + j * stride;
      out[k] = in(k) ? (x[k] - shift) - log_s : -inf;
    }
  });
}

// softmax's backward: dx = y * (dy - sum(dy * y)) per lane (0 where y is, as when masked).
template <class T>
Array<T> softmax_grad(const Array<T>& out, const Array<T>& gy, std::size_t ax) {
  Array<T> g = detail::empty_array<T>(out.shape());
  for_each_lane(detail::lanes(out.shape(), ax),
                [&](std::size_t base, std::size_t stride, std::size_t n) {
                  T dot = T(0);
                  for (std::size_t j = 0; j < n; ++j)
                    dot += gy.data()[base + j * stride] * out.data()[base + j * stride];
                  for (std::size_t j = 0; j < n; ++j) {
                    const std::size_t k = base + j * stride;
                    g.data()[k] = out.data()[k] * (gy.data()[k] - dot);
                  }
                });
  return g;
}

// log_softmax's backward: dx = dy - exp(y) * sum(dy) per lane, over the elements `masked`
// leaves in (all when null); 0 where masked.
template <class T>
Array<T> log_softmax_grad(const Array<T>& out, const Array<T>& gy, std::size_t ax,
                          const bool* masked = nullptr) {
  const auto in = [masked](std::size_t k) { return masked == nullptr || !masked[k]; };
  Array<T> g = detail::empty_array<T>(out.shape());
  for_each_lane(detail::lanes(out.shape(), ax),
                [&](std::size_t base, std::size_t stride, std::size_t n) {
                  T s = T(0);
                  for (std::size_t j = 0; j < n; ++j) {
                    const std::size_t k = base + j * stride;
                    if (in(k)) s += gy.data()[k];
                  }
                  for (std::size_t j = 0; j < n; ++j) {
                    const std::size_t k = base + j * stride;
                    g.data()[k] = in(k) ? gy.data()[k] - std::exp(out.data()[k]) * s : T(0);
                  }
                });
  return g;
}

// Checks [n, C] / [n] (or [C] / []) and the target values; returns n and C.
template <class T>
std::pair<std::size_t, std::size_t> check_class_targets(const char* op, const Var<T>& x,
                                                        const IndexArray& targets,
                                                        const LossOptions& o) {
  const Shape& xs = x.shape();
  const bool batched = xs.size() == 2 && targets.dimension() == 1 && targets.shape()[0] == xs[0];
  const bool single = xs.size() == 1 && targets.dimension() == 0;
  if (!batched && !single) {
    throw shape_error(fmt::format(
        "{}: expected input [n, C] with targets [n], or [C] with [], got {} and {}", op,
        shape_str(xs), shape_str(Shape(targets.shape().begin(), targets.shape().end()))));
  }
  const std::size_t n = batched ? xs[0] : 1, classes = xs.back();
  for (std::size_t i = 0; i < n; ++i) {
    const Index t = targets.data()[i];
    if (t != o.ignore_index && (t < 0 || static_cast<std::size_t>(t) >= classes)) {
      throw value_error(fmt::format("{}: target {} (at position {}) is out of range for {} classes",
                                    op, t, i, classes));
    }
  }
  if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0)) {
    throw value_error(
        fmt::format("{}: label_smoothing {} is outside [0, 1]", op, o.label_smoothing));
  }
  return {n, classes};
}

// Shapes the per-row losses as the reduction asks; returns the weight each row's gradient gets
// per unit of output gradient.
template <class T>
Array<T> reduce_rows(const std::vector<T>& rows, std::size_t counted, Reduction r, bool batched) {
  if (r == Reduction::none) {
    Array<T> y = Array<T>::from_shape(batched ? Shape{rows.size()} : Shape{});
    std::copy(rows.begin(), rows.end(), y.begin());
    return y;
  }
  T total = T(0);
  for (T v : rows) total += v;
  Array<T> y = Array<T>::from_shape({});
  y() = r == Reduction::sum ? total : total / static_cast<T>(counted);  // 0/0 = NaN as PyTorch
  return y;
}

// d loss / d row_i for each row: the output gradient spread by the reduction.
template <class T>
T row_weight(const Array<T>& gy, std::size_t i, std::size_t counted, Reduction r) {
  if (r == Reduction::none) return gy.data()[i];
  if (r == Reduction::sum) return gy();
  return gy() / static_cast<T>(counted);
}

}  // namespace

template <class T>
Var<T> softmax(const Var<T>& x, int axis) {
  check_defined("softmax", {&x});
  const std::size_t ax = detail::normalize_axis("softmax", axis, x.shape());
  Array<T> y = detail::empty_array<T>(x.shape());
  log_softmax_lanes(x.value().data(), y.data(), detail::lanes(x.shape(), ax));
  for (auto& v : y) v = std::exp(v);
  return record<T>(
      "softmax", {x}, std::move(y),
      [ax](const Context<T>& c) { return Grads<T>{softmax_grad(c.output(), c.grad_output(), ax)}; },
      {}, {}, Reads::output_only());
}
TAPEGRAD_OP(softmax);

template <class T>
Var<T> log_softmax(const Var<T>& x, int axis) {
  check_defined("log_softmax", {&x});
  const std::size_t ax = detail::normalize_axis("log_softmax", axis, x.shape());
  Array<T> y = detail::empty_array<T>(x.shape());
  log_softmax_lanes(x.value().data(), y.data(), detail::lanes(x.shape(), ax));
  return record<T>(
      "log_softmax", {x}, std::move(y),
      [ax](const Context<T>& c) {
        return Grads<T>{log_softmax_grad(c.output(), c.grad_output(), ax)};
      },
      {}, {}, Reads::output_only());
}
TAPEGRAD_OP(log_softmax);

template <class T>
Var<T> masked_softmax(const Var<T>& x, const xt::xarray<bool>& mask, int axis) {
  check_defined("masked_softmax", {&x});
  const std::size_t ax = detail::normalize_axis("masked_softmax", axis, x.shape());
  const xt::xarray<bool> m = detail::broadcast_mask("masked_softmax", mask, x.shape());
  Array<T> y = detail::empty_array<T>(x.shape());
  log_softmax_lanes(x.value().data(), y.data(), detail::lanes(x.shape(), ax), m.data());
  for (auto& v : y) v = std::exp(v);  // exp(-inf) = 0 where masked
  // y = 0 where masked, so softmax's rule gives those no gradient
  return record<T>(
      "masked_softmax", {x}, std::move(y),
      [ax](const Context<T>& c) { return Grads<T>{softmax_grad(c.output(), c.grad_output(), ax)}; },
      {}, {}, Reads::output_only());
}
TAPEGRAD_OP(masked_softmax);

template <class T>
Var<T> masked_log_softmax(const Var<T>& x, const xt::xarray<bool>& mask, int axis) {
  check_defined("masked_log_softmax", {&x});
  const std::size_t ax = detail::normalize_axis("masked_log_softmax", axis, x.shape());
  xt::xarray<bool> m = detail::broadcast_mask("masked_log_softmax", mask, x.shape());
  Array<T> y = detail::empty_array<T>(x.shape());
  log_softmax_lanes(x.value().data(), y.data(), detail::lanes(x.shape(), ax), m.data());
  return record<T>(
      "masked_log_softmax", {x}, std::move(y),
      [ax, m = std::move(m)](const Context<T>& c) {
        return Grads<T>{log_softmax_grad(c.output(), c.grad_output(), ax, m.data())};
      },
      {}, {}, Reads::output_only());
}
TAPEGRAD_OP(masked_log_softmax);

template <class T>
Var<T> cross_entropy(const Var<T>& logits, const IndexArray& targets, LossOptions options) {
  check_defined("cross_entropy", {&logits});
  const auto [n, classes] = check_class_targets("cross_entropy", logits, targets, options);
  const bool batched = logits.ndim() == 2;
  const T eps = static_cast<T>(options.label_smoothing);
  Array<T> logp = detail::empty_array<T>(logits.shape());
  log_softmax_lanes(logits.value().data(), logp.data(), {n, classes, 1});
  std::vector<T> rows(n, T(0));
  std::size_t counted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Index t = targets.data()[i];
    if (t == options.ignore_index) continue;
    ++counted;
    const T* lp = logp.data() + i * classes;
    T smooth = T(0);
    if (eps != T(0)) {
      for (std::size_t c = 0; c < classes; ++c) smooth += lp[c];
    }
    // loss_i = -((1 - eps) logp_t + eps/C sum_c logp_c)
    rows[i] = -((T(1) - eps) * lp[t] + eps / static_cast<T>(classes) * smooth);
  }
  Array<T> y = reduce_rows(rows, counted, options.reduction, batched);
  // d loss_i / d x_ic = softmax_ic - q_ic, q = (1 - eps) onehot(t_i) + eps / C
  return record<T>(
      "cross_entropy", {logits}, std::move(y),
      [targets, options, n = n, classes = classes, counted, eps](const Context<T>& c) {
        const Array<T>& saved_logp = c.saved(0);
        Array<T> g = detail::empty_array<T>(saved_logp.shape());
        for (std::size_t i = 0; i < n; ++i) {
          const Index t = targets.data()[i];
          T* gr = g.data() + i * classes;
          if (t == options.ignore_index) {
            std::fill(gr, gr + classes, T(0));
            continue;
          }
          const T w = row_weight(c.grad_output(), i, counted, options.reduction);
          const T* lp = saved_logp.data() + i * classes;
          for (std::size_t k = 0; k < classes; ++k) {
            const T q = (k == static_cast<std::size_t>(t) ? T(1) - eps : T(0)) +
                        eps / static_cast<T>(classes);
            gr[k] = w * (std::exp(lp[k]) - q);
          }
        }
        return Grads<T>{std::move(g)};
      },
      {std::move(logp)}, {}, Reads::none());
}
TAPEGRAD_OP(cross_entropy);

template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const IndexArray& targets, LossOptions options) {
  check_defined("nll_loss", {&log_probs});
  const auto [n, classes] = check_class_targets("nll_loss", log_probs, targets, options);
  if (options.label_smoothing != 0.0) {
    throw value_error(fmt::format(
        "nll_loss: label_smoothing {} is not supported (cross_entropy has label smoothing)",
        options.label_smoothing));
  }
  const bool batched = log_probs.ndim() == 2;
  std::vector<T> rows(n, T(0));
  std::size_t counted = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const Index t = targets.data()[i];
    if (t == options.ignore_index) continue;
    ++counted;
    rows[i] = -log_probs.value().data()[i * classes + static_cast<std::size_t>(t)];
  }
  Array<T> y = reduce_rows(rows, counted, options.reduction, batched);
  // d loss_i / d logp_ic = -1 at c = t_i
  return record<T>(
      "nll_loss", {log_probs}, std::move(y),
      [targets, options, n = n, classes = classes, counted](const Context<T>& c) {
        Array<T> g = detail::zeros_array<T>(c.input_shape(0));
        for (std::size_t i = 0; i < n; ++i) {
          const Index t = targets.data()[i];
          if (t == options.ignore_index) continue;
          g.data()[i * classes + static_cast<std::size_t>(t)] =
              -row_weight(c.grad_output(), i, counted, options.reduction);
        }
        return Grads<T>{std::move(g)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(nll_loss);

template <class T>
Var<T> mse_loss(const Var<T>& a, const Var<T>& b, Reduction reduction) {
  check_defined("mse_loss", {&a, &b});
  if (a.shape() != b.shape()) {
    throw shape_error(fmt::format("mse_loss: input {} and target {} must have the same shape",
                                  shape_str(a.shape()), shape_str(b.shape())));
  }
  Array<T> d = a.value() - b.value();
  Array<T> sq = d * d;
  Array<T> y;
  if (reduction == Reduction::none) {
    y = std::move(sq);
  } else {
    T total = T(0);
    for (const T& v : sq) total += v;
    y = Array<T>::from_shape({});
    y() = reduction == Reduction::sum ? total : total / static_cast<T>(d.size());
  }
  // d/da = 2 (a - b) * w, d/db = -2 (a - b) * w
  return record<T>(
      "mse_loss", {a, b}, std::move(y),
      [reduction](const Context<T>& c) {
        const Array<T>& diff = c.saved(0);
        Array<T> ga;
        if (reduction == Reduction::none) {
          ga = T(2) * diff * c.grad_output();
        } else {
          const T w = reduction == Reduction::sum ? c.grad_output()()
                                                  : c.grad_output()() / static_cast<T>(diff.size());
          ga = T(2) * w * diff;
        }
        Grads<T> grads(2);
        if (c.needs_grad(1)) grads[1] = Array<T>(-ga);
        if (c.needs_grad(0)) grads[0] = std::move(ga);
        return grads;
      },
      {std::move(d)}, {}, Reads::none());
}
TAPEGRAD_OP(mse_loss);

template <class T>
Var<T> bce_with_logits(const Var<T>& logits, const Var<T>& targets, Reduction reduction) {
  check_defined("bce_with_logits", {&logits, &targets});
  if (logits.shape() != targets.shape()) {
    throw shape_error(
        fmt::format("bce_with_logits: logits {} and targets {} must have the same shape",
                    shape_str(logits.shape()), shape_str(targets.shape())));
  }
  const Array<T>& x = logits.value();
  const Array<T>& t = targets.value();
  // l = max(x, 0) - x t + log(1 + exp(-|x|)): no overflow for any finite x
  Array<T> l = xt::maximum(x, T(0)) - x * t + xt::log1p(xt::exp(-xt::abs(x)));
  Array<T> y;
  if (reduction == Reduction::none) {
    y = std::move(l);
  } else {
    T total = T(0);
    for (const T& v : l) total += v;
    y = Array<T>::from_shape({});
    y() = reduction == Reduction::sum ? total : total / static_cast<T>(l.size());
  }
  // dl/dx = sigmoid(x) - t, dl/dt = -x
  return record<T>(
      "bce_with_logits", {logits, targets}, std::move(y),
      [reduction](const Context<T>& c) {
        const Array<T>& xv = c.input(0);
        const Array<T>& tv = c.input(1);
        Array<T> w;
        if (reduction == Reduction::none) {
          w = c.grad_output();
        } else {
          w = Array<T>::from_shape(xv.shape());
          w.fill(reduction == Reduction::sum ? c.grad_output()()
                                             : c.grad_output()() / static_cast<T>(xv.size()));
        }
        Grads<T> grads(2);
        if (c.needs_grad(0)) grads[0] = Array<T>(w * (T(1) / (T(1) + xt::exp(-xv)) - tv));
        if (c.needs_grad(1)) grads[1] = Array<T>(-w * xv);
        return grads;
      },
      {}, {}, Reads::all_inputs_only());
}
TAPEGRAD_OP(bce_with_logits);

template <class T>
Var<T> dropout(const Var<T>& x, double p, bool training, Generator& generator) {
  check_defined("dropout", {&x});
  if (!(p >= 0.0 && p < 1.0)) {
    throw value_error(fmt::format("dropout: p = {} is outside [0, 1)", p));
  }
  if (!training || p == 0.0) return x;
  Array<T> mask = generator.bernoulli<T>(x.shape(), 1.0 - p);
  mask *= static_cast<T>(1.0 / (1.0 - p));
  Array<T> y = x.value() * mask;
  // dy/dx = mask / (1 - p)
  return record<T>(
      "dropout", {x}, std::move(y),
      [](const Context<T>& c) { return Grads<T>{Array<T>(c.grad_output() * c.saved(0))}; },
      {std::move(mask)}, {}, Reads::none());
}
TAPEGRAD_OP_OVERLOAD(dropout, Var<T>(const Var<T>&, double, bool, Generator&));

template <class T>
Var<T> dropout(const Var<T>& x, double p, bool training) {
  return dropout(x, p, training, default_generator());
}
TAPEGRAD_OP_OVERLOAD(dropout, Var<T>(const Var<T>&, double, bool));

}  // namespace tapegrad
