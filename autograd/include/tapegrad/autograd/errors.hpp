/// @file
/// The error kinds of tapegrad, and the internal-invariant check.
#pragma once

#include <stdexcept>
#include <string>

namespace tapegrad {

/// Bad shapes given to an op or a layer; the message names the op and every shape.
class shape_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Bad argument values, bad files or bad data; the message names the value.
class value_error : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Misuse of the API: backward through a freed tape, an empty handle, wrong call order.
class usage_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// A NaN or an infinity found by anomaly detection (set_detect_anomaly): the message names the
/// op, where it ran (scopes: layer, time step) and the first bad element.
class numerical_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A failure between the processes of distributed training (tapegrad::distributed): a peer
/// process that died, hung past the timeout, or called a different collective; the message
/// names the ranks.
class communication_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A broken internal invariant of tapegrad itself (a bug): the message names file and line.
class internal_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

namespace detail {
[[noreturn]] void fail_internal(const char* file, int line, const char* condition,
                                const std::string& message);
}  // namespace detail

}  // namespace tapegrad

/// Checks an internal invariant in every build type; throws tapegrad::internal_error.
#define TAPEGRAD_ASSERT(condition, message)                                                       \
  do {                                                                                            \
    if (!(condition)) ::tapegrad::detail::fail_internal(__FILE__, __LINE__, #condition, message); \
  } while (false)
