// demo: an Elman RNN written with tapegrad's ops learns to predict a noisy sine wave a few steps
// ahead, trained by plain SGD. Data and initialisation are seeded: every run prints the same
// losses (up to floating-point summation order in the BLAS).
//
//   h_t  = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)   (PyTorch's nn.RNN, tanh), h_0 = 0
//   y_t  = h_t W_out^T + b_out                               (the prediction of s_{t+3})
//   loss = mean over sequences and steps of (y_t - s_{t+3})^2
//
// x_t is a noisy sample of a sine wave s of random frequency and phase; s_{t+3} is the clean
// wave three steps later: the network has to filter the noise and extrapolate. The model is
// written with the engine's ops on purpose, six parameter Vars and a loop, to show what a
// layer (tapegrad::nn::RNN) and an optimizer (tapegrad::optim::SGD) do underneath.
//
// Usage: demo [--epochs N] [--lr RATE] [--dot FILE]
//   --epochs N   train for N epochs (default 60)
//   --lr RATE    the SGD learning rate (default 0.1)
//   --dot FILE   also write the tape of one training step as Graphviz DOT
//                (render it with `dot -Tsvg FILE -o step.svg`)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include "guarded_main.hpp"

namespace {

using tapegrad::Array;
using tapegrad::make_shape;
using tapegrad::Var;

struct Config {
  std::size_t steps = 24;  // time steps per sequence
  std::size_t hidden = 24;
  std::size_t batch = 32;
  std::size_t train_size = 512;  // sequences
  std::size_t test_size = 256;
  int epochs = 60;
  int print_every = 5;
  float lr = 0.1f;
  float noise = 0.2f;  // standard deviation of the noise on the inputs
  float ahead = 3.0f;  // predict the clean wave this many steps ahead
  std::uint64_t seed = 42;
};

/// Sequences as rows: inputs [n, steps] (noisy samples), targets [n, steps] (the clean wave
/// `ahead` steps later).
struct Dataset {
  Var<float> inputs;
  Var<float> targets;
};

Dataset make_sine_data(std::size_t n, const Config& cfg, tapegrad::Generator& gen) {
  const Array<float> freq = gen.uniform<float>(make_shape({n}), 0.15f, 0.45f);
  const Array<float> phase = gen.uniform<float>(make_shape({n}), 0.0f, 6.2831853f);
  const Array<float> noise = gen.normal<float>(make_shape({n, cfg.steps}), 0.0f, cfg.noise);
  Array<float> inputs = Array<float>::from_shape(make_shape({n, cfg.steps}));
  Array<float> targets = Array<float>::from_shape(make_shape({n, cfg.steps}));
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t t = 0; t < cfg.steps; ++t) {
      const float time = static_cast<float>(t);
      inputs(i, t) = std::sin(freq(i) * time + phase(i)) + noise(i, t);
      targets(i, t) = std::sin(freq(i) * (time + cfg.ahead) + phase(i));
    }
  }
  return {tapegrad::constant(std::move(inputs), "x"), tapegrad::constant(std::move(targets), "y")};
}

/// The model's parameters, named as PyTorch names them (nn.RNN, then nn.Linear "out").
struct ElmanRnn {
  Var<float> weight_ih;   // [hidden, 1]
  Var<float> weight_hh;   // [hidden, hidden]
  Var<float> bias_ih;     // [hidden]
  Var<float> bias_hh;     // [hidden]
  Var<float> out_weight;  // [1, hidden]
  Var<float> out_bias;    // [1]

  std::vector<Var<float>> parameters() const {
    return {weight_ih, weight_hh, bias_ih, bias_hh, out_weight, out_bias};
  }
};

/// PyTorch's default initialisation: every parameter ~ U(-1/sqrt(hidden), 1/sqrt(hidden)).
ElmanRnn make_model(std::size_t hidden, tapegrad::Generator& gen) {
  const float k = 1.0f / std::sqrt(static_cast<float>(hidden));
  auto init = [&](std::initializer_list<std::size_t> shape, const char* name) {
    return tapegrad::parameter(gen.uniform<float>(make_shape(shape), -k, k), name);
  };
  return {init({hidden, 1}, "weight_ih_l0"), init({hidden, hidden}, "weight_hh_l0"),
          init({hidden}, "bias_ih_l0"),      init({hidden}, "bias_hh_l0"),
          init({1, hidden}, "out.weight"),   init({1}, "out.bias")};
}

/// Predictions for every step. x: [batch, steps] -> [batch, steps].
Var<float> forward(const ElmanRnn& m, const Var<float>& x) {
  const std::size_t batch = x.size(0);
  const std::size_t steps = x.size(1);
  const std::size_t hidden = m.weight_hh.size(0);
  Var<float> h = tapegrad::constant(Array<float>(make_shape({batch, hidden}), 0.0f), "h0");
  std::vector<Var<float>> hs;
  for (std::size_t t = 0; t < steps; ++t) {
    const Var<float> x_t = tapegrad::narrow(x, 1, t, 1);  // [batch, 1]
    h = tapegrad::tanh(tapegrad::linear(x_t, m.weight_ih, m.bias_ih) +
                       tapegrad::linear(h, m.weight_hh, m.bias_hh));
    hs.push_back(h);
  }
  const Var<float> all_h = tapegrad::stack(hs, 1);                         // [batch, steps, hidden]
  const Var<float> y = tapegrad::linear(all_h, m.out_weight, m.out_bias);  // [batch, steps, 1]
  return tapegrad::reshape(y, make_shape({batch, steps}));
}

/// Mean squared error of the model on a whole data set, recording nothing.
float evaluate(const ElmanRnn& m, const Dataset& d) {
  tapegrad::NoGrad no_grad;
  return tapegrad::mse_loss(forward(m, d.inputs), d.targets).item();
}

/// Plain SGD: p -= lr * dloss/dp, then forget the gradient for the next step.
void sgd_step(const std::vector<Var<float>>& params, float lr) {
  tapegrad::NoGrad no_grad;
  for (Var<float> p : params) {
    p.mutable_value() -= lr * p.grad();
    p.zero_grad();
  }
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

namespace {

int run(int argc, char** argv) {
  Config cfg;
  std::string dot_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--dot" && i + 1 < argc) {
      dot_path = argv[++i];
    } else if (arg == "--epochs" && i + 1 < argc) {
      cfg.epochs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--lr" && i + 1 < argc) {
      cfg.lr = std::strtof(argv[++i], nullptr);
    } else {
      std::fprintf(stderr, "usage: %s [--epochs N] [--lr RATE] [--dot FILE]\n", argv[0]);
      return 2;
    }
  }

  // The matrices here are tiny (32 x 24): a second BLAS thread only adds synchronisation, and
  // on a busy machine it makes every GEMM wait for a core.
  tapegrad::set_num_threads(1);
  tapegrad::Generator gen(cfg.seed);
  const Dataset train = make_sine_data(cfg.train_size, cfg, gen);
  const Dataset test = make_sine_data(cfg.test_size, cfg, gen);
  const ElmanRnn model = make_model(cfg.hidden, gen);
  const std::vector<Var<float>> params = model.parameters();

  std::size_t num_params = 0;
  for (const Var<float>& p : params) num_params += p.size();
  std::printf("tapegrad demo: an Elman RNN (tanh, hidden %zu, %zu parameters) learns to predict\n",
              cfg.hidden, num_params);
  std::printf("a sine wave %.0f steps ahead from noisy samples (noise sd %.2f).\n",
              static_cast<double>(cfg.ahead), static_cast<double>(cfg.noise));
  std::printf("data: %zu train / %zu test sequences of %zu steps; batch %zu; SGD, lr %.2f\n",
              cfg.train_size, cfg.test_size, cfg.steps, cfg.batch, static_cast<double>(cfg.lr));
  std::printf("BLAS: %s, %d thread\n\n", tapegrad::blas_info().c_str(), tapegrad::num_threads());

  const float zero_loss =
      tapegrad::mse_loss(tapegrad::constant(Array<float>(test.targets.shape(), 0.0f)), test.targets)
          .item();
  std::printf("%5s  %10s  %10s  %7s\n", "epoch", "train loss", "test loss", "time");
  std::printf("%5d  %10s  %10.4f  %6.2fs\n", 0, "", static_cast<double>(evaluate(model, test)),
              0.0);

  const auto start = std::chrono::steady_clock::now();
  std::vector<tapegrad::Index> order(cfg.train_size);
  std::iota(order.begin(), order.end(), 0);
  const std::size_t batches = cfg.train_size / cfg.batch;
  bool reported_tape = false;
  for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
    std::shuffle(order.begin(), order.end(), gen.engine());
    double epoch_loss = 0.0;
    for (std::size_t b = 0; b < batches; ++b) {
      tapegrad::IndexArray ids = tapegrad::IndexArray::from_shape(make_shape({cfg.batch}));
      std::copy_n(order.begin() + static_cast<std::ptrdiff_t>(b * cfg.batch), cfg.batch,
                  ids.begin());
      // Rows of constants: a gather that records nothing (no input requires a gradient).
      const Var<float> x = tapegrad::index_rows(train.inputs, ids);
      const Var<float> y = tapegrad::index_rows(train.targets, ids);

      const Var<float> loss = tapegrad::mse_loss(forward(model, x), y);
      if (!reported_tape) {
        const tapegrad::Tape<float>& tape = tapegrad::tape<float>();
        std::printf("       one step records %zu ops on the tape, which holds %.1f KiB\n",
                    tape.size(), static_cast<double>(tape.bytes()) / 1024.0);
        if (!dot_path.empty()) {
          std::ofstream out(dot_path);
          tape.write_dot(out);
          std::printf("       wrote the step's tape to %s (Graphviz DOT)\n", dot_path.c_str());
        }
        reported_tape = true;
      }
      loss.backward();  // fills every parameter's grad, then frees the tape
      sgd_step(params, cfg.lr);
      epoch_loss += static_cast<double>(loss.item());
    }
    if (epoch % cfg.print_every == 0 || epoch == 1 || epoch == cfg.epochs) {
      std::printf("%5d  %10.4f  %10.4f  %6.2fs\n", epoch, epoch_loss / static_cast<double>(batches),
                  static_cast<double>(evaluate(model, test)), seconds_since(start));
    }
  }

  std::printf("\nfinal: train loss %.4f, test loss %.4f (always predicting 0 scores %.4f)\n",
              static_cast<double>(evaluate(model, train)),
              static_cast<double>(evaluate(model, test)), static_cast<double>(zero_loss));
  std::printf("trained in %.2f s\n", seconds_since(start));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
