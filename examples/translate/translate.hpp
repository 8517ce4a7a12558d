// translate: sequence-to-sequence translation with attention, trained on a task with real
// structure that needs no corpus: dates written in many human formats and four languages
// ("12 March 2019", "mardi 12 mars 2019", "12. März 2019", "12 de marzo de 2019",
// "Tue, Mar 12 '19", "12/03/2019", ...) translated to ISO 8601 ("2019-03-12"). This is the
// library part of the example (the date data, the model, training, decoding, scores, a saved
// model that translates raw text); main.cpp is its command line.
//
//   source text -> characters (Unicode code points) -> ids [B, S] -> Encoder (embedding ->
//   bidirectional GRU/LSTM with lengths) -> AttentionDecoder (Luong or Bahdanau) -> target
//   characters ("2", "0", "1", "9", "-", ...) -> "2019-03-12"
//
// Source and target tokens are both characters; BLEU is computed over the target characters.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <tapegrad/autograd/files.hpp>
#include <tapegrad/data.hpp>
#include <tapegrad/nn.hpp>
#include <tapegrad/nn/decode.hpp>
#include <tapegrad/tapegrad.hpp>

namespace translate {

using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::Var;

// ---- dates ----

/// A date of the proleptic Gregorian calendar.
struct Date {
  int year = 2000;
  int month = 1;  ///< 1 .. 12
  int day = 1;    ///< 1 .. days_in_month(year, month)
  bool operator==(const Date& other) const {
    return year == other.year && month == other.month && day == other.day;
  }
};

/// 28 to 31 (leap years as the Gregorian calendar has them); 0 for a month outside 1 .. 12.
int days_in_month(int year, int month);
/// Days since 1970-01-01 (negative before), and the date of such a day number.
long days_from_civil(const Date& date);
Date civil_from_days(long days);
/// The day of the week, 0 = Monday .. 6 = Sunday (ISO 8601 numbers it 1 .. 7).
int weekday(const Date& date);
/// "2019-03-12": ISO 8601's calendar date, the target of the task.
std::string iso_date(const Date& date);

/// The language of a date format (numeric formats have none).
enum class Language { en, fr, de, es, numeric };
/// "English", "French", "German", "Spanish", "numeric".
const char* language_name(Language language);

/// One way of writing a date, with an example (2019-03-12, a Tuesday) for --help and the README.
struct DateFormat {
  const char* name;  ///< "en_month_day_year"
  Language language;
  bool held_out;  ///< never in the training, validation or test splits: the held-out test only
};

/// Every format, training formats first, then the held-out ones.
const std::vector<DateFormat>& date_formats();
/// The indices into date_formats() of the formats trained on, and of those held out.
std::vector<std::size_t> training_formats();
std::vector<std::size_t> held_out_formats();
/// `date` written in date_formats()[format]; a format index out of range is a value_error.
/// Weekday names are the date's weekday; two-digit years stand for 1950 .. 2049.
std::string format_date(const Date& date, std::size_t format);

/// A source sentence and its translation, with where it came from.
struct Pair {
  std::string source;  ///< "mardi 12 mars 2019"
  std::string target;  ///< "2019-03-12"
  std::size_t format = 0;
  Date date;
};

/// The sizes and the seed of the date data.
struct DataOptions {
  std::size_t train = 20000;
  std::size_t valid = 1000;
  std::size_t test = 2000;
  std::size_t held_out = 2000;  ///< from the held-out formats
  int first_year = 1950;        ///< dates are drawn uniformly from first_year-01-01 ..
  int last_year = 2049;         ///< last_year-12-31 (within 1950 .. 2049: two-digit years)
  std::uint64_t seed = 1;
};

/// The four splits of the date task.
struct DateData {
  std::vector<Pair> train, valid, test;  ///< the training formats
  std::vector<Pair> held_out;            ///< the held-out formats only
};

/// Draws pairs with a Generator seeded by options.seed: a uniform date of the years, a uniform
/// format of the split's formats. No source sentence appears twice anywhere, so the splits are
/// disjoint. Zero train or valid sizes, or years outside 1950 .. 2049 (or in the wrong order),
/// are value_errors.
DateData make_date_data(const DataOptions& options);

// ---- tokens and vocabularies ----

/// The characters (Unicode code points, each as its UTF-8 bytes) of `text`; text that is not
/// UTF-8 is a value_error naming the byte offset.
std::vector<std::string> characters(std::string_view text);
/// The specials of the source vocabulary ("<pad>" 0, "<unk>" 1) and of the target one
/// ("<pad>", "<unk>", "<sos>", "<eos>").
tapegrad::data::Specials source_specials();
tapegrad::data::Specials target_specials();

/// The source and target vocabularies: the characters of the training pairs.
struct Vocabularies {
  tapegrad::data::Vocabulary source;
  tapegrad::data::Vocabulary target;
};
Vocabularies build_vocabularies(const std::vector<Pair>& train);

/// A source sentence as ids, with what happened on the way.
struct SourceIds {
  std::vector<Index> ids;            ///< at most max_length of them
  std::vector<std::string> tokens;   ///< the characters the ids stand for (before <unk>)
  std::vector<std::string> unknown;  ///< characters not in the vocabulary (each once), now <unk>
  std::size_t length = 0;            ///< characters before the cut
  bool cut = false;                  ///< longer than max_length: cut to its first max_length
};
/// The ids of `text`'s characters (unknown ones -> <unk>), cut to `max_length` characters (0:
/// no cut). An empty text (after trimming spaces at both ends) or text that is not UTF-8 is a
/// value_error.
SourceIds encode_source(const tapegrad::data::Vocabulary& vocabulary, std::string_view text,
                        std::size_t max_length);

/// Pairs as ids: sources (ids of characters) and targets (characters, then <eos>).
struct Examples {
  std::vector<Pair> pairs;
  std::vector<std::vector<Index>> sources;
  std::vector<std::vector<Index>> targets;  ///< ending with eos_id()
  std::size_t size() const { return pairs.size(); }
};
Examples make_examples(const Vocabularies& vocabularies, std::vector<Pair> pairs,
                       std::size_t max_source_length);

// ---- the model ----

/// The architecture. Saved next to the weights, so that a saved model rebuilds itself.
struct ModelConfig {
  tapegrad::nn::CellKind cell = tapegrad::nn::CellKind::gru;
  std::size_t source_vocab_size = 0;
  std::size_t target_vocab_size = 0;
  std::size_t embedding_size = 32;  ///< E, of source and target characters
  std::size_t hidden_size = 64;     ///< H, per direction of the encoder, and of the decoder
  std::size_t num_layers = 1;
  bool bidirectional = true;  ///< of the encoder
  tapegrad::nn::AttentionScore score = tapegrad::nn::AttentionScore::general;
  tapegrad::nn::AttentionStyle style = tapegrad::nn::AttentionStyle::luong;
  double dropout = 0.0;  ///< between recurrent layers, in training

  /// A value_error naming the first bad field: a zero size, a target vocabulary without room
  /// for its four specials, a dropout outside [0, 1).
  void check() const;
};

/// An encoded source batch: the attention memory and the decoder's initial state.
struct Encoded {
  tapegrad::nn::AttentionMemory<float> memory;
  tapegrad::nn::DecoderState<float> initial;
};

/// nn::Encoder + nn::AttentionDecoder, registered as "encoder" and "decoder" (parameters
/// "encoder.embedding.weight", "encoder.rnn.weight_ih_l0", "encoder.bridge.weight", ...,
/// "decoder.attention.key_proj.weight", "decoder.out.bias").
class Seq2Seq : public tapegrad::nn::Module<float> {
 public:
  /// Parameters drawn with a Generator seeded by `seed`; config.check() first.
  Seq2Seq(const ModelConfig& config, std::uint64_t seed);

  /// Source ids [B, S] (padded past each length) -> the memory and initial state.
  Encoded encode(const IndexArray& source, const std::vector<std::size_t>& lengths) const;
  /// Logits [B, T, V] of the decoder fed `inputs` [B, T] (<sos>, then the target but its
  /// last token), each step reading the gold input with probability `teacher_forcing_ratio`
  /// (else its own previous argmax; draws from `generator`).
  Var<float> forward(const IndexArray& source, const std::vector<std::size_t>& lengths,
                     const IndexArray& inputs, double teacher_forcing_ratio,
                     tapegrad::Generator& generator) const;

  const ModelConfig& config() const { return config_; }
  const tapegrad::nn::AttentionDecoder<float>& decoder() const { return decoder_; }

 private:
  ModelConfig config_;
  tapegrad::Generator init_;  // parameter initialisation (declared first: members use it)
  tapegrad::nn::Encoder<float> encoder_;
  tapegrad::nn::AttentionDecoder<float> decoder_;
};

// ---- decoding and scores ----

/// How to decode: greedy (the most likely character at each step) or beam search.
struct DecodeOptions {
  bool beam = false;
  std::size_t beam_width = 5;   ///< with beam
  double length_penalty = 1.0;  ///< with beam: a hypothesis scores log p / length^alpha
  std::size_t max_length = 20;  ///< target characters at most
  std::size_t batch_size = 256;

  /// A value_error naming a zero width, length or batch size, or a non-finite penalty.
  void check() const;
};

/// One decoded sentence.
struct Decoded {
  std::vector<std::string> tokens;  ///< target characters, without <eos>
  double score = 0.0;               ///< log p (greedy), or log p / length^alpha (beam)
  /// [steps, S] attention weights over the source characters (steps: tokens, plus one for
  /// <eos> when it came; S: the source's own length).
  tapegrad::Array<float> weights;
};

/// Decodes every source (ids, as Examples::sources) in batches of sources of similar length,
/// without a tape and in eval mode (the model's mode is restored).
std::vector<Decoded> decode(Seq2Seq& model, const tapegrad::data::Vocabulary& target,
                            const std::vector<std::vector<Index>>& sources,
                            const DecodeOptions& options);

/// Corpus BLEU (sacreBLEU's, over target characters), exact match and token accuracy.
struct Scores {
  tapegrad::data::BleuScore bleu;
  double exact_match = 0.0;
  double token_accuracy = 0.0;
  std::size_t sentences = 0;
};
Scores score(const std::vector<Decoded>& decoded, const Examples& examples);
/// The exact match of each format's sentences: (format, sentences, exact match), in the
/// order of date_formats(), formats without sentences left out.
struct FormatScore {
  std::size_t format = 0;
  std::size_t sentences = 0;
  double exact_match = 0.0;
};
std::vector<FormatScore> exact_match_by_format(const std::vector<Decoded>& decoded,
                                               const Examples& examples);

// ---- training ----

struct TrainConfig {
  std::size_t epochs = 8;
  std::size_t batch_size = 64;
  double lr = 3e-3;                    ///< Adam, annealed to lr / 20 (cosine, per step)
  double clip_norm = 1.0;              ///< gradient norm clipping; 0: off
  double teacher_forcing_ratio = 1.0;  ///< 1: plain teacher forcing
  std::size_t patience = 0;            ///< stop after this many epochs without a better
                                       ///< valid exact match; 0: never
  std::uint64_t seed = 1;              ///< batch order and teacher forcing draws
  std::size_t max_target_length = 20;  ///< for the validation decoding

  /// A value_error naming the first bad field.
  void check() const;
};

/// The metrics of one epoch.
struct EpochStats {
  std::size_t epoch = 0;
  double train_loss = 0.0;   ///< mean cross-entropy per target character, as it trained
  double valid_loss = 0.0;   ///< the same on the validation split, teacher forced
  double valid_exact = 0.0;  ///< greedy decoding's exact match on the validation split
  double lr = 0.0;           ///< at the end of the epoch
  double seconds = 0.0;      ///< training and validation
};

struct TrainResult {
  std::vector<EpochStats> history;
  std::size_t best_epoch = 0;  ///< 1-based; its parameters are in the model at the end
  bool stopped_early = false;
  double seconds = 0.0;
};

/// Trains with teacher forcing: cross-entropy over the target characters and <eos> (padding
/// ignored), Adam with cosine annealing, gradient clipping; batches of similar source lengths,
/// padded, with their lengths. After each epoch scores greedy decoding on `valid`, prints a
/// progress line to `progress` when given and calls `on_epoch`. Leaves the model with the
/// parameters of the epoch with the best valid exact match (the lower valid loss on a tie), in
/// eval mode. A non-finite loss is a tapegrad::numerical_error naming the epoch.
TrainResult train(Seq2Seq& model, const Vocabularies& vocabularies, const Examples& train,
                  const Examples& valid, const TrainConfig& config,
                  std::ostream* progress = nullptr,
                  const std::function<void(const EpochStats&)>& on_epoch = {});

// ---- a saved model ----

/// What translating one sentence gives.
struct Translation {
  std::string text;  ///< "2019-03-12"
  Decoded decoded;
  SourceIds source;  ///< its characters, unknown ones, whether it was cut
};

/// A trained model with its vocabularies and the longest source it reads. Saved in a folder as
/// model.npz (the weights under the modules' names) and model.json (architecture,
/// vocabularies, max_source_length and a fingerprint of the weights, so that a .json and an
/// .npz from different runs are never paired).
class Translator {
 public:
  Translator(std::unique_ptr<Seq2Seq> model, Vocabularies vocabularies,
             std::size_t max_source_length);

  /// Writes DIR/model.npz and DIR/model.json (DIR created when missing) as outputs of `out`
  /// (they replace the old pair when `out` commits).
  void save(tapegrad::OutputFiles& out, const std::string& dir) const;
  /// save(out, dir) with an OutputFiles of its own, committed at once.
  void save(const std::string& dir) const;
  /// Reads what save wrote. A missing folder or file, or a corrupt or mismatched one, is a
  /// value_error naming it.
  static Translator load(const std::string& dir);

  /// Translates sentences (an empty one is a value_error naming its position).
  std::vector<Translation> translate(const std::vector<std::string>& texts,
                                     const DecodeOptions& options) const;

  Seq2Seq& model() const { return *model_; }
  const Vocabularies& vocabularies() const { return vocabularies_; }
  std::size_t max_source_length() const { return max_source_length_; }
  /// Sources longer than this many characters are cut; 0 is a value_error.
  void set_max_source_length(std::size_t n);

 private:
  std::unique_ptr<Seq2Seq> model_;
  Vocabularies vocabularies_;
  std::size_t max_source_length_;
};

/// DIR/model.npz and DIR/model.json.
std::string weights_path(const std::string& dir);
std::string metadata_path(const std::string& dir);

}  // namespace translate
