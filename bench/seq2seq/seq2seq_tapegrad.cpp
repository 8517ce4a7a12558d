// tapegrad's side of the sequence-to-sequence benchmark (bench/run_seq2seq.sh;
// seq2seq_torch.cpp is LibTorch's). One configuration per process.
//
// The model is the translate example's, from the library's layers (docs/seq2seq.md):
//   nn::Encoder: Embedding(Vs, E, padding 0) -> bidirectional GRU(E, H) over the padded source
//     batch with its lengths; the decoder's initial state tanh(bridge [h_fwd; h_bwd]),
//     bridge = Linear(2H, H)
//   nn::AttentionDecoder, Luong style with input feeding, general score: Embedding(Vt, E,
//     padding 0), GRU(E + H, H) stepped once per target position, scores h_t (W k)^T with
//     W = key_proj Linear(2H, H, no bias) applied to the encoder outputs once, a softmax over
//     the source positions that leaves padding out, context = weights . outputs,
//     h~ = tanh(combine [c; h_t]) with combine Linear(3H, H, no bias), logits = out(h~),
//     out = Linear(H, Vt)
//   teacher forcing (the gold previous tokens), cross_entropy over [B*T, Vt] ignoring padding
// One training step: zero_grad (drops the gradients), forward, loss, backward,
// clip_grad_norm(1.0), Adam (lr 1e-3) step. Parameters as tapegrad initialises them.
// Prints one JSON line (seq2seq_common.hpp) plus the loss of the last step, tape_bytes
// (tapegrad::tape<float>().bytes() right before the first backward), the BLAS and its threads.
// With --check FILE it writes the value check (seq2seq_common.hpp) instead of timing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "../value_check_tapegrad.hpp"
#include "seq2seq_common.hpp"
#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/nn_ops.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/nn/seq2seq.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace {

using tapegrad::IndexArray;
using tapegrad::Var;
namespace nn = tapegrad::nn;
using s2s_bench::Config;

// values as an IndexArray of this shape ([rows, cols], or [rows] when cols is 0).
IndexArray index_array(const std::vector<std::int64_t>& values, std::int64_t rows,
                       std::int64_t cols = 0) {
  const auto r = static_cast<std::size_t>(rows), k = static_cast<std::size_t>(cols);
  IndexArray a = cols == 0 ? IndexArray::from_shape({r}) : IndexArray::from_shape({r, k});
  std::copy(values.begin(), values.end(), a.begin());
  return a;
}

/// The batch as the layers take it.
struct Inputs {
  IndexArray source;                 // [B, S]
  std::vector<std::size_t> lengths;  // [B]
  IndexArray decoder_input;          // [B, T]
  IndexArray target;                 // [B * T]
};

Inputs inputs(const Config& c, const s2s_bench::Batch& b) {
  Inputs in;
  in.source = index_array(b.source, c.batch, c.src_len);
  in.lengths.assign(b.source_lengths.begin(), b.source_lengths.end());
  in.decoder_input = index_array(b.decoder_input, c.batch, c.tgt_len);
  in.target = index_array(b.target, c.batch * c.tgt_len);
  return in;
}

nn::EncoderOptions encoder_options(const Config& c) {
  nn::EncoderOptions o;
  o.cell = nn::CellKind::gru;
  o.vocab_size = static_cast<std::size_t>(c.src_vocab);
  o.embedding_size = static_cast<std::size_t>(c.embed);
  o.hidden_size = static_cast<std::size_t>(c.hidden);
  o.bidirectional = true;
  o.padding_idx = s2s_bench::kPad;
  return o;
}

nn::DecoderOptions decoder_options(const Config& c, std::size_t context_size) {
  nn::DecoderOptions o;
  o.cell = nn::CellKind::gru;
  o.vocab_size = static_cast<std::size_t>(c.tgt_vocab);
  o.embedding_size = static_cast<std::size_t>(c.embed);
  o.hidden_size = static_cast<std::size_t>(c.hidden);
  o.context_size = context_size;
  o.score = nn::AttentionScore::general;
  o.style = nn::AttentionStyle::luong;
  o.padding_idx = s2s_bench::kPad;
  return o;
}

/// Encoder and decoder under the names "encoder" and "decoder", so the parameters are
/// "encoder.rnn.weight_ih_l0" and so on, as LibTorch's module of the same shape names them.
class Translator : public nn::Module<float> {
 public:
  Translator(const Config& c, tapegrad::Generator& g)
      : encoder_(encoder_options(c), g), decoder_(decoder_options(c, encoder_.output_size()), g) {
    register_module("encoder", encoder_);
    register_module("decoder", decoder_);
  }

  /// The mean cross-entropy of the teacher-forced decoder's logits against the targets,
  /// padding ignored.
  Var<float> loss(const Inputs& in) const {
    const nn::EncoderOutput<float> encoded = encoder_(in.source, in.lengths);
    const nn::AttentionMemory<float> memory = decoder_.memory(encoded.outputs, in.lengths);
    const nn::DecoderRun<float> run = decoder_(in.decoder_input, {encoded.state, {}}, memory);
    const Var<float> logits =
        tapegrad::reshape(run.logits, tapegrad::make_shape({in.target.size(), run.logits.size(2)}));
    tapegrad::LossOptions options;
    options.ignore_index = s2s_bench::kPad;
    return tapegrad::cross_entropy(logits, in.target, options);
  }

 private:
  nn::Encoder<float> encoder_;
  nn::AttentionDecoder<float> decoder_;
};

}  // namespace

int main(int argc, char** argv) {
  const Config c = s2s_bench::parse_args(argc, argv);
  tapegrad::set_num_threads(c.threads);

  tapegrad::Generator gen(c.seed);
  const Translator model(c, gen);
  const std::vector<Var<float>> params = model.parameters();
  tapegrad::optim::AdamOptions adam_options;
  adam_options.lr = s2s_bench::kLearningRate;
  tapegrad::optim::Adam<float> adam(params, adam_options);
  const Inputs in = inputs(c, s2s_bench::make_batch(c));

  bool first = true;
  std::int64_t tape_bytes = 0;
  double loss_value = 0.0, norm = 0.0;
  // `before_clip` sees the gradients as backward left them (the value check records them).
  auto train_step = [&](const std::function<void()>& before_clip) {
    adam.zero_grad();
    const Var<float> loss = model.loss(in);
    if (first) tape_bytes = static_cast<std::int64_t>(tapegrad::tape<float>().bytes());
    first = false;
    loss.backward();
    if (before_clip) before_clip();
    norm = tapegrad::optim::clip_grad_norm(params, s2s_bench::kMaxNorm);
    adam.step();
    loss_value = loss.item();
  };

  if (!c.check.empty()) {
    value_check::write_check(c.check, model, s2s_bench::kCheckSteps,
                             [&](const std::function<void()>& before_clip) {
                               train_step(before_clip);
                               return std::make_pair(loss_value, norm);
                             });
    return 0;
  }

  rnn_bench::JsonLine j = s2s_bench::measure("tapegrad", c, [&] { train_step({}); });
  j.add("loss", loss_value)
      .add("grad_norm", norm)
      .add("parameters", static_cast<std::int64_t>(model.num_parameters()))
      .add("tape_bytes", tape_bytes)
      .add("blas", tapegrad::blas_info())
      .add("blas_threads", tapegrad::num_threads());
  std::printf("%s\n", j.str().c_str());
  return 0;
}
