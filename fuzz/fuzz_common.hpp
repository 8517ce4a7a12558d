// What the harnesses in fuzz/ share: inputs reach the readers as files (in memory, under
// /dev/shm), allocation limits small enough for libFuzzer's RSS limit, and the rule for what a
// reader may do with any file: return, or throw one of tapegrad's typed errors.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include <tapegrad/autograd/errors.hpp>
#include <tapegrad/autograd/limits.hpp>

namespace fuzz {

/// Stops the run with a message: libFuzzer reports the abort as a crash and saves the input.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz: FINDING: %s\n", what.c_str());
  std::abort();
}

/// A private folder of this process, in $TAPEGRAD_FUZZ_SCRATCH when set (scripts/fuzz.sh sets
/// one per run and removes it, with what crashed processes left), else in memory when /dev/shm
/// is there, else in $TMPDIR or /tmp. Removed when the process exits normally.
inline const std::string& scratch_dir() {
  // Never destroyed, so that the exit handler that removes the folder can still read it.
  static const std::string* const dir = [] {
    const char* chosen = std::getenv("TAPEGRAD_FUZZ_SCRATCH");
    std::string base = chosen != nullptr && *chosen != '\0' ? chosen : "/dev/shm";
    if (::access(base.c_str(), W_OK) != 0) {
      const char* tmp = std::getenv("TMPDIR");
      base = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
    }
    auto* name = new std::string(base + "/tapegrad-fuzz-XXXXXX");
    if (::mkdtemp(name->data()) == nullptr) {
      finding("cannot make a scratch folder in " + base + ": " + std::strerror(errno));
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return name;
  }();
  return *dir;
}

/// Writes `size` bytes to `path` (replacing what was there).
inline void write_file(const std::string& path, const std::uint8_t* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) finding("cannot write " + path + ": " + std::strerror(errno));
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) finding("cannot write " + path + ": " + std::strerror(errno));
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

/// Writes `size` bytes to scratch_dir()/name (replacing what was there); returns its path.
inline std::string write_input(const std::string& name, const std::uint8_t* data,
                               std::size_t size) {
  std::string path = scratch_dir() + "/" + name;
  write_file(path, data, size);
  return path;
}

/// Limits far below libFuzzer's RSS limit (1 GB in scripts/fuzz.sh): an array or a text file
/// may ask for 64 MiB at most, so a file that declares more must be refused, not allocated.
inline void set_small_input_limits() {
  tapegrad::InputLimits limits;
  limits.max_array_bytes = std::uint64_t{64} << 20;
  limits.max_text_bytes = std::uint64_t{64} << 20;
  tapegrad::set_input_limits(limits);
}

/// Runs `read` (a call of a reader on a fuzzed file). Success and tapegrad's typed errors for
/// bad input (value_error, shape_error, usage_error) are the expected outcomes; any other
/// exception (std::bad_alloc, std::out_of_range, std::length_error, a JSON library's, an
/// internal_error) escapes on purpose, and libFuzzer reports it with the input. Returns
/// whether `read` succeeded.
template <class Read>
bool read_or_typed_error(Read&& read) {
  try {
    read();
    return true;
  } catch (const tapegrad::value_error&) {
  } catch (const tapegrad::shape_error&) {
  } catch (const tapegrad::usage_error&) {
  }
  return false;
}

}  // namespace fuzz
