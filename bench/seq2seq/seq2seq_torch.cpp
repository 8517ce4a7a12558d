// LibTorch's side of the sequence-to-sequence benchmark: the model of seq2seq_tapegrad.cpp
// written with torch's C++ API (torch::nn modules and functional ops), module by module under
// the same names, so its parameters have the same names and shapes as tapegrad's:
//   encoder: Embedding(Vs, E, padding_idx 0) -> GRU(E, H, bidirectional, batch_first) over
//     pack_padded_sequence(enforce_sorted = false), pad_packed_sequence back to [B, S, 2H];
//     state = tanh(bridge(cat(h_n[0], h_n[1]))), bridge = Linear(2H, H)
//   decoder (Luong, input feeding, general score): Embedding(Vt, E, padding_idx 0); keys_t =
//     attention.key_proj(outputs)^T once (Linear(2H, H, no bias)); per step t:
//     h_t = GRU(E + H, H)(cat(E[y_{t-1}], h~_{t-1})), scores = bmm(h_t, keys_t) with
//     masked_fill(padding, -inf), softmax, context = bmm(weights, outputs),
//     h~_t = tanh(combine(cat(context, h_t))) (Linear(3H, H, no bias)), logits = out(h~_t)
//   cross_entropy over [B*T, Vt] with ignore_index 0
// One training step: every gradient reset to undefined (tapegrad's zero_grad drops them too),
// forward, loss, backward, clip_grad_norm_(1.0), torch::optim::Adam (lr 1e-3) step. Parameters
// as LibTorch initialises them.
//
// Threads: torch::set_num_threads(n) (OpenMP) and openblas_set_num_threads(n): Debian's LibTorch
// calls sgemm_ of libblas.so.3, OpenBLAS here (rnn_torch.cpp says more).
//
// With --check FILE (written by seq2seq_tapegrad --check FILE): loads tapegrad's initial
// weights by name (every name and shape must match), runs the same kCheckSteps training steps
// and compares the losses, the gradient norms, the first step's gradients and the weights after
// the steps; prints one JSON line with the errors and "check":"pass" or "fail" (exit status 1).
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "../openblas_api.hpp"
#include "../value_check_torch.hpp"
#include "seq2seq_common.hpp"

namespace {

using s2s_bench::Config;
namespace F = torch::nn::functional;

struct EncoderImpl : torch::nn::Module {
  explicit EncoderImpl(const Config& c)
      : embedding(register_module(
            "embedding",
            torch::nn::Embedding(
                torch::nn::EmbeddingOptions(c.src_vocab, c.embed).padding_idx(s2s_bench::kPad)))),
        rnn(register_module(
            "rnn",
            torch::nn::GRU(
                torch::nn::GRUOptions(c.embed, c.hidden).bidirectional(true).batch_first(true)))),
        bridge(register_module("bridge", torch::nn::Linear(2 * c.hidden, c.hidden))) {}

  /// source [B, S], lengths [B] -> outputs [B, S, 2H] (zeros past each length) and the
  /// decoder's initial state [1, B, H].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& source,
                                                  const torch::Tensor& lengths) {
    const auto packed = torch::nn::utils::rnn::pack_padded_sequence(
        embedding(source), lengths, /*batch_first=*/true, /*enforce_sorted=*/false);
    const auto [packed_out, h_n] = rnn->forward_with_packed_input(packed);  // h_n [2, B, H]
    torch::Tensor outputs = std::get<0>(torch::nn::utils::rnn::pad_packed_sequence(
        packed_out, /*batch_first=*/true, /*padding_value=*/0.0, source.size(1)));
    torch::Tensor state = torch::tanh(bridge(torch::cat({h_n[0], h_n[1]}, -1))).unsqueeze(0);
    return {outputs, state};
  }

  torch::nn::Embedding embedding;
  torch::nn::GRU rnn;
  torch::nn::Linear bridge;
};
TORCH_MODULE(Encoder);

// Holds the general score's W under the name tapegrad's nn::Attention gives it.
struct AttentionImpl : torch::nn::Module {
  AttentionImpl(std::int64_t query_size, std::int64_t key_size)
      : key_proj(register_module(
            "key_proj",
            torch::nn::Linear(torch::nn::LinearOptions(key_size, query_size).bias(false)))) {}
  torch::nn::Linear key_proj;
};
TORCH_MODULE(Attention);

struct DecoderImpl : torch::nn::Module {
  explicit DecoderImpl(const Config& c)
      : embedding(register_module(
            "embedding",
            torch::nn::Embedding(
                torch::nn::EmbeddingOptions(c.tgt_vocab, c.embed).padding_idx(s2s_bench::kPad)))),
        rnn(register_module("rnn",
                            torch::nn::GRU(torch::nn::GRUOptions(c.embed + c.hidden, c.hidden)))),
        attention(register_module("attention", Attention(c.hidden, 2 * c.hidden))),
        combine(register_module(
            "combine",
            torch::nn::Linear(torch::nn::LinearOptions(3 * c.hidden, c.hidden).bias(false)))),
        out(register_module("out", torch::nn::Linear(c.hidden, c.tgt_vocab))) {}

  /// The teacher-forced run: inputs [B, T] (<sos> and the gold tokens), the initial state
  /// h [1, B, H], the encoder's outputs [B, S, 2H] and the padding mask [B, 1, S] (true at
  /// padding) -> logits [B, T, Vt].
  torch::Tensor forward(const torch::Tensor& inputs, torch::Tensor h, const torch::Tensor& outputs,
                        const torch::Tensor& padding) {
    const torch::Tensor keys_t = attention->key_proj(outputs).transpose(1, 2);  // [B, H, S]
    torch::Tensor feed = torch::zeros({inputs.size(0), h.size(2)});             // h~_0 = 0
    std::vector<torch::Tensor> logits;
    for (std::int64_t t = 0; t < inputs.size(1); ++t) {
      const torch::Tensor e = embedding(inputs.select(1, t));  // [B, E]
      torch::Tensor o;
      std::tie(o, h) = rnn(torch::cat({e, feed}, -1).unsqueeze(0), h);
      const torch::Tensor ht = o[0];  // [B, H]
      const torch::Tensor scores =
          torch::bmm(ht.unsqueeze(1), keys_t)
              .masked_fill(padding, -std::numeric_limits<float>::infinity());
      const torch::Tensor weights = torch::softmax(scores, -1);               // [B, 1, S]
      const torch::Tensor context = torch::bmm(weights, outputs).squeeze(1);  // [B, 2H]
      feed = torch::tanh(combine(torch::cat({context, ht}, -1)));
      logits.push_back(out(feed));
    }
    return torch::stack(logits, 1);
  }

  torch::nn::Embedding embedding;
  torch::nn::GRU rnn;
  Attention attention;
  torch::nn::Linear combine, out;
};
TORCH_MODULE(Decoder);

/// The batch as tensors.
struct Inputs {
  torch::Tensor source, lengths, padding, decoder_input, target;
};

torch::Tensor long_tensor(const std::vector<std::int64_t>& values,
                          std::vector<std::int64_t> shape) {
  return torch::tensor(values, torch::kLong).reshape(shape);
}

Inputs inputs(const Config& c, const s2s_bench::Batch& b) {
  Inputs in;
  in.source = long_tensor(b.source, {c.batch, c.src_len});
  in.lengths = long_tensor(b.source_lengths, {c.batch});
  in.padding = (torch::arange(c.src_len).unsqueeze(0) >= in.lengths.unsqueeze(1)).unsqueeze(1);
  in.decoder_input = long_tensor(b.decoder_input, {c.batch, c.tgt_len});
  in.target = long_tensor(b.target, {c.batch * c.tgt_len});
  return in;
}

struct TranslatorImpl : torch::nn::Module {
  explicit TranslatorImpl(const Config& c)
      : encoder(register_module("encoder", Encoder(c))),
        decoder(register_module("decoder", Decoder(c))) {}

  torch::Tensor loss(const Inputs& in) {
    const auto [outputs, state] = encoder(in.source, in.lengths);
    const torch::Tensor logits = decoder(in.decoder_input, state, outputs, in.padding);
    return F::cross_entropy(logits.reshape({-1, logits.size(2)}), in.target,
                            F::CrossEntropyFuncOptions().ignore_index(s2s_bench::kPad));
  }

  Encoder encoder;
  Decoder decoder;
};
TORCH_MODULE(Translator);

}  // namespace

int main(int argc, char** argv) {
  const Config c = s2s_bench::parse_args(argc, argv);
  torch::set_num_threads(c.threads);
  openblas_set_num_threads(c.threads);
  torch::manual_seed(c.seed);

  Translator model(c);
  const std::vector<torch::Tensor> params = model->parameters();
  torch::optim::Adam adam(params, torch::optim::AdamOptions(s2s_bench::kLearningRate));
  const Inputs in = inputs(c, s2s_bench::make_batch(c));

  double loss_value = 0.0, norm = 0.0;
  auto train_step = [&](const std::function<void()>& before_clip) {
    for (auto p : params) p.mutable_grad() = torch::Tensor();
    const torch::Tensor loss = model->loss(in);
    loss.backward();
    if (before_clip) before_clip();
    norm = torch::nn::utils::clip_grad_norm_(params, s2s_bench::kMaxNorm);
    adam.step();
    loss_value = loss.item<double>();
  };

  if (!c.check.empty()) {
    return value_check::compare_check(c.check, *model, s2s_bench::kCheckSteps,
                                      [&](const std::function<void()>& before_clip) {
                                        train_step(before_clip);
                                        return std::make_pair(loss_value, norm);
                                      });
  }

  rnn_bench::JsonLine j = s2s_bench::measure("libtorch", c, [&] { train_step({}); });
  std::int64_t count = 0;
  for (const auto& p : params) count += p.numel();
  j.add("loss", loss_value)
      .add("grad_norm", norm)
      .add("parameters", count)
      .add("blas", std::string(openblas_get_config()) + " core " + openblas_get_corename())
      .add("blas_threads", openblas_get_num_threads())
      .add("torch_threads", torch::get_num_threads())
      .add("torch_version", TORCH_VERSION);
  std::printf("%s\n", j.str().c_str());
  return 0;
}
