// The one place that includes xtensor for the public API: an xtensor upgrade touches this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

namespace tapegrad {

namespace detail {
void* cached_allocate(std::size_t bytes);
void cached_deallocate(void* p, std::size_t bytes) noexcept;
}  // namespace detail

/// The allocator of Array storage: 64-byte aligned blocks that, when freed, stay in a cache of
/// the freeing thread (by size, at most 1 GiB per thread) and are handed out again. A training
/// loop allocates the same shapes every step: it then neither calls malloc for them nor
/// page-faults on memory given back to the system. See cached_bytes() and release_cache().
/// Builds with AddressSanitizer cache nothing, so that it sees every use after free.
template <class T>
struct CachingAllocator {
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
};

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
Shape make_shape(const std::vector<std::size_t>& sizes);

/// Number of elements of a shape (1 for a scalar).
std::size_t shape_size(const Shape& shape);

/// The values as text, NumPy style (for printing; xtensor's printer stays out of your build).
std::string to_string(const Array<float>& a);
std::string to_string(const Array<double>& a);

}  // namespace tapegrad
