// Gradient accumulation: sum broadcast axes back, add blocks in place, gather outer products.
#include <algorithm>
#include <vector>

#include "engine_detail.hpp"
#include "gemm.hpp"
#include "parallel.hpp"

namespace tapegrad::detail {

namespace {

// Sums the axes of `g` that `target` was broadcast along, giving an array of shape `target`.
template <class T>
Array<T> unbroadcast(const Array<T>& g, const Shape& target, const std::string& op, std::size_t k) {
  const Shape& gs = g.shape();
  const auto fail = [&] {
    return shape_error(fmt::format(
        "backward of '{}': the gradient for input {} has shape {}, which does not match or "
        "reduce to the input's shape {}",
        op, k, shape_str(gs), shape_str(target)));
  };
  if (gs.size() < target.size()) throw fail();
  const std::size_t lead = gs.size() - target.size();
  bool only_leading = true;
  for (std::size_t j = 0; j < target.size(); ++j) {
    if (target[j] != gs[lead + j]) {
      if (target[j] != 1) throw fail();
      only_leading = false;
    }
  }
  Array<T> out = zeros_array<T>(target);
  if (only_leading) {
    // g is [rows, target...]: add the rows.
    const std::size_t inner = out.size();
    const std::size_t rows = inner == 0 ? 0 : g.size() / inner;
    T* o = out.data();
    const T* src = g.data();
    for (std::size_t r = 0; r < rows; ++r, src += inner) {
      for (std::size_t i = 0; i < inner; ++i) o[i] += src[i];
    }
    return out;
  }
  // General case: walk g, mapping each element to its place in the (padded) target.
  std::vector<std::size_t> strides(gs.size(), 0);
  std::size_t stride = 1;
  for (std::size_t j = target.size(); j-- > 0;) {
    strides[lead + j] = target[j] == 1 ? 0 : stride;
    stride *= target[j];
  }
  std::vector<std::size_t> idx(gs.size(), 0);
  T* o = out.data();
  std::size_t pos = 0;
  for (const T& v : g) {
    o[pos] += v;
    for (std::size_t d = gs.size(); d-- > 0;) {
      ++idx[d];
      pos += strides[d];
      if (idx[d] < gs[d]) break;
      pos -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

template <class T>
void add_into(Array<T>& dst, const Array<T>& src) {
  T* d = dst.data();
  const T* s = src.data();
  const std::size_t n = dst.size();
  for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
}

// Adds a block gradient into node.grad (allocated as zeros if absent).
template <class T>
void accumulate_block(Node<T>& node, const Grad<T>& g, const std::string& op, std::size_t k) {
  const Shape& shape = node.shape();
  const Shape& bs = g.value().shape();
  const bool is_index = g.kind() == Grad<T>::Kind::index;
  const std::size_t axis = g.axis();
  bool ok = axis < shape.size() && bs.size() + (is_index ? 1 : 0) == shape.size();
  std::size_t length = 1;
  if (ok) {
    for (std::size_t d = 0, b = 0; d < shape.size(); ++d) {
      if (d == axis) {
        if (!is_index) length = bs[b++];
        continue;
      }
      if (bs[b++] != shape[d]) ok = false;
    }
    ok = ok && g.start() + length <= shape[axis];
  }
  if (!ok) {
    throw shape_error(fmt::format(
        "backward of '{}': the gradient block for input {} has shape {} at axis {}, start {}, "
        "which does not fit the input's shape {}",
        op, k, shape_str(bs), axis, g.start(), shape_str(shape)));
  }
  if (!node.has_grad) {
    node.grad = empty_array<T>(shape);
    parallel_fill(node.grad->data(), node.grad->size(), T(0));
    node.has_grad = true;
  }
  const Lanes l = lanes(shape, axis);
  const std::size_t chunk = length * l.inner;
  const T* src = g.value().data();
  for (std::size_t o = 0; o < l.outer; ++o, src += chunk) {
    T* dst = node.grad->data() + (o * l.n + g.start()) * l.inner;
    for (std::size_t i = 0; i < chunk; ++i) dst[i] += src[i];
  }
}

// Keeps the factors of an outer gradient a^T b for settle(), which runs once they hold
// kGatherRows rows (a GEMM with k = 512 runs near OpenBLAS's peak, and memory stays bounded)
// or when the node's gradient is complete.
constexpr std::size_t kGatherRows = 512;

template <class T>
void accumulate_outer(Node<T>& node, Grad<T>&& g, const std::string& op, std::size_t k) {
  const Shape& shape = node.shape();
  const Shape& as = g.value().shape();
  const Shape& bs = g.other().shape();
  if (shape.size() != 2 || as.size() != 2 || bs.size() != 2 || as[0] != bs[0] ||
      as[1] != shape[0] || bs[1] != shape[1]) {
    throw shape_error(fmt::format(
        "backward of '{}': the outer gradient a^T b for input {} has a {} and b {}, which do "
        "not give the input's shape {}",
        op, k, shape_str(as), shape_str(bs), shape_str(shape)));
  }
  node.pending.emplace_back(std::move(g.value()), std::move(g.other()));
  std::size_t rows = 0;
  for (const auto& p : node.pending) rows += p.first.shape()[0];
  if (rows >= kGatherRows) settle(node);
}

}  // namespace

// Adds the pending outer gradients of `node` into its gradient: one GEMM over all their rows.
template <class T>
void settle(Node<T>& node) {
  if (node.pending.empty()) return;
  const std::size_t m = node.shape()[0], n = node.shape()[1];
  const bool had = node.has_grad;
  if (!had) {
    node.grad = empty_array<T>(node.shape());
    node.has_grad = true;
  }
  const T beta = had ? T(1) : T(0);
  T* c = node.grad->data();
  if (node.pending.size() == 1) {
    const auto& [a, b] = node.pending.front();
    gemm<T>(true, false, m, n, a.shape()[0], T(1), a.data(), m, b.data(), n, beta, c, n);
  } else {
    std::size_t rows = 0;
    for (const auto& p : node.pending) rows += p.first.shape()[0];
    Array<T> a = empty_array<T>({rows, m});
    Array<T> b = empty_array<T>({rows, n});
    // Each piece's rows go to their place, the pieces shared among the library's threads.
    std::vector<std::size_t> at(node.pending.size() + 1, 0);
    for (std::size_t i = 0; i < node.pending.size(); ++i) {
      at[i + 1] = at[i] + node.pending[i].first.shape()[0];
    }
    parallel_for(node.pending.size(), rows * (m + n) * sizeof(T), [&](std::size_t i) {
      auto& p = node.pending[i];
      std::copy(p.first.data(), p.first.data() + p.first.size(), a.data() + at[i] * m);
      std::copy(p.second.data(), p.second.data() + p.second.size(), b.data() + at[i] * n);
    });
    gemm<T>(true, false, m, n, rows, T(1), a.data(), m, b.data(), n, beta, c, n);
  }
  node.pending.clear();
}

template <class T>
void accumulate(Node<T>& node, Grad<T>&& g, const std::string& op, std::size_t k) {
  if (g.kind() == Grad<T>::Kind::outer) {
    accumulate_outer(node, std::move(g), op, k);
    return;
  }
  if (g.kind() == Grad<T>::Kind::block || g.kind() == Grad<T>::Kind::index) {
    accumulate_block(node, g, op, k);
    return;
  }
  Array<T>& v = g.value();
  if (v.shape() != node.shape()) v = unbroadcast(v, node.shape(), op, k);
  if (!node.has_grad) {
    node.grad = std::move(v);
    node.has_grad = true;
  } else {
    add_into(*node.grad, v);
  }
}

#define TAPEGRAD_INSTANTIATE(T)                                                      \
  template void accumulate<T>(Node<T>&, Grad<T>&&, const std::string&, std::size_t); \
  template void settle<T>(Node<T>&);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad::detail
