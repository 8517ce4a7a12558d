// Adam's and AdamW's update rule, in PyTorch's order of operations.
#include <algorithm>
#include <cmath>
#include <cstddef>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

namespace {

using detail::muladd;

/// Where the weight decay goes: nowhere, into the gradient (Adam's L2), or onto p (AdamW).
enum class Decay { none, l2, decoupled };

/// The numbers of one parameter's update, in T.
template <class T>
struct AdamScalars {
  T b1, b2, wd, eps;
  T bias2_sqrt;  // sqrt(1 - b2^t)
  T step_size;   // lr / (1 - b1^t)
  T decay;       // AdamW's factor 1 - lr wd
};

/// One pass over a parameter's n elements, in PyTorch's order of operations:
///   g = grad (+ wd p for Adam's L2), p *= 1 - lr wd first for AdamW,
///   m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g g, (amsgrad: vmax = max(vmax, v)),
///   p -= step_size * (m / (sqrt(v or vmax) / sqrt(1 - b2^t) + eps)).
/// The settings are template arguments: each combination is a loop of its own with no branch
/// inside, which the compiler vectorises. Elementwise IEEE operations round the same in every
/// lane as in a scalar loop, so vectorising changes no result. The buffers never overlap.
template <Decay D, bool Amsgrad, class T>
void adam_pass(const AdamScalars<T> s, const std::size_t n, T* __restrict p,
               const T* __restrict grad, T* __restrict m, T* __restrict v, T* __restrict vmax) {
  const T b1 = s.b1, b2 = s.b2, wd = s.wd, eps = s.eps, bias2_sqrt = s.bias2_sqrt;
  const T step_size = s.step_size, decay = s.decay;
  for (std::size_t i = 0; i < n; ++i) {
    T g = grad[i];
    if constexpr (D == Decay::decoupled) {
      p[i] = p[i] * decay;  // AdamW: p *= 1 - lr wd
    } else if constexpr (D == Decay::l2) {
      g = muladd(wd, p[i], g);  // Adam: L2 through the gradient
    }
    m[i] = muladd(b1, m[i], (T(1) - b1) * g);
    v[i] = muladd(b2, v[i], (T(1) - b2) * g * g);
    T denom;
    if constexpr (Amsgrad) {
      vmax[i] = std::max(vmax[i], v[i]);
      denom = std::sqrt(vmax[i]) / bias2_sqrt + eps;
    } else {
      denom = std::sqrt(v[i]) / bias2_sqrt + eps;
    }
    p[i] = muladd(-step_size, m[i] / denom, p[i]);
  }
}

/// adam_pass for the settings given at run time.
template <Decay D, class T>
void adam_pass(bool amsgrad, const AdamScalars<T>& s, std::size_t n, T* p, const T* grad, T* m,
               T* v, T* vmax) {
  if (amsgrad) {
    adam_pass<D, true>(s, n, p, grad, m, v, vmax);
  } else {
    adam_pass<D, false>(s, n, p, grad, m, v, vmax);
  }
}

}  // namespace

template <class T>
Adam<T>::Adam(std::vector<Var<T>> params, AdamOptions options)
    : Adam(detail::one_group(std::move(params), options.lr), options, false, "Adam") {}

template <class T>
Adam<T>::Adam(std::vector<ParamGroup<T>> groups, AdamOptions options)
    : Adam(std::move(groups), options, false, "Adam") {}

template <class T>
Adam<T>::Adam(std::vector<ParamGroup<T>> groups, AdamOptions options, bool decoupled,
              const char* name)
    : Optimizer<T>(detail::with_default_lr(std::move(groups), options.lr), name),
      o_(options),
      decoupled_(decoupled) {
  detail::check_lr(name, o_.lr);
  detail::check_beta(name, "beta1", o_.beta1);
  detail::check_beta(name, "beta2", o_.beta2);
  detail::check_nonnegative(name, "eps", o_.eps);
  detail::check_nonnegative(name, "weight_decay", o_.weight_decay);
}

template <class T>
void Adam<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step_count,
                     ParamState<T>& state) {
  if (state.empty()) {
    state.add("exp_avg", detail::zeros_like(grad));
    state.add("exp_avg_sq", detail::zeros_like(grad));
    state.add("max_exp_avg_sq", o_.amsgrad ? detail::zeros_like(grad) : detail::absent<T>());
  }
  T* m = detail::buffer_data(state, 0, grad);                            // exp_avg
  T* v = detail::buffer_data(state, 1, grad);                            // exp_avg_sq
  T* vmax = o_.amsgrad ? detail::buffer_data(state, 2, grad) : nullptr;  // max_exp_avg_sq
  const std::size_t n = grad.size();
  const double t = static_cast<double>(step_count);
  AdamScalars<T> s{};
  s.b1 = static_cast<T>(o_.beta1);
  s.b2 = static_cast<T>(o_.beta2);
  s.wd = static_cast<T>(o_.weight_decay);
  s.eps = static_cast<T>(o_.eps);
  s.bias2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(o_.beta2, t)));
  s.step_size = static_cast<T>(lr) / static_cast<T>(1.0 - std::pow(o_.beta1, t));
  s.decay = muladd(-static_cast<T>(lr), s.wd, T(1));
  T* p = param.mutable_value().data();
  const T* g = grad.data();
  if (decoupled_ && s.decay != T(1)) {  // p * 1 is p: AdamW with a factor of 1 skips it
    adam_pass<Decay::decoupled>(o_.amsgrad, s, n, p, g, m, v, vmax);
  } else if (!decoupled_ && s.wd != T(0)) {
    adam_pass<Decay::l2>(o_.amsgrad, s, n, p, g, m, v, vmax);
  } else {
    adam_pass<Decay::none>(o_.amsgrad, s, n, p, g, m, v, vmax);
  }
}

template <class T>
AdamW<T>::AdamW(std::vector<Var<T>> params, AdamWOptions options)
    : Adam<T>(detail::one_group(std::move(params), options.lr), options, true, "AdamW") {}

template <class T>
AdamW<T>::AdamW(std::vector<ParamGroup<T>> groups, AdamWOptions options)
    : Adam<T>(std::move(groups), options, true, "AdamW") {}

template class Adam<float>;
template class Adam<double>;
template class AdamW<float>;
template class AdamW<double>;

}  // namespace tapegrad::optim
