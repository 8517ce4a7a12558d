// What the GEMM libraries say about themselves, their threads, and the GEMM on raw buffers for
// kernels outside autograd.
#include "tapegrad/autograd/blas.hpp"

#include <cblas.h>

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.h>

#include "gemm.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad {

std::string blas_info() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("{}; oneDNN {}.{}.{}; {}", openblas_get_config(), v->major, v->minor, v->patch,
                     detail::gemm_choice_info());
}

void set_num_threads(int threads) {
  if (threads < 1)
    throw value_error(fmt::format("set_num_threads: {} threads; need at least 1", threads));
  openblas_set_num_threads(threads);
  detail::set_gemm_threads(threads);  // oneDNN's pool (OpenMP's)
}

int num_threads() {
  return openblas_get_num_threads();
}

template <class T>
void gemm(bool trans_a, bool trans_b, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* a, std::size_t lda, const T* b, std::size_t ldb, T beta, T* c, std::size_t ldc) {
  detail::gemm<T>(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

template void gemm<float>(bool, bool, std::size_t, std::size_t, std::size_t, float, const float*,
                          std::size_t, const float*, std::size_t, float, float*, std::size_t);
template void gemm<double>(bool, bool, std::size_t, std::size_t, std::size_t, double, const double*,
                           std::size_t, const double*, std::size_t, double, double*, std::size_t);

}  // namespace tapegrad
