/// @file
/// Text to ids: a word tokenizer and a vocabulary that is saved next to the model, so that
/// predictions use the same ids as training.
#pragma once

#include <array>
#include <cstddef>
#include <initializer_list>
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

/// The role of a special token in a Vocabulary.
enum class SpecialRole {
  pad,  ///< "<pad>": fills a batch past each sequence's end (an Embedding's padding_idx)
  unk,  ///< "<unk>": the id of every token the vocabulary lacks (torchtext's default index)
  sos,  ///< "<sos>": starts a sequence (a decoder's first input)
  eos,  ///< "<eos>": ends a sequence (a decoder's last target)
};

/// The name of a role in messages and in vocabulary files: "pad", "unk", "sos", "eos".
const char* role_name(SpecialRole role);

/// The special tokens of a Vocabulary, which come first in it in the order given here (ids 0,
/// 1, ...: torchtext's `specials` with `special_first=True`), and the role of each. A token
/// spelled "<pad>", "<unk>", "<sos>" or "<eos>" has the role of that name; set() gives a role
/// to a token spelled otherwise. A special without a role is still special: build() does not
/// count it in the data, is_special() is true for it and save() keeps it.
///
/// ```
///   Specials()                                    // "<pad>" = 0, "<unk>" = 1: the default
///   Specials{"<pad>", "<unk>", "<sos>", "<eos>"}  // ids 0 to 3, for sequence to sequence
///   Specials{"[PAD]", "[UNK]", "[CLS]", "[SEP]"}
///       .set(SpecialRole::pad, "[PAD]").set(SpecialRole::unk, "[UNK]")
///       .set(SpecialRole::sos, "[CLS]").set(SpecialRole::eos, "[SEP]")
/// ```
class Specials {
 public:
  /// "<pad>" and "<unk>", ids 0 and 1: the specials of a Vocabulary not given others, and of
  /// every vocabulary before they could be chosen.
  Specials();
  /// `tokens` in id order, each with the role its spelling names (if any). An empty token, a
  /// line break, text that is not UTF-8 or a duplicate is a value_error naming it.
  explicit Specials(std::vector<std::string> tokens);
  /// The same from a list: `Specials{"<pad>", "<unk>", "<sos>", "<eos>"}`.
  explicit Specials(std::initializer_list<std::string> tokens)
      : Specials(std::vector<std::string>(tokens)) {}
  /// No special token: build() counts every token, and an unknown token has no id (id() and
  /// encode() throw for it, as torchtext does without a default index).
  static Specials none();

  /// Gives `role` to `token`, one of tokens(), taking it from the token that had it. A token
  /// that is not special, or that has another role, is a value_error.
  Specials& set(SpecialRole role, const std::string& token);

  /// The special tokens in id order.
  const std::vector<std::string>& tokens() const { return tokens_; }
  /// Their number: the id of the first token that is not special.
  std::size_t size() const { return tokens_.size(); }
  /// Whether a token has `role`.
  bool has(SpecialRole role) const { return ids_[static_cast<std::size_t>(role)] >= 0; }
  /// The id of the token with `role`; a value_error naming the role and the specials when no
  /// token has it.
  Index id(SpecialRole role) const;

  /// The same tokens in the same order with the same roles.
  bool operator==(const Specials& other) const {
    return tokens_ == other.tokens_ && ids_ == other.ids_;
  }
  /// Not operator==.
  bool operator!=(const Specials& other) const { return !(*this == other); }

 private:
  friend class Vocabulary;
  static constexpr std::size_t num_roles = 4;
  // Roles from the file's header, not from the spelling (Vocabulary::load).
  Specials(std::vector<std::string> tokens, const std::array<Index, num_roles>& ids);
  std::vector<std::string> tokens_;
  std::array<Index, num_roles> ids_{-1, -1, -1, -1};  // per role: its token's id, or -1
};

/// What Vocabulary::encode adds around a token list's ids.
struct EncodeOptions {
  bool add_sos = false;  ///< sos_id() first: the input of a decoder trained with teacher forcing
  bool add_eos = false;  ///< eos_id() last: a target that teaches the model where to stop
};

/// What Vocabulary::decode leaves out.
struct DecodeOptions {
  bool skip_padding = false;  ///< leave out pad_id()
  /// End before the first eos_id() (which is left out), the rest being padding or what a
  /// decoder produced after it.
  bool stop_at_eos = false;
  bool skip_sos = false;  ///< leave out sos_id() (the start token a decoder's output begins with)
};

/// Token <-> id. The special tokens come first (by default "<pad>" = 0 and "<unk>" = 1; see
/// Specials), then the other tokens by descending frequency, ties in byte order, so the same
/// data always gives the same ids.
class Vocabulary {
 public:
  /// Only the default specials, "<pad>" and "<unk>".
  Vocabulary();
  /// The tokens in id order; the first specials.size() of them must be the specials, in their
  /// order. A missing or misplaced special, an empty token, a line break in a token, text that
  /// is not UTF-8 or a duplicate is a value_error.
  explicit Vocabulary(std::vector<std::string> tokens, Specials specials = {});

  /// @{
  /// The specials, then the tokens of `token_lists` seen at least `min_frequency` times (0 is
  /// taken as 1), at most `max_size` tokens in all including the specials (0: no limit):
  /// torchtext's build_vocab_from_iterator(token_lists, min_freq, specials, special_first=True,
  /// max_tokens). Occurrences of the specials in the data are not counted. An empty token or a
  /// line break in one, or a max_size below the number of specials, is a value_error.
  ///
  /// ```
  ///   const Specials seq2seq{"<pad>", "<unk>", "<sos>", "<eos>"};
  ///   const Vocabulary target_vocab = Vocabulary::build(target_sentences, seq2seq);
  /// ```
  static Vocabulary build(const std::vector<std::vector<std::string>>& token_lists,
                          std::size_t min_frequency = 1, std::size_t max_size = 0);
  static Vocabulary build(const std::vector<std::vector<std::string>>& token_lists,
                          const Specials& specials, std::size_t min_frequency = 1,
                          std::size_t max_size = 0);
  /// @}

  /// Writes one token per line (UTF-8, "\n"), atomically (a temporary file, then a rename).
  /// With the default specials the file is the token lines alone, line k holding id k - 1 (as
  /// every earlier version wrote); with other specials a first line states them, so that the
  /// token on line k holds id k - 2:
  ///
  /// ```
  ///   #tapegrad-vocab version=1 specials=4 pad=0 unk=1 sos=2 eos=3
  ///   <pad>
  ///   <unk>
  ///   <sos>
  ///   <eos>
  ///   the
  /// ```
  ///
  /// `specials=N`: the first N tokens are the specials; `pad=`, `unk=`, `sos=`, `eos=`: the id
  /// of the token with that role, each present only when a token has it.
  void save(const std::string& path) const;
  /// Reads what save writes ("\r\n" line ends and a UTF-8 byte order mark are accepted). A
  /// missing or empty file, a folder, a binary file (a NUL byte), an empty line, a duplicate
  /// token, a file without the header whose first two lines are not "<pad>" and "<unk>", or a
  /// header that is not as save writes it (an unknown or repeated field, a version other than
  /// 1, an id out of range, two roles on one token) is a value_error naming the file and the
  /// line.
  static Vocabulary load(const std::string& path);

  /// The number of tokens, the special ones included: an Embedding's num_embeddings.
  std::size_t size() const { return tokens_.size(); }
  /// Whether `token` has an id of its own (specials included).
  bool contains(std::string_view token) const;
  /// The id of a token; unk_id() for an unknown one, or a value_error naming it when the
  /// vocabulary has no "<unk>".
  Index id(std::string_view token) const;
  /// The token of an id; a value_error outside [0, size()).
  const std::string& token(Index id) const;
  /// Every token in id order.
  const std::vector<std::string>& tokens() const { return tokens_; }

  /// The special tokens and their roles.
  const Specials& specials() const { return specials_; }
  /// Whether `id` is a special token's (id < specials().size()); a value_error outside
  /// [0, size()).
  bool is_special(Index id) const;
  /// Whether a token has `role`.
  bool has(SpecialRole role) const { return specials_.has(role); }
  /// @{
  /// The id of "<pad>", "<unk>", "<sos>" or "<eos>" (the token with that role); a value_error
  /// naming the role and the specials when the vocabulary has none.
  Index pad_id() const;
  Index unk_id() const;
  Index sos_id() const;
  Index eos_id() const;
  /// @}

  /// Ids of tokens (unknown ones -> unk_id()), with sos_id() first and eos_id() last when
  /// `options` say so. An unknown token without "<unk>", or an option naming a special the
  /// vocabulary lacks, is a value_error.
  std::vector<Index> encode(const std::vector<std::string>& tokens,
                            const EncodeOptions& options = {}) const;
  /// encode of each token list: the ids of a data set.
  std::vector<std::vector<Index>> encode_all(
      const std::vector<std::vector<std::string>>& token_lists,
      const EncodeOptions& options = {}) const;
  /// Tokens of ids, less what `options` leave out. An id outside [0, size()) anywhere in `ids`
  /// is a value_error naming it, and so is an option naming a special the vocabulary lacks.
  ///
  /// ```
  ///   DecodeOptions clean;
  ///   clean.skip_sos = clean.stop_at_eos = true;
  ///   vocab.decode({sos, 7, 9, eos, pad, pad}, clean)  // -> {token(7), token(9)}
  /// ```
  std::vector<std::string> decode(const std::vector<Index>& ids,
                                  const DecodeOptions& options = {}) const;
  /// decode of the ids of a one-dimensional array or expression, such as a row of what argmax
  /// returns: `vocab.decode(xt::view(argmax(logits, -1), 0, xt::all()), clean)`. Ids of another
  /// number of dimensions are a value_error naming their shape.
  template <class E>
  std::vector<std::string> decode(const xt::xexpression<E>& ids,
                                  const DecodeOptions& options = {}) const {
    const E& e = ids.derived_cast();
    if (e.dimension() != 1) throw_not_one_dimension(Shape(e.shape().begin(), e.shape().end()));
    return decode(std::vector<Index>(e.begin(), e.end()), options);
  }

 private:
  [[noreturn]] static void throw_not_one_dimension(const Shape& shape);
  std::vector<std::string> tokens_;
  std::unordered_map<std::string, Index> ids_;
  Specials specials_;
};

}  // namespace tapegrad::data
