/// @file
/// The one place that includes xtensor for the public API, with xtensor.hpp (what the umbrella
/// header adds for a user's program): an xtensor upgrade touches these two files.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <type_traits>
#include <vector>

#include <xtensor/xarray.hpp>

/// Everything of tapegrad. The engine (target tapegrad::autograd) is here itself: Var, the
/// tape and backward, the ops, gradcheck, arrays and their factories, random numbers, .npz
/// files, input limits, error kinds. The layers, optimizers and data tools are in nn, optim
/// and data.
namespace tapegrad {

namespace detail {
void* cached_allocate(std::size_t bytes);
void cached_deallocate(void* p, std::size_t bytes) noexcept;
}  // namespace detail

/// Namespace of the allocator alone. It declares no function, and must not: an Array's type
/// names its allocator, so argument-dependent lookup of every unqualified call inside xtensor on
/// an Array looks in this namespace. Were the allocator in namespace tapegrad, such a call would
/// find tapegrad's ops: xt::mean calls `sum<void>(e, ...)`, which found tapegrad::sum.
namespace memory {

/// The allocator of Array storage: 64-byte aligned blocks that, when freed, stay in a cache of
/// the freeing thread (by size, at most 1 GiB per thread) and are handed out again. A training
/// loop allocates the same shapes every step: it then neither calls malloc for them nor
/// page-faults on memory given back to the system. See cached_bytes() and release_cache().
/// Builds with AddressSanitizer cache nothing, so that it sees every use after free.
template <class T>
struct CachingAllocator {
  /// @{
  /// The standard Allocator interface (std::allocator_traits): allocate(n) takes a block for n
  /// elements from this thread's cache, or new memory when none of that size is cached
  /// (std::bad_alloc when there is none); deallocate(p, n) puts the block into the cache of the
  /// calling thread. Stateless: every CachingAllocator, of any element type, compares equal
  /// (one frees what another allocated), and converts to one of another element type.
  using value_type = T;
  CachingAllocator() noexcept = default;
  template <class U>
  CachingAllocator(const CachingAllocator<U>&) noexcept {}  // NOLINT: implicit, as std::allocator
  T* allocate(std::size_t n) { return static_cast<T*>(detail::cached_allocate(n * sizeof(T))); }
  void deallocate(T* p, std::size_t n) noexcept { detail::cached_deallocate(p, n * sizeof(T)); }
  template <class U>
  bool operator==(const CachingAllocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const CachingAllocator<U>&) const noexcept {
    return false;
  }
  /// @}
};

}  // namespace memory

/// tapegrad::CachingAllocator names it too; lookup still goes by where it is defined (memory).
using memory::CachingAllocator;

/// Bytes of freed blocks this thread's cache holds for reuse.
std::size_t cached_bytes();
/// Gives this thread's cached blocks back to the system.
void release_cache();

/// Values and gradients: dense, row-major n-dimensional arrays.
template <class T>
using Array = xt::xarray<T, xt::layout_type::row_major, CachingAllocator<T>>;

/// A shape, as xtensor stores it (a small inline vector of sizes).
using Shape = xt::xarray<float>::shape_type;

/// Class indices and embedding ids.
using Index = std::int64_t;
/// Class indices or embedding ids of a batch (targets [n], ids [T, B]): int64, as PyTorch's.
using IndexArray = Array<Index>;

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
/// Builds a Shape from sizes computed at run time.
Shape make_shape(const std::vector<std::size_t>& sizes);

/// Number of elements of a shape (1 for a scalar).
std::size_t shape_size(const Shape& shape);

/// @{
/// The values as text, NumPy style (for printing; xtensor's printer stays out of your build).
std::string to_string(const Array<float>& a);
std::string to_string(const Array<double>& a);
/// @}

namespace detail {
/// A value_error naming `op` when the shape's element count does not fit in memory's address
/// range (a negative size converted to std::size_t, or a product that overflows).
void check_shape(const char* op, const Shape& shape);
/// The number of values of arange(start, stop, step), checked (a value_error for a step of 0,
/// a bound or step that is not finite, or a count beyond memory).
std::size_t arange_size(double start, double stop, double step);
std::size_t arange_size(std::int64_t start, std::int64_t stop, std::int64_t step);
/// An array of `shape` filled with `value`, its shape checked for `op`.
template <class T>
Array<T> filled(const char* op, const Shape& shape, T value) {
  check_shape(op, shape);
  return Array<T>(shape, value);
}
}  // namespace detail

// ---- factories: arrays of a shape, given as a braced list (`zeros({2, 3})`) or a Shape ----
// (Array<float>({2, 3}) is not a 2x3 array but the 1-D array {2, 3}: an xtensor trap.)

/// @{
/// An array of `shape` with every element `value`: `full({2, 3}, 0.5f)`. Shapes: -> shape.
template <class T>
Array<T> full(const Shape& shape, T value) {
  return detail::filled<T>("full", shape, value);
}
template <class T>
Array<T> full(std::initializer_list<std::size_t> shape, T value) {
  return detail::filled<T>("full", make_shape(shape), value);
}
/// @}

/// @{
/// Zeros of `shape`, float unless T is given: `zeros({2, 3})`, `zeros<double>(x.shape())`.
template <class T = float>
Array<T> zeros(const Shape& shape) {
  return detail::filled<T>("zeros", shape, T(0));
}
template <class T = float>
Array<T> zeros(std::initializer_list<std::size_t> shape) {
  return detail::filled<T>("zeros", make_shape(shape), T(0));
}
/// @}

/// @{
/// Ones of `shape`, float unless T is given.
template <class T = float>
Array<T> ones(const Shape& shape) {
  return detail::filled<T>("ones", shape, T(1));
}
template <class T = float>
Array<T> ones(std::initializer_list<std::size_t> shape) {
  return detail::filled<T>("ones", make_shape(shape), T(1));
}
/// @}

/// start, start + step, start + 2 step, ... while below `stop` (above it for a negative step),
/// as numpy.arange: ceil((stop - start) / step) values, none when the range is empty. The type
/// is the arguments': arange(5) is {0, 1, 2, 3, 4} of int, arange(0.0f, 1.0f, 0.25f) of float.
/// Shapes: -> [n]. A step of 0, or a bound or step that is not finite, is a value_error.
template <class T>
Array<T> arange(T start, T stop, T step = T(1)) {
  static_assert(std::is_arithmetic_v<T>, "arange: T must be a number type");
  std::size_t n = 0;
  if constexpr (std::is_floating_point_v<T>) {
    n = detail::arange_size(double(start), double(stop), double(step));
  } else {
    n = detail::arange_size(std::int64_t(start), std::int64_t(stop), std::int64_t(step));
  }
  Array<T> a = Array<T>::from_shape({n});
  for (std::size_t i = 0; i < n; ++i) {
    if constexpr (std::is_floating_point_v<T>) {
      a.data()[i] = static_cast<T>(double(start) + double(i) * double(step));
    } else {
      a.data()[i] = static_cast<T>(std::int64_t(start) + std::int64_t(i) * std::int64_t(step));
    }
  }
  return a;
}
/// arange(0, stop, 1).
template <class T>
Array<T> arange(T stop) {
  return arange<T>(T(0), stop, T(1));
}

/// PyTorch's one_hot: y[..., k] = 1 where ids[...] == k, 0 elsewhere, float unless T is given.
/// Shapes: ids [s...] -> [s..., num_classes]. An id outside [0, num_classes) is a value_error
/// naming it.
template <class T = float>
Array<T> one_hot(const IndexArray& ids, std::size_t num_classes);

}  // namespace tapegrad
