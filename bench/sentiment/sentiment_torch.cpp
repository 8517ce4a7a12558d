// LibTorch's side of the sentiment benchmark: the model and training step of
// sentiment_tapegrad.cpp (the sentiment example's) written with torch's C++ API, built from the
// settings in the corpus file, its modules under the example's names ("embedding", "rnn",
// "head"), so its parameters have the same names and shapes as the example's:
//   Embedding(V, E, padding_idx 0), weights N(0, 1) scaled by the example's init std (0.1) ->
//   Dropout -> GRU/LSTM/RNN(E, H, layers, bidirectional) over pack_padded_sequence(ids,
//   lengths, enforce_sorted = false), pad_packed_sequence back to [T, B, D*H] ->
//   pooling over each sentence's steps (max: padding replaced by -1e4, as the example does;
//   mean; last: h_n's last layer) -> Dropout -> Linear(D*H, C)
// One training step: the word dropout (the draws of sentiment_tapegrad), every gradient reset
// to undefined (tapegrad's zero_grad drops them too), forward, cross_entropy, loss.item(),
// backward, clip_grad_norm_, torch::optim::AdamW step, the batch's accuracy; the cosine
// schedule's rate set before each epoch. The batches are the corpus file's, padded time-major
// as data::make_batch pads them.
//
// Threads: torch::set_num_threads(n) (OpenMP) and openblas_set_num_threads(n): Debian's LibTorch
// calls sgemm_ of libblas.so.3, OpenBLAS here (rnn_torch.cpp says more).
//
//   sentiment_torch --corpus FILE --threads N --epochs R --warmup W --seed S [--check FILE]
//   sentiment_torch --info 1      prints LibTorch's version and BLAS and exits
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../openblas_api.hpp"
#include "../value_check_torch.hpp"
#include "sentiment_common.hpp"

namespace {

using sent_bench::Config;
using sent_bench::Corpus;
using sent_bench::Settings;
namespace F = torch::nn::functional;
namespace rnn_utils = torch::nn::utils::rnn;

template <class Options>
Options recurrent_options(const Settings& s) {
  return Options(s.embedding_dim, s.hidden_size)
      .num_layers(s.num_layers)
      .bidirectional(s.bidirectional)
      .dropout(s.num_layers > 1 ? s.dropout : 0.0);
}

struct ClassifierImpl : torch::nn::Module {
  explicit ClassifierImpl(const Settings& s)
      : settings(s),
        embedding(register_module(
            "embedding",
            torch::nn::Embedding(
                torch::nn::EmbeddingOptions(s.vocab_size, s.embedding_dim).padding_idx(s.pad_id)))),
        embedding_dropout(
            register_module("embedding_dropout", torch::nn::Dropout(s.embedding_dropout))),
        dropout(register_module("dropout", torch::nn::Dropout(s.dropout))),
        head(register_module("head",
                             torch::nn::Linear(directions() * s.hidden_size, s.num_classes))) {
    if (s.cell == "gru") {
      gru = register_module("rnn", torch::nn::GRU(recurrent_options<torch::nn::GRUOptions>(s)));
    } else if (s.cell == "lstm") {
      lstm = register_module("rnn", torch::nn::LSTM(recurrent_options<torch::nn::LSTMOptions>(s)));
    } else if (s.cell == "rnn_tanh" || s.cell == "rnn_relu") {
      auto options = recurrent_options<torch::nn::RNNOptions>(s);
      if (s.cell == "rnn_relu") options.nonlinearity(torch::kReLU);
      rnn = register_module("rnn", torch::nn::RNN(options));
    } else {
      throw std::invalid_argument("unknown cell " + s.cell);
    }
    if (s.pooling != "max" && s.pooling != "mean" && s.pooling != "last") {
      throw std::invalid_argument("unknown pooling " + s.pooling);
    }
    torch::NoGradGuard no_grad;
    embedding->weight.mul_(s.embedding_init_std);  // the <pad> row is zero and stays so
  }

  std::int64_t directions() const { return settings.bidirectional ? 2 : 1; }

  /// ids [T, B] (time-major, padded), lengths [B] -> logits [B, C].
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& lengths) {
    const auto packed = rnn_utils::pack_padded_sequence(embedding_dropout(embedding(ids)), lengths,
                                                        /*batch_first=*/false,
                                                        /*enforce_sorted=*/false);
    const auto [packed_out, h_n] = recurrent(packed);  // h_n [L*D, B, H]
    const torch::Tensor out = std::get<0>(rnn_utils::pad_packed_sequence(
        packed_out, /*batch_first=*/false, /*padding_value=*/0.0, ids.size(0)));  // [T, B, D*H]
    torch::Tensor pooled;                                                         // [B, D*H]
    if (settings.pooling == "max") {
      const torch::Tensor valid =
          (torch::arange(ids.size(0)).unsqueeze(1) < lengths.unsqueeze(0)).unsqueeze(2);
      pooled = std::get<0>(torch::where(valid, out, torch::full({}, -1e4)).max(0));
    } else if (settings.pooling == "mean") {
      pooled = out.sum(0) / lengths.unsqueeze(1).to(torch::kFloat);
    } else {
      const std::int64_t first = (settings.num_layers - 1) * directions();
      pooled = torch::cat(h_n.slice(0, first, first + directions()).unbind(0), 1);
    }
    return head(dropout(pooled));
  }

  /// The recurrent layer, whichever cell it has: its packed output and h_n.
  std::tuple<rnn_utils::PackedSequence, torch::Tensor> recurrent(
      const rnn_utils::PackedSequence& packed) {
    if (gru) return gru->forward_with_packed_input(packed);
    if (lstm) {
      auto [out, state] = lstm->forward_with_packed_input(packed);
      return {out, std::get<0>(state)};
    }
    return rnn->forward_with_packed_input(packed);
  }

  Settings settings;
  torch::nn::Embedding embedding;
  torch::nn::Dropout embedding_dropout, dropout;
  torch::nn::Linear head;
  torch::nn::GRU gru{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::RNN rnn{nullptr};
};
TORCH_MODULE(Classifier);

/// A batch as tensors: ids [T, B] time-major with T its longest sentence, padded with pad_id
/// (as data::make_batch pads), lengths [B], targets [B]; its words dropped (replaced by unk_id)
/// with probability word_dropout.
struct Batch {
  torch::Tensor ids, lengths, targets;
  std::vector<std::size_t> length_list;
};

Batch make_batch(const Corpus& corpus, const std::vector<std::size_t>& plan, double word_dropout,
                 std::mt19937_64& words) {
  const Settings& s = corpus.settings;
  const auto at = [](std::size_t i) { return static_cast<std::int64_t>(i); };
  std::size_t longest = 0;
  Batch batch;
  for (std::size_t i : plan) {
    batch.length_list.push_back(corpus.ids[i].size());
    longest = std::max(longest, corpus.ids[i].size());
  }
  batch.ids = torch::full({at(longest), at(plan.size())}, s.pad_id, torch::kLong);
  batch.lengths = torch::empty({at(plan.size())}, torch::kLong);
  batch.targets = torch::empty({at(plan.size())}, torch::kLong);
  auto ids = batch.ids.accessor<std::int64_t, 2>();
  auto lengths = batch.lengths.accessor<std::int64_t, 1>();
  auto targets = batch.targets.accessor<std::int64_t, 1>();
  for (std::size_t k = 0; k < plan.size(); ++k) {
    const std::vector<std::int64_t>& sentence = corpus.ids[plan[k]];
    for (std::size_t j = 0; j < sentence.size(); ++j) ids[at(j)][at(k)] = sentence[j];
    lengths[at(k)] = at(sentence.size());
    targets[at(k)] = corpus.labels[plan[k]];
  }
  sent_bench::drop_words(batch.length_list, word_dropout, words,
                         [&](std::size_t j, std::size_t k) { ids[at(j)][at(k)] = s.unk_id; });
  return batch;
}

int run(const Config& c) {
  torch::set_num_threads(c.threads);
  openblas_set_num_threads(c.threads);
  torch::manual_seed(c.seed);
  const Corpus corpus = sent_bench::read_corpus(c.corpus);
  sent_bench::check_epochs(c, corpus);
  const Settings& s = corpus.settings;

  Classifier model(s);
  const std::vector<torch::Tensor> params = model->parameters();
  torch::optim::AdamW optimizer(params,
                                torch::optim::AdamWOptions(s.lr).weight_decay(s.weight_decay));
  std::mt19937_64 words = sent_bench::word_generator(c);

  // The training step of sentiment_tapegrad's: `before_clip` runs between backward and the
  // clipping.
  const auto train_step = [&](const Batch& batch, const std::function<void()>& before_clip) {
    sent_bench::StepResult out;
    for (auto p : params) p.mutable_grad() = torch::Tensor();
    const torch::Tensor logits = model(batch.ids, batch.lengths);
    const torch::Tensor loss = F::cross_entropy(logits, batch.targets);
    out.loss = loss.item<double>();
    if (!std::isfinite(out.loss)) throw std::runtime_error("the training loss is not finite");
    loss.backward();
    if (before_clip) before_clip();
    if (s.clip_norm > 0.0) out.norm = torch::nn::utils::clip_grad_norm_(params, s.clip_norm);
    optimizer.step();
    out.correct =
        static_cast<std::size_t>(logits.argmax(1).eq(batch.targets).sum().item<std::int64_t>());
    return out;
  };

  if (!c.check.empty()) {  // sentiment_tapegrad's steps: no dropout, no word dropout
    model->eval();
    std::size_t k = 0;
    return value_check::compare_check(
        c.check, *model, sent_bench::kCheckSteps, [&](const std::function<void()>& before_clip) {
          const sent_bench::StepResult r =
              train_step(make_batch(corpus, corpus.epochs[0][k++], 0.0, words), before_clip);
          return std::make_pair(r.loss, r.norm);
        });
  }

  using clock = std::chrono::steady_clock;
  std::vector<sent_bench::EpochResult> results;
  for (std::size_t e = 0; e < static_cast<std::size_t>(c.warmup + c.epochs); ++e) {
    sent_bench::EpochResult r;
    r.lr = sent_bench::epoch_lr(s, e);
    for (auto& group : optimizer.param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(r.lr);
    }
    model->train();
    double loss_sum = 0.0;
    std::size_t correct = 0;
    const auto start = clock::now();
    for (const std::vector<std::size_t>& plan : corpus.epochs[e]) {
      const sent_bench::StepResult step =
          train_step(make_batch(corpus, plan, s.word_dropout, words), {});
      correct += step.correct;
      loss_sum += step.loss * static_cast<double>(plan.size());
    }
    r.ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
    r.loss = loss_sum / static_cast<double>(corpus.size());
    r.accuracy = static_cast<double>(correct) / static_cast<double>(corpus.size());
    results.push_back(r);
  }

  std::int64_t count = 0;
  for (const auto& p : params) count += p.numel();
  rnn_bench::JsonLine j = sent_bench::result_line("libtorch", c, corpus, results, count);
  j.add("blas", std::string(openblas_get_config()) + " core " + openblas_get_corename())
      .add("blas_threads", openblas_get_num_threads())
      .add("torch_threads", torch::get_num_threads())
      .add("torch_version", TORCH_VERSION);
  std::printf("%s\n", j.str().c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  bool info = false;
  const Config c = sent_bench::parse_args(
      argc, argv, {{"--info", [&](const std::string& v) { info = v == "1"; }}},
      /*need_corpus=*/false);
  try {
    if (info) {
      rnn_bench::JsonLine j;
      j.add("lib", "libtorch")
          .add("torch_version", TORCH_VERSION)
          .add("blas", std::string(openblas_get_config()) + " core " + openblas_get_corename());
      std::printf("%s\n", j.str().c_str());
      return 0;
    }
    if (c.corpus.empty()) throw std::invalid_argument("no --corpus FILE");
    return run(c);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "sentiment_torch: %s\n", e.what());
    return 1;
  }
}
