#include "tapegrad/data/text.hpp"

namespace tapegrad::data {

namespace {

enum class Kind { space, word, punct };

Kind kind_of(unsigned char c) {
  if (c >= 0x80) return Kind::word;  // UTF-8 lead and continuation bytes
  if (c <= 0x20 || c == 0x7f) return Kind::space;
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    return Kind::word;
  }
  return Kind::punct;
}

}  // namespace

std::vector<std::string> Tokenizer::operator()(std::string_view text) const {
  return tokenize(text, options_.max_tokens);
}

bool Tokenizer::exceeds_max_tokens(std::string_view text) const {
  return options_.max_tokens != 0 &&
         tokenize(text, options_.max_tokens + 1).size() > options_.max_tokens;
}

std::vector<std::string> Tokenizer::tokenize(std::string_view text, std::size_t limit) const {
  std::vector<std::string> tokens;
  std::string word;
  const auto flush = [&] {
    if (!word.empty()) tokens.push_back(std::move(word));
    word.clear();
  };
  const auto full = [&] { return limit != 0 && tokens.size() >= limit; };
  const auto at = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  for (std::size_t i = 0; i < text.size() && !full(); ++i) {
    unsigned char c = at(i);
    Kind kind = kind_of(c);
    if (kind == Kind::punct && c == '\'' && options_.inner_apostrophes && !word.empty() &&
        kind_of(at(i - 1)) == Kind::word && i + 1 < text.size() &&
        kind_of(at(i + 1)) == Kind::word) {
      kind = Kind::word;
    }
    if (kind == Kind::space) {
      flush();
      continue;
    }
    if (options_.lowercase && c >= 'A' && c <= 'Z') c = static_cast<unsigned char>(c - 'A' + 'a');
    if (kind == Kind::word || options_.punctuation == Punctuation::keep) {
      word.push_back(static_cast<char>(c));
    } else if (options_.punctuation == Punctuation::split) {
      flush();
      if (!full()) tokens.emplace_back(1, static_cast<char>(c));
    } else {
      flush();  // Punctuation::drop
    }
  }
  if (!full()) flush();
  return tokens;
}

std::vector<std::vector<std::string>> Tokenizer::tokenize_all(
    const std::vector<std::string>& texts) const {
  std::vector<std::vector<std::string>> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) out.push_back((*this)(text));
  return out;
}

}  // namespace tapegrad::data
