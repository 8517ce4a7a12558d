// The loops of bench/gemm/fma_loads.cpp, built for AVX-512 (bench/CMakeLists.txt gives this file
// -mavx512f -mavx512bw -mavx512dq -mavx512vl); fma_loads.cpp calls them only on a CPU that has it.
// No standard-library template is instantiated here (the other file's copy could be replaced by
// this one's at link time, and run on a CPU without AVX-512): C timing, raw loops.
#include <immintrin.h>
#include <time.h>

#include <cstddef>

#define TAPEGRAD_KERNEL_ISA fma_loads_avx512
#include "../../autograd/src/small_gemm_kernel.hpp"

#include "fma_loads.hpp"

namespace fma_loads {
namespace {

double now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

float reduce(const __m512* v, int count) {
  __m512 s = _mm512_setzero_ps();
  for (int i = 0; i < count; ++i) s = _mm512_add_ps(s, v[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float sum = 0.0f;
  for (float x : lanes) sum += x;
  return sum;
}

// The loops below are unrolled in full (GCC keeps an array of vectors in memory otherwise), so
// that every accumulator stays in a register, as in the library's block.

// 24 independent chains of fused multiply-adds on registers: no load at all.
__attribute__((noinline)) float fma_only(long iters) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(1e-3f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-4f);
  for (long it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(x, acc[i], y);
  }
  return reduce(acc, 24);
}

// The own loop's pattern, R rows by V vectors, as one long loop: per iteration V vector loads
// of a weight row and R broadcasts, R*V fused multiply-adds, both read from rings of the
// first-level cache (kRing floats each).
constexpr std::size_t kRing = 2048;

// What a pattern loads per iteration: both (the own loop's), only the broadcasts (the weight
// vectors stay in registers) or only the weight vectors (the broadcasts stay in registers).
enum class Loads { both, broadcasts, vectors };

template <int R, int V, Loads L>
__attribute__((noinline)) float pattern(const float* w, const float* a, long iters) {
  __m512 acc[R * V];
  for (int i = 0; i < R * V; ++i) acc[i] = _mm512_setzero_ps();
  __m512 wv[V], xs[R];
  for (int v = 0; v < V; ++v) wv[v] = _mm512_load_ps(w + 16 * v);
  for (int r = 0; r < R; ++r) xs[r] = _mm512_set1_ps(a[r]);
  std::size_t at = 0;
  for (long it = 0; it < iters; ++it) {
    if constexpr (L != Loads::broadcasts) {
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) wv[v] = _mm512_load_ps(w + at + 16 * v);
    }
#pragma GCC unroll 32
    for (int r = 0; r < R; ++r) {
      const __m512 x = L != Loads::vectors ? _mm512_set1_ps(a[at + 16 * r + 1]) : xs[r];
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[r * V + v] = _mm512_fmadd_ps(x, wv[v], acc[r * V + v]);
    }
    at += 16 * V;
    if (at + 16 * (R > 12 ? R : 12) > kRing) at = 0;
  }
  return reduce(acc, R * V);
}

// GFLOP/s of run(count), which does `flops` per unit of count: count doubles from `count` until
// one call lasts `seconds`.
template <class Run>
double gflops_of(double flops, long count, double seconds, Run&& run) {
  for (;;) {
    const double t0 = now();
    run(count);
    const double t = now() - t0;
    if (t >= seconds) return flops * static_cast<double>(count) / t / 1e9;
    count *= 2;
  }
}

template <int R, int V, Loads L = Loads::both>
double time_pattern(const float* w, const float* a, double seconds, float* sink) {
  return gflops_of(2.0 * 16 * R * V, 1 << 16, seconds,
                   [&](long iters) { *sink += pattern<R, V, L>(w, a, iters); });
}

// GFLOP/s of the library's block of R rows by 4 vectors, called over and over on one panel.
template <std::size_t R>
double block_gflops(std::size_t k, const float* panel, const float* a, float* c, double seconds) {
  const tapegrad::detail::fma_loads_avx512::Ahead none;
  return gflops_of(2.0 * R * 64 * static_cast<double>(k), 256, seconds, [&](long calls) {
    for (long i = 0; i < calls; ++i) {
      tapegrad::detail::fma_loads_avx512::block<R, 4>(a, k, panel, k, c, 64, true, nullptr, none);
    }
  });
}

}  // namespace

std::size_t ring_floats() {
  return kRing;
}

double avx512_gflops(Pattern p, const float* w, const float* a, double seconds, float* sink) {
  switch (p) {
    case Pattern::fma_only:
      return gflops_of(2.0 * 16 * 24, 1 << 16, seconds,
                       [&](long iters) { *sink += fma_only(iters); });
    case Pattern::loop_6x4:
      return time_pattern<6, 4>(w, a, seconds, sink);
    case Pattern::loop_5x4:
      return time_pattern<5, 4>(w, a, seconds, sink);
    case Pattern::loop_8x3:
      return time_pattern<8, 3>(w, a, seconds, sink);
    case Pattern::loop_12x2:
      return time_pattern<12, 2>(w, a, seconds, sink);
    case Pattern::loop_4x6:
      return time_pattern<4, 6>(w, a, seconds, sink);
    case Pattern::loop_24x1:
      return time_pattern<24, 1>(w, a, seconds, sink);
    case Pattern::loop_16x1:
      return time_pattern<16, 1>(w, a, seconds, sink);
    case Pattern::broadcasts_6x4:
      return time_pattern<6, 4, Loads::broadcasts>(w, a, seconds, sink);
    case Pattern::vectors_6x4:
      return time_pattern<6, 4, Loads::vectors>(w, a, seconds, sink);
  }
  return 0.0;
}

double avx512_block_gflops(int rows, std::size_t k, const float* panel, const float* a, float* c,
                           double seconds) {
  return rows == 6 ? block_gflops<6>(k, panel, a, c, seconds)
                   : block_gflops<5>(k, panel, a, c, seconds);
}

}  // namespace fma_loads
