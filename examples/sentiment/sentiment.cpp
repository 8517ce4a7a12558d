#include "sentiment.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>
#include <stdexcept>
#include <type_traits>

#include <nlohmann/json.hpp>
#include <tapegrad/autograd/npz.hpp>
#include <tapegrad/optim.hpp>

#include "saved_model.hpp"

namespace sentiment {

namespace data = tapegrad::data;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using examples::fingerprint;
using examples::json_field;
using tapegrad::value_error;

// ---- names ----

const char* to_string(Pooling pooling) {
  switch (pooling) {
    case Pooling::last:
      return "last";
    case Pooling::mean:
      return "mean";
    case Pooling::max:
      return "max";
  }
  return "?";
}

Pooling parse_pooling(const std::string& name) {
  for (Pooling p : {Pooling::last, Pooling::mean, Pooling::max}) {
    if (name == to_string(p)) return p;
  }
  throw value_error("unknown pooling \"" + name + "\" (expected last, mean or max)");
}

namespace {

// A double for messages, as short as it prints: "0.1", "-1e-09", "nan".
std::string number(double value) {
  if (std::isnan(value)) return "nan";  // not "-nan"
  std::ostringstream out;
  out << value;
  return out.str();
}

void check_positive(const char* where, const char* what, std::size_t value) {
  if (value == 0)
    throw value_error(std::string(where) + ": " + what + " must be at least 1, got 0");
}

void check_probability(const char* where, const char* what, double p) {
  if (!(p >= 0.0 && p < 1.0)) {
    throw value_error(std::string(where) + ": " + what + " must be in [0, 1), got " + number(p));
  }
}

}  // namespace

void ModelConfig::check() const {
  const char* where = "ModelConfig";
  if (vocab_size < 2) {
    throw value_error("ModelConfig: vocab_size must be at least 2 (<pad> and <unk>), got " +
                      std::to_string(vocab_size));
  }
  if (num_classes < 2) {
    throw value_error("ModelConfig: a classifier needs at least 2 classes, got num_classes " +
                      std::to_string(num_classes));
  }
  check_positive(where, "embedding_dim", embedding_dim);
  check_positive(where, "hidden_size", hidden_size);
  check_positive(where, "num_layers", num_layers);
  check_probability(where, "embedding_dropout", embedding_dropout);
  check_probability(where, "dropout", dropout);
  if (!(embedding_init_std > 0.0 && std::isfinite(embedding_init_std))) {
    throw value_error("ModelConfig: embedding_init_std must be positive and finite, got " +
                      number(embedding_init_std));
  }
}

void TrainConfig::check() const {
  const char* where = "TrainConfig";
  check_positive(where, "epochs", epochs);
  check_positive(where, "batch_size", batch_size);
  if (!(lr > 0.0 && std::isfinite(lr))) {
    throw value_error("TrainConfig: lr must be positive and finite, got " + number(lr));
  }
  if (!(weight_decay >= 0.0 && std::isfinite(weight_decay))) {
    throw value_error("TrainConfig: weight_decay must be >= 0 and finite, got " +
                      number(weight_decay));
  }
  if (!(clip_norm >= 0.0 && std::isfinite(clip_norm))) {
    throw value_error("TrainConfig: clip_norm must be >= 0 and finite (0: off), got " +
                      number(clip_norm));
  }
  check_probability(where, "label_smoothing", label_smoothing);
  check_probability(where, "word_dropout", word_dropout);
}

// ---- the model ----

namespace {

ModelConfig checked(const ModelConfig& config) {
  config.check();
  return config;
}

nn::RNNOptions recurrent_options(const ModelConfig& c) {
  return nn::RNNOptions(c.embedding_dim, c.hidden_size)
      .num_layers(c.num_layers)
      .bidirectional(c.bidirectional)
      .dropout(c.num_layers > 1 ? c.dropout : 0.0);
}

std::size_t directions(const ModelConfig& c) {
  return c.bidirectional ? 2 : 1;
}

}  // namespace

Classifier::Classifier(const ModelConfig& config, std::uint64_t seed)
    : config_(checked(config)),
      init_(seed),
      embedding_(config_.vocab_size, config_.embedding_dim, data::Vocabulary().pad_id(), init_),
      rnn_(nn::make_recurrent<float>(config_.cell, recurrent_options(config_), init_)),
      embedding_dropout_(config_.embedding_dropout, seed + 1),
      dropout_(config_.dropout, seed + 2),
      head_(directions(config_) * config_.hidden_size, config_.num_classes, true, init_) {
  this->register_module("embedding", embedding_);
  this->register_module("rnn", rnn_);
  this->register_module("embedding_dropout", embedding_dropout_);
  this->register_module("dropout", dropout_);
  this->register_module("head", head_);
  if (config_.embedding_init_std != 1.0) {
    // The <pad> row is zero and stays so.
    Var<float> weight = embedding_.weight();  // a handle: the same parameter
    for (float& w : weight.mutable_value()) {
      w *= static_cast<float>(config_.embedding_init_std);
    }
  }
}

Var<float> Classifier::forward(const IndexArray& ids,
                               const std::vector<std::size_t>& lengths) const {
  const Var<float> words = embedding_dropout_(embedding_(ids));  // [T, B, E]
  const tapegrad::nn::RecurrentOutput<float> out = rnn_->forward(words, lengths);
  const std::size_t d = directions(config_);
  Var<float> pooled;  // [B, D*H]
  switch (config_.pooling) {
    case Pooling::last: {
      // h_n [L*D, B, H]: the last layer's directions are its final d entries.
      const std::size_t first = (config_.num_layers - 1) * d;
      std::vector<Var<float>> parts;
      for (std::size_t k = 0; k < d; ++k) parts.push_back(tapegrad::select(out.h_n, 0, first + k));
      pooled = d == 1 ? parts[0] : tapegrad::concat(parts, 1);
      break;
    }
    case Pooling::mean: {
      // The outputs are zero past each length, so their sum over time is the sum over words.
      tapegrad::Array<float> n = tapegrad::Array<float>::from_shape({lengths.size(), 1});
      for (std::size_t b = 0; b < lengths.size(); ++b) n(b, 0) = static_cast<float>(lengths[b]);
      pooled = tapegrad::sum(out.output, 0) / tapegrad::constant(std::move(n));
      break;
    }
    case Pooling::max: {
      // Padding steps must never win the maximum: they are replaced by a large negative value.
      const std::size_t steps = ids.shape()[0];
      xt::xarray<bool> valid = xt::xarray<bool>::from_shape({steps, lengths.size(), 1});
      for (std::size_t t = 0; t < steps; ++t) {
        for (std::size_t b = 0; b < lengths.size(); ++b) valid(t, b, 0) = t < lengths[b];
      }
      const Var<float> floor = tapegrad::constant(tapegrad::Array<float>{-1e4f});
      pooled = tapegrad::max(tapegrad::where(valid, out.output, floor), 0);
      break;
    }
  }
  return head_(dropout_(pooled));
}

// ---- text ----

data::Tokenizer TextEncoder::make_tokenizer() const {
  data::TokenizerOptions options = tokenizer;
  options.max_tokens = max_length;
  return data::Tokenizer(options);
}

std::vector<Index> TextEncoder::encode(const std::string& text) const {
  std::vector<Index> ids = vocabulary.encode(make_tokenizer()(text));
  if (ids.empty()) ids.push_back(vocabulary.unk_id());
  return ids;
}

bool TextEncoder::too_long(const std::string& text) const {
  return make_tokenizer().exceeds_max_tokens(text);
}

std::vector<std::vector<Index>> TextEncoder::encode_all(
    const std::vector<std::string>& texts) const {
  std::vector<std::vector<Index>> out;
  out.reserve(texts.size());
  for (const std::string& text : texts) out.push_back(encode(text));
  return out;
}

Examples make_examples(const TextEncoder& encoder, std::vector<std::string> texts,
                       std::vector<Index> labels) {
  if (texts.size() != labels.size()) {
    throw value_error("make_examples: " + std::to_string(texts.size()) + " texts but " +
                      std::to_string(labels.size()) + " labels");
  }
  Examples out;
  out.ids = encoder.encode_all(texts);
  out.texts = std::move(texts);
  out.labels = std::move(labels);
  return out;
}

// ---- evaluation ----

Evaluation evaluate(Classifier& model, const Examples& examples, std::size_t batch_size) {
  check_positive("evaluate", "batch_size", batch_size);
  const bool was_training = model.is_training();
  model.eval();
  tapegrad::NoGrad no_grad;
  Evaluation result;
  result.confusion = data::ConfusionMatrix(model.config().num_classes);
  double loss_sum = 0.0;
  for (std::size_t start = 0; start < examples.size(); start += batch_size) {
    std::vector<std::size_t> indices;
    for (std::size_t i = start; i < std::min(start + batch_size, examples.size()); ++i) {
      indices.push_back(i);
    }
    const data::Batch batch = data::make_batch(examples.ids, examples.labels, indices);
    const Var<float> logits = model(batch.ids, batch.lengths);
    loss_sum += tapegrad::cross_entropy(logits, batch.targets, {tapegrad::Reduction::sum}).item();
    const tapegrad::Array<float> probs = tapegrad::softmax(logits, 1).value();
    const IndexArray predicted = data::argmax_rows(probs);
    result.confusion.add_batch(batch.targets, predicted);
    for (std::size_t b = 0; b < batch.size(); ++b) {
      result.predicted.push_back(predicted(b));
      std::vector<float> row(probs.shape()[1]);
      for (std::size_t c = 0; c < row.size(); ++c) row[c] = probs(b, c);
      result.probabilities.push_back(std::move(row));
    }
  }
  result.loss = examples.size() ? loss_sum / static_cast<double>(examples.size()) : 0.0;
  model.train(was_training);
  return result;
}

// ---- training ----

namespace {

// This process's share of one batch of all the processes: every size-th example from its rank
// on; a batch with fewer examples than processes lends them again (wrapping around).
std::vector<std::size_t> share(const std::vector<std::size_t>& batch, const Parallel& parallel) {
  const auto ranks = static_cast<std::size_t>(parallel.size);
  std::vector<std::size_t> out;
  for (auto i = static_cast<std::size_t>(parallel.rank); i < std::max(batch.size(), ranks);
       i += ranks) {
    out.push_back(batch[i % batch.size()]);
  }
  return out;
}

// This process's share of a validation set: every size-th example from its rank on.
Examples subset(const Examples& examples, const Parallel& parallel) {
  Examples out;
  for (auto i = static_cast<std::size_t>(parallel.rank); i < examples.size();
       i += static_cast<std::size_t>(parallel.size)) {
    out.texts.push_back(examples.texts[i]);
    out.ids.push_back(examples.ids[i]);
    out.labels.push_back(examples.labels[i]);
  }
  return out;
}

// Replaces each word (not the padding) by <unk> with probability p.
void drop_words(data::Batch& batch, double p, tapegrad::Generator& generator) {
  std::bernoulli_distribution drop(p);
  const Index unk = data::Vocabulary().unk_id();  // the sentiment vocabularies' default specials
  for (std::size_t b = 0; b < batch.size(); ++b) {
    for (std::size_t t = 0; t < batch.lengths[b]; ++t) {
      if (drop(generator.engine())) batch.ids(t, b) = unk;
    }
  }
}

}  // namespace

TrainResult train(Classifier& model, const Examples& train, const Examples& valid,
                  const TrainConfig& config, std::ostream* progress,
                  const std::function<void(const EpochStats&)>& on_epoch,
                  const Parallel& parallel) {
  config.check();
  const bool several = parallel.several();
  if (*parallel.problem() != '\0') {
    throw value_error("train: rank " + std::to_string(parallel.rank) + " of " +
                      std::to_string(parallel.size) + " processes: " + parallel.problem());
  }
  const auto ranks = static_cast<std::size_t>(parallel.size);
  if (train.size() == 0) throw value_error("train: the training set is empty");
  if (valid.size() == 0) throw value_error("train: the validation set is empty");
  for (std::size_t i = 0; config.max_batch_tokens > 0 && i < train.size(); ++i) {
    if (train.ids[i].size() > config.max_batch_tokens) {
      throw value_error("train: training sentence " + std::to_string(i + 1) + " has " +
                        std::to_string(train.ids[i].size()) +
                        " tokens, more than the batch budget of " +
                        std::to_string(config.max_batch_tokens) +
                        " (--max-batch-tokens); cut sentences with --max-length");
    }
  }

  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();

  // On several processes, the plan is of batches of all of them together (see Parallel).
  data::BatchOptions batching;
  batching.batch_size = config.batch_size * ranks;
  batching.bucket_batches = 8;  // similar lengths in a batch: less padding, same randomness
  batching.seed = config.seed;
  batching.max_tokens = config.max_batch_tokens * ranks;
  data::BatchIterator batches(train.ids, train.labels, batching);

  optim::AdamWOptions adam;
  adam.lr = config.lr;
  adam.weight_decay = config.weight_decay;
  optim::AdamW<float> optimizer(model.parameters(), adam);
  std::unique_ptr<optim::CosineAnnealingLR<float>> schedule;
  if (config.cosine_schedule) {
    schedule = std::make_unique<optim::CosineAnnealingLR<float>>(
        optimizer, static_cast<std::int64_t>(config.epochs), config.lr * 0.05);
  }
  tapegrad::LossOptions loss_options;
  loss_options.label_smoothing = config.label_smoothing;

  std::unique_ptr<data::ProgressLine> line;
  if (progress) {
    data::ProgressOptions options;
    options.num_epochs = config.epochs;
    line = std::make_unique<data::ProgressLine>(*progress, batches.num_batches(), options);
  }

  tapegrad::Generator word_generator(config.seed + 3);

  TrainResult result;
  double best_loss = std::numeric_limits<double>::infinity();
  nn::StateDict<float> best_state;
  std::size_t since_best = 0;
  for (std::size_t epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    EpochStats stats;
    stats.epoch = epoch;
    stats.lr = optimizer.param_groups()[0].lr;
    if (line) line->start_epoch(epoch);
    model.train();
    double loss_sum = 0.0;
    std::size_t correct = 0;
    std::size_t seen = 0;
    std::size_t step = 0;
    const data::BatchIterator::Epoch plan = batches.epoch();
    for (std::size_t i = 0; i < plan.size(); ++i) {
      ++step;
      data::Batch batch = several
                              ? data::make_batch(train.ids, train.labels,
                                                 share(plan.indices()[i], parallel), batching.pad)
                              : plan.batch(i);
      if (config.word_dropout > 0.0) drop_words(batch, config.word_dropout, word_generator);
      optimizer.zero_grad();
      const Var<float> logits = model(batch.ids, batch.lengths);
      Var<float> loss = tapegrad::cross_entropy(logits, batch.targets, loss_options);
      const double value = loss.item();
      if (!std::isfinite(value)) {
        throw tapegrad::numerical_error(
            "train: the training loss is " + number(value) + " at epoch " + std::to_string(epoch) +
            ", step " + std::to_string(step) + ": the model diverged (try a lower learning rate)");
      }
      loss.backward();
      if (several) parallel.average_gradients();
      if (config.clip_norm > 0.0) optim::clip_grad_norm(model.parameters(), config.clip_norm);
      optimizer.step();
      const IndexArray predicted = data::argmax_rows(logits.value());
      for (std::size_t b = 0; b < batch.size(); ++b) correct += predicted(b) == batch.targets(b);
      loss_sum += value * static_cast<double>(batch.size());
      seen += batch.size();
      if (line) line->step(value, batch.size());
    }
    if (schedule) schedule->step();
    if (!several) {
      stats.train_loss = loss_sum / static_cast<double>(train.size());
      stats.train_accuracy = static_cast<double>(correct) / static_cast<double>(train.size());
      const Evaluation v = evaluate(model, valid);
      stats.valid_loss = v.loss;
      stats.valid_accuracy = v.confusion.accuracy();
    } else {
      // Each process validates its share; the sums over the processes are the same everywhere.
      const Examples mine = subset(valid, parallel);
      const Evaluation v = evaluate(model, mine);
      std::size_t valid_correct = 0;
      for (std::size_t k = 0; k < mine.size(); ++k)
        valid_correct += v.predicted[k] == mine.labels[k];
      const std::vector<double> totals =
          parallel.sum({loss_sum, static_cast<double>(correct), static_cast<double>(seen),
                        v.loss * static_cast<double>(mine.size()),
                        static_cast<double>(valid_correct), static_cast<double>(mine.size())});
      stats.train_loss = totals[0] / totals[2];
      stats.train_accuracy = totals[1] / totals[2];
      stats.valid_loss = totals[3] / totals[5];
      stats.valid_accuracy = totals[4] / totals[5];
    }
    stats.seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    result.history.push_back(stats);

    const bool better = stats.valid_loss < best_loss;
    if (better) {
      best_loss = stats.valid_loss;
      best_state = model.state_dict();
      result.best_epoch = epoch;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (line) {
      line->end_epoch({{"acc", stats.train_accuracy},
                       {"valid_loss", stats.valid_loss},
                       {"valid_acc", stats.valid_accuracy}});
    }
    if (on_epoch) on_epoch(stats);
    if (!std::isfinite(stats.valid_loss)) {
      // NaN compares false: without this the run would go on with a diverged model, and with
      // no finite loss at all there would be no best epoch to return.
      throw tapegrad::numerical_error("train: the validation loss is " + number(stats.valid_loss) +
                                      " at epoch " + std::to_string(epoch) +
                                      ": the model diverged (try a lower learning rate than " +
                                      number(config.lr) + ")");
    }
    if (since_best >= config.patience && epoch < config.epochs) {
      result.stopped_early = true;
      break;
    }
  }
  TAPEGRAD_ASSERT(result.best_epoch >= 1 && result.best_epoch <= result.history.size(),
                  "train: every epoch had a finite validation loss, so one is the best");
  model.load_state_dict(best_state);
  model.eval();
  result.seconds = std::chrono::duration<double>(clock::now() - run_start).count();
  return result;
}

// ---- saved models ----

namespace {

const char* to_string(data::Punctuation p) {
  switch (p) {
    case data::Punctuation::split:
      return "split";
    case data::Punctuation::drop:
      return "drop";
    case data::Punctuation::keep:
      return "keep";
  }
  return "?";
}

data::Punctuation parse_punctuation(const std::string& name) {
  for (auto p : {data::Punctuation::split, data::Punctuation::drop, data::Punctuation::keep}) {
    if (name == to_string(p)) return p;
  }
  throw value_error("unknown punctuation \"" + name + "\" (expected split, drop or keep)");
}

}  // namespace

std::string metadata_path(const std::string& model_path) {
  const std::size_t slash = model_path.find_last_of('/');
  const std::size_t dot = model_path.find_last_of('.');
  const bool has_extension =
      dot != std::string::npos && (slash == std::string::npos || dot > slash);
  return (has_extension ? model_path.substr(0, dot) : model_path) + ".json";
}

Predictor::Predictor(std::unique_ptr<Classifier> model, TextEncoder encoder, data::LabelSet labels)
    : model_(std::move(model)), encoder_(std::move(encoder)), labels_(std::move(labels)) {
  if (!model_) throw value_error("Predictor: no model");
  const ModelConfig& c = model_->config();
  if (c.vocab_size != encoder_.vocabulary.size()) {
    throw value_error("Predictor: the model has " + std::to_string(c.vocab_size) +
                      " embeddings but the vocabulary " +
                      std::to_string(encoder_.vocabulary.size()) + " tokens");
  }
  if (c.num_classes != labels_.size()) {
    throw value_error("Predictor: the model has " + std::to_string(c.num_classes) +
                      " classes but the label set " + std::to_string(labels_.size()));
  }
  model_->eval();
}

void Predictor::save(tapegrad::OutputFiles& out, const std::string& path) const {
  const std::string json_path = metadata_path(path);
  const ModelConfig& c = model_->config();
  nlohmann::json meta;
  meta["format"] = "tapegrad-sentiment";
  meta["version"] = 1;
  meta["model"] = {{"cell", nn::to_string(c.cell)},
                   {"vocab_size", c.vocab_size},
                   {"num_classes", c.num_classes},
                   {"embedding_dim", c.embedding_dim},
                   {"hidden_size", c.hidden_size},
                   {"num_layers", c.num_layers},
                   {"bidirectional", c.bidirectional},
                   {"pooling", to_string(c.pooling)},
                   {"embedding_dropout", c.embedding_dropout},
                   {"dropout", c.dropout}};
  meta["tokenizer"] = {{"lowercase", encoder_.tokenizer.lowercase},
                       {"punctuation", to_string(encoder_.tokenizer.punctuation)},
                       {"inner_apostrophes", encoder_.tokenizer.inner_apostrophes},
                       {"max_length", encoder_.max_length}};
  meta["labels"] = labels_.names();
  meta["vocabulary"] = encoder_.vocabulary.tokens();
  meta["weights_fingerprint"] = fingerprint(*model_);
  std::string text;
  try {
    text = meta.dump(1) + "\n";
  } catch (const nlohmann::json::exception& e) {  // text that is not UTF-8 (type_error 316)
    throw value_error("cannot write '" + json_path + "': " + e.what());
  }
  // Both under temporary names in `out`; neither replaces an old file before out.commit().
  optim::save_model(*model_, out.stage(path));
  out.write(json_path, text);
}

void Predictor::save(const std::string& path) const {
  tapegrad::OutputFiles out;
  save(out, path);
  out.commit();
}

Predictor Predictor::load(const std::string& path) {
  const std::string json_path = metadata_path(path);
  const nlohmann::json meta =
      examples::read_model_json(json_path, "tapegrad-sentiment", 1, "sentiment");
  ModelConfig config;
  TextEncoder encoder;
  std::vector<std::string> label_names;
  std::string expected_fingerprint;
  try {
    const nlohmann::json& m = meta.at("model");
    config.cell = nn::parse_cell_kind(json_field<std::string>(m, "model", "cell"));
    config.vocab_size = json_field<std::size_t>(m, "model", "vocab_size");
    config.num_classes = json_field<std::size_t>(m, "model", "num_classes");
    config.embedding_dim = json_field<std::size_t>(m, "model", "embedding_dim");
    config.hidden_size = json_field<std::size_t>(m, "model", "hidden_size");
    config.num_layers = json_field<std::size_t>(m, "model", "num_layers");
    config.bidirectional = json_field<bool>(m, "model", "bidirectional");
    config.pooling = parse_pooling(json_field<std::string>(m, "model", "pooling"));
    config.embedding_dropout = json_field<double>(m, "model", "embedding_dropout");
    config.dropout = json_field<double>(m, "model", "dropout");
    config.check();
    const nlohmann::json& t = meta.at("tokenizer");
    encoder.tokenizer.lowercase = json_field<bool>(t, "tokenizer", "lowercase");
    encoder.tokenizer.punctuation =
        parse_punctuation(json_field<std::string>(t, "tokenizer", "punctuation"));
    encoder.tokenizer.inner_apostrophes = json_field<bool>(t, "tokenizer", "inner_apostrophes");
    encoder.max_length = json_field<std::size_t>(t, "tokenizer", "max_length");
    encoder.vocabulary =
        data::Vocabulary(json_field<std::vector<std::string>>(meta, "file", "vocabulary"));
    label_names = json_field<std::vector<std::string>>(meta, "file", "labels");
    expected_fingerprint = json_field<std::string>(meta, "file", "weights_fingerprint");
    if (encoder.vocabulary.size() != config.vocab_size) {
      throw value_error("the vocabulary has " + std::to_string(encoder.vocabulary.size()) +
                        " tokens, model.vocab_size is " + std::to_string(config.vocab_size));
    }
    if (label_names.size() != config.num_classes) {
      throw value_error(std::to_string(label_names.size()) + " labels, model.num_classes is " +
                        std::to_string(config.num_classes));
    }
  } catch (const nlohmann::json::exception& e) {
    throw value_error(json_path + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw value_error(json_path + ": " + e.what());
  }
  // The sizes of the .json must be the weights' before a model of those sizes is built (a
  // corrupt size would allocate without bound); load_model then checks every parameter.
  const tapegrad::Npz weights = tapegrad::Npz::load(path);
  const auto check_shape = [&](const std::string& name, const tapegrad::Shape& expected,
                               const std::string& says) {
    if (!weights.contains(name)) {
      throw value_error(path + ": no entry '" + name + "' (not a sentiment model?)");
    }
    if (weights.shape(name) != expected) {
      throw value_error(path + ": " + name + " has shape " +
                        tapegrad::shape_str(weights.shape(name)) + ", but " + json_path + " says " +
                        says + " (" + tapegrad::shape_str(expected) +
                        "): files from different runs?");
    }
  };
  const std::size_t gates = nn::gate_count(config.cell);
  const std::size_t h = config.hidden_size;
  check_shape("embedding.weight", {config.vocab_size, config.embedding_dim},
              "vocab_size " + std::to_string(config.vocab_size) + " and embedding_dim " +
                  std::to_string(config.embedding_dim));
  check_shape("rnn.weight_hh_l0", {gates * h, h},
              std::string("a ") + nn::to_string(config.cell) + " cell with hidden_size " +
                  std::to_string(h));
  check_shape("head.weight", {config.num_classes, (config.bidirectional ? 2 : 1) * h},
              "num_classes " + std::to_string(config.num_classes));
  const std::string last_layer = "rnn.weight_hh_l" + std::to_string(config.num_layers - 1);
  if (!weights.contains(last_layer) ||
      weights.contains("rnn.weight_hh_l" + std::to_string(config.num_layers))) {
    throw value_error(path + ": the layers of the weights are not the " +
                      std::to_string(config.num_layers) + " (model.num_layers) of " + json_path +
                      ": files from different runs?");
  }
  auto model = std::make_unique<Classifier>(config, 0);
  optim::load_model(*model, path);  // strict: names the file and the entry
  if (fingerprint(*model) != expected_fingerprint) {
    throw value_error(path + ": these weights are not the ones " + json_path +
                      " was saved with (files from different runs?)");
  }
  data::LabelSet labels;
  try {
    labels = data::LabelSet(label_names);
  } catch (const std::invalid_argument& e) {
    throw value_error(json_path + ": " + e.what());
  }
  return Predictor(std::move(model), std::move(encoder), std::move(labels));
}

std::vector<Prediction> Predictor::predict(const std::vector<std::string>& texts) const {
  std::vector<Prediction> out;
  if (texts.empty()) return out;
  Examples examples;
  examples.texts = texts;
  examples.ids = encoder_.encode_all(texts);
  examples.labels.assign(texts.size(), 0);  // unused: evaluate needs targets
  const Evaluation e = evaluate(*model_, examples);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    Prediction p;
    p.label = e.predicted[i];
    p.name = labels_.name(p.label);
    p.probabilities = e.probabilities[i];
    p.probability = p.probabilities[static_cast<std::size_t>(p.label)];
    out.push_back(std::move(p));
  }
  return out;
}

Prediction Predictor::predict(const std::string& text) const {
  return predict(std::vector<std::string>{text}).front();
}

// ---- the UCI data set ----

std::size_t import_uci_json(const std::vector<std::string>& json_paths,
                            const std::string& tsv_path) {
  if (json_paths.empty()) throw value_error("import_uci_json: no input files");
  std::string out = "text\tlabel\tsource\n";
  std::size_t count = 0;
  for (const std::string& path : json_paths) {
    nlohmann::json records;
    try {
      records = nlohmann::json::parse(data::read_text_file(path));
    } catch (const nlohmann::json::exception& e) {
      throw value_error(path + ": not valid JSON (" + e.what() + ")");
    } catch (const value_error& e) {  // missing, a folder, too large, binary, not UTF-8
      throw value_error(path + ": not valid JSON (" + e.what() + ")");
    }
    if (!records.is_array()) throw value_error(path + ": expected a JSON array of records");
    std::string source = path.substr(path.find_last_of('/') + 1);
    source = source.substr(0, source.find('.'));
    for (std::size_t i = 0; i < records.size(); ++i) {
      const nlohmann::json& r = records[i];
      const std::string where = path + ": record " + std::to_string(i);
      if (!r.is_object() || !r.contains("text") || !r["text"].is_string()) {
        throw value_error(where + " has no \"text\" string");
      }
      std::string text = r["text"].get<std::string>();
      const nlohmann::json label = r.value("class", nlohmann::json());
      if (label.is_null() && text.empty()) continue;  // the empty last record of each file
      if (!label.is_number_integer() || label.get<long long>() < 0 || label.get<long long>() > 1) {
        throw value_error(where + " has class " + label.dump() + " (expected 0 or 1)");
      }
      for (char& ch : text) {
        if (ch == '\t' || ch == '\n' || ch == '\r') ch = ' ';
      }
      out += text;
      out += label.get<int>() == 1 ? "\tpositive\t" : "\tnegative\t";
      out += source;
      out += '\n';
      ++count;
    }
  }
  if (count == 0) throw value_error("import_uci_json: the files hold no labelled sentences");
  tapegrad::write_file_atomic(tsv_path, out);
  return count;
}

}  // namespace sentiment
