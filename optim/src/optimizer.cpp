// The optimizers' update rules, elementwise loops written in PyTorch's order of operations.
#include "tapegrad/optim/optimizer.hpp"

#include <cmath>
#include <limits>
#include <map>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad::optim {

namespace {

template <class T>
std::vector<ParamGroup<T>> one_group(std::vector<Var<T>> params, double lr) {
  return {ParamGroup<T>{std::move(params), lr}};
}

template <class T>
Array<T> zeros_like(const Array<T>& a) {
  Array<T> z = Array<T>::from_shape(a.shape());
  z.fill(T(0));
  return z;
}

// An absent buffer (PyTorch's None): a [0]-shaped array.
template <class T>
Array<T> absent() {
  return Array<T>::from_shape({0});
}

void check_lr(const char* name, double lr) {
  if (!(lr >= 0.0) || !std::isfinite(lr)) {
    throw value_error(fmt::format("{}: learning rate {} must be finite and >= 0", name, lr));
  }
}

void check_nonnegative(const char* name, const char* what, double v) {
  if (!(v >= 0.0) || !std::isfinite(v)) {
    throw value_error(fmt::format("{}: {} = {} must be finite and >= 0", name, what, v));
  }
}

void check_beta(const char* name, const char* what, double v) {
  if (!(v >= 0.0 && v < 1.0)) {
    throw value_error(fmt::format("{}: {} = {} must be in [0, 1)", name, what, v));
  }
}

}  // namespace

// ---- Optimizer ----

template <class T>
Optimizer<T>::Optimizer(std::vector<ParamGroup<T>> groups, const char* name)
    : name_(name), groups_(std::move(groups)) {
  std::size_t count = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    check_lr(name, groups_[g].lr);
    for (std::size_t i = 0; i < groups_[g].params.size(); ++i) {
      const Var<T>& p = groups_[g].params[i];
      if (!p.defined()) {
        throw usage_error(fmt::format("{}: parameter {} of group {} is an empty Var", name, i, g));
      }
      if (!p.is_leaf()) {
        throw usage_error(fmt::format("{}: parameter {} of group {} is not a leaf", name, i, g));
      }
      ++count;
    }
  }
  if (count == 0) throw value_error(fmt::format("{}: no parameters to optimize", name));
  state_.resize(count);
  param_steps_.assign(count, 0);
}

template <class T>
void Optimizer<T>::step() {
  NoGrad no_grad;
  ++steps_;
  std::size_t k = 0;
  for (auto& group : groups_) {
    check_lr(name_, group.lr);
    for (auto& p : group.params) {
      const std::size_t i = k++;
      if (!p.has_grad()) continue;
      update(p, p.grad(), group.lr, ++param_steps_[i], state_[i]);
    }
  }
}

template <class T>
void Optimizer<T>::zero_grad() {
  for (auto& group : groups_) {
    for (auto& p : group.params) p.zero_grad();
  }
}

template <class T>
std::vector<std::pair<std::string, Array<T>>> Optimizer<T>::state_dict() const {
  std::vector<std::pair<std::string, Array<T>>> out;
  Array<T> steps = Array<T>::from_shape({});
  steps() = static_cast<T>(steps_);
  out.emplace_back("steps", steps);
  for (std::size_t k = 0; k < state_.size(); ++k) {
    if (param_steps_[k] > 0) {
      Array<T> s = Array<T>::from_shape({});
      s() = static_cast<T>(param_steps_[k]);
      out.emplace_back(fmt::format("state.{}.step", k), s);
    }
    for (const auto& [name, buffer] : state_[k].buffers()) {
      if (buffer.size() == 0) continue;  // absent buffer
      out.emplace_back(fmt::format("state.{}.{}", k, name), buffer);
    }
  }
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    Array<T> lr = Array<T>::from_shape({});
    lr() = static_cast<T>(groups_[g].lr);
    out.emplace_back(fmt::format("group.{}.lr", g), lr);
  }
  return out;
}

template <class T>
void Optimizer<T>::load_state_dict(const std::vector<std::pair<std::string, Array<T>>>& state) {
  std::map<std::string, const Array<T>*> given;
  for (const auto& [name, value] : state) given[name] = &value;
  const auto need = [&](const std::string& key) -> const Array<T>& {
    const auto it = given.find(key);
    if (it == given.end()) {
      throw value_error(fmt::format("{}: load_state_dict: missing '{}'", name_, key));
    }
    return *it->second;
  };
  // One finite number >= 0 (a step count or a learning rate).
  const auto number = [&](const std::string& key, const Array<T>& a) {
    if (a.size() != 1 || !std::isfinite(static_cast<double>(*a.begin())) || *a.begin() < 0 ||
        *a.begin() > static_cast<T>(1e15)) {
      throw value_error(fmt::format(
          "{}: load_state_dict: '{}' must be one number in [0, 1e15], got {}", name_, key,
          a.size() == 1 ? fmt::format("{}", *a.begin()) : "shape " + shape_str(a.shape())));
    }
    return static_cast<double>(*a.begin());
  };
  // Build the new state completely before touching this optimizer's.
  const auto steps = static_cast<std::int64_t>(number("steps", need("steps")));
  std::vector<ParamState<T>> fresh(state_.size());
  std::vector<std::int64_t> fresh_steps(state_.size(), 0);
  const auto names = state_names();
  std::size_t k = 0, found = 0;
  for (const auto& group : groups_) {
    for (const auto& p : group.params) {
      const auto step_it = given.find(fmt::format("state.{}.step", k));
      if (step_it != given.end()) {
        fresh_steps[k] = static_cast<std::int64_t>(number(step_it->first, *step_it->second));
        ++found;
      }
      for (std::size_t b = 0; b < names.size(); ++b) {
        const auto it = given.find(fmt::format("state.{}.{}", k, names[b]));
        if (it == given.end()) {
          fresh[k].add(names[b], absent<T>());
          continue;
        }
        if (it->second->shape() != p.shape()) {
          throw value_error(
              fmt::format("{}: load_state_dict: '{}' has shape {}, parameter {} has {}", name_,
                          it->first, shape_str(it->second->shape()), k, shape_str(p.shape())));
        }
        fresh[k].add(names[b], *it->second);
        ++found;
      }
      bool any = false;
      for (const auto& [name, buffer] : fresh[k].buffers()) any = any || buffer.size() > 0;
      if (!any) fresh[k] = ParamState<T>();  // no state yet for this parameter
      if (any && step_it == given.end()) {
        throw value_error(fmt::format("{}: load_state_dict: missing 'state.{}.step'", name_, k));
      }
      ++k;
    }
  }
  std::vector<double> lrs;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    const std::string key = fmt::format("group.{}.lr", g);
    lrs.push_back(number(key, need(key)));
  }
  if (given.size() != found + 1 + groups_.size()) {
    throw value_error(fmt::format(
        "{}: load_state_dict: {} entries do not belong to this optimizer ({} parameters, {} "
        "groups)",
        name_, given.size() - found - 1 - groups_.size(), state_.size(), groups_.size()));
  }
  state_ = std::move(fresh);
  param_steps_ = std::move(fresh_steps);
  steps_ = steps;
  for (std::size_t g = 0; g < groups_.size(); ++g) groups_[g].lr = lrs[g];
}

// ---- SGD ----

template <class T>
SGD<T>::SGD(std::vector<Var<T>> params, SGDOptions options)
    : SGD(one_group(std::move(params), options.lr), options) {}

template <class T>
SGD<T>::SGD(std::vector<ParamGroup<T>> groups, SGDOptions options)
    : Optimizer<T>(std::move(groups), "SGD"), o_(options) {
  check_lr("SGD", o_.lr);
  check_nonnegative("SGD", "momentum", o_.momentum);
  check_nonnegative("SGD", "weight_decay", o_.weight_decay);
  if (!std::isfinite(o_.dampening)) {
    throw value_error(fmt::format("SGD: dampening = {} must be finite", o_.dampening));
  }
  if (o_.nesterov && (o_.momentum <= 0.0 || o_.dampening != 0.0)) {
    throw value_error(
        fmt::format("SGD: nesterov needs momentum > 0 and dampening 0, got momentum {}, "
                    "dampening {}",
                    o_.momentum, o_.dampening));
  }
}

template <class T>
void SGD<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t,
                    ParamState<T>& state) {
  const T wd = static_cast<T>(o_.weight_decay), mom = static_cast<T>(o_.momentum);
  const T damp = static_cast<T>(o_.dampening), step = static_cast<T>(lr);
  const bool first = state.empty();
  if (first) state.add("momentum_buffer", o_.momentum != 0.0 ? zeros_like(grad) : absent<T>());
  Array<T>& p = param.mutable_value();
  T* buf = state["momentum_buffer"].data();
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (wd != T(0)) g = g + wd * p.data()[i];
    if (mom != T(0)) {
      buf[i] = first ? g : mom * buf[i] + (T(1) - damp) * g;
      g = o_.nesterov ? g + mom * buf[i] : buf[i];
    }
    p.data()[i] -= step * g;
  }
}

// ---- Adam, AdamW ----

template <class T>
Adam<T>::Adam(std::vector<Var<T>> params, AdamOptions options)
    : Adam(one_group(std::move(params), options.lr), options, false, "Adam") {}

template <class T>
Adam<T>::Adam(std::vector<ParamGroup<T>> groups, AdamOptions options)
    : Adam(std::move(groups), options, false, "Adam") {}

template <class T>
Adam<T>::Adam(std::vector<ParamGroup<T>> groups, AdamOptions options, bool decoupled,
              const char* name)
    : Optimizer<T>(std::move(groups), name), o_(options), decoupled_(decoupled) {
  check_lr(name, o_.lr);
  check_beta(name, "beta1", o_.beta1);
  check_beta(name, "beta2", o_.beta2);
  check_nonnegative(name, "eps", o_.eps);
  check_nonnegative(name, "weight_decay", o_.weight_decay);
}

template <class T>
void Adam<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step_count,
                     ParamState<T>& state) {
  if (state.empty()) {
    state.add("exp_avg", zeros_like(grad));
    state.add("exp_avg_sq", zeros_like(grad));
    state.add("max_exp_avg_sq", o_.amsgrad ? zeros_like(grad) : absent<T>());
  }
  const double t = static_cast<double>(step_count);
  const T b1 = static_cast<T>(o_.beta1), b2 = static_cast<T>(o_.beta2);
  const T wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps);
  const T bias1 = static_cast<T>(1.0 - std::pow(o_.beta1, t));
  const T bias2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(o_.beta2, t)));
  const T step_size = static_cast<T>(lr) / bias1;
  Array<T>& p = param.mutable_value();
  T* m = state["exp_avg"].data();
  T* v = state["exp_avg_sq"].data();
  T* vmax = o_.amsgrad ? state["max_exp_avg_sq"].data() : nullptr;
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (decoupled_) {
      p.data()[i] *= T(1) - static_cast<T>(lr) * wd;  // AdamW: p *= 1 - lr wd
    } else if (wd != T(0)) {
      g = g + wd * p.data()[i];  // Adam: L2 through the gradient
    }
    m[i] = b1 * m[i] + (T(1) - b1) * g;
    v[i] = b2 * v[i] + (T(1) - b2) * g * g;
    T denom;
    if (vmax != nullptr) {
      vmax[i] = std::max(vmax[i], v[i]);
      denom = std::sqrt(vmax[i]) / bias2_sqrt + eps;
    } else {
      denom = std::sqrt(v[i]) / bias2_sqrt + eps;
    }
    p.data()[i] -= step_size * (m[i] / denom);
  }
}

template <class T>
AdamW<T>::AdamW(std::vector<Var<T>> params, AdamWOptions options)
    : Adam<T>(one_group(std::move(params), options.lr), options, true, "AdamW") {}

template <class T>
AdamW<T>::AdamW(std::vector<ParamGroup<T>> groups, AdamWOptions options)
    : Adam<T>(std::move(groups), options, true, "AdamW") {}

// ---- RMSprop ----

template <class T>
RMSprop<T>::RMSprop(std::vector<Var<T>> params, RMSpropOptions options)
    : RMSprop(one_group(std::move(params), options.lr), options) {}

template <class T>
RMSprop<T>::RMSprop(std::vector<ParamGroup<T>> groups, RMSpropOptions options)
    : Optimizer<T>(std::move(groups), "RMSprop"), o_(options) {
  check_lr("RMSprop", o_.lr);
  check_beta("RMSprop", "alpha", o_.alpha);
  check_nonnegative("RMSprop", "eps", o_.eps);
  check_nonnegative("RMSprop", "momentum", o_.momentum);
  check_nonnegative("RMSprop", "weight_decay", o_.weight_decay);
}

template <class T>
void RMSprop<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t,
                        ParamState<T>& state) {
  if (state.empty()) {
    state.add("square_avg", zeros_like(grad));
    state.add("grad_avg", o_.centered ? zeros_like(grad) : absent<T>());
    state.add("momentum_buffer", o_.momentum > 0.0 ? zeros_like(grad) : absent<T>());
  }
  const T alpha = static_cast<T>(o_.alpha), eps = static_cast<T>(o_.eps);
  const T wd = static_cast<T>(o_.weight_decay), mom = static_cast<T>(o_.momentum);
  const T step = static_cast<T>(lr);
  Array<T>& p = param.mutable_value();
  T* sq = state["square_avg"].data();
  T* ga = state["grad_avg"].data();
  T* buf = state["momentum_buffer"].data();
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (wd != T(0)) g = g + wd * p.data()[i];
    sq[i] = alpha * sq[i] + (T(1) - alpha) * g * g;
    T avg;
    if (o_.centered) {
      ga[i] = alpha * ga[i] + (T(1) - alpha) * g;
      avg = std::sqrt(sq[i] - ga[i] * ga[i]) + eps;
    } else {
      avg = std::sqrt(sq[i]) + eps;
    }
    if (mom > T(0)) {
      buf[i] = mom * buf[i] + g / avg;
      p.data()[i] -= step * buf[i];
    } else {
      p.data()[i] -= step * (g / avg);
    }
  }
}

// ---- Adagrad ----

template <class T>
Adagrad<T>::Adagrad(std::vector<Var<T>> params, AdagradOptions options)
    : Adagrad(one_group(std::move(params), options.lr), options) {}

template <class T>
Adagrad<T>::Adagrad(std::vector<ParamGroup<T>> groups, AdagradOptions options)
    : Optimizer<T>(std::move(groups), "Adagrad"), o_(options) {
  check_lr("Adagrad", o_.lr);
  check_nonnegative("Adagrad", "lr_decay", o_.lr_decay);
  check_nonnegative("Adagrad", "weight_decay", o_.weight_decay);
  check_nonnegative("Adagrad", "initial_accumulator_value", o_.initial_accumulator_value);
  check_nonnegative("Adagrad", "eps", o_.eps);
}

template <class T>
void Adagrad<T>::update(Var<T>& param, const Array<T>& grad, double lr, std::int64_t step_count,
                        ParamState<T>& state) {
  if (state.empty()) {
    Array<T> s = Array<T>::from_shape(grad.shape());
    s.fill(static_cast<T>(o_.initial_accumulator_value));
    state.add("sum", std::move(s));
  }
  const T wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps);
  const T clr = static_cast<T>(lr / (1.0 + static_cast<double>(step_count - 1) * o_.lr_decay));
  Array<T>& p = param.mutable_value();
  T* sum = state["sum"].data();
  for (std::size_t i = 0; i < p.size(); ++i) {
    T g = grad.data()[i];
    if (wd != T(0)) g = g + wd * p.data()[i];
    sum[i] += g * g;
    p.data()[i] -= clr * (g / (std::sqrt(sum[i]) + eps));
  }
}

// ---- clipping ----

template <class T>
double clip_grad_norm(const std::vector<Var<T>>& params, double max_norm, double norm_type) {
  if (!(max_norm >= 0.0)) {
    throw value_error(fmt::format("clip_grad_norm: max_norm {} must be >= 0", max_norm));
  }
  const bool inf_norm = norm_type == std::numeric_limits<double>::infinity();
  if (!inf_norm && norm_type != 2.0) {
    throw value_error(
        fmt::format("clip_grad_norm: norm_type {} is not supported (2 or infinity)", norm_type));
  }
  // PyTorch: the norm of the per-parameter norms.
  double total = 0.0;
  for (const auto& p : params) {
    if (!p.defined() || !p.has_grad()) continue;
    double norm = 0.0;
    for (const T& g : p.grad()) {
      const double a = std::abs(static_cast<double>(g));
      norm = inf_norm ? std::max(norm, a) : norm + a * a;
      if (std::isnan(a)) norm = a;
    }
    if (inf_norm) {
      total = std::isnan(norm) ? norm : std::max(total, norm);
    } else {
      const double n = std::sqrt(norm);
      total += n * n;
    }
  }
  if (!inf_norm) total = std::sqrt(total);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (auto p : params) {
      if (!p.defined() || !p.has_grad()) continue;
      for (T& g : p.mutable_grad()) g *= static_cast<T>(coef);
    }
  }
  return total;
}

template <class T>
void clip_grad_value(const std::vector<Var<T>>& params, double clip) {
  if (!(clip >= 0.0)) throw value_error(fmt::format("clip_grad_value: clip {} must be >= 0", clip));
  const T c = static_cast<T>(clip);
  for (auto p : params) {
    if (!p.defined() || !p.has_grad()) continue;
    for (T& g : p.mutable_grad()) g = std::min(std::max(g, -c), c);
  }
}

#define TAPEGRAD_INSTANTIATE(T)                                                  \
  template class Optimizer<T>;                                                   \
  template class SGD<T>;                                                         \
  template class Adam<T>;                                                        \
  template class AdamW<T>;                                                       \
  template class RMSprop<T>;                                                     \
  template class Adagrad<T>;                                                     \
  template double clip_grad_norm<T>(const std::vector<Var<T>>&, double, double); \
  template void clip_grad_value<T>(const std::vector<Var<T>>&, double);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad::optim
