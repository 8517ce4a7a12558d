// The functional form of the recurrent layers: layers, directions and variable lengths around
// one cell step per time step (the composed or the fused step of layers/src/cells/), or, fused
// and unpadded, one op per direction (the sequence ops of cells/sequence.cpp). The forward pass
// is the steps in order; the backward pass (BPTT) is the tape's, through the steps' rules.
#include <optional>

#include <fmt/format.h>

#include "cells/common.hpp"
#include "checks.hpp"
#include "recurrent.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/nn/cells.hpp"
#include "tapegrad/nn/rnn.hpp"

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

const char* to_string(CellKind kind) {
  switch (kind) {
    case CellKind::rnn_tanh:
      return "rnn_tanh";
    case CellKind::rnn_relu:
      return "rnn_relu";
    case CellKind::lstm:
      return "lstm";
    case CellKind::gru:
      return "gru";
  }
  return "unknown";
}

CellKind parse_cell_kind(std::string_view name) {
  return detail::parse_name(
      "cell kind", name, {CellKind::rnn_tanh, CellKind::rnn_relu, CellKind::lstm, CellKind::gru});
}

const char* detail::kind_name(CellKind kind) {
  switch (kind) {
    case CellKind::rnn_tanh:
    case CellKind::rnn_relu:
      return "RNN";
    case CellKind::lstm:
      return "LSTM";
    default:
      return "GRU";
  }
}

namespace {

using detail::kind_name;
using detail::zeros;

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

  // The textbook equations as composed ops (rnn_step, lstm_step, gru_step), step after step.
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

  // The bias of the input GEMM of the fused forms: b_ih + b_hh, except the GRU's b_ih alone (its
  // b_hn is multiplied by r).
  Var<T> input_bias() const {
    Var<T> bias = w.b_ih;
    if (kind != CellKind::gru && w.b_hh.defined()) bias = bias.defined() ? bias + w.b_hh : w.b_hh;
    return bias;
  }

  // The same with one fused op per step (fused_rnn_step, ... of tapegrad/nn/cells.hpp). The
  // LSTM's state is one array [2, B, H] (h then c); b_hh joins b_ih in the input GEMM, except the
  // GRU's.
  RecurrentOutput<T> fused(const Var<T>& input, const Var<T>& h0, const Var<T>& c0) const {
    const bool lstm = kind == CellKind::lstm;
    if (active == nullptr && !detect_anomaly()) {
      // Without padding, the whole direction as one op (fused_rnn_layer, ...), input projection
      // included: its forward and its backward each meet the threads once, instead of once per
      // step.
      const std::size_t last = time(steps - 1);
      if (lstm) {
        const Var<T> y = fused_lstm_layer(input, w.w_ih, input_bias(), h0, c0, w.w_hh, reverse);
        const Var<T> hs = select(y, 0, 0);
        return {hs, select(hs, 0, last), select(select(y, 0, 1), 0, last)};
      }
      const Var<T> hs = kind == CellKind::gru
                            ? fused_gru_layer(input, w.w_ih, w.b_ih, h0, w.w_hh, w.b_hh, reverse)
                            : fused_rnn_layer(input, w.w_ih, input_bias(), h0, w.w_hh,
                                              kind == CellKind::rnn_relu, reverse);
      return {hs, select(hs, 0, last), Var<T>()};
    }
    const Var<T> gx_all = linear(input, w.w_ih, input_bias());
    // gx_all is this loop's own: each step leaves its gate activations there, except under
    // anomaly detection, whose messages show a step's inputs as they were.
    const GateInput gates = detect_anomaly() ? GateInput::keep : GateInput::overwrite;
    Var<T> s = lstm ? stack({h0, c0}, 0) : h0;
    std::vector<Var<T>> outputs(steps);
    for (std::size_t i = 0; i < steps; ++i) {
      const std::size_t t = time(i);
      std::optional<Scope> scope;  // for anomaly messages
      if (detect_anomaly()) scope.emplace(fmt::format("step {}", t));
      Var<T> next = lstm ? fused_lstm_step(gx_all, t, s, w.w_hh, gates)
                    : kind == CellKind::gru
                        ? fused_gru_step(gx_all, t, s, w.w_hh, w.b_hh, gates)
                        : fused_rnn_step(gx_all, t, s, w.w_hh, kind == CellKind::rnn_relu);
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

  // Inference, when nothing needs a gradient: the fused steps' GEMM and gate kernels in one
  // loop, with no op recorded and no Var per step. Each step's h goes straight into its row of
  // the output, and the next step reads it there; the values are those of fused(), bit for bit:
  // without padding, the input projection is the layer ops' (Projection, the same products into
  // a scratch of a chunk of steps), with padding linear's over every step.
  // A sequence's steps read only its own rows of the state, so each block of rows runs through
  // every step on its own thread (for_row_blocks, once for the whole sequence): the threads
  // meet once per direction, not once per step (a meeting costs 0.6-3 us, a step's block at
  // (32,100,128,256) 10 us; docs/performance.md).
  RecurrentOutput<T> untaped(const Var<T>& input, const Var<T>& h0, const Var<T>& c0) const {
    const bool lstm = kind == CellKind::lstm, gru = kind == CellKind::gru;
    const std::size_t batch = h0.shape()[0], hidden = h0.shape()[1], bh = batch * hidden;
    const std::size_t width = gate_count(kind) * hidden;
    // With padding, x W_ih^T + b for every step, [T, B, G*H], each step leaving its
    // activations in its row; without, a chunk of steps at a time into `ahead`.
    const Var<T> bias = input_bias();
    Var<T> gx_all = active != nullptr ? linear(input, w.w_ih, bias) : Var<T>();
    T* gx = active != nullptr ? gx_all.mutable_value().data() : nullptr;
    const detail::Projection<T> proj{input.value().data(),
                                     input.shape()[2],
                                     &w.w_ih,
                                     bias.defined() ? bias.value().data() : nullptr,
                                     steps,
                                     batch,
                                     width};
    Array<T> ahead =
        active == nullptr ? detail::empty_array<T>({proj.chunk(batch), batch, width}) : Array<T>();
    Array<T> out = detail::empty_array<T>({steps, batch, hidden});
    // The state after the last step taken: h_state (with padding; without, the output's row of
    // that step) and the LSTM's c.
    Array<T> h_state = h0.value(), c_state = lstm ? c0.value() : Array<T>();
    Array<T> h_new = detail::empty_array<T>({batch, hidden});
    Array<T> c_new =
        lstm && active != nullptr ? detail::empty_array<T>({batch, hidden}) : Array<T>();
    Array<T> gh = gru ? detail::empty_array<T>({batch, width}) : Array<T>();
    detail::for_row_blocks<T>(batch, steps * width * hidden, [&](std::size_t r0, std::size_t rows) {
      const std::size_t hr = r0 * hidden, gr = r0 * width;
      const T* h = h_state.data() + hr;  // this block's rows of the state
      const std::size_t chunk = proj.chunk(rows);
      std::size_t first = 0;  // the time of ahead's first step
      for (std::size_t i = 0; i < steps; ++i) {
        const std::size_t t = time(i);
        if (active == nullptr) {
          if (const auto from = proj.chunk_at(i, chunk, reverse)) {
            first = from->first;
            proj.run(first, from->second, r0, rows, ahead.data() + gr);
          }
        }
        T* pre = active == nullptr ? ahead.data() + (t - first) * batch * width + gr
                                   : gx + t * batch * width + gr;
        T* out_t = out.data() + t * bh + hr;
        T* h_next = active != nullptr ? h_new.data() + hr : out_t;
        T* c_next = lstm ? (active != nullptr ? c_new.data() : c_state.data()) + hr : nullptr;
        const T* c_in = lstm ? c_state.data() + hr : nullptr;
        T* scratch = gru ? gh.data() + gr : nullptr;
        detail::step_rows<T>(kind, w.w_hh, w.b_hh, pre, h, c_in, h_next, c_next, nullptr, scratch,
                             rows, false);
        if (active == nullptr) {
          h = out_t;
          continue;
        }
        // Padding: a sequence past its end keeps its state and outputs zeros.
        const auto& m = (*active)[t];
        for (std::size_t b = r0; b < r0 + rows; ++b) {
          const std::size_t r = b * hidden;
          if (m(b, 0)) {
            std::copy(h_new.data() + r, h_new.data() + r + hidden, h_state.data() + r);
            std::copy(h_new.data() + r, h_new.data() + r + hidden, out.data() + t * bh + r);
            if (lstm) std::copy(c_new.data() + r, c_new.data() + r + hidden, c_state.data() + r);
          } else {
            std::fill(out.data() + t * bh + r, out.data() + t * bh + r + hidden, T(0));
          }
        }
      }
      if (active == nullptr) std::copy(h, h + rows * hidden, h_state.data() + hr);
    });
    return {Var<T>(std::move(out)), Var<T>(std::move(h_state)),
            lstm ? Var<T>(std::move(c_state)) : Var<T>()};
  }
};

// Whether a direction's run needs the tape: grad mode is on and some operand requires a
// gradient, or anomaly detection is on (its messages name the step's ops).
template <class T>
bool needs_tape(const Var<T>& input, const functional::RecurrentWeights<T>& w, const Var<T>& h0,
                const Var<T>& c0) {
  if (detect_anomaly()) return true;
  if (!is_grad_enabled()) return false;
  for (const Var<T>* v : {&input, &w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh, &h0, &c0}) {
    if (v->defined() && v->requires_grad()) return true;
  }
  return false;
}

}  // namespace

namespace functional {

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
      RecurrentOutput<T> r = !o.fused ? run.composed(layer_input, {h0, c0})
                             : needs_tape(layer_input, weights[k], h0, c0)
                                 ? run.fused(layer_input, h0, c0)
                                 : run.untaped(layer_input, h0, c0);
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

template RecurrentOutput<float> functional::recurrent<float>(
    const Var<float>&, const std::vector<functional::RecurrentWeights<float>>&,
    const functional::RecurrentOptions&, const RecurrentState<float>&,
    const std::vector<std::size_t>&);
template RecurrentOutput<double> functional::recurrent<double>(
    const Var<double>&, const std::vector<functional::RecurrentWeights<double>>&,
    const functional::RecurrentOptions&, const RecurrentState<double>&,
    const std::vector<std::size_t>&);

}  // namespace tapegrad::nn
