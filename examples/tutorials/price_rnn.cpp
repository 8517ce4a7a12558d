// Tutorial 1: predict tomorrow's price from the last 30 days with an RNN, the classic "stock
// price with an RNN" tutorial, on a synthetic series (a noisy seasonal trend, seeded; nothing to
// download), compared with the naive forecast "tomorrow = today". docs/tutorials.md shows the
// PyTorch program it follows, line by line.
//
//   price_rnn [--epochs N]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include "guarded_main.hpp"
#include "tutorial.hpp"

using namespace tapegrad;

// class PriceRNN(nn.Module): an RNN over the window, a linear layer on its last output.
class PriceRNN : public nn::ModuleBase<PriceRNN> {
 public:
  PriceRNN() {
    register_module("rnn", rnn_);
    register_module("fc", fc_);
  }
  Var<float> forward(const Var<float>& x) const {  // x [batch, window, 1] -> [batch, 1]
    Var<float> out = rnn_(x).output;               // [batch, window, hidden]
    return fc_(select(out, 1, out.size(1) - 1));   // out[:, -1, :]
  }

 private:
  nn::RNN<float> rnn_{nn::RNNOptions(1, 32).batch_first(true)};
  nn::Linear<float> fc_{32, 1};
};

int run(int argc, char** argv) {
  const std::size_t epochs = tutorial::parse_args(argc, argv, 200).epochs;
  manual_seed(0);  // torch.manual_seed(0): the series and the initial weights

  // 1500 "trading days": a slow trend, a 50-day and a 12-day season, and daily noise.
  const std::size_t days = 1500, window = 30, split = 1200;
  const double pi = 3.14159265358979;
  Array<float> t = arange(0.0f, float(days));
  Array<float> noise = randn({days});
  Array<float> price =
      100.0f + 0.01f * t + 8.0f * sin(2 * pi / 50 * t) + 3.0f * sin(2 * pi / 12 * t) + noise;

  // MinMaxScaler fitted on the training days only, then windows: x = 30 days, y = the next.
  const float lo = amin(xt::view(price, xt::range(0, split)))();
  const float hi = amax(xt::view(price, xt::range(0, split)))();
  Array<float> scaled = (price - lo) / (hi - lo);
  const std::size_t n = days - window;
  Array<float> x = zeros({n, window, 1});
  Array<float> y = zeros({n, 1});
  for (std::size_t i = 0; i < n; ++i) {
    xt::view(x, i, xt::all(), 0) = xt::view(scaled, xt::range(i, i + window));
    y(i, 0) = scaled(i + window);
  }
  const std::size_t n_train = split - window;  // windows whose target is a training day
  std::printf("price_rnn: %zu days (train 0-%zu, test %zu-%zu); windows of %zu days\n", days,
              split - 1, split, days - 1, window);

  PriceRNN model;
  optim::Adam<float> optimizer(model.parameters());
  std::vector<std::size_t> order(n_train);
  std::iota(order.begin(), order.end(), 0);
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), default_generator().engine());
    double total = 0;
    for (std::size_t b = 0; b < n_train; b += 32) {  // DataLoader(batch_size=32, shuffle=True)
      std::vector<std::size_t> idx(order.begin() + b, order.begin() + std::min(b + 32, n_train));
      Var<float> xb = constant<float>(xt::view(x, xt::keep(idx), xt::all(), xt::all()));
      Var<float> yb = constant<float>(xt::view(y, xt::keep(idx), xt::all()));
      optimizer.zero_grad();
      Var<float> loss = mse_loss(model(xb), yb);
      loss.backward();
      optimizer.step();
      total += loss.item() * double(idx.size());
    }
    if (epoch == 1 || epoch % 20 == 0 || epoch == epochs) {
      std::printf("epoch %3zu/%zu  train MSE (scaled) %.5f\n", epoch, epochs, total / n_train);
    }
  }
  const double seconds = tutorial::seconds_since(start);

  // Test: predictions back in price units, against "tomorrow's price = today's".
  NoGrad no_grad;
  Var<float> x_test = constant<float>(xt::view(x, xt::range(n_train, n), xt::all(), xt::all()));
  Array<float> predicted = model(x_test).value() * (hi - lo) + lo;  // scaler.inverse_transform
  Array<float> truth = xt::view(price, xt::range(split, days));
  Array<float> last_value = xt::view(price, xt::range(split - 1, days - 1));
  const double rmse = std::sqrt(mean(square(xt::flatten(predicted) - truth))());
  const double baseline = std::sqrt(mean(square(last_value - truth))());
  const double floor = std::sqrt(mean(square(xt::view(noise, xt::range(split, days))))());
  std::printf("test RMSE over %zu days: RNN %.3f, last value %.3f (the RNN's error is %.0f%% %s)\n",
              days - split, rmse, baseline, std::abs(100 * (1 - rmse / baseline)),
              rmse < baseline ? "lower" : "higher");
  std::printf("(the series' own noise, which no forecast can predict, has an RMSE of %.3f)\n",
              floor);
  std::printf("trained in %.1f s\n", seconds);
  return 0;
}

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
