/// @file
/// One time step of each recurrent cell, in two forms, both in the cell's own file
/// (layers/src/cells/rnn_cell.cpp, lstm_cell.cpp, gru_cell.cpp):
///
/// * rnn_step, lstm_step, gru_step: the textbook equations composed of autograd's ops, a few
///   lines each. They are the reference (docs/rnn.md maps them to PyTorch's formulas); the
///   layers run them with RNNOptions::fused(false), and their backward is the tape's.
/// * fused_rnn_step, fused_lstm_step, fused_gru_step: the same step as one op, the recurrent
///   GEMM into the gate slab and one pass over the gates, with a backward written by hand. The
///   layers run them by default on padded batches. tests/test_cells.cpp checks that both forms
///   give the same values and gradients; gradcheck checks the fused backward on its own.
/// * fused_rnn_sequence, fused_lstm_sequence, fused_gru_sequence (layers/src/cells/
///   sequence.cpp): every fused step of one direction as one op, the step's rules in a loop over
///   time on each block of the batch's rows. Checked the same ways.
/// * fused_rnn_layer, fused_lstm_layer, fused_gru_layer (the same file): a sequence op that
///   computes its own gx from the layer's input, a few steps ahead of the steps that read it;
///   the layers run them by default when no sequence is padded.
///
/// The steps and sequence ops start from gx = x W_ih^T + b_ih, the input part of the gates,
/// which a layer computes for all time steps in one GEMM. Gate order and formulas are PyTorch's
/// (torch.nn.RNN, LSTM, GRU).
#pragma once

#include <cstddef>
#include <utility>

#include "tapegrad/autograd/var.hpp"

namespace tapegrad::nn {

/// The nonlinearity of an Elman RNN step, PyTorch's `nonlinearity` of torch.nn.RNN:
/// h' = tanh(a) (the default) or h' = relu(a) = max(a, 0). Chosen for a layer with
/// `RNN<float>(RNNOptions(in, H).nonlinearity(Nonlinearity::relu))`, for a cell with
/// RNNCell's constructor argument; LSTM and GRU have none (they ignore the option).
enum class Nonlinearity { tanh, relu };

/// A recurrent state: h, and c for an LSTM (empty otherwise). As PyTorch's `rnn(x, h0)` and
/// `lstm(x, (h0, c0))`, a layer takes `rnn(x, h0)` and `lstm(x, {h0, c0})`: a Var converts to
/// a state of that h.
template <class T>
struct RecurrentState {
  Var<T> h;  ///< the hidden state [B, H] (a layer's: [L*D, B, H]); empty for zeros
  Var<T> c;  ///< the LSTM's cell state, of h's shape

  /// Zeros: both empty.
  RecurrentState() = default;
  /// The state h (an RNN's or a GRU's); implicit, so that `rnn(x, h0)` works.
  RecurrentState(Var<T> h_state) : h(std::move(h_state)) {}  // NOLINT(google-explicit-constructor)
  /// The state (h, c) of an LSTM.
  RecurrentState(Var<T> h_state, Var<T> c_state) : h(std::move(h_state)), c(std::move(c_state)) {}
};

// ---- the textbook equations (the reference) ----

/// h' = tanh(gx + h W_hh^T + b_hh) (or relu). Shapes: gx [B, H], h [B, H], w_hh [H, H],
/// b_hh [H] or empty -> [B, H].
template <class T>
Var<T> rnn_step(const Var<T>& gx, const Var<T>& h, const Var<T>& w_hh, const Var<T>& b_hh,
                Nonlinearity nonlinearity = Nonlinearity::tanh);

/// [i f g o] = gx + h W_hh^T + b_hh; i, f, o = sigmoid, g = tanh; c' = f c + i g;
/// h' = o tanh(c'). Shapes: gx [B, 4H], h and c [B, H], w_hh [4H, H], b_hh [4H] or empty.
/// Returns {h', c'}.
template <class T>
RecurrentState<T> lstm_step(const Var<T>& gx, const RecurrentState<T>& state, const Var<T>& w_hh,
                            const Var<T>& b_hh);

/// [r z n] gates: r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z), n = tanh(gx_n + r gh_n),
/// h' = (1 - z) n + z h, with gh = h W_hh^T + b_hh. Shapes: gx [B, 3H], h [B, H],
/// w_hh [3H, H], b_hh [3H] or empty -> [B, H].
template <class T>
Var<T> gru_step(const Var<T>& gx, const Var<T>& h, const Var<T>& w_hh, const Var<T>& b_hh);

// ---- the fused ops (the speed) ----

// The input part of a fused step's gates: gx [T, B, G*H] holds x W_ih^T + b for every t (one
// GEMM for the sequence), and a step reads gx[t] in place; a 2-D gx [B, G*H] is one step
// (t = 0).

/// What an LSTM or GRU step does with gx[t], its input gates, once read.
enum class GateInput {
  keep,       ///< gx is left as it was; the step keeps its gate activations in a new array
  overwrite,  ///< the step keeps its gate activations in gx[t], in place of the input gates:
              ///< one gate slab less per step. For a gx that nothing else reads afterwards, and
              ///< whose own backward does not read it (the layers' input projection, a linear
              ///< op). The write is versioned (Var::mutable_row): a backward that would read gx,
              ///< or gx[t], as it was before is a usage_error, as for any other in-place change.
};

/// rnn_step as one op: h' = act(gx[t] + h W_hh^T), act = tanh, or relu when `relu`.
/// Shapes: gx [T, B, H] (or [B, H], t = 0), h [B, H], w_hh [H, H] -> [B, H]. (The bias b_hh
/// belongs in gx, which holds x W_ih^T + b_ih + b_hh of every step, from one GEMM.)
template <class T>
Var<T> fused_rnn_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      bool relu = false);

/// lstm_step as one op, gates [i f g o] = gx[t] + h W_hh^T:
/// c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c').
/// The state is one array [2, B, H]: h then c. Shapes: gx [T, B, 4H] (or [B, 4H], t = 0),
/// state [2, B, H], w_hh [4H, H] -> [2, B, H]. (The bias b_hh belongs in gx.)
template <class T>
Var<T> fused_lstm_step(const Var<T>& gx, std::size_t t, const Var<T>& state, const Var<T>& w_hh,
                       GateInput mode = GateInput::keep);

/// gru_step as one op, gates [r z n], with gh = h W_hh^T + b_hh:
/// r = sigmoid(gx_r + gh_r), z = sigmoid(gx_z + gh_z), n = tanh(gx_n + r gh_n),
/// h' = (1 - z) n + z h. Shapes: gx [T, B, 3H] (or [B, 3H], t = 0), h [B, H], w_hh [3H, H],
/// b_hh [3H] or empty -> [B, H].
template <class T>
Var<T> fused_gru_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      const Var<T>& b_hh, GateInput mode = GateInput::keep);

// ---- a whole direction of a layer as one op ----

// The fused steps of every time step of one direction, as one op: the forward pass runs each
// block of the batch's rows through the whole sequence on its own thread (a sequence reads only
// its own rows of the state), and the backward rule runs each block back through every step,
// then W_hh's gradient as one GEMM over all steps: the library's threads meet once per pass,
// not once per step. gx [T, B, G*H] holds x W_ih^T + b of every step (the bias as for the fused
// steps); the steps run t = 0, ..., T-1, or T-1, ..., 0 when `reverse`. The values are the
// fused steps', bit for bit. (The recurrent layers use them when no sequence is padded.)

/// Every step of fused_rnn_step: h0 [B, H], w_hh [H, H] -> every step's h, [T, B, H].
template <class T>
Var<T> fused_rnn_sequence(const Var<T>& gx, const Var<T>& h0, const Var<T>& w_hh, bool relu = false,
                          bool reverse = false);

/// Every step of fused_lstm_step: h0, c0 [B, H], w_hh [4H, H] -> [2, T, B, H]: every step's h,
/// then every step's c.
template <class T>
Var<T> fused_lstm_sequence(const Var<T>& gx, const Var<T>& h0, const Var<T>& c0, const Var<T>& w_hh,
                           bool reverse = false, GateInput mode = GateInput::keep);

/// Every step of fused_gru_step: h0 [B, H], w_hh [3H, H], b_hh [3H] or empty -> every step's h,
/// [T, B, H].
template <class T>
Var<T> fused_gru_sequence(const Var<T>& gx, const Var<T>& h0, const Var<T>& w_hh,
                          const Var<T>& b_hh, bool reverse = false,
                          GateInput mode = GateInput::keep);

// One direction of a layer as one op: the sequence op above on gx = x W_ih^T + bias, which the
// op computes itself from x [T, B, in] and w_ih [G*H, in], a block of rows and a few steps at a
// time just before the steps read them (from the cache rather than memory: inference 3-10%
// faster at batch 16-64 on an Intel Xeon, docs/performance.md). Its backward adds the projection's
// gradients: x's g W_ih, w_ih's g^T x and the bias's sum of g's rows, g the gradient of gx. The
// values equal linear() followed by the sequence op to rounding (the projection's products
// differ), and the tape-free inference loop's bit for bit.

/// fused_rnn_sequence from x: bias [H] (b_ih + b_hh) or empty -> every step's h, [T, B, H].
template <class T>
Var<T> fused_rnn_layer(const Var<T>& x, const Var<T>& w_ih, const Var<T>& bias, const Var<T>& h0,
                       const Var<T>& w_hh, bool relu = false, bool reverse = false);

/// fused_lstm_sequence from x: bias [4H] (b_ih + b_hh) or empty -> [2, T, B, H].
template <class T>
Var<T> fused_lstm_layer(const Var<T>& x, const Var<T>& w_ih, const Var<T>& bias, const Var<T>& h0,
                        const Var<T>& c0, const Var<T>& w_hh, bool reverse = false);

/// fused_gru_sequence from x: b_ih [3H] or empty; b_hh [3H] or empty -> [T, B, H].
template <class T>
Var<T> fused_gru_layer(const Var<T>& x, const Var<T>& w_ih, const Var<T>& b_ih, const Var<T>& h0,
                       const Var<T>& w_hh, const Var<T>& b_hh, bool reverse = false);

}  // namespace tapegrad::nn
