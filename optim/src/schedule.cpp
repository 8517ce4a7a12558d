// Learning-rate schedules, in PyTorch 1.13's recursive forms.
#include "tapegrad/optim/schedule.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::optim {

namespace {

// Python's a % b for b > 0 (never negative).
std::int64_t py_mod(std::int64_t a, std::int64_t b) {
  const std::int64_t r = a % b;
  return r < 0 ? r + b : r;
}

Array<double> scalar(double v) {
  Array<double> a = Array<double>::from_shape({});
  a() = v;
  return a;
}

const Array<double>& need(const std::map<std::string, const Array<double>*>& given,
                          const std::string& key) {
  const auto it = given.find(key);
  if (it == given.end()) throw value_error("schedule load_state_dict: missing '" + key + "'");
  return *it->second;
}

// The entry `key`, which must hold one number: finite, or not NaN when `infinite_ok`.
double need_number(const std::map<std::string, const Array<double>*>& given, const std::string& key,
                   bool infinite_ok = false) {
  const Array<double>& a = need(given, key);
  if (a.size() != 1 || std::isnan(*a.begin()) || (!infinite_ok && std::isinf(*a.begin()))) {
    throw value_error(fmt::format(
        "schedule load_state_dict: '{}' must be one {}number, got {}", key,
        infinite_ok ? "" : "finite ",
        a.size() == 1 ? fmt::format("{}", *a.begin()) : "shape " + shape_str(a.shape())));
  }
  return *a.begin();
}

// A factor or rate of a schedule: finite and >= 0 (a negative one would make the learning rate
// negative, a NaN one NaN).
void check_nonnegative(const char* op, const char* what, double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) {
    throw value_error(fmt::format("{}: {} {} must be finite and >= 0", op, what, v));
  }
}

}  // namespace

template <class T>
Schedule<T>::Schedule(Optimizer<T>& optimizer) : optimizer_(optimizer) {
  for (const auto& g : optimizer.param_groups()) base_lrs_.push_back(g.lr);
}

template <class T>
void Schedule<T>::step() {
  ++epoch_;
  auto& groups = optimizer_.param_groups();
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = next_lr(g, groups[g].lr);
}

template <class T>
std::vector<double> Schedule<T>::lrs() const {
  std::vector<double> out;
  for (const auto& g : optimizer_.param_groups()) out.push_back(g.lr);
  return out;
}

template <class T>
std::vector<std::pair<std::string, Array<double>>> Schedule<T>::state_dict() const {
  std::vector<std::pair<std::string, Array<double>>> out;
  out.emplace_back("epoch", scalar(static_cast<double>(epoch_)));
  Array<double> base = Array<double>::from_shape({base_lrs_.size()});
  std::copy(base_lrs_.begin(), base_lrs_.end(), base.begin());
  out.emplace_back("base_lrs", base);
  const std::vector<double> now = lrs();
  Array<double> current = Array<double>::from_shape({now.size()});
  std::copy(now.begin(), now.end(), current.begin());
  out.emplace_back("lrs", current);
  for (auto& e : extra_state()) out.push_back(std::move(e));
  return out;
}

template <class T>
void Schedule<T>::load_state_dict(const std::vector<std::pair<std::string, Array<double>>>& state) {
  std::map<std::string, const Array<double>*> given;
  for (const auto& [name, value] : state) given[name] = &value;
  const double epoch = need_number(given, "epoch");
  const Array<double>& base = need(given, "base_lrs");
  const Array<double>& current = need(given, "lrs");
  auto& groups = optimizer_.param_groups();
  if (base.size() != groups.size() || current.size() != groups.size()) {
    throw value_error(
        fmt::format("schedule load_state_dict: 'base_lrs' has {} and 'lrs' {} learning rates, "
                    "for {} groups",
                    base.size(), current.size(), groups.size()));
  }
  load_extra_state(state);
  epoch_ = static_cast<std::int64_t>(epoch);
  base_lrs_.assign(base.begin(), base.end());
  for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = current(g);
}

// ---- StepLR, MultiStepLR, ExponentialLR ----

template <class T>
StepLR<T>::StepLR(Optimizer<T>& optimizer, std::int64_t step_size, double gamma)
    : Schedule<T>(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size <= 0)
    throw value_error(fmt::format("StepLR: step_size {} must be positive", step_size));
  check_nonnegative("StepLR", "gamma", gamma);
}

template <class T>
double StepLR<T>::next_lr(std::size_t, double current) {
  return this->epoch_ % step_size_ == 0 ? current * gamma_ : current;
}

template <class T>
MultiStepLR<T>::MultiStepLR(Optimizer<T>& optimizer, std::vector<std::int64_t> milestones,
                            double gamma)
    : Schedule<T>(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  // Epochs count from 1 at the first step(): a milestone 0 or below would never be reached.
  for (std::size_t i = 0; i < milestones_.size(); ++i) {
    if (milestones_[i] <= 0) {
      throw value_error(fmt::format(
          "MultiStepLR: milestone {} (at position {}) must be positive (epochs count from 1)",
          milestones_[i], i));
    }
  }
  check_nonnegative("MultiStepLR", "gamma", gamma);
}

template <class T>
double MultiStepLR<T>::next_lr(std::size_t, double current) {
  // A milestone listed k times multiplies by gamma^k, as PyTorch's Counter does.
  const auto k = std::count(milestones_.begin(), milestones_.end(), this->epoch_);
  return k == 0 ? current : current * std::pow(gamma_, static_cast<double>(k));
}

template <class T>
ExponentialLR<T>::ExponentialLR(Optimizer<T>& optimizer, double gamma)
    : Schedule<T>(optimizer), gamma_(gamma) {
  check_nonnegative("ExponentialLR", "gamma", gamma);
}

template <class T>
double ExponentialLR<T>::next_lr(std::size_t, double current) {
  return current * gamma_;
}

// ---- CosineAnnealingLR ----

template <class T>
CosineAnnealingLR<T>::CosineAnnealingLR(Optimizer<T>& optimizer, std::int64_t t_max, double eta_min)
    : Schedule<T>(optimizer), t_max_(t_max), eta_min_(eta_min) {
  if (t_max <= 0)
    throw value_error(fmt::format("CosineAnnealingLR: t_max {} must be positive", t_max));
  check_nonnegative("CosineAnnealingLR", "eta_min", eta_min);
}

template <class T>
double CosineAnnealingLR<T>::next_lr(std::size_t g, double current) {
  const double pi = std::acos(-1.0);
  const auto t = this->epoch_;
  if (py_mod(t - 1 - t_max_, 2 * t_max_) == 0) {
    return current + (this->base_lrs_[g] - eta_min_) *
                         (1.0 - std::cos(pi / static_cast<double>(t_max_))) / 2.0;
  }
  return (1.0 + std::cos(pi * static_cast<double>(t) / static_cast<double>(t_max_))) /
             (1.0 + std::cos(pi * static_cast<double>(t - 1) / static_cast<double>(t_max_))) *
             (current - eta_min_) +
         eta_min_;
}

// ---- LinearLR ----

template <class T>
LinearLR<T>::LinearLR(Optimizer<T>& optimizer, double start_factor, double end_factor,
                      std::int64_t total_iters)
    : Schedule<T>(optimizer), start_(start_factor), end_(end_factor), total_(total_iters) {
  if (!(start_factor > 0.0 && start_factor <= 1.0) || !(end_factor >= 0.0 && end_factor <= 1.0)) {
    throw value_error(
        fmt::format("LinearLR: start_factor {} must be in (0, 1], end_factor {} in [0, 1]",
                    start_factor, end_factor));
  }
  if (total_iters <= 0)
    throw value_error(fmt::format("LinearLR: total_iters {} must be positive", total_iters));
  for (auto& group : optimizer.param_groups()) group.lr *= start_;  // epoch 0
}

template <class T>
double LinearLR<T>::next_lr(std::size_t, double current) {
  if (this->epoch_ > total_) return current;
  return current *
         (1.0 + (end_ - start_) / (static_cast<double>(total_) * start_ +
                                   static_cast<double>(this->epoch_ - 1) * (end_ - start_)));
}

// ---- ReduceLROnPlateau ----

template <class T>
ReduceLROnPlateau<T>::ReduceLROnPlateau(Optimizer<T>& optimizer, PlateauOptions options)
    : Schedule<T>(optimizer),
      o_(options),
      best_(options.maximize ? -std::numeric_limits<double>::infinity()
                             : std::numeric_limits<double>::infinity()) {
  if (!(options.factor < 1.0 && options.factor >= 0.0)) {
    throw value_error(
        fmt::format("ReduceLROnPlateau: factor {} must be in [0, 1)", options.factor));
  }
  if (options.patience < 0 || options.cooldown < 0) {
    throw value_error(fmt::format("ReduceLROnPlateau: patience {} and cooldown {} must be >= 0",
                                  options.patience, options.cooldown));
  }
  check_nonnegative("ReduceLROnPlateau", "threshold", options.threshold);
  check_nonnegative("ReduceLROnPlateau", "min_lr", options.min_lr);
  check_nonnegative("ReduceLROnPlateau", "eps", options.eps);
}

template <class T>
void ReduceLROnPlateau<T>::step() {
  throw usage_error("ReduceLROnPlateau: call step(metric) with the monitored value");
}

template <class T>
bool ReduceLROnPlateau<T>::better(double metric) const {
  if (o_.relative_threshold) {
    return o_.maximize ? metric > best_ * (o_.threshold + 1.0)
                       : metric < best_ * (1.0 - o_.threshold);
  }
  return o_.maximize ? metric > best_ + o_.threshold : metric < best_ - o_.threshold;
}

template <class T>
void ReduceLROnPlateau<T>::step(double metric) {
  ++this->epoch_;
  if (better(metric)) {
    best_ = metric;
    bad_epochs_ = 0;
  } else {
    ++bad_epochs_;
  }
  if (cooldown_counter_ > 0) {
    --cooldown_counter_;
    bad_epochs_ = 0;
  }
  if (bad_epochs_ > o_.patience) {
    auto& groups = this->optimizer_.param_groups();
    for (std::size_t g = 0; g < groups.size(); ++g) groups[g].lr = next_lr(g, groups[g].lr);
    cooldown_counter_ = o_.cooldown;
    bad_epochs_ = 0;
  }
}

template <class T>
double ReduceLROnPlateau<T>::next_lr(std::size_t, double current) {
  const double reduced = std::max(current * o_.factor, o_.min_lr);
  return current - reduced > o_.eps ? reduced : current;
}

template <class T>
std::vector<std::pair<std::string, Array<double>>> ReduceLROnPlateau<T>::extra_state() const {
  return {{"best", scalar(best_)},
          {"bad_epochs", scalar(static_cast<double>(bad_epochs_))},
          {"cooldown_counter", scalar(static_cast<double>(cooldown_counter_))}};
}

template <class T>
void ReduceLROnPlateau<T>::load_extra_state(
    const std::vector<std::pair<std::string, Array<double>>>& state) {
  std::map<std::string, const Array<double>*> given;
  for (const auto& [name, value] : state) given[name] = &value;
  const double best = need_number(given, "best", true);
  const auto bad = static_cast<std::int64_t>(need_number(given, "bad_epochs"));
  const auto cooldown = static_cast<std::int64_t>(need_number(given, "cooldown_counter"));
  best_ = best;
  bad_epochs_ = bad;
  cooldown_counter_ = cooldown;
}

#define TAPEGRAD_INSTANTIATE(T)        \
  template class Schedule<T>;          \
  template class StepLR<T>;            \
  template class MultiStepLR<T>;       \
  template class ExponentialLR<T>;     \
  template class CosineAnnealingLR<T>; \
  template class LinearLR<T>;          \
  template class ReduceLROnPlateau<T>;

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad::optim
