// greedy_decode and beam_search (the algorithms of docs/seq2seq.md), under NoGrad.
#include "tapegrad/nn/decode.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/modes.hpp"

namespace tapegrad::nn {

namespace {

void check_ids(const char* op, std::size_t vocab, Index sos_id, Index eos_id,
               std::size_t max_length) {
  for (const auto& [name, id] : {std::pair{"sos_id", sos_id}, std::pair{"eos_id", eos_id}}) {
    if (id < 0 || static_cast<std::size_t>(id) >= vocab) {
      throw value_error(fmt::format("{}: {} {} is outside the decoder's vocabulary [0, {})", op,
                                    name, id, vocab));
    }
  }
  if (max_length == 0) throw value_error(fmt::format("{}: max_length must be positive", op));
}

// x's rows `rows` along `axis` (repeats allowed); an undefined x stays undefined.
template <class T>
Var<T> take(const Var<T>& x, std::size_t axis, const std::vector<std::size_t>& rows) {
  if (!x.defined()) return x;
  Shape s = x.shape();
  s[axis] = rows.size();
  std::size_t inner = 1;
  for (std::size_t d = axis + 1; d < s.size(); ++d) inner *= s[d];
  IndexArray index = IndexArray::from_shape(s);
  for (std::size_t i = 0; i < index.size(); ++i) {
    index.data()[i] = static_cast<Index>(rows[(i / inner) % rows.size()]);
  }
  return gather(x, static_cast<int>(axis), index);
}

// The memory with its batch rows `rows` (each sentence's row repeated per beam).
template <class T>
AttentionMemory<T> take_memory(const AttentionMemory<T>& m, const std::vector<std::size_t>& rows) {
  AttentionMemory<T> out = m;
  out.keys_t = take(m.keys_t, 0, rows);
  out.projected = take(m.projected, 0, rows);
  out.values = take(m.values, 0, rows);
  out.batch = rows.size();
  if (m.masked) {
    out.mask = xt::xarray<bool>::from_shape({rows.size(), 1, m.length});
    for (std::size_t r = 0; r < rows.size(); ++r) {
      for (std::size_t s = 0; s < m.length; ++s) out.mask(r, 0, s) = m.mask(rows[r], 0, s);
    }
  }
  return out;
}

// The decoder state's rows `rows`: h and c [L, B, H] along axis 1, the feed [B, H] along 0.
template <class T>
DecoderState<T> take_state(const DecoderState<T>& s, const std::vector<std::size_t>& rows) {
  return {RecurrentState<T>(take(s.rnn.h, 1, rows), take(s.rnn.c, 1, rows)), take(s.feed, 0, rows)};
}

// Row r of a [R, S] array.
template <class T>
Array<T> row_of(const Array<T>& a, std::size_t r) {
  const std::size_t n = a.shape()[1];
  Array<T> out = Array<T>::from_shape({n});
  std::copy(a.data() + r * n, a.data() + (r + 1) * n, out.data());
  return out;
}

// Rows stacked into [steps, S] (shape [0, S] when there are none).
template <class T>
Array<T> stack_rows(const std::vector<Array<T>>& rows, std::size_t length) {
  Array<T> out = Array<T>::from_shape({rows.size(), length});
  for (std::size_t i = 0; i < rows.size(); ++i) {
    std::copy(rows[i].begin(), rows[i].end(), out.data() + i * length);
  }
  return out;
}

// A hypothesis: its tokens, the attention rows of its steps, its summed log-probability.
template <class T>
struct Hypothesis {
  std::vector<Index> tokens;
  std::vector<Array<T>> weights;
  double log_prob = 0.0;
};

}  // namespace

template <class T>
Decoded<T> greedy_decode(const AttentionDecoder<T>& decoder, const AttentionMemory<T>& memory,
                         const DecoderState<T>& initial, Index sos_id, Index eos_id,
                         std::size_t max_length) {
  check_ids("greedy_decode", decoder.options().vocab_size, sos_id, eos_id, max_length);
  NoGrad no_grad;
  const std::size_t batch = memory.batch;
  std::vector<Hypothesis<T>> hyps(batch);
  std::vector<bool> done(batch, false);
  IndexArray previous = IndexArray::from_shape({batch});
  std::fill(previous.begin(), previous.end(), sos_id);
  DecoderState<T> state = initial;
  for (std::size_t t = 0; t < max_length; ++t) {
    const DecoderStep<T> s = decoder.step(previous, state, memory);
    const Array<T> log_p = log_softmax(s.logits, -1).value();
    previous = argmax(s.logits, -1);
    for (std::size_t b = 0; b < batch; ++b) {
      if (done[b]) continue;
      const Index token = previous(b);
      hyps[b].log_prob += static_cast<double>(log_p(b, static_cast<std::size_t>(token)));
      hyps[b].weights.push_back(row_of(s.weights.value(), b));
      if (token == eos_id) {
        done[b] = true;
      } else {
        hyps[b].tokens.push_back(token);
      }
    }
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    state = s.state;
  }
  Decoded<T> out;
  for (auto& h : hyps) {
    out.tokens.push_back(std::move(h.tokens));
    out.scores.push_back(h.log_prob);
    out.weights.push_back(stack_rows(h.weights, memory.length));
  }
  return out;
}

template <class T>
Decoded<T> beam_search(const AttentionDecoder<T>& decoder, const AttentionMemory<T>& memory,
                       const DecoderState<T>& initial, Index sos_id, Index eos_id,
                       const BeamOptions& options) {
  check_ids("beam_search", decoder.options().vocab_size, sos_id, eos_id, options.max_length);
  if (options.beam_width == 0) throw value_error("beam_search: beam_width must be positive");
  if (!std::isfinite(options.length_penalty)) {
    throw value_error(
        fmt::format("beam_search: length_penalty {} is not finite", options.length_penalty));
  }
  NoGrad no_grad;
  const std::size_t batch = memory.batch, k = options.beam_width;
  const std::size_t vocab = decoder.options().vocab_size;
  constexpr double minus_inf = -std::numeric_limits<double>::infinity();
  const auto normalised = [&](double log_prob, std::size_t length) {
    return log_prob / std::pow(static_cast<double>(length), options.length_penalty);
  };
  // Can a live hypothesis of sentence b still beat the K-th best ended one? Its log p only falls
  // from here, so its best score is log p over the most favourable length still possible (the
  // longest for a penalty >= 0, the next for a negative one).
  const auto can_improve = [&](std::vector<std::pair<double, Hypothesis<T>>>& done_hyps,
                               const std::vector<Hypothesis<T>>& beams, std::size_t b,
                               std::size_t t) {
    std::stable_sort(done_hyps.begin(), done_hyps.end(),
                     [](const auto& x, const auto& y) { return x.first > y.first; });
    const double kth = done_hyps[k - 1].first;
    const std::size_t length = options.length_penalty >= 0.0 ? options.max_length : t + 1;
    for (std::size_t j = 0; j < k; ++j) {
      const double lp = beams[b * k + j].log_prob;
      if (lp != minus_inf && normalised(lp, length) > kth) return true;
    }
    return false;
  };

  std::vector<std::size_t> rows(batch * k);  // row b*K + j starts as sentence b
  for (std::size_t r = 0; r < rows.size(); ++r) rows[r] = r / k;
  const AttentionMemory<T> mem = take_memory(memory, rows);
  DecoderState<T> state = take_state(initial, rows);
  std::vector<Hypothesis<T>> live(batch * k);
  for (std::size_t r = 0; r < live.size(); ++r) live[r].log_prob = r % k == 0 ? 0.0 : minus_inf;
  std::vector<std::vector<std::pair<double, Hypothesis<T>>>> ended(batch);
  std::vector<bool> done(batch, false);
  IndexArray previous = IndexArray::from_shape({batch * k});
  std::fill(previous.begin(), previous.end(), sos_id);

  struct Candidate {
    double log_prob;
    std::size_t row;
    Index token;
  };
  for (std::size_t t = 1; t <= options.max_length; ++t) {
    const DecoderStep<T> s = decoder.step(previous, state, mem);
    const Array<T> log_p = log_softmax(s.logits, -1).value();
    const Array<T>& w = s.weights.value();
    std::vector<std::size_t> parents(batch * k);
    std::vector<Hypothesis<T>> next(batch * k);
    for (std::size_t b = 0; b < batch; ++b) {
      if (done[b]) {  // keep its rows as they are
        for (std::size_t j = 0; j < k; ++j) {
          parents[b * k + j] = b * k + j;
          next[b * k + j] = std::move(live[b * k + j]);
          previous(b * k + j) = eos_id;
        }
        continue;
      }
      std::vector<Candidate> cands;
      for (std::size_t j = 0; j < k; ++j) {
        const std::size_t r = b * k + j;
        if (live[r].log_prob == minus_inf) continue;
        for (std::size_t v = 0; v < vocab; ++v) {
          cands.push_back(
              {live[r].log_prob + static_cast<double>(log_p(r, v)), r, static_cast<Index>(v)});
        }
      }
      // the 2K best (at most K of them end, one per parent), ties by row then token
      const std::size_t keep = std::min(cands.size(), 2 * k);
      std::partial_sort(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(keep),
                        cands.end(), [](const Candidate& x, const Candidate& y) {
                          if (x.log_prob != y.log_prob) return x.log_prob > y.log_prob;
                          return x.row != y.row ? x.row < y.row : x.token < y.token;
                        });
      std::size_t filled = 0;
      for (std::size_t c = 0; c < keep && filled < k; ++c) {
        Hypothesis<T> h = live[cands[c].row];
        h.log_prob = cands[c].log_prob;
        h.weights.push_back(row_of(w, cands[c].row));
        if (cands[c].token == eos_id) {
          // an ending counts only among the K best extensions (fairseq's rule): a poor early
          // <eos> ranked below K live ones would otherwise fill the K endings and stop the search
          if (c < k) ended[b].emplace_back(normalised(h.log_prob, t), std::move(h));
          continue;
        }
        h.tokens.push_back(cands[c].token);
        parents[b * k + filled] = cands[c].row;
        previous(b * k + filled) = cands[c].token;
        next[b * k + filled] = std::move(h);
        ++filled;
      }
      for (; filled < k; ++filled) {  // fewer candidates than beams (a tiny vocabulary)
        parents[b * k + filled] = b * k;
        previous(b * k + filled) = eos_id;
        next[b * k + filled].log_prob = minus_inf;
      }
      done[b] = ended[b].size() >= k && !can_improve(ended[b], next, b, t);
    }
    live = std::move(next);
    if (std::all_of(done.begin(), done.end(), [](bool d) { return d; })) break;
    state = take_state(s.state, parents);
  }
  Decoded<T> out;
  for (std::size_t b = 0; b < batch; ++b) {
    if (!done[b]) {  // max_length reached: the live hypotheses as they stand
      for (std::size_t j = 0; j < k; ++j) {
        Hypothesis<T>& h = live[b * k + j];
        if (h.log_prob != minus_inf) {
          ended[b].emplace_back(normalised(h.log_prob, h.weights.size()), std::move(h));
        }
      }
    }
    const auto best = std::max_element(
        ended[b].begin(), ended[b].end(),
        [](const auto& x, const auto& y) { return x.first < y.first; });  // first of equals
    out.tokens.push_back(best->second.tokens);
    out.scores.push_back(best->first);
    out.weights.push_back(stack_rows(best->second.weights, memory.length));
  }
  return out;
}

template Decoded<float> greedy_decode<float>(const AttentionDecoder<float>&,
                                             const AttentionMemory<float>&,
                                             const DecoderState<float>&, Index, Index, std::size_t);
template Decoded<double> greedy_decode<double>(const AttentionDecoder<double>&,
                                               const AttentionMemory<double>&,
                                               const DecoderState<double>&, Index, Index,
                                               std::size_t);
template Decoded<float> beam_search<float>(const AttentionDecoder<float>&,
                                           const AttentionMemory<float>&,
                                           const DecoderState<float>&, Index, Index,
                                           const BeamOptions&);
template Decoded<double> beam_search<double>(const AttentionDecoder<double>&,
                                             const AttentionMemory<double>&,
                                             const DecoderState<double>&, Index, Index,
                                             const BeamOptions&);

}  // namespace tapegrad::nn
