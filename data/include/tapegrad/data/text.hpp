/// @file
/// Text to ids: a word tokenizer and a vocabulary that is saved next to the model, so that
/// predictions use the same ids as training.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tapegrad/autograd/array.hpp"

namespace tapegrad::data {

/// What the tokenizer does with ASCII punctuation.
enum class Punctuation {
  split,  ///< every punctuation character is a token of its own: "it," -> "it" ","
  drop,   ///< punctuation separates words and is dropped: "it," -> "it"
  keep,   ///< split on whitespace only; punctuation stays in the word: "it," -> "it,"
};

/// How Tokenizer splits text into tokens.
struct TokenizerOptions {
  bool lowercase = true;  ///< ASCII letters only; other bytes are kept as they are
  Punctuation punctuation = Punctuation::split;  ///< split: each mark a token of its own
  /// An apostrophe between two word characters stays in the word ("didn't"); otherwise it is
  /// punctuation like any other.
  bool inner_apostrophes = true;
  /// Stop after this many tokens and leave the rest of the text unread (0: every token), so
  /// that a text of any length costs at most this many tokens: what PyTorch/Keras users know
  /// as max_length / maxlen, applied before the tokens are made.
  std::size_t max_tokens = 0;
};

/// A word tokenizer over bytes. Word characters are ASCII letters, digits, '_' and every byte
/// >= 0x80 (so UTF-8 text passes through whole, never split inside a character); ASCII
/// whitespace and control characters separate tokens; the other ASCII characters are
/// punctuation, handled as `options.punctuation` says.
///
/// ```
///   Tokenizer()("Great movie!! Didn't like it.")
///     -> {"great", "movie", "!", "!", "didn't", "like", "it", "."}
/// ```
class Tokenizer {
 public:
  /// A tokenizer with `options`; it holds nothing else, so copies tokenize alike.
  explicit Tokenizer(TokenizerOptions options = {}) : options_(options) {}
  /// The tokens of `text`, at most options().max_tokens of them when that is set.
  std::vector<std::string> operator()(std::string_view text) const;
  /// True when `text` has more tokens than options().max_tokens (always false without a
  /// limit); reads only as far as the first token past the limit.
  bool exceeds_max_tokens(std::string_view text) const;
  /// One token list per text.
  std::vector<std::vector<std::string>> tokenize_all(const std::vector<std::string>& texts) const;
  /// The options it was built with.
  const TokenizerOptions& options() const { return options_; }

 private:
  std::vector<std::string> tokenize(std::string_view text, std::size_t limit) const;
  TokenizerOptions options_;
};

/// Token <-> id. Ids 0 and 1 are the special tokens "<pad>" and "<unk>"; the other tokens
/// follow by descending frequency, ties in byte order, so the same data always gives the
/// same ids.
class Vocabulary {
 public:
  static constexpr Index pad_id = 0;  ///< the id of "<pad>", which pads batches
  static constexpr Index unk_id = 1;  ///< the id of "<unk>", which tokens not in it get
  static constexpr std::string_view pad_token = "<pad>";  ///< the token of pad_id
  static constexpr std::string_view unk_token = "<unk>";  ///< the token of unk_id

  /// Only the two special tokens.
  Vocabulary();
  /// The tokens in id order; the first two must be "<pad>" and "<unk>". A missing special
  /// token, an empty token, a line break in a token or a duplicate is a value_error.
  explicit Vocabulary(std::vector<std::string> tokens);

  /// Counts every token of `token_lists` and keeps those seen at least `min_frequency` times,
  /// at most `max_size` tokens in all including the specials (0: no limit). Occurrences of
  /// "<pad>" and "<unk>" in the data are not counted.
  static Vocabulary build(const std::vector<std::vector<std::string>>& token_lists,
                          std::size_t min_frequency = 1, std::size_t max_size = 0);

  /// Writes one token per line (UTF-8, "\n"), line k holding id k - 1; atomic (a temporary
  /// file, then a rename).
  void save(const std::string& path) const;
  /// Reads what save writes ("\r\n" line ends and a UTF-8 byte order mark are accepted). A
  /// missing or empty file, a folder, a binary file (a NUL byte), an empty line, a duplicate
  /// token or a first two lines other than "<pad>" and "<unk>" is a value_error naming the file
  /// and the line.
  static Vocabulary load(const std::string& path);

  /// The number of tokens, the two special ones included: an Embedding's num_embeddings.
  std::size_t size() const { return tokens_.size(); }
  /// Whether `token` has an id of its own (not unk_id).
  bool contains(std::string_view token) const;
  /// The id of a token; unk_id for an unknown one.
  Index id(std::string_view token) const;
  /// The token of an id; a value_error outside [0, size()).
  const std::string& token(Index id) const;
  /// Every token in id order.
  const std::vector<std::string>& tokens() const { return tokens_; }

  /// Ids of tokens (unknown ones -> unk_id).
  std::vector<Index> encode(const std::vector<std::string>& tokens) const;
  /// encode of each token list: the ids of a data set.
  std::vector<std::vector<Index>> encode_all(
      const std::vector<std::vector<std::string>>& token_lists) const;
  /// Tokens of ids; "<pad>" is left out when `skip_padding`. An id outside [0, size()) is a
  /// value_error naming it.
  std::vector<std::string> decode(const std::vector<Index>& ids, bool skip_padding = false) const;

 private:
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, Index> ids_;
};

}  // namespace tapegrad::data
