// Adagrad's update rule, in PyTorch's order of operations.
#include <cmath>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

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
  const T clr = static_cast<T>(lr / (1.0 + static_cast<double>(step_count - 1) * o_.lr_decay));
  Array<T>& p = param.mutable_value();
  T* sum = state["sum"].data();
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (wd != T(0)) g = g + wd * p.data()[i];
    sum[i] += g * g;
    p.data()[i] -= clr * (g / (std::sqrt(sum[i]) + eps));
  }
}

template class Adagrad<float>;
template class Adagrad<double>;

}  // namespace tapegrad::optim
