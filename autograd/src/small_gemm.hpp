// The library's own loop for a recurrent step's h W^T, on a copy of W kept in the loop's panels:
// small products, where a GEMM library's fixed cost per call is most of the product, and with
// AVX-512 every product one thread runs (weight_gemm.cpp decides when). The loops are
// small_gemm_kernel.hpp, built once per instruction set and chosen from the CPU's features at
// run time. Not installed.
#pragma once

#include <cstddef>

namespace tapegrad::detail {

/// C[m, n] = A[m, k] W^T + (bias[n] on every row, when given; else C[m, n] when `accumulate`),
/// row-major, W^T in the loop's panels (SmallGemmPack; n a multiple of `lanes`); each element
/// starts from its bias (or C, or 0) and adds its k products in order, one fused multiply-add at
/// a time.
using SmallGemmLoop = void (*)(std::size_t m, std::size_t n, std::size_t k, const float* a,
                               std::size_t lda, const float* p, float* c, std::size_t ldc,
                               bool accumulate, const float* bias);

/// Writes W [n, k] (row-major) into the loop's panels, n * k floats at p.
using SmallGemmPack = void (*)(const float* w, std::size_t n, std::size_t k, float* p);

/// One instruction set's loop, its layout of W and its vector width in floats.
struct SmallGemmKernel {
  SmallGemmLoop run;
  SmallGemmPack pack;
  std::size_t lanes;
};

/// The loop built with the library's own flags (TAPEGRAD_ARCH).
SmallGemmKernel base_small_gemm();
/// The loop built for AVX-512 (F, BW, DQ, VL): only to be run on a CPU that has it.
SmallGemmKernel avx512_small_gemm();

}  // namespace tapegrad::detail
