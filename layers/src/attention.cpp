// Attention: the scores of docs/seq2seq.md, each from ops (bmm, linear, tanh, masked_softmax),
// so backward is the tape's.
#include "tapegrad/nn/attention.hpp"

#include <cmath>

#include <fmt/format.h>

#include "checks.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::nn {

using detail::impossible_size;
using detail::size_text;

const char* to_string(AttentionScore score) {
  switch (score) {
    case AttentionScore::dot:
      return "dot";
    case AttentionScore::general:
      return "general";
    case AttentionScore::additive:
      return "additive";
    case AttentionScore::scaled_dot:
      return "scaled_dot";
  }
  return "unknown";
}

AttentionScore parse_attention_score(std::string_view name) {
  return detail::parse_name("attention score", name,
                            {AttentionScore::dot, AttentionScore::general, AttentionScore::additive,
                             AttentionScore::scaled_dot});
}

xt::xarray<bool> padding_mask(const std::vector<std::size_t>& lengths, std::size_t max_length) {
  xt::xarray<bool> mask = xt::xarray<bool>::from_shape({lengths.size(), max_length});
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] == 0 || lengths[b] > max_length) {
      throw value_error(fmt::format("padding_mask: length {} (sequence {}) is outside [1, {}]",
                                    size_text(lengths[b]), b, max_length));
    }
    for (std::size_t s = 0; s < max_length; ++s) mask(b, s) = s >= lengths[b];
  }
  return mask;
}

template <class T>
Attention<T>::Attention(AttentionScore score, std::size_t query_size, std::size_t key_size,
                        std::size_t hidden_size, Generator& generator)
    : Attention(AttentionOptions{score, query_size, key_size, hidden_size, false}, generator) {}

template <class T>
Attention<T>::Attention(const AttentionOptions& options, Generator& generator)
    : score_(options.score), query_size_(options.query_size), key_size_(options.key_size) {
  const AttentionScore score = options.score;
  const std::size_t query_size = options.query_size, key_size = options.key_size;
  const std::size_t hidden_size = options.hidden_size;
  const bool bias = options.bias;
  if (impossible_size(query_size) || impossible_size(key_size) ||
      (score == AttentionScore::additive && hidden_size != 0 && impossible_size(hidden_size))) {
    throw value_error(fmt::format(
        "Attention: sizes must be positive, got query_size {}, key_size {}, hidden_size {}",
        size_text(query_size), size_text(key_size), size_text(hidden_size)));
  }
  const bool dot_like = score == AttentionScore::dot || score == AttentionScore::scaled_dot;
  if (dot_like && query_size != key_size) {
    throw value_error(fmt::format(
        "Attention: the {} score needs equal query and key sizes, got {} and {} (the general or "
        "additive score projects them)",
        to_string(score), query_size, key_size));
  }
  if (score == AttentionScore::general) {
    key_proj_ = this->register_module(
        "key_proj", std::make_shared<Linear<T>>(key_size, query_size, bias, generator));
  } else if (score == AttentionScore::additive) {
    const std::size_t hidden = hidden_size == 0 ? key_size : hidden_size;
    query_proj_ = this->register_module(
        "query_proj", std::make_shared<Linear<T>>(query_size, hidden, bias, generator));
    key_proj_ = this->register_module(
        "key_proj", std::make_shared<Linear<T>>(key_size, hidden, bias, generator));
    v_ = this->register_module("v", std::make_shared<Linear<T>>(hidden, 1, bias, generator));
  }
}

template <class T>
AttentionMemory<T> Attention<T>::memory(const Var<T>& keys, const Var<T>& values,
                                        const std::vector<std::size_t>& lengths) const {
  if (!keys.defined() || keys.ndim() != 3) {
    throw shape_error(fmt::format("Attention: expected keys [B, S, {}], got {}", key_size_,
                                  keys.defined() ? shape_str(keys.shape()) : "an empty Var"));
  }
  if (lengths.empty()) return prepare(keys, values, nullptr);
  if (lengths.size() != keys.size(0)) {
    throw shape_error(fmt::format("Attention: {} lengths for a batch of {} (keys {})",
                                  lengths.size(), keys.size(0), shape_str(keys.shape())));
  }
  const xt::xarray<bool> mask = padding_mask(lengths, keys.size(1));
  return prepare(keys, values, &mask);
}

template <class T>
AttentionMemory<T> Attention<T>::prepare(const Var<T>& keys, const Var<T>& values,
                                         const xt::xarray<bool>* mask) const {
  if (!keys.defined() || !values.defined()) {
    throw usage_error("Attention: keys and values must not be empty Vars");
  }
  const Shape& ks = keys.shape();
  const Shape& vs = values.shape();
  if (ks.size() != 3 || ks[2] != key_size_ || vs.size() != 3 || vs[0] != ks[0] || vs[1] != ks[1]) {
    throw shape_error(fmt::format(
        "Attention: expected keys [B, S, {}] and values [B, S, Dv], got keys {} and values {}",
        key_size_, shape_str(ks), shape_str(vs)));
  }
  const std::size_t batch = ks[0], length = ks[1];
  AttentionMemory<T> m;
  if (mask != nullptr) {
    const Shape ms(mask->shape().begin(), mask->shape().end());
    if (ms != Shape{batch, length}) {
      throw shape_error(fmt::format("Attention: the key padding mask is {}, expected [{}, {}]",
                                    shape_str(ms), batch, length));
    }
    m.mask = *mask;
    m.mask.reshape({batch, 1, length});
    m.masked = true;
  }
  m.values = values;
  m.batch = batch;
  m.length = length;
  switch (score_) {
    case AttentionScore::dot:
    case AttentionScore::scaled_dot:
      m.keys_t = transpose(keys, 1, 2);
      break;
    case AttentionScore::general:
      m.keys_t = transpose((*key_proj_)(keys), 1, 2);  // (W k)^T: [B, Dq, S]
      break;
    case AttentionScore::additive: {
      Var<T> kp = (*key_proj_)(keys);  // [B, S, hidden]
      m.projected = reshape(kp, make_shape({batch, 1, length, kp.size(2)}));
      break;
    }
  }
  return m;
}

template <class T>
AttentionOutput<T> Attention<T>::forward(const Var<T>& query,
                                         const AttentionMemory<T>& memory) const {
  if (!query.defined()) throw usage_error("Attention: the query is an empty Var");
  const Shape& qs = query.shape();
  const bool one_step = qs.size() == 2;
  if ((qs.size() != 2 && qs.size() != 3) || qs[0] != memory.batch || qs.back() != query_size_) {
    throw shape_error(fmt::format(
        "Attention: expected a query [{0}, {1}] or [{0}, Tq, {1}] for this memory, got {2}",
        memory.batch, query_size_, shape_str(qs)));
  }
  const std::size_t batch = memory.batch, steps = one_step ? 1 : qs[1];
  const Var<T> q = one_step ? reshape(query, make_shape({batch, 1, query_size_})) : query;
  Var<T> scores;  // [B, Tq, S]
  if (score_ == AttentionScore::additive) {
    const Var<T> qp = (*query_proj_)(q);  // [B, Tq, hidden]
    const Var<T> e = tanh(reshape(qp, make_shape({batch, steps, 1, qp.size(2)})) +
                          memory.projected);  // [B, Tq, S, hidden]
    scores = reshape((*v_)(e), make_shape({batch, steps, memory.length}));
  } else {
    scores = bmm(q, memory.keys_t);
    if (score_ == AttentionScore::scaled_dot) {
      scores = scores * (T(1) / std::sqrt(static_cast<T>(key_size_)));
    }
  }
  Var<T> weights = memory.masked ? masked_softmax(scores, memory.mask, -1) : softmax(scores, -1);
  Var<T> context = bmm(weights, memory.values);  // [B, Tq, Dv]
  if (one_step) {
    context = reshape(context, make_shape({batch, memory.values.size(2)}));
    weights = reshape(weights, make_shape({batch, memory.length}));
  }
  return {std::move(context), std::move(weights)};
}

template class Attention<float>;
template class Attention<double>;

}  // namespace tapegrad::nn
