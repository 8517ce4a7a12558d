#include "data_detail.hpp"

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
  const std::string bytes = read_file(op, path);
  check_not_binary(op, path, bytes);
  const std::vector<std::string> lines = split_lines(bytes);
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
  std::string out;
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += ch;
    }
  }
  return out;
}

}  // namespace tapegrad::data::detail
