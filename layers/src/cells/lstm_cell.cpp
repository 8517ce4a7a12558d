// The LSTM cell, gates i, f, g, o in this order, as in torch.nn.LSTM:
//   i = σ(W_ii x + b_ii + W_hi h + b_hi)     f = σ(W_if x + b_if + W_hf h + b_hf)
//   g = tanh(W_ig x + b_ig + W_hg h + b_hg)  o = σ(W_io x + b_io + W_ho h + b_ho)
//   c' = f ⊙ c + i ⊙ g                       h' = o ⊙ tanh(c')
// The composed step is the reference; the fused step is the same as one op.
#include <optional>

#include "common.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/nn/cells.hpp"
#include "tapegrad/nn/rnn.hpp"

namespace tapegrad::nn {

using namespace detail;  // the kernels' helpers, common.hpp

// ---- the textbook equations ----

template <class T>
RecurrentState<T> lstm_step(const Var<T>& gx, const RecurrentState<T>& s, const Var<T>& w_hh,
                            const Var<T>& b_hh) {
  detail::check_step_args("lstm_step", 4, gx, s.h, w_hh, b_hh, &s.c);
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

// ---- the fused op ----

namespace {

template <class T>
Grads<T> lstm_step_backward(const Context<T>& ctx, std::size_t t, GateInput mode) {
  const std::size_t batch = ctx.output().shape()[1], hidden = ctx.output().shape()[2];
  const std::size_t n = batch * hidden;
  // The gate activations [i f g o] per row, where the forward left them.
  const T* act = mode == GateInput::keep ? ctx.saved(0).data() : ctx.input(0).data() + t * 4 * n;
  const T* gh = ctx.grad_output().data();  // dh', then dc'
  const T* c_new = ctx.output().data() + n;
  const T* c_old = ctx.input(1).data() + n;
  Array<T> dpre = empty_array<T>({batch, 4 * hidden});
  Array<T> dstate = empty_array<T>(ctx.input(1).shape());
  for (std::size_t b = 0; b < batch; ++b) {
    const std::size_t r = b * hidden;
    const T* a = act + 4 * r;
    T* dp = dpre.data() + 4 * r;
    T* dc_prev = dstate.data() + n + r;
    for_lanes<T>(hidden, [&](std::size_t j, auto v) {
      using V = decltype(v);
      const V i = load(a + j, v), f = load(a + hidden + j, v);
      const V g = load(a + 2 * hidden + j, v), o = load(a + 3 * hidden + j, v);
      const V dh = load(gh + r + j, v);
      const V tc = tanh_of(load(c_new + r + j, v));
      const V dc = load(gh + n + r + j, v) + dh * o * (V(1) - tc * tc);
      store(dp + j, dc * g * i * (V(1) - i));
      store(dp + hidden + j, dc * load(c_old + r + j, v) * f * (V(1) - f));
      store(dp + 2 * hidden + j, dc * i * (V(1) - g * g));
      store(dp + 3 * hidden + j, dh * tc * o * (V(1) - o));
      store(dc_prev + j, dc * f);
    });
  }
  Grads<T> grads(3);
  if (ctx.needs_grad(1)) {
    detail::add_state_grad(dpre, ctx.input(2), T(0), dstate.data(), batch, hidden);
    grads[1] = std::move(dstate);
  }
  if (ctx.needs_grad(2)) {
    grads[2] = Grad<T>::outer(dpre, detail::rows_of(ctx.input(1).data(), batch, hidden));
  }
  if (ctx.needs_grad(0)) grads[0] = detail::gx_grad(ctx, std::move(dpre), t);
  return grads;
}

}  // namespace

template <class T>
Var<T> fused_lstm_step(const Var<T>& gx, std::size_t t, const Var<T>& state, const Var<T>& w_hh,
                       GateInput mode) {
  const detail::StepDims d = detail::check_step("fused_lstm_step", 4, gx, t, state, 2, w_hh);
  const std::size_t batch = d.batch, hidden = d.hidden, bh = batch * hidden;
  // The gates, then in their place the activations [i f g o] per row, kept for backward.
  std::optional<Array<T>> own;
  T* act = detail::gates_of(gx, d, 4, state.value().data(), w_hh, mode, own);
  Array<T> next = empty_array<T>(state.shape());
  const T* c_prev = state.value().data() + bh;
  for (std::size_t b = 0; b < batch; ++b) {
    T* a = act + b * 4 * hidden;
    T* h_out = next.data() + b * hidden;
    T* c_out = h_out + bh;
    const T* c_in = c_prev + b * hidden;
    for_lanes<T>(hidden, [&](std::size_t j, auto v) {
      const auto i = sigmoid_of(load(a + j, v));
      const auto f = sigmoid_of(load(a + hidden + j, v));
      const auto g = tanh_of(load(a + 2 * hidden + j, v));
      const auto o = sigmoid_of(load(a + 3 * hidden + j, v));
      const auto c = f * load(c_in + j, v) + i * g;
      store(a + j, i);
      store(a + hidden + j, f);
      store(a + 2 * hidden + j, g);
      store(a + 3 * hidden + j, o);
      store(c_out + j, c);
      store(h_out + j, o * tanh_of(c));
    });
  }
  std::vector<Array<T>> saved;
  if (own) saved.push_back(std::move(*own));
  return record<T>(
      "fused_lstm_step", {gx, state, w_hh}, std::move(next),
      [t, mode](const Context<T>& c) { return lstm_step_backward(c, t, mode); }, std::move(saved),
      detail::gate_rows_read(gx, d, mode), detail::gate_step_reads(mode, true));
}

// ---- the cell from x ----

template <class T>
RecurrentState<T> functional::lstm_cell(const Var<T>& x, const RecurrentState<T>& state,
                                        const Var<T>& w_ih, const Var<T>& w_hh, const Var<T>& b_ih,
                                        const Var<T>& b_hh) {
  const std::size_t hidden = detail::check_cell("lstm_cell", 4, x, state.h, w_ih, w_hh, b_ih, b_hh);
  if (!state.h.defined() || !state.c.defined() || state.c.shape() != state.h.shape()) {
    throw shape_error(fmt::format("lstm_cell: expected h and c [B, {}], got h {}, c {}", hidden,
                                  state.h.defined() ? shape_str(state.h.shape()) : "none",
                                  state.c.defined() ? shape_str(state.c.shape()) : "none"));
  }
  return lstm_step(linear(x, w_ih, b_ih), state, w_hh, b_hh);
}

template RecurrentState<float> lstm_step<float>(const Var<float>&, const RecurrentState<float>&,
                                                const Var<float>&, const Var<float>&);
template RecurrentState<double> lstm_step<double>(const Var<double>&, const RecurrentState<double>&,
                                                  const Var<double>&, const Var<double>&);
TAPEGRAD_OP(fused_lstm_step);
template RecurrentState<float> functional::lstm_cell<float>(const Var<float>&,
                                                            const RecurrentState<float>&,
                                                            const Var<float>&, const Var<float>&,
                                                            const Var<float>&, const Var<float>&);
template RecurrentState<double> functional::lstm_cell<double>(
    const Var<double>&, const RecurrentState<double>&, const Var<double>&, const Var<double>&,
    const Var<double>&, const Var<double>&);

}  // namespace tapegrad::nn
