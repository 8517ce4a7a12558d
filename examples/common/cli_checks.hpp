// CLI11 validators for the examples' command lines, with messages that name the bad value
// plainly (CLI11's own Range prints the full width of a double's limits).
#pragma once

#include <cmath>
#include <string>

#include <CLI/CLI.hpp>

namespace examples {

/// A finite number > 0.
inline CLI::Validator positive() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(input, value)) return "not a number: " + input;
        if (!(value > 0.0 && std::isfinite(value))) return "must be > 0, got " + input;
        return {};
      },
      "> 0");
}

/// A finite number >= 0.
inline CLI::Validator non_negative() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(input, value)) return "not a number: " + input;
        if (!(value >= 0.0 && std::isfinite(value))) return "must be >= 0, got " + input;
        return {};
      },
      ">= 0");
}

/// A probability of dropping something: in [0, 1).
inline CLI::Validator drop_probability() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        double value = 0.0;
        if (!CLI::detail::lexical_cast(input, value)) return "not a number: " + input;
        if (!(value >= 0.0 && value < 1.0)) return "must be in [0, 1), got " + input;
        return {};
      },
      "in [0, 1)");
}

}  // namespace examples
