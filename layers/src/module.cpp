#include "tapegrad/nn/module.hpp"

#include <map>
#include <set>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::nn {

namespace {
void check_name(const std::string& what, const std::string& name) {
  if (name.empty() || name.find('.') != std::string::npos) {
    throw value_error(
        fmt::format("{}: the name '{}' must be non-empty and contain no dot", what, name));
  }
}
}  // namespace

template <class T>
Var<T> Module<T>::register_parameter(const std::string& name, Var<T> param, bool requires_grad) {
  check_name("register_parameter", name);
  if (!param.defined()) throw usage_error("register_parameter: '" + name + "' is an empty Var");
  for (const auto& p : params_) {
    if (p.first == name)
      throw value_error("register_parameter: '" + name + "' is already registered");
  }
  if (!param.is_leaf()) {
    throw usage_error("register_parameter: '" + name +
                      "' was computed by an op; a parameter must be a leaf (detach() it)");
  }
  param.set_requires_grad(requires_grad);
  if (param.name().empty()) param.set_name(name);
  params_.emplace_back(name, param);
  return param;
}

template <class T>
void Module<T>::add_child(const std::string& name, Module* child) {
  check_name("register_module", name);
  if (child == nullptr) throw usage_error("register_module: '" + name + "' is null");
  for (const auto& c : children_) {
    if (c.first == name) throw value_error("register_module: '" + name + "' is already registered");
  }
  children_.emplace_back(name, child);
}

template <class T>
void Module<T>::collect(const std::string& prefix,
                        std::vector<std::pair<std::string, Var<T>>>& out) const {
  for (const auto& p : params_) out.emplace_back(prefix + p.first, p.second);
  for (const auto& c : children_) c.second->collect(prefix + c.first + ".", out);
}

template <class T>
std::vector<std::pair<std::string, Var<T>>> Module<T>::named_parameters() const {
  std::vector<std::pair<std::string, Var<T>>> out;
  collect("", out);
  return out;
}

template <class T>
std::vector<Var<T>> Module<T>::parameters() const {
  std::vector<Var<T>> out;
  for (auto& p : named_parameters()) out.push_back(p.second);
  return out;
}

template <class T>
Var<T> Module<T>::parameter(const std::string& name) const {
  std::vector<std::string> names;
  for (auto& p : named_parameters()) {
    if (p.first == name) return p.second;
    names.push_back(p.first);
  }
  throw value_error(
      fmt::format("no parameter '{}' (parameters: {})", name, fmt::join(names, ", ")));
}

template <class T>
std::size_t Module<T>::num_parameters() const {
  std::size_t n = 0;
  for (auto& p : named_parameters()) n += p.second.size();
  return n;
}

template <class T>
void Module<T>::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.second->train(on);
}

template <class T>
void Module<T>::zero_grad() {
  for (auto& p : named_parameters()) p.second.zero_grad();
}

template <class T>
StateDict<T> Module<T>::state_dict() const {
  StateDict<T> out;
  for (auto& p : named_parameters()) out.emplace_back(p.first, p.second.value());
  return out;
}

template <class T>
LoadResult Module<T>::load_state_dict(const StateDict<T>& state, bool strict) {
  auto params = named_parameters();
  std::map<std::string, const Array<T>*> given;
  for (const auto& [name, value] : state) {
    if (!given.emplace(name, &value).second) {
      throw value_error(fmt::format("load_state_dict: '{}' appears twice", name));
    }
  }
  // Check everything first: a failed load changes nothing. Present names must have the
  // model's shapes even when not strict (PyTorch's "size mismatch" is an error either way).
  LoadResult result;
  for (const auto& [name, var] : params) {
    const auto it = given.find(name);
    if (it == given.end()) {
      result.missing_keys.push_back(name);
      continue;
    }
    if (it->second->shape() != var.shape()) {
      throw value_error(fmt::format("load_state_dict: '{}' has shape {}, the model expects {}",
                                    name, shape_str(it->second->shape()), shape_str(var.shape())));
    }
  }
  if (strict && !result.missing_keys.empty()) {
    throw value_error(
        fmt::format("load_state_dict: missing {}", fmt::join(result.missing_keys, ", ")));
  }
  if (given.size() + result.missing_keys.size() != params.size()) {
    std::set<std::string> known;
    for (const auto& p : params) known.insert(p.first);
    for (const auto& [name, value] : state) {
      if (known.count(name) == 0) result.unexpected_keys.push_back(name);
    }
  }
  if (strict && !result.unexpected_keys.empty()) {
    throw value_error(
        fmt::format("load_state_dict: unexpected {}", fmt::join(result.unexpected_keys, ", ")));
  }
  for (auto& [name, var] : params) {
    const auto it = given.find(name);
    if (it != given.end()) var.mutable_value() = *it->second;
  }
  return result;
}

template class Module<float>;
template class Module<double>;

}  // namespace tapegrad::nn
