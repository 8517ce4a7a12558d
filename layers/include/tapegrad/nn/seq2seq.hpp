/// @file
/// Encoder-decoder building blocks of the RNN translation tutorials: an encoder over padded
/// source ids with lengths (optionally bidirectional), a decoder step with attention in Luong's
/// (input feeding) or Bahdanau's style, and teacher forcing with a ratio. The decoding
/// algorithms (greedy, beam search) are in tapegrad/nn/decode.hpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "tapegrad/autograd/random.hpp"
#include "tapegrad/nn/attention.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/rnn.hpp"

namespace tapegrad::nn {

/// The sizes and cell of an Encoder.
struct EncoderOptions {
  CellKind cell = CellKind::gru;   ///< the recurrent cell
  std::size_t vocab_size = 0;      ///< source vocabulary size (num_embeddings)
  std::size_t embedding_size = 0;  ///< E, the size of a source token's embedding
  std::size_t hidden_size = 0;     ///< H, per direction
  std::size_t num_layers = 1;      ///< L
  bool bidirectional = true;       ///< a reverse direction beside the forward one
  Index padding_idx = 0;           ///< the embedding row of padding (Vocabulary::pad_id())
  double dropout = 0.0;            ///< between recurrent layers, in training
};

/// What an Encoder returns.
template <class T>
struct EncoderOutput {
  Var<T> outputs;  ///< [B, S, D*H]: every position's state, both directions side by side
  /// A decoder's initial state, [L, B, H] (and c for an LSTM): the final states, with a
  /// bidirectional encoder's two directions joined per layer by tanh(W [h_fwd; h_bwd]).
  RecurrentState<T> state;
};

/// Embedding -> (bidirectional) recurrent layer over a padded batch of source ids [B, S] with
/// each sequence's length; batch first, as Attention takes its keys. Parameters:
/// "embedding.weight", "rnn.*" (PyTorch's names), and for a bidirectional encoder "bridge.*"
/// (and "bridge_c.*" for an LSTM): Linear(2H, H) joining the directions' final states.
template <class T = float>
class Encoder : public Module<T> {
 public:
  /// An encoder of these options; a zero size is a value_error.
  explicit Encoder(const EncoderOptions& options, Generator& generator = default_generator());
  /// @{
  /// Encodes ids [B, S] (pad past each length) of these B lengths (empty: all S). Ids outside
  /// the vocabulary, lengths outside [1, S] and a wrong count are errors naming them.
  EncoderOutput<T> forward(const IndexArray& ids, const std::vector<std::size_t>& lengths) const;
  EncoderOutput<T> operator()(const IndexArray& ids,
                              const std::vector<std::size_t>& lengths) const {
    return forward(ids, lengths);
  }
  /// @}
  /// The options it was built with.
  const EncoderOptions& options() const { return options_; }
  /// D*H, the size of an output position (the decoder's context_size).
  std::size_t output_size() const;

 private:
  EncoderOptions options_;
  std::shared_ptr<Embedding<T>> embedding_;
  std::shared_ptr<RNNBase<T>> rnn_;
  std::shared_ptr<Linear<T>> bridge_, bridge_c_;
};

/// Where a decoder step attends, after the two papers.
enum class AttentionStyle {
  /// Luong et al. 2015 with input feeding: h_t = cell([e(y_{t-1}); h~_{t-1}], h_{t-1});
  /// c_t = attention(h_t); h~_t = tanh(W_c [c_t; h_t]); logits = W_o h~_t.
  luong,
  /// Bahdanau et al. 2015: c_t = attention(s_{t-1}); s_t = cell([e(y_{t-1}); c_t], s_{t-1});
  /// logits = W_o [s_t; c_t].
  bahdanau,
};

/// The name of a style: "luong" or "bahdanau".
const char* to_string(AttentionStyle style);

/// The style of a to_string name; a value_error naming the unknown name and the accepted ones
/// otherwise.
AttentionStyle parse_attention_style(std::string_view name);

/// The sizes, cell and attention of an AttentionDecoder.
struct DecoderOptions {
  CellKind cell = CellKind::gru;                   ///< the recurrent cell
  std::size_t vocab_size = 0;                      ///< V, target vocabulary size
  std::size_t embedding_size = 0;                  ///< E
  std::size_t hidden_size = 0;                     ///< H (the encoder's, for its state)
  std::size_t context_size = 0;                    ///< C, the encoder's output_size()
  std::size_t num_layers = 1;                      ///< L (the encoder's, for its state)
  AttentionScore score = AttentionScore::general;  ///< how the attention scores
  AttentionStyle style = AttentionStyle::luong;    ///< where it attends
  Index padding_idx = 0;                           ///< the embedding row of padding
  double dropout = 0.0;                            ///< between recurrent layers, in training
};

/// A decoder's state between steps.
template <class T>
struct DecoderState {
  RecurrentState<T> rnn;  ///< [L, B, H] (and c for an LSTM); empty: zeros
  Var<T> feed;            ///< Luong: the last attentional state h~ [B, H]; empty: zeros
};

/// What one decoder step returns.
template <class T>
struct DecoderStep {
  Var<T> logits;          ///< [B, V], unnormalised scores of the next token
  DecoderState<T> state;  ///< the state for the next step
  Var<T> weights;         ///< [B, S], the attention weights of this step
};

/// What a decoder run over a target batch returns.
template <class T>
struct DecoderRun {
  Var<T> logits;   ///< [B, T, V]
  Var<T> weights;  ///< [B, T, S]
};

/// A recurrent decoder with attention over an encoder's outputs (the AttentionStyle equations).
/// Parameters: "embedding.weight", "rnn.*", "attention.*", then "combine.weight" (Luong's W_c,
/// [H, C + H]) and "out.*" (W_o: [V, H] for Luong, [V, H + C] for Bahdanau).
template <class T = float>
class AttentionDecoder : public Module<T> {
 public:
  /// A decoder of these options; a zero size is a value_error.
  explicit AttentionDecoder(const DecoderOptions& options,
                            Generator& generator = default_generator());
  /// The attention memory of an encoder's outputs [B, S, C] with the source lengths: made once
  /// per source batch, used at every step.
  AttentionMemory<T> memory(const Var<T>& encoder_outputs,
                            const std::vector<std::size_t>& lengths) const {
    return attention_->memory(encoder_outputs, encoder_outputs, lengths);
  }
  /// One step from the previous tokens [B] (`<sos>` first): the logits of the next ones.
  DecoderStep<T> step(const IndexArray& previous, const DecoderState<T>& state,
                      const AttentionMemory<T>& memory) const;
  /// @{
  /// Runs over inputs [B, T] (each target sequence after `<sos>`, without its last token):
  /// step t reads inputs[:, t] with probability `teacher_forcing_ratio` (drawn per step from
  /// `generator`, as the PyTorch tutorial does), else the argmax of step t-1's logits. Ratio
  /// 1 (the default) is plain teacher forcing; a ratio outside [0, 1] is a value_error.
  DecoderRun<T> forward(const IndexArray& inputs, const DecoderState<T>& initial,
                        const AttentionMemory<T>& memory, double teacher_forcing_ratio = 1.0,
                        Generator& generator = default_generator()) const;
  DecoderRun<T> operator()(const IndexArray& inputs, const DecoderState<T>& initial,
                           const AttentionMemory<T>& memory, double teacher_forcing_ratio = 1.0,
                           Generator& generator = default_generator()) const {
    return forward(inputs, initial, memory, teacher_forcing_ratio, generator);
  }
  /// @}
  /// The options it was built with.
  const DecoderOptions& options() const { return options_; }

 private:
  DecoderOptions options_;
  std::shared_ptr<Embedding<T>> embedding_;
  std::shared_ptr<RNNBase<T>> rnn_;
  std::shared_ptr<Attention<T>> attention_;
  std::shared_ptr<Linear<T>> combine_, out_;
};

extern template class Encoder<float>;
extern template class Encoder<double>;
extern template class AttentionDecoder<float>;
extern template class AttentionDecoder<double>;

}  // namespace tapegrad::nn
