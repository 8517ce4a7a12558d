/// @file
/// UTF-8 checks for text read from files: where a file stops being UTF-8, and a repaired copy;
/// how many terminal columns a text takes, for lining up tables of it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace tapegrad::data {

/// What a reader does with bytes that are not UTF-8 (a Latin-1 or Windows-1252 file, a
/// binary file, a file cut inside a character).
enum class InvalidUtf8 {
  error,    ///< a value_error naming the file, the line and the byte offset (the default)
  replace,  ///< each invalid sequence becomes U+FFFD, as Python's errors="replace" does
};

/// The offset of the first byte of `text` that does not belong to a valid UTF-8 sequence
/// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or
/// std::string_view::npos when all of `text` is valid.
std::size_t find_invalid_utf8(std::string_view text);

/// `text` with every maximal invalid subsequence replaced by U+FFFD ("\xEF\xBF\xBD"), the
/// replacement the Unicode standard recommends (and Python, ICU and browsers use); valid text
/// comes back unchanged. `replaced`, when given, receives the number of replacements.
std::string replace_invalid_utf8(std::string_view text, std::size_t* replaced = nullptr);

/// The bytes of a text file, checked as every reader of tapegrad checks them: a missing file,
/// a folder, a file over tapegrad::input_limits().max_text_bytes (refused before it is read),
/// a NUL byte (a binary file) or, with InvalidUtf8::error, bytes that are not UTF-8 are a
/// value_error naming the file, and the line and byte offset where there is one. With
/// InvalidUtf8::replace, invalid sequences become U+FFFD and `replaced` (when given) receives
/// their count. A UTF-8 byte order mark is kept (split_lines-style readers skip it).
std::string read_text_file(const std::string& path, InvalidUtf8 invalid = InvalidUtf8::error,
                           std::size_t* replaced = nullptr);

/// The columns `text` (UTF-8) takes in a terminal with a monospace font, as wcwidth() counts
/// them, a code point at a time: 2 for East Asian Wide and Fullwidth characters (CJK
/// ideographs, kana, Hangul syllables, fullwidth forms, most emoji: Unicode's
/// EastAsianWidth W and F); 0 for combining marks (Mn, Me: "e" with U+0301 is 1 column), format
/// characters (Cf: zero-width space and joiners, the byte order mark) and control characters
/// (C0, DEL, C1; a tab is 0 too, expand tabs first); 1 for every other character. Each invalid
/// UTF-8 sequence counts 1, as the U+FFFD a terminal shows for it. An emoji sequence joined by
/// U+200D counts each of its emoji. display_width("abc") == 3, display_width("正面") == 4.
std::size_t display_width(std::string_view text);

/// @{
/// `text` followed (align_left) or preceded (align_right) by spaces up to `width` display
/// columns (display_width); `text` as it is when it is that wide already or wider. For text
/// tables whose cells hold any UTF-8, where std::setw pads by bytes (and fmt's "{:<N}" by a
/// table of its own, which gives combining marks a column).
std::string align_left(std::string_view text, std::size_t width);
std::string align_right(std::string_view text, std::size_t width);
/// @}

}  // namespace tapegrad::data
