// The small product's loop built with the library's own flags (small_gemm_kernel.hpp).
#define TAPEGRAD_KERNEL_ISA base_isa
#include "small_gemm_kernel.hpp"

namespace tapegrad::detail {

SmallGemmKernel base_small_gemm() {
  return base_isa::kernel();
}

}  // namespace tapegrad::detail
