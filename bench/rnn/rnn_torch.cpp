// LibTorch's side of the recurrent benchmark: the same work as rnn_tapegrad.cpp, with
// torch::nn::RNN (tanh) / LSTM / GRU (one layer, batch_first = false, x [T, B, in] ~ N(0, 1)),
// Linear(H, 10) on h_n[-1], cross_entropy against fixed random targets in [0, 10), and
// torch::optim::Adam (lr 1e-3). LibTorch's default initialisation is the same distribution as
// tapegrad's (U(-1/sqrt(H), 1/sqrt(H)) for the recurrent layer, U(-1/sqrt(in), 1/sqrt(in)) for
// the head).
//   train: every gradient reset to undefined (tapegrad's zero_grad drops gradients too, like
//          PyTorch's zero_grad(set_to_none=True)), forward, loss, backward, Adam step
//   infer: forward and head under torch::InferenceMode
//
// Threads: torch::set_num_threads(n) sets LibTorch's OpenMP workers only; the GEMMs run in
// OpenBLAS (Debian's LibTorch calls sgemm_ through libblas.so.3, which is OpenBLAS here), whose
// threads are set with openblas_set_num_threads(n). OMP_WAIT_POLICY comes from the environment.
//
// Prints the JSON line of rnn_common.hpp plus: graph_heap_bytes (malloc bytes in use right
// before backward minus right before the forward: what the autograd graph and the forward's
// values hold), base_rss_kb, peak_rss_kb, the BLAS core and the thread counts in use.
#include <torch/torch.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "../openblas_api.hpp"
#include "rnn_common.hpp"

namespace {

constexpr std::int64_t kClasses = 10;

// The recurrent layer behind one interface: x [T, B, in] -> h_n[-1] [B, H].
struct Recurrent {
  torch::nn::RNN rnn{nullptr};
  torch::nn::LSTM lstm{nullptr};
  torch::nn::GRU gru{nullptr};

  Recurrent(const std::string& cell, std::int64_t input, std::int64_t hidden) {
    if (cell == "lstm") {
      lstm = torch::nn::LSTM(torch::nn::LSTMOptions(input, hidden));
    } else if (cell == "gru") {
      gru = torch::nn::GRU(torch::nn::GRUOptions(input, hidden));
    } else {
      rnn = torch::nn::RNN(torch::nn::RNNOptions(input, hidden).nonlinearity(torch::kTanh));
    }
  }
  std::vector<torch::Tensor> parameters() const {
    if (lstm) return lstm->parameters();
    if (gru) return gru->parameters();
    return rnn->parameters();
  }
  torch::Tensor last_hidden(const torch::Tensor& x) {
    torch::Tensor h_n;  // [1, B, H]
    if (lstm) {
      h_n = std::get<0>(std::get<1>(lstm->forward(x)));
    } else if (gru) {
      h_n = std::get<1>(gru->forward(x));
    } else {
      h_n = std::get<1>(rnn->forward(x));
    }
    return h_n.select(0, h_n.size(0) - 1);
  }
};

}  // namespace

int main(int argc, char** argv) {
  const rnn_bench::Config c = rnn_bench::parse_args(argc, argv);
  if (c.flush_denormals) rnn_bench::set_flush_denormals();
  torch::set_num_threads(c.threads);
  openblas_set_num_threads(c.threads);
  torch::manual_seed(c.seed);

  Recurrent rnn(c.cell, c.input, c.hidden);
  torch::nn::Linear head(c.hidden, kClasses);
  std::vector<torch::Tensor> params = rnn.parameters();
  for (const auto& p : head->parameters()) params.push_back(p);
  torch::optim::Adam adam(params, torch::optim::AdamOptions(1e-3));

  const torch::Tensor x = torch::randn({c.seq, c.batch, c.input});
  const torch::Tensor targets = torch::randint(0, kClasses, {c.batch}, torch::kLong);

  bool probe = false;  // the first step also measures memory
  std::int64_t heap_before = 0, graph_heap = 0;
  double checksum = 0.0;
  auto train_step = [&]() {
    for (auto& p : params) p.mutable_grad() = torch::Tensor();
    if (probe) heap_before = rnn_bench::heap_in_use();
    const torch::Tensor loss =
        torch::nn::functional::cross_entropy(head->forward(rnn.last_hidden(x)), targets);
    if (probe) graph_heap = rnn_bench::heap_in_use() - heap_before;
    loss.backward();
    adam.step();
    checksum = loss.item<double>();
  };
  auto infer_step = [&]() {
    torch::InferenceMode guard;
    if (probe) heap_before = rnn_bench::heap_in_use();
    const torch::Tensor y = head->forward(rnn.last_hidden(x));
    if (probe) graph_heap = rnn_bench::heap_in_use() - heap_before;
    checksum = y[0][0].item<double>();
  };
  rnn_bench::JsonLine j = rnn_bench::measure("libtorch", c, train_step, infer_step, probe);
  j.add("graph_heap_bytes", graph_heap)
      .add("blas", std::string(openblas_get_config()) + " core " + openblas_get_corename())
      .add("blas_threads", openblas_get_num_threads())
      .add("torch_threads", torch::get_num_threads())
      .add("torch_version", TORCH_VERSION)
      .add("checksum", checksum);
  std::printf("%s\n", j.str().c_str());
  return 0;
}
