// Input limits (tapegrad/autograd/limits.hpp).
#include "tapegrad/autograd/limits.hpp"

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"

namespace tapegrad {

namespace {
InputLimits& limits_in_force() {
  static InputLimits limits;
  return limits;
}
}  // namespace

const InputLimits& input_limits() {
  return limits_in_force();
}

void set_input_limits(const InputLimits& limits) {
  if (limits.max_array_bytes == 0 || limits.max_text_bytes == 0) {
    throw value_error(
        fmt::format("set_input_limits: every limit must be positive, got max_array_bytes {} and "
                    "max_text_bytes {}",
                    limits.max_array_bytes, limits.max_text_bytes));
  }
  limits_in_force() = limits;
}

std::string format_bytes(std::uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} byte{}", bytes, bytes == 1 ? "" : "s");
  const char* units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(units)) value /= 1024.0, ++unit;
  return fmt::format("{:.{}f} {}", value, value < 10.0 ? 1 : 0, units[unit]);
}

void check_input_size(const std::string& what, std::uint64_t bytes, std::uint64_t limit,
                      const char* limit_name) {
  if (bytes <= limit) return;
  throw value_error(fmt::format("{} needs {}, over the limit of {} (tapegrad::InputLimits::{})",
                                what, format_bytes(bytes), format_bytes(limit), limit_name));
}

}  // namespace tapegrad
