// A program that links tapegrad::autograd alone (the engine, no layers, optimizers or data):
// gradient descent on f(w) = sum((w - 3)^2), whose gradient 2 (w - 3) the tape computes.
#include <cmath>
#include <cstdio>

#include <tapegrad/autograd.hpp>

int main() {
  using namespace tapegrad;
  Var<double> w = parameter<double>(Array<double>{0.0, 1.0, 5.0}, "w");
  const Var<double> three = constant<double>(Array<double>{3.0, 3.0, 3.0});
  for (int step = 0; step < 100; ++step) {
    Var<double> d = w - three;
    Var<double> loss = sum(d * d);
    w.zero_grad();
    loss.backward();
    NoGrad no_grad;
    w.mutable_value() -= 0.1 * w.grad();
  }
  const double error = std::abs(w.value()(0) - 3.0) + std::abs(w.value()(2) - 3.0);
  std::printf("w = %.6f %.6f %.6f\n", w.value()(0), w.value()(1), w.value()(2));
  return error < 1e-6 ? 0 : 1;
}
