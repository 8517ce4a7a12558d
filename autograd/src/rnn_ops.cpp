// Fused recurrent steps: the step's GEMM into the gate slab, then one pass over the gates.
// Pointwise loops run on xsimd batches over the contiguous H-wide gate blocks of each row.
#include "tapegrad/autograd/rnn_ops.hpp"

#include <xsimd/xsimd.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

#include "detail.hpp"
#include "gemm.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

namespace {

using detail::empty_array;
using detail::gemm;

template <class T>
using Batch = xsimd::batch<T>;

// Calls f(j, V()) for j in [0, n): V = Batch<T> on full batches, then V = T on the tail.
template <class T, class F>
void for_lanes(std::size_t n, F&& f) {
  constexpr std::size_t width = Batch<T>::size;
  std::size_t j = 0;
  for (; j + width <= n; j += width) f(j, Batch<T>());
  for (; j < n; ++j) f(j, T());
}

template <class T>
T load(const T* p, T) {
  return *p;
}
template <class T>
Batch<T> load(const T* p, Batch<T>) {
  return Batch<T>::load_unaligned(p);
}
template <class T>
void store(T* p, T v) {
  *p = v;
}
template <class T>
void store(T* p, const Batch<T>& v) {
  v.store_unaligned(p);
}

// The same formulas as the sigmoid and tanh ops.
template <class V>
V sigmoid_of(const V& x) {
  using std::exp;
  return V(1) / (V(1) + exp(-x));
}
template <class V>
V tanh_of(const V& x) {
  using std::tanh;
  return tanh(x);
}

struct StepDims {
  std::size_t batch, hidden, offset;  // offset of gx[t] in gx's data
};

// Checks a step's operands: gx [T, B, G*H] with t < T, or [B, G*H] with t = 0; the state
// [states..., B, H] (states = 2 for the LSTM's [2, B, H]); w_hh [G*H, H].
template <class T>
StepDims check_step(const char* op, std::size_t gates, const Var<T>& gx, std::size_t t,
                    const Var<T>& state, std::size_t states, const Var<T>& w_hh) {
  detail::check_defined(op, {&gx, &state, &w_hh});
  const Shape& gs = gx.shape();
  const Shape& ss = state.shape();
  const Shape& ws = w_hh.shape();
  const std::size_t hidden = ws.size() == 2 ? ws[1] : 0;
  const std::size_t batch = ss.size() >= 2 ? ss[ss.size() - 2] : 0;
  const bool state_ok = states == 1 ? ss.size() == 2 : ss.size() == 3 && ss[0] == states;
  const bool ok = state_ok && ws.size() == 2 && ws[0] == gates * hidden && ss.back() == hidden &&
                  (gs.size() == 2 || gs.size() == 3) && gs[gs.size() - 2] == batch &&
                  gs.back() == gates * hidden;
  if (!ok) {
    throw shape_error(fmt::format(
        "{}: expected gx [T, B, {}H] or [B, {}H], {} and weight_hh [{}H, H]; got gx {}, state "
        "{}, weight_hh {}",
        op, gates, gates, states == 1 ? "h [B, H]" : "state [2, B, H] (h then c)", gates,
        shape_str(gs), shape_str(ss), shape_str(ws)));
  }
  const std::size_t steps = gs.size() == 3 ? gs[0] : 1;
  if (t >= steps) {
    throw value_error(
        fmt::format("{}: step {} is outside gx {} ({} steps)", op, t, shape_str(gs), steps));
  }
  return {batch, hidden, t * batch * gates * hidden};
}

// The rows of gx[t] a step writes its gates into: gx[t] itself when overwriting, else a copy
// of it made in `own`.
template <class T>
T* gate_rows(const Var<T>& gx, const StepDims& d, std::size_t width, GateInput mode,
             std::optional<Array<T>>& own) {
  T* rows = gx.node()->value.data() + d.offset;
  if (mode == GateInput::overwrite) return rows;
  own = empty_array<T>({d.batch, width});
  std::copy(rows, rows + d.batch * width, own->data());
  return own->data();
}

// pre = gx[t] + h W_hh^T, [B, G*H], in the rows gate_rows gives. Returns where pre is.
template <class T>
T* gates_of(const Var<T>& gx, const StepDims& d, std::size_t gates, const T* h, const Var<T>& w_hh,
            GateInput mode, std::optional<Array<T>>& own) {
  const std::size_t width = gates * d.hidden;
  T* pre = gate_rows(gx, d, width, mode, own);
  gemm<T>(false, true, d.batch, width, d.hidden, T(1), h, d.hidden, w_hh.value().data(), d.hidden,
          T(1), pre, width);
  return pre;
}

// The gradient of gx from the gradient of gx[t].
template <class T>
Grad<T> gx_grad(const Context<T>& c, Array<T> dgx, std::size_t t) {
  return c.input(0).dimension() == 3 ? Grad<T>::at(std::move(dgx), 0, t) : Grad<T>(std::move(dgx));
}

// dh (+)= dpre W_hh, [B, H]; beta = 1 adds to dh's contents.
template <class T>
void add_state_grad(const Array<T>& dpre, const Array<T>& w_hh, T beta, T* dh, std::size_t batch,
                    std::size_t hidden) {
  const std::size_t width = w_hh.shape()[0];
  gemm<T>(false, false, batch, hidden, width, T(1), dpre.data(), width, w_hh.data(), hidden, beta,
          dh, hidden);
}

// The h rows of a state as their own array (the b factor of W_hh's outer gradient).
template <class T>
Array<T> rows_of(const T* h, std::size_t batch, std::size_t hidden) {
  Array<T> out = empty_array<T>({batch, hidden});
  std::copy(h, h + batch * hidden, out.data());
  return out;
}

template <class T>
Grads<T> rnn_step_backward(const Context<T>& c, std::size_t t, bool relu) {
  const Array<T>& y = c.output();
  const Array<T>& g = c.grad_output();
  const std::size_t batch = y.shape()[0], hidden = y.shape()[1];
  Array<T> dpre = empty_array<T>(y.shape());
  const T* py = y.data();
  const T* pg = g.data();
  T* pd = dpre.data();
  for (std::size_t j = 0; j < y.size(); ++j) {
    pd[j] = relu ? (py[j] > T(0) ? pg[j] : T(0)) : pg[j] * (T(1) - py[j] * py[j]);
  }
  Grads<T> grads(3);
  if (c.needs_grad(1)) {
    Array<T> dh = empty_array<T>(y.shape());
    add_state_grad(dpre, c.input(2), T(0), dh.data(), batch, hidden);
    grads[1] = std::move(dh);
  }
  if (c.needs_grad(2)) {
    grads[2] = Grad<T>::outer(dpre, rows_of(c.input(1).data(), batch, hidden));
  }
  if (c.needs_grad(0)) grads[0] = gx_grad(c, std::move(dpre), t);
  return grads;
}

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
    add_state_grad(dpre, ctx.input(2), T(0), dstate.data(), batch, hidden);
    grads[1] = std::move(dstate);
  }
  if (ctx.needs_grad(2)) {
    grads[2] = Grad<T>::outer(dpre, rows_of(ctx.input(1).data(), batch, hidden));
  }
  if (ctx.needs_grad(0)) grads[0] = gx_grad(ctx, std::move(dpre), t);
  return grads;
}

template <class T>
Grads<T> gru_step_backward(const Context<T>& ctx, std::size_t t, GateInput mode) {
  const std::size_t batch = ctx.output().shape()[0], hidden = ctx.output().shape()[1];
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
  for (std::size_t b = 0; b < batch; ++b) {
    const T* a = act + b * width;
    const T* hn_row = hn_all + b * hidden;
    const T* gb = g + b * hidden;
    const T* hb = h_old + b * hidden;
    T* dx = dgx.data() + b * width;
    T* dhh = dgh.data() + b * width;
    T* dhb = dh.data() + b * hidden;
    for_lanes<T>(hidden, [&](std::size_t j, auto v) {
      using V = decltype(v);
      const V r = load(a + j, v), z = load(a + hidden + j, v);
      const V nn = load(a + 2 * hidden + j, v), hn = load(hn_row + j, v);
      const V dy = load(gb + j, v);
      const V dn = dy * (V(1) - z) * (V(1) - nn * nn);  // d(pre-activation of n)
      const V dr = dn * hn * r * (V(1) - r);
      const V dz = dy * (load(hb + j, v) - nn) * z * (V(1) - z);
      store(dx + j, dr);
      store(dx + hidden + j, dz);
      store(dx + 2 * hidden + j, dn);
      store(dhh + j, dr);
      store(dhh + hidden + j, dz);
      store(dhh + 2 * hidden + j, dn * r);
      store(dhb + j, dy * z);
    });
  }
  Grads<T> grads(ctx.num_inputs());
  if (ctx.needs_grad(1)) {
    add_state_grad(dgh, ctx.input(2), T(1), dh.data(), batch, hidden);
    grads[1] = std::move(dh);
  }
  if (ctx.num_inputs() == 4 && ctx.needs_grad(3)) {
    Array<T> db = detail::zeros_array<T>({width});
    for (std::size_t b = 0; b < batch; ++b) {
      const T* row = dgh.data() + b * width;
      for (std::size_t j = 0; j < width; ++j) db.data()[j] += row[j];
    }
    grads[3] = std::move(db);
  }
  if (ctx.needs_grad(2)) {
    grads[2] = Grad<T>::outer(std::move(dgh), rows_of(h_old, batch, hidden));
  }
  if (ctx.needs_grad(0)) grads[0] = gx_grad(ctx, std::move(dgx), t);
  return grads;
}

}  // namespace

template <class T>
Var<T> fused_rnn_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      bool relu) {
  const StepDims d = check_step("fused_rnn_step", 1, gx, t, h, 1, w_hh);
  std::optional<Array<T>> pre;
  gates_of(gx, d, 1, h.value().data(), w_hh, GateInput::keep, pre);
  Array<T> y = std::move(*pre);
  T* p = y.data();
  const std::size_t n = y.size();
  if (relu) {
    for (std::size_t j = 0; j < n; ++j) p[j] = p[j] > T(0) ? p[j] : T(0);
  } else {
    for_lanes<T>(n, [&](std::size_t j, auto v) { store(p + j, tanh_of(load(p + j, v))); });
  }
  return record<T>("fused_rnn_step", {gx, h, w_hh}, std::move(y),
                   [t, relu](const Context<T>& c) { return rnn_step_backward(c, t, relu); });
}

template <class T>
Var<T> fused_lstm_step(const Var<T>& gx, std::size_t t, const Var<T>& state, const Var<T>& w_hh,
                       GateInput mode) {
  const StepDims d = check_step("fused_lstm_step", 4, gx, t, state, 2, w_hh);
  const std::size_t batch = d.batch, hidden = d.hidden, bh = batch * hidden;
  // The gates, then in their place the activations [i f g o] per row, kept for backward.
  std::optional<Array<T>> own;
  T* act = gates_of(gx, d, 4, state.value().data(), w_hh, mode, own);
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
      [t, mode](const Context<T>& c) { return lstm_step_backward(c, t, mode); }, std::move(saved));
}

template <class T>
Var<T> fused_gru_step(const Var<T>& gx, std::size_t t, const Var<T>& h, const Var<T>& w_hh,
                      const Var<T>& b_hh, GateInput mode) {
  const StepDims d = check_step("fused_gru_step", 3, gx, t, h, 1, w_hh);
  const std::size_t batch = d.batch, hidden = d.hidden, width = 3 * hidden;
  if (b_hh.defined() && b_hh.shape() != make_shape({width})) {
    throw shape_error(fmt::format("fused_gru_step: expected bias_hh [{}], got {}", width,
                                  shape_str(b_hh.shape())));
  }
  // gh = h W_hh^T + b_hh
  Array<T> gh = empty_array<T>({batch, width});
  if (b_hh.defined()) {
    for (std::size_t b = 0; b < batch; ++b) {
      std::copy(b_hh.value().data(), b_hh.value().data() + width, gh.data() + b * width);
    }
  }
  gemm<T>(false, true, batch, width, hidden, T(1), h.value().data(), hidden, w_hh.value().data(),
          hidden, b_hh.defined() ? T(1) : T(0), gh.data(), width);
  // r, z, n per row in place of gx[t] (or of its copy), and h W_hn^T + b_hn: kept for backward.
  std::optional<Array<T>> own;
  T* x_all = gate_rows(gx, d, width, mode, own);
  Array<T> hn_all = empty_array<T>({batch, hidden});
  Array<T> next = empty_array<T>({batch, hidden});
  for (std::size_t b = 0; b < batch; ++b) {
    T* x = x_all + b * width;
    const T* hh = gh.data() + b * width;
    const T* h_in = h.value().data() + b * hidden;
    T* hn_row = hn_all.data() + b * hidden;
    T* h_out = next.data() + b * hidden;
    for_lanes<T>(hidden, [&](std::size_t j, auto v) {
      using V = decltype(v);
      const V r = sigmoid_of(load(x + j, v) + load(hh + j, v));
      const V z = sigmoid_of(load(x + hidden + j, v) + load(hh + hidden + j, v));
      const V hn = load(hh + 2 * hidden + j, v);
      const V nn = tanh_of(load(x + 2 * hidden + j, v) + r * hn);
      store(x + j, r);
      store(x + hidden + j, z);
      store(x + 2 * hidden + j, nn);
      store(hn_row + j, hn);
      store(h_out + j, (V(1) - z) * nn + z * load(h_in + j, v));
    });
  }
  std::vector<Var<T>> inputs{gx, h, w_hh};
  if (b_hh.defined()) inputs.push_back(b_hh);
  std::vector<Array<T>> saved;
  saved.push_back(std::move(hn_all));
  if (own) saved.push_back(std::move(*own));
  return record<T>(
      "fused_gru_step", std::move(inputs), std::move(next),
      [t, mode](const Context<T>& c) { return gru_step_backward(c, t, mode); }, std::move(saved));
}

template <class T>
Var<T> stack_index(const std::vector<Var<T>>& xs, std::size_t index) {
  if (xs.empty()) throw value_error("stack_index: no inputs");
  for (std::size_t k = 0; k < xs.size(); ++k) {
    if (!xs[k].defined())
      throw usage_error(fmt::format("stack_index: input {} is an empty Var", k));
    if (xs[k].shape() != xs[0].shape()) {
      throw shape_error(fmt::format("stack_index: input {} has shape {}, input 0 {}", k,
                                    shape_str(xs[k].shape()), shape_str(xs[0].shape())));
    }
  }
  const Shape& s0 = xs[0].shape();
  if (s0.empty() || index >= s0[0]) {
    throw value_error(
        fmt::format("stack_index: index {} is outside the first axis of {}", index, shape_str(s0)));
  }
  Shape ys = s0;
  ys[0] = xs.size();
  Array<T> y = empty_array<T>(ys);
  const std::size_t inner = xs[0].size() / s0[0];
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const T* src = xs[k].value().data() + index * inner;
    std::copy(src, src + inner, y.data() + k * inner);
  }
  return record<T>("stack_index", xs, std::move(y), [index, inner](const Context<T>& c) {
    const Array<T>& g = c.grad_output();
    Shape part(g.shape().begin() + 1, g.shape().end());
    Grads<T> grads(c.num_inputs());
    for (std::size_t k = 0; k < c.num_inputs(); ++k) {
      if (!c.needs_grad(k)) continue;
      Array<T> gk = empty_array<T>(part);
      std::copy(g.data() + k * inner, g.data() + (k + 1) * inner, gk.data());
      grads[k] = Grad<T>::at(std::move(gk), 0, index);
    }
    return grads;
  });
}

#define TAPEGRAD_INSTANTIATE(T)                                                                \
  template Var<T> fused_rnn_step<T>(const Var<T>&, std::size_t, const Var<T>&, const Var<T>&,  \
                                    bool);                                                     \
  template Var<T> fused_lstm_step<T>(const Var<T>&, std::size_t, const Var<T>&, const Var<T>&, \
                                     GateInput);                                               \
  template Var<T> fused_gru_step<T>(const Var<T>&, std::size_t, const Var<T>&, const Var<T>&,  \
                                    const Var<T>&, GateInput);                                 \
  template Var<T> stack_index<T>(const std::vector<Var<T>>&, std::size_t);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad
