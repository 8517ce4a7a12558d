// The small product's loop for one instruction set: compiled once per set (small_gemm_base.cpp
// with the library's own flags, small_gemm_avx512.cpp with AVX-512's), each time in a namespace
// of its own (TAPEGRAD_KERNEL_ISA), so the two builds share no symbol. Raw loops and xsimd's
// batches only: no standard-library template is instantiated here that both builds could emit.
//
// A block of R rows by V vectors of C stays in registers while k runs: per k, V loads of P's
// row, R broadcasts of A and R*V fused multiply-adds, so that the weight is read once per block
// of rows and no packing or call into a library precedes the arithmetic.
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

template <std::size_t R, std::size_t V>
inline void block(const float* a, std::size_t lda, const float* p, std::size_t ldp, std::size_t k,
                  float* c, std::size_t ldc, bool accumulate) {
  Batch sum[R][V];
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v) {
      sum[r][v] = accumulate ? Batch::load_unaligned(c + r * ldc + v * kLanes) : Batch(0.0f);
    }
  }
  for (std::size_t i = 0; i < k; ++i) {
    Batch w[V];
    for (std::size_t v = 0; v < V; ++v) w[v] = Batch::load_unaligned(p + i * ldp + v * kLanes);
    for (std::size_t r = 0; r < R; ++r) {
      const Batch x(a[r * lda + i]);
      for (std::size_t v = 0; v < V; ++v) sum[r][v] = fused(x, w[v], sum[r][v]);
    }
  }
  for (std::size_t r = 0; r < R; ++r) {
    for (std::size_t v = 0; v < V; ++v) sum[r][v].store_unaligned(c + r * ldc + v * kLanes);
  }
}

// One block of `rows` rows (1 to R) of one column block of V vectors.
template <std::size_t R, std::size_t V>
inline void rows_block(std::size_t rows, const float* a, std::size_t lda, const float* p,
                       std::size_t ldp, std::size_t k, float* c, std::size_t ldc, bool accumulate) {
  if constexpr (R > 1) {
    if (rows < R) {
      rows_block<R - 1, V>(rows, a, lda, p, ldp, k, c, ldc, accumulate);
      return;
    }
  }
  block<R, V>(a, lda, p, ldp, k, c, ldc, accumulate);
}

// Every row of one column block of V vectors, in as few blocks of rows as kRows allows, of
// sizes as even as possible (16 rows: 6, 5, 5; 8 rows: 4, 4), so that no block is much
// shorter than the others.
template <std::size_t V>
inline void columns(std::size_t m, const float* a, std::size_t lda, const float* p, std::size_t n,
                    std::size_t k, float* c, std::size_t ldc, bool accumulate) {
  const std::size_t blocks = (m + kRows - 1) / kRows, size = m / blocks, longer = m % blocks;
  std::size_t r = 0;
  for (std::size_t b = 0; b < blocks; ++b) {
    const std::size_t rows = size + (b < longer ? 1 : 0);
    rows_block<kRows, V>(rows, a + r * lda, lda, p, n, k, c + r * ldc, ldc, accumulate);
    r += rows;
  }
}

inline void small_gemm(std::size_t m, std::size_t n, std::size_t k, const float* a, std::size_t lda,
                       const float* p, float* c, std::size_t ldc, bool accumulate) {
  std::size_t j = 0;
  for (; j + 4 * kLanes <= n; j += 4 * kLanes)
    columns<4>(m, a, lda, p + j, n, k, c + j, ldc, accumulate);
  for (; j + 2 * kLanes <= n; j += 2 * kLanes)
    columns<2>(m, a, lda, p + j, n, k, c + j, ldc, accumulate);
  for (; j + kLanes <= n; j += kLanes) columns<1>(m, a, lda, p + j, n, k, c + j, ldc, accumulate);
}

inline SmallGemmKernel kernel() {
  return {&small_gemm, kLanes};
}

}  // namespace tapegrad::detail::TAPEGRAD_KERNEL_ISA
