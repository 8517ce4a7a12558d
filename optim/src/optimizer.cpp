// The base Optimizer: parameter groups, step(), zero_grad() and its state dict.
#include <map>

#include "optimizer_detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad::optim {

template <class T>
Optimizer<T>::Optimizer(std::vector<ParamGroup<T>> groups, const char* name)
    : name_(name), groups_(std::move(groups)) {
  std::size_t count = 0;
  for (std::size_t g = 0; g < groups_.size(); ++g) {
    if (!groups_[g].has_lr) {
      throw usage_error(fmt::format("{}: group {} has no learning rate", name, g));
    }
    detail::check_lr(name, groups_[g].lr);
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
    detail::check_lr(name_, group.lr);
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
          fresh[k].add(names[b], detail::absent<T>());
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

template class Optimizer<float>;
template class Optimizer<double>;

}  // namespace tapegrad::optim
