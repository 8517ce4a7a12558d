// The sentiment classifier of examples/sentiment: its model, data preparation, training with
// early stopping, evaluation, and a saved model that predicts from raw sentences.
//
//   sentence -> Tokenizer -> Vocabulary ids [T, B] -> Embedding [T, B, E] -> dropout
//            -> LSTM or GRU with lengths (bidirectional, layers) -> output [T, B, D*H]
//            -> pooled over each sentence's own steps [B, D*H] -> dropout -> Linear -> logits [B,
//            C]
//
// Everything here uses tapegrad's public API only; main.cpp is the command line around it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/autograd/files.hpp>
#include <tapegrad/data.hpp>
#include <tapegrad/nn.hpp>
#include <tapegrad/tapegrad.hpp>

#include "parallel.hpp"

namespace sentiment {

using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::Var;

/// How the recurrent outputs of a sentence become one vector.
enum class Pooling {
  last,  ///< the final states: forward at the sentence's last word, reverse at its first
  mean,  ///< the mean of the outputs over the sentence's words
  max,   ///< the elementwise maximum of the outputs over the sentence's words
};

const char* to_string(Pooling pooling);
/// "last" / "mean" / "max"; anything else is a value_error listing them. (The cell's names are
/// the library's: tapegrad::nn::to_string and parse_cell_kind.)
Pooling parse_pooling(const std::string& name);

/// The architecture. Saved next to the weights, so that a saved model rebuilds itself.
struct ModelConfig {
  tapegrad::nn::CellKind cell = tapegrad::nn::CellKind::gru;  ///< any of the four
  std::size_t vocab_size = 0;
  std::size_t num_classes = 2;
  std::size_t embedding_dim = 128;
  std::size_t hidden_size = 64;
  std::size_t num_layers = 1;
  bool bidirectional = true;
  Pooling pooling = Pooling::max;
  double embedding_dropout = 0.3;  ///< on the word vectors
  double dropout = 0.3;            ///< between recurrent layers and before the head
  /// The word vectors start as N(0, std^2) (PyTorch's default is N(0, 1)): small word vectors
  /// keep the gates out of saturation at the start. Only initialisation depends on it (a
  /// saved model does not keep it).
  double embedding_init_std = 0.1;

  /// A value_error naming the first bad field: a zero size, fewer than 2 classes, a vocabulary
  /// without its two special tokens, a dropout outside [0, 1).
  void check() const;
};

/// Embedding -> LSTM/GRU -> pooling -> Linear, with PyTorch's parameter names
/// ("embedding.weight", "rnn.weight_ih_l0", ..., "head.weight", "head.bias"), so the weights
/// load into the equivalent PyTorch model.
class Classifier : public tapegrad::nn::Module<float> {
 public:
  Classifier(const ModelConfig& config, std::uint64_t seed);

  /// ids [T, B] (time-major, padded with the vocabulary's pad_id(), 0), lengths [B] in [1, T] ->
  /// logits [B, num_classes].
  Var<float> forward(const IndexArray& ids, const std::vector<std::size_t>& lengths) const;
  Var<float> operator()(const IndexArray& ids, const std::vector<std::size_t>& lengths) const {
    return forward(ids, lengths);
  }
  const ModelConfig& config() const { return config_; }

 private:
  ModelConfig config_;
  tapegrad::Generator init_;  // parameter initialisation (declared first: members use it)
  tapegrad::nn::Embedding<float> embedding_;
  std::shared_ptr<tapegrad::nn::RNNBase<float>> rnn_;  // LSTM or GRU
  tapegrad::nn::Dropout<float> embedding_dropout_;
  tapegrad::nn::Dropout<float> dropout_;
  tapegrad::nn::Linear<float> head_;
};

/// Text -> ids, as at training time: the tokenizer options and the vocabulary.
struct TextEncoder {
  tapegrad::data::TokenizerOptions tokenizer;
  tapegrad::data::Vocabulary vocabulary;
  /// Sentences are cut to their first max_length tokens (the tokenizer reads no further), so
  /// one long line cannot size the batches; 0: no cut.
  std::size_t max_length = kDefaultMaxLength;
  static constexpr std::size_t kDefaultMaxLength = 256;

  /// The tokenizer, with max_length as its max_tokens.
  tapegrad::data::Tokenizer make_tokenizer() const;
  /// The ids of a sentence; a sentence with no tokens becomes one <unk> (a recurrent layer
  /// needs at least one step).
  std::vector<Index> encode(const std::string& text) const;
  /// True when `text` has more than max_length tokens (it is then cut).
  bool too_long(const std::string& text) const;
  std::vector<std::vector<Index>> encode_all(const std::vector<std::string>& texts) const;
};

/// Sentences with their labels, as ids.
struct Examples {
  std::vector<std::string> texts;
  std::vector<std::vector<Index>> ids;
  std::vector<Index> labels;
  std::size_t size() const { return texts.size(); }
};

/// Encodes texts and labels (equal counts, else a value_error).
Examples make_examples(const TextEncoder& encoder, std::vector<std::string> texts,
                       std::vector<Index> labels);

struct TrainConfig {
  std::size_t epochs = 30;   ///< at most; early stopping usually ends sooner
  std::size_t patience = 6;  ///< epochs without a better validation loss before stopping
  std::size_t batch_size = 32;
  double lr = 3e-3;           ///< AdamW
  double weight_decay = 0.1;  ///< AdamW's decoupled weight decay
  double clip_norm = 1.0;     ///< gradient norm clipping; 0: off
  double label_smoothing = 0.0;
  /// Each word of a training sentence becomes <unk> with this probability (a fresh draw per
  /// step), so the model cannot lean on single rare words; [0, 1).
  double word_dropout = 0.2;
  bool cosine_schedule = true;  ///< cosine annealing of the learning rate over `epochs`
  std::uint64_t seed = 1;       ///< batch order and dropout masks
  /// The budget of a training batch's padded size (sentences times the longest one's tokens):
  /// a batch over it is split (data::BatchOptions::max_tokens). The default holds a full
  /// batch of 32 sentences of TextEncoder::kDefaultMaxLength tokens; 0: no budget.
  std::size_t max_batch_tokens = 8192;

  /// A value_error naming the first bad field.
  void check() const;
};

/// The metrics of one epoch.
struct EpochStats {
  std::size_t epoch = 0;
  double train_loss = 0.0;
  double train_accuracy = 0.0;
  double valid_loss = 0.0;
  double valid_accuracy = 0.0;
  double lr = 0.0;       ///< the learning rate used in this epoch
  double seconds = 0.0;  ///< training and validation time of this epoch
};

struct TrainResult {
  std::vector<EpochStats> history;
  std::size_t best_epoch = 0;  ///< 1-based; its parameters are loaded into the model at the end
  bool stopped_early = false;
  double seconds = 0.0;  ///< total training time
};

/// How train() runs on several processes (examples/common/parallel.hpp).
using Parallel = examples::Parallel;

/// Trains `model` on `train` with AdamW, clipping and dropout, evaluates on `valid` after
/// every epoch, stops after `patience` epochs without a lower validation loss, and leaves the
/// model with the parameters of its best epoch, in eval mode. Writes a progress line per epoch
/// to `progress` when not null; calls `on_epoch` after each epoch when set. A non-finite
/// training loss (naming the epoch and step) or validation loss (naming the epoch) is a
/// tapegrad::numerical_error with its value that suggests a lower learning rate: the model
/// has diverged, and no epoch after it could be the best.
///
/// On several processes (`parallel.size > 1`, each process with the same model, data and
/// config): every process plans the same epoch of batches of `batch_size * size` sentences
/// and takes every size-th sentence of each, from its rank on (a batch smaller than `size`
/// lends its sentences again, as DistributedSampler pads); after backward the gradients are
/// averaged, so the processes take the same steps as one process on batches of
/// `batch_size * size`. The validation set is split the same way and its loss and accuracy,
/// and the training metrics, are summed over the processes, so every process stops early at
/// the same epoch and ends with the same parameters.
TrainResult train(Classifier& model, const Examples& train, const Examples& valid,
                  const TrainConfig& config, std::ostream* progress = nullptr,
                  const std::function<void(const EpochStats&)>& on_epoch = {},
                  const Parallel& parallel = {});

/// The model's results on a set of examples.
struct Evaluation {
  double loss = 0.0;                              ///< mean cross-entropy
  tapegrad::data::ConfusionMatrix confusion{1};   ///< rows true, columns predicted
  std::vector<Index> predicted;                   ///< per example
  std::vector<std::vector<float>> probabilities;  ///< per example, per class
};

/// Evaluates in eval mode without a tape, in batches of `batch_size` (the model's mode is
/// restored afterwards).
Evaluation evaluate(Classifier& model, const Examples& examples, std::size_t batch_size = 256);

/// A label with its probability.
struct Prediction {
  Index label = 0;
  std::string name;
  float probability = 0.0f;          ///< of `label`
  std::vector<float> probabilities;  ///< of every class
};

/// A trained classifier with what it needs to read sentences: the text encoder and the class
/// names. Saved as two files: PATH (the weights, .npz under PyTorch's names) and PATH with
/// the extension .json (architecture, tokenizer, vocabulary, class names and the weights'
/// checksum, so that a .json and an .npz from different runs are never paired).
class Predictor {
 public:
  Predictor(std::unique_ptr<Classifier> model, TextEncoder encoder,
            tapegrad::data::LabelSet labels);

  /// Writes PATH and its .json as outputs of `out` (OutputFiles::stage): they replace the old
  /// pair when `out` commits, together with the run's other outputs. A file that cannot be
  /// written, or a .json that cannot be (text that is not UTF-8, which Vocabulary and LabelSet
  /// refuse already), is a value_error naming the file.
  void save(tapegrad::OutputFiles& out, const std::string& path) const;
  /// save(out, path) with an OutputFiles of its own, committed at once: both files complete
  /// under temporary names before either replaces an old one; a failed save leaves the
  /// existing files as they were.
  void save(const std::string& path) const;
  /// Reads what save wrote. A missing, truncated, corrupt or mismatched file is a
  /// value_error naming the file.
  static Predictor load(const std::string& path);

  /// The most probable class of each sentence.
  std::vector<Prediction> predict(const std::vector<std::string>& texts) const;
  Prediction predict(const std::string& text) const;

  const Classifier& model() const { return *model_; }
  const TextEncoder& encoder() const { return encoder_; }
  const tapegrad::data::LabelSet& labels() const { return labels_; }

 private:
  std::unique_ptr<Classifier> model_;
  TextEncoder encoder_;
  tapegrad::data::LabelSet labels_;
};

/// The path of the .json that goes with a model path: "model.npz" -> "model.json".
std::string metadata_path(const std::string& model_path);

/// Converts the UCI "Sentiment Labelled Sentences" files as the npm package `sentiment` 5.0.2
/// ships them (JSON arrays of {"text": ..., "class": 0 or 1}) into one TSV file with the
/// columns text, label (negative / positive) and source (the JSON file's name without its
/// extension). Records with a null class and an empty text (each file ends with one) are
/// skipped; tabs and line breaks inside a text become spaces. Returns the number of sentences
/// written. A missing or malformed file, or a record without a text or with a class other than
/// 0 or 1, is a value_error naming the file and the record; the TSV is then not written.
std::size_t import_uci_json(const std::vector<std::string>& json_paths,
                            const std::string& tsv_path);

}  // namespace sentiment
