// What the optimizer files share (not installed): argument checks and buffer helpers.
#pragma once

#include <cmath>
#include <cstddef>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim::detail {

/// All parameters in one group with learning rate `lr`.
template <class T>
std::vector<ParamGroup<T>> one_group(std::vector<Var<T>> params, double lr) {
  return {ParamGroup<T>{std::move(params), lr}};
}

/// The groups, those given no learning rate given the optimizer's `lr`.
template <class T>
std::vector<ParamGroup<T>> with_default_lr(std::vector<ParamGroup<T>> groups, double lr) {
  for (auto& group : groups) {
    if (!group.has_lr) {
      group.lr = lr;
      group.has_lr = true;
    }
  }
  return groups;
}

/// An array of zeros of a's shape.
template <class T>
Array<T> zeros_like(const Array<T>& a) {
  Array<T> z = Array<T>::from_shape(a.shape());
  z.fill(T(0));
  return z;
}

/// An absent buffer (PyTorch's None): a [0]-shaped array.
template <class T>
Array<T> absent() {
  return Array<T>::from_shape({0});
}

/// a * b + c, rounded once where the target has fused multiply-add (tapegrad's default
/// -march=x86-64-v3 has), twice otherwise. The update loops name every product they fuse and
/// their files are compiled with -ffp-contract=off, so results do not hang on the compiler's
/// choice of contractions; the products fused are the ones GCC's default contraction fused in
/// the loops before they were written this way (in `x * y + z * w`, the first product).
template <class T>
T muladd(T a, T b, T c) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

/// The data of buffer `k` of `state` (by position: no name is looked up per step), which an
/// update of `grad` needs. Absent, as in a state saved under other settings (Adam's without
/// amsgrad, RMSprop's without centering or momentum), it starts at zeros, as at a first step.
template <class T>
T* buffer_data(ParamState<T>& state, std::size_t k, const Array<T>& grad) {
  Array<T>& b = state.buffer(k);
  const bool absent = b.dimension() == 1 && b.size() == 0;  // detail::absent()
  if (absent && b.shape() != grad.shape()) b = zeros_like(grad);
  if (b.shape() != grad.shape()) {  // load_state_dict checks shapes: this is a bug
    throw internal_error(fmt::format("optimizer: state buffer {} has shape {}, the gradient {}", k,
                                     shape_str(b.shape()), shape_str(grad.shape())));
  }
  return b.data();
}

/// A value_error unless the learning rate is finite and >= 0.
inline void check_lr(const char* name, double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    throw value_error(fmt::format("{}: learning rate {} must be finite and >= 0", name, lr));
  }
}

/// A value_error unless the setting `what` of optimizer `name` is finite and >= 0.
inline void check_nonnegative(const char* name, const char* what, double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) {
    throw value_error(fmt::format("{}: {} = {} must be finite and >= 0", name, what, v));
  }
}

/// A value_error unless the setting `what` of optimizer `name` is in [0, 1).
inline void check_beta(const char* name, const char* what, double v) {
  if (!(v >= 0.0 && v < 1.0)) {
    throw value_error(fmt::format("{}: {} = {} must be in [0, 1)", name, what, v));
  }
}

}  // namespace tapegrad::optim::detail
