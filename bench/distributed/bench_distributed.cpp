// Data-parallel training steps on 1..N processes (bench/run_distributed.sh runs it under
// mpirun): each process trains on its own batch, DataParallel averages the gradients, Adam
// steps. Prints one JSON line (rank 0): the median step, its parts, the throughput of all
// processes together and the bytes each process contributes per step.
//
//   mpirun -np 2 bench_distributed lstm [--steps 20]        LSTM (32, 100, 128, 256) + Linear
//   mpirun -np 2 bench_distributed sentiment [--steps 20]   the sentiment example's model
//   ... [--bucket-kb N]   buckets of N KiB (default DataParallel's 25 MiB: one bucket here)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <tapegrad/distributed.hpp>
#include <tapegrad/tapegrad.hpp>

#include "sentiment.hpp"

namespace {

namespace dist = tapegrad::distributed;
using clock_type = std::chrono::steady_clock;
using tapegrad::Var;

constexpr std::size_t kBatch = 32;

double ms_since(clock_type::time_point t) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// The LSTM of the recurrent benchmarks at (batch 32, T 100, in 128, hidden 256), a linear head
// on the last step, cross-entropy over 10 classes.
class LstmNet : public tapegrad::nn::ModuleBase<LstmNet> {
 public:
  explicit LstmNet(tapegrad::Generator& g)
      : lstm_(tapegrad::nn::RNNOptions(128, 256), g), head_(256, 10, true, g) {
    register_module("lstm", lstm_);
    register_module("head", head_);
  }
  Var<float> forward(const Var<float>& x) const {
    const Var<float> out = lstm_(x).output;
    return head_(tapegrad::select(out, 0, out.size(0) - 1));
  }

 private:
  tapegrad::nn::LSTM<float> lstm_;
  tapegrad::nn::Linear<float> head_;
};

struct Timing {
  std::vector<double> step, compute, wait, update;
};

// Runs `steps` timed steps (after 3 untimed ones) of `loss_of` on this rank.
Timing run(tapegrad::nn::Module<float>& model, dist::DataParallel<float>& ddp,
           const std::function<Var<float>()>& loss_of, std::size_t steps) {
  tapegrad::optim::Adam<float> opt(model.parameters(), {1e-3});
  Timing t;
  for (std::size_t i = 0; i < steps + 3; ++i) {
    const auto start = clock_type::now();
    opt.zero_grad();
    loss_of().backward();  // ends with the wait for the buckets (DataParallel's completion)
    ddp.finish();          // nothing to do after such a backward
    // The completion's wait, at the end of backward; the rest is forward and backward.
    const double wait = ddp.last_step().wait_seconds * 1e3;
    const double compute = ms_since(start) - wait;
    const auto update_start = clock_type::now();
    opt.step();
    const double update = ms_since(update_start);
    if (i < 3) continue;
    t.step.push_back(ms_since(start));
    t.compute.push_back(compute);
    t.wait.push_back(wait);
    t.update.push_back(update);
  }
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  dist::Environment env(argc, argv);
  dist::Communicator comm = env.world();
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_distributed lstm|sentiment [--steps N]\n");
    return 2;
  }
  const std::string which = argv[1];
  std::size_t steps = 20;
  dist::DataParallelOptions options;
  for (int i = 2; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--steps") == 0) steps = std::stoul(argv[i + 1]);
    if (std::strcmp(argv[i], "--bucket-kb") == 0)
      options.bucket_bytes = std::stoul(argv[i + 1]) << 10;
  }
  tapegrad::set_num_threads(1);
  // Each rank its own data; the same model everywhere (DataParallel broadcasts rank 0's).
  tapegrad::Generator data(100 + static_cast<std::uint64_t>(comm.rank()));
  std::unique_ptr<tapegrad::nn::Module<float>> model;
  std::function<Var<float>()> loss_of;
  tapegrad::IndexArray targets = tapegrad::IndexArray::from_shape({kBatch});
  std::size_t time_steps = 0;
  if (which == "lstm") {
    tapegrad::Generator g(1);
    auto net = std::make_unique<LstmNet>(g);
    time_steps = 100;
    const Var<float> x = tapegrad::constant(data.normal<float>({time_steps, kBatch, 128}));
    for (auto& v : targets) v = static_cast<tapegrad::Index>(data.engine()() % 10);
    loss_of = [x, targets, m = net.get()] { return tapegrad::cross_entropy((*m)(x), targets); };
    model = std::move(net);
  } else if (which == "sentiment") {
    sentiment::ModelConfig config;  // the example's defaults: bidirectional GRU 64, embedding 128
    config.vocab_size = 5000;
    auto net = std::make_unique<sentiment::Classifier>(config, 1);
    time_steps = 16;
    tapegrad::IndexArray ids = tapegrad::IndexArray::from_shape({time_steps, kBatch});
    for (auto& v : ids) v = 2 + static_cast<tapegrad::Index>(data.engine()() % 4998);
    for (auto& v : targets) v = static_cast<tapegrad::Index>(data.engine()() % 2);
    const std::vector<std::size_t> lengths(kBatch, time_steps);
    loss_of = [ids, lengths, targets, m = net.get()] {
      return tapegrad::cross_entropy((*m)(ids, lengths), targets);
    };
    model = std::move(net);
  } else {
    std::fprintf(stderr, "bench_distributed: unknown model '%s' (lstm or sentiment)\n",
                 which.c_str());
    return 2;
  }
  dist::DataParallel<float> ddp(*model, comm, options);
  comm.barrier();
  const Timing t = run(*model, ddp, loss_of, steps);
  const dist::StepStats& s = ddp.last_step();
  // Every rank's median step; the slowest sets the pace.
  const double step_ms = median(t.step);
  const double slowest = [&] {
    const auto texts = comm.all_gather(std::to_string(step_ms));
    double worst = 0;
    for (const auto& text : texts) worst = std::max(worst, std::stod(text));
    return worst;
  }();
  if (comm.rank() == 0) {
    const double ranks = comm.size();
    std::printf(
        "{\"model\": \"%s\", \"batch\": %zu, \"time_steps\": %zu, \"ranks\": %d, \"steps\": %zu, "
        "\"bucket_bytes\": %zu, \"step_ms\": %.3f, \"slowest_rank_step_ms\": %.3f, \"compute_ms\": "
        "%.3f, "
        "\"finish_wait_ms\": %.3f, \"optimizer_ms\": %.3f, \"examples_per_s\": %.1f, "
        "\"parameters\": %zu, \"payload_bytes\": %zu, \"ring_bytes_sent\": %.0f, \"buckets\": "
        "%zu, \"started_in_backward\": %zu, \"complete_at_finish\": %zu}\n",
        which.c_str(), kBatch, time_steps, comm.size(), steps, options.bucket_bytes, step_ms,
        slowest, median(t.compute), median(t.wait), median(t.update),
        ranks * kBatch / slowest * 1000.0, model->num_parameters(), s.payload_bytes,
        2.0 * (ranks - 1) / ranks * static_cast<double>(s.payload_bytes), s.buckets,
        s.started_in_backward, s.complete_at_finish);
  }
  return 0;
}
