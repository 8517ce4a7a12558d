// The cases of the bad-file tests (test_bad_files*.cpp, one file per part, and the examples'
// examples/NAME/tests/test_bad_files.cpp): a file's bytes, a missing file or a folder at its
// path, and a part of the message it must give; check_refused runs a loader on each.
#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "helpers.hpp"

namespace tapegrad_test::bad_files {

namespace fs = std::filesystem;
using tapegrad::value_error;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;

// ---- bad file contents ----

/// The first bytes of a PNG image: binary, with NUL bytes and line breaks.
inline const char png_raw[] =
    "\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\nIDATx"
    "\x9c";
inline const std::string png_bytes(png_raw, sizeof png_raw - 1);

/// A case: the file's bytes (or a missing file, or a folder at the path) and a part of the
/// message it must give, besides the path.
struct BadFile {
  enum Kind { bytes, missing, folder };
  std::string name;
  Kind kind;
  std::string content;
  std::string expected;
};

inline BadFile with_bytes(std::string name, std::string content, std::string expected) {
  return {std::move(name), BadFile::bytes, std::move(content), std::move(expected)};
}

/// The cases every loader must refuse: no file, a folder, an empty file, a PNG image.
inline std::vector<BadFile> common_cases(const std::string& missing_says,
                                         const std::string& folder_says,
                                         const std::string& empty_says,
                                         const std::string& png_says) {
  return {{"missing file", BadFile::missing, "", missing_says},
          {"folder", BadFile::folder, "", folder_says},
          with_bytes("empty file", "", empty_says),
          with_bytes("PNG image", png_bytes, png_says)};
}

/// Every regular file under `root` with its bytes.
inline std::map<std::string, std::string> snapshot(const fs::path& root) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(root)) {
    if (entry.is_regular_file()) files[entry.path().string()] = read_bytes(entry.path().string());
  }
  return files;
}

/// Puts each case at `path` in turn, runs `load(path)`, and checks: a value_error naming the
/// path and the case's reason, `unchanged()` true, and every file of the folder as it was.
inline void check_refused(
    const TempDir& dir, const std::string& path, const std::vector<BadFile>& cases,
    const std::function<void(const std::string&)>& load,
    const std::function<bool()>& unchanged = [] { return true; }) {
  for (const BadFile& c : cases) {
    CAPTURE(c.name);
    std::error_code ignored;
    fs::remove_all(path, ignored);
    if (c.kind == BadFile::bytes) write_bytes(path, c.content);
    if (c.kind == BadFile::folder) fs::create_directories(fs::path(path) / "inside");
    const auto before = snapshot(dir.path);
    const std::string message = message_of<value_error>([&] { load(path); });
    TG_CHECK_CONTAINS(message, path);
    TG_CHECK_CONTAINS(message, c.expected);
    CHECK(unchanged());
    CHECK(snapshot(dir.path) == before);
  }
  std::error_code ignored;
  fs::remove_all(path, ignored);
}

// ---- .npz surgery ----

inline std::uint32_t crc32_of(const std::string& bytes) {
  std::uint32_t crc = 0xffffffffu;
  for (const char ch : bytes) {
    crc ^= static_cast<unsigned char>(ch);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

inline std::uint32_t read_u32(const std::string& b, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v |= static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + i])) << (8 * i);
  return v;
}

inline void write_u32(std::string& b, std::size_t at, std::uint32_t v) {
  for (std::size_t i = 0; i < 4; ++i) b[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

/// A one-entry archive as Npz::save writes it (stored, no extra fields) with the .npy header of
/// its entry replaced by `header` (padded with spaces to the old length) and the CRCs fixed:
/// only the .npy header is wrong.
inline std::string with_npy_header(const std::string& archive, const std::string& header) {
  std::string b = archive;
  const std::size_t name_len =
      static_cast<unsigned char>(b[26]) | (static_cast<unsigned char>(b[27]) << 8);
  const std::size_t data = 30 + name_len;
  const std::size_t size = read_u32(b, 18);
  const std::size_t start = data + 10, end = b.find('\n', start);
  REQUIRE(header.size() <= end - start);
  b.replace(start, end - start, header + std::string(end - start - header.size(), ' '));
  const std::uint32_t crc = crc32_of(b.substr(data, size));
  write_u32(b, 14, crc);
  const std::size_t central = read_u32(b, b.size() - 22 + 16);
  write_u32(b, central + 16, crc);
  return b;
}

/// `bytes` with the byte at `at` inverted.
inline std::string flipped(std::string bytes, std::size_t at) {
  bytes[at] = static_cast<char>(~bytes[at]);
  return bytes;
}

/// The cases of a bad .npz file, made from a valid one: empty, cut, flipped, another format,
/// missing, a folder.
inline std::vector<BadFile> npz_cases(const std::string& valid) {
  REQUIRE(valid.size() > 200);
  std::vector<BadFile> cases =
      common_cases("cannot open", "is a folder", "is empty", "not a zip archive");
  const std::size_t central = read_u32(valid, valid.size() - 22 + 16);
  const std::vector<BadFile> more = {
      with_bytes("only the first local header", valid.substr(0, 40), "truncated"),
      with_bytes("cut in half", valid.substr(0, valid.size() / 2), "truncated"),
      with_bytes("last byte missing", valid.substr(0, valid.size() - 1), "truncated"),
      with_bytes("central directory cut", valid.substr(0, central + 10), "truncated"),
      with_bytes("byte flipped in the data", flipped(valid, central - 1), "CRC mismatch"),
      with_bytes("local header signature flipped", flipped(valid, 1), "corrupt zip archive"),
      with_bytes("central directory signature flipped", flipped(valid, central),
                 "corrupt zip archive"),
      with_bytes("a JSON file", "{\"format\": \"tapegrad-sentiment\", \"version\": 1}\n",
                 "not a zip archive"),
      with_bytes("a TSV file", "text\tlabel\ngood film\tpos\nbad film\tneg\n", "not a zip archive"),
  };
  cases.insert(cases.end(), more.begin(), more.end());
  return cases;
}

}  // namespace tapegrad_test::bad_files
