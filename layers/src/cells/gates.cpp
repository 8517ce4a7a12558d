// The choice of the gate loops' instruction set, from the CPU's features (never its model):
// AVX-512 (F, BW, DQ, VL) when the CPU has it and the library was built with its loops, else
// the loops of the library's own flags. Twice as many lanes per instruction in the sigmoid and
// tanh of every gate (docs/performance.md).
#include "gates.hpp"

namespace tapegrad::nn::detail {

#if defined(TAPEGRAD_AVX512_GATES)
namespace {

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
}

}  // namespace
#endif

template <class T>
const GateKernels<T>& gate_kernels() {
#if defined(TAPEGRAD_AVX512_GATES)
  static const GateKernels<T> chosen =
      cpu_has_avx512() ? avx512_gate_kernels<T>() : base_gate_kernels<T>();
#else
  static const GateKernels<T> chosen = base_gate_kernels<T>();
#endif
  return chosen;
}

template const GateKernels<float>& gate_kernels<float>();
template const GateKernels<double>& gate_kernels<double>();

}  // namespace tapegrad::nn::detail
