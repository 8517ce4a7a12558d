// Writes the tape of a 3-step Elman RNN as Graphviz DOT, for a learner to look at:
//   tape_graph > rnn3.dot && dot -Tsvg rnn3.dot -o rnn3.svg
// Every box is a value (name and shape), every ellipse an op recorded on the tape; backward()
// walks the ellipses from the loss back to the parameters.
#include <iostream>

#include <tapegrad/tapegrad.hpp>

using tapegrad::Var;

int main() {
  const std::size_t batch = 2, input = 3, hidden = 4, steps = 3;
  tapegrad::Generator gen(0);
  auto param = [&](std::initializer_list<std::size_t> shape, const char* name) {
    return tapegrad::parameter(gen.uniform<float>(tapegrad::make_shape(shape), -0.5f, 0.5f), name);
  };
  Var<float> w_ih = param({hidden, input}, "weight_ih"),
             w_hh = param({hidden, hidden}, "weight_hh");
  Var<float> b_ih = param({hidden}, "bias_ih"), b_hh = param({hidden}, "bias_hh");
  Var<float> w_out = param({1, hidden}, "weight_out");
  Var<float> x =
      tapegrad::constant(gen.normal<float>(tapegrad::make_shape({steps, batch, input})), "x");
  Var<float> y = tapegrad::constant(gen.normal<float>(tapegrad::make_shape({batch, 1})), "target");

  // h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh), h_0 = 0
  Var<float> h =
      tapegrad::constant(tapegrad::Array<float>(xt::zeros<float>({batch, hidden})), "h0");
  for (std::size_t t = 0; t < steps; ++t) {
    Var<float> x_t = tapegrad::select(x, 0, t).set_name("x" + std::to_string(t + 1));
    Var<float> from_input = tapegrad::linear(x_t, w_ih, b_ih);
    Var<float> from_state = tapegrad::linear(h, w_hh, b_hh);
    h = tapegrad::tanh(from_input + from_state);
    h.set_name("h" + std::to_string(t + 1));
  }
  Var<float> loss = tapegrad::mse_loss(tapegrad::linear(h, w_out), y).set_name("loss");

  auto& tape = tapegrad::tape<float>();
  std::cerr << "tape: " << tape.size() << " entries, " << tape.bytes() << " bytes\n";
  tape.write_dot(std::cout);
  loss.backward();
  std::cerr << "after backward: " << tape.size() << " entries; d loss / d weight_hh has shape "
            << tapegrad::shape_str(w_hh.grad().shape()) << "\n";
  return 0;
}
