// Adam's and AdamW's update rule, in PyTorch's order of operations.
#include <cmath>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

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
  const double t = static_cast<double>(step_count);
  const T b1 = static_cast<T>(o_.beta1), b2 = static_cast<T>(o_.beta2);
  const T wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps);
  const T bias1 = static_cast<T>(1.0 - std::pow(o_.beta1, t));
  const T bias2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(o_.beta2, t)));
  const T step_size = static_cast<T>(lr) / bias1;
  Array<T>& p = param.mutable_value();
  T* m = state["exp_avg"].data();
  T* v = state["exp_avg_sq"].data();
  T* vmax = o_.amsgrad ? state["max_exp_avg_sq"].data() : nullptr;
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (decoupled_) {
      p.data()[i] *= T(1) - static_cast<T>(lr) * wd;  // AdamW: p *= 1 - lr wd
    } else if (wd != T(0)) {
      g = g + wd * p.data()[i];  // Adam: L2 through the gradient
    }
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    T denom;
    if (vmax != nullptr) {
      vmax[i] = std::max(vmax[i], v[i]);
      denom = std::sqrt(vmax[i]) / bias2_sqrt + eps;
    } else {
      denom = std::sqrt(v[i]) / bias2_sqrt + eps;
    }
    p.data()[i] -= step_size * (m[i] / denom);
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
