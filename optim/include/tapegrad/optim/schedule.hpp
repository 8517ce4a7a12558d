/// @file
/// Learning-rate schedules with PyTorch's formulas (its recursive, "chainable" forms, so the
/// values agree with torch.optim.lr_scheduler step by step).
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "tapegrad/optim/optimizer.hpp"

namespace tapegrad::optim {

/// The base of every schedule: it owns nothing but a pointer to the optimizer, remembers each
/// group's initial learning rate, and sets the groups' `lr` on every step(). Call step() once
/// per epoch (or per iteration), after optimizer.step(), as in PyTorch.
template <class T>
class Schedule {
 public:
  /// Takes each group's lr as its base rate. The optimizer must outlive the schedule.
  explicit Schedule(Optimizer<T>& optimizer);
  virtual ~Schedule() = default;

  /// Advances one epoch and sets the new learning rates.
  virtual void step();
  /// Epochs stepped so far (PyTorch's last_epoch).
  std::int64_t epoch() const { return epoch_; }
  /// The current learning rate of each group.
  std::vector<double> lrs() const;

  /// State for training checkpoints: epoch, base learning rates and the current ones.
  std::vector<std::pair<std::string, Array<double>>> state_dict() const;
  /// Restores what state_dict() gave, the groups' current learning rates included. A missing
  /// entry, a value that is not one number, or a count of rates other than the optimizer's
  /// groups is a value_error.
  void load_state_dict(const std::vector<std::pair<std::string, Array<double>>>& state);

 protected:
  /// The next learning rate of group g from its current one (epoch_ already advanced).
  virtual double next_lr(std::size_t g, double current) = 0;
  /// A derived schedule's own state, added to state_dict() (none by default).
  virtual std::vector<std::pair<std::string, Array<double>>> extra_state() const { return {}; }
  /// Restores what extra_state() gave, from the whole state; it throws (value_error) before it
  /// changes anything.
  virtual void load_extra_state(const std::vector<std::pair<std::string, Array<double>>>&) {}

  Optimizer<T>& optimizer_;       ///< whose groups' `lr` the schedule sets
  std::vector<double> base_lrs_;  ///< each group's lr when the schedule was built
  std::int64_t epoch_ = 0;        ///< steps so far (epoch())
};

/// lr *= gamma every step_size epochs.
template <class T>
class StepLR : public Schedule<T> {
 public:
  /// A step_size that is not positive, or a gamma that is negative or not finite, is a
  /// value_error.
  StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma = 0.1);

 protected:
  double next_lr(std::size_t g, double current) override;

 private:
  std::int64_t step_size_;
  double gamma_;
};

/// lr *= gamma at each milestone epoch.
template <class T>
class MultiStepLR : public Schedule<T> {
 public:
  /// `milestones`: epochs (from 1) at whose step the rate drops. A milestone that is not
  /// positive, or a gamma that is negative or not finite, is a value_error.
  MultiStepLR(Optimizer<T>& optimizer, std::vector<std::int64_t> milestones, double gamma = 0.1);

 protected:
  double next_lr(std::size_t g, double current) override;

 private:
  std::vector<std::int64_t> milestones_;
  double gamma_;
};

/// lr *= gamma every epoch.
template <class T>
class ExponentialLR : public Schedule<T> {
 public:
  /// A gamma that is negative or not finite is a value_error.
  ExponentialLR(Optimizer<T>& optimizer, double gamma);

 protected:
  double next_lr(std::size_t g, double current) override;

 private:
  double gamma_;
};

/// Cosine annealing from the base rate to eta_min over t_max epochs (then back up, as PyTorch).
template <class T>
class CosineAnnealingLR : public Schedule<T> {
 public:
  /// A t_max that is not positive, or an eta_min that is negative or not finite, is a
  /// value_error.
  CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t t_max, double eta_min = 0.0);

 protected:
  double next_lr(std::size_t g, double current) override;

 private:
  std::int64_t t_max_;
  double eta_min_;
};

/// Linear warm-up: the factor goes from start_factor to end_factor over total_iters epochs.
/// The first rate (set at construction) is base * start_factor.
template <class T>
class LinearLR : public Schedule<T> {
 public:
  /// Sets the groups' rates to base * start_factor at once. A start_factor outside (0, 1], an
  /// end_factor outside [0, 1] or a total_iters that is not positive is a value_error.
  LinearLR(Optimizer<T>& optimizer, double start_factor = 1.0 / 3.0, double end_factor = 1.0,
           std::int64_t total_iters = 5);

 protected:
  double next_lr(std::size_t g, double current) override;

 private:
  double start_, end_;
  std::int64_t total_;
};

/// The options of ReduceLROnPlateau, PyTorch's arguments. A factor outside [0, 1), a negative
/// patience or cooldown, or a threshold, min_lr or eps that is negative or not finite is a
/// value_error.
struct PlateauOptions {
  bool maximize = false;       ///< mode "max" (accuracy) instead of "min" (loss)
  double factor = 0.1;         ///< lr *= factor at each reduction
  std::int64_t patience = 10;  ///< epochs without improvement tolerated before a reduction
  /// How much better than the best so far a metric must be to count as an improvement:
  /// relatively (below best * (1 - threshold) in mode "min") or absolutely (below
  /// best - threshold).
  double threshold = 1e-4;
  bool relative_threshold = true;  ///< threshold_mode "rel" (else "abs")
  std::int64_t cooldown = 0;       ///< epochs after a reduction during which no epoch counts as bad
  double min_lr = 0.0;             ///< no group's rate goes below it
  double eps = 1e-8;               ///< a reduction smaller than eps is not made
};

/// Lowers the rate by `factor` when a metric has not improved for `patience` epochs.
/// Call step(metric) once per epoch.
template <class T>
class ReduceLROnPlateau : public Schedule<T> {
 public:
  /// Checks the options (see PlateauOptions); the best metric starts at the worst value.
  ReduceLROnPlateau(Optimizer<T>& optimizer, PlateauOptions options = {});
  /// A usage_error: this schedule needs the metric, step(metric).
  void step() override;
  /// Ends an epoch whose monitored value was `metric`, lowering the rates when it is the
  /// (patience + 1)-th epoch in a row without improvement.
  void step(double metric);
  /// Epochs since the last improvement.
  std::int64_t bad_epochs() const { return bad_epochs_; }

 protected:
  double next_lr(std::size_t g, double current) override;
  /// The best metric, the bad epochs and the cooldown left.
  std::vector<std::pair<std::string, Array<double>>> extra_state() const override;
  /// Restores what extra_state() gave; a missing or malformed entry is a value_error.
  void load_extra_state(const std::vector<std::pair<std::string, Array<double>>>& s) override;

 private:
  bool better(double metric) const;
  PlateauOptions o_;
  double best_;
  std::int64_t bad_epochs_ = 0;
  std::int64_t cooldown_counter_ = 0;
};

}  // namespace tapegrad::optim
