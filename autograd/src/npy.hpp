// The .npy format as npz.cpp uses it; implemented in npy.cpp (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "tapegrad/autograd/npz.hpp"

namespace tapegrad::detail {

/// A value_error "npz '<path>': <what>".
[[noreturn]] void npz_fail(const std::string& path, const std::string& what);

/// A file's text for a message: control characters escaped, at most 200 bytes.
std::string data_printable(const std::string& s);

/// Reads exactly n bytes into a buffer, or throws a value_error.
using NpyRead = std::function<void(char*, std::uint64_t)>;

struct NpyDType {
  char kind;  // 'f', 'i', 'u', 'b'
  std::size_t size;
};

/// The facts of an .npy header.
struct NpyHeader {
  std::string descr;
  NpyDType dtype{'?', 0};
  bool fortran = false;
  Shape shape;
  std::uint64_t count = 1;       // elements
  std::uint64_t data_bytes = 0;  // count * dtype.size
  std::size_t header_bytes = 0;  // magic, version, length and the header text
};

/// Reads and checks the .npy header of entry `name` of the archive at `path`.
NpyHeader read_npy_header(const NpyRead& read, const std::string& path, const std::string& name);

/// Reads the data of an entry whose header is `h` into a new array (C order).
Npz::Entry read_npy_data(const NpyHeader& h, const NpyRead& read, const std::string& path,
                         const std::string& name);

/// An entry as the bytes of an .npy file (little-endian, C order, version 1.0).
std::string npy_bytes(const Npz::Entry& entry);

}  // namespace tapegrad::detail
