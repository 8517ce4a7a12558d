// RMSprop's update (centered, momentum, weight decay), in PyTorch's order of operations.
#include <cmath>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

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
  const T alpha = static_cast<T>(o_.alpha), eps = static_cast<T>(o_.eps);
  const T wd = static_cast<T>(o_.weight_decay), mom = static_cast<T>(o_.momentum);
  const T step = static_cast<T>(lr);
  Array<T>& p = param.mutable_value();
  T* sq = state["square_avg"].data();
  T* ga = state["grad_avg"].data();
  T* buf = state["momentum_buffer"].data();
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (wd != T(0)) g = g + wd * p.data()[i];
    sq[i] = alpha * sq[i] + (T(1) - alpha) * g * g;
    T avg;
    if (o_.centered) {
      ga[i] = alpha * ga[i] + (T(1) - alpha) * g;
      avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
    } else {
      avg = std::sqrt(sq[i]) + eps;
    }
    if (mom > T(0)) {
      buf[i] = mom * buf[i] + g / avg;
      p.data()[i] -= step * buf[i];
    } else {
      p.data()[i] -= step * (g / avg);
    }
  }
}

template class RMSprop<float>;
template class RMSprop<double>;

}  // namespace tapegrad::optim
