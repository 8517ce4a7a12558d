// tapegrad::data: tokenizer, vocabulary, label sets, labelled text files, padding, batching
// and splits.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <numeric>
#include <random>
#include <set>
#include <type_traits>

#include <unistd.h>

#include <xtensor/xview.hpp>

#include "helpers.hpp"
#include "tapegrad/autograd/limits.hpp"
#include "tapegrad/data.hpp"

namespace fs = std::filesystem;
using tapegrad::Generator;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::value_error;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;
using namespace tapegrad::data;

namespace {

using Strings = std::vector<std::string>;
using Ids = std::vector<Index>;
using Sizes = std::vector<std::size_t>;

// The message of the value_error that reading `path` with `options` throws.
std::string read_error(const std::string& path, const ReadOptions& options = {}) {
  return message_of<value_error>([&] { read_labelled_text(path, options); });
}

// Every index of 0 .. n-1 exactly once across the batches.
bool is_partition(const std::vector<Sizes>& batches, std::size_t n) {
  Sizes all;
  for (const auto& b : batches) all.insert(all.end(), b.begin(), b.end());
  std::sort(all.begin(), all.end());
  Sizes expected(n);
  std::iota(expected.begin(), expected.end(), 0);
  return all == expected;
}

// Padded cells (batch size times longest length) of all batches.
std::size_t padded_cells(const std::vector<Sizes>& batches, const Sizes& lengths) {
  std::size_t cells = 0;
  for (const auto& b : batches) {
    std::size_t longest = 0;
    for (std::size_t i : b) longest = std::max(longest, lengths[i]);
    cells += longest * b.size();
  }
  return cells;
}

}  // namespace

// ---- Tokenizer ----

TEST_CASE("tokenizer lowercases and splits punctuation into tokens") {
  const std::string text = "Great movie!! Didn't like it, though.";
  CHECK(Tokenizer()(text) ==
        Strings{"great", "movie", "!", "!", "didn't", "like", "it", ",", "though", "."});

  TokenizerOptions cased;
  cased.lowercase = false;
  CHECK(Tokenizer(cased)(text) ==
        Strings{"Great", "movie", "!", "!", "Didn't", "like", "it", ",", "though", "."});

  TokenizerOptions drop;
  drop.punctuation = Punctuation::drop;
  CHECK(Tokenizer(drop)(text) == Strings{"great", "movie", "didn't", "like", "it", "though"});
  CHECK(Tokenizer(drop)("a,b...c") == Strings{"a", "b", "c"});

  TokenizerOptions keep;
  keep.punctuation = Punctuation::keep;
  CHECK(Tokenizer(keep)(text) == Strings{"great", "movie!!", "didn't", "like", "it,", "though."});

  TokenizerOptions apostrophes;
  apostrophes.inner_apostrophes = false;
  CHECK(Tokenizer(apostrophes)("Didn't") == Strings{"didn", "'", "t"});
}

TEST_CASE("tokenizer apostrophes, whitespace, digits and empty input") {
  const Tokenizer tok;
  CHECK(tok("'Quoted' rock'n'roll dogs' 3.5") ==
        Strings{"'", "quoted", "'", "rock'n'roll", "dogs", "'", "3", ".", "5"});
  CHECK(tok("a\tb\nc\r\nd\v\fe  f") == Strings{"a", "b", "c", "d", "e", "f"});
  CHECK(tok(std::string("x\0y", 3)) == Strings{"x", "y"});
  CHECK(tok("snake_case ABC123") == Strings{"snake_case", "abc123"});
  CHECK(tok("").empty());
  CHECK(tok(" \t\n ").empty());
  CHECK(tok("!?") == Strings{"!", "?"});
  TokenizerOptions drop;
  drop.punctuation = Punctuation::drop;
  CHECK(Tokenizer(drop)("!? ...").empty());
  CHECK(tok.tokenize_all({"A b", "", "c!"}) == std::vector<Strings>{{"a", "b"}, {}, {"c", "!"}});
}

TEST_CASE("tokenizer keeps UTF-8 bytes as word characters and never splits a character") {
  const Tokenizer tok;
  // é = C3 A9, ï = C3 AF, em dash = E2 80 94, 日本語 = three 3-byte characters
  CHECK(
      tok("Café naïve \xE2\x80\x94 \xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E OK!") ==
      Strings{"café", "naïve", "\xE2\x80\x94", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "ok", "!"});
  // Non-ASCII capitals are not case-folded (bytes are kept as they are).
  CHECK(tok("\xC3\x89T\xC3\x89") == Strings{"\xC3\x89t\xC3\x89"});
  // Invalid UTF-8 (a lone continuation byte, 0xFF, a truncated sequence) does not crash.
  CHECK(tok("\x80\xFF abc \xE2\x80") == Strings{"\x80\xFF", "abc", "\xE2\x80"});
  // Every byte value, in every position, tokenizes without trouble.
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  std::size_t bytes = 0;
  for (const std::string& t : tok(all + all)) bytes += t.size();
  CHECK(bytes > 0);
}

// ---- Vocabulary ----

TEST_CASE("vocabulary by frequency, ties alphabetical, with a minimum frequency") {
  const std::vector<Strings> lists = {
      {"the", "cat", "sat"}, {"the", "dog", "sat"}, {"the", "cat"}, {"zebra", "apple"}};
  const Vocabulary all = Vocabulary::build(lists);
  CHECK(all.tokens() == Strings{"<pad>", "<unk>", "the", "cat", "sat", "apple", "dog", "zebra"});

  const Vocabulary vocab = Vocabulary::build(lists, 2);
  CHECK(vocab.tokens() == Strings{"<pad>", "<unk>", "the", "cat", "sat"});
  CHECK(vocab.size() == 5);
  CHECK(vocab.id("<pad>") == vocab.pad_id());
  CHECK(vocab.pad_id() == 0);
  CHECK(vocab.id("<unk>") == vocab.unk_id());
  CHECK(vocab.unk_id() == 1);
  CHECK(vocab.id("sat") == 4);
  CHECK(vocab.id("dog") == vocab.unk_id());
  CHECK(vocab.contains("cat"));
  CHECK_FALSE(vocab.contains("dog"));
  CHECK(vocab.token(2) == "the");
  CHECK(vocab.encode({"the", "dog", "sat", "bird"}) == Ids{2, 1, 4, 1});
  CHECK(vocab.encode_all({{"cat"}, {}}) == std::vector<Ids>{{3}, {}});
  CHECK(vocab.decode({2, 3, 1, 0, 0}) == Strings{"the", "cat", "<unk>", "<pad>", "<pad>"});
  DecodeOptions skip_padding;
  skip_padding.skip_padding = true;
  CHECK(vocab.decode({2, 3, 0}, skip_padding) == Strings{"the", "cat"});
  CHECK(vocab.specials() == Specials());
  CHECK(vocab.is_special(1));
  CHECK_FALSE(vocab.is_special(2));

  CHECK(Vocabulary::build(lists, 0).size() == 8);  // 0 keeps everything, as 1
  CHECK(Vocabulary::build(lists, 4).tokens() == Strings{"<pad>", "<unk>"});
  CHECK(Vocabulary::build(lists, 1, 4).tokens() == Strings{"<pad>", "<unk>", "the", "cat"});
  CHECK(Vocabulary::build({}).size() == 2);
  CHECK(Vocabulary().tokens() == Strings{"<pad>", "<unk>"});
  // The specials in the data are not counted and keep their ids.
  CHECK(Vocabulary::build({{"<unk>", "<pad>", "<unk>", "a"}}).tokens() ==
        Strings{"<pad>", "<unk>", "a"});
}

TEST_CASE("vocabulary errors name the token, list and id") {
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Vocabulary::build({{"a"}, {"b", ""}});
                    }),
                    "Vocabulary::build: token 1 of list 1 is empty");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Vocabulary::build({{"a\nb"}}); }),
                    "token 0 of list 0 is 'a\\nb', with a line break");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Vocabulary::build({{"a"}}, 1, 1); }),
                    "max_size 1 leaves no room for the 2 specials '<pad>', '<unk>'");
  const Vocabulary vocab = Vocabulary::build({{"a", "b"}});
  TG_CHECK_CONTAINS(message_of<value_error>([&] { vocab.token(4); }),
                    "Vocabulary::token: id 4 is outside [0, 4)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { vocab.token(-1); }), "id -1 is outside");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      vocab.decode({2, 7});
                    }),
                    "Vocabulary::decode: id 7 at position 1 is outside [0, 4)");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Vocabulary({"<unk>", "<pad>", "a"});
                    }),
                    "Vocabulary: the first 2 tokens must be the specials '<pad>', '<unk>', in "
                    "this order; they are '<unk>', '<pad>'");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Vocabulary({"<pad>"}); }),
                    "the first 2 tokens must be the specials '<pad>', '<unk>', in this order; "
                    "they are '<pad>'");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Vocabulary({"<pad>", "<unk>", "a", "a"});
                    }),
                    "Vocabulary: token 3 'a' is a duplicate of token 2");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Vocabulary({"<pad>", "<unk>", ""});
                    }),
                    "Vocabulary: token 2 is empty");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Vocabulary({"<pad>", "<unk>", "x\r"});
                    }),
                    "token 2 'x\\r' contains a line break");
}

TEST_CASE("vocabulary save and load round trip through a text file") {
  TempDir dir;
  const Vocabulary vocab =
      Vocabulary::build({{"the", "café", "the", "\xE6\x97\xA5", "naïve"}, {"café", "the"}});
  const std::string path = dir.file("vocab.txt");
  vocab.save(path);
  CHECK(read_bytes(path) == "<pad>\n<unk>\nthe\ncafé\nnaïve\n\xE6\x97\xA5\n");
  const Vocabulary loaded = Vocabulary::load(path);
  CHECK(loaded.tokens() == vocab.tokens());
  CHECK(loaded.encode({"café", "naïve", "other"}) == vocab.encode({"café", "naïve", "other"}));

  // Saving again replaces the file (atomically: no temporary file is left behind).
  Vocabulary::build({{"x"}}).save(path);
  CHECK(Vocabulary::load(path).tokens() == Strings{"<pad>", "<unk>", "x"});
  CHECK(std::distance(fs::directory_iterator(dir.path), fs::directory_iterator()) == 1);

  // Windows line ends, a byte order mark and no final line break are accepted.
  const std::string crlf = dir.write("crlf.txt", "\xEF\xBB\xBF<pad>\r\n<unk>\r\nhello\r\nworld");
  CHECK(Vocabulary::load(crlf).tokens() == Strings{"<pad>", "<unk>", "hello", "world"});

  TG_CHECK_CONTAINS(message_of<value_error>([&] { vocab.save(dir.file("no/such/vocab.txt")); }),
                    "no/such/vocab.txt");
}

TEST_CASE("vocabulary load errors name the file and the line") {
  TempDir dir;
  const std::string missing = dir.file("missing.txt");
  const std::string m1 = message_of<value_error>([&] { Vocabulary::load(missing); });
  TG_CHECK_CONTAINS(m1, "Vocabulary::load: cannot open '" + missing + "'");
  TG_CHECK_CONTAINS(m1, "No such file");

  const std::string empty = dir.write("empty.txt", "");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(empty); }),
                    "Vocabulary::load: '" + empty + "' is empty");
  const std::string bom_only = dir.write("bom.txt", "\xEF\xBB\xBF");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(bom_only); }), "is empty");

  const std::string dup = dir.write("dup.txt", "<pad>\n<unk>\nthe\ncat\nthe\n");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { Vocabulary::load(dup); }),
      "Vocabulary::load: '" + dup + "' line 5: duplicate token 'the' (first on line 3)");

  const std::string blank = dir.write("blank.txt", "<pad>\n<unk>\nthe\n\ncat\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(blank); }),
                    "'" + blank + "' line 4: empty token");

  const std::string unordered = dir.write("order.txt", "<unk>\n<pad>\nthe\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(unordered); }),
                    "'" + unordered +
                        "' line 1: expected '<pad>', got '<unk>' (a file without a "
                        "'#tapegrad-vocab' header starts with the specials '<pad>' and '<unk>')");
  const std::string short_file = dir.write("short.txt", "<pad>\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(short_file); }),
                    "'" + short_file + "' line 2: expected '<unk>', got the end of the file");
}

// ---- Vocabulary specials ----

namespace {

const Specials seq2seq{"<pad>", "<unk>", "<sos>", "<eos>"};

}  // namespace

TEST_CASE("vocabulary specials come first in the order given, roles by name or by set()") {
  const std::vector<Strings> lists = {{"<sos>", "a", "b", "a", "<eos>"}, {"<sos>", "b", "a"}};
  const Vocabulary vocab = Vocabulary::build(lists, seq2seq);
  CHECK(vocab.tokens() == Strings{"<pad>", "<unk>", "<sos>", "<eos>", "a", "b"});
  CHECK(vocab.specials() == seq2seq);
  CHECK(vocab.pad_id() == 0);
  CHECK(vocab.unk_id() == 1);
  CHECK(vocab.sos_id() == 2);
  CHECK(vocab.eos_id() == 3);
  CHECK(vocab.has(SpecialRole::eos));
  CHECK(vocab.is_special(3));
  CHECK_FALSE(vocab.is_special(4));
  CHECK(vocab.id("zebra") == 1);
  // max_size counts the specials; min_frequency does not apply to them.
  CHECK(Vocabulary::build(lists, seq2seq, 1, 5).tokens() ==
        Strings{"<pad>", "<unk>", "<sos>", "<eos>", "a"});
  CHECK(Vocabulary::build(lists, seq2seq, 9).size() == 4);

  // The order is the one given, whatever the names.
  const Vocabulary reversed =
      Vocabulary::build(lists, Specials{"<eos>", "<sos>", "<unk>", "<pad>"});
  CHECK(reversed.tokens() == Strings{"<eos>", "<sos>", "<unk>", "<pad>", "a", "b"});
  CHECK(reversed.eos_id() == 0);
  CHECK(reversed.sos_id() == 1);
  CHECK(reversed.unk_id() == 2);
  CHECK(reversed.pad_id() == 3);

  // Other spellings get their roles from set(); a special without a role is still special.
  Specials bert{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
  CHECK_FALSE(bert.has(SpecialRole::pad));
  bert.set(SpecialRole::pad, "[PAD]")
      .set(SpecialRole::unk, "[UNK]")
      .set(SpecialRole::sos, "[CLS]")
      .set(SpecialRole::eos, "[SEP]");
  const Vocabulary custom = Vocabulary::build({{"[MASK]", "x", "[CLS]"}}, bert);
  CHECK(custom.tokens() == Strings{"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "x"});
  CHECK(custom.eos_id() == 3);
  CHECK(custom.is_special(4));
  CHECK(custom.encode({"x", "y"}, {true, true}) == Ids{2, 5, 1, 3});
  // set() moves a role from the token that had it by its name.
  Specials moved{"<pad>", "<unk>", "<sos>", "<s>"};
  CHECK(moved.id(SpecialRole::sos) == 2);
  CHECK(moved.set(SpecialRole::sos, "<s>").id(SpecialRole::sos) == 3);
  CHECK(moved.set(SpecialRole::eos, "<sos>").id(SpecialRole::eos) == 2);

  // No specials at all: every token counted, and an unknown token has no id.
  const Vocabulary plain = Vocabulary::build({{"b", "<unk>", "b"}}, Specials::none());
  CHECK(plain.tokens() == Strings{"b", "<unk>"});
  CHECK(plain.specials().size() == 0);
  CHECK_FALSE(plain.is_special(0));
  CHECK_FALSE(plain.has(SpecialRole::unk));

  // The constructor takes the same specials.
  CHECK(Vocabulary({"<pad>", "<unk>", "<sos>", "<eos>", "z"}, seq2seq).eos_id() == 3);
  CHECK(Vocabulary({"<pad>", "<unk>", "x"}).specials() == Specials());
  CHECK(Vocabulary().specials() == Specials());
  CHECK(Specials() != seq2seq);
  CHECK(Specials{"<pad>", "<unk>"} == Specials());
}

TEST_CASE("vocabulary encode adds <sos> and <eos>, decode stops at <eos> and skips the rest") {
  const Vocabulary vocab = Vocabulary::build({{"a", "b", "a"}}, seq2seq);  // a = 4, b = 5
  CHECK(vocab.encode({"a", "b", "c"}) == Ids{4, 5, 1});
  EncodeOptions both;
  both.add_sos = both.add_eos = true;
  CHECK(vocab.encode({"a", "b", "c"}, both) == Ids{2, 4, 5, 1, 3});
  CHECK(vocab.encode({}, both) == Ids{2, 3});
  EncodeOptions eos_only;
  eos_only.add_eos = true;
  CHECK(vocab.encode_all({{"b"}, {}}, eos_only) == std::vector<Ids>{{5, 3}, {3}});

  const Ids output = {2, 4, 0, 5, 3, 4, 0, 0};  // <sos> a <pad> b <eos> a <pad> <pad>
  CHECK(vocab.decode(output) ==
        Strings{"<sos>", "a", "<pad>", "b", "<eos>", "a", "<pad>", "<pad>"});
  DecodeOptions stop;
  stop.stop_at_eos = true;
  CHECK(vocab.decode(output, stop) == Strings{"<sos>", "a", "<pad>", "b"});
  DecodeOptions clean;
  clean.skip_sos = clean.skip_padding = clean.stop_at_eos = true;
  CHECK(vocab.decode(output, clean) == Strings{"a", "b"});
  DecodeOptions skip;
  skip.skip_sos = skip.skip_padding = true;
  CHECK(vocab.decode(output, skip) == Strings{"a", "b", "<eos>", "a"});
  CHECK(vocab.decode({3, 4}, clean).empty());
  CHECK(vocab.decode({}, clean).empty());
  // Every id is checked, those after <eos> too.
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      vocab.decode({4, 3, 6}, clean);
                    }),
                    "Vocabulary::decode: id 6 at position 2 is outside [0, 6)");
  // From an array: what argmax returns, a row of it, or a whole one-dimensional array.
  const IndexArray best = {{2, 4, 5, 3, 0}, {5, 3, 0, 0, 0}};  // [B, T]
  CHECK(vocab.decode(xt::view(best, 0, xt::all()), clean) == Strings{"a", "b"});
  CHECK(vocab.decode(xt::view(best, 1, xt::all()), clean) == Strings{"b"});
  const IndexArray flat = {4, 4, 5};
  CHECK(vocab.decode(flat) == Strings{"a", "a", "b"});
  TG_CHECK_CONTAINS(message_of<value_error>([&] { vocab.decode(best); }),
                    "Vocabulary::decode: ids of shape [2,5] (expected one dimension)");
}

TEST_CASE("vocabulary specials errors name the role, the token and the specials") {
  const Vocabulary classic = Vocabulary::build({{"a"}});
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.sos_id(); }),
                    "Vocabulary::sos_id: the vocabulary has no sos token (its specials: '<pad>', "
                    "'<unk>'); build it with Specials{\"<pad>\", \"<unk>\", \"<sos>\", "
                    "\"<eos>\"} or set() the role");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.eos_id(); }),
                    "Vocabulary::eos_id: the vocabulary has no eos token");
  const Vocabulary plain = Vocabulary::build({{"a"}}, Specials::none());
  TG_CHECK_CONTAINS(message_of<value_error>([&] { plain.pad_id(); }),
                    "Vocabulary::pad_id: the vocabulary has no pad token (its specials: none)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { plain.unk_id(); }),
                    "Vocabulary::unk_id: the vocabulary has no unk token");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { plain.id("zebra"); }),
                    "Vocabulary::id: 'zebra' is not in the vocabulary, which has no unk token to "
                    "stand for it");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      plain.encode({"a", "zebra"});
                    }),
                    "Vocabulary::encode: token 1 'zebra' is not in the vocabulary, which has no "
                    "unk token to stand for it");

  EncodeOptions sos;
  sos.add_sos = true;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.encode({"a"}, sos); }),
                    "Vocabulary::encode: add_sos: the vocabulary has no sos token");
  EncodeOptions eos;
  eos.add_eos = true;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.encode({"a"}, eos); }),
                    "Vocabulary::encode: add_eos: the vocabulary has no eos token");
  DecodeOptions stop;
  stop.stop_at_eos = true;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.decode({2}, stop); }),
                    "Vocabulary::decode: stop_at_eos: the vocabulary has no eos token");
  DecodeOptions skip_sos;
  skip_sos.skip_sos = true;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.decode({2}, skip_sos); }),
                    "Vocabulary::decode: skip_sos: the vocabulary has no sos token");
  DecodeOptions skip_padding;
  skip_padding.skip_padding = true;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { plain.decode({0}, skip_padding); }),
                    "Vocabulary::decode: skip_padding: the vocabulary has no pad token");

  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.is_special(3); }),
                    "Vocabulary::is_special: id 3 is outside [0, 3)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { classic.is_special(-1); }), "id -1 is outside");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Vocabulary({"<pad>", "<unk>", "a"}, seq2seq);
                    }),
                    "Vocabulary: the first 4 tokens must be the specials '<pad>', '<unk>', "
                    "'<sos>', '<eos>', in this order; they are '<pad>', '<unk>', 'a'");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Vocabulary::build({{"a"}}, seq2seq, 1, 3); }),
                    "Vocabulary::build: max_size 3 leaves no room for the 4 specials '<pad>', "
                    "'<unk>', '<sos>', '<eos>' (0 means no limit)");

  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Specials{"<pad>", "<unk>", "<pad>"};
                    }),
                    "Specials: token 2 '<pad>' is a duplicate of token 0");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      Specials{"<pad>", ""};
                    }),
                    "Specials: token 1 is empty");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Specials{"<s>\n"}; }),
                    "Specials: token 0 '<s>\\n' contains a line break");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Specials{"caf\xE9"}; }),
                    "Specials: token 0 'caf\\xe9' is not valid UTF-8");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Specials().set(SpecialRole::sos, "<bos>"); }),
                    "Specials::set: '<bos>' is not one of the specials ('<pad>', '<unk>'), so it "
                    "cannot have the role sos");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Specials().set(SpecialRole::eos, "<pad>"); }),
                    "Specials::set: '<pad>' already has the role pad, so it cannot have the role "
                    "eos too");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Specials().id(SpecialRole::eos); }),
                    "Specials: no token has the role eos (the specials: '<pad>', '<unk>')");
  CHECK(std::string(role_name(SpecialRole::unk)) == "unk");
}

TEST_CASE(
    "vocabulary save and load keep the specials and their roles, and old files load as before") {
  TempDir dir;
  const std::string path = dir.file("vocab.txt");
  const Vocabulary vocab = Vocabulary::build({{"the", "cat", "the"}}, seq2seq);
  vocab.save(path);
  CHECK(read_bytes(path) ==
        "#tapegrad-vocab version=1 specials=4 pad=0 unk=1 sos=2 eos=3\n"
        "<pad>\n<unk>\n<sos>\n<eos>\nthe\ncat\n");
  const Vocabulary loaded = Vocabulary::load(path);
  CHECK(loaded.tokens() == vocab.tokens());
  CHECK(loaded.specials() == seq2seq);
  CHECK(loaded.sos_id() == 2);
  CHECK(loaded.eos_id() == 3);

  // Roles on tokens of any spelling, in any order, and specials without a role.
  Specials custom{"[CLS]", "[SEP]", "[MASK]", "[PAD]", "<unk>"};
  custom.set(SpecialRole::sos, "[CLS]")
      .set(SpecialRole::eos, "[SEP]")
      .set(SpecialRole::pad, "[PAD]");
  Vocabulary::build({{"x"}}, custom).save(path);
  CHECK(read_bytes(path) ==
        "#tapegrad-vocab version=1 specials=5 pad=3 unk=4 sos=0 eos=1\n"
        "[CLS]\n[SEP]\n[MASK]\n[PAD]\n<unk>\nx\n");
  const Vocabulary custom_loaded = Vocabulary::load(path);
  CHECK(custom_loaded.specials() == custom);
  CHECK(custom_loaded.pad_id() == 3);
  CHECK(custom_loaded.is_special(2));

  // No specials: a header that says so.
  Vocabulary::build({{"x", "y", "y"}}, Specials::none()).save(path);
  CHECK(read_bytes(path) == "#tapegrad-vocab version=1 specials=0\ny\nx\n");
  CHECK(Vocabulary::load(path).specials() == Specials::none());
  CHECK_FALSE(Vocabulary::load(path).has(SpecialRole::unk));

  // A file's roles are the header's, not the spellings': "<pad>" here is special, without a role.
  const std::string roleless =
      dir.write("roleless.txt", "#tapegrad-vocab version=1 specials=2 unk=1\n<pad>\n<unk>\nz\n");
  const Vocabulary no_pad = Vocabulary::load(roleless);
  CHECK_FALSE(no_pad.has(SpecialRole::pad));
  CHECK(no_pad.is_special(0));
  CHECK(no_pad.specials() != Specials());
  no_pad.save(path);
  CHECK(read_bytes(path) == read_bytes(roleless));

  // The default specials are saved without a header, byte for byte as before, and a file of
  // that format (a sentiment model's, a test fixture) loads with them.
  Vocabulary::build({{"b", "a", "b"}}).save(path);
  CHECK(read_bytes(path) == "<pad>\n<unk>\nb\na\n");
  const std::string old = dir.write("old.txt", "<pad>\n<unk>\nhello\n<sos>\n");
  const Vocabulary old_loaded = Vocabulary::load(old);
  CHECK(old_loaded.specials() == Specials());
  CHECK(old_loaded.tokens() == Strings{"<pad>", "<unk>", "hello", "<sos>"});
  CHECK_FALSE(old_loaded.is_special(3));  // a token like any other in the old format
  CHECK_FALSE(old_loaded.has(SpecialRole::sos));
  // A header naming the default specials loads as them (and saves without the header).
  const std::string same =
      dir.write("same.txt", "#tapegrad-vocab version=1 specials=2 unk=1 pad=0\n<pad>\n<unk>\nx\n");
  CHECK(Vocabulary::load(same).specials() == Specials());

  // A byte order mark and "\r\n" line ends, as in the old format; line numbers count the header.
  const std::string crlf = dir.write(
      "crlf.txt", "\xEF\xBB\xBF#tapegrad-vocab version=1 specials=1 eos=0\r\n<eos>\r\nx\r\n");
  CHECK(Vocabulary::load(crlf).tokens() == Strings{"<eos>", "x"});
  CHECK(Vocabulary::load(crlf).eos_id() == 0);
  const std::string dup =
      dir.write("dup.txt", "#tapegrad-vocab version=1 specials=1 eos=0\n<eos>\nx\nx\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(dup); }),
                    "'" + dup + "' line 4: duplicate token 'x' (first on line 3)");
}

TEST_CASE("vocabulary header errors name the file, line 1 and the field") {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"#tapegrad-vocab", "the first field must be version=1"},
      {"#tapegrad-vocab specials=2 version=1", "the first field must be version=1"},
      {"#tapegrad-vocab version=2 specials=2", "version 2 is not one this tapegrad reads (1)"},
      {"#tapegrad-vocab version=1", "specials= is missing"},
      {"#tapegrad-vocab version=1 specials=4", "specials=4 but the file has 3 token(s)"},
      {"#tapegrad-vocab version=1 specials=2 pad=2",
       "pad=2 is not the id of a special token "
       "(specials=2)"},
      {"#tapegrad-vocab version=1 specials=2 pad=0 eos=0", "pad and eos are the same token 0"},
      {"#tapegrad-vocab version=1 specials=2 bos=0", "unknown field 'bos'"},
      {"#tapegrad-vocab version=1 specials=2 specials=2", "specials is given twice"},
      {"#tapegrad-vocab version=1 specials=2 unk=1 unk=1", "unk is given twice"},
      {"#tapegrad-vocab version=1 specials=x", "specials=x is not a non-negative integer"},
      {"#tapegrad-vocab version=1 specials=-1", "specials=-1 is not a non-negative integer"},
      {"#tapegrad-vocab version=1 specials=", "specials= is not a non-negative integer"},
      {"#tapegrad-vocab version=1 specials=2x", "specials=2x is not a non-negative integer"},
      {"#tapegrad-vocab version=1 specials=99999999999999999999999",
       "specials=99999999999999999999999 is not a non-negative integer"},
      {"#tapegrad-vocab version=1  specials=2", "fields are separated by one space each"},
      {"#tapegrad-vocab version=1 specials=2 ", "fields are separated by one space each"},
      {"#tapegrad-vocabulary version=1", "fields are separated by one space each"},
      {"#tapegrad-vocab version=1 specials", "field 'specials' is not key=value"},
  };
  for (const auto& [header, part] : cases) {
    INFO("header: ", header);
    const std::string path = dir.write("bad.txt", header + "\n<pad>\n<unk>\nx\n");
    const std::string message = message_of<value_error>([&] { Vocabulary::load(path); });
    TG_CHECK_CONTAINS(message, "Vocabulary::load: '" + path + "' line 1: " + part);
    TG_CHECK_CONTAINS(message,
                      "(the header is '#tapegrad-vocab version=1 specials=N', then the "
                      "id of each role a special has: pad=, unk=, sos=, eos=)");
  }
  // The header alone: a vocabulary without tokens.
  const std::string empty = dir.write("empty.txt", "#tapegrad-vocab version=1 specials=0\n");
  CHECK(Vocabulary::load(empty).size() == 0);
}

// ---- LabelSet ----

TEST_CASE("label set: sorted names, numeric order for integers, or a given list") {
  const LabelSet sorted = LabelSet::from_labels({"pos", "neg", "pos", "neutral"});
  CHECK(sorted.names() == Strings{"neg", "neutral", "pos"});
  CHECK(sorted.id("pos") == 2);
  CHECK(sorted.name(1) == "neutral");
  CHECK(sorted.contains("neg"));
  CHECK_FALSE(sorted.contains("Neg"));
  CHECK(LabelSet::from_labels({"10", "2", "-1", "2", "0", "-30", "007"}).names() ==
        Strings{"-30", "-1", "0", "2", "007", "10"});
  CHECK(LabelSet::from_labels({"10", "2", "b"}).names() == Strings{"10", "2", "b"});
  CHECK(LabelSet::from_labels({}).size() == 0);

  const LabelSet given({"pos", "neg"});
  CHECK(given.id("neg") == 1);
  CHECK(given != sorted);
  CHECK(given == LabelSet({"pos", "neg"}));

  TG_CHECK_CONTAINS(message_of<value_error>([&] { given.id("neutral"); }),
                    "LabelSet: unknown label 'neutral' (labels: pos, neg)");
  Strings many;
  for (int i = 0; i < 25; ++i) many.push_back("c" + std::to_string(i));
  TG_CHECK_CONTAINS(message_of<value_error>([&] { LabelSet(many).id("x"); }),
                    "(labels: c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, "
                    "c15, c16, c17, c18, c19, ... (25 in all))");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { given.name(2); }),
                    "LabelSet: id 2 is outside [0, 2)");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      LabelSet({"a", "b", "a"});
                    }),
                    "LabelSet: label 2 'a' is a duplicate of label 0");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      LabelSet({"a", ""});
                    }),
                    "LabelSet: label 1 is empty");
}

TEST_CASE("label set save and load") {
  TempDir dir;
  const LabelSet labels({"pos", "neg", "neutral"});
  labels.save(dir.file("labels.txt"));
  CHECK(read_bytes(dir.file("labels.txt")) == "pos\nneg\nneutral\n");
  CHECK(LabelSet::load(dir.file("labels.txt")) == labels);
  const std::string dup = dir.write("dup.txt", "a\nb\na\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { LabelSet::load(dup); }),
                    "LabelSet::load: '" + dup + "' line 3: duplicate label 'a' (first on line 1)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { LabelSet::load(dir.file("none.txt")); }),
                    "LabelSet::load: cannot open '" + dir.file("none.txt") + "'");
}

// ---- read_labelled_text ----

TEST_CASE("read a TSV file with a header") {
  TempDir dir;
  const std::string path = dir.write("reviews.tsv",
                                     "label\ttext\npos\tGreat movie!\nneg\tBoring, \"really\".\n\n"
                                     "pos\tLoved it\n");
  const LabelledText data = read_labelled_text(path);
  CHECK(data.had_header);
  CHECK(data.size() == 3);
  CHECK(data.texts == Strings{"Great movie!", "Boring, \"really\".", "Loved it"});
  CHECK(data.label_set.names() == Strings{"neg", "pos"});
  CHECK(data.labels == Ids{1, 0, 1});
  CHECK(data.lines == Sizes{2, 3, 5});
}

TEST_CASE("read a CSV file with quoted fields, doubled quotes and line breaks") {
  TempDir dir;
  const std::string path = dir.write("reviews.CSV",
                                     "\xEF\xBB\xBFtext,label\r\n"
                                     "\"Great, really great\",pos\r\n"
                                     "\"He said \"\"wow\"\"\",pos\r\n"
                                     "\"two\nlines\",neg\r\n"
                                     "plain text ,neg\r\n"
                                     "\"\",neg\r\n"
                                     "   \r\n"
                                     "\"last, without a line break\",\" neg \"");
  const LabelledText data = read_labelled_text(path);
  CHECK(data.texts == Strings{"Great, really great", "He said \"wow\"", "two\nlines", "plain text ",
                              "", "last, without a line break"});
  CHECK(data.labels == Ids{1, 1, 0, 0, 0, 0});  // labels are trimmed
  CHECK(data.lines == Sizes{2, 3, 4, 6, 7, 9});
}

TEST_CASE("read by column index, with the header detected or given") {
  TempDir dir;
  ReadOptions by_index;
  by_index.label = 0;
  by_index.text = 1;

  // No header: labels are all distinct and no cell is a usual column name.
  const std::string plain = dir.write("plain.tsv", "pos\tgood\nneg\tbad\n");
  LabelledText data = read_labelled_text(plain, by_index);
  CHECK_FALSE(data.had_header);
  CHECK(data.texts == Strings{"good", "bad"});

  // A usual column name that occurs nowhere else is a header.
  const std::string named = dir.write("named.tsv", "Sentiment\tsomething\npos\tgood\nneg\tbad\n");
  data = read_labelled_text(named, by_index);
  CHECK(data.had_header);
  CHECK(data.texts == Strings{"good", "bad"});

  // Integer labels under a non-integer first label: a header.
  const std::string numeric = dir.write("numeric.tsv", "y_true\tx\n1\tgood\n0\tbad\n10\tok\n");
  data = read_labelled_text(numeric, by_index);
  CHECK(data.had_header);
  CHECK(data.label_set.names() == Strings{"0", "1", "10"});
  CHECK(data.labels == Ids{1, 0, 2});

  // The first label occurs again: data, even if it looks like a name.
  const std::string repeated = dir.write("repeated.tsv", "label\tx\nlabel\ty\n");
  CHECK_FALSE(read_labelled_text(repeated, by_index).had_header);

  // Header::absent and Header::present override the detection.
  by_index.header = Header::absent;
  data = read_labelled_text(named, by_index);
  CHECK(data.size() == 3);
  CHECK(data.label_set.names() == Strings{"Sentiment", "neg", "pos"});
  by_index.header = Header::present;
  CHECK(read_labelled_text(plain, by_index).texts == Strings{"bad"});

  // With a fixed label set, the first record is a header when its label is not in the set.
  ReadOptions fixed;
  fixed.label = 0;
  fixed.text = 1;
  fixed.labels = LabelSet({"pos", "neg"});
  data = read_labelled_text(named, fixed);
  CHECK(data.had_header);
  CHECK(data.labels == Ids{0, 1});
  CHECK(data.label_set.names() == Strings{"pos", "neg"});
  CHECK_FALSE(read_labelled_text(plain, fixed).had_header);
}

TEST_CASE("read by column name, in any order and case, with an explicit format") {
  TempDir dir;
  const std::string path = dir.write("reviews.txt", "id,Review,SENTIMENT\n7,nice,pos\n8,bad,neg\n");
  ReadOptions options;
  options.format = TextFormat::csv;
  options.text = "review";
  options.label = "sentiment";
  const LabelledText data = read_labelled_text(path, options);
  CHECK(data.texts == Strings{"nice", "bad"});
  CHECK(data.labels == Ids{1, 0});

  // TSV fields with CSV quoting, when asked for.
  const std::string tsv = dir.write("quoted.tsv", "text\tlabel\n\"a\tb \"\"c\"\"\"\tx\nplain\ty\n");
  ReadOptions quoted;
  quoted.tsv_quotes = true;
  CHECK(read_labelled_text(tsv, quoted).texts == Strings{"a\tb \"c\"", "plain"});
  const std::string unquoted = dir.write("unquoted.tsv", "text\tlabel\n\"quoted\" here\tx\n");
  CHECK(read_labelled_text(unquoted).texts == Strings{"\"quoted\" here"});
}

TEST_CASE("read errors name the file, the line and the reason") {
  TempDir dir;
  const std::string missing = dir.file("missing.tsv");
  const std::string m = read_error(missing);
  TG_CHECK_CONTAINS(m, "read_labelled_text: cannot open '" + missing + "'");
  TG_CHECK_CONTAINS(m, "No such file");

  const std::string empty = dir.write("empty.tsv", "");
  TG_CHECK_CONTAINS(read_error(empty), "read_labelled_text: '" + empty + "' is empty");
  const std::string blank = dir.write("blank.csv", "\n  \r\n\t\n");
  TG_CHECK_CONTAINS(read_error(blank), "'" + blank + "' is empty");
  const std::string header_only = dir.write("header.tsv", "label\ttext\n");
  TG_CHECK_CONTAINS(read_error(header_only),
                    "'" + header_only + "' has a header line but no examples");

  const std::string txt = dir.write("data.txt", "label\ttext\npos\tx\n");
  TG_CHECK_CONTAINS(read_error(txt), "cannot tell the format of '" + txt +
                                         "' from its extension ('.txt'); set "
                                         "ReadOptions::format to TextFormat::tsv");
  const std::string noext = dir.write("data", "label\ttext\npos\tx\n");
  TG_CHECK_CONTAINS(read_error(noext), "from its extension (none)");

  const std::string columns = dir.write("cols.csv", "text,label\ngood,pos\ngood, bad,neg\n");
  TG_CHECK_CONTAINS(
      read_error(columns),
      "'" + columns + "' line 3: expected 2 fields, got 3 (a field with a comma must be quoted)");
  const std::string short_row = dir.write("short.tsv", "text\tlabel\ngood\tpos\n\nbad\n");
  TG_CHECK_CONTAINS(read_error(short_row), "'" + short_row + "' line 4: expected 2 fields, got 1");

  const std::string open_quote =
      dir.write("quote.csv", "text,label\ngood,pos\n\"never closed,neg\nmore,pos\n");
  TG_CHECK_CONTAINS(read_error(open_quote),
                    "'" + open_quote + "' line 3: unterminated quote in field 1");
  const std::string after_quote = dir.write("after.csv", "text,label\n\"good\"x,pos\n");
  TG_CHECK_CONTAINS(
      read_error(after_quote),
      "'" + after_quote + "' line 2: unexpected character 'x' after the closing quote of field 1");

  const std::string no_label = dir.write("nolabel.tsv", "text\tlabel\ngood\tpos\nbad\t  \n");
  TG_CHECK_CONTAINS(read_error(no_label), "'" + no_label + "' line 3: empty label");
  const std::string broken = dir.write("broken.csv", "text,label\ngood,pos\nbad,\"ne\ng\"\n");
  TG_CHECK_CONTAINS(read_error(broken),
                    "'" + broken + "' line 3: label 'ne\\ng' contains a line break");

  ReadOptions fixed;
  fixed.labels = LabelSet({"neg", "pos"});
  const std::string unknown = dir.write("unknown.tsv", "text\tlabel\ngood\tpos\nmeh\tneutral\n");
  TG_CHECK_CONTAINS(read_error(unknown, fixed),
                    "'" + unknown + "' line 3: unknown label 'neutral' (labels: neg, pos)");

  ReadOptions review;
  review.text = "review";
  TG_CHECK_CONTAINS(read_error(unknown, review),
                    "'" + unknown +
                        "' line 1: no text column 'review' in the header (columns: "
                        "text, label)");
  review.header = Header::absent;
  TG_CHECK_CONTAINS(read_error(unknown, review),
                    "'" + unknown +
                        "': the text column is given by name ('review'), but there is no "
                        "header line");

  ReadOptions far;
  far.text = 0;
  far.label = 5;
  TG_CHECK_CONTAINS(read_error(unknown, far),
                    "'" + unknown +
                        "' line 1: the label column index 5 is out of range for 2 "
                        "fields");
  ReadOptions same;
  same.text = 1;
  same.label = 1;
  TG_CHECK_CONTAINS(read_error(unknown, same),
                    "'" + unknown + "': text and label are the same column (1)");
  TG_CHECK_CONTAINS(message_of<value_error>([] { Column c(-1); }), "Column: index -1 is negative");
}

TEST_CASE("every truncation and byte flip of a CSV file reads or is a value_error") {
  TempDir dir;
  const std::string bytes =
      "text,label\r\n\"a, \"\"quoted\"\"\nline\",pos\r\nplain,neg\r\n\"x\",\" pos\"\r\n";
  const std::string path = dir.file("cut.csv");
  std::size_t read = 0, rejected = 0;
  const auto attempt = [&](const std::string& content) {
    dir.write("cut.csv", content);
    try {
      const LabelledText data = read_labelled_text(path);
      CHECK(data.texts.size() == data.labels.size());
      ++read;
    } catch (const value_error& e) {
      TG_CHECK_CONTAINS(std::string(e.what()), path);
      ++rejected;
    }
  };
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) attempt(bytes.substr(0, cut));
  for (std::size_t pos = 0; pos < bytes.size(); ++pos) {
    for (const char c : {'"', ',', '\n', '\r', '\0', '\xff'}) {
      std::string bad = bytes;
      bad[pos] = c;
      attempt(bad);
    }
  }
  CHECK(read + rejected == bytes.size() + 1 + 6 * bytes.size());
  CHECK(read > 0);
  CHECK(rejected > 0);
}

// ---- padding and batches ----

TEST_CASE("pad_sequences: time-major ids, lengths, batch-major option and a cut") {
  const std::vector<Ids> seqs = {{5, 6, 7}, {8}, {9, 10}};
  const Batch b = pad_sequences(seqs);
  CHECK(b.ids == IndexArray{{5, 8, 9}, {6, 0, 10}, {7, 0, 0}});
  CHECK(b.lengths == Sizes{3, 1, 2});
  CHECK(b.size() == 3);
  CHECK(b.targets.size() == 0);

  PadOptions batch_major;
  batch_major.layout = Layout::batch_major;
  batch_major.pad_id = -1;
  CHECK(pad_sequences(seqs, batch_major).ids == IndexArray{{5, 6, 7}, {8, -1, -1}, {9, 10, -1}});

  PadOptions cut;
  cut.max_length = 2;
  const Batch c = pad_sequences(seqs, cut);
  CHECK(c.ids == IndexArray{{5, 8, 9}, {6, 0, 10}});
  CHECK(c.lengths == Sizes{2, 1, 2});

  const Batch single = pad_sequences({{4}});
  CHECK(tapegrad::shape_str(single.ids.shape()) == "[1,1]");

  TG_CHECK_CONTAINS(message_of<value_error>([] { pad_sequences({}); }),
                    "pad_sequences: no sequences");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      pad_sequences({{1}, {2}, {}});
                    }),
                    "pad_sequences: sequence 2 is empty (a recurrent layer needs at least one "
                    "step)");
}

TEST_CASE("make_batch takes examples by index, with their targets") {
  const std::vector<Ids> seqs = {{1, 2}, {3}, {4, 5, 6}, {7}};
  const Ids labels = {0, 1, 1, 0};
  const Batch b = make_batch(seqs, labels, {2, 0});
  CHECK(b.ids == IndexArray{{4, 1}, {5, 2}, {6, 0}});
  CHECK(b.lengths == Sizes{3, 2});
  CHECK(b.targets == IndexArray{1, 0});
  CHECK(b.indices == Sizes{2, 0});
  CHECK(make_batch(seqs, {}, {1}).targets.size() == 0);
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      make_batch(seqs, {0, 1}, {0});
                    }),
                    "make_batch: 2 labels for 4 sequences");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      make_batch(seqs, labels, {1, 4});
                    }),
                    "make_batch: index 4 is out of range for 4 sequences");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { make_batch(seqs, labels, {}); }),
                    "make_batch: no sequences");
}

TEST_CASE("batch_indices: order, drop_last, and every example once") {
  const Sizes lengths(10, 3);
  Generator gen(0);
  BatchOptions plain;
  plain.batch_size = 4;
  plain.shuffle = false;
  CHECK(batch_indices(lengths, plain, gen) ==
        std::vector<Sizes>{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}});
  plain.drop_last = true;
  CHECK(batch_indices(lengths, plain, gen) == std::vector<Sizes>{{0, 1, 2, 3}, {4, 5, 6, 7}});
  plain.batch_size = 5;
  CHECK(batch_indices(lengths, plain, gen).size() == 2);  // nothing to drop
  plain.batch_size = 20;
  CHECK(batch_indices(lengths, plain, gen).empty());
  CHECK(batch_indices({}, plain, gen).empty());

  BatchOptions shuffled;
  shuffled.batch_size = 3;
  const auto epoch = batch_indices(lengths, shuffled, gen);
  CHECK(epoch.size() == 4);
  CHECK(epoch.back().size() == 1);
  CHECK(is_partition(epoch, 10));
  CHECK(epoch != batch_indices(lengths, plain, gen));

  shuffled.batch_size = 0;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { batch_indices(lengths, shuffled, gen); }),
                    "batch_indices: batch_size is 0");
}

TEST_CASE("shuffling is determined by the seed") {
  const Sizes lengths(100, 1);
  BatchOptions options;
  options.batch_size = 8;
  Generator a(7), b(7), c(8);
  const auto a1 = batch_indices(lengths, options, a);
  const auto a2 = batch_indices(lengths, options, a);
  CHECK(a1 == batch_indices(lengths, options, b));
  CHECK(a2 == batch_indices(lengths, options, b));
  CHECK(a1 != a2);  // the next epoch has another order
  CHECK(a1 != batch_indices(lengths, options, c));
  CHECK(is_partition(a1, 100));
  CHECK(is_partition(a2, 100));
  // The permutation is ours (not the standard library's), so it is the same on every
  // platform: the first batch for seed 7.
  Generator d(7);
  CHECK(batch_indices(lengths, options, d).front() == Sizes{33, 68, 32, 27, 7, 63, 54, 44});
}

TEST_CASE("length bucketing keeps batches of similar lengths and cuts the padding") {
  std::mt19937_64 engine(3);
  Sizes lengths(1000);
  for (auto& l : lengths) l = 1 + static_cast<std::size_t>(engine() % 100);
  BatchOptions options;
  options.batch_size = 32;
  Generator g1(5), g2(5);
  const auto plain = batch_indices(lengths, options, g1);
  options.bucket_batches = 5;  // sort within chunks of 160 examples
  const auto bucketed = batch_indices(lengths, options, g2);
  CHECK(plain.size() == 32);
  CHECK(bucketed.size() == 32);
  CHECK(is_partition(bucketed, 1000));
  const std::size_t tokens = std::accumulate(lengths.begin(), lengths.end(), std::size_t{0});
  const std::size_t plain_cells = padded_cells(plain, lengths);
  const std::size_t bucketed_cells = padded_cells(bucketed, lengths);
  CAPTURE(tokens);
  CAPTURE(plain_cells);
  CAPTURE(bucketed_cells);
  CHECK(plain_cells > tokens * 17 / 10);     // random batches: about twice the tokens
  CHECK(bucketed_cells < tokens * 13 / 10);  // chunks of 5 batches: under 30% padding
  CHECK(bucketed_cells < plain_cells * 2 / 3);
  // Chunks of 50 batches (all 1000 examples here): almost no padding.
  options.bucket_batches = 50;
  Generator g4(5);
  CHECK(padded_cells(batch_indices(lengths, options, g4), lengths) < tokens * 21 / 20);
  // Only the last batch is smaller, and the batches are not in length order (shuffled).
  std::size_t small = 0;
  for (const auto& b : bucketed) small += b.size() < 32 ? 1 : 0;
  CHECK(small == 1);
  Sizes longest;
  for (const auto& b : bucketed) {
    std::size_t m = 0;
    for (std::size_t i : b) m = std::max(m, lengths[i]);
    longest.push_back(m);
  }
  CHECK_FALSE(std::is_sorted(longest.begin(), longest.end(), std::greater<>()));

  // Without shuffling, bucketing sorts each chunk by length, longest first.
  options.shuffle = false;
  options.batch_size = 2;
  options.bucket_batches = 2;
  Generator g3(0);
  CHECK(batch_indices({3, 1, 4, 1, 5, 9, 2}, options, g3) ==
        std::vector<Sizes>{{2, 0}, {1, 3}, {5, 4}, {6}});
}

TEST_CASE("BatchIterator yields padded batches with targets, epoch after epoch") {
  const std::vector<Ids> seqs = {{1}, {2, 2}, {3, 3, 3}, {4}, {5, 5}, {6}, {7, 7, 7, 7}};
  const Ids labels = {0, 1, 0, 1, 0, 1, 0};
  BatchOptions options;
  options.batch_size = 3;
  options.seed = 11;
  BatchIterator batches(seqs, labels, options);
  CHECK(batches.num_batches() == 3);
  CHECK(batches.num_examples() == 7);

  std::vector<Sizes> first;
  std::size_t count = 0;
  for (const Batch& batch : batches.epoch()) {
    ++count;
    first.push_back(batch.indices);
    REQUIRE(batch.size() == batch.indices.size());
    CHECK(batch.ids.shape()[1] == batch.size());
    for (std::size_t b = 0; b < batch.size(); ++b) {
      const Ids& s = seqs[batch.indices[b]];
      CHECK(batch.lengths[b] == s.size());
      CHECK(batch.targets(b) == labels[batch.indices[b]]);
      for (std::size_t t = 0; t < batch.ids.shape()[0]; ++t) {
        CHECK(batch.ids(t, b) == (t < s.size() ? s[t] : Index{0}));
      }
    }
  }
  CHECK(count == 3);
  CHECK(is_partition(first, 7));
  const BatchIterator::Epoch second = batches.epoch();
  CHECK(second.size() == 3);
  CHECK(second.indices() != first);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { second.batch(3); }),
                    "BatchIterator::Epoch: batch 3 is out of range for 3 batches");

  // The same seed gives the same epochs.
  BatchIterator again(seqs, labels, options);
  CHECK(again.epoch().indices() == first);
  CHECK(again.epoch().indices() == second.indices());

  // drop_last, no labels, batch-major padding.
  options.drop_last = true;
  options.pad.layout = Layout::batch_major;
  BatchIterator dropping(seqs, options);
  CHECK(dropping.num_batches() == 2);
  const BatchIterator::Epoch e = dropping.epoch();
  CHECK(e.size() == 2);
  const Batch b0 = e.batch(0);
  CHECK(b0.ids.shape()[0] == 3);
  CHECK(b0.targets.size() == 0);

  // Temporaries cannot be given: the iterator refers to the data.
  static_assert(!std::is_constructible_v<BatchIterator, std::vector<Ids>&&, const Ids&>);
  static_assert(!std::is_constructible_v<BatchIterator, const std::vector<Ids>&, Ids&&>);
  static_assert(!std::is_constructible_v<BatchIterator, std::vector<Ids>&&>);

  const Ids two = {0, 1};
  TG_CHECK_CONTAINS(message_of<value_error>([&] { BatchIterator bad(seqs, two); }),
                    "BatchIterator: 2 labels for 7 sequences");
  const std::vector<Ids> with_empty = {{1}, {}};
  TG_CHECK_CONTAINS(message_of<value_error>([&] { BatchIterator bad(with_empty); }),
                    "BatchIterator: sequence 1 is empty");
  options.batch_size = 0;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { BatchIterator bad(seqs, labels, options); }),
                    "BatchIterator: batch_size is 0");
}

// ---- splits ----

TEST_CASE("split_indices: sizes by fractions, disjoint, sorted, seeded") {
  const Split s = split_indices(10);
  CHECK(s.train.size() == 8);
  CHECK(s.valid.size() == 1);
  CHECK(s.test.size() == 1);
  CHECK(is_partition({s.train, s.valid, s.test}, 10));
  CHECK(std::is_sorted(s.train.begin(), s.train.end()));

  SplitOptions seeded;
  seeded.seed = 1;
  const Split a = split_indices(1000, seeded);
  const Split b = split_indices(1000, seeded);
  CHECK(a.train == b.train);
  CHECK(a.valid == b.valid);
  seeded.seed = 2;
  CHECK(split_indices(1000, seeded).valid != a.valid);
  CHECK(a.train.size() == 800);
  CHECK(is_partition({a.train, a.valid, a.test}, 1000));

  // Largest remainders: 7 * (0.5, 0.25, 0.25) = (3.5, 1.75, 1.75) -> (3, 2, 2).
  SplitOptions quarters;
  quarters.train = 0.5;
  quarters.valid = 0.25;
  quarters.test = 0.25;
  const Split q = split_indices(7, quarters);
  CHECK(Sizes{q.train.size(), q.valid.size(), q.test.size()} == Sizes{3, 2, 2});
  const Split one = split_indices(1, quarters);
  CHECK(Sizes{one.train.size(), one.valid.size(), one.test.size()} == Sizes{1, 0, 0});
  CHECK(split_indices(0).train.empty());

  SplitOptions two_way;
  two_way.train = 0.7;
  two_way.valid = 0.3;
  two_way.test = 0.0;
  const Split t = split_indices(11, two_way);
  CHECK(Sizes{t.train.size(), t.valid.size(), t.test.size()} == Sizes{8, 3, 0});
}

TEST_CASE("stratified_split keeps each class's proportions") {
  Ids labels;
  for (int i = 0; i < 100; ++i) labels.push_back(i % 10 < 5 ? 0 : (i % 10 < 8 ? 1 : 2));
  // 50 of class 0, 30 of class 1, 20 of class 2, interleaved
  const Split s = stratified_split(labels);
  CHECK(is_partition({s.train, s.valid, s.test}, 100));
  const auto per_class = [&](const Sizes& part) {
    Sizes counts(3, 0);
    for (std::size_t i : part) ++counts[static_cast<std::size_t>(labels[i])];
    return counts;
  };
  CHECK(per_class(s.train) == Sizes{40, 24, 16});
  CHECK(per_class(s.valid) == Sizes{5, 3, 2});
  CHECK(per_class(s.test) == Sizes{5, 3, 2});

  // Ten classes of 5: each class alone rounds to (4, 0.5, 0.5), and the carried rounding
  // still gives the parts 40 / 5 / 5.
  Ids small;
  for (int i = 0; i < 50; ++i) small.push_back(i % 10);
  const Split t = stratified_split(small);
  CHECK(Sizes{t.train.size(), t.valid.size(), t.test.size()} == Sizes{40, 5, 5});
  CHECK(is_partition({t.train, t.valid, t.test}, 50));
  std::set<Index> valid_classes, test_classes;
  for (std::size_t i : t.valid) valid_classes.insert(small[i]);
  for (std::size_t i : t.test) test_classes.insert(small[i]);
  CHECK(valid_classes.size() == 5);  // at most one of each class in the 5 validation examples
  CHECK(test_classes.size() == 5);

  SplitOptions seeded;
  seeded.seed = 9;
  CHECK(stratified_split(labels, seeded).valid == stratified_split(labels, seeded).valid);
  CHECK(stratified_split(labels, seeded).valid != s.valid);
  CHECK(stratified_split({}).train.empty());
}

TEST_CASE("split fractions and labels are checked") {
  const auto fractions_error = [](double train, double valid, double test) {
    SplitOptions o;
    o.train = train;
    o.valid = valid;
    o.test = test;
    return message_of<value_error>([&] { split_indices(10, o); });
  };
  TG_CHECK_CONTAINS(fractions_error(0.8, 0.3, 0.1),
                    "split_indices: fractions must be in [0, 1] with train > 0 and sum to 1, got "
                    "train 0.8, valid 0.3, test 0.1 (sum 1.2");
  TG_CHECK_CONTAINS(fractions_error(1.2, -0.1, -0.1), "got train 1.2, valid -0.1, test -0.1");
  TG_CHECK_CONTAINS(fractions_error(0.0, 0.5, 0.5), "train > 0");
  TG_CHECK_CONTAINS(fractions_error(std::nan(""), 0.5, 0.5), "got train nan");
  TG_CHECK_CONTAINS(fractions_error(0.5, 0.2, 0.2), "(sum 0.9");
  SplitOptions bad;
  bad.test = 0.5;
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      stratified_split({0, 1}, bad);
                    }),
                    "stratified_split: fractions must be in [0, 1]");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      stratified_split({0, 1, -2});
                    }),
                    "stratified_split: label -2 at position 2 is negative");
}

TEST_CASE("select takes items by index") {
  const Strings texts = {"a", "b", "c"};
  CHECK(select(texts, {2, 0}) == Strings{"c", "a"});
  CHECK(select(texts, {}).empty());
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      select(texts, {1, 3});
                    }),
                    "select: index 3 is out of range for 3 items");
}

// ---- untrusted text: UTF-8, long texts, batch budgets ----

TEST_CASE(
    "find_invalid_utf8 and replace_invalid_utf8 follow RFC 3629 and Unicode's maximal subparts") {
  CHECK(find_invalid_utf8("") == std::string::npos);
  CHECK(find_invalid_utf8("plain ascii, long enough for the 8-byte path") == std::string::npos);
  CHECK(find_invalid_utf8("caf\xC3\xA9 \xE4\xB8\xAD\xE6\x96\x87 \xF0\x9F\x98\x80") ==
        std::string::npos);
  CHECK(find_invalid_utf8("caf\xE9 au lait") == 3);        // Latin-1 e-acute
  CHECK(find_invalid_utf8("0123456789abcdef\xFF") == 16);  // after an ASCII run
  CHECK(find_invalid_utf8("\xC0\xAF") == 0);               // overlong '/'
  CHECK(find_invalid_utf8("\xE0\x80\xAF") == 0);           // overlong, 3 bytes
  CHECK(find_invalid_utf8("a\xED\xA0\x80") == 1);          // a surrogate
  CHECK(find_invalid_utf8("\xF4\x90\x80\x80") == 0);       // above U+10FFFF
  CHECK(find_invalid_utf8("ok \xE4\xB8") == 3);            // cut inside a character
  CHECK(find_invalid_utf8("\x80") == 0);                   // a lone continuation byte
  std::size_t replaced = 0;
  CHECK(replace_invalid_utf8("caf\xE9!", &replaced) == "caf\xEF\xBF\xBD!");
  CHECK(replaced == 1);
  // One U+FFFD per maximal subpart: E4 B8 (a cut character) is one, FF another.
  CHECK(replace_invalid_utf8("\xE4\xB8\xFF"
                             "a",
                             &replaced) ==
        "\xEF\xBF\xBD\xEF\xBF\xBD"
        "a");
  CHECK(replaced == 2);
  CHECK(replace_invalid_utf8("\xC3\xA9", &replaced) == "\xC3\xA9");
  CHECK(replaced == 0);
}

TEST_CASE("display_width counts terminal columns: wide CJK and emoji 2, combining marks 0") {
  CHECK(display_width("") == 0);
  CHECK(display_width("neutral") == 7);                     // ASCII: a column a byte
  CHECK(display_width("caf\xC3\xA9") == 4);                 // precomposed e-acute, 2 bytes
  CHECK(display_width("\xE6\xAD\xA3\xE9\x9D\xA2") == 4);    // "正面": 6 bytes, 4 columns
  CHECK(display_width("\xE4\xB8\xAD\xE6\x96\x87ok") == 6);  // "中文ok"
  CHECK(display_width("\xED\x95\x9C\xEA\xB5\xAD") == 4);    // Hangul syllables "한국"
  CHECK(display_width("\xE3\x81\x8B\xE3\x82\xAB") == 4);    // hiragana, katakana
  CHECK(display_width("\xE3\x80\x80") == 2);                // U+3000 ideographic space
  CHECK(display_width("\xEF\xBD\x88\xEF\xBD\x89") == 4);    // fullwidth "ｈｉ" (U+FF48)
  CHECK(display_width("\xEF\xBD\xB6") == 1);                // halfwidth katakana U+FF76
  CHECK(display_width("\xF0\x9F\x98\x80ok") == 4);          // U+1F600 emoji, then "ok"
  CHECK(display_width("\xF0\x9F\xA4\x96") == 2);            // U+1F916 emoji
  CHECK(display_width("\xF0\xA0\x80\x80") == 2);            // U+20000, CJK extension B
  CHECK(display_width("\xE1\x84\x80\xE1\x85\xA1") == 2);    // Hangul Jamo L 2 + V 0
  CHECK(display_width("e\xCC\x81") == 1);                   // e + combining acute U+0301
  CHECK(display_width("\xD0\xB9\xD2\x89") == 1);            // U+0439 + enclosing U+0489 (Me)
  CHECK(display_width("a\xE2\x80\x8B"
                      "b") == 2);                         // zero-width space U+200B
  CHECK(display_width("\xEF\xBB\xBFx") == 1);             // a byte order mark
  CHECK(display_width("\xE2\x9D\xA4\xEF\xB8\x8F") == 1);  // U+2764 + variation selector
  CHECK(display_width("a\tb\x1B\x7F\xC2\x85") == 2);      // tab, ESC, DEL, C1 NEL: 0
  CHECK(display_width("\xC2\xA0\xC2\xAD") == 2);          // no-break space, soft hyphen

  // Invalid UTF-8: each maximal invalid subpart is one column (the U+FFFD a terminal shows).
  CHECK(display_width("caf\xE9") == 4);               // Latin-1 e-acute
  CHECK(display_width("ok \xE4\xB8") == 4);           // cut inside a character
  CHECK(display_width("\xF0\x9F\x98") == 1);          // cut inside an emoji
  CHECK(display_width("\x80\x80\xFF") == 3);          // lone continuation bytes, FF
  CHECK(display_width("\xC0\xAF\xED\xA0\x80") == 5);  // overlong, surrogate
  CHECK(display_width("\xF4\x90\x80\x80") == 4);      // above U+10FFFF
  CHECK(display_width(std::string(3, '\0')) == 0);
  // Every byte, and random bytes: never a crash, at most a column a byte.
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    CHECK(display_width(one) <= 1);
  }
  std::mt19937 rng(7);
  for (int k = 0; k < 200; ++k) {
    std::string bytes(static_cast<std::size_t>(rng() % 40), '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 256);
    CHECK(display_width(bytes) <= bytes.size());
  }

  // Padding by display width; text as wide as the width or wider is left as it is.
  CHECK(align_left("\xE6\xAD\xA3\xE9\x9D\xA2", 6) == "\xE6\xAD\xA3\xE9\x9D\xA2  ");
  CHECK(align_right("\xE6\xAD\xA3\xE9\x9D\xA2", 6) == "  \xE6\xAD\xA3\xE9\x9D\xA2");
  CHECK(align_right("e\xCC\x81", 3) == "  e\xCC\x81");
  CHECK(align_left("neutral", 3) == "neutral");
  CHECK(align_right("", 2) == "  ");
}

TEST_CASE("read_labelled_text refuses invalid UTF-8 by file, line and byte, or replaces it") {
  TempDir dir;
  const std::string latin1 =
      dir.write("latin1.tsv", "text\tlabel\nnice\tpos\ncaf\xE9 cr\xE8me\tpos\nbad\tneg\n");
  const std::string m = read_error(latin1);
  TG_CHECK_CONTAINS(m, "read_labelled_text: '" + latin1 +
                           "' line 3: invalid UTF-8 at byte offset 23 (byte 4 of the line, "
                           "0xE9)");
  TG_CHECK_CONTAINS(m, "InvalidUtf8::replace");
  ReadOptions replace;
  replace.invalid_utf8 = InvalidUtf8::replace;
  const LabelledText read = read_labelled_text(latin1, replace);
  CHECK(read.texts[1] == "caf\xEF\xBF\xBD cr\xEF\xBF\xBDme");
  CHECK(read.replaced_utf8 == 2);
  CHECK(find_invalid_utf8(read.texts[1]) == std::string::npos);
  // A label that is not UTF-8 cannot be a class name either way of reading.
  const std::string label = dir.write("label.csv", "text,label\ngood,pos\nbad,n\xFFg\n");
  TG_CHECK_CONTAINS(read_error(label),
                    "line 3: invalid UTF-8 at byte offset 25 (byte 6 of the line, 0xFF)");
}

TEST_CASE("vocabulary and label set files and entries must be UTF-8") {
  TempDir dir;
  const std::string vocab = dir.write("vocab.txt", "<pad>\n<unk>\nthe\nna\xEFve\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { Vocabulary::load(vocab); }),
                    "Vocabulary::load: '" + vocab +
                        "' line 4: invalid UTF-8 at byte offset 18 (byte 3 of the line, 0xEF)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      Vocabulary({"<pad>", "<unk>", "caf\xE9"});
                    }),
                    "Vocabulary: token 2 'caf\\xe9' is not valid UTF-8 (byte 3 is 0xE9)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      LabelSet({"pos", "n\xE9g"});
                    }),
                    "LabelSet: label 1 'n\\xe9g' is not valid UTF-8");
  // A first label that starts with a byte order mark would lose it on save and load.
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      LabelSet({"\xEF\xBB\xBFpos", "neg"});
                    }),
                    "LabelSet: label 0 '\xEF\xBB\xBFpos' starts with a UTF-8 byte order mark");
  const std::string bom_twice = dir.write("bom.txt", "\xEF\xBB\xBF\xEF\xBB\xBF\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { LabelSet::load(bom_twice); }),
                    "starts with a UTF-8 byte order mark");
  const std::string labels = dir.write("labels.txt", "pos\n\xFEneg\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { LabelSet::load(labels); }),
                    "line 2: invalid UTF-8 at byte offset 4");
}

TEST_CASE("a text file over InputLimits::max_text_bytes is refused before it is read") {
  TempDir dir;
  const std::string path = dir.write("big.tsv", "text\tlabel\n" + std::string(5000, 'a') + "\tx\n");
  const tapegrad::InputLimits saved = tapegrad::input_limits();
  tapegrad::InputLimits tight = saved;
  tight.max_text_bytes = 4096;
  tapegrad::set_input_limits(tight);
  const std::string m = read_error(path);
  tapegrad::set_input_limits(saved);
  TG_CHECK_CONTAINS(m, "read_labelled_text: '" + path +
                           "' (4.9 KiB) needs 4.9 KiB, over the limit of 4.0 KiB "
                           "(tapegrad::InputLimits::max_text_bytes)");
  CHECK(read_labelled_text(path).size() == 1);
}

TEST_CASE("read_text_file checks what every text reader checks") {
  TempDir dir;
  const std::string good = dir.write("good.txt", "caf\xC3\xA9\nna\xC3\xAFve\n");
  CHECK(read_text_file(good) == "caf\xC3\xA9\nna\xC3\xAFve\n");
  const std::string bad = dir.write("bad.txt", "first line\nsecond \xE9t\xE9\n");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { read_text_file(bad); }),
                    "read_text_file: '" + bad +
                        "' line 2: invalid UTF-8 at byte offset 18 (byte 8 of the line, 0xE9)");
  std::size_t replaced = 0;
  CHECK(read_text_file(bad, InvalidUtf8::replace, &replaced) ==
        "first line\nsecond \xEF\xBF\xBDt\xEF\xBF\xBD\n");
  CHECK(replaced == 2);
  const std::string binary = dir.write("image.png", std::string("\x89PNG\r\n\x1a\n\0\0", 10));
  TG_CHECK_CONTAINS(message_of<value_error>([&] { read_text_file(binary); }),
                    "a NUL byte at byte 8 (a binary file, not text?)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { read_text_file(dir.file("none.txt")); }),
                    "read_text_file: cannot open");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { read_text_file(dir.path.string()); }),
                    "is a folder");
}

TEST_CASE("tokenizer max_tokens stops at the limit and reads no further") {
  TokenizerOptions options;
  options.max_tokens = 3;
  const Tokenizer cut(options);
  CHECK(cut("one, two three four") == Strings{"one", ",", "two"});
  CHECK(cut("a b") == Strings{"a", "b"});
  CHECK_FALSE(cut.exceeds_max_tokens("a b c"));
  CHECK(cut.exceeds_max_tokens("a b c d"));
  CHECK(Tokenizer()("a b c d").size() == 4);  // no limit by default
  // A text of two million words costs three tokens.
  std::string huge;
  for (int i = 0; i < 2000000; ++i) huge += "word ";
  CHECK(cut(huge).size() == 3);
  CHECK(cut.exceeds_max_tokens(huge));
}

TEST_CASE("BatchIterator over pairs pads each batch's targets beside its sources") {
  const std::vector<Ids> sources = {{1}, {2, 2}, {3, 3, 3}, {4}, {5, 5, 5, 5}};
  const std::vector<Ids> targets = {{9, 9, 9}, {8}, {7, 7}, {6, 6, 6, 6, 6}, {5}};
  BatchOptions options;
  options.batch_size = 2;
  options.seed = 3;
  options.bucket_batches = 2;
  options.pad.layout = Layout::batch_major;
  options.pad.pad_id = 1;
  options.pad.max_length = 2;  // cuts the sources, not the targets
  BatchIterator pairs(sources, targets, options);
  std::vector<Sizes> plan;
  for (const Batch& batch : pairs.epoch()) {
    plan.push_back(batch.indices);
    CHECK(batch.targets.size() == 0);  // no labels
    REQUIRE(batch.target_lengths.size() == batch.size());
    std::size_t longest = 0;
    for (std::size_t b = 0; b < batch.size(); ++b) {
      const Ids& s = sources[batch.indices[b]];
      const Ids& t = targets[batch.indices[b]];
      CHECK(batch.lengths[b] == std::min<std::size_t>(s.size(), 2));
      CHECK(batch.target_lengths[b] == t.size());
      longest = std::max(longest, t.size());
      for (std::size_t j = 0; j < batch.target_ids.shape()[1]; ++j) {
        CHECK(batch.target_ids(b, j) == (j < t.size() ? t[j] : Index{1}));
      }
    }
    CHECK(batch.target_ids.shape() == IndexArray::shape_type{batch.size(), longest});
  }
  CHECK(is_partition(plan, 5));
  // The order goes by the sources, as over the sources alone with the same seed.
  BatchIterator alone(sources, options);
  CHECK(alone.epoch().indices() == plan);
  // Batches of a BatchIterator over one side have no target sequences.
  CHECK(alone.epoch().batch(0).target_ids.size() == 0);

  const std::vector<Ids> one = {targets[0]};
  TG_CHECK_CONTAINS(message_of<value_error>([&] { (void)BatchIterator(sources, one); }),
                    "BatchIterator: 1 target sequences for 5 sources");
  std::vector<Ids> with_empty = targets;
  with_empty[3].clear();
  TG_CHECK_CONTAINS(message_of<value_error>([&] { (void)BatchIterator(sources, with_empty); }),
                    "BatchIterator: target: sequence 3 is empty");
}

TEST_CASE("BatchOptions::max_tokens keeps every batch's padded size within the budget") {
  Sizes lengths(200, 5);
  lengths[17] = 90;  // one long example among short ones
  lengths[150] = 60;
  BatchOptions options;
  options.batch_size = 32;
  options.max_tokens = 320;
  for (const bool bucketed : {false, true}) {
    CAPTURE(bucketed);
    options.bucket_batches = bucketed ? 4 : 0;
    Generator g(7);
    const auto batches = batch_indices(lengths, options, g);
    CHECK(is_partition(batches, lengths.size()));
    for (const auto& b : batches) {
      std::size_t longest = 0;
      for (const std::size_t i : b) longest = std::max(longest, lengths[i]);
      CHECK(longest * b.size() <= 320);
    }
    CHECK(batches.size() > 7);  // 200 / 32 rounds up to 7 without the budget
  }
  // An example longer than the budget is named, unless max_length cuts it first.
  options.max_tokens = 64;
  Generator g(7);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { batch_indices(lengths, options, g); }),
                    "example 17 has 90 steps, more than the batch budget of 64 tokens");
  options.pad.max_length = 50;
  CHECK(is_partition(batch_indices(lengths, options, g), lengths.size()));
  // num_batches tells the next epoch's count without moving the iterator's generator.
  std::vector<std::vector<Index>> sequences;
  for (const std::size_t l : lengths) sequences.emplace_back(l, 2);
  options.shuffle = true;
  BatchIterator iterator(sequences, options);
  const std::size_t announced = iterator.num_batches();
  CHECK(iterator.epoch().size() == announced);
}
