// What the sentiment benchmark's binaries share (sentiment_tapegrad, sentiment_torch): the
// command line, the corpus file that carries the sentiment example's training data and
// settings from one to the other, the word dropout and the learning rate of an epoch, and the
// JSON line each prints. The JSON writer, the option parser and the memory probes are the
// recurrent benchmark's (../rnn/rnn_common.hpp). Standard library only: the LibTorch binary
// includes this too, so no tapegrad header may enter.
//
// The corpus file is written once by `sentiment_tapegrad --prepare DATA.tsv --corpus FILE`:
// the example's training split of its data set, tokenised and encoded by the example's code,
// the example's model and training settings (its defaults), and the batches of every epoch as
// the example's data::BatchIterator draws them (length-bucketed, seeded). Both binaries then
// train on FILE: the same sentences in the same batches, epoch after epoch.
//
// Command line (both binaries):
//   --corpus FILE --threads N --epochs R --warmup W --seed S [--check FILE]
// W untimed epochs, then R timed ones; S seeds the parameters, the dropout masks and the word
// dropout (whose draws are the same in both binaries). With --check FILE, the value check
// (../value_check.hpp) instead: sentiment_tapegrad writes its initial weights and kCheckSteps
// training steps on the first batches, dropout and word dropout off, to FILE; sentiment_torch
// loads those weights by name, runs the same steps and compares.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "../rnn/rnn_common.hpp"

namespace sent_bench {

/// Training steps the value check runs and compares: the first batches of the first epoch.
constexpr int kCheckSteps = 3;

/// The first line of a corpus file.
constexpr const char* kCorpusFormat = "tapegrad-sentiment-bench-corpus 1";

/// The command line of a timed run.
struct Config {
  std::string corpus;  // the corpus file
  int threads = 1;
  int epochs = 3;  // timed epochs per process
  int warmup = 1;  // untimed epochs before them
  std::uint64_t seed = 1;
  std::string check;  // the value check's file; empty: time the epochs
};

/// The model and its training, as the sentiment example's defaults set them (ModelConfig,
/// TrainConfig and its train(); written to the corpus file by the tapegrad binary).
struct Settings {
  std::string cell = "gru";  // lstm, gru, rnn_tanh or rnn_relu
  std::int64_t vocab_size = 0;
  std::int64_t num_classes = 0;
  std::int64_t embedding_dim = 0;
  std::int64_t hidden_size = 0;
  std::int64_t num_layers = 0;
  bool bidirectional = true;
  std::string pooling = "max";  // last, mean or max
  double embedding_dropout = 0.0;
  double dropout = 0.0;
  double embedding_init_std = 1.0;
  std::int64_t batch_size = 0;
  double lr = 0.0;  // AdamW
  double weight_decay = 0.0;
  double clip_norm = 0.0;  // 0: off
  double word_dropout = 0.0;
  std::int64_t cosine_epochs = 0;  // T_max of the cosine schedule; 0: a constant rate
  double lr_min = 0.0;             // the schedule's eta_min
  std::int64_t unk_id = 1;         // word dropout's replacement
  std::int64_t pad_id = 0;
};

/// The training sentences with their labels, and the batches of each epoch (indices into
/// them, in batch order).
struct Corpus {
  Settings settings;
  std::string source;  // the data set's file, as given to --prepare
  std::vector<std::vector<std::int64_t>> ids;
  std::vector<std::int64_t> labels;
  std::vector<std::vector<std::vector<std::size_t>>> epochs;  // [epoch][batch][example]

  std::size_t size() const { return ids.size(); }
};

/// Writes the corpus file; a file that cannot be written is a runtime_error naming it.
inline void write_corpus(const std::string& path, const Corpus& c) {
  const Settings& s = c.settings;
  std::ofstream f(path);
  f.precision(15);  // the settings are decimal literals: they read back as written
  f << kCorpusFormat << "\nsource " << c.source << "\ncell " << s.cell << "\nvocab_size "
    << s.vocab_size << "\nnum_classes " << s.num_classes << "\nembedding_dim " << s.embedding_dim
    << "\nhidden_size " << s.hidden_size << "\nnum_layers " << s.num_layers << "\nbidirectional "
    << (s.bidirectional ? 1 : 0) << "\npooling " << s.pooling << "\nembedding_dropout "
    << s.embedding_dropout << "\ndropout " << s.dropout << "\nembedding_init_std "
    << s.embedding_init_std << "\nbatch_size " << s.batch_size << "\nlr " << s.lr
    << "\nweight_decay " << s.weight_decay << "\nclip_norm " << s.clip_norm << "\nword_dropout "
    << s.word_dropout << "\ncosine_epochs " << s.cosine_epochs << "\nlr_min " << s.lr_min
    << "\nunk_id " << s.unk_id << "\npad_id " << s.pad_id << "\nsentences " << c.size() << "\n";
  // A sentence a line: its label, its length, its ids.
  for (std::size_t i = 0; i < c.size(); ++i) {
    f << c.labels[i] << ' ' << c.ids[i].size();
    for (std::int64_t id : c.ids[i]) f << ' ' << id;
    f << '\n';
  }
  // An epoch: its batch count, then a batch a line: its size, its example indices.
  f << "epochs " << c.epochs.size() << '\n';
  for (const auto& epoch : c.epochs) {
    f << epoch.size() << '\n';
    for (const auto& batch : epoch) {
      f << batch.size();
      for (std::size_t i : batch) f << ' ' << i;
      f << '\n';
    }
  }
  f << "end\n";
  if (!f) throw std::runtime_error("cannot write " + path);
}

/// Reads what write_corpus wrote; a missing or malformed file, or ids, labels or indices out
/// of range, is a runtime_error naming the file.
inline Corpus read_corpus(const std::string& path) {
  std::ifstream f(path);
  const auto fail = [&path](const std::string& what) {
    return std::runtime_error(path + ": " + what + " (write it with sentiment_tapegrad --prepare)");
  };
  if (!f) throw fail("cannot open it");
  std::string line;
  if (!std::getline(f, line) || line != kCorpusFormat) throw fail("not a corpus file");
  std::map<std::string, std::string> fields;
  std::string key, value;
  while (f >> key && key != "sentences" && std::getline(f >> std::ws, value)) fields[key] = value;
  const auto field = [&](const char* name) {
    const auto it = fields.find(name);
    if (it == fields.end()) throw fail(std::string("no field ") + name);
    return it->second;
  };
  const auto integer = [&](const char* name) { return std::stoll(field(name)); };
  const auto real = [&](const char* name) { return std::stod(field(name)); };
  Corpus c;
  Settings& s = c.settings;
  c.source = field("source");
  s.cell = field("cell");
  s.vocab_size = integer("vocab_size");
  s.num_classes = integer("num_classes");
  s.embedding_dim = integer("embedding_dim");
  s.hidden_size = integer("hidden_size");
  s.num_layers = integer("num_layers");
  s.bidirectional = integer("bidirectional") != 0;
  s.pooling = field("pooling");
  s.embedding_dropout = real("embedding_dropout");
  s.dropout = real("dropout");
  s.embedding_init_std = real("embedding_init_std");
  s.batch_size = integer("batch_size");
  s.lr = real("lr");
  s.weight_decay = real("weight_decay");
  s.clip_norm = real("clip_norm");
  s.word_dropout = real("word_dropout");
  s.cosine_epochs = integer("cosine_epochs");
  s.lr_min = real("lr_min");
  s.unk_id = integer("unk_id");
  s.pad_id = integer("pad_id");

  std::size_t n = 0;
  if (key != "sentences" || !(f >> n) || n == 0) throw fail("no sentences");
  c.ids.resize(n);
  c.labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t length = 0;
    if (!(f >> c.labels[i] >> length) || length == 0) throw fail("a bad sentence");
    if (c.labels[i] < 0 || c.labels[i] >= s.num_classes) throw fail("a label out of range");
    c.ids[i].resize(length);
    for (std::int64_t& id : c.ids[i]) {
      if (!(f >> id) || id < 0 || id >= s.vocab_size) throw fail("an id out of range");
    }
  }
  std::size_t epochs = 0;
  if (!(f >> key >> epochs) || key != "epochs" || epochs == 0) throw fail("no epochs");
  c.epochs.resize(epochs);
  for (auto& epoch : c.epochs) {
    std::size_t batches = 0;
    if (!(f >> batches) || batches == 0) throw fail("an epoch without batches");
    epoch.resize(batches);
    for (auto& batch : epoch) {
      std::size_t size = 0;
      if (!(f >> size) || size == 0) throw fail("an empty batch");
      batch.resize(size);
      for (std::size_t& i : batch) {
        if (!(f >> i) || i >= n) throw fail("an example index out of range");
      }
    }
  }
  if (!(f >> key) || key != "end") throw fail("truncated");
  return c;
}

inline const char* usage() {
  return "usage: --corpus FILE --threads N --epochs R --warmup W --seed S [--check FILE]";
}

/// Parses `--key value` pairs: the keys of Config and `extra` (a binary's own); a bad key or
/// value prints the message and `usage_text` and exits with status 2. `need_corpus`: --corpus
/// is required.
inline Config parse_args(int argc, char** argv, rnn_bench::OptionSetters extra = {},
                         bool need_corpus = true, const char* usage_text = usage()) {
  Config c;
  extra.insert({
      {"--corpus", [&](const std::string& v) { c.corpus = v; }},
      {"--threads", [&](const std::string& v) { c.threads = std::stoi(v); }},
      {"--epochs", [&](const std::string& v) { c.epochs = std::stoi(v); }},
      {"--warmup", [&](const std::string& v) { c.warmup = std::stoi(v); }},
      {"--seed", [&](const std::string& v) { c.seed = std::stoull(v); }},
      {"--check", [&](const std::string& v) { c.check = v; }},
  });
  rnn_bench::parse_options(
      argc, argv, extra,
      [&] {
        if (c.threads < 1 || c.epochs < 1 || c.warmup < 0) {
          throw std::invalid_argument("threads and epochs must be positive, warmup >= 0");
        }
        if (need_corpus && c.corpus.empty()) throw std::invalid_argument("no --corpus FILE");
      },
      usage_text);
  return c;
}

/// The epochs a run trains, checked against the corpus's: a run needs an epoch plan for each,
/// the value check kCheckSteps batches of the first.
inline void check_epochs(const Config& c, const Corpus& corpus) {
  if (!c.check.empty() && corpus.epochs.front().size() < static_cast<std::size_t>(kCheckSteps)) {
    throw std::runtime_error(c.corpus + ": the value check needs " + std::to_string(kCheckSteps) +
                             " batches in the first epoch");
  }
  const auto needed = static_cast<std::size_t>(c.warmup + c.epochs);
  if (c.check.empty() && needed > corpus.epochs.size()) {
    throw std::runtime_error(c.corpus + " holds the batches of " +
                             std::to_string(corpus.epochs.size()) + " epochs, the run needs " +
                             std::to_string(needed) + " (--warmup + --epochs)");
  }
}

/// Word dropout, the same draws in both binaries: each word of the batch (sentence b's steps
/// t < lengths[b], sentence after sentence) is replaced with probability p, by calling
/// replace(t, b). Drawn from `gen` with plain arithmetic (no distribution object, whose
/// algorithm the standard leaves open).
template <class Replace>
void drop_words(const std::vector<std::size_t>& lengths, double p, std::mt19937_64& gen,
                const Replace& replace) {
  const auto threshold = static_cast<std::uint64_t>(p * 1e9);
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    for (std::size_t t = 0; t < lengths[b]; ++t) {
      if (gen() % 1000000000 < threshold) replace(t, b);
    }
  }
}

/// The word dropout's generator of a run.
inline std::mt19937_64 word_generator(const Config& c) {
  return std::mt19937_64(c.seed + 3);
}

/// The learning rate of epoch `epoch` (0-based) under the cosine schedule of the settings:
/// lr_min + (lr - lr_min) (1 + cos(pi epoch / T_max)) / 2; the base rate when there is none.
inline double epoch_lr(const Settings& s, std::size_t epoch) {
  if (s.cosine_epochs == 0) return s.lr;
  const double pi = std::acos(-1.0);
  return s.lr_min + (s.lr - s.lr_min) *
                        (1.0 + std::cos(pi * static_cast<double>(epoch) /
                                        static_cast<double>(s.cosine_epochs))) /
                        2.0;
}

/// What one training step gave.
struct StepResult {
  double loss = 0.0;
  double norm = 0.0;        // of the gradients, before clipping (0 when clipping is off)
  std::size_t correct = 0;  // sentences the step's logits classify right
};

/// What one epoch of training gave.
struct EpochResult {
  double ms = 0.0;    // wall clock
  double loss = 0.0;  // mean training loss over the epoch's sentences
  double accuracy = 0.0;
  double lr = 0.0;  // the learning rate used
};

/// The JSON line of a timed run: the library, the corpus and the model, the per-epoch times
/// and throughput of the timed epochs, and the loss of every epoch (warm-up ones first).
inline rnn_bench::JsonLine result_line(const std::string& lib, const Config& c,
                                       const Corpus& corpus, const std::vector<EpochResult>& epochs,
                                       std::int64_t parameters) {
  const Settings& s = corpus.settings;
  std::vector<double> times, rates, losses;
  std::size_t batches = 0, tokens = 0, padded = 0;
  for (std::size_t e = 0; e < epochs.size(); ++e) {
    losses.push_back(epochs[e].loss);
    if (static_cast<int>(e) < c.warmup) continue;
    times.push_back(epochs[e].ms);
    rates.push_back(static_cast<double>(corpus.size()) / (epochs[e].ms * 1e-3));
  }
  for (const auto& batch : corpus.epochs.front()) {
    std::size_t longest = 0;
    for (std::size_t i : batch) {
      tokens += corpus.ids[i].size();
      longest = std::max(longest, corpus.ids[i].size());
    }
    padded += longest * batch.size();
    ++batches;
  }
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  rnn_bench::JsonLine j;
  j.add("lib", lib)
      .add("sentences", static_cast<std::int64_t>(corpus.size()))
      .add("batches", static_cast<std::int64_t>(batches))
      .add("tokens", static_cast<std::int64_t>(tokens))
      .add("padded_tokens", static_cast<std::int64_t>(padded))
      .add("vocab_size", s.vocab_size)
      .add("cell", s.cell)
      .add("embedding_dim", s.embedding_dim)
      .add("hidden_size", s.hidden_size)
      .add("num_layers", s.num_layers)
      .add("bidirectional", s.bidirectional ? 1 : 0)
      .add("pooling", s.pooling)
      .add("batch_size", s.batch_size)
      .add("parameters", parameters)
      .add("threads", c.threads)
      .add("omp_wait_policy", policy != nullptr ? policy : "")
      .add("glibc_tunables", tunables != nullptr ? tunables : "")
      .add("warmup_epochs", c.warmup)
      .add("epoch_ms", times)
      .add("sentences_per_s", rates)
      .add("median_sentences_per_s", rnn_bench::median(rates))
      .add("epoch_losses", losses)
      .add("loss_first", losses.front())
      .add("loss_last", losses.back())
      .add("accuracy_last", epochs.back().accuracy)
      .add("lr_last", epochs.back().lr)
      .add("peak_rss_kb", rnn_bench::peak_rss_kb());
  return j;
}

}  // namespace sent_bench
