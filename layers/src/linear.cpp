#include "tapegrad/nn/linear.hpp"

#include <cmath>

#include <fmt/format.h>

#include "checks.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::nn {

using detail::impossible_size;
using detail::size_text;

template <class T>
Linear<T>::Linear(std::size_t in_features, std::size_t out_features, bool bias,
                  Generator& generator) {
  if (impossible_size(in_features) || impossible_size(out_features)) {
    throw value_error(
        fmt::format("Linear: sizes must be positive, got in_features {}, out_features {}",
                    size_text(in_features), size_text(out_features)));
  }
  // PyTorch: kaiming_uniform(a = sqrt(5)) for the weight, which is U(-1/sqrt(in), 1/sqrt(in)),
  // and the same bound for the bias
  const T bound = T(1) / std::sqrt(static_cast<T>(in_features));
  weight_ = this->register_parameter(
      "weight",
      Var<T>(generator.uniform<T>(make_shape({out_features, in_features}), -bound, bound)));
  if (bias) {
    bias_ = this->register_parameter(
        "bias", Var<T>(generator.uniform<T>(make_shape({out_features}), -bound, bound)));
  }
}

template <class T>
Var<T> Linear<T>::forward(const Var<T>& x) const {
  return linear(x, weight_, bias_);
}

template <class T>
Embedding<T>::Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Index padding_idx,
                        Generator& generator)
    : padding_idx_(padding_idx) {
  if (impossible_size(num_embeddings) || impossible_size(embedding_dim)) {
    throw value_error(
        fmt::format("Embedding: sizes must be positive, got num_embeddings {}, embedding_dim {}",
                    size_text(num_embeddings), size_text(embedding_dim)));
  }
  if (padding_idx >= static_cast<Index>(num_embeddings) || padding_idx < -1) {
    throw value_error(fmt::format("Embedding: padding_idx {} is out of range for {} embeddings",
                                  padding_idx, num_embeddings));
  }
  Array<T> w = generator.normal<T>(make_shape({num_embeddings, embedding_dim}));
  if (padding_idx >= 0) {
    for (std::size_t j = 0; j < embedding_dim; ++j) w(padding_idx, j) = T(0);
  }
  weight_ = this->register_parameter("weight", Var<T>(std::move(w)));
}

template <class T>
std::shared_ptr<Embedding<T>> Embedding<T>::from_pretrained(const Array<T>& weights, bool freeze,
                                                            Index padding_idx) {
  if (weights.dimension() != 2) {
    throw shape_error(fmt::format("Embedding::from_pretrained: expected weights [num, dim], got {}",
                                  shape_str(weights.shape())));
  }
  Generator unused(0);
  auto e =
      std::make_shared<Embedding<T>>(weights.shape()[0], weights.shape()[1], padding_idx, unused);
  e->weight_.mutable_value() = weights;
  e->weight_.set_requires_grad(!freeze);
  return e;
}

template <class T>
Var<T> Embedding<T>::forward(const IndexArray& ids) const {
  return index_rows(weight_, ids, padding_idx_);
}

template <class T>
Dropout<T>::Dropout(double p, std::uint64_t seed) : p_(p), generator_(seed) {
  if (!(p >= 0.0 && p < 1.0))
    throw value_error(fmt::format("Dropout: p = {} is outside [0, 1)", p));
}

template <class T>
Var<T> Dropout<T>::forward(const Var<T>& x) const {
  return dropout(x, p_, this->is_training(), generator_);
}

template class Linear<float>;
template class Linear<double>;
template class Embedding<float>;
template class Embedding<double>;
template class Dropout<float>;
template class Dropout<double>;

}  // namespace tapegrad::nn
