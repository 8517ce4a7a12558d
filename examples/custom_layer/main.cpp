// Trains the custom PeepholeLSTMCell (peephole_lstm.hpp) to add up a sequence of numbers,
// with a hand-written SGD step: a user's layer and a user's op, trained like any other.
#include <cstdio>

#include "guarded_main.hpp"
#include "peephole_lstm.hpp"

namespace {

int run(int /*argc*/, char** /*argv*/) {
  using tapegrad::Var;
  const std::size_t steps = 6, batch = 32, hidden = 16;
  tapegrad::Generator gen(1);
  custom::PeepholeLSTMCell<float> cell(1, hidden, gen);
  tapegrad::nn::Linear<float> head(hidden, 1, true, gen);

  auto params = cell.parameters();
  for (auto& p : head.parameters()) params.push_back(p);
  const float lr = 0.2f;
  for (int step = 0; step <= 2000; ++step) {
    // x_t ~ U(-0.5, 0.5); the target is their sum
    const Var<float> x(gen.uniform<float>(tapegrad::make_shape({steps, batch, 1}), -0.5f, 0.5f));
    const Var<float> target = tapegrad::sum(x, 0);
    auto state = cell.zero_state(batch);
    for (std::size_t t = 0; t < steps; ++t) state = cell(tapegrad::select(x, 0, t), state);
    const Var<float> loss = tapegrad::mse_loss(head(state.h), target);
    loss.backward();
    {
      tapegrad::NoGrad no_grad;
      for (auto& p : params) {
        p.mutable_value() -= lr * p.grad();
        p.zero_grad();
      }
    }
    if (step % 250 == 0) std::printf("step %3d  mse %.5f\n", step, loss.item());
  }
  std::printf("(predicting 0 everywhere gives an mse of about %.3f)\n", steps / 12.0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
