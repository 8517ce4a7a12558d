// The small product's loop built for AVX-512 (small_gemm_kernel.hpp; autograd/CMakeLists.txt
// gives this file -mavx512f -mavx512bw -mavx512dq -mavx512vl). weight_gemm.cpp runs it only on
// a CPU that has it.
#define TAPEGRAD_KERNEL_ISA avx512_isa
#include "small_gemm_kernel.hpp"

namespace tapegrad::detail {

SmallGemmKernel avx512_small_gemm() {
  return avx512_isa::kernel();
}

}  // namespace tapegrad::detail
