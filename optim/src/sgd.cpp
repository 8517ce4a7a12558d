// SGD's update (momentum, dampening, nesterov, weight decay), in PyTorch's order of operations.
#include <cmath>
#include <cstddef>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

namespace {

using detail::muladd;

/// Which momentum step: none, the first (b = g, as PyTorch's clone of the gradient), or later.
enum class Momentum { none, first, later };

/// The numbers of one parameter's update, in T.
template <class T>
struct SGDScalars {
  T wd, mom, damp, lr;
};

/// One pass over a parameter's n elements, in PyTorch's order of operations:
///   g = grad (+ wd p); with momentum b = momentum b + (1 - dampening) g (b = g at first),
///   g = nesterov ? g + momentum b : b; p -= lr g.
/// Each combination of settings is a loop of its own with no branch inside (vectorised; lanes
/// round as scalar code does). The buffers never overlap.
template <bool Decay, Momentum M, bool Nesterov, class T>
void sgd_pass(const SGDScalars<T> s, const std::size_t n, T* __restrict p, const T* __restrict grad,
              T* __restrict buf) {
  const T wd = s.wd, mom = s.mom, damp = s.damp, lr = s.lr;
  for (std::size_t i = 0; i < n; ++i) {
    T g = grad[i];
    if constexpr (Decay) g = muladd(wd, p[i], g);
    if constexpr (M != Momentum::none) {
      if constexpr (M == Momentum::first) {
        buf[i] = g;
      } else {
        buf[i] = muladd(mom, buf[i], (T(1) - damp) * g);
      }
      if constexpr (Nesterov) {
        g = muladd(mom, buf[i], g);
      } else {
        g = buf[i];
      }
    }
    p[i] = muladd(-lr, g, p[i]);
  }
}

/// sgd_pass for the momentum step and nesterov setting given at run time.
template <bool Decay, class T>
void sgd_pass(Momentum momentum, bool nesterov, const SGDScalars<T>& s, std::size_t n, T* p,
              const T* grad, T* buf) {
  switch (momentum) {
    case Momentum::none:
      sgd_pass<Decay, Momentum::none, false>(s, n, p, grad, buf);
      break;
    case Momentum::first:
      if (nesterov) {
        sgd_pass<Decay, Momentum::first, true>(s, n, p, grad, buf);
      } else {
        sgd_pass<Decay, Momentum::first, false>(s, n, p, grad, buf);
      }
      break;
    case Momentum::later:
      if (nesterov) {
        sgd_pass<Decay, Momentum::later, true>(s, n, p, grad, buf);
      } else {
        sgd_pass<Decay, Momentum::later, false>(s, n, p, grad, buf);
      }
      break;
  }
}

}  // namespace

template <class T>
SGD<T>::SGD(std::vector<Var<T>> params, SGDOptions options)
    : SGD(detail::one_group(std::move(params), options.lr), options) {}

template <class T>
SGD<T>::SGD(std::vector<ParamGroup<T>> groups, SGDOptions options)
    : Optimizer<T>(detail::with_default_lr(std::move(groups), options.lr), "SGD"), o_(options) {
  detail::check_lr("SGD", o_.lr);
  detail::check_nonnegative("SGD", "momentum", o_.momentum);
  detail::check_nonnegative("SGD", "weight_decay", o_.weight_decay);
  if (!std::isfinite(o_.dampening)) {
    throw value_error(fmt::format("SGD: dampening = {} must be finite", o_.dampening));
  }
  if (o_.nesterov && (o_.momentum <= 0.0 || o_.dampening != 0.0)) {
    throw value_error(
        fmt::format("SGD: nesterov needs momentum > 0 and dampening 0, got momentum {}, "
                    "dampening {}",
                    o_.momentum, o_.dampening));
  }
}

template <class T>
void SGD<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t,
                    ParamState<T>& state) {
  SGDScalars<T> s{};
  s.wd = static_cast<T>(o_.weight_decay);
  s.mom = static_cast<T>(o_.momentum);
  s.damp = static_cast<T>(o_.dampening);
  s.lr = static_cast<T>(lr);
  bool first = state.empty();
  if (first) {
    state.add("momentum_buffer",
              o_.momentum != 0.0 ? detail::zeros_like(grad) : detail::absent<T>());
  }
  const std::size_t n = grad.size();
  T* buf = nullptr;
  Momentum momentum = Momentum::none;
  if (s.mom != T(0)) {
    Array<T>& b = state.buffer(0);  // "momentum_buffer", by position: no lookup
    // An absent buffer (PyTorch's None) starts as PyTorch's does, b = g. (A loaded state
    // without it arrives empty: the branch above makes it.)
    if (b.size() != n) {
      b = Array<T>::from_shape(grad.shape());
      first = true;
    }
    buf = b.data();
    momentum = first ? Momentum::first : Momentum::later;
  }
  T* p = param.mutable_value().data();
  if (s.wd != T(0)) {
    sgd_pass<true>(momentum, o_.nesterov, s, n, p, grad.data(), buf);
  } else {
    sgd_pass<false>(momentum, o_.nesterov, s, n, p, grad.data(), buf);
  }
}

template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim
