#include "char_lm.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <optional>
#include <sstream>

#include "eval_mode.hpp"

namespace char_lm {

namespace data = tapegrad::data;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::value_error;

namespace {

// A double for messages: "0.1", "3e-05", "-inf".
std::string number(double value) {
  if (std::isnan(value)) return "nan";  // not "-nan"
  std::ostringstream out;
  out << value;
  return out.str();
}

void require_positive(const char* flag, std::size_t value) {
  if (value == 0) throw value_error(std::string(flag) + " must be at least 1, got 0");
}

// A byte for messages: "'a' (byte 0x61)", with the escape of a byte that does not print.
std::string describe_byte(unsigned char byte) {
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned>(byte));
  const std::string token = byte_token(byte);
  return "'" + token + "' (byte " + hex + ")";
}

// id of every byte in `vocab` (unk_id for those it lacks).
std::array<Index, 256> byte_ids(const data::Vocabulary& vocab) {
  std::array<Index, 256> ids{};
  for (std::size_t b = 0; b < ids.size(); ++b) {
    ids[b] = vocab.id(byte_token(static_cast<unsigned char>(b)));
  }
  return ids;
}

const ModelConfig& checked(const ModelConfig& config) {
  if (config.cell != nn::CellKind::lstm && config.cell != nn::CellKind::gru) {
    throw value_error("CharModel: the cell must be an LSTM or a GRU");
  }
  if (config.vocab_size == 0 || config.embedding_size == 0 || config.hidden_size == 0 ||
      config.num_layers == 0) {
    throw value_error("CharModel: vocab_size " + std::to_string(config.vocab_size) +
                      ", embedding_size " + std::to_string(config.embedding_size) +
                      ", hidden_size " + std::to_string(config.hidden_size) + " and num_layers " +
                      std::to_string(config.num_layers) + " must be positive");
  }
  if (!(config.dropout >= 0.0 && config.dropout < 1.0)) {
    throw value_error("CharModel: dropout " + number(config.dropout) + " is outside [0, 1)");
  }
  return config;
}

// Draws an index with probability proportional to weights[i] (not all zero) from `u` in [0, 1).
std::size_t draw(const std::vector<double>& weights, double u) {
  double total = 0.0;
  for (double w : weights) total += w;
  double threshold = u * total;
  std::size_t last = 0;
  for (std::size_t i = 0; i < weights.size(); ++i) {
    if (weights[i] <= 0.0) continue;
    last = i;
    if (threshold < weights[i]) return i;
    threshold -= weights[i];
  }
  return last;  // rounding left u * total just above the sum
}

// Uniform in [0, 1) from 53 random bits: the same numbers on every platform (unlike
// std::uniform_real_distribution, whose algorithm the standard leaves open).
double uniform01(tapegrad::Generator& generator) {
  return static_cast<double>(generator.engine()() >> 11) * 0x1.0p-53;
}

}  // namespace

void check_options(const Options& o) {
  if (o.text_path.empty()) throw value_error("--text must name a file, got an empty path");
  if (!(o.valid_fraction > 0.0 && o.valid_fraction <= 0.5)) {
    throw value_error("--valid-fraction must be in (0, 0.5], got " + number(o.valid_fraction));
  }
  if (o.cell != "lstm" && o.cell != "gru") {
    throw value_error("--cell must be 'lstm' or 'gru', got '" + o.cell + "'");
  }
  require_positive("--embedding", o.embedding_size);
  require_positive("--hidden", o.hidden_size);
  require_positive("--layers", o.num_layers);
  if (!(o.dropout >= 0.0 && o.dropout < 1.0)) {
    throw value_error("--dropout must be in [0, 1), got " + number(o.dropout));
  }
  require_positive("--epochs", o.epochs);
  require_positive("--batch-size", o.batch_size);
  require_positive("--bptt", o.bptt);
  if (!(o.lr > 0.0 && std::isfinite(o.lr))) {
    throw value_error("--lr must be positive and finite, got " + number(o.lr));
  }
  if (!(o.clip > 0.0)) throw value_error("--clip must be positive, got " + number(o.clip));
  if (o.prompt.empty()) throw value_error("--prompt must not be empty");
  if (!(o.temperature > 0.0 && std::isfinite(o.temperature))) {
    throw value_error("--temperature must be positive and finite, got " + number(o.temperature));
  }
  require_positive("--sample-length", o.sample_length);
}

// ---- characters and ids ----

std::string byte_token(unsigned char byte) {
  switch (byte) {
    case '\\':
      return "\\\\";
    case '\n':
      return "\\n";
    case '\t':
      return "\\t";
    case '\r':
      return "\\r";
    default:
      break;
  }
  if (byte > 0x20 && byte < 0x7f) return std::string(1, static_cast<char>(byte));
  static const char hex[] = "0123456789abcdef";
  return std::string{'\\', 'x', hex[byte >> 4], hex[byte & 0xf]};
}

unsigned char token_byte(const std::string& token) {
  if (token.size() == 1 && byte_token(static_cast<unsigned char>(token[0])) == token) {
    return static_cast<unsigned char>(token[0]);
  }
  if (token == "\\\\") return '\\';
  if (token == "\\n") return '\n';
  if (token == "\\t") return '\t';
  if (token == "\\r") return '\r';
  if (token.size() == 4 && token[0] == '\\' && token[1] == 'x') {
    const auto digit = [](char ch) -> int {
      if (ch >= '0' && ch <= '9') return ch - '0';
      if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
      return -1;
    };
    const int hi = digit(token[2]), lo = digit(token[3]);
    if (hi >= 0 && lo >= 0) {
      const auto byte = static_cast<unsigned char>(hi * 16 + lo);
      if (byte_token(byte) == token) return byte;
    }
  }
  throw value_error("'" + token + "' is not a character token (a byte as byte_token writes it)");
}

data::Vocabulary build_vocabulary(const std::string& text) {
  std::array<bool, 256> seen{};
  for (char ch : text) seen[static_cast<unsigned char>(ch)] = true;
  std::vector<std::string> tokens = data::Specials().tokens();  // "<pad>", "<unk>"
  for (std::size_t b = 0; b < seen.size(); ++b) {
    if (seen[b]) tokens.push_back(byte_token(static_cast<unsigned char>(b)));
  }
  return data::Vocabulary(std::move(tokens));
}

std::vector<Index> encode(const data::Vocabulary& vocab, const std::string& text) {
  const std::array<Index, 256> table = byte_ids(vocab);
  std::vector<Index> ids(text.size());
  std::transform(text.begin(), text.end(), ids.begin(),
                 [&](char ch) { return table[static_cast<unsigned char>(ch)]; });
  return ids;
}

std::vector<Index> encode_strict(const data::Vocabulary& vocab, const std::string& text,
                                 const std::string& what) {
  std::vector<Index> ids = encode(vocab, text);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] == vocab.unk_id()) {
      throw value_error(what + ": character " + describe_byte(static_cast<unsigned char>(text[i])) +
                        " at position " + std::to_string(i) +
                        " is not in the model's vocabulary (the " +
                        std::to_string(vocab.size() - vocab.specials().size()) +
                        " characters of its training text)");
    }
  }
  return ids;
}

std::string decode(const data::Vocabulary& vocab, const std::vector<Index>& ids) {
  const Index pad = vocab.pad_id(), unk = vocab.unk_id();
  std::string text;
  text.reserve(ids.size());
  for (Index id : ids) {
    if (id == pad) continue;
    if (id == unk) {
      text += '?';
      continue;
    }
    text += static_cast<char>(token_byte(vocab.token(id)));
  }
  return text;
}

// ---- data ----

std::string read_text(const std::string& path, bool any_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw value_error("--text '" + path + "' is a folder, not a text file");
  }
  // Refused before it is read: a file larger than the limit of text files.
  if (const auto size = std::filesystem::file_size(path, ec); !ec) {
    tapegrad::check_input_size("--text '" + path + "'", size,
                               tapegrad::input_limits().max_text_bytes, "max_text_bytes");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    throw value_error("--text '" + path + "' cannot be read (" + std::strerror(errno) + ")");
  }
  std::string text((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  if (file.bad()) throw value_error("--text '" + path + "': reading failed");
  if (text.empty()) throw value_error("--text '" + path + "' is empty");
  if (any_bytes) return text;
  // Offsets count from 0, lines from 1.
  const auto refuse = [&](std::size_t at, const std::string& what) {
    const auto line =
        1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(at), '\n');
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x",
                  static_cast<unsigned>(static_cast<unsigned char>(text[at])));
    throw value_error("--text '" + path + "' is not a text file: byte " + std::to_string(at) +
                      " (line " + std::to_string(line) + ") is " + hex + ", " + what +
                      "; --bytes trains on any bytes");
  };
  if (const std::size_t nul = text.find('\0'); nul != std::string::npos) {
    refuse(nul, "a NUL byte (a binary file?)");
  }
  if (const std::size_t bad = data::find_invalid_utf8(text); bad != std::string::npos) {
    refuse(bad, "not UTF-8 (a binary file, or text in another encoding?)");
  }
  return text;
}

Corpus make_corpus(const std::string& text, double valid_fraction, const data::Vocabulary* vocab) {
  if (!(valid_fraction > 0.0 && valid_fraction <= 0.5)) {
    throw value_error("the held-out fraction must be in (0, 0.5], got " + number(valid_fraction));
  }
  if (text.size() < 4) {
    throw value_error("the text has " + std::to_string(text.size()) +
                      " bytes; at least 4 are needed (training and held-out parts of 2)");
  }
  const auto held_out = std::max<std::size_t>(
      2, static_cast<std::size_t>(std::llround(valid_fraction * static_cast<double>(text.size()))));
  const std::string train_text = text.substr(0, text.size() - held_out);
  const std::string valid_text = text.substr(text.size() - held_out);
  Corpus corpus{vocab != nullptr ? *vocab : build_vocabulary(train_text), {}, {}};
  corpus.train = encode(corpus.vocab, train_text);
  corpus.valid = encode(corpus.vocab, valid_text);
  return corpus;
}

double unigram_bits(const std::vector<Index>& train, const std::vector<Index>& eval,
                    std::size_t vocab_size) {
  if (vocab_size < 2 || eval.empty()) {
    throw value_error("unigram_bits: needs a vocabulary of 2 or more ids and ids to evaluate");
  }
  std::vector<double> counts(vocab_size, 1.0);  // add-one smoothing
  // "<pad>": char_lm's vocabularies have the default specials (load checks a loaded one's)
  counts[static_cast<std::size_t>(data::Vocabulary().pad_id())] = 0.0;
  for (Index id : train) counts.at(static_cast<std::size_t>(id)) += 1.0;
  const double total = static_cast<double>(train.size() + vocab_size - 1);
  double bits = 0.0;
  for (Index id : eval) bits -= std::log2(counts.at(static_cast<std::size_t>(id)) / total);
  return bits / static_cast<double>(eval.size());
}

double entropy_bits(const std::vector<Index>& ids) {
  if (ids.empty()) return 0.0;
  std::vector<double> counts;
  for (Index id : ids) {
    const auto i = static_cast<std::size_t>(id);
    if (i >= counts.size()) counts.resize(i + 1, 0.0);
    counts[i] += 1.0;
  }
  const double n = static_cast<double>(ids.size());
  double bits = 0.0;
  for (double c : counts) {
    if (c > 0.0) bits -= c / n * std::log2(c / n);
  }
  return bits;
}

IndexArray make_streams(const std::vector<Index>& seq, std::size_t batch, std::size_t min_steps) {
  if (batch == 0 || min_steps == 0) {
    throw value_error("make_streams: batch " + std::to_string(batch) + " and min_steps " +
                      std::to_string(min_steps) + " must be positive");
  }
  const std::size_t steps = seq.empty() ? 0 : (seq.size() - 1) / batch;
  if (steps < min_steps) {
    throw value_error(
        "the training text has " + std::to_string(seq.size()) + " characters, but --batch-size " +
        std::to_string(batch) + " x --bptt " + std::to_string(min_steps) + " needs at least " +
        std::to_string(batch * min_steps + 1) + " (" + std::to_string(batch) + " streams of " +
        std::to_string(min_steps) + " steps, plus one target); use a longer text or smaller sizes");
  }
  IndexArray streams = IndexArray::from_shape({steps + 1, batch});
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t t = 0; t <= steps; ++t) streams(t, b) = seq[b * steps + t];
  }
  return streams;
}

Chunk chunk_at(const IndexArray& streams, std::size_t start, std::size_t k) {
  if (streams.dimension() != 2 || streams.shape()[0] < 2) {
    throw value_error("chunk_at: expected streams [steps + 1, B] of 2 or more rows, got " +
                      tapegrad::shape_str(streams.shape()));
  }
  const std::size_t rows = streams.shape()[0], batch = streams.shape()[1];
  if (k == 0 || start + k + 1 > rows) {
    throw value_error("chunk_at: steps " + std::to_string(start) + " .. " +
                      std::to_string(start + k) + " are outside streams of " +
                      std::to_string(rows - 1) + " steps");
  }
  Chunk chunk{IndexArray::from_shape({k, batch}), IndexArray::from_shape({k * batch})};
  for (std::size_t t = 0; t < k; ++t) {
    for (std::size_t b = 0; b < batch; ++b) {
      chunk.inputs(t, b) = streams(start + t, b);
      chunk.targets(t * batch + b) = streams(start + t + 1, b);
    }
  }
  return chunk;
}

// ---- the model ----

CharModel::CharModel(const ModelConfig& config, tapegrad::Generator& generator)
    : config_(checked(config)),
      embed_(config.vocab_size, config.embedding_size, -1, generator),
      rnn_(nn::make_recurrent<float>(config.cell,
                                     nn::RNNOptions(config.embedding_size, config.hidden_size)
                                         .num_layers(config.num_layers)
                                         .dropout(config.num_layers > 1 ? config.dropout : 0.0),
                                     generator)),
      dropout_(config.dropout, generator.engine()()),
      head_(config.hidden_size, config.vocab_size, true, generator) {
  register_module("embed", embed_);
  register_module("rnn", rnn_);
  register_module("head", head_);
}

Output CharModel::forward(const IndexArray& ids, const nn::RecurrentState<float>& state) const {
  const Var<float> x = dropout_(embed_(ids));  // [T, B, E]
  const nn::RecurrentOutput<float> out = rnn_->forward(x, state);
  return {head_(dropout_(out.output)), {out.h_n, out.c_n}};  // [T, B, V]
}

ModelConfig model_config(const Options& options, std::size_t vocab_size) {
  ModelConfig config;
  config.cell = options.cell == "gru" ? nn::CellKind::gru : nn::CellKind::lstm;
  config.vocab_size = vocab_size;
  config.embedding_size = options.embedding_size;
  config.hidden_size = options.hidden_size;
  config.num_layers = options.num_layers;
  config.dropout = options.dropout;
  return config;
}

nn::RecurrentState<float> detach(const nn::RecurrentState<float>& state) {
  nn::RecurrentState<float> out;
  if (state.h.defined()) out.h = state.h.detach();
  if (state.c.defined()) out.c = state.c.detach();
  return out;
}

// ---- training and evaluation ----

Evaluation evaluate(CharModel& model, const std::vector<Index>& ids, std::size_t chunk) {
  if (ids.size() < 2 || chunk == 0) {
    throw value_error("evaluate: needs 2 or more ids (got " + std::to_string(ids.size()) +
                      ") and a positive chunk length (got " + std::to_string(chunk) + ")");
  }
  examples::EvalMode eval_mode(model);
  tapegrad::NoGrad no_grad;
  tapegrad::LossOptions sum;
  sum.reduction = tapegrad::Reduction::sum;
  const std::size_t vocab = model.config().vocab_size;
  nn::RecurrentState<float> state;
  double total = 0.0;
  for (std::size_t start = 0; start + 1 < ids.size(); start += chunk) {
    const std::size_t k = std::min(chunk, ids.size() - 1 - start);
    IndexArray inputs = IndexArray::from_shape({k, 1});
    IndexArray targets = IndexArray::from_shape({k});
    for (std::size_t t = 0; t < k; ++t) {
      inputs(t, 0) = ids[start + t];
      targets(t) = ids[start + t + 1];
    }
    const Output out = model.forward(inputs, state);
    const Var<float> logits = tapegrad::reshape(out.logits, tapegrad::make_shape({k, vocab}));
    total += static_cast<double>(tapegrad::cross_entropy(logits, targets, sum).item());
    state = out.state;
  }
  Evaluation result;
  result.predicted = ids.size() - 1;
  result.nats = total / static_cast<double>(result.predicted);
  result.bpc = result.nats / std::log(2.0);
  return result;
}

std::vector<Index> held_out_sequence(const Corpus& corpus) {
  std::vector<Index> ids;
  ids.reserve(corpus.valid.size() + 1);
  if (!corpus.train.empty()) ids.push_back(corpus.train.back());
  ids.insert(ids.end(), corpus.valid.begin(), corpus.valid.end());
  return ids;
}

std::vector<EpochStats> train(CharModel& model, const Corpus& corpus, const Options& options,
                              std::ostream* progress,
                              const std::function<void(const EpochStats&)>& on_epoch,
                              const examples::Parallel& parallel) {
  check_options(options);
  if (*parallel.problem() != '\0') {
    throw value_error("train: rank " + std::to_string(parallel.rank) + " of " +
                      std::to_string(parallel.size) + " processes: " + parallel.problem());
  }
  // On several processes, this one's batch_size of all the processes' streams.
  const auto ranks = static_cast<std::size_t>(parallel.size);
  const IndexArray all_streams =
      make_streams(corpus.train, options.batch_size * ranks, options.bptt);
  const IndexArray streams =
      parallel.several()
          ? IndexArray(xt::view(
                all_streams, xt::all(),
                xt::range(static_cast<std::size_t>(parallel.rank) * options.batch_size,
                          static_cast<std::size_t>(parallel.rank + 1) * options.batch_size)))
          : all_streams;
  const std::size_t steps = streams.shape()[0] - 1;
  const std::size_t chunks = (steps + options.bptt - 1) / options.bptt;
  const std::size_t vocab = model.config().vocab_size;
  const std::vector<Var<float>> params = model.parameters();

  optim::AdamOptions adam_options;
  adam_options.lr = options.lr;
  optim::Adam<float> adam(params, adam_options);
  // Cosine annealing per step, to a tenth of the initial rate at the last step.
  optim::CosineAnnealingLR<float> schedule(adam, static_cast<std::int64_t>(options.epochs * chunks),
                                           options.lr / 10.0);

  const std::vector<Index> held_out = held_out_sequence(corpus);
  const double unigram = unigram_bits(corpus.train, corpus.valid, vocab);
  std::optional<data::ProgressLine> line;
  if (progress != nullptr) {
    data::ProgressOptions line_options;
    line_options.num_epochs = options.epochs;
    line.emplace(*progress, chunks, line_options);
  }

  std::vector<EpochStats> log;
  for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    const auto start_time = std::chrono::steady_clock::now();
    if (line) line->start_epoch(epoch);
    model.train();
    EpochStats stats;
    stats.epoch = epoch;
    double loss_sum = 0.0;
    std::size_t predicted = 0;
    nn::RecurrentState<float> state;  // zeros: every stream starts over
    for (std::size_t c = 0; c < chunks; ++c) {
      const std::size_t start = c * options.bptt;
      const std::size_t k = std::min(options.bptt, steps - start);
      const Chunk chunk = chunk_at(streams, start, k);
      const std::size_t n = k * options.batch_size;

      adam.zero_grad();
      const Output out = model.forward(chunk.inputs, state);
      const Var<float> logits = tapegrad::reshape(out.logits, tapegrad::make_shape({n, vocab}));
      const Var<float> loss = tapegrad::cross_entropy(logits, chunk.targets);
      loss.backward();  // through this chunk's k steps only, then the tape is empty
      if (parallel.several()) parallel.average_gradients();
      state = detach(out.state);

      const double norm = optim::clip_grad_norm(params, options.clip);
      if (std::isfinite(norm)) {
        adam.step();
      } else {
        ++stats.skipped;  // an overflow: drop the step and the state it led to
        adam.zero_grad();
        state = {};
      }
      schedule.step();
      const double value = static_cast<double>(loss.item());
      loss_sum += value * static_cast<double>(n);
      predicted += n;
      if (line) line->step(value, n);
    }
    if (parallel.several()) {
      const std::vector<double> totals = parallel.sum({loss_sum, static_cast<double>(predicted)});
      loss_sum = totals[0];
      predicted = static_cast<std::size_t>(totals[1]);
    }
    stats.train_nats = loss_sum / static_cast<double>(predicted);
    stats.train_bpc = stats.train_nats / std::log(2.0);
    stats.valid_bpc = evaluate(model, held_out).bpc;
    stats.unigram_bpc = unigram;
    stats.lr = adam.param_groups().front().lr;
    stats.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_time).count();
    if (line) {
      line->end_epoch({{"train_bpc", stats.train_bpc},
                       {"valid_bpc", stats.valid_bpc},
                       {"unigram_bpc", stats.unigram_bpc},
                       {"lr", stats.lr}});
    }
    log.push_back(stats);
    if (on_epoch) on_epoch(stats);
    if (!std::isfinite(stats.valid_bpc)) {
      throw tapegrad::numerical_error("train: the held-out bpc is " + number(stats.valid_bpc) +
                                      " at epoch " + std::to_string(epoch) +
                                      ": the model diverged (try a lower learning rate than " +
                                      number(options.lr) + ")");
    }
  }
  model.eval();
  return log;
}

// ---- sampling ----

std::string sample(CharModel& model, const data::Vocabulary& vocab, const std::string& prompt,
                   double temperature, std::size_t length, std::uint64_t seed) {
  if (prompt.empty()) throw value_error("sample: the prompt is empty");
  if (!(temperature > 0.0 && std::isfinite(temperature))) {
    throw value_error("sample: the temperature must be positive and finite, got " +
                      number(temperature));
  }
  if (length == 0) throw value_error("sample: the length must be at least 1, got 0");
  if (vocab.size() != model.config().vocab_size) {
    throw value_error("sample: the vocabulary has " + std::to_string(vocab.size()) +
                      " tokens, the model " + std::to_string(model.config().vocab_size));
  }
  const std::vector<Index> prompt_ids = encode_strict(vocab, prompt, "prompt");
  if (vocab.size() <= 2) throw value_error("sample: the vocabulary has no characters");

  examples::EvalMode eval_mode(model);
  tapegrad::NoGrad no_grad;
  tapegrad::Generator generator(seed);
  const std::size_t v = vocab.size();

  IndexArray inputs = IndexArray::from_shape({prompt_ids.size(), 1});
  std::copy(prompt_ids.begin(), prompt_ids.end(), inputs.begin());
  Output out = model.forward(inputs, {});
  std::vector<Index> drawn;
  drawn.reserve(length);
  std::vector<double> weights(v);
  for (std::size_t i = 0; i < length; ++i) {
    // p_j ~ exp((logit_j - max) / temperature) over the characters (ids 2 ..)
    const tapegrad::Array<float>& logits = out.logits.value();  // [T, 1, V]
    const std::size_t last = (logits.shape()[0] - 1) * v;
    double max_logit = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 2; j < v; ++j) {
      max_logit = std::max(max_logit, static_cast<double>(logits.data()[last + j]));
    }
    weights[0] = weights[1] = 0.0;
    for (std::size_t j = 2; j < v; ++j) {
      weights[j] =
          std::exp((static_cast<double>(logits.data()[last + j]) - max_logit) / temperature);
    }
    const auto id = static_cast<Index>(draw(weights, uniform01(generator)));
    drawn.push_back(id);
    if (i + 1 == length) break;
    IndexArray next = IndexArray::from_shape({1, 1});
    next(0, 0) = id;
    out = model.forward(next, out.state);
  }
  return decode(vocab, drawn);
}

// ---- saving and loading ----

std::string vocab_path_for(const std::string& model_path) {
  const std::string suffix = ".npz";
  if (model_path.size() > suffix.size() &&
      model_path.compare(model_path.size() - suffix.size(), suffix.size(), suffix) == 0) {
    return model_path.substr(0, model_path.size() - suffix.size()) + ".vocab.txt";
  }
  return model_path + ".vocab.txt";
}

void save(tapegrad::OutputFiles& out, const CharModel& model, const data::Vocabulary& vocab,
          const std::string& model_path) {
  if (vocab.size() != model.config().vocab_size) {
    throw value_error("save: the vocabulary has " + std::to_string(vocab.size()) +
                      " tokens, the model " + std::to_string(model.config().vocab_size));
  }
  optim::save_model(model, out.stage(model_path));
  vocab.save(out.stage(vocab_path_for(model_path)));
}

void save(const CharModel& model, const data::Vocabulary& vocab, const std::string& model_path) {
  tapegrad::OutputFiles out;
  try {
    save(out, model, vocab, model_path);
    out.commit();
  } catch (const value_error& e) {
    throw value_error("save: cannot save the model to '" + model_path +
                      "' (the files there are unchanged): " + e.what());
  }
}

Loaded load(const std::string& model_path) {
  const tapegrad::Npz archive = tapegrad::Npz::load(model_path);
  const auto shape_of = [&](const std::string& name) {
    if (!archive.contains(name) || archive.shape(name).size() != 2) {
      throw value_error("load: '" + model_path + "' is not a char_lm model: it has no 2-D entry '" +
                        name + "'");
    }
    return archive.shape(name);
  };
  const tapegrad::Shape embed = shape_of("embed.weight");     // [V, E]
  const tapegrad::Shape w_hh = shape_of("rnn.weight_hh_l0");  // [G H, H]
  ModelConfig config;
  config.vocab_size = embed[0];
  config.embedding_size = embed[1];
  config.hidden_size = w_hh[1];
  if (w_hh[0] == 4 * w_hh[1]) {
    config.cell = nn::CellKind::lstm;
  } else if (w_hh[0] == 3 * w_hh[1]) {
    config.cell = nn::CellKind::gru;
  } else {
    throw value_error("load: '" + model_path + "': rnn.weight_hh_l0 of shape " +
                      tapegrad::shape_str(w_hh) +
                      " is neither an LSTM's [4H, H] nor a GRU's [3H, H]");
  }
  config.num_layers = 0;
  while (archive.contains("rnn.weight_ih_l" + std::to_string(config.num_layers))) {
    ++config.num_layers;
  }

  const std::string vocab_path = vocab_path_for(model_path);
  Loaded loaded{nullptr, data::Vocabulary::load(vocab_path)};
  if (loaded.vocab.specials() != data::Specials()) {
    throw value_error("load: '" + vocab_path + "' has the specials of another kind of model (" +
                      std::to_string(loaded.vocab.specials().size()) +
                      " of them, with a header line); a character vocabulary has '<pad>' and "
                      "'<unk>' alone, on its first two lines");
  }
  const std::vector<std::string>& tokens = loaded.vocab.tokens();
  for (std::size_t i = 2; i < tokens.size(); ++i) {
    try {
      token_byte(tokens[i]);
    } catch (const value_error& e) {
      throw value_error("load: '" + vocab_path + "' line " + std::to_string(i + 1) + ": " +
                        e.what());
    }
  }
  if (loaded.vocab.size() != config.vocab_size) {
    throw value_error(
        "load: the vocabulary '" + vocab_path + "' has " + std::to_string(loaded.vocab.size()) +
        " tokens, but the model '" + model_path + "' has " + std::to_string(config.vocab_size) +
        " (embed.weight " + tapegrad::shape_str(embed) + "): the two files are not a pair");
  }
  tapegrad::Generator unused(0);  // every parameter is overwritten by load_model
  loaded.model = std::make_unique<CharModel>(config, unused);
  optim::load_model(*loaded.model, model_path);  // strict: names and shapes
  loaded.model->eval();
  return loaded;
}

}  // namespace char_lm
