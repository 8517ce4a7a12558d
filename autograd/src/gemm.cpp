// The GEMM every op and kernel of the library calls, and the choice of the library that runs a
// float product: oneDNN's dnnl_sgemm or OpenBLAS's cblas_sgemm (docs/design.md, "The GEMM").
//
// OpenBLAS picks its kernels once, when it loads, from its own table of CPUs or from
// OPENBLAS_CORETYPE, and on a CPU newer than its table it may take old (SSE3) ones; oneDNN picks
// its instruction set from the CPU's features on every machine. Measured on the recurrent
// layers' products (bench/run_gemm.sh), oneDNN is as fast or faster everywhere except the
// A^T B products of the weight gradients, where OpenBLAS's kernels win when they are of the
// CPU's own instruction set. The automatic choice follows that, from the CPU's features and
// the name of the kernels OpenBLAS loaded, never from a CPU model number or by changing
// OpenBLAS's settings.
#include "gemm.hpp"

#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <string>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.h>

#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/errors.hpp"

extern "C" char* openblas_get_corename(void);

namespace tapegrad {

namespace detail {

namespace {

std::atomic<GemmBackend> the_backend{GemmBackend::automatic};
std::atomic<int> the_threads{0};  // set_num_threads's count; 0: OpenBLAS's, read at first use

/// The library's thread count: set_num_threads's, else OpenBLAS's (OPENBLAS_NUM_THREADS or the
/// cores).
int library_threads() {
  int t = the_threads.load(std::memory_order_relaxed);
  if (t == 0) {
    t = openblas_get_num_threads();
    the_threads.store(t, std::memory_order_relaxed);
  }
  return t;
}

inline int to_int(std::size_t v) {
  return static_cast<int>(v);
}

/// The instruction set of the OpenBLAS kernels named `core` (openblas_get_corename), on
/// cpu_level's scale.
int openblas_level(std::string core) {
  std::transform(core.begin(), core.end(), core.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (core == "skylakex" || core == "cooperlake" || core == "sapphirerapids") return 3;
  if (core == "haswell" || core == "zen" || core == "skylake") return 2;
  return 1;
}

/// What the automatic choice is based on, read once.
struct Machine {
  int cpu = cpu_level();
  std::string openblas_core = openblas_get_corename();
  int openblas = openblas_level(openblas_core);
  /// OpenBLAS's kernels use the CPU's widest instruction set.
  bool openblas_native() const { return openblas >= cpu; }
};

const Machine& machine() {
  static const Machine m;
  return m;
}

const char* level_name(int level) {
  return level == 3 ? "AVX-512" : level == 2 ? "AVX2" : "older than AVX2";
}

/// Products of fewer multiply-adds (m n k) are "small" for the choice below.
constexpr std::size_t kSmallProduct = std::size_t{1} << 20;

/// Whether the float product runs on oneDNN.
bool on_onednn(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k) {
  switch (the_backend.load(std::memory_order_relaxed)) {
    case GemmBackend::onednn:
      return true;
    case GemmBackend::openblas:
      return false;
    case GemmBackend::automatic:
      break;
  }
  const Machine& mc = machine();
  // OpenBLAS's kernels are of an older instruction set than the CPU's: 1.4-5x slower.
  if (!mc.openblas_native()) return true;
  // On more than one thread, one pool: OpenMP's workers (oneDNN's) spin for a while after each
  // product, and OpenBLAS's threads beside them ran one step up to 10x slower.
  if (library_threads() > 1) return true;
  const bool small = m == 1 || n == 1 || m * n * k < kSmallProduct;
  // AVX-512: OpenBLAS's smaller fixed cost per call wins on a single row or column and on small
  // products; oneDNN is 1.1-1.4x faster on the rest.
  if (mc.cpu >= 3) return !small;
  // AVX2: oneDNN is faster (at one row 3-5x), except on OpenBLAS's A^T B kernels over long
  // reductions (the weight gradients).
  return !(trans_a && !trans_b && !small);
}

void onednn_sgemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k,
                  float alpha, const float* a, std::size_t lda, const float* b, std::size_t ldb,
                  float beta, float* c, std::size_t ldc) {
  match_onednn_threads(onednn_threads_for(m * n * k));
  const auto dim = [](std::size_t v) { return static_cast<dnnl_dim_t>(v); };
  const dnnl_status_t status =
      dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', dim(m), dim(n), dim(k), alpha, a,
                 dim(lda), b, dim(ldb), beta, c, dim(ldc));
  if (status != dnnl_success) {
    throw internal_error(fmt::format(
        "gemm: oneDNN's dnnl_sgemm failed with status {} for [{},{}] x [{},{}] (trans {}, {})",
        static_cast<int>(status), m, k, k, n, trans_a, trans_b));
  }
}

inline void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, float alpha,
                      const float* a, int lda, const float* b, int ldb, float beta, float* c,
                      int ldc) {
  cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void gemm_call(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k, double alpha,
                      const double* a, int lda, const double* b, int ldb, double beta, double* c,
                      int ldc) {
  cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
inline void gemv_call(CBLAS_TRANSPOSE t, int m, int n, float alpha, const float* a, int lda,
                      const float* x, int incx, float beta, float* y, int incy) {
  cblas_sgemv(CblasRowMajor, t, m, n, alpha, a, lda, x, incx, beta, y, incy);
}
inline void gemv_call(CBLAS_TRANSPOSE t, int m, int n, double alpha, const double* a, int lda,
                      const double* x, int incx, double beta, double* y, int incy) {
  cblas_dgemv(CblasRowMajor, t, m, n, alpha, a, lda, x, incx, beta, y, incy);
}

/// The product on OpenBLAS: GEMV when m or n is 1 (OpenBLAS's GEMM packs its operands on every
/// call).
template <class T>
void openblas_gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
                   const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c,
                   std::size_t ldc) {
  if (m == 1) {
    // c[j] = sum_l op(A)[0,l] op(B)[l,j]: c = op(B)^T a
    const std::size_t inc_a = trans_a ? lda : 1;
    if (trans_b) {  // B stored [n,k]
      gemv_call(CblasNoTrans, to_int(n), to_int(k), alpha, b, to_int(ldb), a, to_int(inc_a), beta,
                c, 1);
    } else {  // B stored [k,n]
      gemv_call(CblasTrans, to_int(k), to_int(n), alpha, b, to_int(ldb), a, to_int(inc_a), beta, c,
                1);
    }
    return;
  }
  if (n == 1) {
    // c[i] = sum_l op(A)[i,l] op(B)[l,0]: c = op(A) b
    const std::size_t inc_b = trans_b ? 1 : ldb;
    if (trans_a) {  // A stored [k,m]
      gemv_call(CblasTrans, to_int(k), to_int(m), alpha, a, to_int(lda), b, to_int(inc_b), beta, c,
                to_int(ldc));
    } else {  // A stored [m,k]
      gemv_call(CblasNoTrans, to_int(m), to_int(k), alpha, a, to_int(lda), b, to_int(inc_b), beta,
                c, to_int(ldc));
    }
    return;
  }
  gemm_call(trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans, to_int(m),
            to_int(n), to_int(k), alpha, a, to_int(lda), b, to_int(ldb), beta, c, to_int(ldc));
}

}  // namespace

// The widest vector instruction set of the CPU that GEMM kernels use: 3 AVX-512 (F, BW, DQ,
// VL), 2 AVX2 with FMA, 1 older.
int cpu_level() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return 3;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 2;
  return 1;
}

bool float_product_on_onednn(bool trans_a, bool trans_b, std::size_t m, std::size_t n,
                             std::size_t k) {
  return on_onednn(trans_a, trans_b, m, n, k);
}

int onednn_threads_for(std::size_t work) {
  // Sharing a small product costs more than it saves: at (16,200,32,64) an LSTM's training step
  // took 9.7 ms on two threads against 5.7 on one (performance.md). Inside a parallel region
  // (a recurrent step's block of rows, for_row_blocks) the product is the calling thread's.
  return work < kSmallProduct || omp_in_parallel() != 0 ? 1 : library_threads();
}

void match_onednn_threads(int threads) {
  if (omp_get_max_threads() != threads) omp_set_num_threads(threads);
}

void set_gemm_threads(int threads) {
  the_threads.store(threads);
}

std::string gemm_choice_info() {
  const Machine& mc = machine();
  return fmt::format("float GEMMs: {} (CPU {}, OpenBLAS kernels {}: {})",
                     to_string(the_backend.load()), level_name(mc.cpu), mc.openblas_core,
                     level_name(mc.openblas));
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (std::size_t i = 0; i < m; ++i) {
      for (std::size_t j = 0; j < n; ++j)
        c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    }
    return;
  }
  if constexpr (std::is_same_v<T, float>) {
    if (on_onednn(trans_a, trans_b, m, n, k)) {
      onednn_sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      return;
    }
  }
  openblas_gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                          std::size_t, const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                           std::size_t, const double*, std::size_t, double, double*, std::size_t);

}  // namespace detail

void set_gemm_backend(GemmBackend backend) {
  detail::the_backend.store(backend);
}

GemmBackend gemm_backend() {
  return detail::the_backend.load();
}

std::string to_string(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::automatic:
      return "automatic";
    case GemmBackend::onednn:
      return "onednn";
    case GemmBackend::openblas:
      return "openblas";
  }
  return "?";
}

}  // namespace tapegrad
