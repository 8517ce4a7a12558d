// What the optimizer files share (not installed): argument checks and buffer helpers.
#pragma once

#include <cmath>
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
