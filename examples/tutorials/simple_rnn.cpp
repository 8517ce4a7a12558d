// Tutorial 3: Keras' SimpleRNN as a many-to-one classifier. A sequence of 10 random values in
// [0, 1) is positive when it holds a run of three values above 0.5 in a row: the network has to
// count along the sequence and remember what it saw. Keras' Sequential([SimpleRNN(32),
// Dense(1, activation="sigmoid")]) with binary cross-entropy and Adam, as docs/tutorials.md
// shows side by side.
//
//   simple_rnn [--epochs N]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include "guarded_main.hpp"
#include "tutorial.hpp"

using namespace tapegrad;

constexpr std::size_t steps = 10;

// n sequences x [n, steps, 1] and their labels y [n, 1]: 1 when three values in a row are > 0.5.
void make_data(std::size_t n, Array<float>& x, Array<float>& y) {
  x = rand({n, steps, 1});
  y = zeros({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t run = 0;
    for (std::size_t t = 0; t < steps; ++t) {
      run = x(i, t, 0) > 0.5f ? run + 1 : 0;
      if (run == 3) y(i, 0) = 1.0f;
    }
  }
}

// The fraction of predictions (logit > 0, i.e. sigmoid > 0.5) that match the labels.
double accuracy(const Var<float>& logits, const Array<float>& y) {
  return mean(xt::cast<double>(xt::equal(logits.value() > 0.0f, y > 0.5f)))();
}

int run(int argc, char** argv) {
  const std::size_t epochs = tutorial::parse_args(argc, argv, 60).epochs;
  manual_seed(0);
  Array<float> x_train, y_train, x_test, y_test;
  make_data(8000, x_train, y_train);
  make_data(2000, x_test, y_test);
  std::printf("simple_rnn: %zu train and %zu test sequences of %zu values, %.0f%% positive\n",
              x_train.shape(0), x_test.shape(0), steps, 100 * mean(y_train)());

  // keras.Sequential([SimpleRNN(32, input_shape=(10, 1)), Dense(1, activation="sigmoid")])
  nn::Sequential<float> model;
  model.add(std::make_shared<nn::RNN<float>>(nn::RNNOptions(1, 32).batch_first(true)))
      .add([](const Var<float>& out) { return select(out, 1, out.size(1) - 1); })
      .add(std::make_shared<nn::Linear<float>>(32, 1));  // a logit: the sigmoid is in the loss
  optim::Adam<float> optimizer(model.parameters());      // optimizer="adam"

  const std::size_t n = x_train.shape(0), batch_size = 32;
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {  // model.fit(epochs=60, batch_size=32)
    std::shuffle(order.begin(), order.end(), default_generator().engine());
    double total = 0, correct = 0;
    for (std::size_t b = 0; b < n; b += batch_size) {
      std::vector<std::size_t> idx(order.begin() + b, order.begin() + std::min(b + batch_size, n));
      Var<float> xb = constant<float>(xt::view(x_train, xt::keep(idx), xt::all(), xt::all()));
      Array<float> yb = xt::view(y_train, xt::keep(idx), xt::all());
      optimizer.zero_grad();
      Var<float> logits = model(xb);
      Var<float> loss = bce_with_logits(logits, constant(yb));  // loss="binary_crossentropy"
      loss.backward();
      optimizer.step();
      total += loss.item() * double(idx.size());
      correct += accuracy(logits, yb) * double(idx.size());
    }
    if (epoch % 5 != 0 && epoch != 1 && epoch != epochs) continue;
    NoGrad no_grad;
    std::printf("epoch %2zu/%zu  loss %.4f  accuracy %.4f  test accuracy %.4f\n", epoch, epochs,
                total / n, correct / n, accuracy(model(constant(x_test)), y_test));
  }
  const double seconds = tutorial::seconds_since(start);

  NoGrad no_grad;  // model.evaluate(x_test, y_test)
  Var<float> logits = model(constant(x_test));
  const double positive = mean(y_test)();
  std::printf(
      "test: loss %.4f, accuracy %.4f (the majority class alone: %.4f); trained in %.1f s\n",
      bce_with_logits(logits, constant(y_test)).item(), accuracy(logits, y_test),
      std::max(positive, 1 - positive), seconds);
  return 0;
}

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
