// What the cell files (rnn_cell.cpp, lstm_cell.cpp, gru_cell.cpp) share: argument checks, and
// the helpers of the fused kernels (not installed). A fused step does its GEMM into the gate
// slab, then one pass over the gates; the pointwise loops (gate_kernels.hpp) run on xsimd
// batches over the contiguous H-wide gate blocks of each row, in the CPU's widest instruction
// set (gates.cpp), the rows shared among the library's threads (for_rows).
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include <omp.h>

#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include <fmt/format.h>

#include "gates.hpp"
#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/nn/cells.hpp"
#include "tapegrad/nn/rnn.hpp"

namespace tapegrad::nn::detail {

// ---- argument checks ----

/// Checks the operands of a composed step (rnn_step, lstm_step, gru_step): gx [B, G*H],
/// h [B, H] (and the LSTM's c [B, H] when given), w_hh [G*H, H], b_hh [G*H] or empty.
template <class T>
void check_step_args(const char* op, std::size_t gates, const Var<T>& gx, const Var<T>& h,
                     const Var<T>& w_hh, const Var<T>& b_hh, const Var<T>* c = nullptr) {
  if (!gx.defined() || !h.defined() || !w_hh.defined() || (c != nullptr && !c->defined())) {
    throw usage_error(
        fmt::format("{}: gx, h{} and weight_hh must be given", op, c != nullptr ? ", c" : ""));
  }
  const std::size_t hidden = w_hh.ndim() == 2 ? w_hh.shape()[1] : 0;
  const std::size_t width = gates * hidden;
  const bool ok = hidden > 0 && w_hh.shape()[0] == width && h.ndim() == 2 &&
                  h.shape()[1] == hidden && gx.ndim() == 2 && gx.shape()[0] == h.shape()[0] &&
                  gx.shape()[1] == width && (c == nullptr || c->shape() == h.shape()) &&
                  (!b_hh.defined() || b_hh.shape() == make_shape({width}));
  if (!ok) {
    throw shape_error(fmt::format(
        "{}: expected gx [B, {}H], h{} [B, H], weight_hh [{}H, H], bias_hh [{}H]; got gx {}, "
        "h {}{}, weight_hh {}, bias_hh {}",
        op, gates, c != nullptr ? " and c" : "", gates, gates, shape_str(gx.shape()),
        shape_str(h.shape()), c != nullptr ? ", c " + shape_str(c->shape()) : "",
        shape_str(w_hh.shape()), b_hh.defined() ? shape_str(b_hh.shape()) : "none"));
  }
}

/// Checks a cell's operands (rnn_cell, lstm_cell, gru_cell) and returns H.
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

// ---- helpers of the fused kernels ----

/// An uninitialised array of the given shape.
template <class T>
Array<T> empty_array(const Shape& shape) {
  return Array<T>::from_shape(shape);
}

/// Row blocks of fewer elements (batch x hidden) than this run on the calling thread alone:
/// below it, handing rows to another thread costs more than it saves.
constexpr std::size_t kParallelElements = 4096;
/// A step of fewer multiply-adds (rows x G*H x H) than this runs its rows on one thread. At
/// 2^18, an LSTM's training step at (16,200,32,64) split into blocks of 8 rows ran 3.4x slower
/// on two threads than unsplit (22.4 ms against 6.6); from 2^20 every grid shape gains.
constexpr std::size_t kParallelBlockWork = std::size_t{1} << 20;

/// The calling thread's floating-point modes (x86: MXCSR, whose FTZ and DAZ bits backward sets
/// on its own thread, set_flush_denormals), to run a block of rows with on another thread.
inline unsigned fp_modes() {
#if defined(__SSE__)
  return _mm_getcsr();
#else
  return 0;
#endif
}

/// While alive, this thread computes with `modes` (fp_modes() of the thread that shared out the
/// work), so that a block of rows on a worker thread flushes subnormals as the caller does: in
/// BPTT over long sequences gradients pass through the subnormal range, where each operation
/// takes a microcode assist (design.md, "Subnormals are flushed during backward").
class WithFpModes {
 public:
  explicit WithFpModes(unsigned modes) : own_(fp_modes()) {
#if defined(__SSE__)
    if (own_ != modes) _mm_setcsr(modes);
#else
    static_cast<void>(modes);
#endif
  }
  ~WithFpModes() {
#if defined(__SSE__)
    if (fp_modes() != own_) _mm_setcsr(own_);
#endif
  }
  WithFpModes(const WithFpModes&) = delete;
  WithFpModes& operator=(const WithFpModes&) = delete;

 private:
  unsigned own_;
};

/// Calls f(b) for every row b in [0, batch) of a fused step's gate loop, the rows shared among
/// the library's threads (set_num_threads; OpenMP's pool, the one oneDNN's GEMMs use) when
/// there is more than one and the rows hold enough work (`per_row` elements each). f must not
/// throw.
template <class F>
void for_rows(std::size_t batch, std::size_t per_row, F&& f) {
  const int threads = num_threads();
  if (threads > 1 && batch > 1 && batch * per_row >= kParallelElements && !omp_in_parallel()) {
    const auto rows = static_cast<std::ptrdiff_t>(batch);
    const unsigned modes = fp_modes();
#pragma omp parallel num_threads(threads)
    {
      const WithFpModes same(modes);
#pragma omp for schedule(static)
      for (std::ptrdiff_t b = 0; b < rows; ++b) f(static_cast<std::size_t>(b));
    }
    return;
  }
  for (std::size_t b = 0; b < batch; ++b) f(b);
}

/// Rows per thread at least for for_row_blocks to share a step.
constexpr std::size_t kMinBlockRows = 4;

/// Calls f(first, rows) on blocks of a step's rows [0, batch): one contiguous block per thread
/// of the library's (set_num_threads) when there is more than one, the step is float (double
/// products run on OpenBLAS, whose own threads must not run inside OpenMP's), has at least
/// kMinBlockRows rows per thread and enough work (`per_row` multiply-adds each); else one block
/// of every row on the calling thread (the sequence ops and the tape-free loop pass a whole
/// sequence's work and run every step in the block). Each block runs a step's product and gate
/// loop for its
/// own rows (its h rows times W_hh, its gate rows), so the threads meet once per step instead
/// of once per product and once per loop; the products inside run on their own thread
/// (onednn_threads_for). Every block computes with the calling thread's floating-point modes. An
/// exception thrown by f on any block is rethrown on the calling thread once every block has ended
/// (the first one, when several throw).
template <class T, class F>
void for_row_blocks(std::size_t batch, std::size_t per_row, F&& f) {
  const int threads = num_threads();
  const auto n = static_cast<std::size_t>(threads);
  if (std::is_same_v<T, float> && threads > 1 && batch >= n * kMinBlockRows &&
      batch * per_row >= kParallelBlockWork && !omp_in_parallel()) {
    std::exception_ptr error;
    const unsigned modes = fp_modes();
#pragma omp parallel num_threads(threads)
    {
      const WithFpModes same(modes);
      const auto i = static_cast<std::size_t>(omp_get_thread_num());
      const std::size_t size = batch / n, longer = batch % n;
      const std::size_t first = i * size + (i < longer ? i : longer);
      try {
        f(first, size + (i < longer ? 1 : 0));
      } catch (...) {
#pragma omp critical(tapegrad_row_blocks)
        if (!error) error = std::current_exception();
      }
    }
    if (error) std::rethrow_exception(error);
    return;
  }
  f(std::size_t{0}, batch);
}

// ---- the gate kernels, on raw rows (the fused steps and the tape-free inference loop) ----

/// The plain RNN's h' = tanh(pre) or relu(pre) into out, pre and out [B, H] (rnn_cell.cpp);
/// out may be pre.
template <class T>
void rnn_activation(const T* pre, T* out, std::size_t batch, std::size_t hidden, bool relu);

/// The LSTM's step after its GEMM (lstm_cell.cpp): act [B, 4H], the pre-activations of [i f g o]
/// per row, becomes their activations (unless `keep` is false: inference); c_out = f c_in + i g
/// and h_out = o tanh(c_out), [B, H] each. c_out may be c_in.
template <class T>
void lstm_gates(T* act, const T* c_in, T* h_out, T* c_out, std::size_t batch, std::size_t hidden,
                bool keep = true);

/// The GRU's step after its GEMM (gru_cell.cpp): x [B, 3H] holds x W_i{r,z,n}^T + b_i{r,z,n} per
/// row and becomes r, z, n, and hn_out [B, H] gets h W_hn^T + b_hn, which backward reads (with
/// hn_out null, inference: neither); gh [B, 3H] = h W_hh^T + b_hh; h_out = (1 - z) n + z h_in.
template <class T>
void gru_gates(T* x, const T* gh, const T* h_in, T* hn_out, T* h_out, std::size_t batch,
               std::size_t hidden);

/// One fused step on a block of `rows` rows of a recurrent layer's direction, every pointer at
/// the block's first row (the tape-free inference loop and the sequence ops): pre is gx[t]'s
/// rows, to which h W_hh^T is added (except the GRU's, whose h W_hh^T + b_hh goes to its scratch
/// gh [rows, 3H]); h and c_in the state's rows, h_out and c_out the new state's (c_out may be
/// c_in). keep: the LSTM and GRU leave their activations in pre, the GRU its h W_hn^T + b_hn in
/// hn, for backward. The values are the fused steps' (fused_rnn_step, ...), bit for bit.
template <class T>
void step_rows(CellKind kind, const Var<T>& w_hh, const Var<T>& b_hh, T* pre, const T* h,
               const T* c_in, T* h_out, T* c_out, T* hn, T* gh, std::size_t rows, bool keep) {
  const std::size_t hidden = w_hh.shape()[1], width = w_hh.shape()[0];
  if (kind == CellKind::gru) {
    gemm_by_weight<T>(rows, h, hidden, w_hh, T(0), gh, width,
                      b_hh.defined() ? b_hh.value().data() : static_cast<const T*>(nullptr));
    gru_gates(pre, gh, h, keep ? hn : static_cast<T*>(nullptr), h_out, rows, hidden);
    return;
  }
  gemm_by_weight<T>(rows, h, hidden, w_hh, T(1), pre, width);
  if (kind == CellKind::lstm) {
    lstm_gates(pre, c_in, h_out, c_out, rows, hidden, keep);
  } else {
    rnn_activation(pre, h_out, rows, hidden, kind == CellKind::rnn_relu);
  }
}

/// Bytes of a layer's input projection computed in one product at most (Projection).
constexpr std::size_t kProjectionBytes = std::size_t{1} << 16;

/// The input projection of the layer ops (fused_rnn_layer, ...; sequence.cpp) and of the
/// tape-free loop (recurrent.cpp): x W_ih^T + bias, [T, B, G*H] from x [T, B, in], computed for
/// a block of rows just before its steps read it, so that it is read from the cache. Both run
/// the same products on the same rows, so their values are equal bit for bit.
template <class T>
struct Projection {
  const T* x;       // [T, B, in]
  std::size_t in;   // x's row length
  const Var<T>* w;  // [G*H, in]
  const T* bias;    // [G*H], or null
  std::size_t steps, batch, width;

  /// Steps per product for a block of `rows` rows: one when the block is part of the batch (or
  /// empty); for the whole batch, as many as fit in kProjectionBytes (a small batch's steps in
  /// one product: at batch 1 a step alone would be a vector times W_ih).
  std::size_t chunk(std::size_t rows) const {
    if (rows != batch || batch * width == 0) return 1;
    return std::clamp<std::size_t>(kProjectionBytes / (batch * width * sizeof(T)), 1, steps);
  }
  /// When step i (in the order the steps run) starts a chunk of c steps: the chunk's first
  /// time t0 and its length n (times t0 .. t0 + n - 1, run upwards, or downwards when
  /// reversed); else none.
  std::optional<std::pair<std::size_t, std::size_t>> chunk_at(std::size_t i, std::size_t c,
                                                              bool reverse) const {
    if (i % c != 0) return std::nullopt;
    const std::size_t n = std::min(c, steps - i);
    return std::make_pair(reverse ? steps - i - n : i, n);
  }
  /// x W^T + bias for rows [r0, r0 + rows) of the n steps from time t0 into dst, row stride
  /// width (n > 1 only for the whole batch, whose rows are then consecutive in x and dst).
  void run(std::size_t t0, std::size_t n, std::size_t r0, std::size_t rows, T* dst) const {
    gemm_by_weight<T>(n * rows, x + (t0 * batch + r0) * in, in, *w, T(0), dst, width, bias);
  }
};

struct StepDims {
  std::size_t batch, hidden, offset;  // offset of gx[t] in gx's data
  std::size_t step;                   // t
};

// Checks a fused step's operands: gx [T, B, G*H] with t < T, or [B, G*H] with t = 0; the state
// [states..., B, H] (states = 2 for the LSTM's [2, B, H]); w_hh [G*H, H].
template <class T>
StepDims check_step(const char* op, std::size_t gates, const Var<T>& gx, std::size_t t,
                    const Var<T>& state, std::size_t states, const Var<T>& w_hh) {
  std::size_t argument = 0;
  for (const Var<T>* v : {&gx, &state, &w_hh}) {
    if (!v->defined()) {
      throw usage_error(fmt::format("{}: argument {} is an empty Var", op, argument));
    }
    ++argument;
  }
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
  return {batch, hidden, t * batch * gates * hidden, t};
}

// The rows of gx[t] a step writes its gates into: gx[t] itself when overwriting (a versioned
// in-place write: Var::mutable_row, or mutable_value for a gx of one step), else `own`, which
// each block of rows fills with its rows of gx[t] (copy_rows) before its product.
template <class T>
struct GateRows {
  T* rows;
  const T* copy_from;  // gx[t], to copy into rows; null when rows is gx[t]
  std::size_t width;

  /// Copies rows [first, first + count) of gx[t] into place, when they are a copy.
  void copy_rows(std::size_t first, std::size_t count) const {
    if (copy_from == nullptr) return;
    std::copy(copy_from + first * width, copy_from + (first + count) * width, rows + first * width);
  }
};

template <class T>
GateRows<T> gate_rows(const Var<T>& gx, const StepDims& d, std::size_t width, GateInput mode,
                      std::optional<Array<T>>& own) {
  if (mode == GateInput::overwrite) {
    return {gx.ndim() == 3 ? gx.mutable_row(d.step) : gx.mutable_value().data(), nullptr, width};
  }
  own = empty_array<T>({d.batch, width});
  return {own->data(), gx.value().data() + d.offset, width};
}

// What a step's backward reads of gx: after overwriting, only its own row gx[t], so the later
// steps' writes to their rows leave it valid (record's RowRead); else the whole of gx.
template <class T>
std::vector<RowRead> gate_rows_read(const Var<T>& gx, const StepDims& d, GateInput mode) {
  if (mode == GateInput::overwrite && gx.ndim() == 3) return {RowRead{0, d.step}};
  return {};
}

// The values an LSTM or GRU step's backward reads (record's Reads): h (in the state) and
// W_hh, and gx only after overwriting (its own row, gate_rows_read), as a kept gx's activations
// are a saved copy; `output` when the rule reads the new state (the LSTM's c').
inline Reads gate_step_reads(GateInput mode, bool output) {
  Reads r =
      mode == GateInput::overwrite ? Reads::inputs_only({0, 1, 2}) : Reads::inputs_only({1, 2});
  r.output = output;
  return r;
}

// pre = gx[t] + h W_hh^T, [B, G*H], in the rows gate_rows gives, then gates(pre, first, rows)
// on each block of rows after its product (for_row_blocks). Returns where pre is.
template <class T, class Gates>
T* gates_of(const Var<T>& gx, const StepDims& d, std::size_t gates, const T* h, const Var<T>& w_hh,
            GateInput mode, std::optional<Array<T>>& own, Gates&& then) {
  const std::size_t width = gates * d.hidden;
  const GateRows<T> gate = gate_rows(gx, d, width, mode, own);
  T* pre = gate.rows;
  for_row_blocks<T>(d.batch, width * d.hidden, [&](std::size_t first, std::size_t rows) {
    gate.copy_rows(first, rows);
    gemm_by_weight<T>(rows, h + first * d.hidden, d.hidden, w_hh, T(1), pre + first * width, width);
    then(pre, first, rows);
  });
  return pre;
}

// The gradient of gx from the gradient of gx[t].
template <class T>
Grad<T> gx_grad(const Context<T>& c, Array<T> dgx, std::size_t t) {
  return c.input_shape(0).size() == 3 ? Grad<T>::at(std::move(dgx), 0, t) : Grad<T>(std::move(dgx));
}

// dh (+)= dpre W_hh for `rows` rows, dpre [rows, G*H], dh [rows, H]; beta = 1 adds to dh's
// contents.
template <class T>
void add_state_grad(const T* dpre, const Array<T>& w_hh, T beta, T* dh, std::size_t rows,
                    std::size_t hidden) {
  const std::size_t width = w_hh.shape()[0];
  gemm<T>(false, false, rows, hidden, width, T(1), dpre, width, w_hh.data(), hidden, beta, dh,
          hidden);
}

// Rows [first, first + rows) of `from` (rows of `width`) into the same rows of `out`, unless
// out is null: the factors of W_hh's outer gradient, each block of rows copying its own.
template <class T>
void copy_rows(const T* from, std::size_t first, std::size_t rows, std::size_t width, T* out) {
  if (out == nullptr) return;
  std::copy(from + first * width, from + (first + rows) * width, out + first * width);
}

}  // namespace tapegrad::nn::detail
