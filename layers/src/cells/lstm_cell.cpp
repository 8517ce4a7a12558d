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
  const auto row = gate_kernels<T>().lstm_backward;
  const bool state = ctx.needs_grad(1);
  const bool weight_grad = ctx.needs_grad(2);
  // dpre is both gx's gradient and a factor of W_hh's: a copy for the second when both.
  const bool both = weight_grad && ctx.needs_grad(0);
  Array<T> dpre_rows = both ? empty_array<T>({batch, 4 * hidden}) : Array<T>();
  Array<T> h_rows = weight_grad ? empty_array<T>({batch, hidden}) : Array<T>();
  // Each block of rows: its gates' gradients, then its dh = dpre W_hh (for_row_blocks).
  for_row_blocks<T>(batch, 4 * hidden * hidden, [&](std::size_t first, std::size_t rows) {
    for (std::size_t b = first; b < first + rows; ++b) {
      const std::size_t r = b * hidden;
      row(act + 4 * r, gh + r, gh + n + r, c_new + r, c_old + r, dpre.data() + 4 * r,
          dstate.data() + n + r, hidden);
    }
    if (state) {
      detail::add_state_grad(dpre.data() + 4 * first * hidden, ctx.input(2), T(0),
                             dstate.data() + first * hidden, rows, hidden);
    }
    detail::copy_rows(ctx.input(1).data(), first, rows, hidden,
                      weight_grad ? h_rows.data() : nullptr);
    detail::copy_rows(dpre.data(), first, rows, 4 * hidden, both ? dpre_rows.data() : nullptr);
  });
  Grads<T> grads(3);
  if (state) grads[1] = std::move(dstate);
  if (weight_grad) {
    grads[2] = Grad<T>::outer(both ? std::move(dpre_rows) : dpre, std::move(h_rows));
  }
  if (ctx.needs_grad(0)) grads[0] = detail::gx_grad(ctx, std::move(dpre), t);
  return grads;
}

}  // namespace

template <class T>
void detail::lstm_gates(T* act, const T* c_in, T* h_out, T* c_out, std::size_t batch,
                        std::size_t hidden, bool keep) {
  const auto row = keep ? gate_kernels<T>().lstm : gate_kernels<T>().lstm_infer;
  for_rows(batch, hidden, [&](std::size_t b) {
    const std::size_t r = b * hidden;
    row(act + 4 * r, c_in + r, h_out + r, c_out + r, hidden);
  });
}

template <class T>
Var<T> fused_lstm_step(const Var<T>& gx, std::size_t t, const Var<T>& state, const Var<T>& w_hh,
                       GateInput mode) {
  const detail::StepDims d = detail::check_step("fused_lstm_step", 4, gx, t, state, 2, w_hh);
  const std::size_t bh = d.batch * d.hidden;
  // The gates, then in their place the activations [i f g o] per row, kept for backward.
  std::optional<Array<T>> own;
  Array<T> next = empty_array<T>(state.shape());
  const T* c_in = state.value().data() + bh;
  detail::gates_of(gx, d, 4, state.value().data(), w_hh, mode, own,
                   [&](T* act, std::size_t first, std::size_t rows) {
                     const std::size_t r = first * d.hidden;
                     detail::lstm_gates(act + 4 * r, c_in + r, next.data() + r,
                                        next.data() + bh + r, rows, d.hidden);
                   });
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

template void detail::lstm_gates<float>(float*, const float*, float*, float*, std::size_t,
                                        std::size_t, bool);
template void detail::lstm_gates<double>(double*, const double*, double*, double*, std::size_t,
                                         std::size_t, bool);
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
