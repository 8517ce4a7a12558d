// Reliability: training in two threads at once equals training one after the other; a
// 10,000-step sequence trains with truncated BPTT in bounded memory; a process killed while it
// saves checkpoints always leaves a loadable one.
#include <doctest/doctest.h>

#include <cmath>
#include <exception>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <csignal>
#include <random>

#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace {

namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::Array;
using tapegrad::Var;

// An LSTM regressor trained for a few Adam steps on seeded data; returns the losses and the
// final parameters. Everything it uses is its own: generator, model, optimizer, tape.
struct Run {
  std::vector<float> losses;
  nn::StateDict<float> parameters;
  std::string error;
};

class Regressor : public nn::Module<float> {
 public:
  explicit Regressor(tapegrad::Generator& gen)
      : rnn_(nn::RNNOptions(3, 8), gen), head_(8, 1, true, gen) {
    register_module("rnn", rnn_);
    register_module("head", head_);
  }
  Var<float> forward(const Var<float>& x) const {
    return head_(tapegrad::select(rnn_(x).h_n, 0, 0));
  }

 private:
  nn::LSTM<float> rnn_;
  nn::Linear<float> head_;
};

Run train_model(std::uint64_t seed) {
  Run run;
  try {
    tapegrad::Generator gen(seed);
    Regressor model(gen);
    optim::Adam<float> adam(model.parameters(), {0.01});
    const Array<float> x = gen.normal<float>(tapegrad::make_shape({12, 16, 3}));
    const Array<float> y = gen.normal<float>(tapegrad::make_shape({16, 1}));
    for (int step = 0; step < 30; ++step) {
      adam.zero_grad();
      Var<float> loss =
          tapegrad::mse_loss(model.forward(tapegrad::constant(x)), tapegrad::constant(y));
      run.losses.push_back(loss.item());
      loss.backward();
      adam.step();
    }
    run.parameters = model.state_dict();
  } catch (const std::exception& e) {
    run.error = e.what();
  }
  return run;
}

void check_same(const Run& a, const Run& b) {
  CHECK_MESSAGE(a.error.empty(), a.error);
  CHECK_MESSAGE(b.error.empty(), b.error);
  CHECK(a.losses == b.losses);
  REQUIRE(a.parameters.size() == b.parameters.size());
  for (std::size_t i = 0; i < a.parameters.size(); ++i) {
    CAPTURE(a.parameters[i].first);
    CHECK(a.parameters[i].second == b.parameters[i].second);
  }
}

}  // namespace

TEST_CASE("two models trained in two threads at once equal the same models trained in turn") {
  const Run first_alone = train_model(1);
  const Run second_alone = train_model(2);
  Run first_threaded, second_threaded;
  std::thread t1([&] { first_threaded = train_model(1); });
  std::thread t2([&] { second_threaded = train_model(2); });
  t1.join();
  t2.join();
  check_same(first_alone, first_threaded);  // bit for bit
  check_same(second_alone, second_threaded);
  CHECK(first_alone.losses.back() < first_alone.losses.front());
  CHECK(first_alone.losses != second_alone.losses);
}

namespace {

// The process's resident memory in bytes (Linux: /proc/self/statm).
std::size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

}  // namespace

TEST_CASE("a 10000-step sequence trains with truncated BPTT in bounded memory") {
  // A GRU reads one long noisy sine, 100 chunks of 100 steps, carrying its state across chunks
  // but detached: the tape of every chunk has the same entries and bytes, the allocator's
  // cache does not grow after the first chunks, and neither does resident memory.
  const std::size_t total = 10000, chunk = 100, batch = 2;
  tapegrad::Generator gen(7);
  nn::GRU<float> rnn(nn::RNNOptions(1, 16), gen);
  nn::Linear<float> head(16, 1, true, gen);
  std::vector<Var<float>> params = rnn.parameters();
  for (const Var<float>& p : head.parameters()) params.push_back(p);
  optim::Adam<float> adam(params, {0.01});

  Array<float> series = Array<float>::from_shape({total + 1, batch, 1});
  const Array<float> noise = gen.normal<float>(tapegrad::make_shape({total + 1, batch, 1}));
  for (std::size_t t = 0; t <= total; ++t) {
    for (std::size_t b = 0; b < batch; ++b) {
      series(t, b, 0) =
          std::sin(0.07f * static_cast<float>(t) + static_cast<float>(b)) + 0.1f * noise(t, b, 0);
    }
  }
  auto& tape = tapegrad::tape<float>();
  tape.clear();
  Var<float> h;  // carried across chunks, detached
  std::vector<std::size_t> entries, bytes, cached, resident;
  std::vector<float> losses;
  for (std::size_t start = 0; start < total; start += chunk) {
    Array<float> x = Array<float>::from_shape({chunk, batch, 1});
    Array<float> y = Array<float>::from_shape({chunk, batch, 1});
    for (std::size_t t = 0; t < chunk; ++t) {
      for (std::size_t b = 0; b < batch; ++b) {
        x(t, b, 0) = series(start + t, b, 0);
        y(t, b, 0) = series(start + t + 1, b, 0);
      }
    }
    adam.zero_grad();
    const nn::RecurrentOutput<float> out = rnn(tapegrad::constant(x), {h, {}});
    Var<float> loss = tapegrad::mse_loss(head(out.output), tapegrad::constant(y));
    entries.push_back(tape.size());
    bytes.push_back(tape.bytes());
    losses.push_back(loss.item());
    loss.backward();
    adam.step();
    h = out.h_n.detach();
    CHECK(tape.size() == 0);  // freed by backward: nothing of this chunk is kept
    cached.push_back(tapegrad::cached_bytes());
    resident.push_back(resident_bytes());
  }
  REQUIRE(entries.size() == total / chunk);
  for (std::size_t i = 1; i < entries.size(); ++i) {
    CAPTURE(i);
    CHECK(entries[i] == entries[1]);  // chunk 0 starts from no state: fewer ops
    CHECK(bytes[i] == bytes[1]);
  }
  CHECK(bytes[1] > 0);
  for (std::size_t i = 3; i < cached.size(); ++i) CHECK(cached[i] <= cached[2]);
  // Resident memory from chunk 10 to the end (90 chunks, 9,000 steps): flat within 256 KiB.
  // AddressSanitizer keeps freed memory in quarantine, so there the leak check is LeakSanitizer's.
  MESSAGE("resident memory after chunk 10: ", resident[10] / 1024,
          " KiB, after chunk 100: ", resident.back() / 1024, " KiB");
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(resident.back() <= resident[10] + 256 * 1024);
#endif
  // It learns: the last chunks predict the next value better than the first ones.
  const float first = (losses[0] + losses[1] + losses[2]) / 3;
  const float last = (losses[97] + losses[98] + losses[99]) / 3;
  CHECK(last < 0.5f * first);
}

TEST_CASE("a process killed at random moments while saving leaves a loadable checkpoint") {
  // A child saves checkpoints of a 1M-parameter model (4 MB) in a loop, save n with epoch n and
  // its first weight n (the others 0.5); the parent kills it (SIGKILL) at a random moment, 25
  // times. After each kill the file must load and hold one whole save: the first weight equal
  // to the epoch, every other weight 0.5, never a torn file. (A kill in the middle of a save
  // leaves its temporary file behind, never a broken checkpoint.)
  tapegrad_test::TempDir dir;
  const std::string path = dir.file("checkpoint.npz");
  nn::Linear<float> model(1000, 1000);
  optim::SGD<float> sgd(model.parameters(), {0.1});
  std::mt19937 rng(3);
  std::uniform_int_distribution<int> delay_us(2000, 40000);
  int loaded = 0;
  for (int trial = 0; trial < 25; ++trial) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Saving is nearly all the loop does: one weight changes per save.
      Var<float> weight = model.weight();
      for (Var<float> p : model.parameters()) {
        for (float& w : p.mutable_value()) w = 0.5f;
      }
      for (int n = 1;; ++n) {
        weight.mutable_value()(0, 0) = static_cast<float>(trial * 1000 + n);
        optim::TrainingState<float> state;
        state.model = &model;
        state.optimizer = &sgd;
        state.epoch = trial * 1000 + n;
        optim::save_checkpoint(path, state);
      }
    }
    // The first trial waits for a first complete save; then the kill lands anywhere.
    for (int waited = 0; waited < 10000 && !std::filesystem::exists(path); ++waited) ::usleep(1000);
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    REQUIRE(std::filesystem::exists(path));
    nn::Linear<float> restored(1000, 1000);
    optim::SGD<float> restored_sgd(restored.parameters(), {0.1});
    optim::TrainingState<float> state;
    state.model = &restored;
    state.optimizer = &restored_sgd;
    CAPTURE(trial);
    REQUIRE_NOTHROW(optim::load_checkpoint(path, state));
    CHECK(restored.weight().value()(0, 0) == static_cast<float>(state.epoch));
    std::size_t others = 0;
    for (const Var<float>& p : restored.parameters()) {
      for (float w : p.value()) others += w == 0.5f;
    }
    CHECK(others == restored.num_parameters() - 1);
    ++loaded;
  }
  CHECK(loaded == 25);
  // Kills that landed while a file was being written leave its temporary file behind (how
  // many depends on the file system: on tmpfs writing is a small part of a save).
  std::size_t interrupted = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path)) {
    interrupted += entry.path().filename().string().find(".tmp-") != std::string::npos;
  }
  MESSAGE("kills that landed while the file was written: ", interrupted, " of 25");
}
