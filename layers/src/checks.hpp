// Argument checks the layers share (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::nn::detail {

/// A size no layer can have: zero, or a negative number converted to std::size_t
/// (Linear(-1, 3)).
inline bool impossible_size(std::size_t n) {
  return n == 0 || n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
}

/// A size for a message: "-1" for what was a negative number, else its value.
inline std::string size_text(std::size_t n) {
  return n > static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max())
             ? fmt::format("{}", static_cast<std::int64_t>(n))
             : fmt::format("{}", n);
}

/// The value of `values` whose to_string is `name`, else a value_error that names `what`, the
/// name given and every accepted one: parse_cell_kind and the other parse_* of the layers.
template <class E>
E parse_name(const char* what, std::string_view name, std::initializer_list<E> values) {
  std::string accepted;
  std::size_t i = 0;
  for (const E value : values) {
    if (name == to_string(value)) return value;
    accepted += fmt::format("{}{}", i == 0 ? "" : (i + 1 == values.size() ? " or " : ", "),
                            to_string(value));
    ++i;
  }
  throw value_error(fmt::format("unknown {} \"{}\" (expected {})", what, name, accepted));
}

}  // namespace tapegrad::nn::detail
