// The BLAS underneath: which library, and how many threads it uses.
#pragma once

#include <string>

namespace tapegrad {

/// What the linked BLAS reports about itself, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH ... Zen".
std::string blas_info();
/// Sets the number of threads OpenBLAS uses for GEMMs (1 for a single core).
void set_num_threads(int threads);
/// The number of threads OpenBLAS uses.
int num_threads();

}  // namespace tapegrad
