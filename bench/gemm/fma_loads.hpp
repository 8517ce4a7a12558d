// The AVX-512 loops of bench/gemm/fma_loads.cpp (fma_loads_avx512.cpp).
#pragma once

#include <cstddef>

namespace fma_loads {

enum class Pattern {
  fma_only,
  loop_6x4,
  loop_5x4,
  loop_8x3,
  loop_12x2,
  loop_4x6,
  loop_24x1,
  loop_16x1,
  broadcasts_6x4,  // the 6x4 loop loading only its broadcasts
  vectors_6x4      // the 6x4 loop loading only its weight vectors
};

/// Floats in each ring a pattern reads (64-byte aligned).
std::size_t ring_floats();

/// GFLOP/s of one timing of at least `seconds`: the pattern over the rings w and a.
double avx512_gflops(Pattern p, const float* w, const float* a, double seconds, float* sink);

/// GFLOP/s of the library's own block (small_gemm_kernel.hpp), `rows` (6 or 5) rows by 4
/// vectors, called over and over on one panel of k rows: A [rows, k], panel [k, 64], C [rows,
/// 64], all 64-byte aligned.
double avx512_block_gflops(int rows, std::size_t k, const float* panel, const float* a, float* c,
                           double seconds);

}  // namespace fma_loads
