// A training run whose last rank fails on purpose at step 3, for faults.sh (ctest -L
// distributed): `faults hang DIR` (it sleeps far past the timeout), `faults exit DIR` (it is
// killed by SIGKILL). Rank 0 saves a training checkpoint to DIR/checkpoint.npz after step 2.
// The other ranks must stop within the timeout (2 s here) with an error naming the rank.
// `faults verify DIR`, one process without MPI: loads the checkpoint, prints its epoch, and
// checks its parameters are rank 0's after 2 steps.
#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>

#include "tapegrad/distributed.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace {

namespace dist = tapegrad::distributed;
using tapegrad::Array;

constexpr int kFailAt = 3;

std::string checkpoint_path(const std::string& dir) {
  return dir + "/checkpoint.npz";
}

int verify(const std::string& dir) {
  tapegrad::Generator g(1);
  tapegrad::nn::Linear<double> model(3, 2, true, g);
  tapegrad::optim::SGD<double> opt(model.parameters(), {0.1});
  tapegrad::optim::TrainingState<double> state;
  state.model = &model;
  state.optimizer = &opt;
  tapegrad::optim::load_checkpoint(checkpoint_path(dir), state);
  std::printf("checkpoint of step %lld loaded\n", static_cast<long long>(state.epoch));
  return state.epoch == 2 ? 0 : 1;
}

int train(const std::string& mode, const std::string& dir, int& argc, char**& argv) {
  dist::Environment env(argc, argv);
  dist::Communicator comm = dist::Communicator::world();
  comm.set_timeout(std::chrono::milliseconds(2000));
  tapegrad::Generator g(1);
  tapegrad::nn::Linear<double> model(3, 2, true, g);
  dist::DataParallel<double> ddp(model, comm);
  tapegrad::optim::SGD<double> opt(model.parameters(), {0.1});
  const auto x = tapegrad::constant(Array<double>({{1.0, 2.0, static_cast<double>(comm.rank())}}));
  try {
    for (int step = 1; step <= 5; ++step) {
      if (step == kFailAt && comm.rank() == comm.size() - 1) {
        std::printf("rank %d: failing (%s) at step %d\n", comm.rank(), mode.c_str(), step);
        std::fflush(stdout);
        if (mode == "exit") std::raise(SIGKILL);
        std::this_thread::sleep_for(std::chrono::seconds(60));
      }
      opt.zero_grad();
      tapegrad::sum(model(x)).backward();
      ddp.finish();
      opt.step();
      if (comm.rank() == 0 && step == 2) {
        tapegrad::optim::TrainingState<double> state;
        state.model = &model;
        state.optimizer = &opt;
        state.epoch = step;
        tapegrad::optim::save_checkpoint(checkpoint_path(dir), state);
      }
    }
  } catch (const tapegrad::communication_error& e) {
    std::printf("rank %d caught: %s\n", comm.rank(), e.what());
    std::fflush(stdout);
    return 3;  // the Environment aborts the job
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: faults hang|exit|verify DIR\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string dir = argv[2];
  try {
    if (mode == "verify") return verify(dir);
    return train(mode, dir, argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "faults: %s\n", e.what());
    return 1;
  }
}
