// A whole direction of a recurrent layer as one op (fused_rnn_sequence, fused_lstm_sequence,
// fused_gru_sequence of tapegrad/nn/cells.hpp): the fused steps of the cell files, each block of
// the batch's rows run through every step on its own thread.
//
// Forward: step_rows (common.hpp) per step and block, as the tape-free inference loop.
// Backward, per block, from the last step processed to the first (BPTT), with dY the gradient
// of the op's output and F_t the gradient of step t's gates:
//   RNN   dh = dY[t] + carry, F_t = dh * act'(y_t), carry = F_t W_hh
//   LSTM  the step's rule (lstm_backward_row) on dh = dY_h[t] + carry_h, dc = dY_c[t] + carry_c,
//         carry_h = F_t W_hh, carry_c = dc * f
//   GRU   the step's rule (gru_backward_row) on dy = dY[t] + carry, with F_t the gradient of
//         gh = h W_hh^T + b_hh: carry = dy * z + F_t W_hh
// then, after every block, dW_hh = sum_t F_t^T h_prev(t) as one GEMM over the steps (their rows
// are consecutive in the output), db_hh = sum_t of F_t's rows, and gx's gradient is the gates'.
// The GRU's F_t equals gx's gradient in its r and z blocks; only its n block (dn * r) is kept
// apart, [T, B, H], so that backward holds one [T, B, 3H] array, not two.
#include <algorithm>
#include <initializer_list>
#include <optional>
#include <vector>

#include "common.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/nn/cells.hpp"

namespace tapegrad::nn {

namespace {

using detail::empty_array;

struct SequenceDims {
  std::size_t steps, batch, hidden, width;
  bool reverse;
  std::size_t time(std::size_t i) const { return reverse ? steps - 1 - i : i; }
};

// Checks the operands, `args` in the op's order (empty ones are a usage_error naming their
// position), gx [T, B, G*H], h0 [B, H] and w_hh [G*H, H] by check_step's rules.
template <class T>
SequenceDims check_sequence(const char* op, std::size_t gates,
                            std::initializer_list<const Var<T>*> args, const Var<T>& gx,
                            const Var<T>& h0, const Var<T>& w_hh, bool reverse) {
  std::size_t position = 0;
  for (const Var<T>* v : args) {
    if (!v->defined()) {
      throw usage_error(fmt::format("{}: argument {} is an empty Var", op, position));
    }
    ++position;
  }
  const detail::StepDims d = detail::check_step(op, gates, gx, 0, h0, 1, w_hh);
  if (gx.ndim() != 3) {
    throw shape_error(fmt::format("{}: expected gx [T, B, {}H] (every step), got {}", op, gates,
                                  shape_str(gx.shape())));
  }
  return {gx.shape()[0], d.batch, d.hidden, gates * d.hidden, reverse};
}

// The rows [first, first + rows) of the gates' gradients F [T, B, G*H] through every step
// (one block of for_row_blocks). y: every step's h [T, B, H] (then, for the LSTM, every c);
// act: every step's activations [T, B, G*H] (the RNN: none); hn: the GRU's h W_hn^T + b_hn per
// step; dy: the output's gradient; dx: the GRU's gradient of gx (others: F is gx's), whose F
// goes to step [B, 3H] for the step's carry and keeps its n block in f [T, B, H]; carry [B, H]
// (and carry_c): the state's gradient, which ends as h0's (c0's).
template <class T>
struct Backward {
  CellKind kind;
  SequenceDims d;
  const T* y;
  const T* act;
  const T* hn;
  const T* h0;
  const T* c0;
  const T* dy;
  const T* w_hh;
  T* f;
  T* dx;
  T* carry;
  T* carry_c;
  T* scratch;  // [B, 2H]: the LSTM's dh and dc, the others' dh
  T* step;     // the GRU's F_t [B, 3H]

  void run(std::size_t first, std::size_t rows) const {
    const std::size_t hidden = d.hidden, width = d.width, bh = d.batch * hidden;
    const std::size_t n = d.steps * bh;  // the LSTM's c follow its h in y and dy
    const auto& k = detail::gate_kernels<T>();
    std::fill(carry + first * hidden, carry + (first + rows) * hidden, T(0));
    if (carry_c != nullptr) {
      std::fill(carry_c + first * hidden, carry_c + (first + rows) * hidden, T(0));
    }
    for (std::size_t i = d.steps; i-- > 0;) {
      const std::size_t t = d.time(i);
      const T* h_prev = i > 0 ? y + d.time(i - 1) * bh : h0;
      for (std::size_t b = first; b < first + rows; ++b) {
        const std::size_t r = b * hidden, row = t * bh + r, g = (t * d.batch + b) * width;
        T* dh = scratch + b * 2 * hidden;
        for (std::size_t j = 0; j < hidden; ++j) dh[j] = dy[row + j] + carry[r + j];
        if (kind == CellKind::lstm) {
          T* dc = dh + hidden;
          for (std::size_t j = 0; j < hidden; ++j) dc[j] = dy[n + row + j] + carry_c[r + j];
          const T* c_prev = i > 0 ? y + n + d.time(i - 1) * bh + r : c0 + r;
          k.lstm_backward(act + g, dh, dc, y + n + row, c_prev, f + g, carry_c + r, hidden);
        } else if (kind == CellKind::gru) {
          T* ft = step + b * width;
          k.gru_backward(act + g, hn + row, dh, h_prev + r, dx + g, ft, carry + r, hidden);
          std::copy(ft + 2 * hidden, ft + width, f + row);
        } else {
          const T* yt = y + row;
          T* ft = f + g;
          if (kind == CellKind::rnn_relu) {
            for (std::size_t j = 0; j < hidden; ++j) ft[j] = yt[j] > T(0) ? dh[j] : T(0);
          } else {
            for (std::size_t j = 0; j < hidden; ++j) ft[j] = dh[j] * (T(1) - yt[j] * yt[j]);
          }
        }
      }
      // carry = F_t W_hh for these rows (the GRU adds it to its dy * z).
      const T* ft =
          kind == CellKind::gru ? step + first * width : f + (t * d.batch + first) * width;
      gemm<T>(false, false, rows, hidden, width, T(1), ft, width, w_hh, hidden,
              kind == CellKind::gru ? T(1) : T(0), carry + first * hidden, hidden);
    }
  }
};

// Where an op's operands are among its inputs (kNone: not one of them): the sequence ops'
// {gx, h0, (c0,) w_hh (, b_hh)}, the layer ops' {x, w_ih, (bias,) h0, (c0,) w_hh (, b_hh)}.
constexpr std::size_t kNone = static_cast<std::size_t>(-1);
struct Slots {
  std::size_t gx = kNone, x = kNone, w_ih = kNone, bias = kNone;
  std::size_t h0 = kNone, c0 = kNone, w_hh = kNone, b_hh = kNone;
};

// An op's inputs in order, and their slots.
template <class T>
struct Operands {
  std::vector<Var<T>> inputs;
  Slots at;
  // Appends v when it is given, returning its position (kNone when it is not).
  std::size_t add(const Var<T>& v) {
    if (!v.defined()) return kNone;
    inputs.push_back(v);
    return inputs.size() - 1;
  }
};

// out[j] += the sum of data[r * ld + j] over `rows` rows, for j < count: a bias's gradient.
template <class T>
void add_row_sums(const T* data, std::size_t ld, std::size_t rows, std::size_t count, T* out) {
  for (std::size_t r = 0; r < rows; ++r) {
    const T* row = data + r * ld;
    for (std::size_t j = 0; j < count; ++j) out[j] += row[j];
  }
}

// The layer ops' gradients of x, w_ih and the bias from g [T, B, G*H], the gradient of the input
// projection x W_ih^T + bias: g W_ih, g^T x and the sum of g's rows.
template <class T>
void projection_backward(const Context<T>& c, const Slots& at, const SequenceDims& d, const T* g,
                         Grads<T>& grads) {
  const std::size_t rows = d.steps * d.batch, in = c.input_shape(at.x)[2];
  if (c.needs_grad(at.x)) {
    Array<T> dx = empty_array<T>(c.input_shape(at.x));
    gemm<T>(false, false, rows, in, d.width, T(1), g, d.width, c.input(at.w_ih).data(), in, T(0),
            dx.data(), in);
    grads[at.x] = std::move(dx);
  }
  if (c.needs_grad(at.w_ih)) {
    Array<T> dw = empty_array<T>(c.input_shape(at.w_ih));
    gemm<T>(true, false, d.width, in, rows, T(1), g, d.width, c.input(at.x).data(), in, T(0),
            dw.data(), in);
    grads[at.w_ih] = std::move(dw);
  }
  if (at.bias != kNone && c.needs_grad(at.bias)) {
    Array<T> db = empty_array<T>({d.width});
    std::fill(db.data(), db.data() + d.width, T(0));
    add_row_sums(g, d.width, rows, d.width, db.data());
    grads[at.bias] = std::move(db);
  }
}

template <class T>
Grads<T> sequence_backward(const Context<T>& c, CellKind kind, const SequenceDims& d, bool keep,
                           const Slots& at) {
  const bool lstm = kind == CellKind::lstm, gru = kind == CellKind::gru;
  const bool layer = at.x != kNone;  // a layer op: the activations are its own, saved(0)
  const std::size_t bh = d.batch * d.hidden;
  const Shape gates_shape = make_shape({d.steps, d.batch, d.width});
  // The LSTM's and GRU's activations, and their gradient (the LSTM's F, the GRU's dx), have the
  // same shape: when nothing can read the activations after this rule, the gradient overwrites
  // them in their storage, each row's kernel reading a lane's activations before it writes that
  // lane's gradients. A layer op's are its own; a sequence op's, overwriting, are gx, when no
  // other rule and no handle can read gx after this one (Context::take_input).
  std::optional<Array<T>> taken;
  if ((lstm || gru) && layer) {
    taken = c.take_saved(0);
  } else if ((lstm || gru) && !keep) {
    taken = c.take_input(at.gx);
  }
  const bool in_place = taken.has_value();
  Array<T> f = lstm && in_place
                   ? std::move(*taken)
                   : empty_array<T>(gru ? make_shape({d.steps, d.batch, d.hidden}) : gates_shape);
  Array<T> dx = !gru ? Array<T>() : in_place ? std::move(*taken) : empty_array<T>(gates_shape);
  Array<T> step = gru ? empty_array<T>({d.batch, d.width}) : Array<T>();
  Array<T> carry = empty_array<T>({d.batch, d.hidden});
  Array<T> carry_c = lstm ? empty_array<T>({d.batch, d.hidden}) : Array<T>();
  Array<T> scratch = empty_array<T>({d.batch, 2 * d.hidden});
  const T* act = !lstm && !gru ? nullptr
                 : in_place    ? (lstm ? f.data() : dx.data())
                 : keep        ? c.saved(0).data()
                               : c.input(at.gx).data();
  const Backward<T> run{kind,
                        d,
                        c.output().data(),
                        act,
                        gru ? c.saved(keep || layer ? 1 : 0).data() : nullptr,
                        c.input(at.h0).data(),
                        lstm ? c.input(at.c0).data() : nullptr,
                        c.grad_output().data(),
                        c.input(at.w_hh).data(),
                        f.data(),
                        gru ? dx.data() : nullptr,
                        carry.data(),
                        lstm ? carry_c.data() : nullptr,
                        scratch.data(),
                        gru ? step.data() : nullptr};
  detail::for_row_blocks<T>(d.batch, d.steps * d.width * d.hidden,
                            [&](std::size_t first, std::size_t rows) { run.run(first, rows); });
  Grads<T> grads(c.num_inputs());
  // The gates' gradients F [T, B, G*H] as `count` columns from `from` of an array of row
  // stride `ld`: the GRU's r and z blocks are in dx, its n block in f.
  struct Columns {
    const T* data;
    std::size_t ld, from, count;
  };
  const std::vector<Columns> parts =
      gru ? std::vector<Columns>{{dx.data(), d.width, 0, 2 * d.hidden},
                                 {f.data(), d.hidden, 2 * d.hidden, d.hidden}}
          : std::vector<Columns>{{f.data(), d.width, 0, d.width}};
  if (c.needs_grad(at.w_hh)) {
    // dW_hh = sum_t F_t^T h_prev(t): the steps after the first processed read the h of the step
    // before, consecutive rows of y; the first reads h0.
    Array<T> dw = empty_array<T>({d.width, d.hidden});
    const std::size_t first_t = d.time(0), rest = (d.steps - 1) * d.batch;
    const T* y = c.output().data();
    for (const Columns& p : parts) {
      T* out = dw.data() + p.from * d.hidden;
      if (rest > 0) {
        const T* f_rest = p.data + (d.reverse ? 0 : d.batch * p.ld);
        const T* h_rest = y + (d.reverse ? bh : 0);
        gemm<T>(true, false, p.count, d.hidden, rest, T(1), f_rest, p.ld, h_rest, d.hidden, T(0),
                out, d.hidden);
      }
      gemm<T>(true, false, p.count, d.hidden, d.batch, T(1), p.data + first_t * d.batch * p.ld,
              p.ld, c.input(at.h0).data(), d.hidden, rest > 0 ? T(1) : T(0), out, d.hidden);
    }
    grads[at.w_hh] = std::move(dw);
  }
  if (gru && at.b_hh != kNone && c.needs_grad(at.b_hh)) {
    Array<T> db = empty_array<T>({d.width});
    std::fill(db.data(), db.data() + d.width, T(0));
    for (const Columns& p : parts) {
      add_row_sums(p.data, p.ld, d.steps * d.batch, p.count, db.data() + p.from);
    }
    grads[at.b_hh] = std::move(db);
  }
  if (c.needs_grad(at.h0)) grads[at.h0] = std::move(carry);
  if (lstm && c.needs_grad(at.c0)) grads[at.c0] = std::move(carry_c);
  // gx's gradient: the gates' (the GRU's dx).
  if (layer) {
    projection_backward(c, at, d, gru ? dx.data() : f.data(), grads);
  } else if (c.needs_grad(at.gx)) {
    grads[at.gx] = gru ? std::move(dx) : std::move(f);
  }
  return grads;
}

// The forward pass: y [T, B, H] every step's h (the LSTM's c after them). The LSTM's and GRU's
// gates are in `act` (gx's rows, or their copy) and become their activations, the GRU's
// h W_hn^T + b_hn goes to hn; the RNN's act is null: each step copies its rows of gx into y.
// A layer op's gates come from `proj` instead (gx null): each block computes them a chunk of
// steps ahead into act (the RNN's into y).
template <class T>
void sequence_forward(CellKind kind, const SequenceDims& d, const T* gx, T* act, const T* h0,
                      const T* c0, const Var<T>& w_hh, const Var<T>& b_hh, T* y, T* hn,
                      const detail::Projection<T>* proj = nullptr) {
  const bool lstm = kind == CellKind::lstm, gru = kind == CellKind::gru;
  const std::size_t hidden = d.hidden, width = d.width, bh = d.batch * hidden;
  const std::size_t n = d.steps * bh;
  Array<T> gh = gru ? empty_array<T>({d.batch, width}) : Array<T>();
  detail::for_row_blocks<T>(
      d.batch, d.steps * width * hidden, [&](std::size_t r0, std::size_t rows) {
        const std::size_t hr = r0 * hidden;
        const T* h = h0 + hr;
        const T* c = lstm ? c0 + hr : nullptr;
        const std::size_t chunk = proj != nullptr ? proj->chunk(rows) : 1;
        for (std::size_t i = 0; i < d.steps; ++i) {
          const std::size_t t = d.time(i);
          T* out = y + t * bh + hr;
          T* c_out = lstm ? y + n + t * bh + hr : nullptr;
          const std::size_t g = (t * d.batch + r0) * width;
          T* p = act != nullptr ? act + g : out;
          if (proj != nullptr) {
            if (const auto from = proj->chunk_at(i, chunk, d.reverse)) {
              const std::size_t at = (from->first * d.batch + r0) * width;
              proj->run(from->first, from->second, r0, rows, act != nullptr ? act + at : y + at);
            }
          } else if (act == nullptr) {
            std::copy(gx + g, gx + g + rows * width, out);
          }
          detail::step_rows(kind, w_hh, b_hh, p, h, c, out, c_out, gru ? hn + t * bh + hr : nullptr,
                            gru ? gh.data() + r0 * width : nullptr, rows, true);
          h = out;
          c = c_out;
        }
      });
}

// Where the LSTM's and GRU's activations go: gx itself (overwrite: versioned, as
// Var::mutable_value), or a copy kept for backward.
template <class T>
T* activations(const Var<T>& gx, GateInput mode, std::optional<Array<T>>& own) {
  if (mode == GateInput::overwrite) return gx.mutable_value().data();
  own = gx.value();
  return own->data();
}

// Checks a layer op's operands: x [T, B, in] with T >= 1, w_ih [G*H, in], bias [G*H] or empty,
// h0 [B, H], w_hh [G*H, H]; `required` names the operands that must be given, in order.
template <class T>
SequenceDims check_layer(const char* op, std::size_t gates, const char* required,
                         std::initializer_list<const Var<T>*> given, const Var<T>& x,
                         const Var<T>& w_ih, const Var<T>& bias, const Var<T>& h0,
                         const Var<T>& w_hh, bool reverse) {
  for (const Var<T>* v : given) {
    if (!v->defined()) throw usage_error(fmt::format("{}: {} must be given", op, required));
  }
  const Shape& xs = x.shape();
  const std::size_t hidden = w_hh.ndim() == 2 ? w_hh.shape()[1] : 0, width = gates * hidden;
  const bool ok = xs.size() == 3 && xs[0] > 0 && w_hh.ndim() == 2 && w_hh.shape()[0] == width &&
                  w_ih.shape() == make_shape({width, xs[2]}) &&
                  h0.shape() == make_shape({xs[1], hidden}) &&
                  (!bias.defined() || bias.shape() == make_shape({width}));
  if (!ok) {
    throw shape_error(fmt::format(
        "{}: expected x [T, B, in] with T >= 1, weight_ih [{}H, in], bias [{}H], h0 [B, H], "
        "weight_hh [{}H, H]; got x {}, weight_ih {}, bias {}, h0 {}, weight_hh {}",
        op, gates, gates, gates, shape_str(xs), shape_str(w_ih.shape()),
        bias.defined() ? shape_str(bias.shape()) : "none", shape_str(h0.shape()),
        shape_str(w_hh.shape())));
  }
  return {xs[0], xs[1], hidden, width, reverse};
}

// The projection of a layer op's x (Projection, common.hpp).
template <class T>
detail::Projection<T> projection_of(const Var<T>& x, const Var<T>& w_ih, const Var<T>& bias,
                                    const SequenceDims& d) {
  return {x.value().data(), x.shape()[2], &w_ih,  bias.defined() ? bias.value().data() : nullptr,
          d.steps,          d.batch,      d.width};
}

// Which inputs a rule reads: the slots given (kNone skipped), and the output.
Reads reads_of(std::initializer_list<std::size_t> slots) {
  std::vector<std::size_t> which;
  for (const std::size_t s : slots) {
    if (s != kNone) which.push_back(s);
  }
  return Reads::inputs_only(std::move(which)).and_output();
}

// Records a sequence or layer op whose rule is sequence_backward.
template <class T>
Var<T> record_sequence(const char* op, CellKind kind, const SequenceDims& d, bool keep,
                       Operands<T>&& o, Array<T>&& y, std::vector<Array<T>>&& saved, Reads reads) {
  const Slots at = o.at;
  return record<T>(
      op, std::move(o.inputs), std::move(y),
      [kind, d, keep, at](const Context<T>& c) { return sequence_backward(c, kind, d, keep, at); },
      std::move(saved), {}, std::move(reads));
}

}  // namespace

template <class T>
Var<T> fused_rnn_sequence(const Var<T>& gx, const Var<T>& h0, const Var<T>& w_hh, bool relu,
                          bool reverse) {
  const SequenceDims d =
      check_sequence("fused_rnn_sequence", 1, {&gx, &h0, &w_hh}, gx, h0, w_hh, reverse);
  const CellKind kind = relu ? CellKind::rnn_relu : CellKind::rnn_tanh;
  Array<T> y = empty_array<T>({d.steps, d.batch, d.hidden});
  sequence_forward(kind, d, gx.value().data(), static_cast<T*>(nullptr), h0.value().data(),
                   static_cast<const T*>(nullptr), w_hh, Var<T>(), y.data(),
                   static_cast<T*>(nullptr));
  Operands<T> o;
  o.at.gx = o.add(gx), o.at.h0 = o.add(h0), o.at.w_hh = o.add(w_hh);
  const Reads reads = reads_of({o.at.h0, o.at.w_hh});
  return record_sequence<T>("fused_rnn_sequence", kind, d, false, std::move(o), std::move(y), {},
                            reads);
}
TAPEGRAD_OP(fused_rnn_sequence);

template <class T>
Var<T> fused_lstm_sequence(const Var<T>& gx, const Var<T>& h0, const Var<T>& c0, const Var<T>& w_hh,
                           bool reverse, GateInput mode) {
  const SequenceDims d =
      check_sequence("fused_lstm_sequence", 4, {&gx, &h0, &c0, &w_hh}, gx, h0, w_hh, reverse);
  if (c0.shape() != h0.shape()) {
    throw shape_error(fmt::format("fused_lstm_sequence: expected c0 {} as h0, got {}",
                                  shape_str(h0.shape()), shape_str(c0.shape())));
  }
  std::optional<Array<T>> own;
  T* pre = activations(gx, mode, own);
  Array<T> y = empty_array<T>({2, d.steps, d.batch, d.hidden});
  sequence_forward(CellKind::lstm, d, gx.value().data(), pre, h0.value().data(), c0.value().data(),
                   w_hh, Var<T>(), y.data(), static_cast<T*>(nullptr));
  const bool keep = mode == GateInput::keep;
  std::vector<Array<T>> saved;
  if (own) saved.push_back(std::move(*own));
  Operands<T> o;
  o.at.gx = o.add(gx), o.at.h0 = o.add(h0), o.at.c0 = o.add(c0), o.at.w_hh = o.add(w_hh);
  const Reads reads = reads_of({keep ? kNone : o.at.gx, o.at.h0, o.at.c0, o.at.w_hh});
  return record_sequence<T>("fused_lstm_sequence", CellKind::lstm, d, keep, std::move(o),
                            std::move(y), std::move(saved), reads);
}
TAPEGRAD_OP(fused_lstm_sequence);

template <class T>
Var<T> fused_gru_sequence(const Var<T>& gx, const Var<T>& h0, const Var<T>& w_hh,
                          const Var<T>& b_hh, bool reverse, GateInput mode) {
  const SequenceDims d =
      check_sequence("fused_gru_sequence", 3, {&gx, &h0, &w_hh}, gx, h0, w_hh, reverse);
  if (b_hh.defined() && b_hh.shape() != make_shape({d.width})) {
    throw shape_error(fmt::format("fused_gru_sequence: expected bias_hh [{}], got {}", d.width,
                                  shape_str(b_hh.shape())));
  }
  std::optional<Array<T>> own;
  T* pre = activations(gx, mode, own);
  Array<T> y = empty_array<T>({d.steps, d.batch, d.hidden});
  Array<T> hn = empty_array<T>({d.steps, d.batch, d.hidden});
  sequence_forward(CellKind::gru, d, gx.value().data(), pre, h0.value().data(),
                   static_cast<const T*>(nullptr), w_hh, b_hh, y.data(), hn.data());
  const bool keep = mode == GateInput::keep;
  std::vector<Array<T>> saved;
  if (own) saved.push_back(std::move(*own));
  saved.push_back(std::move(hn));
  Operands<T> o;
  o.at.gx = o.add(gx), o.at.h0 = o.add(h0), o.at.w_hh = o.add(w_hh), o.at.b_hh = o.add(b_hh);
  const Reads reads = reads_of({keep ? kNone : o.at.gx, o.at.h0, o.at.w_hh});
  return record_sequence<T>("fused_gru_sequence", CellKind::gru, d, keep, std::move(o),
                            std::move(y), std::move(saved), reads);
}
TAPEGRAD_OP(fused_gru_sequence);

template <class T>
Var<T> fused_rnn_layer(const Var<T>& x, const Var<T>& w_ih, const Var<T>& bias, const Var<T>& h0,
                       const Var<T>& w_hh, bool relu, bool reverse) {
  const SequenceDims d = check_layer("fused_rnn_layer", 1, "x, weight_ih, h0 and weight_hh",
                                     {&x, &w_ih, &h0, &w_hh}, x, w_ih, bias, h0, w_hh, reverse);
  const CellKind kind = relu ? CellKind::rnn_relu : CellKind::rnn_tanh;
  Array<T> y = empty_array<T>({d.steps, d.batch, d.hidden});
  const detail::Projection<T> proj = projection_of(x, w_ih, bias, d);
  sequence_forward(kind, d, static_cast<const T*>(nullptr), static_cast<T*>(nullptr),
                   h0.value().data(), static_cast<const T*>(nullptr), w_hh, Var<T>(), y.data(),
                   static_cast<T*>(nullptr), &proj);
  Operands<T> o;
  o.at.x = o.add(x), o.at.w_ih = o.add(w_ih), o.at.bias = o.add(bias);
  o.at.h0 = o.add(h0), o.at.w_hh = o.add(w_hh);
  const Reads reads = reads_of({o.at.x, o.at.w_ih, o.at.h0, o.at.w_hh});
  return record_sequence<T>("fused_rnn_layer", kind, d, false, std::move(o), std::move(y), {},
                            reads);
}
TAPEGRAD_OP(fused_rnn_layer);

template <class T>
Var<T> fused_lstm_layer(const Var<T>& x, const Var<T>& w_ih, const Var<T>& bias, const Var<T>& h0,
                        const Var<T>& c0, const Var<T>& w_hh, bool reverse) {
  const SequenceDims d =
      check_layer("fused_lstm_layer", 4, "x, weight_ih, h0, c0 and weight_hh",
                  {&x, &w_ih, &h0, &c0, &w_hh}, x, w_ih, bias, h0, w_hh, reverse);
  if (c0.shape() != h0.shape()) {
    throw shape_error(fmt::format("fused_lstm_layer: expected c0 {} as h0, got {}",
                                  shape_str(h0.shape()), shape_str(c0.shape())));
  }
  Array<T> act = empty_array<T>({d.steps, d.batch, d.width});
  Array<T> y = empty_array<T>({2, d.steps, d.batch, d.hidden});
  const detail::Projection<T> proj = projection_of(x, w_ih, bias, d);
  sequence_forward(CellKind::lstm, d, static_cast<const T*>(nullptr), act.data(), h0.value().data(),
                   c0.value().data(), w_hh, Var<T>(), y.data(), static_cast<T*>(nullptr), &proj);
  std::vector<Array<T>> saved;
  saved.push_back(std::move(act));
  Operands<T> o;
  o.at.x = o.add(x), o.at.w_ih = o.add(w_ih), o.at.bias = o.add(bias);
  o.at.h0 = o.add(h0), o.at.c0 = o.add(c0), o.at.w_hh = o.add(w_hh);
  const Reads reads = reads_of({o.at.x, o.at.w_ih, o.at.h0, o.at.c0, o.at.w_hh});
  return record_sequence<T>("fused_lstm_layer", CellKind::lstm, d, false, std::move(o),
                            std::move(y), std::move(saved), reads);
}
TAPEGRAD_OP(fused_lstm_layer);

template <class T>
Var<T> fused_gru_layer(const Var<T>& x, const Var<T>& w_ih, const Var<T>& b_ih, const Var<T>& h0,
                       const Var<T>& w_hh, const Var<T>& b_hh, bool reverse) {
  const SequenceDims d = check_layer("fused_gru_layer", 3, "x, weight_ih, h0 and weight_hh",
                                     {&x, &w_ih, &h0, &w_hh}, x, w_ih, b_ih, h0, w_hh, reverse);
  if (b_hh.defined() && b_hh.shape() != make_shape({d.width})) {
    throw shape_error(fmt::format("fused_gru_layer: expected bias_hh [{}], got {}", d.width,
                                  shape_str(b_hh.shape())));
  }
  Array<T> act = empty_array<T>({d.steps, d.batch, d.width});
  Array<T> y = empty_array<T>({d.steps, d.batch, d.hidden});
  Array<T> hn = empty_array<T>({d.steps, d.batch, d.hidden});
  const detail::Projection<T> proj = projection_of(x, w_ih, b_ih, d);
  sequence_forward(CellKind::gru, d, static_cast<const T*>(nullptr), act.data(), h0.value().data(),
                   static_cast<const T*>(nullptr), w_hh, b_hh, y.data(), hn.data(), &proj);
  std::vector<Array<T>> saved;
  saved.push_back(std::move(act));
  saved.push_back(std::move(hn));
  Operands<T> o;
  o.at.x = o.add(x), o.at.w_ih = o.add(w_ih), o.at.bias = o.add(b_ih);
  o.at.h0 = o.add(h0), o.at.w_hh = o.add(w_hh), o.at.b_hh = o.add(b_hh);
  const Reads reads = reads_of({o.at.x, o.at.w_ih, o.at.h0, o.at.w_hh});
  return record_sequence<T>("fused_gru_layer", CellKind::gru, d, false, std::move(o), std::move(y),
                            std::move(saved), reads);
}
TAPEGRAD_OP(fused_gru_layer);

}  // namespace tapegrad::nn
