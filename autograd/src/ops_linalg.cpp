// matmul, bmm, transpose and linear, on detail::gemm: transposed operands are flags, never
// copies.
#include "detail.hpp"
#include "gemm.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

namespace {

using detail::gemm;

// The shapes of a matmul as a batch of [m,k] x [k,n] products.
struct MatmulDims {
  std::size_t batch = 1, m = 1, k = 1, n = 1;
  bool a_batched = false, b_batched = false;  // does the operand advance with the batch?
  Shape out;
};

MatmulDims matmul_dims(const Shape& a, const Shape& b) {
  const auto fail = [&] {
    return shape_error(fmt::format(
        "matmul: expected [m,k] x [k,n], [b,m,k] x [b,k,n], [b,m,k] x [k,n], [k] x [k,n] or "
        "[m,k] x [k], got {} x {}",
        shape_str(a), shape_str(b)));
  };
  MatmulDims d;
  if (a.size() == 2 && b.size() == 2) {
    d.m = a[0], d.k = a[1], d.n = b[1];
    if (b[0] != d.k) throw fail();
    d.out = {d.m, d.n};
  } else if (a.size() == 3 && b.size() == 3) {
    d.batch = a[0], d.m = a[1], d.k = a[2], d.n = b[2];
    if (b[0] != d.batch || b[1] != d.k) throw fail();
    d.a_batched = d.b_batched = true;
    d.out = {d.batch, d.m, d.n};
  } else if (a.size() == 3 && b.size() == 2) {
    // One GEMM: the batch folds into the rows of a.
    d.m = a[0] * a[1], d.k = a[2], d.n = b[1];
    if (b[0] != d.k) throw fail();
    d.out = {a[0], a[1], d.n};
  } else if (a.size() == 1 && b.size() == 2) {
    d.m = 1, d.k = a[0], d.n = b[1];
    if (b[0] != d.k) throw fail();
    d.out = {d.n};
  } else if (a.size() == 2 && b.size() == 1) {
    d.m = a[0], d.k = a[1], d.n = 1;
    if (b[0] != d.k) throw fail();
    d.out = {d.m};
  } else {
    throw fail();
  }
  return d;
}

// Copies a 2-D [rows, cols] block (row stride `ld_in`) transposed into out [cols, rows].
template <class T>
void transpose_2d(const T* in, std::size_t rows, std::size_t cols, T* out) {
  constexpr std::size_t tile = 32;
  for (std::size_t i0 = 0; i0 < rows; i0 += tile) {
    for (std::size_t j0 = 0; j0 < cols; j0 += tile) {
      const std::size_t i1 = std::min(rows, i0 + tile), j1 = std::min(cols, j0 + tile);
      for (std::size_t i = i0; i < i1; ++i) {
        for (std::size_t j = j0; j < j1; ++j) out[j * rows + i] = in[i * cols + j];
      }
    }
  }
}

// Swaps axes a0 < a1 of a row-major array: in viewed as [pre, d0, mid, d1, post].
template <class T>
Array<T> swap_axes(const Array<T>& x, std::size_t a0, std::size_t a1) {
  const Shape& s = x.shape();
  Shape os = s;
  std::swap(os[a0], os[a1]);
  Array<T> y = detail::empty_array<T>(os);
  const std::size_t pre = detail::product(s, 0, a0), d0 = s[a0];
  const std::size_t mid = detail::product(s, a0 + 1, a1), d1 = s[a1];
  const std::size_t post = detail::product(s, a1 + 1, s.size());
  const T* in = x.data();
  T* out = y.data();
  if (mid == 1 && post == 1) {
    for (std::size_t p = 0; p < pre; ++p) transpose_2d(in + p * d0 * d1, d0, d1, out + p * d0 * d1);
    return y;
  }
  for (std::size_t p = 0; p < pre; ++p) {
    for (std::size_t i = 0; i < d0; ++i) {
      for (std::size_t m = 0; m < mid; ++m) {
        for (std::size_t j = 0; j < d1; ++j) {
          const T* src = in + (((p * d0 + i) * mid + m) * d1 + j) * post;
          T* dst = out + (((p * d1 + j) * mid + m) * d0 + i) * post;
          std::copy(src, src + post, dst);
        }
      }
    }
  }
  return y;
}

// A batch of GEMMs, recorded as the op `op` (matmul or bmm).
template <class T>
Var<T> batched_product(const char* op, const Var<T>& a, const Var<T>& b, const MatmulDims& d) {
  Array<T> c = detail::empty_array<T>(d.out);
  const std::size_t sa = d.a_batched ? d.m * d.k : 0, sb = d.b_batched ? d.k * d.n : 0;
  for (std::size_t i = 0; i < d.batch; ++i) {
    gemm<T>(false, false, d.m, d.n, d.k, T(1), a.value().data() + i * sa, d.k,
            b.value().data() + i * sb, d.n, T(0), c.data() + i * d.m * d.n, d.n);
  }
  // dA = dC B^T, dB = A^T dC (summed over the batch when B is shared)
  return record<T>(
      op, {a, b}, std::move(c),
      [d](const Context<T>& ctx) {
        const Array<T>& g = ctx.grad_output();
        const Array<T>& av = ctx.input(0);
        const Array<T>& bv = ctx.input(1);
        const std::size_t step_a = d.a_batched ? d.m * d.k : 0,
                          step_b = d.b_batched ? d.k * d.n : 0;
        Grads<T> grads(2);
        if (ctx.needs_grad(0)) {
          Array<T> ga = detail::empty_array<T>(av.shape());
          for (std::size_t i = 0; i < d.batch; ++i) {
            gemm<T>(false, true, d.m, d.k, d.n, T(1), g.data() + i * d.m * d.n, d.n,
                    bv.data() + i * step_b, d.n, T(0), ga.data() + i * d.m * d.k, d.k);
          }
          grads[0] = std::move(ga);
        }
        if (ctx.needs_grad(1)) {
          Array<T> gb = detail::empty_array<T>(bv.shape());
          for (std::size_t i = 0; i < d.batch; ++i) {
            gemm<T>(true, false, d.k, d.n, d.m, T(1), av.data() + i * step_a, d.k,
                    g.data() + i * d.m * d.n, d.n, T(0), gb.data() + i * d.k * d.n, d.n);
          }
          grads[1] = std::move(gb);
        }
        return grads;
      },
      {}, {}, Reads::all_inputs_only());
}

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  detail::check_defined("matmul", {&a, &b});
  return batched_product("matmul", a, b, matmul_dims(a.shape(), b.shape()));
}
TAPEGRAD_OP(matmul);

template <class T>
Var<T> bmm(const Var<T>& a, const Var<T>& b) {
  detail::check_defined("bmm", {&a, &b});
  const Shape& as = a.shape();
  const Shape& bs = b.shape();
  if (as.size() != 3 || bs.size() != 3 || as[0] != bs[0] || as[2] != bs[1]) {
    throw shape_error(
        fmt::format("bmm: expected [b,m,k] x [b,k,n], got {} x {}", shape_str(as), shape_str(bs)));
  }
  return batched_product("bmm", a, b, matmul_dims(as, bs));
}
TAPEGRAD_OP(bmm);

template <class T>
Var<T> transpose(const Var<T>& x) {
  detail::check_defined("transpose", {&x});
  if (x.ndim() != 2) {
    throw shape_error(
        fmt::format("transpose: expected a 2-D value [m,n], got {}", shape_str(x.shape())));
  }
  return transpose(x, 0, 1);
}
TAPEGRAD_OP_OVERLOAD(transpose, Var<T>(const Var<T>&));

template <class T>
Var<T> transpose(const Var<T>& x, int axis0, int axis1) {
  detail::check_defined("transpose", {&x});
  std::size_t a0 = detail::normalize_axis("transpose", axis0, x.shape());
  std::size_t a1 = detail::normalize_axis("transpose", axis1, x.shape());
  if (a0 > a1) std::swap(a0, a1);
  Array<T> y = a0 == a1 ? x.value() : swap_axes(x.value(), a0, a1);
  // the gradient is the output's gradient with the same two axes swapped back
  return record<T>(
      "transpose", {x}, std::move(y),
      [a0, a1](const Context<T>& c) {
        return Grads<T>{a0 == a1 ? c.grad_output() : swap_axes(c.grad_output(), a0, a1)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP_OVERLOAD(transpose, Var<T>(const Var<T>&, int, int));

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight, const Var<T>& bias) {
  detail::check_defined("linear", {&x, &weight});
  const Shape& xs = x.shape();
  const Shape& ws = weight.shape();
  const bool has_bias = bias.defined();
  if (ws.size() != 2 || xs.empty() || xs.back() != ws[1] ||
      (has_bias && (bias.ndim() != 1 || bias.shape()[0] != ws[0]))) {
    throw shape_error(fmt::format(
        "linear: expected x [..., in], weight [out, in], bias [out]; got x {}, weight {}, bias {}",
        shape_str(xs), shape_str(ws), has_bias ? shape_str(bias.shape()) : "none"));
  }
  const std::size_t in = ws[1], out = ws[0], rows = detail::product(xs, 0, xs.size() - 1);
  Shape ys = xs;
  ys.back() = out;
  Array<T> y = detail::empty_array<T>(ys);
  T* yp = y.data();
  bool done = false;
  if constexpr (std::is_same_v<T, float>) {
    // On oneDNN, its matmul adds the bias in its tiles: no pass over y before the product.
    if (has_bias) {
      done = detail::linear_on_onednn(rows, out, in, x.value().data(), weight.value().data(),
                                      bias.value().data(), yp);
    }
  }
  if (!done) {
    if (has_bias) {
      const T* bp = bias.value().data();
      for (std::size_t r = 0; r < rows; ++r) std::copy(bp, bp + out, yp + r * out);
    }
    // y = x W^T (+ b already in y)
    gemm<T>(false, true, rows, out, in, T(1), x.value().data(), in, weight.value().data(), in,
            has_bias ? T(1) : T(0), yp, out);
  }
  std::vector<Var<T>> inputs{x, weight};
  if (has_bias) inputs.push_back(bias);
  // dx = dy W, dW = dy^T x, db = sum over rows of dy
  return record<T>(
      "linear", std::move(inputs), std::move(y),
      [rows, in, out](const Context<T>& c) {
        const Array<T>& g = c.grad_output();
        Grads<T> grads(c.num_inputs());
        if (c.needs_grad(0)) {
          Array<T> gx = detail::empty_array<T>(c.input_shape(0));
          gemm<T>(false, false, rows, in, out, T(1), g.data(), out, c.input(1).data(), in, T(0),
                  gx.data(), in);
          grads[0] = std::move(gx);
        }
        if (c.needs_grad(1)) {
          Array<T> gw = detail::empty_array<T>(c.input_shape(1));
          gemm<T>(true, false, out, in, rows, T(1), g.data(), out, c.input(0).data(), in, T(0),
                  gw.data(), in);
          grads[1] = std::move(gw);
        }
        if (c.num_inputs() == 3 && c.needs_grad(2)) {
          Array<T> gb = detail::zeros_array<T>(c.input_shape(2));
          T* bp = gb.data();
          const T* gp = g.data();
          for (std::size_t r = 0; r < rows; ++r, gp += out) {
            for (std::size_t j = 0; j < out; ++j) bp[j] += gp[j];
          }
          grads[2] = std::move(gb);
        }
        return grads;
      },
      {}, {}, Reads::inputs_only({0, 1}));
}
TAPEGRAD_OP(linear);

}  // namespace tapegrad
