/// @file
/// Decoding an AttentionDecoder: greedy and batched beam search, each returning the tokens,
/// their scores and the attention weights of every sentence of a source batch.
#pragma once

#include <cstddef>
#include <vector>

#include "tapegrad/nn/seq2seq.hpp"

namespace tapegrad::nn {

/// What decoding returns, per sentence of the source batch.
template <class T>
struct Decoded {
  /// The tokens after `<sos>`, up to and without `<eos>` (or max_length of them when none came).
  std::vector<std::vector<Index>> tokens;
  /// greedy: the sum of the log-probabilities of the chosen tokens, `<eos>` included. Beam
  /// search: that sum divided by length^length_penalty (length with `<eos>`), the score
  /// hypotheses were ranked by.
  std::vector<double> scores;
  /// [steps, S] per sentence: the attention weights of each decoded step over the source
  /// positions (steps = tokens, plus one for `<eos>` when it came).
  std::vector<Array<T>> weights;
};

/// Options of beam_search, as fairseq's and OpenNMT's.
struct BeamOptions {
  std::size_t beam_width = 5;   ///< K hypotheses kept per sentence; > 0
  double length_penalty = 1.0;  ///< alpha: a finished hypothesis scores log p / length^alpha
  std::size_t max_length = 50;  ///< at most this many tokens after `<sos>`; > 0
};

/// The most likely token at each step, from `<sos>` until `<eos>` or max_length tokens, for every
/// sentence of the memory's batch at once; under NoGrad. A max_length of 0, or an id outside
/// the decoder's vocabulary, is a value_error.
template <class T>
Decoded<T> greedy_decode(const AttentionDecoder<T>& decoder, const AttentionMemory<T>& memory,
                         const DecoderState<T>& initial, Index sos_id, Index eos_id,
                         std::size_t max_length);

/// Beam search over the B sentences of the memory's batch at once (B*K rows per step): each
/// step extends every live hypothesis by every token and keeps the K best by summed
/// log-probability per sentence; an extension to `<eos>` among those K best is set aside, scored
/// by length-normalised log p. A sentence is done when K hypotheses have ended and no live one
/// can still score above the K-th best of them (or at max_length, when the live ones are scored
/// as they stand). Returns the best one per sentence; under NoGrad. With K = 1 and
/// length_penalty 0 it is greedy_decode. Bad options are value_errors naming them.
template <class T>
Decoded<T> beam_search(const AttentionDecoder<T>& decoder, const AttentionMemory<T>& memory,
                       const DecoderState<T>& initial, Index sos_id, Index eos_id,
                       const BeamOptions& options = {});

}  // namespace tapegrad::nn
