/// @file
/// Linear, Embedding, Softmax, LogSoftmax, Dropout.
#pragma once

#include "tapegrad/autograd/nn_ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

/// y = x W^T + b. Parameters: "weight" [out, in] and "bias" [out], both initialised
/// U(-1/sqrt(in), 1/sqrt(in)) as PyTorch's. Shapes: [..., in] -> [..., out].
template <class T = float>
class Linear : public Module<T> {
 public:
  /// A layer from `in_features` to `out_features`, with a bias unless `bias` is false; the
  /// initial weights are drawn from `generator`. A zero size is a value_error.
  Linear(std::size_t in_features, std::size_t out_features, bool bias = true,
         Generator& generator = default_generator());
  /// @{
  /// y = x W^T + b. Shapes: [..., in] -> [..., out]; another last size is a shape_error.
  Var<T> forward(const Var<T>& x) const;
  Var<T> operator()(const Var<T>& x) const { return forward(x); }
  /// @}
  /// W, the parameter "weight" [out, in].
  const Var<T>& weight() const { return weight_; }
  /// b, the parameter "bias" [out]; an empty Var when built without bias.
  const Var<T>& bias() const { return bias_; }

 private:
  Var<T> weight_, bias_;
};

/// A lookup table: y[..., :] = weight[ids[...], :]. Parameter "weight" [num, dim] ~ N(0, 1);
/// the row `padding_idx` (when >= 0) starts at zero and gets no gradient. An id outside
/// [0, num) is a value_error naming the id and the table size. Shapes: ids [s...] -> [s..., dim].
template <class T = float>
class Embedding : public Module<T> {
 public:
  /// A table of `num_embeddings` rows of `embedding_dim`, drawn from `generator`; -1 for no
  /// padding row. A zero size, or a padding_idx outside [-1, num_embeddings), is a
  /// value_error.
  Embedding(std::size_t num_embeddings, std::size_t embedding_dim, Index padding_idx = -1,
            Generator& generator = default_generator());
  /// A table with the given weights [num, dim]; frozen (no gradient) when `freeze`. The
  /// padding row keeps its given values (and gets no gradient). Weights of another rank are a
  /// shape_error.
  static std::shared_ptr<Embedding> from_pretrained(const Array<T>& weights, bool freeze = true,
                                                    Index padding_idx = -1);
  /// @{
  /// The rows of `ids`: y[..., :] = weight[ids[...], :]. Shapes: ids [s...] -> [s..., dim].
  /// An id outside [0, num) is a value_error.
  Var<T> forward(const IndexArray& ids) const;
  Var<T> operator()(const IndexArray& ids) const { return forward(ids); }
  /// @}
  /// The table, the parameter "weight" [num, dim].
  const Var<T>& weight() const { return weight_; }
  /// The row that gets no gradient; -1 when there is none.
  Index padding_idx() const { return padding_idx_; }

 private:
  Var<T> weight_;
  Index padding_idx_;
};

/// softmax along `axis` (a module with no parameters).
template <class T = float>
class Softmax : public Module<T> {
 public:
  /// Normalises along `axis` (negative: from the end; -1 the last).
  explicit Softmax(int axis = -1) : axis_(axis) {}
  /// @{
  /// softmax(x, axis). Shapes: any -> same; an axis outside [-rank, rank) is a shape_error.
  Var<T> forward(const Var<T>& x) const { return softmax(x, axis_); }
  Var<T> operator()(const Var<T>& x) const { return forward(x); }
  /// @}

 private:
  int axis_;
};

/// log_softmax along `axis`.
template <class T = float>
class LogSoftmax : public Module<T> {
 public:
  /// Normalises along `axis` (negative: from the end; -1 the last).
  explicit LogSoftmax(int axis = -1) : axis_(axis) {}
  /// @{
  /// log_softmax(x, axis). Shapes: any -> same; an axis outside [-rank, rank) is a
  /// shape_error.
  Var<T> forward(const Var<T>& x) const { return log_softmax(x, axis_); }
  Var<T> operator()(const Var<T>& x) const { return forward(x); }
  /// @}

 private:
  int axis_;
};

/// Inverted dropout with probability p in [0, 1), active in training mode only; draws its
/// masks from its own generator (seeded), so runs are repeatable.
template <class T = float>
class Dropout : public Module<T> {
 public:
  /// Drops with probability `p`, drawing from a generator seeded with `seed`. A p outside
  /// [0, 1) is a value_error.
  explicit Dropout(double p = 0.5, std::uint64_t seed = 0);
  /// @{
  /// In training mode (Module::train) x * m / (1 - p) with a fresh mask m ~ Bernoulli(1 - p)
  /// each call; in evaluation mode x itself. Shapes: any -> same.
  Var<T> forward(const Var<T>& x) const;
  Var<T> operator()(const Var<T>& x) const { return forward(x); }
  /// @}
  /// The drop probability.
  double p() const { return p_; }
  /// The generator of the masks: reseed it to repeat a run's masks, or list it in
  /// optim::TrainingState::generators to checkpoint it.
  Generator& generator() const { return generator_; }

 private:
  double p_;
  mutable Generator generator_;
};

extern template class Linear<float>;
extern template class Linear<double>;
extern template class Embedding<float>;
extern template class Embedding<double>;
extern template class Dropout<float>;
extern template class Dropout<double>;

}  // namespace tapegrad::nn
