/// @file
/// The differentiable primitive ops. Each records one tape entry with its backward rule.
/// Elementwise ops broadcast as NumPy does; a bad shape or value throws shape_error /
/// value_error naming the op and every shape, before any work is done.
#pragma once

#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

namespace detail {
template <class T>
struct identity {
  using type = T;
};
}  // namespace detail

/// A scalar argument that converts to the Var's scalar type (so `x * 2.0` works for floats).
template <class T>
using Scalar = typename detail::identity<T>::type;

// ---- elementwise, binary (broadcasting) ----

/// z = a + b. Shapes: broadcast(a, b).
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b);
/// z = a - b. Shapes: broadcast(a, b).
template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b);
/// z = a * b. Shapes: broadcast(a, b).
template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b);
/// z = a / b. Shapes: broadcast(a, b). dz/db = -a / b^2.
template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b);

// ---- elementwise with a scalar ----

/// z = a + s. Shapes: any -> same.
template <class T>
Var<T> add_scalar(const Var<T>& a, Scalar<T> s);
/// z = a * s. Shapes: any -> same.
template <class T>
Var<T> mul_scalar(const Var<T>& a, Scalar<T> s);
/// z = s - a. Shapes: any -> same.
template <class T>
Var<T> rsub_scalar(const Var<T>& a, Scalar<T> s);
/// z = s / a. Shapes: any -> same. dz/da = -s / a^2.
template <class T>
Var<T> rdiv_scalar(const Var<T>& a, Scalar<T> s);

// ---- elementwise, unary ----

/// y = -x. Shapes: any -> same.
template <class T>
Var<T> neg(const Var<T>& x);
/// y = exp(x). Shapes: any -> same. dy/dx = y.
template <class T>
Var<T> exp(const Var<T>& x);
/// y = log(x), natural; log(0) = -inf. Shapes: any -> same. dy/dx = 1/x.
template <class T>
Var<T> log(const Var<T>& x);
/// y = tanh(x). Shapes: any -> same. dy/dx = 1 - y^2.
template <class T>
Var<T> tanh(const Var<T>& x);
/// y = 1 / (1 + exp(-x)), finite for any finite x. Shapes: any -> same. dy/dx = y (1 - y).
template <class T>
Var<T> sigmoid(const Var<T>& x);
/// y = max(x, 0). Shapes: any -> same. dy/dx = 1 where x > 0, else 0.
template <class T>
Var<T> relu(const Var<T>& x);
/// y = x^p for a scalar exponent p. Shapes: any -> same. dy/dx = p x^(p-1).
template <class T>
Var<T> pow(const Var<T>& x, Scalar<T> p);
/// y = sqrt(x). Shapes: any -> same. dy/dx = 1 / (2 y).
template <class T>
Var<T> sqrt(const Var<T>& x);
/// y = min(max(x, lo), hi); lo <= hi. Shapes: any -> same. dy/dx = 1 where lo <= x <= hi.
template <class T>
Var<T> clamp(const Var<T>& x, Scalar<T> lo, Scalar<T> hi);
/// z = condition ? a : b, elementwise. All three broadcast together as NumPy's where does:
/// condition, a and b may each have any shape that broadcasts to the output's (a [B, 1] mask
/// with [B, H] values, a scalar b, a condition of higher rank than a and b, or of lower).
/// Shapes: broadcast(condition, a, b); shapes that do not broadcast are a shape_error naming
/// them. The condition is a bool array, not differentiated; the gradient flows to the
/// chosen side only, summed over the axes a or b was broadcast along.
/// Its arguments are by value so that an unqualified `where(mask, a, b)` with Vars picks it
/// over xt::where (forwarding references, found by lookup in the mask's namespace); for
/// arrays a and b it is no candidate, and xt::where is chosen.
template <class T>
Var<T> where(xt::xarray<bool> condition, Var<T> a, Var<T> b);
/// where with a condition of any boolean xtensor expression (`where(x.value() > 0.0f, a, b)`).
template <class C, class T,
          class = std::enable_if_t<xt::is_xexpression<std::decay_t<C>>::value &&
                                   std::is_same_v<typename std::decay_t<C>::value_type, bool> &&
                                   !std::is_same_v<std::decay_t<C>, xt::xarray<bool>>>>
Var<T> where(C&& condition, Var<T> a, Var<T> b) {
  // where<T>: C = T is no expression, so this names the op above
  return tapegrad::where<T>(xt::xarray<bool>(std::forward<C>(condition)), std::move(a),
                            std::move(b));
}

/// y = mask ? value : x, elementwise (PyTorch's masked_fill: true marks the elements to fill,
/// as a padding mask does). The mask is a bool array that broadcasts to x's shape (a [B, 1, S]
/// key padding mask with [B, T, S] scores); the output has x's shape. A mask that does not
/// broadcast to it is a shape_error. dy/dx = 1 where the mask is false, 0 where it is true.
template <class T>
Var<T> masked_fill(const Var<T>& x, const xt::xarray<bool>& mask, Scalar<T> value);

// ---- linear algebra ----

/// c = a b. Shapes: [m,k] x [k,n] -> [m,n]; [b,m,k] x [b,k,n] -> [b,m,n];
/// [b,m,k] x [k,n] -> [b,m,n]; [k] x [k,n] -> [n]; [m,k] x [k] -> [m].
template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b);
/// The batched matrix product of PyTorch's bmm: c[i] = a[i] b[i] for every i of the leading
/// batch axis. Shapes: [b,m,k] x [b,k,n] -> [b,m,n] only (no broadcasting; matmul takes the
/// other forms). Anything else is a shape_error naming both shapes.
template <class T>
Var<T> bmm(const Var<T>& a, const Var<T>& b);
/// y = x^T. Shapes: [m,n] -> [n,m].
template <class T>
Var<T> transpose(const Var<T>& x);
/// Swaps two axes. Shapes: [..., d0, ..., d1, ...] -> [..., d1, ..., d0, ...]. Either axis
/// may be negative, counting from the end: transpose(x, -1, -2) swaps the last two.
template <class T>
Var<T> transpose(const Var<T>& x, int axis0, int axis1);
/// y = x W^T + b (PyTorch's linear; W^T is never materialised). Shapes: x [..., in],
/// W [out, in], b [out] or undefined -> [..., out].
template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& weight, const Var<T>& bias = Var<T>());

// ---- shape ----

/// Same values, new shape with the same number of elements. Every size is given (no -1 to
/// infer one: a Shape is unsigned).
template <class T>
Var<T> reshape(const Var<T>& x, const Shape& shape);
/// y = x[..., start : start + length, ...] along `axis` (negative: from the end, -1 the last).
/// Shapes: d_axis -> length.
template <class T>
Var<T> narrow(const Var<T>& x, int axis, std::size_t start, std::size_t length);
/// PyTorch's unsqueeze: a new axis of size 1 at `axis` of the output, in [-(rank + 1), rank]
/// (-1: last). Shapes: [..] -> [.., 1, ..]. A reshape on the tape.
template <class T>
Var<T> unsqueeze(const Var<T>& x, int axis);
/// PyTorch's squeeze(dim): drops `axis` (negative: from the end) when its size is 1, and is x
/// itself otherwise, as in PyTorch. Shapes: [.., 1, ..] -> [.., ..]. A reshape on the tape.
template <class T>
Var<T> squeeze(const Var<T>& x, int axis);
/// y = x[..., index, ...] along `axis` (negative: from the end), which is dropped.
/// Shapes: [.., d, ..] -> [.., ..]. `index` itself is not negative.
template <class T>
Var<T> select(const Var<T>& x, int axis, std::size_t index);
/// Splits `axis` (negative: from the end) into `chunks` equal parts (d_axis must divide
/// evenly).
template <class T>
std::vector<Var<T>> chunk(const Var<T>& x, std::size_t chunks, int axis);
/// Joins along an existing axis (negative: from the end, in [-rank, rank)); all other sizes
/// must agree.
template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int axis);
/// Joins along a new axis; all shapes must agree. Shapes: n x [s] -> [.., n, ..]. The axis is
/// one of the output's, so it is in [-(rank + 1), rank]: -1 makes the new axis the last.
template <class T>
Var<T> stack(const std::vector<Var<T>>& xs, int axis);
/// y[k] = xs[k][index]: one index of the first axis of each input, stacked, in one copy (the
/// h halves of LSTM states [2, B, H] as a sequence [T, B, H]). Shapes: T inputs of equal shape
/// [S, ...] -> [T, ...].
template <class T>
Var<T> stack_index(const std::vector<Var<T>>& xs, std::size_t index);
/// y[i..., :] = table[ids[i...], :] (an embedding lookup). Shapes: table [n, d], ids [s...]
/// -> [s..., d]. Backward scatter-adds rows; rows whose id equals `padding_idx` (when >= 0)
/// get no gradient. An id outside [0, n) is a value_error.
template <class T>
Var<T> index_rows(const Var<T>& table, const IndexArray& ids, Index padding_idx = -1);

/// y[i][j][k] = x[index[i][j][k]][j][k] for axis 0, and so on for any axis (PyTorch's
/// gather). `index` has x's rank; along every other axis its size is at most x's; each entry
/// is in [0, x.size(axis)) (a value_error naming the entry otherwise). Shapes: x [.., n, ..],
/// index [.., m, ..] -> index's shape. Backward scatter-adds: an element gathered twice gets
/// both gradients.
template <class T>
Var<T> gather(const Var<T>& x, int axis, const IndexArray& index);

/// @{
/// concat / stack of a braced list: `concat({a, b}, 1)`, `stack({h1, h2}, 0)`.
template <class T>
Var<T> concat(std::initializer_list<Var<T>> xs, int axis) {
  return concat(std::vector<Var<T>>(xs), axis);
}
template <class T>
Var<T> stack(std::initializer_list<Var<T>> xs, int axis) {
  return stack(std::vector<Var<T>>(xs), axis);
}
/// @}

// ---- reductions ----

/// y = sum of all elements. Shapes: any -> [].
template <class T>
Var<T> sum(const Var<T>& x);
/// Sum along `axis`. Shapes: [.., d, ..] -> [.., ..] (or [.., 1, ..] with keepdims).
/// Every `axis` of the ops here may be negative, counting from the end as in NumPy and
/// PyTorch (-1 the last axis, -rank the first); one outside [-rank, rank) is a shape_error
/// naming the op, the axis and the shape.
template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdims = false);
/// y = mean of all elements. Shapes: any -> [].
template <class T>
Var<T> mean(const Var<T>& x);
/// Mean along `axis` (negative: from the end). Shapes as sum(x, axis, keepdims).
template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdims = false);
/// y = max of all elements; the gradient is shared evenly among tied maxima. Shapes: any -> [].
template <class T>
Var<T> max(const Var<T>& x);
/// Max along `axis` (negative: from the end); the gradient goes to the first maximal element.
/// Shapes as sum(x, axis).
template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdims = false);
/// y = log(sum(exp(x))) along `axis` (negative: from the end), max-shifted. Shapes as
/// sum(x, axis, keepdims).
/// dy/dx = softmax(x).
template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdims = false);

// ---- selection on values (not differentiated, except topk's values) ----

/// The index of the largest element along `axis` (negative: from the end); the first one when
/// several are equal, and the first NaN if there is one (NaN counts as the largest, as in
/// PyTorch). Shapes: [.., n, ..] -> [.., ..] (or [.., 1, ..] with keepdims); n must be > 0.
template <class T>
IndexArray argmax(const Var<T>& x, int axis, bool keepdims = false);

/// What topk returns: the k values (a Var, differentiable through gather) and their indices.
template <class T>
struct TopK {
  Var<T> values;       ///< [.., k, ..]: x's elements at `indices` (largest first by default)
  IndexArray indices;  ///< [.., k, ..]: their positions along the axis
};
/// The k largest (or, with largest = false, smallest) elements along `axis` (negative: from the
/// end), as PyTorch's topk: sorted from the largest (smallest) on; among equal values the lower
/// index first; NaN counts as larger than any number. k in [0, n] (a value_error otherwise).
/// Shapes: [.., n, ..] -> [.., k, ..]. The gradient of values flows to the selected elements.
template <class T>
TopK<T> topk(const Var<T>& x, std::size_t k, int axis = -1, bool largest = true);

// ---- operators ----

/// @{
/// a + b, a - b, a * b, a / b of two Vars: add, sub, mul, div. Shapes: broadcast(a, b).
template <class T>
Var<T> operator+(const Var<T>& a, const Var<T>& b) {
  return add(a, b);
}
template <class T>
Var<T> operator-(const Var<T>& a, const Var<T>& b) {
  return sub(a, b);
}
template <class T>
Var<T> operator*(const Var<T>& a, const Var<T>& b) {
  return mul(a, b);
}
template <class T>
Var<T> operator/(const Var<T>& a, const Var<T>& b) {
  return div(a, b);
}
/// @}
/// -x: neg(x).
template <class T>
Var<T> operator-(const Var<T>& x) {
  return neg(x);
}

/// @{
/// A Var with a number on either side: x + s, s + x, x - s (add_scalar), s - x (rsub_scalar),
/// x * s, s * x, x / s (mul_scalar by 1 / s), s / x (rdiv_scalar). The number, of any
/// arithmetic type, is cast to T first: `x * 2` and `0.5 * x` for a Var<float>. Shapes: any ->
/// same.
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator+(const Var<T>& a, S s) {
  return add_scalar(a, static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator+(S s, const Var<T>& a) {
  return add_scalar(a, static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator-(const Var<T>& a, S s) {
  return add_scalar(a, -static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator-(S s, const Var<T>& a) {
  return rsub_scalar(a, static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator*(const Var<T>& a, S s) {
  return mul_scalar(a, static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator*(S s, const Var<T>& a) {
  return mul_scalar(a, static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator/(const Var<T>& a, S s) {
  return mul_scalar(a, T(1) / static_cast<T>(s));
}
template <class T, class S, class = std::enable_if_t<std::is_arithmetic_v<S>>>
Var<T> operator/(S s, const Var<T>& a) {
  return rdiv_scalar(a, static_cast<T>(s));
}
/// @}

// A Var with an array (any xtensor expression) is the op with the array as a constant, cast to
// the Var's scalar type and broadcast as NumPy does: `w * mask` is a Var, as in PyTorch. Without
// these, xtensor's own operators would take the Var for a scalar and build an xtensor expression
// of Vars. The Var is taken by value so that these beat xtensor's forwarding-reference operators
// for temporaries too.
namespace detail {
template <class E>
using if_array_t = std::enable_if_t<xt::is_xexpression<std::decay_t<E>>::value>;
template <class T, class E>
Var<T> constant_of(E&& e) {
  return Var<T>(Array<T>(std::forward<E>(e)));
}
}  // namespace detail

/// @{
/// A Var with an array (any xtensor expression) on either side of + - * /: add, sub, mul or
/// div with the array as a constant (no gradient), cast to T: `w * mask` is a Var. Shapes:
/// broadcast(a, e).
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator+(Var<T> a, E&& e) {
  return add(a, detail::constant_of<T>(std::forward<E>(e)));
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator+(E&& e, Var<T> a) {
  return add(detail::constant_of<T>(std::forward<E>(e)), a);
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator-(Var<T> a, E&& e) {
  return sub(a, detail::constant_of<T>(std::forward<E>(e)));
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator-(E&& e, Var<T> a) {
  return sub(detail::constant_of<T>(std::forward<E>(e)), a);
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator*(Var<T> a, E&& e) {
  return mul(a, detail::constant_of<T>(std::forward<E>(e)));
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator*(E&& e, Var<T> a) {
  return mul(detail::constant_of<T>(std::forward<E>(e)), a);
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator/(Var<T> a, E&& e) {
  return div(a, detail::constant_of<T>(std::forward<E>(e)));
}
template <class T, class E, class = detail::if_array_t<E>>
Var<T> operator/(E&& e, Var<T> a) {
  return div(detail::constant_of<T>(std::forward<E>(e)), a);
}
/// @}

}  // namespace tapegrad
