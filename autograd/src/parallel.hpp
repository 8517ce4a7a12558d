// Large copies and fills of the engine shared among the library's threads (set_num_threads;
// OpenMP's pool, the one oneDNN's GEMMs use), so that on two threads the second one is not
// left waiting while the first moves megabytes alone. Not installed.
#pragma once

#include <omp.h>

#include <algorithm>
#include <cstddef>

#include "tapegrad/autograd/blas.hpp"

namespace tapegrad::detail {

/// Work of fewer bytes than this runs on the calling thread: below it, waking another thread
/// costs more than it saves.
constexpr std::size_t kParallelBytes = std::size_t{1} << 20;

/// Calls f(i) for i in [0, count), the calls shared among the library's threads when there is
/// more than one, the calls move `bytes` in all, and no parallel region is running. f must not
/// throw.
template <class F>
void parallel_for(std::size_t count, std::size_t bytes, F&& f) {
  const int threads = num_threads();
  if (threads > 1 && count > 1 && bytes >= kParallelBytes && omp_in_parallel() == 0) {
    const auto n = static_cast<std::ptrdiff_t>(count);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::ptrdiff_t i = 0; i < n; ++i) f(static_cast<std::size_t>(i));
    return;
  }
  for (std::size_t i = 0; i < count; ++i) f(i);
}

/// Elements per piece of parallel_fill.
constexpr std::size_t kPieceElements = std::size_t{1} << 15;

/// dst[0, n) = value, in pieces shared among the library's threads when large.
template <class T>
void parallel_fill(T* dst, std::size_t n, T value) {
  const std::size_t pieces = (n + kPieceElements - 1) / kPieceElements;
  parallel_for(pieces, n * sizeof(T), [&](std::size_t p) {
    const std::size_t first = p * kPieceElements, last = std::min(n, first + kPieceElements);
    std::fill(dst + first, dst + last, value);
  });
}

}  // namespace tapegrad::detail
