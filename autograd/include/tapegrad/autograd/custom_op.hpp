/// @file
/// Custom ops from a forward and a backward lambda, with no rebuild of the library.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

/// A user-defined differentiable op. `forward` computes the output value from the input
/// values; `backward` returns one Grad per input from a Context (grad_output, inputs, output).
/// The engine checks every gradient's shape against its input and names the op when one is
/// wrong, so a mistaken rule fails loudly (and gradcheck finds a wrong value).
///
/// ```
/// // softplus(x) = log(1 + exp(x)); d/dx = sigmoid(x)
/// CustomOp<double> softplus(
///     "softplus",
///     [](const std::vector<Array<double>>& x) {
///       return Array<double>(xt::log1p(xt::exp(x[0])));
///     },
///     [](const Context<double>& c) {
///       return Grads<double>{Array<double>(c.grad_output() / (1.0 + xt::exp(-c.input(0))))};
///     });
/// Var<double> y = softplus({x});
/// ```
template <class T>
class CustomOp {
 public:
  /// Computes the output value from the input values, in the order the op is called with.
  using Forward = std::function<Array<T>(const std::vector<Array<T>>& inputs)>;

  /// An op named `name` (on the tape and in error messages) with its two functions; nothing
  /// is checked or run until it is called. `reads` says which values `backward` reads (see
  /// Reads; by default all): what it does not read the tape may free after the forward pass.
  CustomOp(std::string name, Forward forward, BackwardRule<T> backward, Reads reads = Reads::all())
      : name_(std::move(name)),
        forward_(std::move(forward)),
        backward_(std::move(backward)),
        reads_(std::move(reads)) {}

  /// Runs forward on the inputs' values and records the op (see record()): the output
  /// requires a gradient when an input does. An empty Var among the inputs is a usage_error
  /// naming the op and its position.
  Var<T> operator()(std::vector<Var<T>> inputs) const {
    std::vector<Array<T>> values;
    values.reserve(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (!inputs[i].defined()) {
        throw usage_error(name_ + ": input " + std::to_string(i) + " is an empty Var");
      }
      values.push_back(inputs[i].value());
    }
    Array<T> output = forward_(values);
    return record<T>(name_, std::move(inputs), std::move(output), backward_, {}, {}, reads_);
  }

  /// The op's name, as its tape entries show it.
  const std::string& name() const { return name_; }

 private:
  std::string name_;
  Forward forward_;
  BackwardRule<T> backward_;
  Reads reads_;
};

}  // namespace tapegrad
