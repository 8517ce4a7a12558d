/// @file
/// Recurrent layers: RNN (tanh or relu), LSTM and GRU, their cells, and the functional forms
/// they are built on. Each time step is a cell step of tapegrad/nn/cells.hpp on the tape (by
/// default one fused op per step; or the composed ops of the equations), so backpropagation
/// through time is the tape walked backwards; no layer has a hand-written BPTT.
///
/// Parameter names, shapes, gate order, formulas and initialisation are PyTorch's:
/// ```
///   weight_ih_l{k}[_reverse] [G*H, in], weight_hh_l{k}[_reverse] [G*H, H],
///   bias_ih_l{k}[_reverse] [G*H], bias_hh_l{k}[_reverse] [G*H], all U(-1/sqrt(H), 1/sqrt(H)),
///   G = 1 (RNN), 4 (LSTM: gates i, f, g, o), 3 (GRU: gates r, z, n).
/// ```
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "tapegrad/autograd/nn_ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/nn/cells.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// The cell a recurrent layer runs: an Elman RNN with tanh or relu, an LSTM or a GRU.
enum class CellKind { rnn_tanh, rnn_relu, lstm, gru };

/// Gates per cell kind: 1, 1, 4, 3.
std::size_t gate_count(CellKind kind);

/// The name of a cell kind, as command lines and saved configurations write it: "rnn_tanh",
/// "rnn_relu", "lstm", "gru" (PyTorch's RNN modes, in lower case).
const char* to_string(CellKind kind);

/// The cell kind of a to_string name; a value_error naming the unknown name and the accepted
/// ones otherwise.
CellKind parse_cell_kind(std::string_view name);

/// What a recurrent layer returns, laid out as PyTorch's:
/// output [T, B, D*H] ([B, T, D*H] when batch_first), zero past each sequence's length;
/// h_n and c_n [L*D, B, H], index layer*D + direction, taken at each sequence's own last step.
template <class T>
struct RecurrentOutput {
  Var<T> output;  ///< the last layer's h at every step, both directions side by side
  Var<T> h_n;     ///< every layer's and direction's final h
  Var<T> c_n;     ///< every layer's and direction's final c; LSTM only (empty otherwise)
};

/// The recurrent layers as functions of explicit weights (PyTorch's torch.nn.functional
/// style): the cells from x, and recurrent(), the multi-layer loop RNNBase::forward runs.
namespace functional {

// The cells from x: rnn_step, lstm_step and gru_step (tapegrad/nn/cells.hpp) of
// gx = x W_ih^T + b_ih, after checking every shape.

/// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). Shapes: x [B, in], h [B, H].
/// Biases may be empty Vars (no bias).
template <class T>
Var<T> rnn_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh,
                const Var<T>& b_ih, const Var<T>& b_hh, Nonlinearity nonlinearity);

/// i, f, g, o = split(x W_ih^T + b_ih + h W_hh^T + b_hh); i, f, o = sigmoid, g = tanh;
/// c' = f c + i g; h' = o tanh(c'). Shapes: x [B, in], h and c [B, H]. Returns {h', c'}.
template <class T>
RecurrentState<T> lstm_cell(const Var<T>& x, const RecurrentState<T>& state, const Var<T>& w_ih,
                            const Var<T>& w_hh, const Var<T>& b_ih, const Var<T>& b_hh);

/// r = sigmoid(W_ir x + b_ir + W_hr h + b_hr), z = sigmoid(W_iz x + b_iz + W_hz h + b_hz),
/// n = tanh(W_in x + b_in + r (W_hn h + b_hn)), h' = (1 - z) n + z h. Shapes as rnn_cell.
template <class T>
Var<T> gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh,
                const Var<T>& b_ih, const Var<T>& b_hh);

/// The weights of one layer and direction.
template <class T>
struct RecurrentWeights {
  /// @{
  /// w_ih [G*H, in] and w_hh [G*H, H]; b_ih and b_hh [G*H], or empty Vars for no bias: PyTorch's
  /// weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k} and bias_hh_l{k} of one layer.
  Var<T> w_ih, w_hh, b_ih, b_hh;
  /// @}
};

/// How recurrent() runs: what RNNOptions says for a layer, and the layer's mode.
struct RecurrentOptions {
  CellKind kind = CellKind::lstm;  ///< the cell, which sets G (gate_count)
  std::size_t num_layers = 1;      ///< L; layer l > 0 reads layer l - 1's output
  bool bidirectional = false;      ///< true: D = 2, a reverse direction beside the forward one
  bool batch_first = false;        ///< x and output [B, T, ...] instead of [T, B, ...]
  double dropout = 0.0;  ///< on the outputs of every layer but the last, in training; in [0, 1)
  bool training = true;  ///< false: no dropout (evaluation)
  Generator* generator = nullptr;  ///< for dropout; the default generator when null
  /// true: one fused op per step (fused_lstm_step, ...); false: the textbook equations as
  /// composed ops (lstm_step, ...; slower; the same values and gradients up to rounding; for
  /// reading and tests). Both in tapegrad/nn/cells.hpp.
  bool fused = true;
};

/// A multi-layer (bi)directional recurrent network over a padded batch.
/// x: [T, B, in] ([B, T, in] when batch_first). weights: num_layers * D entries, index
/// layer*D + direction. initial: h (and c) [L*D, B, H], or empty for zeros. lengths: empty
/// (every sequence has length T) or B values in [1, T], in any order: then the results equal
/// PyTorch's for the same batch packed with pack_padded_sequence (outputs zero past each
/// length, final states at each sequence's own last step, the reverse direction starting at
/// each sequence's own end). A wrong shape of x, a weight or an initial state is a shape_error,
/// a bad length, weight count or dropout a value_error, an empty x or an initial c for another
/// cell than the LSTM a usage_error; each names the cell kind and the shapes.
template <class T>
RecurrentOutput<T> recurrent(const Var<T>& x, const std::vector<RecurrentWeights<T>>& weights,
                             const RecurrentOptions& options, const RecurrentState<T>& initial = {},
                             const std::vector<std::size_t>& lengths = {});

}  // namespace functional

/// Options of RNN, LSTM and GRU, PyTorch's constructor arguments, set fluently: each setter
/// (`num_layers(2)`) sets one option and returns the options, so that calls chain, and the
/// getter of the same name without an argument (`num_layers()`) reads it back:
///
/// ```
///   nn::LSTM<float> lstm(nn::RNNOptions(64, 128).num_layers(2).bidirectional(true)
///                            .batch_first(true).dropout(0.2));
///   nn::RNN<float> rnn(nn::RNNOptions(8, 16).nonlinearity(nn::Nonlinearity::relu));
/// ```
///
/// The options are checked when a layer is built: a zero size or number of layers, or a
/// dropout outside [0, 1), is a value_error.
class RNNOptions {
 public:
  /// The two options without a default; the others take PyTorch's defaults.
  RNNOptions(std::size_t input_size, std::size_t hidden_size)
      : input_size_(input_size), hidden_size_(hidden_size) {}
#define TAPEGRAD_OPTION(type, name, init) \
 public:                                  \
  RNNOptions& name(type value) {          \
    name##_ = value;                      \
    return *this;                         \
  }                                       \
  type name() const {                     \
    return name##_;                       \
  }                                       \
                                          \
 private:                                 \
  type name##_ = init;
  /// Features of x (in).
  TAPEGRAD_OPTION(std::size_t, input_size, 0)
  /// Features of h (H), and of c for an LSTM; the output has D*H.
  TAPEGRAD_OPTION(std::size_t, hidden_size, 0)
  /// Stacked layers (L); layer l > 0 reads layer l - 1's output. Default 1.
  TAPEGRAD_OPTION(std::size_t, num_layers, 1)
  /// false: no b_ih, b_hh parameters. Default true.
  TAPEGRAD_OPTION(bool, bias, true)
  /// true: x and output are [B, T, ...] instead of [T, B, ...] (h_n and c_n stay
  /// [L*D, B, H], as in PyTorch). Default false.
  TAPEGRAD_OPTION(bool, batch_first, false)
  /// Dropout with this p on each layer's output but the last, in training. Default 0.
  TAPEGRAD_OPTION(double, dropout, 0.0)
  /// true: a reverse direction too (D = 2), its output beside the forward's. Default false.
  TAPEGRAD_OPTION(bool, bidirectional, false)
  /// RNN only: tanh (the default) or relu; LSTM and GRU ignore it.
  TAPEGRAD_OPTION(Nonlinearity, nonlinearity, Nonlinearity::tanh)
  /// false: the composed ops of the equations instead of one fused op per step (slower; the
  /// same values and gradients up to rounding; to read the tape of a real layer, or compare).
  /// Default true.
  TAPEGRAD_OPTION(bool, fused, true)
#undef TAPEGRAD_OPTION
};

/// The common body of RNN, LSTM and GRU (PyTorch's RNNBase): parameters by PyTorch's names,
/// forward over a padded batch with optional lengths and initial state.
///
/// An abstract base: its constructor is protected, so every RNNBase is an RNN, an LSTM or a
/// GRU, and the type of a layer says which cell it runs; a program never builds a "base".
/// Code that picks the cell at run time, from a --cell option say, holds an RNNBase made by
/// make_recurrent. The three layers differ only in data (the cell kind, the gate count), not
/// in behaviour: forward is one function for all three, so the base has no virtual methods to
/// override and a step costs no virtual call.
template <class T = float>
class RNNBase : public Module<T> {
 public:
  /// See functional::recurrent for shapes and the meaning of `lengths`. Dropout between layers
  /// runs in training mode only. An input whose last size is not input_size is a shape_error.
  RecurrentOutput<T> forward(const Var<T>& x, const RecurrentState<T>& initial = {},
                             const std::vector<std::size_t>& lengths = {}) const;
  /// forward(x, {}, lengths): variable lengths from a zero initial state.
  RecurrentOutput<T> forward(const Var<T>& x, const std::vector<std::size_t>& lengths) const {
    return forward(x, {}, lengths);
  }
  /// forward(x, initial, lengths), so that a layer is called as `lstm(x)`.
  RecurrentOutput<T> operator()(const Var<T>& x, const RecurrentState<T>& initial = {},
                                const std::vector<std::size_t>& lengths = {}) const {
    return forward(x, initial, lengths);
  }
  /// forward(x, {}, lengths): `lstm(x, batch.lengths)`.
  RecurrentOutput<T> operator()(const Var<T>& x, const std::vector<std::size_t>& lengths) const {
    return forward(x, {}, lengths);
  }

  /// The options the layer was built with.
  const RNNOptions& options() const { return options_; }
  /// The cell it runs (for an RNN: rnn_tanh or rnn_relu, from the nonlinearity option).
  CellKind kind() const { return kind_; }
  /// The weights of one layer and direction (0 forward, 1 reverse).
  const functional::RecurrentWeights<T>& weights(std::size_t layer, std::size_t direction) const;
  /// The generator used for dropout between layers.
  Generator& generator() const { return generator_; }

 protected:
  /// Registers the weights of every layer and direction under PyTorch's names, drawn from
  /// `generator`, which also seeds the layer's own dropout generator. Bad options are
  /// value_errors (see RNNOptions).
  RNNBase(CellKind kind, const RNNOptions& options, Generator& generator);

 private:
  CellKind kind_;
  RNNOptions options_;
  std::vector<functional::RecurrentWeights<T>> weights_;
  mutable Generator generator_;
};

/// Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu).
template <class T = float>
class RNN : public RNNBase<T> {
 public:
  /// An RNN with `options`, its nonlinearity included; weights drawn from `generator`.
  explicit RNN(const RNNOptions& options, Generator& generator = default_generator());
};

/// LSTM with gates i, f, g, o (the equations: lstm_step in tapegrad/nn/cells.hpp); returns c_n
/// too.
template <class T = float>
class LSTM : public RNNBase<T> {
 public:
  /// An LSTM with `options` (the nonlinearity is ignored); weights drawn from `generator`.
  explicit LSTM(const RNNOptions& options, Generator& generator = default_generator())
      : RNNBase<T>(CellKind::lstm, options, generator) {}
};

/// GRU with gates r, z, n (the equations: gru_step in tapegrad/nn/cells.hpp).
template <class T = float>
class GRU : public RNNBase<T> {
 public:
  /// A GRU with `options` (the nonlinearity is ignored); weights drawn from `generator`.
  explicit GRU(const RNNOptions& options, Generator& generator = default_generator())
      : RNNBase<T>(CellKind::gru, options, generator) {}
};

/// An RNN (rnn_tanh, rnn_relu: the kind sets the nonlinearity), LSTM or GRU chosen at run time,
/// shared so that a model can register_module it: `rnn_ = register_module("rnn",
/// make_recurrent<float>(CellKind::gru, RNNOptions(32, 64)))`.
template <class T = float>
std::shared_ptr<RNNBase<T>> make_recurrent(CellKind kind, const RNNOptions& options,
                                           Generator& generator = default_generator());

/// One step of an RNN: parameters weight_ih [H, in], weight_hh [H, H], bias_ih, bias_hh [H].
template <class T = float>
class RNNCell : public Module<T> {
 public:
  /// A cell from input_size to hidden_size features, with biases unless `bias` is false, and
  /// tanh or relu; weights drawn from `generator`. A zero size is a value_error.
  RNNCell(std::size_t input_size, std::size_t hidden_size, bool bias = true,
          Nonlinearity nonlinearity = Nonlinearity::tanh,
          Generator& generator = default_generator());
  /// @{
  /// h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu). x [B, in] (or [in]); h [B, H] (or
  /// [H]), zeros when empty. Returns h'. Other shapes are shape_errors.
  Var<T> forward(const Var<T>& x, const Var<T>& h = {}) const;
  Var<T> operator()(const Var<T>& x, const Var<T>& h = {}) const { return forward(x, h); }
  /// @}

 private:
  std::size_t hidden_;
  Nonlinearity nonlinearity_;
  functional::RecurrentWeights<T> w_;
};

/// One step of an LSTM: weight_ih [4H, in], weight_hh [4H, H], bias_ih, bias_hh [4H].
template <class T = float>
class LSTMCell : public Module<T> {
 public:
  /// A cell from input_size to hidden_size features, with biases unless `bias` is false;
  /// weights drawn from `generator`. A zero size is a value_error.
  LSTMCell(std::size_t input_size, std::size_t hidden_size, bool bias = true,
           Generator& generator = default_generator());
  /// @{
  /// One LSTM step (functional::lstm_cell). x [B, in] (or [in]); state h, c [B, H] (or [H]),
  /// zeros when empty. Returns {h', c'}. Other shapes are shape_errors.
  RecurrentState<T> forward(const Var<T>& x, const RecurrentState<T>& state = {}) const;
  RecurrentState<T> operator()(const Var<T>& x, const RecurrentState<T>& state = {}) const {
    return forward(x, state);
  }
  /// @}

 private:
  std::size_t hidden_;
  functional::RecurrentWeights<T> w_;
};

/// One step of a GRU: weight_ih [3H, in], weight_hh [3H, H], bias_ih, bias_hh [3H].
template <class T = float>
class GRUCell : public Module<T> {
 public:
  /// A cell from input_size to hidden_size features, with biases unless `bias` is false;
  /// weights drawn from `generator`. A zero size is a value_error.
  GRUCell(std::size_t input_size, std::size_t hidden_size, bool bias = true,
          Generator& generator = default_generator());
  /// @{
  /// One GRU step (functional::gru_cell). x [B, in] (or [in]); h [B, H] (or [H]), zeros when
  /// empty. Returns h'. Other shapes are shape_errors.
  Var<T> forward(const Var<T>& x, const Var<T>& h = {}) const;
  Var<T> operator()(const Var<T>& x, const Var<T>& h = {}) const { return forward(x, h); }
  /// @}

 private:
  std::size_t hidden_;
  functional::RecurrentWeights<T> w_;
};

extern template class RNNBase<float>;
extern template class RNNBase<double>;
extern template class RNN<float>;
extern template class RNN<double>;
extern template class RNNCell<float>;
extern template class RNNCell<double>;
extern template class LSTMCell<float>;
extern template class LSTMCell<double>;
extern template class GRUCell<float>;
extern template class GRUCell<double>;

}  // namespace tapegrad::nn
