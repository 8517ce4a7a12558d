// Row-major GEMM on raw buffers, on oneDNN or OpenBLAS (gemm.cpp). Not installed.
#pragma once

#include <cstddef>
#include <string>

namespace tapegrad::detail {

/// C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C, row-major; op(X) = X or X^T.
/// Float products run on the library set_gemm_backend chooses, double ones on OpenBLAS.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

/// The widest vector instruction set of the CPU that GEMM kernels use: 3 AVX-512 (F, BW, DQ,
/// VL), 2 AVX2 with FMA, 1 older.
int cpu_level();

/// Whether gemm runs this float product on oneDNN (set_gemm_backend's choice for it).
bool float_product_on_onednn(bool trans_a, bool trans_b, std::size_t m, std::size_t n,
                             std::size_t k);

/// y[m, n] = x[m, k] w^T + b, with w stored [n, k] and b [n], on oneDNN's matmul, which adds
/// the bias in its tiles (no pass over y before the product); false, with y untouched, where
/// gemm would not run the product on oneDNN.
bool linear_on_onednn(std::size_t m, std::size_t n, std::size_t k, const float* x, const float* w,
                      const float* b, float* y);

/// The threads a oneDNN product of `work` multiply-adds runs on: the library's count, or 1 for
/// a product too small to share (kSmallProduct in gemm.cpp) or called inside a parallel region.
int onednn_threads_for(std::size_t work);

/// Sets OpenMP's thread count on the calling thread to `threads` (oneDNN's threads are
/// OpenMP's, whose count is kept per thread); call before running a oneDNN kernel.
void match_onednn_threads(int threads);

/// Sets the thread count of oneDNN's GEMMs (set_num_threads).
void set_gemm_threads(int threads);

/// The float GEMMs' backend and what its automatic choice is based on, for blas_info.
std::string gemm_choice_info();

}  // namespace tapegrad::detail
