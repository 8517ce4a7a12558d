#include "data_detail.hpp"

#include "tapegrad/autograd/limits.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>
#include <unordered_map>

namespace tapegrad::data::detail {

std::string read_file(const char* op, const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw value_error(fmt::format("{}: '{}' is a folder, not a file", op, path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw value_error(fmt::format("{}: cannot open '{}' ({})", op, path, std::strerror(errno)));
  }
  const auto size = std::filesystem::file_size(path, ec);
  if (!ec) {
    check_input_size(fmt::format("{}: '{}' ({})", op, path, format_bytes(size)), size,
                     input_limits().max_text_bytes, "max_text_bytes");
  }
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw value_error(fmt::format("{}: cannot read '{}'", op, path));
  return bytes.str();
}

void check_not_binary(const char* op, const std::string& path, const std::string& bytes) {
  const std::size_t nul = bytes.find('\0');
  if (nul == std::string::npos) return;
  const auto line =
      1 + std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
  throw value_error(fmt::format(
      "{}: '{}' line {}: a NUL byte at byte {} (a binary file, not text?)", op, path, line, nul));
}

void check_text(const char* op, const std::string& path, std::string& bytes, InvalidUtf8 invalid,
                std::size_t* replaced, bool offer_replace) {
  check_not_binary(op, path, bytes);
  if (replaced) *replaced = 0;
  const std::size_t bad = find_invalid_utf8(bytes);
  if (bad == std::string::npos) return;
  if (invalid == InvalidUtf8::replace) {
    bytes = replace_invalid_utf8(bytes, replaced);
    return;
  }
  const auto before = bytes.begin() + static_cast<std::ptrdiff_t>(bad);
  const auto line = 1 + std::count(bytes.begin(), before, '\n');
  const std::size_t line_start = bytes.rfind('\n', bad == 0 ? 0 : bad - 1);
  const std::size_t column =
      line_start == std::string::npos || bad == 0 ? bad : bad - line_start - 1;
  throw value_error(fmt::format(
      "{}: '{}' line {}: invalid UTF-8 at byte offset {} (byte {} of the line, 0x{:02X}); the "
      "file is not UTF-8 (Latin-1 or Windows-1252?): convert it, e.g. with "
      "`iconv -f latin1 -t utf-8`{}",
      op, path, line, bad, column + 1, static_cast<unsigned char>(bytes[bad]),
      offer_replace ? ", or replace the bad bytes with U+FFFD (InvalidUtf8::replace)" : ""));
}

std::vector<std::string> split_lines(const std::string& bytes) {
  std::vector<std::string> lines;
  std::size_t pos = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  while (pos < bytes.size()) {
    std::size_t end = bytes.find('\n', pos);
    if (end == std::string::npos) end = bytes.size();
    std::size_t stop = end;
    if (stop > pos && bytes[stop - 1] == '\r') --stop;
    lines.push_back(bytes.substr(pos, stop - pos));
    pos = end + 1;
  }
  return lines;
}

std::vector<std::string> read_list_file(const char* op, const std::string& path, const char* what) {
  std::string bytes = read_file(op, path);
  check_text(op, path, bytes);
  std::vector<std::string> lines = split_lines(bytes);
  if (lines.empty()) throw value_error(fmt::format("{}: '{}' is empty", op, path));
  std::unordered_map<std::string, std::size_t> first_line;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    if (lines[i].empty()) {
      throw value_error(fmt::format("{}: '{}' line {}: empty {}", op, path, i + 1, what));
    }
    const auto [it, inserted] = first_line.emplace(lines[i], i + 1);
    if (!inserted) {
      throw value_error(fmt::format("{}: '{}' line {}: duplicate {} '{}' (first on line {})", op,
                                    path, i + 1, what, printable(lines[i]), it->second));
    }
  }
  return lines;
}

void check_list_entry(const char* op, const char* what, std::size_t position,
                      const std::string& entry) {
  if (entry.empty()) throw value_error(fmt::format("{}: {} {} is empty", op, what, position));
  if (entry.find_first_of("\r\n") != std::string::npos) {
    throw value_error(
        fmt::format("{}: {} {} '{}' contains a line break", op, what, position, printable(entry)));
  }
  if (entry.find('\0') != std::string::npos) {
    throw value_error(
        fmt::format("{}: {} {} '{}' contains a NUL byte", op, what, position, printable(entry)));
  }
  if (position == 0 && entry.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    // A list file's reader skips a byte order mark, so a first entry cannot start with one.
    throw value_error(fmt::format("{}: {} {} '{}' starts with a UTF-8 byte order mark", op, what,
                                  position, printable(entry)));
  }
  const std::size_t bad = find_invalid_utf8(entry);
  if (bad != std::string::npos) {
    throw value_error(fmt::format("{}: {} {} '{}' is not valid UTF-8 (byte {} is 0x{:02X})", op,
                                  what, position, printable(entry), bad,
                                  static_cast<unsigned char>(entry[bad])));
  }
}

std::uint64_t uniform_below(std::mt19937_64& engine, std::uint64_t n) {
  // Rejection sampling: accept draws below the largest multiple of n.
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t limit = max - (max % n + 1) % n;
  std::uint64_t x = engine();
  while (x > limit) x = engine();
  return x % n;
}

std::string printable(const std::string& s) {
  // Bytes of a string that is not UTF-8 are shown as \xNN from the first 0x80 on.
  const bool escape_high = find_invalid_utf8(s) != std::string::npos;
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    // Control bytes without a short escape, and high bytes of a string that is not UTF-8: \xNN.
    const bool named = c == '\n' || c == '\r' || c == '\t';
    if ((c >= 0x80 && escape_high) || ((c < 0x20 || c == 0x7f) && !named)) {
      out += fmt::format("\\x{:02x}", c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace tapegrad::data::detail
