/// @file
/// Module, the base of every layer: named parameters and sub-modules, train/eval, state dicts.
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/autograd/var.hpp"

/// The layers (target tapegrad::nn, on autograd): Module and its named parameters, Linear,
/// Embedding, Dropout, Sequential, the recurrent layers RNN, LSTM and GRU with their cells,
/// and the cell steps they run. Names, shapes and formulas are PyTorch's torch.nn.
namespace tapegrad::nn {

/// Named arrays in registration order, keyed by PyTorch's dotted names ("rnn.weight_ih_l0").
template <class T>
using StateDict = std::vector<std::pair<std::string, Array<T>>>;

/// What a non-strict load left out, under PyTorch's names (its `_IncompatibleKeys`):
/// `missing_keys`, the model's parameters the state did not have (left as they were), in
/// registration order; `unexpected_keys`, the state's entries the model has no parameter for
/// (ignored), in the state's order. Both empty after a strict load, which throws instead.
struct LoadResult {
  std::vector<std::string> missing_keys;     ///< the model's names the state lacked
  std::vector<std::string> unexpected_keys;  ///< the state's names the model lacks
};

/// The base of every layer. A module owns parameters (leaf Vars) and sub-modules, both
/// registered by name in the order they are created, so `named_parameters()` lists them as
/// PyTorch does. Modules are not copyable (sub-modules are registered by reference).
template <class T = float>
class Module {
 public:
  /// The scalar type of the parameters, float or double.
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
  /// The same parameters without their names (what an optimizer takes).
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
  /// True in training mode, the mode a module starts in.
  bool is_training() const { return training_; }

  /// Drops the gradient of every parameter.
  void zero_grad();

  /// Copies of every parameter's value under its dotted name.
  StateDict<T> state_dict() const;
  /// Loads values by name, as PyTorch's load_state_dict(state, strict). Strict (the default):
  /// a missing name or an unexpected one is a value_error naming them. Not strict: the
  /// parameters the state has are loaded, the others keep their values, and the result lists
  /// the missing and unexpected names (a pretrained encoder into a bigger model). Either way a
  /// wrong shape of a present name, or a name given twice, is a value_error naming the entry
  /// and both shapes, and a load that throws changes no parameter at all.
  LoadResult load_state_dict(const StateDict<T>& state, bool strict = true);

 private:
  void add_child(const std::string& name, Module* child);
  void collect(const std::string& prefix, std::vector<std::pair<std::string, Var<T>>>& out) const;

  std::vector<std::pair<std::string, Var<T>>> params_;
  std::vector<std::pair<std::string, Module*>> children_;
  std::vector<std::shared_ptr<void>> owned_;
  bool training_ = true;
};

/// The base of a module of your own, callable as `model(x)` like the built-in layers: derive
/// from `ModuleBase<YourModule>` (`ModuleBase<YourModule<T>, T>` for a double one) instead of
/// `Module<float>` and define `forward`; `model(args...)` is `model.forward(args...)`, with
/// whatever arguments your forward takes (a Var, ids and lengths, a state) and its return
/// type. CRTP: the base knows the derived class, so there is no virtual call and no fixed
/// signature. A braced argument (`model(x, {})`) cannot be forwarded; name its type
/// (`model(x, State{})`) or call forward. The built-in layers declare their operator() by hand,
/// so their headers show its signature.
///
/// ```
///   class Net : public nn::ModuleBase<Net> {
///    public:
///     Net() { register_module("fc", fc_); }
///     Var<float> forward(const Var<float>& x) const { return tanh(fc_(x)); }
///    private:
///     nn::Linear<float> fc_{4, 2};
///   };
///   Net net;
///   Var<float> y = net(x);
/// ```
template <class Derived, class T = float>
class ModuleBase : public Module<T> {
 public:
  /// forward(args...) on a const module.
  template <class... Args, class D = Derived>  // D: checked at the call, not before
  auto operator()(Args&&... args) const
      -> decltype(std::declval<const D&>().forward(std::forward<Args>(args)...)) {
    static_assert(std::is_base_of_v<ModuleBase, Derived>,
                  "ModuleBase<Derived>: Derived must be the class deriving from it");
    return static_cast<const Derived&>(*this).forward(std::forward<Args>(args)...);
  }
  /// forward(args...) on a mutable module (a forward that is not const).
  template <class... Args, class D = Derived>
  auto operator()(Args&&... args)
      -> decltype(std::declval<D&>().forward(std::forward<Args>(args)...)) {
    static_assert(std::is_base_of_v<ModuleBase, Derived>,
                  "ModuleBase<Derived>: Derived must be the class deriving from it");
    return static_cast<Derived&>(*this).forward(std::forward<Args>(args)...);
  }
};

extern template class Module<float>;
extern template class Module<double>;

}  // namespace tapegrad::nn
