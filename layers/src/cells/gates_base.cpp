// The gate loops built with the library's own flags (gate_kernels.hpp).
#define TAPEGRAD_GATE_ISA base_isa
#include "gate_kernels.hpp"

namespace tapegrad::nn::detail {

template <class T>
GateKernels<T> base_gate_kernels() {
  return base_isa::kernels<T>();
}

template GateKernels<float> base_gate_kernels<float>();
template GateKernels<double> base_gate_kernels<double>();

}  // namespace tapegrad::nn::detail
