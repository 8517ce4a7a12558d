// Argument checks the layers share (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include <fmt/format.h>

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

}  // namespace tapegrad::nn::detail
