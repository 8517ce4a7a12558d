/// @file
/// Neural-network ops: softmax family, losses, dropout. Numerically stable forms throughout.
#pragma once

#include <cstdint>

#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"

namespace tapegrad {

/// How a loss reduces over its elements.
enum class Reduction { mean, sum, none };

/// y = exp(x - max) / sum(exp(x - max)) along `axis` (negative: from the end; the default -1
/// is the last axis). Shapes: any -> same.
template <class T>
Var<T> softmax(const Var<T>& x, int axis = -1);
/// y = x - logsumexp(x) along `axis` (max-shifted; negative: from the end, -1 the last).
/// Shapes: any -> same.
template <class T>
Var<T> log_softmax(const Var<T>& x, int axis = -1);

/// softmax along `axis` over the elements the mask leaves in: mask (a bool array broadcasting
/// to x's shape; true marks an element to leave out, as masked_fill's mask) gives probability 0,
/// the others share 1. A lane with every element masked is all zeros, never NaN (PyTorch's
/// softmax over -inf gives NaN there), with zero gradient. Shapes: any -> same.
template <class T>
Var<T> masked_softmax(const Var<T>& x, const xt::xarray<bool>& mask, int axis = -1);
/// log of masked_softmax: masked elements are -inf (log 0), the others x - logsumexp over the
/// unmasked ones. A fully masked lane is all -inf, never NaN; masked elements get no gradient.
/// Shapes: any -> same.
template <class T>
Var<T> masked_log_softmax(const Var<T>& x, const xt::xarray<bool>& mask, int axis = -1);

/// Options of cross_entropy and nll_loss, as in PyTorch.
struct LossOptions {
  /// mean: over the targets that count (NaN when none does, as PyTorch); sum; none: one loss
  /// per target, 0 for an ignored one.
  Reduction reduction = Reduction::mean;
  Index ignore_index = -100;     ///< targets with this value add nothing, and are not counted
  double label_smoothing = 0.0;  ///< eps, in [0, 1] (else a value_error); cross_entropy only
};

/// Cross-entropy of logits against class indices: loss_i = -sum_c q_ic log softmax(x_i)_c with
/// q = (1 - eps) onehot(t_i) + eps / C. Shapes: logits [n, C], targets [n] -> [] (mean, sum)
/// or [n] (none); also logits [C], targets [] -> []. Mean divides by the count of targets that
/// are not ignore_index. A target outside [0, C) is a value_error.
template <class T>
Var<T> cross_entropy(const Var<T>& logits, const IndexArray& targets, LossOptions options = {});
/// Negative log-likelihood: loss_i = -logp[i, t_i]. Shapes as cross_entropy. A nonzero
/// label_smoothing is a value_error (as PyTorch's nll_loss, it has none).
template <class T>
Var<T> nll_loss(const Var<T>& log_probs, const IndexArray& targets, LossOptions options = {});
/// Mean squared error: (a - b)^2 reduced. Shapes: a and b equal.
template <class T>
Var<T> mse_loss(const Var<T>& a, const Var<T>& b, Reduction reduction = Reduction::mean);
/// Binary cross-entropy from logits, stable: max(x, 0) - x y + log(1 + exp(-|x|)).
/// Shapes: logits and targets equal. d/dlogits = sigmoid(x) - y; d/dtargets = -x.
template <class T>
Var<T> bce_with_logits(const Var<T>& logits, const Var<T>& targets,
                       Reduction reduction = Reduction::mean);

/// Inverted dropout: y = x * m / (1 - p), m ~ Bernoulli(1 - p), drawn from `generator`;
/// the identity when !training or p == 0. p in [0, 1). Shapes: any -> same.
template <class T>
Var<T> dropout(const Var<T>& x, double p, bool training, Generator& generator);
/// As above, with the default generator.
template <class T>
Var<T> dropout(const Var<T>& x, double p, bool training = true);

}  // namespace tapegrad
