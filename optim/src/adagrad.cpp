// Adagrad's update rule, in PyTorch's order of operations.
#include <cmath>
#include <cstddef>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

namespace {

using detail::muladd;

/// One pass over a parameter's n elements, in PyTorch's order of operations:
///   g = grad (+ wd p), s += g g, p -= clr (g / (sqrt(s) + eps)).
/// With and without weight decay, a loop of its own with no branch inside (vectorised; lanes
/// round as scalar code does). The buffers never overlap.
template <bool Decay, class T>
void adagrad_pass(const T wd, const T eps, const T clr, const std::size_t n, T* __restrict p,
                  const T* __restrict grad, T* __restrict sum) {
  for (std::size_t i = 0; i < n; ++i) {
    T g = grad[i];
    if constexpr (Decay) g = muladd(wd, p[i], g);
    sum[i] = muladd(g, g, sum[i]);
    p[i] = muladd(-clr, g / (std::sqrt(sum[i]) + eps), p[i]);
  }
}

}  // namespace

template <class T>
Adagrad<T>::Adagrad(std::vector<Var<T>> params, AdagradOptions options)
    : Adagrad(detail::one_group(std::move(params), options.lr), options) {}

template <class T>
Adagrad<T>::Adagrad(std::vector<ParamGroup<T>> groups, AdagradOptions options)
    : Optimizer<T>(detail::with_default_lr(std::move(groups), options.lr), "Adagrad"), o_(options) {
  detail::check_lr("Adagrad", o_.lr);
  detail::check_nonnegative("Adagrad", "lr_decay", o_.lr_decay);
  detail::check_nonnegative("Adagrad", "weight_decay", o_.weight_decay);
  detail::check_nonnegative("Adagrad", "initial_accumulator_value", o_.initial_accumulator_value);
  detail::check_nonnegative("Adagrad", "eps", o_.eps);
}

template <class T>
void Adagrad<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step_count,
                        ParamState<T>& state) {
  if (state.empty()) {
    Array<T> s = Array<T>::from_shape(grad.shape());
    s.fill(static_cast<T>(o_.initial_accumulator_value));
    state.add("sum", std::move(s));
  }
  const T wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps);
  // clr = lr / (1 + (t - 1) lr_decay), in double
  const T clr = static_cast<T>(lr / muladd(static_cast<double>(step_count - 1), o_.lr_decay, 1.0));
  const std::size_t n = grad.size();
  T* sum = detail::buffer_data(state, 0, grad);  // "sum"
  T* p = param.mutable_value().data();
  if (wd != T(0)) {
    adagrad_pass<true>(wd, eps, clr, n, p, grad.data(), sum);
  } else {
    adagrad_pass<false>(wd, eps, clr, n, p, grad.data(), sum);
  }
}

template class Adagrad<float>;
template class Adagrad<double>;

}  // namespace tapegrad::optim
