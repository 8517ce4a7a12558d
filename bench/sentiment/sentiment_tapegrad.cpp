// tapegrad's side of the sentiment benchmark (bench/run_sentiment.sh; sentiment_torch.cpp is
// LibTorch's): the sentiment example's own model and training step, timed over whole epochs.
//
// The model is examples/sentiment's sentiment::Classifier with the example's defaults
// (sentiment::ModelConfig): Embedding(V, 128, padding 0, N(0, 0.1^2)) -> dropout 0.3 ->
// bidirectional GRU(128, 64) over the padded batch with its lengths -> max over each sentence's
// own steps -> dropout 0.3 -> Linear(128, 2). A training step is the one of sentiment::train:
// word dropout 0.2 (here with draws both binaries share), zero_grad, forward, cross_entropy,
// loss.item(), backward, clip_grad_norm(1.0), AdamW (lr 3e-3, weight decay 0.1) step, the
// batch's accuracy; after each epoch the cosine schedule's step. The batches are the example's
// (data::BatchIterator with its options), padded by data::make_batch as its iterator does.
//
//   sentiment_tapegrad --prepare DATA.tsv --corpus FILE [--planned-epochs N] [--seed S]
//       [--cell C] [--embedding-dim E] [--hidden H] [--layers L] [--batch-size B]
//     reads the example's data set as the example does (its split of DATA.tsv with seed S, its
//     tokenizer and vocabulary) and writes FILE (sentiment_common.hpp): the training split,
//     the settings (the example's defaults, or the sizes given) and the batches of N epochs
//     (30, the example's most).
//   sentiment_tapegrad --corpus FILE --threads N --epochs R --warmup W --seed S
//     trains W + R epochs on FILE and prints one JSON line (sentiment_common.hpp) with the BLAS.
//   sentiment_tapegrad --corpus FILE --seed S --check CHECK
//     writes the value check to CHECK (sentiment_common.hpp), for sentiment_torch --check CHECK.
//   sentiment_tapegrad --info 1
//     prints the BLAS and exits.
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "../value_check_tapegrad.hpp"
#include "sentiment.hpp"
#include "sentiment_common.hpp"
#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/optim.hpp"

namespace {

namespace data = tapegrad::data;
namespace optim = tapegrad::optim;
using sent_bench::Config;
using sent_bench::Corpus;
using tapegrad::Var;

// What sentiment::train sets beside TrainConfig (sentiment.cpp): its batches' length
// bucketing and the cosine schedule's lowest rate as a fraction of the base rate.
constexpr std::size_t kBucketBatches = 8;
constexpr double kLrMinFactor = 0.05;

/// --prepare's sizes: the example's defaults unless given.
struct Overrides {
  std::string cell;
  std::size_t embedding_dim = 0, hidden_size = 0, batch_size = 0, num_layers = 0;
  std::size_t planned_epochs = sentiment::TrainConfig{}.epochs;  // the example's most epochs
};

/// The example's training split of `tsv`, as its main.cpp reads --data: the labelled file, a
/// stratified 80/10/10 split with `seed`, the vocabulary of the training sentences (minimum
/// frequency 1) and their ids; the settings and the batches of every planned epoch.
Corpus prepare(const std::string& tsv, std::uint64_t seed, const Overrides& o) {
  if (o.planned_epochs == 0) throw std::invalid_argument("--planned-epochs must be at least 1");
  const data::LabelledText all = data::read_labelled_text(tsv, data::ReadOptions{});
  const data::Split split = data::stratified_split(all.labels, {0.8, 0.1, 0.1, seed});
  std::vector<std::string> texts = data::select(all.texts, split.train);
  sentiment::TextEncoder encoder;
  encoder.vocabulary = data::Vocabulary::build(encoder.make_tokenizer().tokenize_all(texts));
  const sentiment::Examples train =
      sentiment::make_examples(encoder, std::move(texts), data::select(all.labels, split.train));

  sentiment::ModelConfig m;
  if (!o.cell.empty()) m.cell = tapegrad::nn::parse_cell_kind(o.cell);
  if (o.embedding_dim > 0) m.embedding_dim = o.embedding_dim;
  if (o.hidden_size > 0) m.hidden_size = o.hidden_size;
  if (o.num_layers > 0) m.num_layers = o.num_layers;
  sentiment::TrainConfig t;
  if (o.batch_size > 0) t.batch_size = o.batch_size;
  t.seed = seed;

  Corpus c;
  sent_bench::Settings& s = c.settings;
  s.cell = tapegrad::nn::to_string(m.cell);
  s.vocab_size = static_cast<std::int64_t>(encoder.vocabulary.size());
  s.num_classes = static_cast<std::int64_t>(all.label_set.size());
  s.embedding_dim = static_cast<std::int64_t>(m.embedding_dim);
  s.hidden_size = static_cast<std::int64_t>(m.hidden_size);
  s.num_layers = static_cast<std::int64_t>(m.num_layers);
  s.bidirectional = m.bidirectional;
  s.pooling = sentiment::to_string(m.pooling);
  s.embedding_dropout = m.embedding_dropout;
  s.dropout = m.dropout;
  s.embedding_init_std = m.embedding_init_std;
  s.batch_size = static_cast<std::int64_t>(t.batch_size);
  s.lr = t.lr;
  s.weight_decay = t.weight_decay;
  s.clip_norm = t.clip_norm;
  s.word_dropout = t.word_dropout;
  s.cosine_epochs = t.cosine_schedule ? static_cast<std::int64_t>(t.epochs) : 0;
  s.lr_min = t.lr * kLrMinFactor;
  s.unk_id = encoder.vocabulary.unk_id();
  s.pad_id = encoder.vocabulary.pad_id();
  c.source = tsv;
  c.ids = train.ids;
  c.labels = train.labels;

  data::BatchOptions batching;  // as sentiment::train makes its BatchIterator
  batching.batch_size = t.batch_size;
  batching.bucket_batches = kBucketBatches;
  batching.seed = t.seed;
  batching.max_tokens = t.max_batch_tokens;
  data::BatchIterator batches(c.ids, c.labels, batching);
  for (std::size_t e = 0; e < o.planned_epochs; ++e) c.epochs.push_back(batches.epoch().indices());
  return c;
}

/// The example's model of the corpus's settings.
sentiment::ModelConfig model_config(const sent_bench::Settings& s) {
  sentiment::ModelConfig m;
  m.cell = tapegrad::nn::parse_cell_kind(s.cell);
  m.vocab_size = static_cast<std::size_t>(s.vocab_size);
  m.num_classes = static_cast<std::size_t>(s.num_classes);
  m.embedding_dim = static_cast<std::size_t>(s.embedding_dim);
  m.hidden_size = static_cast<std::size_t>(s.hidden_size);
  m.num_layers = static_cast<std::size_t>(s.num_layers);
  m.bidirectional = s.bidirectional;
  m.pooling = sentiment::parse_pooling(s.pooling);
  m.embedding_dropout = s.embedding_dropout;
  m.dropout = s.dropout;
  m.embedding_init_std = s.embedding_init_std;
  return m;
}

int run(const Config& c) {
  tapegrad::set_num_threads(c.threads);
  const Corpus corpus = sent_bench::read_corpus(c.corpus);
  sent_bench::check_epochs(c, corpus);
  const sent_bench::Settings& s = corpus.settings;

  sentiment::Classifier model(model_config(s), c.seed);
  optim::AdamWOptions adam;
  adam.lr = s.lr;
  adam.weight_decay = s.weight_decay;
  optim::AdamW<float> optimizer(model.parameters(), adam);
  std::unique_ptr<optim::CosineAnnealingLR<float>> schedule;
  if (s.cosine_epochs > 0) {
    schedule =
        std::make_unique<optim::CosineAnnealingLR<float>>(optimizer, s.cosine_epochs, s.lr_min);
  }
  // A training step of sentiment::train, on a batch (word dropout done): `before_clip` runs
  // between backward and the clipping.
  const auto train_step = [&](const data::Batch& batch, const std::function<void()>& before_clip) {
    sent_bench::StepResult out;
    optimizer.zero_grad();
    const Var<float> logits = model(batch.ids, batch.lengths);
    Var<float> loss = tapegrad::cross_entropy(logits, batch.targets);
    out.loss = loss.item();
    if (!std::isfinite(out.loss)) throw std::runtime_error("the training loss is not finite");
    loss.backward();
    if (before_clip) before_clip();
    if (s.clip_norm > 0.0) out.norm = optim::clip_grad_norm(model.parameters(), s.clip_norm);
    optimizer.step();
    const tapegrad::IndexArray predicted = data::argmax_rows(logits.value());
    for (std::size_t b = 0; b < batch.size(); ++b) out.correct += predicted(b) == batch.targets(b);
    return out;
  };

  if (!c.check.empty()) {  // no dropout, no word dropout: the steps LibTorch can repeat
    model.eval();
    std::size_t k = 0;
    value_check::write_check(
        c.check, model, sent_bench::kCheckSteps, [&](const std::function<void()>& before_clip) {
          const data::Batch batch =
              data::make_batch(corpus.ids, corpus.labels, corpus.epochs[0][k++]);
          const sent_bench::StepResult r = train_step(batch, before_clip);
          return std::make_pair(r.loss, r.norm);
        });
    return 0;
  }

  std::mt19937_64 words = sent_bench::word_generator(c);
  using clock = std::chrono::steady_clock;
  std::vector<sent_bench::EpochResult> results;
  for (std::size_t e = 0; e < static_cast<std::size_t>(c.warmup + c.epochs); ++e) {
    sent_bench::EpochResult r;
    r.lr = optimizer.param_groups()[0].lr;
    model.train();
    double loss_sum = 0.0;
    std::size_t correct = 0;
    const auto start = clock::now();
    for (const std::vector<std::size_t>& plan : corpus.epochs[e]) {
      data::Batch batch = data::make_batch(corpus.ids, corpus.labels, plan);
      sent_bench::drop_words(batch.lengths, s.word_dropout, words,
                             [&](std::size_t t, std::size_t b) { batch.ids(t, b) = s.unk_id; });
      const sent_bench::StepResult step = train_step(batch, {});
      correct += step.correct;
      loss_sum += step.loss * static_cast<double>(batch.size());
    }
    r.ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    if (schedule) schedule->step();
    r.loss = loss_sum / static_cast<double>(corpus.size());
    r.accuracy = static_cast<double>(correct) / static_cast<double>(corpus.size());
    results.push_back(r);
  }

  rnn_bench::JsonLine j = sent_bench::result_line(
      "tapegrad", c, corpus, results, static_cast<std::int64_t>(model.num_parameters()));
  j.add("blas", tapegrad::blas_info()).add("blas_threads", tapegrad::num_threads());
  std::printf("%s\n", j.str().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string tsv;
  Overrides o;
  bool info = false;
  const auto size = [](std::size_t& field) {
    return [&field](const std::string& v) { field = std::stoull(v); };
  };
  const Config c =
      sent_bench::parse_args(argc, argv,
                             {{"--prepare", [&](const std::string& v) { tsv = v; }},
                              {"--planned-epochs", size(o.planned_epochs)},
                              {"--cell", [&](const std::string& v) { o.cell = v; }},
                              {"--embedding-dim", size(o.embedding_dim)},
                              {"--hidden", size(o.hidden_size)},
                              {"--layers", size(o.num_layers)},
                              {"--batch-size", size(o.batch_size)},
                              {"--info", [&](const std::string& v) { info = v == "1"; }}},
                             /*need_corpus=*/false,
                             "usage: --prepare DATA.tsv --corpus FILE [--planned-epochs N] "
                             "[--seed S] [--cell C] [--embedding-dim E] [--hidden H] "
                             "[--layers L] [--batch-size B]\n"
                             "   or: --corpus FILE --threads N --epochs R --warmup W --seed S "
                             "[--check FILE]\n"
                             "   or: --info 1");
  try {
    if (info) {
      std::printf("{\"lib\":\"tapegrad\",\"blas\":\"%s\"}\n",
                  rnn_bench::json_escape(tapegrad::blas_info()).c_str());
      return 0;
    }
    if (c.corpus.empty()) throw std::invalid_argument("no --corpus FILE");
    if (!tsv.empty()) {
      const Corpus corpus = prepare(tsv, c.seed, o);
      sent_bench::write_corpus(c.corpus, corpus);
      std::printf(
          "{\"lib\":\"tapegrad\",\"corpus\":\"%s\",\"sentences\":%zu,\"vocab_size\":%lld}\n",
          rnn_bench::json_escape(c.corpus).c_str(), corpus.size(),
          static_cast<long long>(corpus.settings.vocab_size));
      return 0;
    }
    return run(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sentiment_tapegrad: %s\n", e.what());
    return 1;
  }
}
