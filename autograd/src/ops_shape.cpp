// Shape ops: reshape, narrow, select, chunk, concat, stack, stack_index, index_rows.
// Slicing ops return block gradients, so backward never builds a full-size array per slice.
#include <algorithm>

#include "detail.hpp"
#include "parallel.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/autograd/ops.hpp"

namespace tapegrad {

using detail::check_defined;

namespace {

// Copies the block [start, start + length) along the axis of x (seen as [outer, n, inner]).
template <class T>
Array<T> copy_block(const Array<T>& x, const detail::Lanes& l, std::size_t start,
                    std::size_t length, const Shape& out_shape) {
  Array<T> y = detail::empty_array<T>(out_shape);
  const std::size_t chunk = length * l.inner;
  T* dst = y.data();
  for (std::size_t o = 0; o < l.outer; ++o, dst += chunk) {
    const T* src = x.data() + (o * l.n + start) * l.inner;
    std::copy(src, src + chunk, dst);
  }
  return y;
}

}  // namespace

template <class T>
Var<T> reshape(const Var<T>& x, const Shape& shape) {
  check_defined("reshape", {&x});
  if (shape_size(shape) != x.size()) {
    throw shape_error(fmt::format("reshape: cannot reshape {} ({} elements) to {} ({} elements)",
                                  shape_str(x.shape()), x.size(), shape_str(shape),
                                  shape_size(shape)));
  }
  Array<T> y = x.value();
  y.reshape(shape);
  return record<T>(
      "reshape", {x}, std::move(y),
      [](const Context<T>& c) {
        Array<T> g = c.grad_output();  // same elements, the input's shape
        g.reshape(c.input_shape(0));
        return Grads<T>{std::move(g)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(reshape);

template <class T>
Var<T> unsqueeze(const Var<T>& x, int axis) {
  check_defined("unsqueeze", {&x});
  const auto rank = static_cast<int>(x.ndim());
  if (axis < -(rank + 1) || axis > rank) {
    throw shape_error(
        fmt::format("unsqueeze: axis {} is out of range for shape {} (a new axis "
                    "goes at [{}, {}])",
                    axis, shape_str(x.shape()), -(rank + 1), rank));
  }
  const auto at = static_cast<std::size_t>(axis < 0 ? axis + rank + 1 : axis);
  Shape s(x.ndim() + 1, 1);  // built, not inserted: svector::insert trips GCC's -Warray-bounds
  for (std::size_t d = 0; d < x.ndim(); ++d) s[d < at ? d : d + 1] = x.shape()[d];
  return reshape(x, s);
}
template Var<float> unsqueeze<float>(const Var<float>&, int);
template Var<double> unsqueeze<double>(const Var<double>&, int);

template <class T>
Var<T> squeeze(const Var<T>& x, int axis) {
  check_defined("squeeze", {&x});
  const std::size_t ax = detail::normalize_axis("squeeze", axis, x.shape());
  if (x.shape()[ax] != 1) return x;
  Shape s(x.ndim() - 1, 1);
  for (std::size_t d = 0; d < s.size(); ++d) s[d] = x.shape()[d < ax ? d : d + 1];
  return reshape(x, s);
}
template Var<float> squeeze<float>(const Var<float>&, int);
template Var<double> squeeze<double>(const Var<double>&, int);

template <class T>
Var<T> narrow(const Var<T>& x, int axis, std::size_t start, std::size_t length) {
  check_defined("narrow", {&x});
  const std::size_t ax = detail::normalize_axis("narrow", axis, x.shape());
  if (start > x.shape()[ax] || length > x.shape()[ax] - start) {
    throw shape_error(fmt::format("narrow: start {} + length {} exceeds size {} of axis {} of {}",
                                  start, length, x.shape()[ax], axis, shape_str(x.shape())));
  }
  Shape ys = x.shape();
  ys[ax] = length;
  Array<T> y = copy_block(x.value(), detail::lanes(x.shape(), ax), start, length, ys);
  // the gradient of the block is the output's gradient; zero elsewhere
  return record<T>(
      "narrow", {x}, std::move(y),
      [ax, start](const Context<T>& c) {
        return Grads<T>{Grad<T>::block(c.grad_output(), ax, start)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(narrow);

template <class T>
Var<T> select(const Var<T>& x, int axis, std::size_t index) {
  check_defined("select", {&x});
  const std::size_t ax = detail::normalize_axis("select", axis, x.shape());
  if (index >= x.shape()[ax]) {
    throw shape_error(fmt::format("select: index {} is out of range for axis {} of {}", index, axis,
                                  shape_str(x.shape())));
  }
  Array<T> y = copy_block(x.value(), detail::lanes(x.shape(), ax), index, 1,
                          detail::reduced_shape(x.shape(), ax, false));
  return record<T>(
      "select", {x}, std::move(y),
      [ax, index](const Context<T>& c) {
        return Grads<T>{Grad<T>::at(c.grad_output(), ax, index)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(select);

template <class T>
std::vector<Var<T>> chunk(const Var<T>& x, std::size_t chunks, int axis) {
  check_defined("chunk", {&x});
  const std::size_t ax = detail::normalize_axis("chunk", axis, x.shape());
  if (chunks == 0 || x.shape()[ax] % chunks != 0) {
    throw shape_error(
        fmt::format("chunk: axis {} of {} (size {}) does not split into {} equal chunks", axis,
                    shape_str(x.shape()), x.shape()[ax], chunks));
  }
  const std::size_t len = x.shape()[ax] / chunks;
  std::vector<Var<T>> parts;
  parts.reserve(chunks);
  for (std::size_t i = 0; i < chunks; ++i) parts.push_back(narrow(x, axis, i * len, len));
  return parts;
}
TAPEGRAD_OP(chunk);

template <class T>
Var<T> concat(const std::vector<Var<T>>& xs, int axis) {
  if (xs.empty()) throw value_error("concat: no inputs");
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined()) throw usage_error(fmt::format("concat: input {} is an empty Var", i));
  }
  const Shape& s0 = xs[0].shape();
  const std::size_t ax = detail::normalize_axis("concat", axis, s0);
  Shape ys = s0;
  ys[ax] = 0;
  std::vector<std::size_t> starts;
  for (const auto& v : xs) {
    const Shape& s = v.shape();
    bool ok = s.size() == s0.size();
    for (std::size_t d = 0; ok && d < s.size(); ++d) ok = d == ax || s[d] == s0[d];
    if (!ok) {
      std::vector<std::string> shapes;
      shapes.reserve(xs.size());
      for (const auto& w : xs) shapes.push_back(shape_str(w.shape()));
      throw shape_error(
          fmt::format("concat: shapes {} differ outside axis {}", fmt::join(shapes, ", "), axis));
    }
    starts.push_back(ys[ax]);
    ys[ax] += s[ax];
  }
  Array<T> y = detail::empty_array<T>(ys);
  const detail::Lanes out = detail::lanes(ys, ax);
  for (std::size_t i = 0; i < xs.size(); ++i) {
    const detail::Lanes l = detail::lanes(xs[i].shape(), ax);
    const std::size_t chunk = l.n * l.inner;
    const T* src = xs[i].value().data();
    for (std::size_t o = 0; o < l.outer; ++o, src += chunk) {
      std::copy(src, src + chunk, y.data() + (o * out.n + starts[i]) * out.inner);
    }
  }
  // each input's gradient is its block of the output's gradient
  return record<T>(
      "concat", xs, std::move(y),
      [ax, starts](const Context<T>& c) {
        const Array<T>& g = c.grad_output();
        const detail::Lanes lg = detail::lanes(g.shape(), ax);
        Grads<T> grads(c.num_inputs());
        for (std::size_t i = 0; i < c.num_inputs(); ++i) {
          if (!c.needs_grad(i)) continue;
          const Shape& s = c.input_shape(i);
          grads[i] = copy_block(g, lg, starts[i], s[ax], s);
        }
        return grads;
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP_OVERLOAD(concat, Var<T>(const std::vector<Var<T>>&, int));

template <class T>
Var<T> stack(const std::vector<Var<T>>& xs, int axis) {
  if (xs.empty()) throw value_error("stack: no inputs");
  for (std::size_t i = 0; i < xs.size(); ++i) {
    if (!xs[i].defined()) throw usage_error(fmt::format("stack: input {} is an empty Var", i));
  }
  const Shape& s0 = xs[0].shape();
  for (const auto& v : xs) {
    if (v.shape() != s0) {
      std::vector<std::string> shapes;
      shapes.reserve(xs.size());
      for (const auto& w : xs) shapes.push_back(shape_str(w.shape()));
      throw shape_error(fmt::format("stack: shapes differ: {}", fmt::join(shapes, ", ")));
    }
  }
  const auto ndim = static_cast<int>(s0.size());
  if (axis < -(ndim + 1) || axis > ndim) {
    throw shape_error(
        fmt::format("stack: axis {} is out of range for stacking inputs of shape {} "
                    "(valid: {} to {})",
                    axis, shape_str(s0), -(ndim + 1), ndim));
  }
  const auto ax = static_cast<std::size_t>(axis < 0 ? axis + ndim + 1 : axis);
  Shape ys(s0.size() + 1, 0);
  for (std::size_t d = 0, k = 0; d < ys.size(); ++d) ys[d] = d == ax ? xs.size() : s0[k++];
  Array<T> y = detail::empty_array<T>(ys);
  const detail::Lanes out = detail::lanes(ys, ax);
  // The inputs shared among the library's threads when the copy is large.
  detail::parallel_for(xs.size(), y.size() * sizeof(T), [&](std::size_t i) {
    const T* src = xs[i].value().data();
    for (std::size_t o = 0; o < out.outer; ++o, src += out.inner) {
      std::copy(src, src + out.inner, y.data() + (o * out.n + i) * out.inner);
    }
  });
  // each input's gradient is its slice of the output's gradient
  return record<T>(
      "stack", xs, std::move(y),
      [ax](const Context<T>& c) {
        const Array<T>& g = c.grad_output();
        const detail::Lanes lg = detail::lanes(g.shape(), ax);
        Grads<T> grads(c.num_inputs());
        for (std::size_t i = 0; i < c.num_inputs(); ++i) {
          if (c.needs_grad(i)) grads[i] = copy_block(g, lg, i, 1, c.input_shape(i));
        }
        return grads;
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP_OVERLOAD(stack, Var<T>(const std::vector<Var<T>>&, int));

template <class T>
Var<T> index_rows(const Var<T>& table, const IndexArray& ids, Index padding_idx) {
  check_defined("index_rows", {&table});
  if (table.ndim() != 2) {
    throw shape_error(
        fmt::format("index_rows: expected a table [n, d], got {}", shape_str(table.shape())));
  }
  const std::size_t n = table.shape()[0], dim = table.shape()[1];
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Index id = ids.data()[i];
    if (id < 0 || static_cast<std::size_t>(id) >= n) {
      throw value_error(
          fmt::format("index_rows: id {} (at flat position {} of ids {}) is out of range for a "
                      "table of {} rows",
                      id, i, shape_str(ids.shape()), n));
    }
  }
  if (padding_idx >= 0 && static_cast<std::size_t>(padding_idx) >= n) {
    throw value_error(fmt::format(
        "index_rows: padding_idx {} is out of range for a table of {} rows", padding_idx, n));
  }
  Shape ys(ids.shape().begin(), ids.shape().end());
  ys.push_back(dim);
  Array<T> y = detail::empty_array<T>(ys);
  const T* tp = table.value().data();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const T* row = tp + static_cast<std::size_t>(ids.data()[i]) * dim;
    std::copy(row, row + dim, y.data() + i * dim);
  }
  // d table[id] += dy[i] for every position i holding id (scatter-add), except padding_idx
  return record<T>(
      "index_rows", {table}, std::move(y),
      [ids, padding_idx, dim](const Context<T>& c) {
        Array<T> gt = detail::zeros_array<T>(c.input_shape(0));
        const T* gp = c.grad_output().data();
        for (std::size_t i = 0; i < ids.size(); ++i) {
          const Index id = ids.data()[i];
          if (id == padding_idx) continue;
          T* row = gt.data() + static_cast<std::size_t>(id) * dim;
          for (std::size_t j = 0; j < dim; ++j) row[j] += gp[i * dim + j];
        }
        return Grads<T>{std::move(gt)};
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(index_rows);

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
  Array<T> y = detail::empty_array<T>(ys);
  const std::size_t inner = xs[0].size() / s0[0];
  for (std::size_t k = 0; k < xs.size(); ++k) {
    const T* src = xs[k].value().data() + index * inner;
    std::copy(src, src + inner, y.data() + k * inner);
  }
  return record<T>(
      "stack_index", xs, std::move(y),
      [index, inner](const Context<T>& c) {
        const Array<T>& g = c.grad_output();
        Shape part(g.shape().begin() + 1, g.shape().end());
        Grads<T> grads(c.num_inputs());
        for (std::size_t k = 0; k < c.num_inputs(); ++k) {
          if (!c.needs_grad(k)) continue;
          Array<T> gk = detail::empty_array<T>(part);
          std::copy(g.data() + k * inner, g.data() + (k + 1) * inner, gk.data());
          grads[k] = Grad<T>::at(std::move(gk), 0, index);
        }
        return grads;
      },
      {}, {}, Reads::none());
}
TAPEGRAD_OP(stack_index);

}  // namespace tapegrad
