// tapegrad's side of the recurrent benchmark (bench/run_rnn.sh; rnn_torch.cpp is LibTorch's).
// One configuration per process, so the peak resident memory is that configuration's.
//
// The model: an RNN (tanh), LSTM or GRU of one layer, batch_first = false, input x [T, B, in]
// ~ N(0, 1), then Linear(H, 10) on the last hidden state h_n[-1], cross_entropy against fixed
// random targets in [0, 10). Parameters as PyTorch initialises them (U(-1/sqrt(fan), 1/sqrt(fan)),
// fan = H for the recurrent layer, H for the head).
//   train: zero_grad (drops the gradients), forward, loss, backward, Adam (lr 1e-3) step
//   infer: forward and head under tapegrad::NoGrad (nothing recorded)
// Prints one JSON line (rnn_common.hpp) plus: tape_bytes (tapegrad::tape<float>().bytes()
// right before backward), graph_heap_bytes (malloc bytes in use right before backward minus
// right before the forward), base_rss_kb (before the first step) and peak_rss_kb.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "rnn_common.hpp"
#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/nn_ops.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace {

using tapegrad::Var;
namespace nn = tapegrad::nn;

constexpr std::size_t kClasses = 10;

nn::CellKind cell_kind(const std::string& cell) {
  if (cell == "lstm") return nn::CellKind::lstm;
  if (cell == "gru") return nn::CellKind::gru;
  return nn::CellKind::rnn_tanh;
}

}  // namespace

int main(int argc, char** argv) {
  const rnn_bench::Config c = rnn_bench::parse_args(argc, argv);
  const auto batch = static_cast<std::size_t>(c.batch), seq = static_cast<std::size_t>(c.seq);
  const auto input = static_cast<std::size_t>(c.input), hidden = static_cast<std::size_t>(c.hidden);
  if (c.flush_denormals) rnn_bench::set_flush_denormals();
  // TAPEGRAD_BENCH_IEEE_BACKWARD=1: backward keeps subnormals (tapegrad flushes them by default).
  const char* ieee = std::getenv("TAPEGRAD_BENCH_IEEE_BACKWARD");
  if (ieee != nullptr && std::string(ieee) == "1") tapegrad::set_flush_denormals(false);
  tapegrad::set_num_threads(c.threads);
  // TAPEGRAD_BENCH_COMPOSED=1: the composed ops of the equations instead of the fused steps.
  const char* composed = std::getenv("TAPEGRAD_BENCH_COMPOSED");
  const bool fused = composed == nullptr || std::string(composed) != "1";
  // TAPEGRAD_BENCH_GEMM=onednn|openblas: every float GEMM on that library (tapegrad::
  // set_gemm_backend) instead of the automatic choice, for A/B measurements of the choice.
  const char* gemm = std::getenv("TAPEGRAD_BENCH_GEMM");
  if (gemm != nullptr && std::string(gemm) == "onednn") {
    tapegrad::set_gemm_backend(tapegrad::GemmBackend::onednn);
  } else if (gemm != nullptr && std::string(gemm) == "openblas") {
    tapegrad::set_gemm_backend(tapegrad::GemmBackend::openblas);
  } else if (gemm != nullptr && std::string(gemm) != "automatic") {
    std::fprintf(stderr, "TAPEGRAD_BENCH_GEMM=%s: expected onednn, openblas or automatic\n", gemm);
    return 2;
  }

  tapegrad::Generator gen(c.seed);
  const std::shared_ptr<nn::RNNBase<float>> layer =
      nn::make_recurrent<float>(cell_kind(c.cell), nn::RNNOptions(input, hidden).fused(fused), gen);
  const nn::RNNBase<float>& rnn = *layer;
  nn::Linear<float> head(hidden, kClasses, true, gen);
  std::vector<Var<float>> params = rnn.parameters();
  for (const auto& p : head.parameters()) params.push_back(p);
  tapegrad::optim::AdamOptions adam_options;
  adam_options.lr = 1e-3;
  tapegrad::optim::Adam<float> adam(params, adam_options);

  const Var<float> x =
      tapegrad::constant(gen.normal<float>(tapegrad::make_shape({seq, batch, input})));
  tapegrad::IndexArray targets = tapegrad::IndexArray::from_shape({batch});
  std::uniform_int_distribution<tapegrad::Index> label(0, kClasses - 1);
  for (auto& t : targets) t = label(gen.engine());

  // logits [B, 10] from h_n[-1] (h_n is [1, B, H]: one layer, one direction)
  auto logits = [&]() {
    const nn::RecurrentOutput<float> out = rnn(x);
    return head(tapegrad::select(out.h_n, 0, out.h_n.shape()[0] - 1));
  };

  bool probe = false;  // the first step also measures memory
  std::int64_t tape_bytes = 0, heap_before = 0, graph_heap = 0;
  double checksum = 0.0;
  auto train_step = [&]() {
    adam.zero_grad();
    if (probe) heap_before = rnn_bench::heap_in_use();
    const Var<float> loss = tapegrad::cross_entropy(logits(), targets);
    if (probe) {
      tape_bytes = static_cast<std::int64_t>(tapegrad::tape<float>().bytes());
      graph_heap = rnn_bench::heap_in_use() - heap_before;
    }
    loss.backward();
    adam.step();
    checksum = loss.item();
  };
  auto infer_step = [&]() {
    tapegrad::NoGrad no_grad;
    if (probe) heap_before = rnn_bench::heap_in_use();
    const Var<float> y = logits();
    if (probe) {
      tape_bytes = static_cast<std::int64_t>(tapegrad::tape<float>().bytes());
      graph_heap = rnn_bench::heap_in_use() - heap_before;
    }
    checksum = y.value()(0, 0);
  };
  rnn_bench::JsonLine j = rnn_bench::measure("tapegrad", c, train_step, infer_step, probe);
  j.add("tape_bytes", tape_bytes)
      .add("graph_heap_bytes", graph_heap)
      .add("blas", tapegrad::blas_info())
      .add("blas_threads", tapegrad::num_threads())
      .add("checksum", checksum);
  std::printf("%s\n", j.str().c_str());
  return 0;
}
