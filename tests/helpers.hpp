// Small helpers shared by the test files of every part and of the examples: array comparison
// with readable failures, and exception-message checks. On tapegrad::autograd alone, as the
// autograd tests are: a test of a higher part includes that part's headers itself.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstddef>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>

#include <sys/resource.h>
#include <unistd.h>

#include "tapegrad/autograd.hpp"

namespace tapegrad_test {

using tapegrad::Array;
using tapegrad::Shape;

/// An [n, 1] column (a braced {{1}, {2}} is ambiguous for xtensor's constructors).
inline Array<double> column(std::initializer_list<double> values) {
  Array<double> a = Array<double>::from_shape({values.size(), 1});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

/// "[2,3] {1, 2, 3, 4, 5, 6}" (at most 24 values).
template <class T>
std::string describe(const Array<T>& a) {
  std::ostringstream out;
  out.precision(10);
  out << tapegrad::shape_str(a.shape()) << " {";
  std::size_t i = 0;
  for (const T& v : a) {
    if (i == 24) {
      out << ", ...";
      break;
    }
    out << (i == 0 ? "" : ", ") << v;
    ++i;
  }
  out << "}";
  return out.str();
}

/// Same shape and every element within tol * (1 + |expected|); infinities must match exactly,
/// NaN never matches.
template <class T, class U>
bool all_close(const Array<T>& actual, const Array<U>& expected, double tol = 1e-9) {
  if (actual.shape().size() != expected.shape().size()) return false;
  for (std::size_t d = 0; d < actual.shape().size(); ++d) {
    if (actual.shape()[d] != expected.shape()[d]) return false;
  }
  auto e = expected.begin();
  for (auto a = actual.begin(); a != actual.end(); ++a, ++e) {
    const double x = static_cast<double>(*a);
    const double y = static_cast<double>(*e);
    if (std::isnan(x) || std::isnan(y)) return false;
    if (std::isinf(x) || std::isinf(y)) {
      if (x != y) return false;
      continue;
    }
    if (std::abs(x - y) > tol * (1.0 + std::abs(y))) return false;
  }
  return true;
}

/// "worst at flat index i: actual a, expected b (...)": the element with the largest
/// |actual - expected| / (1 + |expected|), for failure messages.
template <class T>
std::string worst_element(const Array<T>& actual, const Array<double>& expected) {
  if (actual.shape() != expected.shape()) {
    return "shape " + tapegrad::shape_str(actual.shape()) + ", expected " +
           tapegrad::shape_str(expected.shape());
  }
  std::size_t at = 0;
  double worst_ratio = -1.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual.data()[i]);
    const double b = expected.data()[i];
    const double ratio = std::isnan(a) ? 1e300 : std::abs(a - b) / (1.0 + std::abs(b));
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      at = i;
    }
  }
  std::ostringstream out;
  out.precision(17);
  out << "worst at flat index " << at << ": actual " << static_cast<double>(actual.data()[at])
      << ", expected " << expected.data()[at] << " (|diff| / (1 + |expected|) = " << worst_ratio
      << ")";
  return out.str();
}

/// Every element finite.
template <class T>
bool all_finite(const Array<T>& a) {
  for (const T& v : a) {
    if (!std::isfinite(static_cast<double>(v))) return false;
  }
  return true;
}

/// The source tree (fixtures, headers, docs), from the environment variable
/// TAPEGRAD_SOURCE_DIR that ctest sets: not compiled in, so that clones at other paths share
/// ccache's compilations.
inline std::string source_dir() {
  const char* dir = std::getenv("TAPEGRAD_SOURCE_DIR");
  if (dir == nullptr || *dir == '\0') {
    throw std::runtime_error(
        "TAPEGRAD_SOURCE_DIR is not set: run the tests through ctest, or set it to the "
        "repository's root");
  }
  return dir;
}

/// A fresh folder under the system's temporary directory, removed at scope exit.
class TempDir {
 public:
  TempDir() {
    static int counter = 0;
    path = std::filesystem::temp_directory_path() /
           ("tapegrad_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  /// The path of `name` inside the folder.
  std::string file(const std::string& name) const { return (path / name).string(); }
  /// Writes `bytes` to the file `name` of the folder; returns its path.
  std::string write(const std::string& name, const std::string& bytes) const {
    std::ofstream f(file(name), std::ios::binary);
    f << bytes;
    return file(name);
  }
  std::filesystem::path path;
};

/// The bytes of a file ("" when it cannot be read).
inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

/// Writes `bytes` to `path`.
inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f << bytes;
}

/// While alive, no file of this process can grow past `bytes` (RLIMIT_FSIZE, with SIGXFSZ
/// ignored): a write past it fails with EFBIG, "File too large", a real write failure that
/// needs neither a full disk nor privileges. The earlier limit is restored at scope exit.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*old_handler_)(int) = nullptr;
};

/// True when `text` contains `part`.
inline bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

/// Runs `fn`, which must throw `E`; returns the message ("" and a failed check otherwise).
template <class E, class Fn>
std::string message_of(Fn&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  } catch (const std::exception& e) {
    FAIL_CHECK((std::string("threw the wrong exception type: ") + e.what()));
    return {};
  }
  FAIL_CHECK("did not throw");
  return {};
}

}  // namespace tapegrad_test

/// CHECKs that two arrays have the same shape and close values, printing both on failure.
#define TG_CHECK_CLOSE(actual, expected, tol)                                         \
  CHECK_MESSAGE(::tapegrad_test::all_close((actual), (expected), (tol)), "actual   ", \
                ::tapegrad_test::describe(actual), "\nexpected ",                     \
                ::tapegrad_test::describe(expected))

/// CHECKs that `message` contains `part`, printing the message on failure. Each argument is
/// evaluated once: CHECK_MESSAGE evaluates its message again when the check fails, and a
/// `message_of(...)` there would run a failing check inside doctest's reporter, which then
/// waits forever on its own lock.
#define TG_CHECK_CONTAINS(message, part)                                                        \
  do {                                                                                          \
    const std::string tg_message_(message);                                                     \
    const std::string tg_part_(part);                                                           \
    CHECK_MESSAGE(::tapegrad_test::contains(tg_message_, tg_part_), "message: \"", tg_message_, \
                  "\" lacks \"", tg_part_, "\"");                                               \
  } while (false)
