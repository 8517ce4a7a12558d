#include <numeric>
#include <sstream>

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
}  // namespace tapegrad
