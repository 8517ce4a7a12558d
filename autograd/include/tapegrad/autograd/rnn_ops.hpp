// Fused recurrent steps: one op per time step of an RNN, LSTM or GRU layer. Each does the
// step's recurrent GEMM and one pass over its gates forward and backward, with the same values
// and gradients as the composed ops of the textbook equations (nn::functional's cells and
// tests/test_rnn_ops.cpp compare them). Backpropagation through time is still the tape's: the
// steps are ordinary ops on it, and W_hh's gradient comes back as Grad::outer, which the
// engine gathers into one GEMM over all steps.
#pragma once

#include <cstddef>
#include <vector>

#include "tapegrad/autograd/var.hpp"

namespace tapegrad {

/// The input part of a step's gates: gx [T, B, G*H] holds x_t W_ih^T + b for every t (one GEMM
/// for the sequence), and a step reads gx[t] in place; a 2-D gx [B, G*H] is one step (t = 0).

/// What an LSTM or GRU step does with gx[t], its input gates, once read.
enum class GateInput {
  keep,       // gx is left as it was; the step keeps its gate activations in a new array
  overwrite,  // the step keeps its gate activations in gx[t], in place of the input gates: one
              // gate slab less per step. For a gx that nothing else reads afterwards, and whose
              // own backward does not read it (the layers' input projection, a linear op)
};

/// h' = act(gx[t] + h W_hh^T), act = tanh, or relu when `relu`. Shapes: h [B, H],
/// w_hh [H, H] -> [B, H]. (The bias b_hh belongs in gx.)
template <class T>
Var<T> fused_rnn_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      bool relu = false);

/// LSTM step, gates in PyTorch's order [i f g o] = gx[t] + h W_hh^T:
/// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').
/// The state is one array [2, B, H]: h then c. Shapes: state [2, B, H], w_hh [4H, H] ->
/// [2, B, H]. (The bias b_hh belongs in gx.)
template <class T>
Var<T> fused_lstm_step(const Var<T>& gx, std::size_t t, const Var<T>& state, const Var<T>& w_hh,
                       GateInput mode = GateInput::keep);

/// GRU step, PyTorch's formulas and gate order [r z n], with gh = h W_hh^T + b_hh:
/// r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z), n = tanh(gx_n + r gh_n),
/// h' = (1 - z) n + z h. Shapes: h [B, H], w_hh [3H, H], b_hh [3H] or empty -> [B, H].
template <class T>
Var<T> fused_gru_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      const Var<T>& b_hh, GateInput mode = GateInput::keep);

/// y[k] = xs[k][index]: the h halves of LSTM states [2, B, H] as a sequence [T, B, H], in one
/// copy. Shapes: T inputs of equal shape [S, ...] -> [T, ...].
template <class T>
Var<T> stack_index(const std::vector<Var<T>>& xs, std::size_t index);

}  // namespace tapegrad
