// The Elman RNN cell: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), as in
// torch.nn.RNN. The composed step is the reference; the fused step is the same as one op.
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
Var<T> rnn_step(const Var<T>& gx, const Var<T>& h, const Var<T>& w_hh, const Var<T>& b_hh,
                Nonlinearity nonlinearity) {
  detail::check_step_args("rnn_step", 1, gx, h, w_hh, b_hh);
  // h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh)
  Var<T> pre = gx + linear(h, w_hh, b_hh);
  return nonlinearity == Nonlinearity::tanh ? tanh(pre) : relu(pre);
}

// ---- the fused op ----

namespace {

template <class T>
Grads<T> rnn_step_backward(const Context<T>& c, std::size_t t, bool relu) {
  const Array<T>& y = c.output();
  const Array<T>& g = c.grad_output();
  const std::size_t batch = y.shape()[0], hidden = y.shape()[1];
  Array<T> dpre = empty_array<T>(y.shape());
  const T* py = y.data();
  const T* pg = g.data();
  T* pd = dpre.data();
  const bool state = c.needs_grad(1);
  Array<T> dh = state ? empty_array<T>(y.shape()) : Array<T>();
  const bool weight_grad = c.needs_grad(2);
  // dpre is both gx's gradient and a factor of W_hh's: a copy for the second when both.
  const bool both = weight_grad && c.needs_grad(0);
  Array<T> dpre_rows = both ? empty_array<T>(y.shape()) : Array<T>();
  Array<T> h_rows = weight_grad ? empty_array<T>(y.shape()) : Array<T>();
  // Each block of rows: its dpre, then its dh = dpre W_hh (for_row_blocks).
  for_row_blocks<T>(batch, hidden * hidden, [&](std::size_t first, std::size_t rows) {
    for (std::size_t j = first * hidden; j < (first + rows) * hidden; ++j) {
      pd[j] = relu ? (py[j] > T(0) ? pg[j] : T(0)) : pg[j] * (T(1) - py[j] * py[j]);
    }
    if (state) {
      detail::add_state_grad(pd + first * hidden, c.input(2), T(0), dh.data() + first * hidden,
                             rows, hidden);
    }
    detail::copy_rows(c.input(1).data(), first, rows, hidden,
                      weight_grad ? h_rows.data() : nullptr);
    detail::copy_rows(pd, first, rows, hidden, both ? dpre_rows.data() : nullptr);
  });
  Grads<T> grads(3);
  if (state) grads[1] = std::move(dh);
  if (weight_grad) {
    grads[2] = Grad<T>::outer(both ? std::move(dpre_rows) : dpre, std::move(h_rows));
  }
  if (c.needs_grad(0)) grads[0] = detail::gx_grad(c, std::move(dpre), t);
  return grads;
}

}  // namespace

template <class T>
void detail::rnn_activation(const T* pre, T* out, std::size_t batch, std::size_t hidden,
                            bool relu) {
  const auto tanh_row = gate_kernels<T>().rnn_tanh;
  for_rows(batch, hidden, [&](std::size_t b) {
    const T* p = pre + b * hidden;
    T* y = out + b * hidden;
    if (relu) {
      for (std::size_t j = 0; j < hidden; ++j) y[j] = p[j] > T(0) ? p[j] : T(0);
    } else {
      tanh_row(p, y, hidden);
    }
  });
}

template <class T>
Var<T> fused_rnn_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      bool relu) {
  const detail::StepDims d = detail::check_step("fused_rnn_step", 1, gx, t, h, 1, w_hh);
  std::optional<Array<T>> pre;
  detail::gates_of(gx, d, 1, h.value().data(), w_hh, GateInput::keep, pre,
                   [&](T* p, std::size_t first, std::size_t rows) {
                     T* y = p + first * d.hidden;
                     detail::rnn_activation(y, y, rows, d.hidden, relu);
                   });
  Array<T> y = std::move(*pre);
  // The rule reads y (its derivative), h and W_hh; not gx, whose copy became y.
  return record<T>(
      "fused_rnn_step", {gx, h, w_hh}, std::move(y),
      [t, relu](const Context<T>& c) { return rnn_step_backward(c, t, relu); }, {}, {},
      Reads::inputs_only({1, 2}).and_output());
}

// ---- the cell from x ----

template <class T>
Var<T> functional::rnn_cell(const Var<T>& x, const Var<T>& h, const Var<T>& w_ih,
                            const Var<T>& w_hh, const Var<T>& b_ih, const Var<T>& b_hh,
                            Nonlinearity nonlinearity) {
  detail::check_cell("rnn_cell", 1, x, h, w_ih, w_hh, b_ih, b_hh);
  return rnn_step(linear(x, w_ih, b_ih), h, w_hh, b_hh, nonlinearity);
}

template void detail::rnn_activation<float>(const float*, float*, std::size_t, std::size_t, bool);
template void detail::rnn_activation<double>(const double*, double*, std::size_t, std::size_t,
                                             bool);
template Var<float> rnn_step<float>(const Var<float>&, const Var<float>&, const Var<float>&,
                                    const Var<float>&, Nonlinearity);
template Var<double> rnn_step<double>(const Var<double>&, const Var<double>&, const Var<double>&,
                                      const Var<double>&, Nonlinearity);
TAPEGRAD_OP(fused_rnn_step);
template Var<float> functional::rnn_cell<float>(const Var<float>&, const Var<float>&,
                                                const Var<float>&, const Var<float>&,
                                                const Var<float>&, const Var<float>&, Nonlinearity);
template Var<double> functional::rnn_cell<double>(const Var<double>&, const Var<double>&,
                                                  const Var<double>&, const Var<double>&,
                                                  const Var<double>&, const Var<double>&,
                                                  Nonlinearity);

}  // namespace tapegrad::nn
