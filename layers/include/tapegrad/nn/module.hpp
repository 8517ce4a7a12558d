// nn::Module: named parameters and sub-modules, train/eval, state dicts.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/var.hpp"

namespace tapegrad::nn {

/// Named arrays in registration order, keyed by PyTorch's dotted names ("rnn.weight_ih_l0").
template <class T>
using StateDict = std::vector<std::pair<std::string, Array<T>>>;

/// The base of every layer. A module owns parameters (leaf Vars) and sub-modules, both
/// registered by name in the order they are created, so `named_parameters()` lists them as
/// PyTorch does. Modules are not copyable (sub-modules are registered by reference).
template <class T = float>
class Module {
 public:
  using scalar_type = T;

  Module() = default;
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  /// Registers `param` under `name` (no dots) and returns it; the Var is made a leaf that
  /// requires a gradient unless `requires_grad` is false (a frozen weight).
  Var<T> register_parameter(const std::string& name, Var<T> param, bool requires_grad = true);
  /// Registers a sub-module the caller owns (usually a member): its parameters appear as
  /// "name.<param>".
  template <class M>
  M& register_module(const std::string& name, M& module) {
    add_child(name, &module);
    return module;
  }
  /// Registers a sub-module held by shared ownership (kept alive by this module).
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module.get());
    owned_.push_back(module);
    return module;
  }

  /// Every parameter with its dotted name, in registration order (this module's own first,
  /// then each sub-module's).
  std::vector<std::pair<std::string, Var<T>>> named_parameters() const;
  std::vector<Var<T>> parameters() const;
  /// The parameter with this dotted name; a value_error listing the names when there is none.
  Var<T> parameter(const std::string& name) const;
  /// Direct sub-modules with their names.
  const std::vector<std::pair<std::string, Module*>>& children() const { return children_; }
  /// Total number of parameter elements.
  std::size_t num_parameters() const;

  /// Training mode (dropout active) for this module and every sub-module.
  void train(bool on = true);
  /// Evaluation mode: train(false).
  void eval() { train(false); }
  bool is_training() const { return training_; }

  /// Drops the gradient of every parameter.
  void zero_grad();

  /// Copies of every parameter's value under its dotted name.
  StateDict<T> state_dict() const;
  /// Loads values by name. Strict: a missing name, an unexpected name or a wrong shape is a
  /// value_error naming the entry, and then no parameter is changed at all.
  void load_state_dict(const StateDict<T>& state);

 private:
  void add_child(const std::string& name, Module* child);
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var<T>>>& out) const;

  std::vector<std::pair<std::string, Var<T>>> params_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::shared_ptr<void>> owned_;
  bool training_ = true;
};

extern template class Module<float>;
extern template class Module<double>;

}  // namespace tapegrad::nn
