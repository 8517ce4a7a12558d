// The choice of the gate loops' instruction set, from the CPU's features (never its model):
// AVX-512 (F, BW, DQ, VL) when the CPU has it and the library was built with its loops, else
// the loops of the library's own flags. Twice as many lanes per instruction in the sigmoid and
// tanh of every gate (docs/performance.md).
#include "gates.hpp"

namespace tapegrad::nn::detail {

namespace {

bool use_avx512() {
#if defined(TAPEGRAD_AVX512_GATES)
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
#else
  return false;
#endif
}

}  // namespace

template <class T>
const GateKernels<T>& gate_kernels() {
#if defined(TAPEGRAD_AVX512_GATES)
  static const GateKernels<T> chosen =
      use_avx512() ? avx512_gate_kernels<T>() : base_gate_kernels<T>();
#else
  static const GateKernels<T> chosen = base_gate_kernels<T>();
#endif
  return chosen;
}

const char* gate_kernels_isa() {
  static const bool avx512 = use_avx512();
  return avx512 ? "AVX-512" : "the build's";
}

template const GateKernels<float>& gate_kernels<float>();
template const GateKernels<double>& gate_kernels<double>();

}  // namespace tapegrad::nn::detail
