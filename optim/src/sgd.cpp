// SGD's update (momentum, dampening, nesterov, weight decay), in PyTorch's order of operations.
#include <cmath>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

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
  const T wd = static_cast<T>(o_.weight_decay), mom = static_cast<T>(o_.momentum);
  const T damp = static_cast<T>(o_.dampening), step = static_cast<T>(lr);
  const bool first = state.empty();
  if (first)
    state.add("momentum_buffer",
              o_.momentum != 0.0 ? detail::zeros_like(grad) : detail::absent<T>());
  Array<T>& p = param.mutable_value();
  T* buf = state["momentum_buffer"].data();
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (wd != T(0)) g = g + wd * p.data()[i];
    if (mom != T(0)) {
      buf[i] = first ? g : mom * buf[i] + (T(1) - damp) * g;
      g = o_.nesterov ? g + mom * buf[i] : buf[i];
    }
    p.data()[i] -= step * g;
  }
}

template class SGD<float>;
template class SGD<double>;

}  // namespace tapegrad::optim
