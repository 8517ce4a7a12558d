/// @file
/// Attention over a padded batch of encoder states: additive (Bahdanau), multiplicative (Luong's
/// dot and general) and scaled dot-product scores, a key padding mask, the context and weights.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <type_traits>
#include <vector>

#include "tapegrad/autograd/random.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// How Attention scores a query q against a key k (PyTorch-style names of the parameters).
enum class AttentionScore {
  dot,         ///< Luong's dot: q . k (query and key sizes equal); no parameters
  general,     ///< Luong's general: q . (W k), "key_proj.weight" W [query, key]
  additive,    ///< Bahdanau's: v . tanh(W_q q + W_k k), "query_proj.weight" W_q [hidden, query],
               ///< "key_proj.weight" W_k [hidden, key], "v.weight" v [1, hidden]
  scaled_dot,  ///< q . k / sqrt(key size) (query and key sizes equal); no parameters
};

/// The name of a score, as the command lines and messages write it ("dot", "general",
/// "additive", "scaled_dot").
const char* to_string(AttentionScore score);

/// The score of a to_string name; a value_error naming the unknown name and the accepted ones
/// otherwise.
AttentionScore parse_attention_score(std::string_view name);

/// The key padding mask of a batch of sequences of these lengths, padded to `max_length`:
/// [B, max_length], true at the positions past each sequence's length (PyTorch's
/// key_padding_mask: true marks a position to leave out). A length of 0 or over max_length is
/// a value_error naming it.
xt::xarray<bool> padding_mask(const std::vector<std::size_t>& lengths, std::size_t max_length);

/// What attention returns: the context (the values weighted by the weights) and the weights.
template <class T>
struct AttentionOutput {
  Var<T> context;  ///< [B, Tq, Dv], or [B, Dv] for a query [B, Dq]
  Var<T> weights;  ///< [B, Tq, S], or [B, S]: each row sums to 1 over the unmasked keys
};

/// The keys and values of one source batch, with the part of the scores that depends on the
/// keys alone computed once (W k for general, W_k k for additive), so that a decoder attending
/// at every step does not redo it. Made by Attention::memory.
template <class T>
struct AttentionMemory {
  Var<T> keys_t;           ///< dot, general, scaled_dot: the keys as scored, [B, D, S]
  Var<T> projected;        ///< additive: W_k k as [B, 1, S, hidden]
  Var<T> values;           ///< [B, S, Dv]
  xt::xarray<bool> mask;   ///< [B, 1, S], true at padding (when `masked`)
  bool masked = false;     ///< whether there is a mask (lengths or a key padding mask given)
  std::size_t batch = 0;   ///< B
  std::size_t length = 0;  ///< S
};

/// The settings of an Attention, for the constructor that takes them all (braced partial
/// initialisation works: every member has a default).
struct AttentionOptions {
  AttentionScore score = AttentionScore::general;  ///< how a query scores a key
  std::size_t query_size = 0;                      ///< Dq
  std::size_t key_size = 0;                        ///< Dk
  std::size_t hidden_size = 0;  ///< the additive score's inner size (0: key_size)
  /// Biases in the projections ("key_proj.bias", and "query_proj.bias" and "v.bias" for the
  /// additive score), as nn.Linear's default gives them: the attention of PyTorch's seq2seq
  /// tutorial (its Wa, Ua, Va). Off by default, as in the papers' equations; dot and
  /// scaled_dot have no projections, so no biases either.
  bool bias = false;
};

/// Attention of queries over the states of a padded source batch, as in the RNN translation
/// tutorials: scores by AttentionScore, a softmax over the source positions that leaves padding
/// out (masked_softmax), and context = weights values.
///
/// ```
///   nn::Attention<float> attn(nn::AttentionScore::general, 8, 8);
///   auto mem = attn.memory(encoder_out, encoder_out, lengths);  // once per source batch
///   auto [context, weights] = attn(decoder_h, mem);             // [B, 8], [B, S]
/// ```
template <class T = float>
class Attention : public Module<T> {
 public:
  /// Scores queries of `query_size` against keys of `key_size`; `hidden_size` is the additive
  /// score's inner size (0: key_size), unused by the others. dot and scaled_dot need equal
  /// query and key sizes; a zero size or unequal sizes for those is a value_error. Parameters
  /// are drawn from `generator` as nn::Linear's.
  Attention(AttentionScore score, std::size_t query_size, std::size_t key_size,
            std::size_t hidden_size = 0, Generator& generator = default_generator());
  /// The same from options, biases included (AttentionOptions::bias).
  explicit Attention(const AttentionOptions& options, Generator& generator = default_generator());

  /// The memory of one source batch: keys [B, S, Dk], values [B, S, Dv], and the lengths of
  /// the B sequences (empty: all S). Shapes that disagree are a shape_error naming them.
  AttentionMemory<T> memory(const Var<T>& keys, const Var<T>& values,
                            const std::vector<std::size_t>& lengths = {}) const;
  /// The same with a key padding mask [B, S] (true: leave out) instead of lengths: a bool
  /// xtensor array or expression (a template, so that a braced list `{3, 2}` means lengths).
  template <class Mask, class = std::enable_if_t<xt::is_xexpression<Mask>::value>>
  AttentionMemory<T> memory(const Var<T>& keys, const Var<T>& values,
                            const Mask& key_padding_mask) const {
    const xt::xarray<bool> mask = key_padding_mask;
    return prepare(keys, values, &mask);
  }

  /// @{
  /// Attends with a query [B, Dq] (one step of a decoder) or [B, Tq, Dq] (all steps at once):
  /// weights = masked softmax over S of score(q, k), context = weights values. A query whose
  /// batch or size disagrees with the memory is a shape_error.
  AttentionOutput<T> forward(const Var<T>& query, const AttentionMemory<T>& memory) const;
  AttentionOutput<T> operator()(const Var<T>& query, const AttentionMemory<T>& memory) const {
    return forward(query, memory);
  }
  /// @}
  /// @{
  /// forward(query, memory(keys, values, lengths)): for one call; a decoder loop should make
  /// the memory once.
  AttentionOutput<T> forward(const Var<T>& query, const Var<T>& keys, const Var<T>& values,
                             const std::vector<std::size_t>& lengths = {}) const {
    return forward(query, memory(keys, values, lengths));
  }
  AttentionOutput<T> operator()(const Var<T>& query, const Var<T>& keys, const Var<T>& values,
                                const std::vector<std::size_t>& lengths = {}) const {
    return forward(query, memory(keys, values, lengths));
  }
  /// @}

  /// The score this layer computes.
  AttentionScore score() const { return score_; }
  /// Dq, the size of a query.
  std::size_t query_size() const { return query_size_; }
  /// Dk, the size of a key.
  std::size_t key_size() const { return key_size_; }

 private:
  AttentionMemory<T> prepare(const Var<T>& keys, const Var<T>& values,
                             const xt::xarray<bool>* mask) const;

  AttentionScore score_;
  std::size_t query_size_, key_size_;
  std::shared_ptr<Linear<T>> query_proj_, key_proj_, v_;
};

extern template class Attention<float>;
extern template class Attention<double>;

}  // namespace tapegrad::nn
