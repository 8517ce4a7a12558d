// Row-major GEMM on raw buffers, through CBLAS (OpenBLAS). Not installed.
#pragma once

#include <cblas.h>

#include <cstddef>

namespace tapegrad::detail {

/// C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C, row-major; op(X) = X or X^T.
/// Uses GEMV when m or n is 1 (OpenBLAS's GEMM packs its operands on every call).
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

}  // namespace tapegrad::detail
