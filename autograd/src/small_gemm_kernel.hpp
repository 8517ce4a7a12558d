// The weight products' own loop for one instruction set: compiled once per set (small_gemm_base.cpp
// with the library's own flags, small_gemm_avx512.cpp with AVX-512's), each time in a namespace
// of its own (TAPEGRAD_KERNEL_ISA), so the two builds share no symbol. Raw loops and xsimd's
// batches only: no standard-library template is instantiated here that both builds could emit.
//
// W^T is kept in panels: the columns in blocks of 4, 2 or 1 vectors, each block's k rows
// contiguous (panel j starts at j * k). A block of R rows by V vectors of C stays in registers
// while k runs: per k, V loads of the panel's row, R broadcasts of A and R*V fused multiply-adds.
// Every block of rows streams the same panel, so a panel is read from memory once and from the
// cache after; while the first blocks of rows run, the next panel is fetched into the cache
// ahead of its use, one line per k (a weight larger than the cache streams without a stall),
// each block fetches its own panel a few k ahead into the first-level cache, and the C the next
// block will read.
#pragma once

#ifndef TAPEGRAD_KERNEL_ISA
#error "define TAPEGRAD_KERNEL_ISA (the namespace of this build) before including this file"
#endif

#include <xsimd/xsimd.hpp>

#include <cstddef>

#include "small_gemm.hpp"

namespace tapegrad::detail::TAPEGRAD_KERNEL_ISA {

using Batch = xsimd::batch<float>;
constexpr std::size_t kLanes = Batch::size;
// Rows per block at most: R * 4 accumulators, 4 weight vectors and a broadcast fit the
// register file (32 vector registers with AVX-512, 16 before it).
constexpr std::size_t kRows = kLanes >= 16 ? 6 : 2;

// x y + z rounded once. xsimd 8 (Debian's) has no fused multiply-add of its own for AVX-512: it
// computes x * y + z there, which the compiler fuses when it optimises and not otherwise: the
// intrinsic keeps the result the same in every build.
inline Batch fused(const Batch& x, const Batch& y, const Batch& z) {
#if defined(__AVX512F__)
  if constexpr (kLanes == 16) return Batch(_mm512_fmadd_ps(x, y, z));
#endif
  return xsimd::fma(x, y, z);
}

// Lines of 64 bytes.
constexpr std::size_t kLine = 64;
// How many k rows ahead a block fetches its own panel into the first-level cache. A panel of 4
// vectors is 64 KiB at k = 256, more than that cache, so every block of rows streams it from the
// second level; fetched 4 rows ahead, the products of W_hh at H = 512 ran at 0.79-0.84 of the
// peak instead of 0.74-0.80 on an Intel Xeon (bench/gemm/packed_weights; 8, 12 and 24 rows
// ahead were no better).
constexpr std::size_t kPanelAhead = 4;

// What a block fetches while its k runs: `ahead`, the next panel's part, one line per k (nullptr:
// none); and, when C is read, the `next_rows` rows of C of the block that runs next (`next_c`,
// V lines each), whose values otherwise come from memory when that block starts (a step adds
// h W^T to a slice of the input projection written long before).
struct Ahead {
  const char* panel = nullptr;
  const float* next_c = nullptr;
  std::size_t next_rows = 0;
};

template <std::size_t R, std::size_t V>
inline void block(const float* a, std::size_t lda, const float* p, std::size_t k, float* c,
                  std::size_t ldc, bool accumulate, const float* bias, const Ahead& ahead) {
  const char* panel_ahead = ahead.panel;
  const std::size_t c_lines = accumulate && bias == nullptr ? ahead.next_rows * V : 0;
  constexpr std::size_t ldp = V * kLanes;
  // One array of R*V vectors, every loop over it unrolled in full: GCC then keeps the sums in
  // registers from the loads of C to the stores. An array [R][V] went through the stack on the
  // way in and out of the k loop (GCC 12: 48 vector stores and 48 loads more per block); without
  // them a block alone ran 2-7% faster (bench/gemm/fma_loads, 3 alternating runs).
  Batch sum[R * V];
#pragma GCC unroll 32
  for (std::size_t i = 0; i < R * V; ++i) {
    sum[i] = bias != nullptr ? Batch::load_unaligned(bias + (i % V) * kLanes)
             : accumulate    ? Batch::load_unaligned(c + (i / V) * ldc + (i % V) * kLanes)
                             : Batch(0.0f);
  }
  for (std::size_t i = 0; i < k; ++i) {
    if (panel_ahead != nullptr) __builtin_prefetch(panel_ahead + i * kLine, 0, 2);
    if (i < c_lines) __builtin_prefetch(ahead.next_c + (i / V) * ldc + (i % V) * kLanes, 0, 3);
    if (i + kPanelAhead < k) {
      for (std::size_t v = 0; v < V; ++v)
        __builtin_prefetch(p + (i + kPanelAhead) * ldp + v * kLanes, 0, 3);
    }
    Batch w[V];
#pragma GCC unroll 8
    for (std::size_t v = 0; v < V; ++v) w[v] = Batch::load_unaligned(p + i * ldp + v * kLanes);
#pragma GCC unroll 16
    for (std::size_t r = 0; r < R; ++r) {
      const Batch x(a[r * lda + i]);
#pragma GCC unroll 8
      for (std::size_t v = 0; v < V; ++v) sum[r * V + v] = fused(x, w[v], sum[r * V + v]);
    }
  }
#pragma GCC unroll 32
  for (std::size_t i = 0; i < R * V; ++i) {
    sum[i].store_unaligned(c + (i / V) * ldc + (i % V) * kLanes);
  }
}

// One block of `rows` rows (1 to R) of one column block of V vectors.
template <std::size_t R, std::size_t V>
inline void rows_block(std::size_t rows, const float* a, std::size_t lda, const float* p,
                       std::size_t k, float* c, std::size_t ldc, bool accumulate, const float* bias,
                       const Ahead& ahead) {
  if constexpr (R > 1) {
    if (rows < R) {
      rows_block<R - 1, V>(rows, a, lda, p, k, c, ldc, accumulate, bias, ahead);
      return;
    }
  }
  block<R, V>(a, lda, p, k, c, ldc, accumulate, bias, ahead);
}

// Every row of one panel of V vectors, in as few blocks of rows as kRows allows, of sizes as
// even as possible (16 rows: 6, 5, 5; 8 rows: 4, 4), so that no block is much shorter than the
// others. The first blocks fetch the next panel (`next`, `next_bytes`), k lines each; each block
// fetches the C of the block after it, the last one the first block's of the next panel.
template <std::size_t V>
inline void panel(std::size_t m, const float* a, std::size_t lda, const float* p, std::size_t k,
                  float* c, std::size_t ldc, bool accumulate, const float* bias, const char* next,
                  std::size_t next_bytes) {
  const std::size_t blocks = (m + kRows - 1) / kRows, size = m / blocks, longer = m % blocks;
  const auto rows_of = [&](std::size_t b) { return size + (b < longer ? 1 : 0); };
  std::size_t r = 0;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t rows = rows_of(b);
    const std::size_t from = b * k * kLine;
    Ahead ahead;
    ahead.panel = next != nullptr && from < next_bytes ? next + from : nullptr;
    if (b + 1 < blocks) {
      ahead.next_c = c + (r + rows) * ldc, ahead.next_rows = rows_of(b + 1);
    } else if (next != nullptr) {
      ahead.next_c = c + V * kLanes, ahead.next_rows = rows_of(0);
    }
    rows_block<kRows, V>(rows, a + r * lda, lda, p, k, c + r * ldc, ldc, accumulate, bias, ahead);
    r += rows;
  }
}

// The width of the panel at column j of n (n a multiple of kLanes).
inline std::size_t panel_width(std::size_t n, std::size_t j) {
  const std::size_t rest = n - j;
  return rest >= 4 * kLanes ? 4 * kLanes : rest >= 2 * kLanes ? 2 * kLanes : kLanes;
}

inline void small_gemm(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                       const float* p, float* c, std::size_t ldc, bool accumulate,
                       const float* bias) {
  for (std::size_t j = 0; j < n;) {
    const std::size_t width = panel_width(n, j), next = j + width;
    const float* b = bias != nullptr ? bias + j : nullptr;
    const char* ahead = next < n ? reinterpret_cast<const char*>(p + next * k) : nullptr;
    const std::size_t ahead_bytes = next < n ? panel_width(n, next) * k * sizeof(float) : 0;
    if (width == 4 * kLanes) {
      panel<4>(m, a, lda, p + j * k, k, c + j, ldc, accumulate, b, ahead, ahead_bytes);
    } else if (width == 2 * kLanes) {
      panel<2>(m, a, lda, p + j * k, k, c + j, ldc, accumulate, b, ahead, ahead_bytes);
    } else {
      panel<1>(m, a, lda, p + j * k, k, c + j, ldc, accumulate, b, ahead, ahead_bytes);
    }
    j = next;
  }
}

// W [n, k] row-major into panels (the layout small_gemm reads).
inline void pack_panels(const float* w, std::size_t n, std::size_t k, float* p) {
  for (std::size_t j = 0; j < n;) {
    const std::size_t width = panel_width(n, j);
    float* out = p + j * k;
    for (std::size_t i = 0; i < k; ++i) {
      for (std::size_t v = 0; v < width; ++v) out[i * width + v] = w[(j + v) * k + i];
    }
    j += width;
  }
}

inline SmallGemmKernel kernel() {
  return {&small_gemm, &pack_panels, kLanes};
}

}  // namespace tapegrad::detail::TAPEGRAD_KERNEL_ISA
