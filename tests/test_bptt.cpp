// Backpropagation through time for the Elman RNN, derived by hand (docs/bptt.md) and computed
// here with plain loops, against what the tape computes for nn::RNN.
//
//   a_t = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh,   h_t = tanh(a_t),   L = sum_t <R_t, h_t>
//   dh_t = R_t + da_{t+1} W_hh          (dh_T = R_T)
//   da_t = dh_t * (1 - h_t^2)
//   dW_ih = sum_t da_t^T x_t,  dW_hh = sum_t da_t^T h_{t-1},  db_ih = db_hh = sum_t sum_rows da_t
//   dx_t = da_t W_ih,          dh_0 = da_1 W_hh
#include <vector>

#include "helpers.hpp"
#include "tapegrad/nn.hpp"

namespace nn = tapegrad::nn;
using tapegrad::Array;

namespace {

using Matrix = std::vector<std::vector<double>>;  // [rows][cols]

Matrix zeros(std::size_t r, std::size_t c) {
  return Matrix(r, std::vector<double>(c, 0.0));
}

// Row t, batch b of a [T, B, n] array.
double at(const Array<double>& a, std::size_t t, std::size_t b, std::size_t j) {
  return a(t, b, j);
}

}  // namespace

TEST_CASE("hand-derived BPTT of an Elman RNN equals the tape's gradients") {
  const std::size_t steps = 5, batch = 2, in = 3, hidden = 4;
  tapegrad::Generator gen(17);
  nn::RNN<double> rnn(nn::RNNOptions(in, hidden), gen);
  const Array<double> x = gen.normal<double>(tapegrad::make_shape({steps, batch, in}));
  const Array<double> h0 = gen.normal<double>(tapegrad::make_shape({1, batch, hidden}), 0.0, 0.5);
  const Array<double> r = gen.normal<double>(tapegrad::make_shape({steps, batch, hidden}));
  const Array<double>& w_ih = rnn.parameter("weight_ih_l0").value();
  const Array<double>& w_hh = rnn.parameter("weight_hh_l0").value();
  const Array<double>& b_ih = rnn.parameter("bias_ih_l0").value();
  const Array<double>& b_hh = rnn.parameter("bias_hh_l0").value();

  // Forward by hand: h[t + 1] is h_t (h[0] = h_0).
  std::vector<Matrix> h(steps + 1, zeros(batch, hidden));
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t j = 0; j < hidden; ++j) h[0][b][j] = h0(0, b, j);
  }
  for (std::size_t t = 0; t < steps; ++t) {
    for (std::size_t b = 0; b < batch; ++b) {
      for (std::size_t j = 0; j < hidden; ++j) {
        double a = b_ih(j) + b_hh(j);
        for (std::size_t k = 0; k < in; ++k) a += at(x, t, b, k) * w_ih(j, k);
        for (std::size_t k = 0; k < hidden; ++k) a += h[t][b][k] * w_hh(j, k);
        h[t + 1][b][j] = std::tanh(a);
      }
    }
  }
  // Backward by hand, from the last step to the first.
  Matrix dw_ih = zeros(hidden, in), dw_hh = zeros(hidden, hidden);
  std::vector<double> db(hidden, 0.0);
  Array<double> dx = Array<double>::from_shape({steps, batch, in});
  dx.fill(0.0);
  Matrix da_next = zeros(batch, hidden);  // da_{t+1}
  for (std::size_t t = steps; t-- > 0;) {
    Matrix da = zeros(batch, hidden);
    for (std::size_t b = 0; b < batch; ++b) {
      for (std::size_t j = 0; j < hidden; ++j) {
        double dh = r(t, b, j);  // dL/dh_t from the loss at step t
        if (t + 1 < steps) {
          for (std::size_t k = 0; k < hidden; ++k)
            dh += da_next[b][k] * w_hh(k, j);  // through h_{t+1}
        }
        const double ht = h[t + 1][b][j];
        da[b][j] = dh * (1.0 - ht * ht);
      }
    }
    for (std::size_t b = 0; b < batch; ++b) {
      for (std::size_t j = 0; j < hidden; ++j) {
        for (std::size_t k = 0; k < in; ++k) dw_ih[j][k] += da[b][j] * at(x, t, b, k);
        for (std::size_t k = 0; k < hidden; ++k) dw_hh[j][k] += da[b][j] * h[t][b][k];
        db[j] += da[b][j];
        for (std::size_t k = 0; k < in; ++k) dx(t, b, k) += da[b][j] * w_ih(j, k);
      }
    }
    da_next = da;
  }
  Matrix dh0 = zeros(batch, hidden);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t j = 0; j < hidden; ++j) {
      for (std::size_t k = 0; k < hidden; ++k) dh0[b][k] += da_next[b][j] * w_hh(j, k);
    }
  }

  // The tape.
  const tapegrad::Var<double> xv(x, true), h0v(h0, true);
  const auto out = rnn(xv, {h0v, {}});
  tapegrad::sum(out.output * tapegrad::constant(r)).backward();

  for (std::size_t t = 0; t < steps; ++t) {
    for (std::size_t b = 0; b < batch; ++b) {
      for (std::size_t j = 0; j < hidden; ++j) {
        CHECK(std::abs(out.output.value()(t, b, j) - h[t + 1][b][j]) < 1e-12);
      }
    }
  }
  const auto& gw_ih = rnn.parameter("weight_ih_l0").grad();
  const auto& gw_hh = rnn.parameter("weight_hh_l0").grad();
  for (std::size_t j = 0; j < hidden; ++j) {
    for (std::size_t k = 0; k < in; ++k) CHECK(std::abs(gw_ih(j, k) - dw_ih[j][k]) < 1e-12);
    for (std::size_t k = 0; k < hidden; ++k) CHECK(std::abs(gw_hh(j, k) - dw_hh[j][k]) < 1e-12);
    CHECK(std::abs(rnn.parameter("bias_ih_l0").grad()(j) - db[j]) < 1e-12);
    CHECK(std::abs(rnn.parameter("bias_hh_l0").grad()(j) - db[j]) < 1e-12);
  }
  TG_CHECK_CLOSE(xv.grad(), dx, 1e-12);
  for (std::size_t b = 0; b < batch; ++b) {
    for (std::size_t j = 0; j < hidden; ++j)
      CHECK(std::abs(h0v.grad()(0, b, j) - dh0[b][j]) < 1e-12);
  }
}

TEST_CASE("a LeafGradHook sees each recurrent weight's final gradient, outer products added") {
  // The fused cells return the weight gradients of W_hh as outer products that the engine
  // gathers until a leaf is settled: the hook must see them added.
  for (const nn::CellKind kind : {nn::CellKind::rnn_tanh, nn::CellKind::lstm, nn::CellKind::gru}) {
    CAPTURE(nn::to_string(kind));
    tapegrad::Generator g(4);
    const auto layer = nn::make_recurrent<double>(kind, nn::RNNOptions(3, 5).num_layers(2), g);
    const tapegrad::Var<double> x = tapegrad::constant(g.normal<double>({6, 2, 3}));
    std::vector<std::pair<std::string, Array<double>>> seen;
    {
      const tapegrad::LeafGradHook<double> hook([&](const tapegrad::Var<double>& leaf) {
        REQUIRE(leaf.has_grad());
        seen.emplace_back(leaf.name(), leaf.grad());
      });
      tapegrad::sum(tapegrad::tanh((*layer)(x).output)).backward();
    }
    const auto params = layer->named_parameters();
    REQUIRE(seen.size() == params.size());
    // Reported from the last layer to the first.
    CHECK(seen.front().first.find("_l1") != std::string::npos);
    CHECK(seen.back().first.find("_l0") != std::string::npos);
    for (const auto& [name, grad] : seen) {
      CAPTURE(name);
      CHECK(grad == layer->parameter(name).grad());
    }
  }
}
