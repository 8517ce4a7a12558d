// Smoke test of examples/char_lm: the character vocabulary, truncated BPTT, training on a tiny
// repetitive text, sampling, save and load, and the errors of bad options. Sizes are tiny so
// that the whole file runs in well under a second in Release and stays quick under ASan.
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include "char_lm.hpp"
#include "helpers.hpp"

using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::value_error;
using tapegrad::data::Vocabulary;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;

namespace {

// A text an LSTM learns in a few dozen steps.
std::string repetitive_text() {
  std::string text;
  while (text.size() < 800) text += "the cat sat on the mat. ";
  return text;
}

// Options for a model and a run small enough for a smoke test.
char_lm::Options tiny_options() {
  char_lm::Options o;
  o.embedding_size = 8;
  o.hidden_size = 32;
  o.epochs = 4;
  o.batch_size = 4;
  o.bptt = 16;
  o.lr = 0.02;
  o.seed = 3;
  return o;
}

std::unique_ptr<char_lm::CharModel> make_model(const char_lm::Options& o, std::size_t vocab_size) {
  tapegrad::Generator generator(o.seed);
  return std::make_unique<char_lm::CharModel>(char_lm::model_config(o, vocab_size), generator);
}

// The model's logits for `ids` read as one stream (evaluation mode, no tape).
tapegrad::Array<float> logits_of(char_lm::CharModel& model, const std::vector<Index>& ids) {
  tapegrad::NoGrad no_grad;
  model.eval();
  IndexArray inputs = IndexArray::from_shape({ids.size(), 1});
  std::copy(ids.begin(), ids.end(), inputs.begin());
  return model.forward(inputs).logits.value();
}

// The message of the value_error that check_options throws for `o`.
std::string option_error(const char_lm::Options& o) {
  return message_of<value_error>([&] { char_lm::check_options(o); });
}

}  // namespace

TEST_CASE("char_lm: every byte is a one-line token, and texts round-trip through the ids") {
  for (int b = 0; b < 256; ++b) {
    const auto byte = static_cast<unsigned char>(b);
    const std::string token = char_lm::byte_token(byte);
    CHECK(!token.empty());
    CHECK(token.find_first_of("\r\n") == std::string::npos);
    CHECK(token != " ");
    CHECK(char_lm::token_byte(token) == byte);
  }
  CHECK(char_lm::byte_token('a') == "a");
  CHECK(char_lm::byte_token('\n') == "\\n");
  CHECK(char_lm::byte_token(' ') == "\\x20");
  CHECK(char_lm::byte_token(0xc3) == "\\xc3");
  TG_CHECK_CONTAINS(message_of<value_error>([] { char_lm::token_byte("<unk>"); }), "<unk>");

  const std::string text = "ab\\c\n\xc3\xa9 a";
  const Vocabulary vocab = char_lm::build_vocabulary(text);
  CHECK(vocab.size() == 2 + 8);  // <pad>, <unk>, ' ', '\n', 'a', 'b', 'c', '\\', 0xa9, 0xc3
  CHECK(char_lm::decode(vocab, char_lm::encode(vocab, text)) == text);
  CHECK(char_lm::encode(vocab, "z") == std::vector<Index>{vocab.unk_id()});
  CHECK(char_lm::decode(vocab, char_lm::encode(vocab, "azb")) == "a?b");

  const char_lm::Corpus corpus = char_lm::make_corpus(
      "aaaabbbbcccc"
      "dddd"
      "ccxy",
      0.2);
  CHECK(corpus.train.size() == 16);
  CHECK(corpus.valid.size() == 4);
  CHECK(corpus.vocab.size() == 2 + 4);  // x and y appear in the held-out part only: <unk>
  CHECK(char_lm::decode(corpus.vocab, corpus.valid) == "cc??");
  CHECK(char_lm::held_out_sequence(corpus).size() == 5);
}

TEST_CASE("char_lm: the streams of truncated BPTT, and the unigram baseline") {
  std::vector<Index> seq(23);
  for (std::size_t i = 0; i < seq.size(); ++i) seq[i] = static_cast<Index>(i);
  const IndexArray streams = char_lm::make_streams(seq, 3, 4);  // L = 22 / 3 = 7 steps
  REQUIRE(streams.shape()[0] == 8);
  REQUIRE(streams.shape()[1] == 3);
  CHECK(streams(0, 1) == 7);   // stream 1 starts at 7
  CHECK(streams(7, 0) == 7);   // and stream 0's last target is that same character
  CHECK(streams(7, 2) == 21);  // id 22 is dropped (22 = 3 * 7 + 1)
  const char_lm::Chunk chunk = char_lm::chunk_at(streams, 4, 3);
  CHECK(chunk.inputs.shape()[0] == 3);
  CHECK(chunk.inputs(0, 2) == 18);
  CHECK(chunk.targets(0 * 3 + 2) == 19);  // each target is the next character of its stream
  CHECK(chunk.targets(2 * 3 + 0) == 7);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::chunk_at(streams, 5, 3); }), "outside");

  const std::string message = message_of<value_error>([&] { char_lm::make_streams(seq, 4, 8); });
  TG_CHECK_CONTAINS(message, "23 characters");
  TG_CHECK_CONTAINS(message, "--batch-size 4");
  TG_CHECK_CONTAINS(message, "--bptt 8");
  TG_CHECK_CONTAINS(message, "at least 33");

  // Two ids, 3 times each, add-one smoothed over ids 1 .. 3: p = 4/9 each, 1/9 for <unk>.
  const std::vector<Index> train{2, 3, 2, 3, 2, 3};
  CHECK(char_lm::unigram_bits(train, {2, 3}, 4) == doctest::Approx(std::log2(9.0 / 4.0)));
  CHECK(char_lm::unigram_bits(train, {2, 1}, 4) ==
        doctest::Approx((std::log2(9.0 / 4.0) + std::log2(9.0)) / 2));
  CHECK(char_lm::entropy_bits(train) == doctest::Approx(1.0));
}

TEST_CASE("char_lm: detaching the state keeps the tape one chunk long") {
  char_lm::Options o = tiny_options();
  const char_lm::Corpus corpus = char_lm::make_corpus(repetitive_text(), 0.1);
  const auto model = make_model(o, corpus.vocab.size());
  const IndexArray streams = char_lm::make_streams(corpus.train, o.batch_size, o.bptt);
  tapegrad::nn::RecurrentState<float> state;
  std::size_t first_chunk_ops = 0;
  for (std::size_t c = 0; c < 3; ++c) {
    const char_lm::Chunk chunk = char_lm::chunk_at(streams, c * o.bptt, o.bptt);
    const char_lm::Output out = model->forward(chunk.inputs, state);
    const tapegrad::Var<float> loss = tapegrad::cross_entropy(
        tapegrad::reshape(out.logits,
                          tapegrad::make_shape({chunk.targets.size(), corpus.vocab.size()})),
        chunk.targets);
    const std::size_t ops = tapegrad::tape<float>().size();
    if (c == 0) first_chunk_ops = ops;
    CHECK(ops == first_chunk_ops);  // the previous chunks are not on the tape
    loss.backward();
    CHECK(tapegrad::tape<float>().empty());
    state = char_lm::detach(out.state);
    CHECK(state.h.is_leaf());
    CHECK(!state.h.requires_grad());
    CHECK(state.c.defined());  // an LSTM carries c too
  }
}

TEST_CASE("char_lm: training on a repetitive text beats the unigram entropy") {
  const char_lm::Options o = tiny_options();
  const char_lm::Corpus corpus = char_lm::make_corpus(repetitive_text(), 0.1);
  const auto model = make_model(o, corpus.vocab.size());
  const double before = char_lm::evaluate(*model, char_lm::held_out_sequence(corpus)).bpc;
  const std::vector<char_lm::EpochStats> log = char_lm::train(*model, corpus, o);
  REQUIRE(log.size() == o.epochs);
  for (const auto& s : log) {
    CHECK(std::isfinite(s.train_nats));
    CHECK(std::isfinite(s.valid_bpc));
    CHECK(s.skipped == 0);
  }
  CHECK(log.back().train_nats < 0.5 * log.front().train_nats);
  CHECK(log.back().valid_bpc < before);
  CHECK(log.back().unigram_bpc > 2.5);  // 11 characters, nearly as many of each
  CHECK(log.back().valid_bpc < 0.5 * log.back().unigram_bpc);
  CHECK(log.back().lr == doctest::Approx(o.lr / 10));  // annealed to a tenth
  CHECK(tapegrad::tape<float>().empty());

  SUBCASE("a GRU trains too") {
    char_lm::Options gru = o;
    gru.cell = "gru";
    gru.epochs = 2;
    const auto gru_model = make_model(gru, corpus.vocab.size());
    CHECK(gru_model->config().cell == tapegrad::nn::CellKind::gru);
    const auto gru_log = char_lm::train(*gru_model, corpus, gru);
    CHECK(gru_log.back().valid_bpc < gru_log.back().unigram_bpc);
  }
}

TEST_CASE("char_lm: sampling with a seed is reproducible, save and load keep the predictions") {
  char_lm::Options o = tiny_options();
  o.epochs = 1;  // weights moved away from their initialisation
  const char_lm::Corpus corpus = char_lm::make_corpus(repetitive_text(), 0.1);
  const auto model = make_model(o, corpus.vocab.size());
  char_lm::train(*model, corpus, o);

  const std::string a = char_lm::sample(*model, corpus.vocab, "the ", 0.8, 60, 11);
  CHECK(a.size() == 60);
  CHECK(a == char_lm::sample(*model, corpus.vocab, "the ", 0.8, 60, 11));
  CHECK(a != char_lm::sample(*model, corpus.vocab, "the ", 0.8, 60, 12));
  CHECK(char_lm::decode(corpus.vocab, char_lm::encode(corpus.vocab, a)) == a);  // known chars

  TempDir dir;
  const std::string path = dir.file("cat.npz");
  char_lm::save(*model, corpus.vocab, path);
  CHECK(char_lm::vocab_path_for(path) == dir.file("cat.vocab.txt"));
  CHECK(std::filesystem::exists(dir.file("cat.vocab.txt")));

  char_lm::Loaded loaded = char_lm::load(path);
  CHECK(loaded.vocab.tokens() == corpus.vocab.tokens());
  CHECK(loaded.model->config().hidden_size == o.hidden_size);
  CHECK(loaded.model->config().embedding_size == o.embedding_size);
  CHECK(loaded.model->config().num_layers == 1);
  const std::vector<Index> ids = char_lm::encode(corpus.vocab, "the mat sat on the cat");
  CHECK(logits_of(*loaded.model, ids) == logits_of(*model, ids));
  CHECK(char_lm::sample(*loaded.model, loaded.vocab, "the ", 0.8, 60, 11) == a);

  SUBCASE("a two-layer GRU's shape is read back from the file") {
    char_lm::Options gru = o;
    gru.cell = "gru";
    gru.num_layers = 2;
    gru.hidden_size = 12;
    const auto gru_model = make_model(gru, corpus.vocab.size());
    char_lm::save(*gru_model, corpus.vocab, dir.file("gru.npz"));
    const char_lm::Loaded back = char_lm::load(dir.file("gru.npz"));
    CHECK(back.model->config().cell == tapegrad::nn::CellKind::gru);
    CHECK(back.model->config().num_layers == 2);
    CHECK(logits_of(*back.model, ids) == logits_of(*gru_model, ids));
  }

  SUBCASE("a failed save leaves the saved pair as it was") {
    const std::string model_bytes = read_bytes(path);
    const std::string vocab_bytes = read_bytes(char_lm::vocab_path_for(path));
    const auto other = make_model(o, corpus.vocab.size());
    std::string m;
    {
      // Files cannot grow past 2000 bytes: the model (over 10 KB) cannot be written.
      const tapegrad_test::FileSizeLimit limit(2000);
      m = message_of<value_error>([&] { char_lm::save(*other, corpus.vocab, path); });
    }
    TG_CHECK_CONTAINS(m, path);
    TG_CHECK_CONTAINS(m, "File too large");
    CHECK(read_bytes(path) == model_bytes);
    CHECK(read_bytes(char_lm::vocab_path_for(path)) == vocab_bytes);
    CHECK(std::distance(std::filesystem::directory_iterator(dir.path),
                        std::filesystem::directory_iterator()) == 2);  // no temporary left
  }

  SUBCASE("outputs of a run replace the saved pair only when it commits") {
    const std::string model_bytes = read_bytes(path);
    const auto other = make_model(o, corpus.vocab.size());
    {
      tapegrad::OutputFiles out;
      char_lm::save(out, *other, corpus.vocab, path);
      CHECK(read_bytes(path) == model_bytes);
    }  // the run failed: no commit
    CHECK(read_bytes(path) == model_bytes);
    tapegrad::OutputFiles out;
    char_lm::save(out, *other, corpus.vocab, path);
    out.commit();
    CHECK(read_bytes(path) != model_bytes);
    CHECK(logits_of(*char_lm::load(path).model, ids) == logits_of(*other, ids));
  }

  SUBCASE("files that are not a pair, or not a char_lm model, are value_errors") {
    TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::load(dir.file("missing.npz")); }),
                      "missing.npz");
    const Vocabulary small = char_lm::build_vocabulary("abc");
    small.save(char_lm::vocab_path_for(path));
    const std::string mismatch = message_of<value_error>([&] { char_lm::load(path); });
    TG_CHECK_CONTAINS(mismatch, "not a pair");
    TG_CHECK_CONTAINS(mismatch, "cat.vocab.txt");

    tapegrad::Npz other;
    other.put("weight", tapegrad::Array<float>(tapegrad::make_shape({2, 2}), 0.0f));
    other.save(dir.file("other.npz"));
    TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::load(dir.file("other.npz")); }),
                      "not a char_lm model");
  }
}

TEST_CASE("char_lm: bad options and inputs are value_errors naming the value") {
  const char_lm::Options good = tiny_options();
  CHECK_NOTHROW(char_lm::check_options(good));
  char_lm::Options o = good;
  o.hidden_size = 0;
  TG_CHECK_CONTAINS(option_error(o), "--hidden must be at least 1, got 0");
  o = good;
  o.bptt = 0;
  TG_CHECK_CONTAINS(option_error(o), "--bptt");
  o = good;
  o.sample_length = 0;
  TG_CHECK_CONTAINS(option_error(o), "--sample-length");
  o = good;
  o.temperature = 0.0;
  TG_CHECK_CONTAINS(option_error(o), "--temperature must be positive and finite, got 0");
  o.temperature = -0.5;
  TG_CHECK_CONTAINS(option_error(o), "got -0.5");
  o.temperature = std::nan("");
  TG_CHECK_CONTAINS(option_error(o), "--temperature");
  o = good;
  o.cell = "rnn";
  TG_CHECK_CONTAINS(option_error(o), "'rnn'");
  o = good;
  o.valid_fraction = 0.9;
  TG_CHECK_CONTAINS(option_error(o), "--valid-fraction must be in (0, 0.5], got 0.9");
  o = good;
  o.dropout = 1.0;
  TG_CHECK_CONTAINS(option_error(o), "--dropout");
  o = good;
  o.lr = -1.0;
  TG_CHECK_CONTAINS(option_error(o), "--lr");
  o = good;
  o.prompt.clear();
  TG_CHECK_CONTAINS(option_error(o), "--prompt");

  TempDir dir;
  const std::string missing = dir.file("no_such.txt");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::read_text(missing); }), missing);
  const std::string empty = dir.write("empty.txt", "");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::read_text(empty); }), "is empty");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::read_text(dir.path.string()); }),
                    "folder");
  // Files that are not text: refused with the offset, unless any bytes are asked for.
  const std::string binary = dir.write("binary.bin", std::string("PK\x03\x04"
                                                                 "ab\ncd\0ef",
                                                                 12));
  std::string text_error = message_of<value_error>([&] { char_lm::read_text(binary); });
  TG_CHECK_CONTAINS(text_error,
                    "binary.bin' is not a text file: byte 9 (line 2) is 0x00, a NUL byte");
  TG_CHECK_CONTAINS(text_error, "--bytes");
  CHECK(char_lm::read_text(binary, /*any_bytes=*/true).size() == 12);
  const std::string latin1 = dir.write("latin1.txt", "un caf\xe9 noir\n");
  text_error = message_of<value_error>([&] { char_lm::read_text(latin1); });
  TG_CHECK_CONTAINS(text_error, "byte 6 (line 1) is 0xe9, not UTF-8");
  const std::string utf8 =
      dir.write("utf8.txt", "un caf\xc3\xa9 noir \xe2\x82\xac\xf0\x9f\x98\x80\n");
  CHECK(char_lm::read_text(utf8).size() == 22);
  const std::string cut = dir.write("cut.txt", "un caf\xc3");  // a character cut at the end
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::read_text(cut); }), "byte 6");

  // A text too short for one chunk in every stream.
  const char_lm::Corpus corpus = char_lm::make_corpus("a short text, far too short", 0.1);
  const auto model = make_model(good, corpus.vocab.size());
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::train(*model, corpus, good); }),
                    "--batch-size 4 x --bptt 16 needs at least 65");

  // Prompts and sampling arguments.
  const std::string unknown =
      message_of<value_error>([&] { char_lm::sample(*model, corpus.vocab, "a sQ", 1.0, 5, 1); });
  TG_CHECK_CONTAINS(unknown, "prompt");
  TG_CHECK_CONTAINS(unknown, "'Q'");
  TG_CHECK_CONTAINS(unknown, "position 3");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { char_lm::sample(*model, corpus.vocab, "a", 0.0, 5, 1); }),
      "temperature");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { char_lm::sample(*model, corpus.vocab, "", 1.0, 5, 1); }),
      "prompt");

  char_lm::ModelConfig bad = char_lm::model_config(good, 0);
  tapegrad::Generator generator(0);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::CharModel m(bad, generator); }),
                    "vocab_size 0");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { char_lm::make_corpus("abc", 0.1); }), "3 bytes");
}

TEST_CASE("char_lm: a run whose held-out bpc is not finite is an error naming the epoch") {
  // A learning rate of 1e38 turns the weights into NaN: the model used to be reported ("valid
  // nan bpc") and saved over an earlier one.
  char_lm::Options o = tiny_options();
  o.epochs = 2;
  o.lr = 1e38;
  const char_lm::Corpus corpus = char_lm::make_corpus(repetitive_text(), 0.1);
  const auto model = make_model(o, corpus.vocab.size());
  std::vector<char_lm::EpochStats> seen;
  const std::string m = message_of<tapegrad::numerical_error>([&] {
    char_lm::train(*model, corpus, o, nullptr, [&](const auto& s) { seen.push_back(s); });
  });
  TG_CHECK_CONTAINS(m, "the held-out bpc is nan at epoch 1");
  TG_CHECK_CONTAINS(m, "try a lower learning rate than 1e+38");
  CHECK(seen.size() == 1);  // the metrics log gets the epoch before the error
}
