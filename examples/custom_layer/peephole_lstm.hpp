// A custom layer written as a user would: outside the library, with its public headers only.
//
// PeepholeLSTMCell (Gers & Schmidhuber, 2000) lets the gates look at the cell state:
//   i = sigmoid(W_i x + U_i h + p_i * c + b_i)
//   f = sigmoid(W_f x + U_f h + p_f * c + b_f)
//   g = tanh(W_g x + U_g h + b_g)
//   c' = f * c + i * g
//   o = sigmoid(W_o x + U_o h + p_o * c' + b_o)
//   h' = o * act(c')
// where act is a custom op, softsign(x) = x / (1 + |x|), defined here with its own backward
// rule through tapegrad::CustomOp. No backward is written for the layer itself: the tape
// differentiates the composition.
#pragma once

#include <cmath>
#include <utility>

#include <tapegrad/tapegrad.hpp>

namespace custom {

/// softsign(x) = x / (1 + |x|); d/dx = 1 / (1 + |x|)^2. A custom op: forward and backward
/// lambdas, no rebuild of tapegrad.
template <class T>
tapegrad::Var<T> softsign(const tapegrad::Var<T>& x) {
  static const tapegrad::CustomOp<T> op(
      "softsign",
      [](const std::vector<tapegrad::Array<T>>& in) {
        tapegrad::Array<T> y = in[0];
        for (auto& v : y) v = v / (T(1) + std::abs(v));
        return y;
      },
      [](const tapegrad::Context<T>& c) {
        tapegrad::Array<T> g = c.grad_output();
        const auto& in = c.input(0);
        for (std::size_t i = 0; i < g.size(); ++i) {
          const T d = T(1) + std::abs(in.data()[i]);
          g.data()[i] /= d * d;
        }
        return tapegrad::Grads<T>{std::move(g)};
      });
  return op({x});
}

/// The peephole LSTM cell above. Parameters: weight_ih [4H, in], weight_hh [4H, H],
/// bias [4H] (gates i, f, g, o as in PyTorch), peephole_i, peephole_f, peephole_o [H].
/// nn::ModuleBase makes it callable, `cell(x, state)`, as the built-in cells are.
template <class T = float>
class PeepholeLSTMCell : public tapegrad::nn::ModuleBase<PeepholeLSTMCell<T>, T> {
 public:
  using Var = tapegrad::Var<T>;
  struct State {
    Var h, c;
  };

  PeepholeLSTMCell(std::size_t input_size, std::size_t hidden_size,
                   tapegrad::Generator& gen = tapegrad::default_generator())
      : hidden_(hidden_size) {
    const T bound = T(1) / std::sqrt(static_cast<T>(hidden_size));
    auto uniform = [&](std::initializer_list<std::size_t> shape) {
      return Var(gen.uniform<T>(tapegrad::make_shape(shape), -bound, bound));
    };
    w_ih_ = this->register_parameter("weight_ih", uniform({4 * hidden_size, input_size}));
    w_hh_ = this->register_parameter("weight_hh", uniform({4 * hidden_size, hidden_size}));
    bias_ = this->register_parameter("bias", uniform({4 * hidden_size}));
    p_i_ = this->register_parameter("peephole_i", uniform({hidden_size}));
    p_f_ = this->register_parameter("peephole_f", uniform({hidden_size}));
    p_o_ = this->register_parameter("peephole_o", uniform({hidden_size}));
  }

  /// x [B, in]; state h, c [B, H]. Returns the next state.
  State forward(const Var& x, const State& s) const {
    using namespace tapegrad;
    auto gates = chunk(linear(x, w_ih_, bias_) + linear(s.h, w_hh_), 4, 1);
    Var i = sigmoid(gates[0] + p_i_ * s.c);
    Var f = sigmoid(gates[1] + p_f_ * s.c);
    Var g = tanh(gates[2]);
    Var c_next = f * s.c + i * g;
    Var o = sigmoid(gates[3] + p_o_ * c_next);
    return {o * softsign(c_next), c_next};
  }

  /// A zero state for a batch.
  State zero_state(std::size_t batch) const {
    tapegrad::Array<T> z = tapegrad::Array<T>::from_shape({batch, hidden_});
    z.fill(T(0));
    return {tapegrad::constant(z), tapegrad::constant(z)};
  }

 private:
  std::size_t hidden_;
  Var w_ih_, w_hh_, bias_, p_i_, p_f_, p_o_;
};

}  // namespace custom
