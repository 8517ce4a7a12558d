// Helpers shared by the op implementations (not installed).
#pragma once

#include <cstddef>
#include <string>

#include <fmt/format.h>

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/var.hpp"

namespace tapegrad::detail {

/// A usage_error unless every Var is defined.
template <class T>
void check_defined(const char* op, std::initializer_list<const Var<T>*> vars) {
  std::size_t i = 0;
  for (const Var<T>* v : vars) {
    if (!v->defined()) throw usage_error(fmt::format("{}: argument {} is an empty Var", op, i));
    ++i;
  }
}

/// Maps a possibly negative axis into [0, ndim); a shape_error naming the op otherwise.
std::size_t normalize_axis(const char* op, int axis, const Shape& shape);

/// NumPy broadcasting of two shapes; a shape_error naming the op and both shapes otherwise.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// A mask broadcast to `shape`, element by element; a shape_error naming the op and both shapes
/// when the mask does not broadcast to exactly that shape.
xt::xarray<bool> broadcast_mask(const char* op, const xt::xarray<bool>& mask, const Shape& shape);

/// Product of the sizes in [begin, end).
std::size_t product(const Shape& shape, std::size_t begin, std::size_t end);

/// An uninitialised array of the given shape.
template <class T>
Array<T> empty_array(const Shape& shape) {
  return Array<T>::from_shape(shape);
}

/// A zero array of the given shape.
template <class T>
Array<T> zeros_array(const Shape& shape) {
  Array<T> a = Array<T>::from_shape(shape);
  std::fill(a.begin(), a.end(), T(0));
  return a;
}

/// `shape` with `axis` removed, or set to 1 when keepdims.
Shape reduced_shape(const Shape& shape, std::size_t axis, bool keepdims);

/// An array viewed as [outer, n, inner] around `axis`.
struct Lanes {
  std::size_t outer, n, inner;
};
Lanes lanes(const Shape& shape, std::size_t axis);

}  // namespace tapegrad::detail
