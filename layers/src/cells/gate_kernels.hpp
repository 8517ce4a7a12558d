// The fused steps' gate loops, one row at a time, for one instruction set: the file is compiled
// once per set (gates_base.cpp with the library's own flags, gates_avx512.cpp with AVX-512's),
// each time in a namespace of its own (TAPEGRAD_GATE_ISA), so the two builds share no symbol;
// gates.cpp picks one from the CPU's features when the library first runs a step. Raw loops
// only: no standard-library template is instantiated here that both builds could emit.
//
// The formulas are the sigmoid and tanh ops' (xsimd's); every lane computes the same value in
// either build, as the tests of the fused steps against the composed ones check.
#pragma once

#ifndef TAPEGRAD_GATE_ISA
#error "define TAPEGRAD_GATE_ISA (the namespace of this build) before including gate_kernels.hpp"
#endif

#include <xsimd/xsimd.hpp>

#include <cmath>
#include <cstddef>

#include "gates.hpp"

namespace tapegrad::nn::detail::TAPEGRAD_GATE_ISA {

template <class T>
using Batch = xsimd::batch<T>;

// Calls f(j, V()) for j in [0, n): V = Batch<T> on full batches, then V = T on the tail.
template <class T, class F>
inline void for_lanes(std::size_t n, F&& f) {
  constexpr std::size_t width = Batch<T>::size;
  std::size_t j = 0;
  for (; j + width <= n; j += width) f(j, Batch<T>());
  for (; j < n; ++j) f(j, T());
}

template <class T>
inline T load(const T* p, T) {
  return *p;
}
template <class T>
inline Batch<T> load(const T* p, Batch<T>) {
  return Batch<T>::load_unaligned(p);
}
template <class T>
inline void store(T* p, T v) {
  *p = v;
}
template <class T>
inline void store(T* p, const Batch<T>& v) {
  v.store_unaligned(p);
}

template <class V>
inline V sigmoid_of(const V& x) {
  using std::exp;
  return V(1) / (V(1) + exp(-x));
}
template <class V>
inline V tanh_of(const V& x) {
  using std::tanh;
  return tanh(x);
}

template <class T>
void rnn_tanh_row(const T* p, T* out, std::size_t hidden) {
  for_lanes<T>(hidden, [&](std::size_t j, auto v) { store(out + j, tanh_of(load(p + j, v))); });
}

// Keep: the activations replace the pre-activations in `a`, for backward; else `a` is only read.
template <class T, bool Keep>
void lstm_row(T* a, const T* c_prev, T* h, T* c_next, std::size_t hidden) {
  for_lanes<T>(hidden, [&](std::size_t j, auto v) {
    const auto i = sigmoid_of(load(a + j, v));
    const auto f = sigmoid_of(load(a + hidden + j, v));
    const auto g = tanh_of(load(a + 2 * hidden + j, v));
    const auto o = sigmoid_of(load(a + 3 * hidden + j, v));
    const auto c = f * load(c_prev + j, v) + i * g;
    if constexpr (Keep) {
      store(a + j, i);
      store(a + hidden + j, f);
      store(a + 2 * hidden + j, g);
      store(a + 3 * hidden + j, o);
    }
    store(c_next + j, c);
    store(h + j, o * tanh_of(c));
  });
}

template <class T>
void lstm_backward_row(const T* a, const T* dh_in, const T* dc_in, const T* c_new, const T* c_old,
                       T* dp, T* dc_prev, std::size_t hidden) {
  for_lanes<T>(hidden, [&](std::size_t j, auto v) {
    using V = decltype(v);
    const V i = load(a + j, v), f = load(a + hidden + j, v);
    const V g = load(a + 2 * hidden + j, v), o = load(a + 3 * hidden + j, v);
    const V dh = load(dh_in + j, v);
    const V tc = tanh_of(load(c_new + j, v));
    const V dc = load(dc_in + j, v) + dh * o * (V(1) - tc * tc);
    store(dp + j, dc * g * i * (V(1) - i));
    store(dp + hidden + j, dc * load(c_old + j, v) * f * (V(1) - f));
    store(dp + 2 * hidden + j, dc * i * (V(1) - g * g));
    store(dp + 3 * hidden + j, dh * tc * o * (V(1) - o));
    store(dc_prev + j, dc * f);
  });
}

// Keep: r, z, n replace the pre-activations in x, and hn_row gets h W_hn^T + b_hn, for
// backward; else x is only read and hn_row is unused.
template <class T, bool Keep>
void gru_row(T* x, const T* hh, const T* h_row, T* hn_row, T* h_next, std::size_t hidden) {
  for_lanes<T>(hidden, [&](std::size_t j, auto v) {
    using V = decltype(v);
    const V r = sigmoid_of(load(x + j, v) + load(hh + j, v));
    const V z = sigmoid_of(load(x + hidden + j, v) + load(hh + hidden + j, v));
    const V hn = load(hh + 2 * hidden + j, v);
    const V nn = tanh_of(load(x + 2 * hidden + j, v) + r * hn);
    if constexpr (Keep) {
      store(x + j, r);
      store(x + hidden + j, z);
      store(x + 2 * hidden + j, nn);
      store(hn_row + j, hn);
    }
    store(h_next + j, (V(1) - z) * nn + z * load(h_row + j, v));
  });
}

template <class T>
void gru_backward_row(const T* a, const T* hn_row, const T* dy_row, const T* h_row, T* dx, T* dhh,
                      T* dh, std::size_t hidden) {
  for_lanes<T>(hidden, [&](std::size_t j, auto v) {
    using V = decltype(v);
    const V r = load(a + j, v), z = load(a + hidden + j, v);
    const V nn = load(a + 2 * hidden + j, v), hn = load(hn_row + j, v);
    const V dy = load(dy_row + j, v);
    const V dn = dy * (V(1) - z) * (V(1) - nn * nn);  // d(pre-activation of n)
    const V dr = dn * hn * r * (V(1) - r);
    const V dz = dy * (load(h_row + j, v) - nn) * z * (V(1) - z);
    store(dx + j, dr);
    store(dx + hidden + j, dz);
    store(dx + 2 * hidden + j, dn);
    store(dhh + j, dr);
    store(dhh + hidden + j, dz);
    store(dhh + 2 * hidden + j, dn * r);
    store(dh + j, dy * z);
  });
}

template <class T>
GateKernels<T> kernels() {
  return {&rnn_tanh_row<T>,  &lstm_row<T, true>, &lstm_row<T, false>, &lstm_backward_row<T>,
          &gru_row<T, true>, &gru_row<T, false>, &gru_backward_row<T>};
}

}  // namespace tapegrad::nn::detail::TAPEGRAD_GATE_ISA
