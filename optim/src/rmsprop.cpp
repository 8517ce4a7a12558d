// RMSprop's update (centered, momentum, weight decay), in PyTorch's order of operations.
#include <cmath>
#include <cstddef>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

namespace {

using detail::muladd;

/// The numbers of one parameter's update, in T.
template <class T>
struct RMSpropScalars {
  T alpha, eps, wd, mom, lr;
};

/// One pass over a parameter's n elements, in PyTorch's order of operations:
///   g = grad (+ wd p), s = alpha s + (1 - alpha) g g,
///   centered: a = alpha a + (1 - alpha) g, d = sqrt(s - a a) + eps; else d = sqrt(s) + eps,
///   momentum: b = momentum b + g / d, p -= lr b; else p -= lr (g / d).
/// Each combination of settings is a loop of its own with no branch inside (vectorised; lanes
/// round as scalar code does). The buffers never overlap.
template <bool Decay, bool Centered, bool Momentum, class T>
void rmsprop_pass(const RMSpropScalars<T> s, const std::size_t n, T* __restrict p,
                  const T* __restrict grad, T* __restrict sq, T* __restrict ga, T* __restrict buf) {
  const T alpha = s.alpha, eps = s.eps, wd = s.wd, mom = s.mom, lr = s.lr;
  for (std::size_t i = 0; i < n; ++i) {
    T g = grad[i];
    if constexpr (Decay) g = muladd(wd, p[i], g);
    sq[i] = muladd(alpha, sq[i], (T(1) - alpha) * g * g);
    T avg;
    if constexpr (Centered) {
      ga[i] = muladd(alpha, ga[i], (T(1) - alpha) * g);
      avg = std::sqrt(muladd(-ga[i], ga[i], sq[i])) + eps;
    } else {
      avg = std::sqrt(sq[i]) + eps;
    }
    if constexpr (Momentum) {
      buf[i] = muladd(mom, buf[i], g / avg);
      p[i] = muladd(-lr, buf[i], p[i]);
    } else {
      p[i] = muladd(-lr, g / avg, p[i]);
    }
  }
}

/// rmsprop_pass for the momentum setting given at run time.
template <bool Decay, bool Centered, class T>
void rmsprop_pass(bool momentum, const RMSpropScalars<T>& s, std::size_t n, T* p, const T* grad,
                  T* sq, T* ga, T* buf) {
  if (momentum) {
    rmsprop_pass<Decay, Centered, true>(s, n, p, grad, sq, ga, buf);
  } else {
    rmsprop_pass<Decay, Centered, false>(s, n, p, grad, sq, ga, buf);
  }
}

/// rmsprop_pass for the settings given at run time.
template <bool Decay, class T>
void rmsprop_pass(bool centered, bool momentum, const RMSpropScalars<T>& s, std::size_t n, T* p,
                  const T* grad, T* sq, T* ga, T* buf) {
  if (centered) {
    rmsprop_pass<Decay, true>(momentum, s, n, p, grad, sq, ga, buf);
  } else {
    rmsprop_pass<Decay, false>(momentum, s, n, p, grad, sq, ga, buf);
  }
}

}  // namespace

template <class T>
RMSprop<T>::RMSprop(std::vector<Var<T>> params, RMSpropOptions options)
    : RMSprop(detail::one_group(std::move(params), options.lr), options) {}

template <class T>
RMSprop<T>::RMSprop(std::vector<ParamGroup<T>> groups, RMSpropOptions options)
    : Optimizer<T>(detail::with_default_lr(std::move(groups), options.lr), "RMSprop"), o_(options) {
  detail::check_lr("RMSprop", o_.lr);
  detail::check_beta("RMSprop", "alpha", o_.alpha);
  detail::check_nonnegative("RMSprop", "eps", o_.eps);
  detail::check_nonnegative("RMSprop", "momentum", o_.momentum);
  detail::check_nonnegative("RMSprop", "weight_decay", o_.weight_decay);
}

template <class T>
void RMSprop<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t,
                        ParamState<T>& state) {
  if (state.empty()) {
    state.add("square_avg", detail::zeros_like(grad));
    state.add("grad_avg", o_.centered ? detail::zeros_like(grad) : detail::absent<T>());
    state.add("momentum_buffer",
              o_.momentum > 0.0 ? detail::zeros_like(grad) : detail::absent<T>());
  }
  const bool momentum = static_cast<T>(o_.momentum) > T(0);
  T* sq = detail::buffer_data(state, 0, grad);                          // square_avg
  T* ga = o_.centered ? detail::buffer_data(state, 1, grad) : nullptr;  // grad_avg
  T* buf = momentum ? detail::buffer_data(state, 2, grad) : nullptr;    // momentum_buffer
  const std::size_t n = grad.size();
  RMSpropScalars<T> s{};
  s.alpha = static_cast<T>(o_.alpha);
  s.eps = static_cast<T>(o_.eps);
  s.wd = static_cast<T>(o_.weight_decay);
  s.mom = static_cast<T>(o_.momentum);
  s.lr = static_cast<T>(lr);
  T* p = param.mutable_value().data();
  const T* g = grad.data();
  if (s.wd != T(0)) {
    rmsprop_pass<true>(o_.centered, momentum, s, n, p, g, sq, ga, buf);
  } else {
    rmsprop_pass<false>(o_.centered, momentum, s, n, p, g, sq, ga, buf);
  }
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace tapegrad::optim
