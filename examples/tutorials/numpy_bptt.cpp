// Tutorial 4: "an RNN from scratch in NumPy" (Karpathy's min-char-rnn): an Elman RNN learns the
// next character of a text, its forward pass an explicit loop over time and its backward pass
// written by hand with the chain rule through time, on plain arrays, in double precision. Every
// step checks itself: the same weights and inputs go through tapegrad's nn::RNN and nn::Linear,
// whose backward() must give the same gradients. It prints the largest difference of each
// gradient and fails (exit status 1) when one exceeds 1e-12.
//
//   numpy_bptt [--epochs N]   (N passes over the text; default 100)
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include <xtensor/xadapt.hpp>
#include "guarded_main.hpp"
#include "tutorial.hpp"

using namespace tapegrad;
using Mat = Array<double>;

// np.dot(W, x), np.dot(W.T, d) and np.outer(a, b), for W [n, m] and vectors.
Mat dot(const Mat& w, const Mat& x) {
  return sum(w * xt::view(x, xt::newaxis(), xt::all()), {1});
}
Mat dot_t(const Mat& w, const Mat& d) {
  return sum(w * xt::view(d, xt::all(), xt::newaxis()), {0});
}
Mat outer(const Mat& a, const Mat& b) {
  return xt::view(a, xt::all(), xt::newaxis()) * xt::view(b, xt::newaxis(), xt::all());
}

// The parameters under min-char-rnn's names; gradients have the same layout.
struct Params {
  Mat Wxh, Whh, Why, bh, by;  // NOLINT: NumPy's names
};

// The summed loss and the gradients of one chunk; hprev (h_{-1}) becomes its last state.
double loss_fun(const Params& p, const std::vector<Index>& inputs,
                const std::vector<Index>& targets, Mat& hprev, Params& g) {
  const std::size_t steps = inputs.size(), vocab = p.Why.shape(0);
  std::vector<Mat> xs(steps), hs(steps + 1), ps(steps);  // hs[t + 1] is h_t
  hs[0] = hprev;
  double loss = 0;
  for (std::size_t t = 0; t < steps; ++t) {
    xs[t] = zeros<double>({vocab});
    xs[t](inputs[t]) = 1;                                            // one-hot input
    hs[t + 1] = tanh(dot(p.Wxh, xs[t]) + dot(p.Whh, hs[t]) + p.bh);  // h_t
    Mat y = dot(p.Why, hs[t + 1]) + p.by;                            // logits
    ps[t] = exp(y - amax(y)());
    ps[t] /= sum(ps[t])();                // softmax
    loss -= std::log(ps[t](targets[t]));  // cross-entropy
  }
  g = {zeros<double>(p.Wxh.shape()), zeros<double>(p.Whh.shape()), zeros<double>(p.Why.shape()),
       zeros<double>(p.bh.shape()), zeros<double>(p.by.shape())};
  Mat dhnext = zeros<double>(hprev.shape());  // dL/dh_t through h_{t+1}
  for (std::size_t t = steps; t-- > 0;) {
    Mat dy = ps[t];
    dy(targets[t]) -= 1;  // dL/dy = softmax(y) - onehot(target)
    g.Why += outer(dy, hs[t + 1]);
    g.by += dy;
    Mat dh = dot_t(p.Why, dy) + dhnext;              // from the output and from step t + 1
    Mat dhraw = (1.0 - hs[t + 1] * hs[t + 1]) * dh;  // through tanh
    g.bh += dhraw;
    g.Wxh += outer(dhraw, xs[t]);
    g.Whh += outer(dhraw, hs[t]);
    dhnext = dot_t(p.Whh, dhraw);
  }
  hprev = hs[steps];
  return loss;
}

// The same network in tapegrad: x [T, 1, vocab] (one-hot), h0 [1, 1, hidden] -> logits [T, vocab].
class CharRNN : public nn::ModuleBase<CharRNN, double> {
 public:
  CharRNN(std::size_t vocab, std::size_t hidden)
      : rnn_(nn::RNNOptions(vocab, hidden)), fc_(hidden, vocab) {
    register_module("rnn", rnn_);
    register_module("fc", fc_);
  }
  Var<double> forward(const Var<double>& x, const Var<double>& h0) const {
    Var<double> out = rnn_(x, h0).output;  // [T, 1, hidden]
    return reshape(fc_(out), make_shape({x.size(0), x.size(2)}));
  }

 private:
  nn::RNN<double> rnn_;
  nn::Linear<double> fc_;
};

int run(int argc, char** argv) {
  const std::size_t epochs = tutorial::parse_args(argc, argv, 100).epochs;
  const std::string text =
      "the quick brown fox jumps over the lazy dog. a lazy dog sleeps in the sun while the quick "
      "fox runs over the hill. the dog wakes up and runs after the fox, but the fox is quick and "
      "the dog is lazy. so the dog goes back to the sun and sleeps again.\n";
  std::string chars = text;  // sorted(set(text))
  std::sort(chars.begin(), chars.end());
  chars.erase(std::unique(chars.begin(), chars.end()), chars.end());
  const std::size_t vocab = chars.size(), hidden = 32, seq_length = 25;
  std::printf("numpy_bptt: %zu characters, %zu distinct; hidden %zu, chunks of %zu steps\n",
              text.size(), vocab, hidden, seq_length);

  manual_seed(0);
  CharRNN model(vocab, hidden);
  optim::Adagrad<double> adagrad(model.parameters(), {0.1});  // min-char-rnn's update
  const char* hand_names[] = {"dWxh", "dWhh", "dbh", "dbh", "dWhy", "dby"};
  std::vector<double> max_diff(7, 0.0);  // the loss, then each parameter's gradient
  double smooth_loss = std::log(double(vocab)) * seq_length;
  std::size_t checks = 0;
  const auto start_time = std::chrono::steady_clock::now();
  for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {
    Mat hprev = zeros<double>({hidden});
    for (std::size_t start = 0; start + seq_length < text.size(); start += seq_length) {
      std::vector<Index> inputs, targets;
      for (std::size_t t = start; t < start + seq_length; ++t) {
        inputs.push_back(Index(chars.find(text[t])));
        targets.push_back(Index(chars.find(text[t + 1])));
      }
      // tapegrad: the chunk from the same state, its gradients by backward().
      Mat x = zeros<double>({seq_length, 1, vocab});
      for (std::size_t t = 0; t < seq_length; ++t) x(t, 0, inputs[t]) = 1;
      Var<double> h0 = reshape(constant(hprev), make_shape({1, 1, hidden}));
      adagrad.zero_grad();
      Var<double> loss =
          cross_entropy(model(constant(x), h0), IndexArray(xt::adapt(targets)), {Reduction::sum});
      loss.backward();

      // By hand, from the same weights (bh is the sum of PyTorch's two biases).
      auto w = [&](const char* name) { return model.parameter(name).value(); };
      const Params p{w("rnn.weight_ih_l0"), w("rnn.weight_hh_l0"), w("fc.weight"),
                     w("rnn.bias_ih_l0") + w("rnn.bias_hh_l0"), w("fc.bias")};
      Params g;
      const double hand_loss = loss_fun(p, inputs, targets, hprev, g);
      max_diff[0] = std::max(max_diff[0], std::abs(hand_loss - loss.item()));
      const std::vector<Mat> hand = {g.Wxh, g.Whh, g.bh, g.bh, g.Why, g.by};
      std::vector<Var<double>> params = model.parameters();
      for (std::size_t k = 0; k < hand.size(); ++k) {
        max_diff[k + 1] = std::max(max_diff[k + 1], amax(abs(hand[k] - params[k].grad()))());
        params[k].set_grad(hand[k]);  // the hand-written gradients train the model
      }
      optim::clip_grad_value(params, 5.0);
      adagrad.step();
      smooth_loss = 0.9 * smooth_loss + 0.1 * hand_loss;
      ++checks;
    }
    if (epoch % 10 == 0 || epoch == 1) {
      std::printf("epoch %2zu/%zu  loss per chunk %.3f\n", epoch, epochs, smooth_loss);
    }
  }

  const double tolerance = 1e-12;
  std::printf(
      "%zu steps in %.1f s; hand-written BPTT against tapegrad's backward(), largest\n"
      "difference in any step:\n",
      checks, tutorial::seconds_since(start_time));
  std::printf("  %-32s %.3g\n", "loss", max_diff[0]);
  const auto named = model.named_parameters();
  for (std::size_t k = 0; k < named.size(); ++k) {
    const std::string name = std::string(hand_names[k]) + " vs " + named[k].first + ".grad";
    std::printf("  %-32s %.3g\n", name.c_str(), max_diff[k + 1]);
  }
  const bool ok = *std::max_element(max_diff.begin(), max_diff.end()) <= tolerance;
  std::printf(ok ? "all within %g\n" : "FAILED: a difference exceeds %g\n", tolerance);
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
