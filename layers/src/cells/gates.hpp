// The gate loops of the fused steps, one row at a time, built for more than one instruction set
// and chosen at run time from the CPU's features (gates.cpp; the loops are gate_kernels.hpp).
#pragma once

#include <cstddef>

namespace tapegrad::nn::detail {

/// One instruction set's gate loops over one row of H values (the formulas: rnn_cell.cpp,
/// lstm_cell.cpp, gru_cell.cpp).
template <class T>
struct GateKernels {
  /// out = tanh(p); out may be p.
  void (*rnn_tanh)(const T* p, T* out, std::size_t hidden);
  /// The LSTM's forward: pre-activations [i f g o] in `a` become activations; c_next, h.
  void (*lstm)(T* a, const T* c_prev, T* h, T* c_next, std::size_t hidden);
  /// The same, leaving `a` as it was (inference: no backward reads the activations).
  void (*lstm_infer)(T* a, const T* c_prev, T* h, T* c_next, std::size_t hidden);
  /// The LSTM's backward: from dh', dc' to the gates' pre-activations dp and dc.
  void (*lstm_backward)(const T* a, const T* dh, const T* dc, const T* c_new, const T* c_old, T* dp,
                        T* dc_prev, std::size_t hidden);
  /// The GRU's forward: x's [r z n] pre-activations become activations; hn_row, h'.
  void (*gru)(T* x, const T* hh, const T* h_row, T* hn_row, T* h_next, std::size_t hidden);
  /// The same, leaving x as it was and hn_row unused (inference).
  void (*gru_infer)(T* x, const T* hh, const T* h_row, T* hn_row, T* h_next, std::size_t hidden);
  /// The GRU's backward: dx (gx's gradient), dhh (gh's), dh (the direct part of h's).
  void (*gru_backward)(const T* a, const T* hn_row, const T* dy, const T* h_row, T* dx, T* dhh,
                       T* dh, std::size_t hidden);
};

/// The loops built with the library's own flags (TAPEGRAD_ARCH).
template <class T>
GateKernels<T> base_gate_kernels();
/// The loops built for AVX-512 (F, BW, DQ, VL): only to be run on a CPU that has it.
template <class T>
GateKernels<T> avx512_gate_kernels();

/// The fastest loops this CPU runs, chosen once from its features.
template <class T>
const GateKernels<T>& gate_kernels();

}  // namespace tapegrad::nn::detail
