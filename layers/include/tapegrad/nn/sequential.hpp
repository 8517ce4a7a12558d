/// @file
/// Sequential: modules applied in order, each output feeding the next.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::nn {

namespace detail {
template <class R, class = void>
struct has_output : std::false_type {};
template <class R>
struct has_output<R, std::void_t<decltype(std::declval<R>().output)>> : std::true_type {};
template <class M, class X, class = void>
struct has_forward : std::false_type {};
template <class M, class X>
struct has_forward<M, X, std::void_t<decltype(std::declval<M&>().forward(std::declval<X>()))>>
    : std::true_type {};
}  // namespace detail

/// Modules run in order: y = m_n(... m_2(m_1(x))). A recurrent layer may sit in the chain: its
/// `output` (the per-step hidden states) feeds the next module. Sub-modules are named "0",
/// "1", ... as in PyTorch, so parameters read "0.weight", "1.weight_ih_l0".
///
/// ```
///   nn::Sequential<float> net;
///   net.add(std::make_shared<nn::LSTM<float>>(nn::RNNOptions(8, 16)))
///       .add(std::make_shared<nn::Linear<float>>(16, 2));
/// ```
template <class T = float>
class Sequential : public Module<T> {
 public:
  /// Appends a module that takes one Var<T> and returns a Var<T>, or a recurrent output: a
  /// built-in layer, or your own module with such a forward (nn::ModuleBase) or, lacking a
  /// forward, such an operator().
  template <class M>
  Sequential& add(std::shared_ptr<M> module) {
    static_assert(
        detail::has_forward<M, const Var<T>&>::value || std::is_invocable_v<M&, const Var<T>&>,
        "Sequential::add: the module needs forward(const Var<T>&) or operator()");
    this->register_module(std::to_string(steps_.size()), module);
    steps_.emplace_back([m = module.get()](const Var<T>& x) -> Var<T> {
      auto y = [&] {
        if constexpr (detail::has_forward<M, const Var<T>&>::value) {
          return m->forward(x);
        } else {
          return (*m)(x);
        }
      }();
      if constexpr (detail::has_output<decltype(y)>::value) {
        return y.output;
      } else {
        return y;
      }
    });
    return *this;
  }
  /// Appends a function of one Var (an activation, a reshape) with no parameters. An empty
  /// std::function is a usage_error.
  Sequential& add(std::function<Var<T>(const Var<T>&)> fn) {
    if (!fn) {
      throw usage_error("Sequential::add: step " + std::to_string(steps_.size()) +
                        " is an empty function");
    }
    steps_.push_back(std::move(fn));
    return *this;
  }

  /// @{
  /// Each step applied to the previous one's output, the first to x; x itself when there are
  /// none. Shapes: as the steps make them.
  Var<T> forward(const Var<T>& x) const {
    Var<T> y = x;
    for (const auto& step : steps_) y = step(y);
    return y;
  }
  Var<T> operator()(const Var<T>& x) const { return forward(x); }
  /// @}
  /// The number of steps added (modules and functions).
  std::size_t size() const { return steps_.size(); }

 private:
  std::vector<std::function<Var<T>(const Var<T>&)>> steps_;
};

}  // namespace tapegrad::nn
