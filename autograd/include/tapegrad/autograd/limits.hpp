/// @file
/// How much memory a file may make tapegrad allocate: every reader checks the sizes a file
/// states against these limits (and against the bytes really present) before it allocates.
#pragma once

#include <cstdint>
#include <string>

namespace tapegrad {

/// The limits of what one file may ask for. The defaults fit models and data sets many times
/// larger than a 24 GB machine trains in practice, and stop a file of a few bytes from
/// declaring gigabytes.
struct InputLimits {
  /// Bytes of one array read from a file (an .npy entry of an .npz archive): 4 GiB.
  std::uint64_t max_array_bytes = std::uint64_t{4} << 30;
  /// Bytes of a text file read whole (TSV/CSV data, vocabularies, label sets, JSON): 2 GiB.
  std::uint64_t max_text_bytes = std::uint64_t{2} << 30;
};

/// The limits in force (process-wide; set them before reading files in other threads).
const InputLimits& input_limits();
/// Replaces the limits; a zero limit is a value_error.
void set_input_limits(const InputLimits& limits);

/// "1.5 GiB", "312 KiB", "17 bytes": a size for messages.
std::string format_bytes(std::uint64_t bytes);

/// Throws a value_error unless `bytes` <= `limit`: "<what> needs <bytes>, over the limit of
/// <limit> (tapegrad::InputLimits::<limit_name>)". `what` says who asked ("npz 'm.npz':
/// entry 'w' (float32, shape (10, 10))").
void check_input_size(const std::string& what, std::uint64_t bytes, std::uint64_t limit,
                      const char* limit_name);

}  // namespace tapegrad
