// The gate loops built for AVX-512 (gate_kernels.hpp; layers/CMakeLists.txt gives this file
// -mavx512f -mavx512bw -mavx512dq -mavx512vl). gates.cpp runs them only on a CPU that has it.
#define TAPEGRAD_GATE_ISA avx512_isa
#include "gate_kernels.hpp"

namespace tapegrad::nn::detail {

template <class T>
GateKernels<T> avx512_gate_kernels() {
  return avx512_isa::kernels<T>();
}

template GateKernels<float> avx512_gate_kernels<float>();
template GateKernels<double> avx512_gate_kernels<double>();

}  // namespace tapegrad::nn::detail
