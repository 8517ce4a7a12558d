// Helpers shared by the data sources (not installed).
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/data/utf8.hpp"

namespace tapegrad::data::detail {

/// The bytes of a file; a value_error "<op>: cannot open '<path>' (<reason>)" otherwise,
/// "<op>: '<path>' is a folder, not a file" for a folder, and one naming the file's size for a
/// file over tapegrad::input_limits().max_text_bytes (checked before reading).
std::string read_file(const char* op, const std::string& path);

/// check_not_binary, then the UTF-8 check: with InvalidUtf8::error, a value_error naming the
/// file, the line, the byte offset in the file and the byte for the first invalid sequence;
/// with InvalidUtf8::replace, `bytes` repaired (replace_invalid_utf8) and the count in
/// *replaced. `offer_replace`: the message names InvalidUtf8::replace as a remedy.
void check_text(const char* op, const std::string& path, std::string& bytes,
                InvalidUtf8 invalid = InvalidUtf8::error, std::size_t* replaced = nullptr,
                bool offer_replace = false);

/// A value_error "<op>: '<path>' line <n>: a NUL byte ..." when `bytes` hold a NUL byte: a
/// binary file (an image, an archive) given where a text file belongs.
void check_not_binary(const char* op, const std::string& path, const std::string& bytes);

/// The file's lines without their "\n" / "\r\n", after a UTF-8 byte order mark; no line for a
/// final line break.
std::vector<std::string> split_lines(const std::string& bytes);

/// A list file (one entry per line, as Vocabulary and LabelSet save them): a value_error
/// naming the file, and the line, for a missing or empty file, an empty line or a duplicate.
/// `what` names an entry in messages ("token", "label").
std::vector<std::string> read_list_file(const char* op, const std::string& path, const char* what);

/// A value_error unless `entry` can be one line of a list file (not empty, no line break).
void check_list_entry(const char* op, const char* what, std::size_t position,
                      const std::string& entry);

/// Uniform in [0, n) from the generator's raw 64-bit output (the same on every platform,
/// unlike std::uniform_int_distribution).
std::uint64_t uniform_below(std::mt19937_64& engine, std::uint64_t n);

/// Fisher-Yates with uniform_below: the same permutation for the same seed everywhere.
template <class T>
void shuffle(std::vector<T>& items, Generator& generator) {
  for (std::size_t i = items.size(); i > 1; --i) {
    const std::size_t j = static_cast<std::size_t>(uniform_below(generator.engine(), i));
    std::swap(items[i - 1], items[j]);
  }
}

/// `s` with C-style escapes for control characters, for messages.
std::string printable(const std::string& s);

}  // namespace tapegrad::data::detail
