// char_lm: a character-level language model (Embedding -> LSTM or GRU -> Linear) trained with
// truncated backpropagation through time on one long text, evaluated in bits per character
// on the held-out end of the text, and sampled with a temperature. This is the library part
// of the example (model, data, training, evaluation, sampling, saving); main.cpp is its
// command line and tests/test_char_lm.cpp its smoke test.
//
// The symbols are the bytes of the text: a UTF-8 character of several bytes is several
// symbols. The vocabulary is a tapegrad::data::Vocabulary whose tokens are the bytes written
// so that each fits on one line (see byte_token), so it saves next to the model as text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/autograd/files.hpp>
#include <tapegrad/data.hpp>
#include <tapegrad/nn.hpp>
#include <tapegrad/optim.hpp>
#include <tapegrad/tapegrad.hpp>

#include "parallel.hpp"

namespace char_lm {

using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::Var;

/// The text every Debian system has.
inline constexpr const char* default_text_path = "/usr/share/common-licenses/GPL-3";

/// Everything the command line sets. check_options says what is allowed.
struct Options {
  // data
  std::string text_path = default_text_path;
  double valid_fraction = 0.1;  ///< the last part of the text, held out; in (0, 0.5]
  /// Train on any bytes (a binary file, a text in another encoding than UTF-8); otherwise
  /// read_text refuses a file that is not UTF-8 text.
  bool any_bytes = false;
  // model
  std::string cell = "lstm";  ///< "lstm" or "gru"
  std::size_t embedding_size = 64;
  std::size_t hidden_size = 256;
  std::size_t num_layers = 1;
  double dropout = 0.0;  ///< on the embeddings, between layers and before the head; [0, 1)
  // training
  std::size_t epochs = 8;
  std::size_t batch_size = 8;  ///< parallel streams the training text is cut into
  std::size_t bptt = 32;       ///< steps per chunk of truncated BPTT
  double lr = 5e-3;            ///< Adam's initial rate, annealed to lr/10 (cosine, per chunk)
  double clip = 1.0;           ///< the gradients' joint norm is clipped to this
  std::uint64_t seed = 1;      ///< initialisation, dropout and sampling
  // sampling
  std::string prompt = "The ";
  double temperature = 0.7;
  std::size_t sample_length = 400;
};

/// Throws tapegrad::value_error naming the first bad option and its value (as its
/// command-line flag): a zero size, a rate, fraction, clip or temperature out of range,
/// an unknown cell, an empty prompt.
void check_options(const Options& options);

// ---- characters and ids ----

/// A byte as a vocabulary token: printable ASCII other than '\\' as itself; '\\' as "\\\\",
/// line feed, tab and carriage return as "\\n", "\\t", "\\r"; any other byte (space, control
/// characters, bytes >= 0x80) as "\\xNN" (lowercase hex).
std::string byte_token(unsigned char byte);
/// The byte of a token written by byte_token; a value_error for anything else (the special
/// tokens "<pad>" and "<unk>" included).
unsigned char token_byte(const std::string& token);

/// The vocabulary of a text: "<pad>" (never used) and "<unk>", then every distinct byte of
/// `text` in byte order.
tapegrad::data::Vocabulary build_vocabulary(const std::string& text);
/// The ids of the bytes of `text`; a byte not in `vocab` becomes Vocabulary::unk_id.
std::vector<Index> encode(const tapegrad::data::Vocabulary& vocab, const std::string& text);
/// As encode, but a byte not in `vocab` is a value_error naming it and its position in
/// `what` (a prompt must be made of known characters).
std::vector<Index> encode_strict(const tapegrad::data::Vocabulary& vocab, const std::string& text,
                                 const std::string& what);
/// The bytes of ids; "<unk>" decodes as '?', and "<pad>" as nothing.
std::string decode(const tapegrad::data::Vocabulary& vocab, const std::vector<Index>& ids);

// ---- data ----

/// The whole file. A missing, unreadable or empty file, or a folder, is a value_error naming
/// the path (and the system's reason). Unless `any_bytes`, so is a file that is not text: a
/// NUL byte (a binary file) or bytes that are not UTF-8, named by their offset and line.
std::string read_text(const std::string& path, bool any_bytes = false);

/// A text cut into a training part and the held-out end.
struct Corpus {
  tapegrad::data::Vocabulary vocab;
  std::vector<Index> train;  ///< the first (1 - valid_fraction) of the bytes
  std::vector<Index> valid;  ///< the rest, at least 2 bytes
};

/// Holds out the last `valid_fraction` of `text` (at least 2 bytes) and encodes both parts
/// with `vocab`, or, when none is given, with the vocabulary of the training part (so a byte
/// seen only in the held-out part is "<unk>"). A fraction outside (0, 0.5] or a text of
/// fewer than 4 bytes is a value_error.
Corpus make_corpus(const std::string& text, double valid_fraction,
                   const tapegrad::data::Vocabulary* vocab = nullptr);

/// Bits per character of the unigram model on `eval`: each id predicted with its frequency in
/// `train`, add-one smoothed over the vocabulary's ids but "<pad>" (so an id unseen in
/// training costs a finite number of bits):
/// -mean over eval of log2((count_train(id) + 1) / (|train| + vocab_size - 1)).
/// With eval = train and no smoothing this would be the entropy of the training text.
double unigram_bits(const std::vector<Index>& train, const std::vector<Index>& eval,
                    std::size_t vocab_size);
/// The entropy of the byte frequencies of `ids` in bits (no smoothing).
double entropy_bits(const std::vector<Index>& ids);

/// A long id sequence cut into `batch` parallel streams for truncated BPTT, time-major:
/// ids [L + 1, B], column b holding seq[b L .. b L + L] with L = (|seq| - 1) / B, so that row
/// t is the input of step t and row t + 1 its target (the last L (mod B) ids are dropped).
/// A sequence too short for `min_steps` steps per stream is a value_error naming the sizes.
IndexArray make_streams(const std::vector<Index>& seq, std::size_t batch, std::size_t min_steps);

/// One chunk of the streams: inputs [k, B] from rows start .. start + k - 1 and the targets
/// of those steps, rows start + 1 .. start + k, flattened time-major to [k * B].
struct Chunk {
  IndexArray inputs;
  IndexArray targets;
};
Chunk chunk_at(const IndexArray& streams, std::size_t start, std::size_t k);

// ---- the model ----

/// The model's shape. load_model reads it back from the saved parameters' shapes.
struct ModelConfig {
  tapegrad::nn::CellKind cell = tapegrad::nn::CellKind::lstm;  ///< lstm or gru
  std::size_t vocab_size = 0;
  std::size_t embedding_size = 32;
  std::size_t hidden_size = 256;
  std::size_t num_layers = 1;
  double dropout = 0.0;
};

/// What CharModel::forward returns: logits [T, B, V] and the recurrent state after the last
/// step, h (and c for an LSTM) [layers, B, H].
struct Output {
  Var<float> logits;
  tapegrad::nn::RecurrentState<float> state;
};

/// Embedding [V, E] -> LSTM or GRU (layers, hidden H) -> Linear [H -> V], with dropout on
/// the embeddings and on the recurrent outputs in training mode. Parameters, in PyTorch's
/// names: embed.weight, rnn.weight_ih_l0 ... rnn.bias_hh_l{L-1}, head.weight, head.bias.
class CharModel : public tapegrad::nn::Module<float> {
 public:
  /// Zero sizes, a cell other than LSTM or GRU, or a dropout outside [0, 1) are value_errors.
  CharModel(const ModelConfig& config, tapegrad::Generator& generator);

  /// ids [T, B] (time-major) -> logits [T, B, V]. `state` carries on from a previous chunk;
  /// empty for zeros.
  Output forward(const IndexArray& ids,
                 const tapegrad::nn::RecurrentState<float>& state = {}) const;

  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  tapegrad::nn::Embedding<float> embed_;
  std::shared_ptr<tapegrad::nn::RNNBase<float>> rnn_;  // LSTM or GRU
  tapegrad::nn::Dropout<float> dropout_;
  tapegrad::nn::Linear<float> head_;
};

/// The model's configuration from the options: "lstm" / "gru", the sizes, dropout.
ModelConfig model_config(const Options& options, std::size_t vocab_size);

/// The same state as a new leaf, cut from the tape (Var::detach of h and, for an LSTM, c):
/// the next chunk starts from these values, and backward stops there.
tapegrad::nn::RecurrentState<float> detach(const tapegrad::nn::RecurrentState<float>& state);

// ---- training and evaluation ----

/// Mean cross-entropy of `ids[1:]` given `ids[:-1]`, read as one stream in chunks under
/// NoGrad, with the model in evaluation mode (restored afterwards). `ids` needs 2 or more ids.
struct Evaluation {
  double nats = 0.0;  ///< mean cross-entropy per predicted character, natural log
  double bpc = 0.0;   ///< the same in bits: nats / ln 2
  std::size_t predicted = 0;
};
Evaluation evaluate(CharModel& model, const std::vector<Index>& ids, std::size_t chunk = 256);

/// The ids evaluate scores for the held-out text: the last training id, then the held-out ids,
/// so every held-out character is predicted (the first from the end of the training text).
std::vector<Index> held_out_sequence(const Corpus& corpus);

/// One line of the training log.
struct EpochStats {
  std::size_t epoch = 0;
  double train_nats = 0.0;  ///< mean training cross-entropy over the epoch, as it trained
  double train_bpc = 0.0;
  double valid_bpc = 0.0;
  double unigram_bpc = 0.0;  ///< unigram_bits(train, held-out text), the same every epoch
  double lr = 0.0;           ///< the learning rate at the end of the epoch
  double seconds = 0.0;      ///< training and evaluation time of the epoch
  std::size_t skipped = 0;   ///< steps skipped for a non-finite gradient norm
};

/// Trains `model` on `corpus.train` with truncated BPTT: the text cut into options.batch_size
/// streams, consumed options.bptt steps at a time, the recurrent state carried from chunk to
/// chunk and detached (the tape holds one chunk); cross-entropy, Adam, gradient clipping to
/// options.clip, the learning rate annealed from options.lr to options.lr / 10 over all steps
/// (cosine). After each epoch, evaluates on the held-out text and, when `progress` is given,
/// prints a data::ProgressLine there. Returns one EpochStats per epoch. The options must pass
/// check_options; a training part too short for one chunk is a value_error naming the sizes.
/// A held-out bpc that is not finite (a model that diverged) is a tapegrad::numerical_error
/// naming the epoch and the value. `on_epoch`, when given, sees each epoch's stats as soon
/// as they are known (a metrics log).
///
/// On several processes (`parallel.size > 1`, each with the same model, corpus and options):
/// the text is cut into batch_size * size streams and each process trains on its batch_size of
/// them (rank r: streams r * batch_size ...), the gradients averaged after each backward, so
/// the processes take the same steps as one process on all the streams. The training loss is
/// summed over the processes; every process evaluates the whole held-out text (a sequence read
/// in order), with the same parameters and so the same result.
std::vector<EpochStats> train(CharModel& model, const Corpus& corpus, const Options& options,
                              std::ostream* progress = nullptr,
                              const std::function<void(const EpochStats&)>& on_epoch = {},
                              const examples::Parallel& parallel = {});

// ---- sampling ----

/// `length` bytes drawn one at a time after reading `prompt`, each from
/// softmax(logits / temperature) over the characters of the vocabulary ("<pad>" and "<unk>"
/// are never drawn), with a Generator seeded by `seed`: the same model, prompt and seed give
/// the same text. A prompt byte outside the vocabulary, an empty prompt, a temperature that
/// is not positive and finite, or a zero length is a value_error naming it.
std::string sample(CharModel& model, const tapegrad::data::Vocabulary& vocab,
                   const std::string& prompt, double temperature, std::size_t length,
                   std::uint64_t seed);

// ---- saving and loading ----

/// Where the vocabulary of the model saved at `model_path` goes: "model.npz" ->
/// "model.vocab.txt" (any other name gets ".vocab.txt" appended).
std::string vocab_path_for(const std::string& model_path);

/// Writes the model (optim::save_model, .npz under PyTorch's names) to `model_path` and its
/// vocabulary to vocab_path_for(model_path) as outputs of `out` (OutputFiles::stage): they
/// replace the old pair when `out` commits, with the run's other outputs. Errors are
/// value_errors naming the file.
void save(tapegrad::OutputFiles& out, const CharModel& model,
          const tapegrad::data::Vocabulary& vocab, const std::string& model_path);
/// save(out, ...) with an OutputFiles of its own, committed at once: both files are written in
/// full under temporary names before either replaces an old one, so a failed save leaves an
/// existing pair of files as it was.
void save(const CharModel& model, const tapegrad::data::Vocabulary& vocab,
          const std::string& model_path);

/// A model and its vocabulary, read back.
struct Loaded {
  std::unique_ptr<CharModel> model;
  tapegrad::data::Vocabulary vocab;
};

/// Reads what save wrote. The model's shape (cell, sizes, layers) comes from the saved
/// parameters' shapes; a missing or corrupt file, parameters that are not a char_lm model, a
/// vocabulary with other specials than "<pad>" and "<unk>", or one whose size differs from the
/// model's is a value_error naming the file.
Loaded load(const std::string& model_path);

}  // namespace char_lm
