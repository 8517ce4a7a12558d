/// @file
/// The BLAS underneath: which library, how many threads it uses, and its GEMM on raw buffers.
#pragma once

#include <cstddef>
#include <string>

namespace tapegrad {

/// What the linked BLAS reports about itself, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen".
std::string blas_info();
/// Sets the number of threads OpenBLAS uses for GEMMs (1 for a single core).
void set_num_threads(int threads);
/// The number of threads OpenBLAS uses.
int num_threads();

/// C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C on row-major buffers, op(X) = X or X^T, for
/// the kernels of ops built outside autograd (the fused recurrent steps of tapegrad::nn). The
/// GEMM the library's own ops use: GEMV when m or n is 1 (OpenBLAS's GEMM packs its operands
/// on every call). T is float or double.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

}  // namespace tapegrad
