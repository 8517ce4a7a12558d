/// @file
/// The BLAS underneath: which libraries, how many threads they use, which one computes the float
/// GEMMs, and the GEMM on raw buffers.
#pragma once

#include <cstddef>
#include <string>

namespace tapegrad {

/// What the GEMM libraries report about themselves and the float GEMMs' choice, e.g.
/// "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen; oneDNN 2.6.3; float GEMMs: automatic (CPU AVX-512,
/// OpenBLAS kernels Cooperlake: AVX-512)".
std::string blas_info();
/// Sets the number of threads of every pool the library's kernels use: OpenBLAS's and oneDNN's
/// (OpenMP's, matched on whichever thread calls a GEMM). 1 for a single core. Unless set, the
/// count is OpenBLAS's: OPENBLAS_NUM_THREADS, or the number of cores.
void set_num_threads(int threads);
/// The number of threads the library's kernels use.
int num_threads();

/// The library that computes the float GEMMs. Double-precision GEMMs always run on OpenBLAS
/// (oneDNN's GEMM is float only). Both give the same accuracy; they differ in speed, by CPU.
enum class GemmBackend {
  /// The default: oneDNN, which picks the CPU's best instruction set when it runs, except for
  /// the A^T B products (weight gradients) when OpenBLAS's loaded kernels are of the CPU's own
  /// instruction set, where OpenBLAS is faster (docs/performance.md, "GEMM candidates").
  automatic,
  onednn,    ///< oneDNN's dnnl_sgemm for every float product
  openblas,  ///< OpenBLAS's cblas_sgemm (cblas_sgemv for a single row or column)
};
/// Chooses the library of the float GEMMs, for every thread; the results agree to rounding.
void set_gemm_backend(GemmBackend backend);
/// The library of the float GEMMs set by set_gemm_backend (automatic unless set).
GemmBackend gemm_backend();
/// "automatic", "onednn" or "openblas".
std::string to_string(GemmBackend backend);

/// C[m,n] = alpha op(A)[m,k] op(B)[k,n] + beta C on row-major buffers, op(X) = X or X^T, for
/// the kernels of ops built outside autograd (the fused recurrent steps of tapegrad::nn). The
/// GEMM the library's own ops use: GEMV when m or n is 1 (OpenBLAS's GEMM packs its operands
/// on every call). T is float or double.
template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc);

template <class T>
class Var;

/// C[m,n] = A[m,k] W^T + beta C on row-major buffers (A's row stride lda, C's ldc), where W is
/// w's value, a matrix [n, k]: rows times a layer's weight, as in the recurrent cells'
/// h W_hh^T; plus `bias` (n values) on every row when given. The same product as
/// gemm(false, true, m, n, k, 1, a, lda, w.value().data(), k, beta, c, ldc) after adding the
/// bias to C's rows, faster when the same w is multiplied again: for a float product of at least 8
/// rows (unless set_gemm_backend(GemmBackend::openblas)), oneDNN's matmul runs on a copy of W
/// reordered once into its own layout; that copy is
/// kept, per thread, until w's value changes (its version) or w's node is destroyed (the 16
/// most recently used weights per thread; a copy takes W's size in memory). T is float or
/// double.
template <class T>
void gemm_by_weight(std::size_t m, const T* a, std::size_t lda, const Var<T>& w, T beta, T* c,
                    std::size_t ldc, const T* bias = nullptr);

}  // namespace tapegrad
