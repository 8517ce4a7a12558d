#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <sstream>
#include <vector>

#include <xtensor/xio.hpp>

#include "detail.hpp"

namespace tapegrad {

std::string shape_str(const Shape& shape) {
  return fmt::format("[{}]", fmt::join(shape.begin(), shape.end(), ","));
}

Shape make_shape(std::initializer_list<std::size_t> sizes) {
  return Shape(sizes.begin(), sizes.end());
}

Shape make_shape(const std::vector<std::size_t>& sizes) {
  return Shape(sizes.begin(), sizes.end());
}

std::size_t shape_size(const Shape& shape) {
  return std::accumulate(shape.begin(), shape.end(), std::size_t{1}, std::multiplies<>());
}

namespace {
template <class T>
std::string array_text(const Array<T>& a) {
  std::ostringstream s;
  s << a;
  return s.str();
}
}  // namespace

std::string to_string(const Array<float>& a) {
  return array_text(a);
}
std::string to_string(const Array<double>& a) {
  return array_text(a);
}

namespace detail {

namespace {
// The most elements an array may have: its bytes, even of 16-byte elements, fit in size_t.
constexpr std::size_t max_elements = std::numeric_limits<std::size_t>::max() / 16;
}  // namespace

void check_shape(const char* op, const Shape& shape) {
  if (std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end()) return;  // empty
  std::size_t count = 1;
  for (std::size_t n : shape) {
    if (count > max_elements / n) {
      throw value_error(fmt::format("{}: shape {} has too many elements (a negative size?)", op,
                                    shape_str(shape)));
    }
    count *= n;
  }
}

std::size_t arange_size(double start, double stop, double step) {
  if (!std::isfinite(start) || !std::isfinite(stop) || !std::isfinite(step)) {
    throw value_error(
        fmt::format("arange: start {}, stop {} and step {} must be finite", start, stop, step));
  }
  if (step == 0.0)
    throw value_error(fmt::format("arange: step is 0 (start {}, stop {})", start, stop));
  const double n = std::ceil((stop - start) / step);  // numpy's count; negative: empty
  if (!(n <= double(max_elements))) {
    throw value_error(fmt::format("arange: start {}, stop {} and step {} make too many values",
                                  start, stop, step));
  }
  return n > 0.0 ? static_cast<std::size_t>(n) : 0;
}

std::size_t arange_size(std::int64_t start, std::int64_t stop, std::int64_t step) {
  if (step == 0)
    throw value_error(fmt::format("arange: step is 0 (start {}, stop {})", start, stop));
  if (step > 0 ? stop <= start : stop >= start) return 0;
  // The distance, exact in unsigned arithmetic even where stop - start overflows int64.
  const std::uint64_t distance = step > 0 ? std::uint64_t(stop) - std::uint64_t(start)
                                          : std::uint64_t(start) - std::uint64_t(stop);
  const std::uint64_t stride = step > 0 ? std::uint64_t(step) : 0 - std::uint64_t(step);
  const std::uint64_t n = (distance - 1) / stride + 1;
  if (n > max_elements) {
    throw value_error(fmt::format("arange: start {}, stop {} and step {} make too many values",
                                  start, stop, step));
  }
  return static_cast<std::size_t>(n);
}

void fail_internal(const char* file, int line, const char* condition, const std::string& message) {
  throw internal_error(
      fmt::format("tapegrad internal error at {}:{}: {} ({})", file, line, message, condition));
}

std::size_t normalize_axis(const char* op, int axis, const Shape& shape) {
  const auto ndim = static_cast<int>(shape.size());
  if (axis < -ndim || axis >= ndim) {
    throw shape_error(fmt::format("{}: axis {} is out of range for shape {} ({} axes)", op, axis,
                                  shape_str(shape), ndim));
  }
  return static_cast<std::size_t>(axis < 0 ? axis + ndim : axis);
}

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const std::size_t n = std::max(a.size(), b.size());
  Shape out(n, 1);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t da = i < n - a.size() ? 1 : a[i - (n - a.size())];
    const std::size_t db = i < n - b.size() ? 1 : b[i - (n - b.size())];
    if (da != db && da != 1 && db != 1) {
      throw shape_error(fmt::format("{}: shapes {} and {} do not broadcast (axis {}: {} vs {})", op,
                                    shape_str(a), shape_str(b), i, da, db));
    }
    out[i] = da == 1 ? db : da;
  }
  return out;
}

xt::xarray<bool> broadcast_mask(const char* op, const xt::xarray<bool>& mask, const Shape& shape) {
  const Shape ms(mask.shape().begin(), mask.shape().end());
  if (ms == shape) return mask;
  const auto fail = [&] {
    return shape_error(fmt::format("{}: the mask {} does not broadcast to the input's shape {}", op,
                                   shape_str(ms), shape_str(shape)));
  };
  if (ms.size() > shape.size()) throw fail();
  const std::size_t lead = shape.size() - ms.size();
  for (std::size_t i = 0; i < ms.size(); ++i) {
    if (ms[i] != 1 && ms[i] != shape[lead + i]) throw fail();
  }
  // element by element (xtensor 0.24's SIMD broadcast of a lower rank picks wrong elements)
  xt::xarray<bool> out = xt::xarray<bool>::from_shape(shape);
  std::vector<std::size_t> stride(ms.size(), 0);  // the mask's stride per axis, 0 if broadcast
  std::size_t st = 1;
  for (std::size_t i = ms.size(); i-- > 0;) {
    stride[i] = ms[i] == 1 ? 0 : st;
    st *= ms[i];
  }
  std::vector<std::size_t> idx(shape.size(), 0);
  for (std::size_t flat = 0; flat < out.size(); ++flat) {
    std::size_t at = 0;
    for (std::size_t i = 0; i < ms.size(); ++i) at += idx[lead + i] * stride[i];
    out.data()[flat] = mask.data()[at];
    for (std::size_t d = shape.size(); d-- > 0;) {  // next index, last axis fastest
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

std::size_t product(const Shape& shape, std::size_t begin, std::size_t end) {
  std::size_t p = 1;
  for (std::size_t i = begin; i < end; ++i) p *= shape[i];
  return p;
}

Shape reduced_shape(const Shape& shape, std::size_t axis, bool keepdims) {
  Shape out = shape;
  if (keepdims) {
    out[axis] = 1;
  } else {
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(axis));
  }
  return out;
}

Lanes lanes(const Shape& shape, std::size_t axis) {
  return {product(shape, 0, axis), shape[axis], product(shape, axis + 1, shape.size())};
}

}  // namespace detail
template <class T>
Array<T> one_hot(const IndexArray& ids, std::size_t num_classes) {
  Shape shape(ids.shape().begin(), ids.shape().end());
  shape.push_back(num_classes);
  Array<T> y = detail::filled<T>("one_hot", shape, T(0));
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Index id = ids.data()[i];
    if (id < 0 || static_cast<std::size_t>(id) >= num_classes) {
      throw value_error(fmt::format("one_hot: id {} (at flat position {}) is outside [0, {})", id,
                                    i, num_classes));
    }
    y.data()[i * num_classes + static_cast<std::size_t>(id)] = T(1);
  }
  return y;
}
template Array<float> one_hot<float>(const IndexArray&, std::size_t);
template Array<double> one_hot<double>(const IndexArray&, std::size_t);

}  // namespace tapegrad
