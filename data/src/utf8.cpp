// UTF-8 validation and repair (tapegrad/data/utf8.hpp).
#include "tapegrad/data/utf8.hpp"

#include "data_detail.hpp"

namespace tapegrad::data {

namespace {

// The length of the valid UTF-8 sequence at text[pos], or 0 when the bytes there are not one.
// With 0, *invalid receives the length of the maximal invalid subpart (at least 1): the bytes
// one U+FFFD replaces (Unicode 15, section 3.9, "U+FFFD Substitution of Maximal Subparts").
std::size_t sequence_at(std::string_view text, std::size_t pos, std::size_t* invalid) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char b0 = byte(pos);
  if (b0 < 0x80) return 1;
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong 3-byte forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;  // no overlong 4-byte forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    *invalid = 1;  // a continuation byte alone, C0, C1 or F5..FF
    return 0;
  }
  for (std::size_t k = 1; k <= need; ++k) {
    const std::size_t i = pos + k;
    const unsigned char low = k == 1 ? lo : 0x80, high = k == 1 ? hi : 0xBF;
    if (i >= text.size() || byte(i) < low || byte(i) > high) {
      *invalid = k;
      return 0;
    }
  }
  return need + 1;
}

}  // namespace

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    // ASCII runs, 8 bytes at a time.
    while (pos + 8 <= text.size()) {
      unsigned long long word = 0;
      for (std::size_t k = 0; k < 8; ++k) {
        word |= static_cast<unsigned long long>(static_cast<unsigned char>(text[pos + k]))
                << (8 * k);
      }
      if (word & 0x8080808080808080ull) break;
      pos += 8;
    }
    if (pos >= text.size()) break;
    std::size_t invalid = 0;
    const std::size_t n = sequence_at(text, pos, &invalid);
    if (n == 0) return pos;
    pos += n;
  }
  return std::string_view::npos;
}

std::string replace_invalid_utf8(std::string_view text, std::size_t* replaced) {
  std::string out;
  out.reserve(text.size());
  std::size_t count = 0;
  for (std::size_t pos = 0; pos < text.size();) {
    std::size_t invalid = 0;
    const std::size_t n = sequence_at(text, pos, &invalid);
    if (n > 0) {
      out.append(text.substr(pos, n));
      pos += n;
    } else {
      out += "\xEF\xBF\xBD";
      ++count;
      pos += invalid;
    }
  }
  if (replaced) *replaced = count;
  return out;
}

std::string read_text_file(const std::string& path, InvalidUtf8 invalid, std::size_t* replaced) {
  std::string bytes = detail::read_file("read_text_file", path);
  detail::check_text("read_text_file", path, bytes, invalid, replaced, true);
  return bytes;
}

}  // namespace tapegrad::data
