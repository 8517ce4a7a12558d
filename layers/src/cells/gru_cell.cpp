// The GRU cell, gates r, z, n in this order, as in torch.nn.GRU:
//   r = σ(W_ir x + b_ir + W_hr h + b_hr)     z = σ(W_iz x + b_iz + W_hz h + b_hz)
//   n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
//   h' = (1 - z) ⊙ n + z ⊙ h
// The reset gate multiplies W_hn h + b_hn after the product (PyTorch's and cuDNN's form), so the
// input and hidden parts stay separate slabs. The composed step is the reference; the fused
// step is the same as one op.
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
Var<T> gru_step(const Var<T>& gx, const Var<T>& h, const Var<T>& w_hh, const Var<T>& b_hh) {
  detail::check_step_args("gru_step", 3, gx, h, w_hh, b_hh);
  std::vector<Var<T>> gi = chunk(gx, 3, 1);                     // W_i{r,z,n} x + b_i{r,z,n}
  std::vector<Var<T>> gh = chunk(linear(h, w_hh, b_hh), 3, 1);  // W_h{r,z,n} h + b_h{r,z,n}
  Var<T> r = sigmoid(gi[0] + gh[0]);                            // reset gate
  Var<T> z = sigmoid(gi[1] + gh[1]);                            // update gate
  Var<T> n = tanh(gi[2] + r * gh[2]);  // n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
  return (T(1) - z) * n + z * h;       // h' = (1 - z) * n + z * h
}

// ---- the fused op ----

namespace {

template <class T>
Grads<T> gru_step_backward(const Context<T>& ctx, std::size_t t, GateInput mode) {
  const std::size_t batch = ctx.output_shape()[0], hidden = ctx.output_shape()[1];
  const std::size_t width = 3 * hidden;
  // r, z, n per row, where the forward left them, and h W_hn^T + b_hn.
  const T* act =
      mode == GateInput::keep ? ctx.saved(1).data() : ctx.input(0).data() + t * batch * width;
  const T* hn_all = ctx.saved(0).data();
  const T* g = ctx.grad_output().data();
  const T* h_old = ctx.input(1).data();
  Array<T> dgx = empty_array<T>({batch, width});
  Array<T> dgh = empty_array<T>({batch, width});
  Array<T> dh = empty_array<T>({batch, hidden});
  const auto backward_row = gate_kernels<T>().gru_backward;
  const bool state = ctx.needs_grad(1);
  const bool weight_grad = ctx.needs_grad(2);
  Array<T> h_rows = weight_grad ? empty_array<T>({batch, hidden}) : Array<T>();
  // Each block of rows: its gates' gradients, then its dh += dgh W_hh (for_row_blocks).
  for_row_blocks<T>(batch, width * hidden, [&](std::size_t first, std::size_t rows) {
    for (std::size_t b = first; b < first + rows; ++b) {
      const std::size_t r = b * hidden;
      backward_row(act + b * width, hn_all + r, g + r, h_old + r, dgx.data() + b * width,
                   dgh.data() + b * width, dh.data() + r, hidden);
    }
    if (state) {
      detail::add_state_grad(dgh.data() + first * width, ctx.input(2), T(1),
                             dh.data() + first * hidden, rows, hidden);
    }
    detail::copy_rows(h_old, first, rows, hidden, weight_grad ? h_rows.data() : nullptr);
  });
  Grads<T> grads(ctx.num_inputs());
  if (state) grads[1] = std::move(dh);
  if (ctx.num_inputs() == 4 && ctx.needs_grad(3)) {
    Array<T> db = empty_array<T>({width});
    std::fill(db.begin(), db.end(), T(0));
    for (std::size_t b = 0; b < batch; ++b) {
      const T* row = dgh.data() + b * width;
      for (std::size_t j = 0; j < width; ++j) db.data()[j] += row[j];
    }
    grads[3] = std::move(db);
  }
  if (ctx.needs_grad(2)) {
    grads[2] = Grad<T>::outer(std::move(dgh), std::move(h_rows));
  }
  if (ctx.needs_grad(0)) grads[0] = detail::gx_grad(ctx, std::move(dgx), t);
  return grads;
}

}  // namespace

template <class T>
void detail::gru_gates(T* x_all, const T* gh, const T* h_in, T* hn_out, T* h_out, std::size_t batch,
                       std::size_t hidden) {
  const std::size_t width = 3 * hidden;
  const auto row = hn_out != nullptr ? gate_kernels<T>().gru : gate_kernels<T>().gru_infer;
  for_rows(batch, hidden, [&](std::size_t b) {
    const std::size_t r = b * hidden;
    row(x_all + b * width, gh + b * width, h_in + r, hn_out != nullptr ? hn_out + r : nullptr,
        h_out + r, hidden);
  });
}

template <class T>
Var<T> fused_gru_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      const Var<T>& b_hh, GateInput mode) {
  const detail::StepDims d = detail::check_step("fused_gru_step", 3, gx, t, h, 1, w_hh);
  const std::size_t batch = d.batch, hidden = d.hidden, width = 3 * hidden;
  if (b_hh.defined() && b_hh.shape() != make_shape({width})) {
    throw shape_error(fmt::format("fused_gru_step: expected bias_hh [{}], got {}", width,
                                  shape_str(b_hh.shape())));
  }
  // r, z, n per row in place of gx[t] (or of its copy), and h W_hn^T + b_hn: kept for backward.
  std::optional<Array<T>> own;
  const detail::GateRows<T> gate = detail::gate_rows(gx, d, width, mode, own);
  T* x_all = gate.rows;
  Array<T> gh = empty_array<T>({batch, width});
  Array<T> hn_all = empty_array<T>({batch, hidden});
  Array<T> next = empty_array<T>({batch, hidden});
  const T* hv = h.value().data();
  // Each block of rows: its gh = h W_hh^T + b_hh, then its gates (for_row_blocks).
  for_row_blocks<T>(batch, width * hidden, [&](std::size_t first, std::size_t rows) {
    gate.copy_rows(first, rows);
    T* ghr = gh.data() + first * width;
    gemm_by_weight<T>(rows, hv + first * hidden, hidden, w_hh, T(0), ghr, width,
                      b_hh.defined() ? b_hh.value().data() : static_cast<const T*>(nullptr));
    detail::gru_gates(x_all + first * width, ghr, hv + first * hidden,
                      hn_all.data() + first * hidden, next.data() + first * hidden, rows, hidden);
  });
  std::vector<Var<T>> inputs{gx, h, w_hh};
  if (b_hh.defined()) inputs.push_back(b_hh);
  std::vector<Array<T>> saved;
  saved.push_back(std::move(hn_all));
  if (own) saved.push_back(std::move(*own));
  return record<T>(
      "fused_gru_step", std::move(inputs), std::move(next),
      [t, mode](const Context<T>& c) { return gru_step_backward(c, t, mode); }, std::move(saved),
      detail::gate_rows_read(gx, d, mode), detail::gate_step_reads(mode, false));
}

// ---- the cell from x ----

template <class T>
Var<T> functional::gru_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih,
                            const Var<T>& w_hh, const Var<T>& b_ih, const Var<T>& b_hh) {
  detail::check_cell("gru_cell", 3, x, h, w_ih, w_hh, b_ih, b_hh);
  return gru_step(linear(x, w_ih, b_ih), h, w_hh, b_hh);
}

template void detail::gru_gates<float>(float*, const float*, const float*, float*, float*,
                                       std::size_t, std::size_t);
template void detail::gru_gates<double>(double*, const double*, const double*, double*, double*,
                                        std::size_t, std::size_t);
template Var<float> gru_step<float>(const Var<float>&, const Var<float>&, const Var<float>&,
                                    const Var<float>&);
template Var<double> gru_step<double>(const Var<double>&, const Var<double>&, const Var<double>&,
                                      const Var<double>&);
TAPEGRAD_OP(fused_gru_step);
template Var<float> functional::gru_cell<float>(const Var<float>&, const Var<float>&,
                                                const Var<float>&, const Var<float>&,
                                                const Var<float>&, const Var<float>&);
template Var<double> functional::gru_cell<double>(const Var<double>&, const Var<double>&,
                                                  const Var<double>&, const Var<double>&,
                                                  const Var<double>&, const Var<double>&);

}  // namespace tapegrad::nn
