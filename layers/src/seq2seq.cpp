// Encoder and AttentionDecoder: the equations of docs/seq2seq.md, each from layers and ops, so
// backward through time is the tape's.
#include "tapegrad/nn/seq2seq.hpp"

#include <fmt/format.h>

#include "checks.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::nn {

using detail::impossible_size;
using detail::size_text;

const char* to_string(AttentionStyle style) {
  return style == AttentionStyle::luong ? "luong" : "bahdanau";
}

AttentionStyle parse_attention_style(std::string_view name) {
  return detail::parse_name("attention style", name,
                            {AttentionStyle::luong, AttentionStyle::bahdanau});
}

namespace {

void check_sizes(const char* what, std::initializer_list<std::pair<const char*, std::size_t>> s) {
  std::string bad;
  for (const auto& [name, n] : s) {
    if (impossible_size(n))
      bad += fmt::format("{}{} {}", bad.empty() ? "" : ", ", name, size_text(n));
  }
  if (!bad.empty()) throw value_error(fmt::format("{}: sizes must be positive, got {}", what, bad));
}

// ids[:, t] of ids [B, T], as [B].
IndexArray column(const IndexArray& ids, std::size_t t) {
  const std::size_t b = ids.shape()[0], steps = ids.shape()[1];
  IndexArray c = IndexArray::from_shape({b});
  for (std::size_t i = 0; i < b; ++i) c(i) = ids.data()[i * steps + t];
  return c;
}

// The argmax of each row of logits [B, V].
template <class T>
IndexArray best(const Var<T>& logits) {
  return argmax(logits, -1);
}

}  // namespace

// ---- Encoder ----

template <class T>
Encoder<T>::Encoder(const EncoderOptions& options, Generator& generator) : options_(options) {
  check_sizes("Encoder", {{"vocab_size", options.vocab_size},
                          {"embedding_size", options.embedding_size},
                          {"hidden_size", options.hidden_size},
                          {"num_layers", options.num_layers}});
  embedding_ = this->register_module(
      "embedding", std::make_shared<Embedding<T>>(options.vocab_size, options.embedding_size,
                                                  options.padding_idx, generator));
  rnn_ = this->register_module(
      "rnn", make_recurrent<T>(options.cell,
                               RNNOptions(options.embedding_size, options.hidden_size)
                                   .num_layers(options.num_layers)
                                   .bidirectional(options.bidirectional)
                                   .batch_first(true)
                                   .dropout(options.dropout),
                               generator));
  if (options.bidirectional) {
    const std::size_t h = options.hidden_size;
    bridge_ =
        this->register_module("bridge", std::make_shared<Linear<T>>(2 * h, h, true, generator));
    if (options.cell == CellKind::lstm) {
      bridge_c_ =
          this->register_module("bridge_c", std::make_shared<Linear<T>>(2 * h, h, true, generator));
    }
  }
}

template <class T>
std::size_t Encoder<T>::output_size() const {
  return (options_.bidirectional ? 2 : 1) * options_.hidden_size;
}

namespace {

// [L*2, B, H] final states (layer-major, forward then reverse) -> [L, B, H] through
// tanh(bridge([h_fwd; h_bwd])).
template <class T>
Var<T> join_directions(const Var<T>& h, const Linear<T>& bridge, std::size_t layers) {
  std::vector<Var<T>> joined;
  for (std::size_t l = 0; l < layers; ++l) {
    joined.push_back(
        tanh(bridge(concat({select(h, 0, 2 * l), select(h, 0, 2 * l + 1)}, -1))));  // [B, H]
  }
  return stack(joined, 0);
}

}  // namespace

template <class T>
EncoderOutput<T> Encoder<T>::forward(const IndexArray& ids,
                                     const std::vector<std::size_t>& lengths) const {
  if (ids.dimension() != 2) {
    throw shape_error(fmt::format("Encoder: expected ids [B, S], got {}",
                                  shape_str(Shape(ids.shape().begin(), ids.shape().end()))));
  }
  const RecurrentOutput<T> r = (*rnn_)((*embedding_)(ids), {}, lengths);
  EncoderOutput<T> out;
  out.outputs = r.output;
  if (options_.bidirectional) {
    out.state.h = join_directions(r.h_n, *bridge_, options_.num_layers);
    if (r.c_n.defined()) out.state.c = join_directions(r.c_n, *bridge_c_, options_.num_layers);
  } else {
    out.state = RecurrentState<T>(r.h_n, r.c_n);
  }
  return out;
}

// ---- AttentionDecoder ----

template <class T>
AttentionDecoder<T>::AttentionDecoder(const DecoderOptions& options, Generator& generator)
    : options_(options) {
  check_sizes("AttentionDecoder", {{"vocab_size", options.vocab_size},
                                   {"embedding_size", options.embedding_size},
                                   {"hidden_size", options.hidden_size},
                                   {"context_size", options.context_size},
                                   {"num_layers", options.num_layers}});
  const std::size_t e = options.embedding_size, h = options.hidden_size, c = options.context_size;
  const bool luong = options.style == AttentionStyle::luong;
  embedding_ = this->register_module(
      "embedding",
      std::make_shared<Embedding<T>>(options.vocab_size, e, options.padding_idx, generator));
  rnn_ = this->register_module("rnn", make_recurrent<T>(options.cell,
                                                        RNNOptions(e + (luong ? h : c), h)
                                                            .num_layers(options.num_layers)
                                                            .dropout(options.dropout),
                                                        generator));
  attention_ = this->register_module(
      "attention", std::make_shared<Attention<T>>(options.score, h, c, 0, generator));
  if (luong) {
    combine_ =
        this->register_module("combine", std::make_shared<Linear<T>>(c + h, h, false, generator));
  }
  out_ = this->register_module(
      "out", std::make_shared<Linear<T>>(luong ? h : h + c, options.vocab_size, true, generator));
}

template <class T>
DecoderStep<T> AttentionDecoder<T>::step(const IndexArray& previous, const DecoderState<T>& state,
                                         const AttentionMemory<T>& memory) const {
  if (previous.dimension() != 1 || previous.size() != memory.batch) {
    throw shape_error(fmt::format(
        "AttentionDecoder: expected previous tokens [{}] for this memory, got {}", memory.batch,
        shape_str(Shape(previous.shape().begin(), previous.shape().end()))));
  }
  const std::size_t batch = memory.batch, h = options_.hidden_size;
  const Var<T> e = (*embedding_)(previous);  // [B, E]
  const auto zeros_bh = [&] { return constant<T>(zeros<T>({batch, h})); };
  DecoderStep<T> out;
  if (options_.style == AttentionStyle::luong) {
    const Var<T> feed = state.feed.defined() ? state.feed : zeros_bh();
    const Var<T> x = unsqueeze(concat({e, feed}, -1), 0);  // [1, B, E + H]
    const RecurrentOutput<T> r = (*rnn_)(x, state.rnn);
    const Var<T> ht = select(r.output, 0, 0);  // [B, H]
    const AttentionOutput<T> a = (*attention_)(ht, memory);
    const Var<T> attentional = tanh((*combine_)(concat({a.context, ht}, -1)));
    out.logits = (*out_)(attentional);
    out.state = {RecurrentState<T>(r.h_n, r.c_n), attentional};
    out.weights = a.weights;
  } else {
    const Var<T> s_prev =
        state.rnn.h.defined() ? select(state.rnn.h, 0, options_.num_layers - 1) : zeros_bh();
    const AttentionOutput<T> a = (*attention_)(s_prev, memory);
    const Var<T> x = unsqueeze(concat({e, a.context}, -1), 0);  // [1, B, E + C]
    const RecurrentOutput<T> r = (*rnn_)(x, state.rnn);
    out.logits = (*out_)(concat({select(r.output, 0, 0), a.context}, -1));
    out.state = {RecurrentState<T>(r.h_n, r.c_n), {}};
    out.weights = a.weights;
  }
  return out;
}

template <class T>
DecoderRun<T> AttentionDecoder<T>::forward(const IndexArray& inputs, const DecoderState<T>& initial,
                                           const AttentionMemory<T>& memory,
                                           double teacher_forcing_ratio,
                                           Generator& generator) const {
  if (!(teacher_forcing_ratio >= 0.0 && teacher_forcing_ratio <= 1.0)) {
    throw value_error(fmt::format("AttentionDecoder: teacher_forcing_ratio {} is outside [0, 1]",
                                  teacher_forcing_ratio));
  }
  if (inputs.dimension() != 2 || inputs.shape()[0] != memory.batch || inputs.shape()[1] == 0) {
    throw shape_error(
        fmt::format("AttentionDecoder: expected inputs [{}, T] (T > 0) for this memory, got {}",
                    memory.batch, shape_str(Shape(inputs.shape().begin(), inputs.shape().end()))));
  }
  std::vector<Var<T>> logits, weights;
  DecoderState<T> state = initial;
  IndexArray previous = column(inputs, 0);
  for (std::size_t t = 0; t < inputs.shape()[1]; ++t) {
    if (t > 0) {
      const bool forced = teacher_forcing_ratio >= 1.0 ||
                          (teacher_forcing_ratio > 0.0 &&
                           generator.uniform<double>(Shape{}, 0.0, 1.0)() < teacher_forcing_ratio);
      previous = forced ? column(inputs, t) : best(logits.back());
    }
    DecoderStep<T> s = step(previous, state, memory);
    logits.push_back(s.logits);
    weights.push_back(s.weights);
    state = std::move(s.state);
  }
  return {stack(logits, 1), stack(weights, 1)};
}

template class Encoder<float>;
template class Encoder<double>;
template class AttentionDecoder<float>;
template class AttentionDecoder<double>;

}  // namespace tapegrad::nn
