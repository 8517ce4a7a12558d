/// @file
/// Optimizers with PyTorch's update formulas: SGD, Adam, AdamW, RMSprop, Adagrad.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/var.hpp"

/// Training (target tapegrad::optim, on nn): optimizers with PyTorch's update formulas,
/// gradient clipping, learning-rate schedules, and checkpoints that PyTorch can load.
namespace tapegrad::optim {

/// Parameters that share a learning rate: `ParamGroup<float>{params, lr}`. A group given without
/// one (`ParamGroup<float>{params}`) takes the optimizer's lr when the optimizer is built, as a
/// PyTorch group without "lr" takes the optimizer's default.
template <class T>
struct ParamGroup {
  ParamGroup() = default;
  /// A group that takes the optimizer's lr.
  ParamGroup(std::vector<Var<T>> group_params)  // NOLINT: implicit, as {params}
      : params(std::move(group_params)) {}
  /// A group with a learning rate of its own.
  ParamGroup(std::vector<Var<T>> group_params, double group_lr)
      : params(std::move(group_params)), lr(group_lr), has_lr(true) {}

  std::vector<Var<T>> params;  ///< leaf Vars (parameters), updated in place by step()
  double lr = 0.0;             ///< the group's learning rate; a schedule changes it between steps
  bool has_lr = false;         ///< false: given none; the optimizer fills in its own
};

/// The buffers an optimizer keeps for one parameter, under PyTorch's names ("momentum_buffer",
/// "exp_avg", "exp_avg_sq", "max_exp_avg_sq", "square_avg", "grad_avg", "sum"). A buffer the
/// settings do not use is absent: an empty array.
template <class T>
class ParamState {
 public:
  /// True before the parameter's first update.
  bool empty() const { return buffers_.empty(); }
  /// Adds a buffer (at the first update, in the order of the optimizer's state_names()).
  void add(std::string name, Array<T> buffer) {
    buffers_.emplace_back(std::move(name), std::move(buffer));
  }
  /// The buffer `name`; a usage_error naming it when this state holds no such buffer.
  Array<T>& operator[](std::string_view name) {
    for (auto& [key, buffer] : buffers_) {
      if (key == name) return buffer;
    }
    throw usage_error("ParamState: no buffer '" + std::string(name) + "'");
  }
  /// Buffer `k` in the order they were added (the optimizer's state_names() order): how
  /// update() reaches its buffers every step without comparing names. A usage_error past the
  /// last.
  Array<T>& buffer(std::size_t k) {
    if (k >= buffers_.size()) {
      throw usage_error("ParamState: no buffer " + std::to_string(k) + " (" +
                        std::to_string(buffers_.size()) + " held)");
    }
    return buffers_[k].second;
  }
  /// Every buffer with its name, in the order they were added.
  const std::vector<std::pair<std::string, Array<T>>>& buffers() const { return buffers_; }

 private:
  std::vector<std::pair<std::string, Array<T>>> buffers_;
};

/// The base of every optimizer: parameter groups, zero_grad, step, and its state as named
/// arrays (for training checkpoints). step() runs under NoGrad and skips parameters that have
/// no gradient, as PyTorch skips those whose grad is None.
template <class T>
class Optimizer {
 public:
  /// For a derived optimizer: `name` starts its error messages. A group without a learning
  /// rate, an empty Var or one that is not a leaf among the parameters is a usage_error; no
  /// parameters at all, or a learning rate that is negative or not finite, a value_error.
  Optimizer(std::vector<ParamGroup<T>> groups, const char* name);
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter from its gradient.
  void step();
  /// Drops every parameter's gradient.
  void zero_grad();

  /// The groups, in the order given: change a group's `lr` here (what a Schedule does).
  std::vector<ParamGroup<T>>& param_groups() { return groups_; }
  /// The groups, in the order given.
  const std::vector<ParamGroup<T>>& param_groups() const { return groups_; }
  /// Steps taken so far.
  std::int64_t steps() const { return steps_; }

  /// The per-parameter state (moment estimates, buffers) and the step count, under names such
  /// as "state.3.exp_avg" (3 = the parameter's position over all groups).
  std::vector<std::pair<std::string, Array<T>>> state_dict() const;
  /// Restores what state_dict() gave; a missing or wrongly shaped entry is a value_error, and
  /// then nothing changes.
  void load_state_dict(const std::vector<std::pair<std::string, Array<T>>>& state);

 protected:
  /// Updates one parameter at its `step`-th update (1, 2, ...; counted per parameter, as
  /// PyTorch does); `state` holds this optimizer's buffers for it by name (empty at first).
  virtual void update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step,
                      ParamState<T>& state) = 0;
  /// Names of the per-parameter buffers, in the order update() adds them.
  virtual std::vector<std::string> state_names() const = 0;

  std::int64_t steps_ = 0;  ///< step() calls so far (steps())

 private:
  const char* name_;
  std::vector<ParamGroup<T>> groups_;
  std::vector<ParamState<T>> state_;       // per parameter (over all groups)
  std::vector<std::int64_t> param_steps_;  // updates of each parameter
};

/// SGD: g = grad + wd p; with momentum, b = momentum b + (1 - dampening) g (b = g at the first
/// step), g = nesterov ? g + momentum b : b; then p -= lr g. lr = 1e-3 is PyTorch's default
/// since 2.3 (required before).
struct SGDOptions {
  double lr = 1e-3;           ///< the learning rate of groups given none; finite, >= 0
  double momentum = 0.0;      ///< 0: no momentum buffer; >= 0
  double dampening = 0.0;     ///< finite
  double weight_decay = 0.0;  ///< L2 penalty wd, added to the gradient; >= 0
  bool nesterov = false;      ///< Nesterov momentum; needs momentum > 0 and dampening 0
};

/// Stochastic gradient descent with PyTorch's options and update (SGDOptions). Options outside
/// their ranges (noted at each) are value_errors.
template <class T>
class SGD : public Optimizer<T> {
 public:
  /// One group of parameters at options.lr: `SGD<float>(model.parameters(), {0.1})`.
  SGD(std::vector<Var<T>> params, SGDOptions options = {});
  /// Groups with learning rates of their own; a group given none takes options.lr.
  SGD(std::vector<ParamGroup<T>> groups, SGDOptions options = {});

 protected:
  void update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step,
              ParamState<T>& state) override;
  std::vector<std::string> state_names() const override { return {"momentum_buffer"}; }

 private:
  SGDOptions o_;
};

/// Adam (and AdamW with decoupled weight decay): m = b1 m + (1 - b1) g,
/// v = b2 v + (1 - b2) g^2, p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps);
/// amsgrad uses the running max of v. Adam adds wd p to g; AdamW multiplies p by (1 - lr wd).
struct AdamOptions {
  double lr = 1e-3;           ///< the learning rate of groups given none; finite, >= 0
  double beta1 = 0.9;         ///< decay of the first moment m; in [0, 1)
  double beta2 = 0.999;       ///< decay of the second moment v; in [0, 1)
  double eps = 1e-8;          ///< added to the denominator; >= 0
  double weight_decay = 0.0;  ///< wd, >= 0: L2 in Adam, decoupled in AdamW
  bool amsgrad = false;       ///< use the running maximum of v (buffer "max_exp_avg_sq")
};

/// Adam with PyTorch's options and update (AdamOptions); the base of AdamW. Options outside
/// their ranges (noted at each) are value_errors.
template <class T>
class Adam : public Optimizer<T> {
 public:
  /// One group of parameters at options.lr.
  Adam(std::vector<Var<T>> params, AdamOptions options = {});
  /// Groups with learning rates of their own; a group given none takes options.lr.
  Adam(std::vector<ParamGroup<T>> groups, AdamOptions options = {});

 protected:
  /// For AdamW: `decoupled` applies the weight decay to p instead of adding it to g; `name`
  /// starts the error messages.
  Adam(std::vector<ParamGroup<T>> groups, AdamOptions options, bool decoupled, const char* name);
  void update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step,
              ParamState<T>& state) override;
  std::vector<std::string> state_names() const override {
    return {"exp_avg", "exp_avg_sq", "max_exp_avg_sq"};
  }

 private:
  AdamOptions o_;
  bool decoupled_;
};

/// AdamW's options: Adam's, with PyTorch's AdamW default weight_decay of 0.01.
/// (Given AdamOptions, their weight_decay is used as it is.)
struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 0.01; }
  /// Adam's options as they are, weight_decay included (implicit: AdamW takes AdamOptions).
  AdamWOptions(const AdamOptions& options) : AdamOptions(options) {}  // NOLINT: implicit
};

/// AdamW: Adam with decoupled weight decay, p *= 1 - lr wd before the Adam step.
template <class T>
class AdamW : public Adam<T> {
 public:
  /// One group of parameters at options.lr.
  AdamW(std::vector<Var<T>> params, AdamWOptions options = {});
  /// Groups with learning rates of their own; a group given none takes options.lr.
  AdamW(std::vector<ParamGroup<T>> groups, AdamWOptions options = {});
};

/// RMSprop: s = alpha s + (1 - alpha) g^2; centered: a = alpha a + (1 - alpha) g,
/// d = sqrt(s - a^2) + eps, else d = sqrt(s) + eps; with momentum b = momentum b + g / d and
/// p -= lr b, else p -= lr g / d.
struct RMSpropOptions {
  double lr = 0.01;           ///< the learning rate of groups given none; finite, >= 0
  double alpha = 0.99;        ///< decay of the squared average s; in [0, 1)
  double eps = 1e-8;          ///< added to the denominator; >= 0
  double weight_decay = 0.0;  ///< L2 penalty wd, added to the gradient; >= 0
  double momentum = 0.0;      ///< 0: no momentum buffer; >= 0
  bool centered = false;      ///< subtract the squared mean gradient a^2 from s
};

/// RMSprop with PyTorch's options and update (RMSpropOptions). Options outside their ranges
/// (noted at each) are value_errors.
template <class T>
class RMSprop : public Optimizer<T> {
 public:
  /// One group of parameters at options.lr.
  RMSprop(std::vector<Var<T>> params, RMSpropOptions options = {});
  /// Groups with learning rates of their own; a group given none takes options.lr.
  RMSprop(std::vector<ParamGroup<T>> groups, RMSpropOptions options = {});

 protected:
  void update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step,
              ParamState<T>& state) override;
  std::vector<std::string> state_names() const override {
    return {"square_avg", "grad_avg", "momentum_buffer"};
  }

 private:
  RMSpropOptions o_;
};

/// Adagrad: s += g^2, p -= lr / (1 + (t - 1) lr_decay) * g / (sqrt(s) + eps).
struct AdagradOptions {
  double lr = 0.01;                        ///< the learning rate of groups given none; >= 0
  double lr_decay = 0.0;                   ///< >= 0
  double weight_decay = 0.0;               ///< L2 penalty wd, added to the gradient; >= 0
  double initial_accumulator_value = 0.0;  ///< the value s starts from; >= 0
  double eps = 1e-10;                      ///< added to the denominator; >= 0
};

/// Adagrad with PyTorch's options and update (AdagradOptions). Options outside their ranges
/// (noted at each) are value_errors.
template <class T>
class Adagrad : public Optimizer<T> {
 public:
  /// One group of parameters at options.lr.
  Adagrad(std::vector<Var<T>> params, AdagradOptions options = {});
  /// Groups with learning rates of their own; a group given none takes options.lr.
  Adagrad(std::vector<ParamGroup<T>> groups, AdagradOptions options = {});

 protected:
  void update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step,
              ParamState<T>& state) override;
  std::vector<std::string> state_names() const override { return {"sum"}; }

 private:
  AdagradOptions o_;
};

/// Scales all gradients so that their joint norm is at most max_norm (PyTorch's
/// clip_grad_norm_: coefficient max_norm / (norm + 1e-6), applied when below 1). norm_type 2
/// or infinity. Returns the total norm before clipping, which is non-finite when a gradient
/// is: check it to skip a step (when `std::isfinite(norm)` is false, zero_grad() and go on
/// with the next batch).
/// A negative or NaN max_norm, or a norm_type other than 2 and infinity, is a value_error.
/// Parameters without a gradient are ignored.
template <class T>
double clip_grad_norm(const std::vector<Var<T>>& params, double max_norm, double norm_type = 2.0);

/// Clamps every gradient element into [-clip, clip]. A negative or NaN clip is a value_error.
template <class T>
void clip_grad_value(const std::vector<Var<T>>& params, double clip);

}  // namespace tapegrad::optim
