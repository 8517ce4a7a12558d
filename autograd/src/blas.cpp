// OpenBLAS's own entry points: linking them proves the GEMMs run on OpenBLAS.
#include "tapegrad/autograd/blas.hpp"

#include <cblas.h>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"

namespace tapegrad {

std::string blas_info() {
  return openblas_get_config();
}

void set_num_threads(int threads) {
  if (threads < 1)
    throw value_error(fmt::format("set_num_threads: {} threads; need at least 1", threads));
  openblas_set_num_threads(threads);
}

int num_threads() {
  return openblas_get_num_threads();
}

}  // namespace tapegrad
