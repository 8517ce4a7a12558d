// The one place that includes xtensor for the public API: an xtensor upgrade touches this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tapegrad {

/// Values and gradients: dense, row-major n-dimensional arrays.
template <class T>
using Array = xt::xarray<T>;

/// A shape, as xtensor stores it (a small inline vector of sizes).
using Shape = xt::xarray<float>::shape_type;

/// Class indices and embedding ids.
using Index = std::int64_t;
using IndexArray = xt::xarray<Index>;

/// An array with no elements (shape [0]). Unlike a default-constructed xtensor array (a 0-d
/// scalar), it allocates nothing: the engine uses it for "no value here".
template <class T>
Array<T> no_array() {
  return Array<T>::from_shape({0});
}

/// "[2,3]"; "[]" for a scalar.
std::string shape_str(const Shape& shape);

/// Builds a Shape from a braced list: `make_shape({2, 3})`.
Shape make_shape(std::initializer_list<std::size_t> sizes);
Shape make_shape(const std::vector<std::size_t>& sizes);

/// Number of elements of a shape (1 for a scalar).
std::size_t shape_size(const Shape& shape);

/// The values as text, NumPy style (for printing; xtensor's printer stays out of your build).
std::string to_string(const Array<float>& a);
std::string to_string(const Array<double>& a);

}  // namespace tapegrad
