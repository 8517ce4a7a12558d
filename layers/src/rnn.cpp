// Recurrent layers as compositions of ops: the forward pass is the textbook equations, the
// backward pass (BPTT) is the tape's.
#include "tapegrad/nn/rnn.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "checks.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/rnn_ops.hpp"

namespace tapegrad::nn {

std::size_t gate_count(CellKind kind) {
  switch (kind) {
    case CellKind::lstm:
      return 4;
    case CellKind::gru:
      return 3;
    default:
      return 1;
  }
}

namespace {

const char* kind_name(CellKind kind) {
  switch (kind) {
    case CellKind::rnn_tanh:
      return "RNN";
    case CellKind::rnn_relu:
      return "RNN";
    case CellKind::lstm:
      return "LSTM";
    default:
      return "GRU";
  }
}

template <class T>
Var<T> zeros(std::size_t rows, std::size_t cols) {
  Array<T> a = Array<T>::from_shape({rows, cols});
  a.fill(T(0));
  return constant(std::move(a));
}

// One step from the input part of the gates, gx = x W_ih^T + b_ih, already computed (for all
// time steps at once in a layer). Each returns the next state.

template <class T>
Var<T> rnn_step(const Var<T>& gx, const Var<T>& h, const Var<T>& w_hh, const Var<T>& b_hh,
                Nonlinearity nonlinearity) {
  // h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
  Var<T> pre = gx + linear(h, w_hh, b_hh);
  return nonlinearity == Nonlinearity::tanh ? tanh(pre) : relu(pre);
}

template <class T>
RecurrentState<T> lstm_step(const Var<T>& gx, const RecurrentState<T>& s, const Var<T>& w_hh,
                            const Var<T>& b_hh) {
  // [i f g o] = x W_ih^T + b_ih + h W_hh^T + b_hh
  std::vector<Var<T>> gates = chunk(gx + linear(s.h, w_hh, b_hh), 4, 1);
  Var<T> i = sigmoid(gates[0]);      // input gate
  Var<T> f = sigmoid(gates[1]);      // forget gate
  Var<T> g = tanh(gates[2]);         // cell candidate
  Var<T> o = sigmoid(gates[3]);      // output gate
  Var<T> c_next = f * s.c + i * g;   // c' = f * c + i * g
  Var<T> h_next = o * tanh(c_next);  // h' = o * tanh(c')
  return {h_next, c_next};
}

template <class T>
Var<T> gru_step(const Var<T>& gx, const Var<T>& h, const Var<T>& w_hh, const Var<T>& b_hh) {
  std::vector<Var<T>> gi = chunk(gx, 3, 1);                     // W_i{r,z,n} x + b_i{r,z,n}
  std::vector<Var<T>> gh = chunk(linear(h, w_hh, b_hh), 3, 1);  // W_h{r,z,n} h + b_h{r,z,n}
  Var<T> r = sigmoid(gi[0] + gh[0]);                            // reset gate
  Var<T> z = sigmoid(gi[1] + gh[1]);                            // update gate
  Var<T> n = tanh(gi[2] + r * gh[2]);  // n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
  return (T(1) - z) * n + z * h;       // h' = (1 - z) * n + z * h
}

// Checks a cell's weights and returns (gates * H, H).
template <class T>
std::size_t check_cell(const char* op, std::size_t gates, const Var<T>& x, const Var<T>& h,
                       const Var<T>& w_ih, const Var<T>& w_hh, const Var<T>& b_ih,
                       const Var<T>& b_hh) {
  if (!x.defined() || !w_ih.defined() || !w_hh.defined()) {
    throw usage_error(fmt::format("{}: x, weight_ih and weight_hh must be given", op));
  }
  const std::size_t hidden = w_hh.ndim() == 2 ? w_hh.shape()[1] : 0;
  const auto describe = [&] {
    return fmt::format("x {}, h {}, weight_ih {}, weight_hh {}, bias_ih {}, bias_hh {}",
                       shape_str(x.shape()), h.defined() ? shape_str(h.shape()) : "none",
                       shape_str(w_ih.shape()), shape_str(w_hh.shape()),
                       b_ih.defined() ? shape_str(b_ih.shape()) : "none",
                       b_hh.defined() ? shape_str(b_hh.shape()) : "none");
  };
  const bool ok =
      hidden > 0 && x.ndim() == 2 && w_ih.ndim() == 2 && w_hh.shape()[0] == gates * hidden &&
      w_ih.shape()[0] == gates * hidden && w_ih.shape()[1] == x.shape()[1] &&
      (!h.defined() || (h.ndim() == 2 && h.shape()[0] == x.shape()[0] && h.shape()[1] == hidden)) &&
      (!b_ih.defined() || (b_ih.ndim() == 1 && b_ih.shape()[0] == gates * hidden)) &&
      (!b_hh.defined() || (b_hh.ndim() == 1 && b_hh.shape()[0] == gates * hidden));
  if (!ok) {
    throw shape_error(fmt::format(
        "{}: expected x [B, in], h [B, H], weight_ih [{}H, in], weight_hh [{}H, H], biases [{}H]; "
        "got {}",
        op, gates, gates, gates, describe()));
  }
  return hidden;
}

// One direction of one layer over the whole sequence.
template <class T>
struct Direction {
  CellKind kind;
  const functional::RecurrentWeights<T>& w;
  std::size_t steps;
  bool reverse;
  const std::vector<xt::xarray<bool>>* active;  // per step [B, 1], or null: no padding
  Var<T> zero;

  std::size_t time(std::size_t i) const { return reverse ? steps - 1 - i : i; }

  // The textbook equations as composed ops, one step after another.
  RecurrentOutput<T> composed(const Var<T>& input, RecurrentState<T> s) const {
    // x_t W_ih^T + b_ih for every t in one GEMM: [T, B, in] -> [T, B, G*H]
    const Var<T> gx_all = linear(input, w.w_ih, w.b_ih);
    std::vector<Var<T>> outputs(steps);
    for (std::size_t i = 0; i < steps; ++i) {
      const std::size_t t = time(i);
      std::optional<Scope> scope;  // for anomaly messages
      if (detect_anomaly()) scope.emplace(fmt::format("step {}", t));
      const Var<T> gx = select(gx_all, 0, t);
      RecurrentState<T> next;
      switch (kind) {
        case CellKind::lstm:
          next = lstm_step(gx, s, w.w_hh, w.b_hh);
          break;
        case CellKind::gru:
          next.h = gru_step(gx, s.h, w.w_hh, w.b_hh);
          break;
        default:
          next.h = rnn_step(gx, s.h, w.w_hh, w.b_hh,
                            kind == CellKind::rnn_relu ? Nonlinearity::relu : Nonlinearity::tanh);
      }
      if (active != nullptr) {
        const auto& m = (*active)[t];
        outputs[t] = tapegrad::where(m, next.h, zero);
        next.h = tapegrad::where(m, next.h, s.h);
        if (kind == CellKind::lstm) next.c = tapegrad::where(m, next.c, s.c);
      } else {
        outputs[t] = next.h;
      }
      s = next;
    }
    return {stack(outputs, 0), s.h, s.c};
  }

  // The same with one fused op per step (tapegrad/autograd/rnn_ops.hpp). The LSTM's state is one
  // array [2, B, H] (h then c); b_hh joins b_ih in the input GEMM, except the GRU's.
  RecurrentOutput<T> fused(const Var<T>& input, const Var<T>& h0, const Var<T>& c0) const {
    const bool lstm = kind == CellKind::lstm;
    Var<T> bias = w.b_ih;
    if (kind != CellKind::gru && w.b_hh.defined()) bias = bias.defined() ? bias + w.b_hh : w.b_hh;
    const Var<T> gx_all = linear(input, w.w_ih, bias);
    // gx_all is this loop's own: each step leaves its gate activations there, except under
    // anomaly detection, whose messages show a step's inputs as they were.
    const GateInput gates = detect_anomaly() ? GateInput::keep : GateInput::overwrite;
    Var<T> s = lstm ? stack({h0, c0}, 0) : h0;
    std::vector<Var<T>> outputs(steps);
    for (std::size_t i = 0; i < steps; ++i) {
      const std::size_t t = time(i);
      std::optional<Scope> scope;  // for anomaly messages
      if (detect_anomaly()) scope.emplace(fmt::format("step {}", t));
      Var<T> next =
          lstm ? tapegrad::fused_lstm_step(gx_all, t, s, w.w_hh, gates)
          : kind == CellKind::gru
              ? tapegrad::fused_gru_step(gx_all, t, s, w.w_hh, w.b_hh, gates)
              : tapegrad::fused_rnn_step(gx_all, t, s, w.w_hh, kind == CellKind::rnn_relu);
      if (active != nullptr) {
        const auto& m = (*active)[t];
        outputs[t] = tapegrad::where(m, lstm ? select(next, 0, 0) : next, zero);
        next = tapegrad::where(m, next, s);
      } else {
        outputs[t] = next;
      }
      s = next;
    }
    const bool states = lstm && active == nullptr;  // outputs are whole LSTM states
    return {states ? stack_index(outputs, 0) : stack(outputs, 0), lstm ? select(s, 0, 0) : s,
            lstm ? select(s, 0, 1) : Var<T>()};
  }
};

}  // namespace

namespace functional {

template <class T>
Var<T> rnn_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh,
                const Var<T>& b_ih, const Var<T>& b_hh, Nonlinearity nonlinearity) {
  check_cell("rnn_cell", 1, x, h, w_ih, w_hh, b_ih, b_hh);
  return rnn_step(linear(x, w_ih, b_ih), h, w_hh, b_hh, nonlinearity);
}

template <class T>
RecurrentState<T> lstm_cell(const Var<T>& x, const RecurrentState<T>& state, const Var<T>& w_ih,
                            const Var<T>& w_hh, const Var<T>& b_ih, const Var<T>& b_hh) {
  const std::size_t hidden = check_cell("lstm_cell", 4, x, state.h, w_ih, w_hh, b_ih, b_hh);
  if (!state.h.defined() || !state.c.defined() || state.c.shape() != state.h.shape()) {
    throw shape_error(fmt::format("lstm_cell: expected h and c [B, {}], got h {}, c {}", hidden,
                                  state.h.defined() ? shape_str(state.h.shape()) : "none",
                                  state.c.defined() ? shape_str(state.c.shape()) : "none"));
  }
  return lstm_step(linear(x, w_ih, b_ih), state, w_hh, b_hh);
}

template <class T>
Var<T> gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih, const Var<T>& w_hh,
                const Var<T>& b_ih, const Var<T>& b_hh) {
  check_cell("gru_cell", 3, x, h, w_ih, w_hh, b_ih, b_hh);
  return gru_step(linear(x, w_ih, b_ih), h, w_hh, b_hh);
}

template <class T>
RecurrentOutput<T> recurrent(const Var<T>& x, const std::vector<RecurrentWeights<T>>& weights,
                             const RecurrentOptions& o, const RecurrentState<T>& initial,
                             const std::vector<std::size_t>& lengths) {
  const char* op = kind_name(o.kind);
  const std::size_t dirs = o.bidirectional ? 2 : 1;
  const std::size_t gates = gate_count(o.kind);
  const bool is_lstm = o.kind == CellKind::lstm;
  if (!x.defined()) throw usage_error(fmt::format("{}: the input is an empty Var", op));
  if (o.num_layers == 0 || weights.size() != o.num_layers * dirs) {
    throw value_error(fmt::format("{}: {} layers x {} directions need {} weight sets, got {}", op,
                                  o.num_layers, dirs, o.num_layers * dirs, weights.size()));
  }
  if (x.ndim() != 3) {
    throw shape_error(fmt::format("{}: expected input {} , got {}", op,
                                  o.batch_first ? "[B, T, in] (batch_first)" : "[T, B, in]",
                                  shape_str(x.shape())));
  }
  const Var<T> seq = o.batch_first ? transpose(x, 0, 1) : x;  // [T, B, in]
  const std::size_t steps = seq.shape()[0], batch = seq.shape()[1];
  const std::size_t hidden = weights[0].w_hh.shape()[1];
  if (steps == 0 || batch == 0) {
    throw shape_error(fmt::format("{}: the input {} has no time steps or no sequences", op,
                                  shape_str(x.shape())));
  }
  for (std::size_t k = 0; k < weights.size(); ++k) {
    const std::size_t in = k < dirs ? seq.shape()[2] : hidden * dirs;
    const auto& w = weights[k];
    const bool ok = w.w_ih.defined() && w.w_hh.defined() && w.w_ih.ndim() == 2 &&
                    w.w_hh.ndim() == 2 && w.w_ih.shape()[0] == gates * hidden &&
                    w.w_ih.shape()[1] == in && w.w_hh.shape()[0] == gates * hidden &&
                    w.w_hh.shape()[1] == hidden &&
                    (!w.b_ih.defined() || w.b_ih.shape() == make_shape({gates * hidden})) &&
                    (!w.b_hh.defined() || w.b_hh.shape() == make_shape({gates * hidden}));
    if (!ok) {
      throw shape_error(
          fmt::format("{}: layer {} direction {}: expected weight_ih [{}, {}], weight_hh [{}, {}], "
                      "biases [{}]; "
                      "got weight_ih {}, weight_hh {} (input {})",
                      op, k / dirs, k % dirs, gates * hidden, in, gates * hidden, hidden,
                      gates * hidden, w.w_ih.defined() ? shape_str(w.w_ih.shape()) : "none",
                      w.w_hh.defined() ? shape_str(w.w_hh.shape()) : "none", shape_str(x.shape())));
    }
  }
  const Shape state_shape = make_shape({o.num_layers * dirs, batch, hidden});
  for (const auto* s : {&initial.h, &initial.c}) {
    if (s == &initial.c && !is_lstm && s->defined()) {
      throw usage_error(
          fmt::format("{}: an initial cell state c is given, but only an LSTM has one", op));
    }
    if (s->defined() && s->shape() != state_shape) {
      throw shape_error(
          fmt::format("{}: expected initial {} of shape {} (layers*directions, batch, "
                      "hidden) for input {}, got {}",
                      op, s == &initial.h ? "h" : "c", shape_str(state_shape), shape_str(x.shape()),
                      shape_str(s->shape())));
    }
  }
  bool masked = false;
  if (!lengths.empty()) {
    if (lengths.size() != batch) {
      throw value_error(fmt::format("{}: {} lengths given for a batch of {} sequences", op,
                                    lengths.size(), batch));
    }
    for (std::size_t b = 0; b < batch; ++b) {
      if (lengths[b] == 0 || lengths[b] > steps) {
        throw value_error(
            fmt::format("{}: length {} of sequence {} is outside [1, {}] (the padded "
                        "length of the input {})",
                        op, lengths[b], b, steps, shape_str(x.shape())));
      }
      masked = masked || lengths[b] != steps;
    }
  }
  if (o.dropout < 0.0 || o.dropout >= 1.0) {
    throw value_error(fmt::format("{}: dropout {} is outside [0, 1)", op, o.dropout));
  }
  // active[t][b]: step t belongs to sequence b. Past a sequence's end its state stays as it
  // was (so h_n is taken at its own last step, and the reverse direction starts there from the
  // initial state) and its output is zero, as with PyTorch's packed sequences.
  std::vector<xt::xarray<bool>> active;
  if (masked) {
    for (std::size_t t = 0; t < steps; ++t) {
      xt::xarray<bool> m = xt::xarray<bool>::from_shape({batch, 1});
      for (std::size_t b = 0; b < batch; ++b) m(b, 0) = t < lengths[b];
      active.push_back(std::move(m));
    }
  }
  const Var<T> zero = Var<T>::scalar(T(0));

  Var<T> layer_input = seq;
  std::vector<Var<T>> h_n(weights.size()), c_n(weights.size());
  for (std::size_t layer = 0; layer < o.num_layers; ++layer) {
    std::vector<Var<T>> direction_outputs;
    for (std::size_t d = 0; d < dirs; ++d) {
      const std::size_t k = layer * dirs + d;
      std::optional<Scope> scope;
      if (detect_anomaly()) scope.emplace(fmt::format("layer {} direction {}", layer, d));
      Direction<T> run{o.kind, weights[k], steps, d == 1, masked ? &active : nullptr, zero};
      Var<T> h0 = initial.h.defined() ? select(initial.h, 0, k) : zeros<T>(batch, hidden);
      Var<T> c0;
      if (is_lstm) c0 = initial.c.defined() ? select(initial.c, 0, k) : zeros<T>(batch, hidden);
      RecurrentOutput<T> r =
          o.fused ? run.fused(layer_input, h0, c0) : run.composed(layer_input, {h0, c0});
      direction_outputs.push_back(r.output);  // [T, B, H]
      h_n[k] = r.h_n;
      c_n[k] = r.c_n;
    }
    layer_input = dirs == 2 ? concat(direction_outputs, 2) : direction_outputs[0];
    if (layer + 1 < o.num_layers && o.dropout > 0.0 && o.training) {
      layer_input = dropout(layer_input, o.dropout, true,
                            o.generator != nullptr ? *o.generator : default_generator());
    }
  }
  RecurrentOutput<T> out;
  out.output = o.batch_first ? transpose(layer_input, 0, 1) : layer_input;
  out.h_n = stack(h_n, 0);
  if (is_lstm) out.c_n = stack(c_n, 0);
  return out;
}

}  // namespace functional

// ---- modules ----

namespace {

void check_options(const char* op, const RNNOptions& o) {
  using detail::impossible_size;
  using detail::size_text;
  if (impossible_size(o.input_size()) || impossible_size(o.hidden_size()) ||
      impossible_size(o.num_layers())) {
    throw value_error(fmt::format(
        "{}: input_size {}, hidden_size {} and num_layers {} must be positive", op,
        size_text(o.input_size()), size_text(o.hidden_size()), size_text(o.num_layers())));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() < 1.0)) {
    throw value_error(fmt::format("{}: dropout {} is outside [0, 1)", op, o.dropout()));
  }
}

template <class T>
Var<T> uniform_param(Generator& g, std::size_t rows, std::size_t cols, T bound) {
  const Shape shape = cols == 0 ? make_shape({rows}) : make_shape({rows, cols});
  return Var<T>(g.uniform<T>(shape, -bound, bound));
}

// Registers weight_ih, weight_hh and (when bias) bias_ih, bias_hh with `suffix`, PyTorch's init.
template <class T>
functional::RecurrentWeights<T> make_weights(Module<T>& m, Generator& g, std::size_t gates,
                                             std::size_t in, std::size_t hidden, bool bias,
                                             const std::string& suffix) {
  const T bound = T(1) / std::sqrt(static_cast<T>(hidden));
  functional::RecurrentWeights<T> w;
  w.w_ih =
      m.register_parameter("weight_ih" + suffix, uniform_param<T>(g, gates * hidden, in, bound));
  w.w_hh = m.register_parameter("weight_hh" + suffix,
                                uniform_param<T>(g, gates * hidden, hidden, bound));
  if (bias) {
    w.b_ih =
        m.register_parameter("bias_ih" + suffix, uniform_param<T>(g, gates * hidden, 0, bound));
    w.b_hh =
        m.register_parameter("bias_hh" + suffix, uniform_param<T>(g, gates * hidden, 0, bound));
  }
  return w;
}

// A cell's input and state as [B, ...]: a 1-D input is one sequence.
template <class T>
Var<T> as_batch(const Var<T>& v) {
  return v.defined() && v.ndim() == 1 ? reshape(v, make_shape({1, v.shape()[0]})) : v;
}

// A cell's state as [B, H]: the given one, or zeros for the batch of `xb`.
template <class T>
Var<T> state_or_zeros(const Var<T>& state, const Var<T>& xb, std::size_t hidden) {
  return state.defined() ? as_batch(state) : zeros<T>(xb.defined() ? xb.shape()[0] : 1, hidden);
}

template <class T>
Var<T> like_input(const Var<T>& v, const Var<T>& x) {
  return x.ndim() == 1 ? reshape(v, make_shape({v.shape()[1]})) : v;
}

}  // namespace

template <class T>
RecurrentBase<T>::RecurrentBase(CellKind kind, const RNNOptions& options, Generator& generator)
    : kind_(kind), options_(options), generator_(generator.engine()()) {
  check_options(kind_name(kind), options);
  const std::size_t dirs = options.bidirectional() ? 2 : 1;
  for (std::size_t layer = 0; layer < options.num_layers(); ++layer) {
    for (std::size_t d = 0; d < dirs; ++d) {
      const std::size_t in = layer == 0 ? options.input_size() : options.hidden_size() * dirs;
      const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
      weights_.push_back(make_weights(*this, generator, gate_count(kind), in, options.hidden_size(),
                                      options.bias(), suffix));
    }
  }
}

template <class T>
RecurrentOutput<T> RecurrentBase<T>::forward(const Var<T>& x, const RecurrentState<T>& initial,
                                             const std::vector<std::size_t>& lengths) const {
  functional::RecurrentOptions o;
  o.kind = kind_;
  o.num_layers = options_.num_layers();
  o.bidirectional = options_.bidirectional();
  o.batch_first = options_.batch_first();
  o.dropout = options_.dropout();
  o.training = this->is_training();
  o.fused = options_.fused();
  o.generator = &generator_;
  std::optional<Scope> scope;
  if (detect_anomaly()) {
    scope.emplace(
        fmt::format("{}({}, {})", kind_name(kind_), options_.input_size(), options_.hidden_size()));
  }
  if (x.defined() && x.ndim() == 3 && x.shape()[2] != options_.input_size()) {
    throw shape_error(fmt::format("{}: input {} has {} features, the layer expects input_size {}",
                                  kind_name(kind_), shape_str(x.shape()), x.shape()[2],
                                  options_.input_size()));
  }
  return functional::recurrent(x, weights_, o, initial, lengths);
}

template <class T>
const functional::RecurrentWeights<T>& RecurrentBase<T>::weights(std::size_t layer,
                                                                 std::size_t direction) const {
  const std::size_t dirs = options_.bidirectional() ? 2 : 1;
  if (layer >= options_.num_layers() || direction >= dirs) {
    throw value_error(fmt::format("weights: no layer {} direction {} ({} layers, {} directions)",
                                  layer, direction, options_.num_layers(), dirs));
  }
  return weights_[layer * dirs + direction];
}

template <class T>
RNN<T>::RNN(const RNNOptions& options, Generator& generator)
    : RecurrentBase<T>(
          options.nonlinearity() == Nonlinearity::tanh ? CellKind::rnn_tanh : CellKind::rnn_relu,
          options, generator) {}

template <class T>
RNNCell<T>::RNNCell(std::size_t input_size, std::size_t hidden_size, bool bias,
                    Nonlinearity nonlinearity, Generator& generator)
    : hidden_(hidden_size), nonlinearity_(nonlinearity) {
  check_options("RNNCell", RNNOptions(input_size, hidden_size));
  w_ = make_weights(*this, generator, 1, input_size, hidden_size, bias, "");
}

template <class T>
Var<T> RNNCell<T>::forward(const Var<T>& x, const Var<T>& h) const {
  const Var<T> xb = as_batch(x);
  const Var<T> hb = state_or_zeros(h, xb, hidden_);
  return like_input(functional::rnn_cell(xb, hb, w_.w_ih, w_.w_hh, w_.b_ih, w_.b_hh, nonlinearity_),
                    x);
}

template <class T>
LSTMCell<T>::LSTMCell(std::size_t input_size, std::size_t hidden_size, bool bias,
                      Generator& generator)
    : hidden_(hidden_size) {
  check_options("LSTMCell", RNNOptions(input_size, hidden_size));
  w_ = make_weights(*this, generator, 4, input_size, hidden_size, bias, "");
}

template <class T>
RecurrentState<T> LSTMCell<T>::forward(const Var<T>& x, const RecurrentState<T>& state) const {
  const Var<T> xb = as_batch(x);
  const RecurrentState<T> s{state_or_zeros(state.h, xb, hidden_),
                            state_or_zeros(state.c, xb, hidden_)};
  RecurrentState<T> next = functional::lstm_cell(xb, s, w_.w_ih, w_.w_hh, w_.b_ih, w_.b_hh);
  return {like_input(next.h, x), like_input(next.c, x)};
}

template <class T>
GRUCell<T>::GRUCell(std::size_t input_size, std::size_t hidden_size, bool bias,
                    Generator& generator)
    : hidden_(hidden_size) {
  check_options("GRUCell", RNNOptions(input_size, hidden_size));
  w_ = make_weights(*this, generator, 3, input_size, hidden_size, bias, "");
}

template <class T>
Var<T> GRUCell<T>::forward(const Var<T>& x, const Var<T>& h) const {
  const Var<T> xb = as_batch(x);
  const Var<T> hb = state_or_zeros(h, xb, hidden_);
  return like_input(functional::gru_cell(xb, hb, w_.w_ih, w_.w_hh, w_.b_ih, w_.b_hh), x);
}

#define TAPEGRAD_INSTANTIATE(T)                                                                    \
  template Var<T> functional::rnn_cell<T>(const Var<T>&, const Var<T>&, const Var<T>&,             \
                                          const Var<T>&, const Var<T>&, const Var<T>&,             \
                                          Nonlinearity);                                           \
  template RecurrentState<T> functional::lstm_cell<T>(const Var<T>&, const RecurrentState<T>&,     \
                                                      const Var<T>&, const Var<T>&, const Var<T>&, \
                                                      const Var<T>&);                              \
  template Var<T> functional::gru_cell<T>(const Var<T>&, const Var<T>&, const Var<T>&,             \
                                          const Var<T>&, const Var<T>&, const Var<T>&);            \
  template RecurrentOutput<T> functional::recurrent<T>(                                            \
      const Var<T>&, const std::vector<functional::RecurrentWeights<T>>&,                          \
      const functional::RecurrentOptions&, const RecurrentState<T>&,                               \
      const std::vector<std::size_t>&);                                                            \
  template class RecurrentBase<T>;                                                                 \
  template class RNN<T>;                                                                           \
  template class RNNCell<T>;                                                                       \
  template class LSTMCell<T>;                                                                      \
  template class GRUCell<T>;

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad::nn
