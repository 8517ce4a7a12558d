// tapegrad::distributed on 2 and 3 processes (mpirun, tests/CMakeLists.txt): the communicator,
// the parameters' check and broadcast, DataParallel against one process trained on the union
// of the ranks' batches (float within 1e-6, double bit for bit with Reduction::ordered), the
// buckets and their overlap with backward, and DistributedSampler.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tapegrad/distributed.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace {

namespace dist = tapegrad::distributed;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::Array;
using tapegrad::Generator;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::Var;
using tapegrad_test::message_of;

constexpr std::size_t kSteps = 4;
constexpr std::size_t kTime = 5;
constexpr std::size_t kBatch = 3;  // per rank
constexpr std::size_t kVocab = 11;
constexpr std::size_t kClasses = 3;

dist::Communicator& comm() {
  static dist::Communicator c = [] {
    dist::Communicator w = dist::Communicator::world();
    w.set_timeout(std::chrono::milliseconds(20000));  // ctest's TIMEOUT is longer
    return w;
  }();
  return c;
}

// Every kind of layer: Embedding -> LSTM -> GRU -> RNN -> Linear, and a Linear `side` that only
// some shards' losses use (a parameter with no gradient on some ranks, or on all).
template <class T>
class Net : public nn::ModuleBase<Net<T>, T> {
 public:
  explicit Net(Generator& g)
      : emb_(kVocab, 4, -1, g),
        lstm_(nn::RNNOptions(4, 6), g),
        gru_(nn::RNNOptions(6, 5), g),
        rnn_(nn::RNNOptions(5, 4), g),
        head_(4, kClasses, true, g),
        side_(4, kClasses, true, g) {
    this->register_module("emb", emb_);
    this->register_module("lstm", lstm_);
    this->register_module("gru", gru_);
    this->register_module("rnn", rnn_);
    this->register_module("head", head_);
    this->register_module("side", side_);
  }
  Var<T> forward(const IndexArray& ids, bool use_side) const {
    const auto lengths = std::vector<std::size_t>(ids.shape()[1], kTime);
    Var<T> h = lstm_(emb_(ids), lengths).output;
    h = gru_(h, lengths).output;
    h = tapegrad::select(rnn_(h, lengths).output, 0, kTime - 1);
    Var<T> logits = head_(h);
    if (use_side) logits = logits + side_(h);
    return logits;
  }

 private:
  nn::Embedding<T> emb_;
  nn::LSTM<T> lstm_;
  nn::GRU<T> gru_;
  nn::RNN<T> rnn_;
  nn::Linear<T> head_;
  nn::Linear<T> side_;
};

// The union batch of a step: ids [T, ranks * kBatch] and targets, the same on every rank.
struct Union {
  IndexArray ids;
  IndexArray targets;
};

Union union_batch(std::size_t step, std::size_t ranks) {
  Generator g(1000 + step);
  const std::size_t n = ranks * kBatch;
  Union u{IndexArray::from_shape({kTime, n}), IndexArray::from_shape({n})};
  for (auto& v : u.ids) v = static_cast<Index>(g.engine()() % kVocab);
  for (auto& v : u.targets) v = static_cast<Index>(g.engine()() % kClasses);
  return u;
}

// Shard `r` of a union batch: its columns r * kBatch ... (r + 1) * kBatch - 1.
Union shard(const Union& u, std::size_t r) {
  Union s{IndexArray::from_shape({kTime, kBatch}), IndexArray::from_shape({kBatch})};
  for (std::size_t b = 0; b < kBatch; ++b) {
    for (std::size_t t = 0; t < kTime; ++t) s.ids(t, b) = u.ids(t, r * kBatch + b);
    s.targets(b) = u.targets(r * kBatch + b);
  }
  return s;
}

// Which shards use `side`: only shard 0 on even steps, no shard on steps 1 and 3 mod 4... so
// a parameter unused on some ranks, and on every rank.
bool side_used(std::size_t step, std::size_t shard_index) {
  return step % 2 == 0 && shard_index == 0;
}

template <class T>
using MakeOptimizer = std::function<std::unique_ptr<optim::Optimizer<T>>(std::vector<Var<T>>)>;

template <class T>
std::vector<std::pair<std::string, MakeOptimizer<T>>> optimizers() {
  return {
      {"SGD",
       [](std::vector<Var<T>> p) {
         return std::make_unique<optim::SGD<T>>(std::move(p), optim::SGDOptions{0.1, 0.9});
       }},
      {"Adam",
       [](std::vector<Var<T>> p) {
         return std::make_unique<optim::Adam<T>>(std::move(p), optim::AdamOptions{0.01});
       }},
      {"AdamW",
       [](std::vector<Var<T>> p) {
         optim::AdamWOptions o;
         o.lr = 0.01;
         return std::make_unique<optim::AdamW<T>>(std::move(p), o);
       }},
      {"RMSprop",
       [](std::vector<Var<T>> p) {
         return std::make_unique<optim::RMSprop<T>>(std::move(p), optim::RMSpropOptions{0.01});
       }},
      {"Adagrad",
       [](std::vector<Var<T>> p) {
         return std::make_unique<optim::Adagrad<T>>(std::move(p), optim::AdagradOptions{0.1});
       }},
  };
}

// Rank 0's values of every parameter, the same on every rank afterwards (for comparisons).
template <class T>
std::vector<std::vector<double>> values_of(const nn::Module<T>& m) {
  std::vector<std::vector<double>> out;
  for (const auto& p : m.parameters()) out.emplace_back(p.value().begin(), p.value().end());
  return out;
}

// One step of `model` with DataParallel on this rank's shard of step `step`'s union batch:
// backward, the exchange, clipping, the optimizer.
template <class T>
void step_ddp(Net<T>& model, dist::DataParallel<T>& ddp, optim::Optimizer<T>& opt,
              std::size_t step) {
  const auto me = static_cast<std::size_t>(comm().rank());
  const Union u = union_batch(step, static_cast<std::size_t>(comm().size()));
  opt.zero_grad();
  const Union mine = shard(u, me);
  tapegrad::cross_entropy(model(mine.ids, side_used(step, me)), mine.targets).backward();
  ddp.finish();
  optim::clip_grad_norm(model.parameters(), 1.0);
  opt.step();
}

// The same step in this one process on every shard: each shard's gradient added in rank order,
// as the ordered reduction adds them ((g_0 + g_1) + g_2, zeros for a shard that gives none),
// divided by the number of ranks; a parameter no shard gives a gradient keeps none.
template <class T>
void step_reference(Net<T>& reference, optim::Optimizer<T>& opt, std::size_t step) {
  const auto ranks = static_cast<std::size_t>(comm().size());
  const Union u = union_batch(step, ranks);
  auto params = reference.parameters();
  std::vector<Array<T>> total;
  std::vector<bool> got(params.size(), false);
  for (std::size_t r = 0; r < ranks; ++r) {
    opt.zero_grad();
    const Union s = shard(u, r);
    tapegrad::cross_entropy(reference(s.ids, side_used(step, r)), s.targets).backward();
    for (std::size_t k = 0; k < params.size(); ++k) {
      const Var<T>& p = params[k];
      Array<T> g = p.has_grad() ? p.grad() : Array<T>(tapegrad::zeros<T>(p.shape()));
      got[k] = got[k] || p.has_grad();
      if (r == 0) {
        total.push_back(std::move(g));
      } else {
        total[k] = total[k] + g;
      }
    }
  }
  opt.zero_grad();
  for (std::size_t k = 0; k < params.size(); ++k) {
    if (got[k]) params[k].set_grad(Array<T>(total[k] / static_cast<T>(ranks)));
  }
  optim::clip_grad_norm(params, 1.0);
  opt.step();
}

// Trains `model` with DataParallel on this rank's shards and `reference` in this one process on
// all of them (step_reference), kSteps steps from rank 0's start.
template <class T>
void train_both(Net<T>& model, Net<T>& reference, const MakeOptimizer<T>& make,
                dist::DataParallelOptions options) {
  dist::DataParallel<T> ddp(model, comm(), options);
  reference.load_state_dict(model.state_dict());  // rank 0's start, as broadcast
  const auto start = values_of(model);
  auto opt = make(model.parameters());
  auto ref_opt = make(reference.parameters());
  for (std::size_t step = 0; step < kSteps; ++step) {
    step_ddp(model, ddp, *opt, step);
    step_reference(reference, *ref_opt, step);
  }
  CHECK(values_of(model) != start);  // trained: the comparison is not of two untouched models
}

dist::DataParallelOptions ordered() {
  dist::DataParallelOptions options;
  options.reduction = dist::Reduction::ordered;
  return options;
}

// This rank's parameters against those of rank 0 (gathered as text, exactly).
template <class T>
void check_same_on_every_rank(const nn::Module<T>& model) {
  std::string mine;
  for (const auto& p : model.parameters()) {
    for (T v : p.value()) mine += fmt::format("{:a} ", v);
  }
  const auto all = comm().all_gather(mine);
  for (std::size_t r = 1; r < all.size(); ++r) CHECK_MESSAGE(all[r] == all[0], "rank ", r);
}

}  // namespace

TEST_CASE("Communicator: rank, size, sums in rank order, gathers, broadcasts") {
  const int me = comm().rank();
  const int n = comm().size();
  REQUIRE(n >= 2);
  CHECK(me >= 0);
  CHECK(me < n);
  const auto sums = comm().sum({1.0, static_cast<double>(me)});
  CHECK(sums[0] == n);
  CHECK(sums[1] == n * (n - 1) / 2);
  CHECK(dist::mean(comm(), {2.0 * me})[0] == doctest::Approx(n - 1));
  const auto texts = comm().all_gather(std::string(static_cast<std::size_t>(me), 'x'));
  REQUIRE(texts.size() == static_cast<std::size_t>(n));
  for (int r = 0; r < n; ++r) CHECK(texts[static_cast<std::size_t>(r)].size() == std::size_t(r));
  std::vector<float> values{static_cast<float>(me), 2.5f};
  comm().broadcast(values.data(), values.size(), n - 1);
  CHECK(values[0] == static_cast<float>(n - 1));
  comm().barrier();
  // Different counts: the same value_error on every rank.
  const std::string message = message_of<tapegrad::value_error>(
      [&] { comm().sum(std::vector<double>(me == 0 ? 2 : 1, 1.0)); });
  CHECK(message.find("sum: rank 0 gives 2 values") == 0);
  CHECK(message_of<tapegrad::value_error>([&] { comm().broadcast(values.data(), 1, n); }) ==
        fmt::format("broadcast: root {} is not a rank of {} processes", n, n));
  CHECK(message_of<tapegrad::value_error>([] {
          dist::Communicator c = dist::Communicator::world();
          c.set_timeout(std::chrono::milliseconds(0));
        }) == "Communicator::set_timeout: the timeout must be positive, got 0 ms");
}

TEST_CASE("DataParallel copies rank 0's parameters to every rank") {
  Generator g(static_cast<std::uint64_t>(17 + comm().rank()));  // different on each rank
  Net<float> model(g);
  const auto before = values_of(model);
  const dist::DataParallel<float> ddp(model, comm());
  check_same_on_every_rank(model);
  if (comm().rank() == 0) CHECK(values_of(model) == before);
  if (comm().rank() != 0) CHECK(values_of(model) != before);
}

TEST_CASE("DataParallel names the parameter and the ranks when the models differ") {
  Generator g(3);
  const bool last = comm().rank() == comm().size() - 1;
  nn::Linear<double> a(4, last ? 5 : 3, true, g);
  const std::string shape = fmt::format(
      "DataParallel: the ranks' models differ at parameter 0: rank 0 has 'weight' [3,4] "
      "(8-byte scalars), rank {} has 'weight' [5,4] (8-byte scalars)",
      comm().size() - 1);
  CHECK(message_of<tapegrad::value_error>([&] { dist::DataParallel<double> d(a, comm()); }) ==
        shape);
  nn::Linear<double> b(4, 3, !last, g);
  const std::string count = fmt::format(
      "DataParallel: rank 0 has 2 parameters, rank {} has 1; the first one only rank 0 has is "
      "'bias' [3] (8-byte scalars)",
      comm().size() - 1);
  CHECK(message_of<tapegrad::value_error>([&] { dist::DataParallel<double> d(b, comm()); }) ==
        count);
  CHECK(message_of<tapegrad::value_error>([&] { dist::DataParallel<double> d(b, comm(), {0}); }) ==
        "DataParallel: bucket_bytes must be positive, got 0");
}

TEST_CASE("double, ordered reduction: bit for bit one process on the union, every optimizer") {
  for (const auto& [name, make] : optimizers<double>()) {
    CAPTURE(name);
    Generator g(static_cast<std::uint64_t>(5 + comm().rank()));
    Net<double> model(g);
    Net<double> reference(g);
    dist::DataParallelOptions options = ordered();
    options.bucket_bytes = 1000;  // several buckets
    train_both(model, reference, make, options);
    const auto got = values_of(model);
    const auto want = values_of(reference);
    REQUIRE(got.size() == want.size());
    std::size_t differing = 0;
    for (std::size_t k = 0; k < got.size(); ++k) differing += got[k] == want[k] ? 0 : 1;
    CHECK_MESSAGE(differing == 0, differing, " of ", got.size(), " parameters differ");
    check_same_on_every_rank(model);
  }
}

TEST_CASE("float, MPI's allreduce: one process on the union batch within 1e-6") {
  Generator g(static_cast<std::uint64_t>(9 + comm().rank()));
  Net<float> model(g);
  Net<float> reference(g);
  const auto ranks = static_cast<std::size_t>(comm().size());
  const auto me = static_cast<std::size_t>(comm().rank());
  dist::DataParallel<float> ddp(model, comm());
  reference.load_state_dict(model.state_dict());
  optim::SGD<float> opt(model.parameters(), {0.5, 0.9});
  optim::SGD<float> ref_opt(reference.parameters(), {0.5, 0.9});
  for (std::size_t step = 0; step < kSteps; ++step) {
    const Union u = union_batch(step, ranks);
    opt.zero_grad();
    const Union mine = shard(u, me);
    tapegrad::cross_entropy(model(mine.ids, false), mine.targets).backward();
    ddp.finish();
    opt.step();
    // One process, one batch: the union, its loss the mean over all of it.
    ref_opt.zero_grad();
    tapegrad::cross_entropy(reference(u.ids, false), u.targets).backward();
    ref_opt.step();
    CHECK(ddp.last_step().unused_everywhere == 2);  // side.weight, side.bias
  }
  const auto got = values_of(model);
  const auto want = values_of(reference);
  double worst = 0;
  for (std::size_t k = 0; k < got.size(); ++k) {
    double scale = 0;
    double diff = 0;
    for (std::size_t i = 0; i < got[k].size(); ++i) {
      scale = std::max(scale, std::abs(want[k][i]));
      diff = std::max(diff, std::abs(got[k][i] - want[k][i]));
    }
    worst = std::max(worst, scale > 0 ? diff / scale : diff);
  }
  MESSAGE("largest difference, relative to the tensor's largest value: ", worst);
  CHECK(worst <= 1e-6);
  // MPI's allreduce gave every rank the same sums (Open MPI's algorithms do; the standard
  // only advises it), so the ranks did not drift apart.
  check_same_on_every_rank(model);
  // The parameters moved: the comparison is not of two untouched models.
  Generator fresh(static_cast<std::uint64_t>(9));
  const Net<float> start(fresh);
  CHECK(values_of(start) != got);
}

TEST_CASE("buckets: reverse registration order, started during backward, in order on every rank") {
  Generator g(1);
  Net<float> model(g);
  Net<float> reference(g);
  dist::DataParallelOptions small;
  small.bucket_bytes = 400;  // 100 floats
  dist::DataParallel<float> ddp(model, comm(), small);
  const auto names = ddp.bucket_names();
  REQUIRE(names.size() >= 4);
  CHECK(names.front().front() == "side.bias");  // the last registered, final first
  CHECK(names.back().back() == "emb.weight");   // the first registered
  std::size_t listed = 0;
  for (const auto& b : names) listed += b.size();
  CHECK(listed == model.parameters().size());

  const Union u = union_batch(0, static_cast<std::size_t>(comm().size()));
  const Union mine = shard(u, static_cast<std::size_t>(comm().rank()));
  // Every parameter used: every bucket starts during backward, none in finish.
  model.zero_grad();
  tapegrad::cross_entropy(model(mine.ids, true), mine.targets).backward();
  ddp.finish();
  const dist::StepStats all = ddp.last_step();
  CHECK(all.buckets == names.size());
  CHECK(all.started_in_backward == names.size());
  CHECK(all.started_in_finish == 0);
  CHECK(all.unused_everywhere == 0);
  CHECK(all.payload_bytes == model.num_parameters() * sizeof(float));
  MESSAGE(all.buckets, " buckets, ", all.complete_at_finish, " complete when finish() began");
  // side unused everywhere: backward announces that it will not reach it, so its bucket is
  // ready at once and every bucket still starts during backward, in order.
  model.zero_grad();
  tapegrad::cross_entropy(model(mine.ids, false), mine.targets).backward();
  ddp.finish();
  const dist::StepStats part = ddp.last_step();
  CHECK(part.started_in_backward == names.size());
  CHECK(part.started_in_finish == 0);
  CHECK(part.unused_everywhere == 2);
  CHECK_FALSE(model.parameter("side.weight").has_grad());
  CHECK(model.parameter("head.weight").has_grad());
  // No backward at all: finish() starts every bucket, and no parameter gets a gradient.
  model.zero_grad();
  ddp.finish();
  CHECK(ddp.last_step().started_in_finish == names.size());
  CHECK(ddp.last_step().unused_everywhere == model.parameters().size());
  CHECK_FALSE(model.parameter("head.weight").has_grad());
  CHECK(ddp.steps() == 3);
  // One bucket by default (the model is far below 25 MiB).
  Net<float> other(g);
  const dist::DataParallel<float> one(other, comm());
  CHECK(one.bucket_names().size() == 1);
}

TEST_CASE(
    "backward ends with the means: the optimizer needs no finish(), which then does nothing") {
  Generator g(static_cast<std::uint64_t>(2 + comm().rank()));
  nn::Linear<double> fc(3, 2, true, g);
  dist::DataParallel<double> ddp(fc, comm(), ordered());
  const auto ranks = static_cast<double>(comm().size());
  const double me = comm().rank();
  // Rank r's input is (r + 1) x, so the mean of the weight's gradient is (mean of r + 1) x.
  const Array<double> x({{1.0, 2.0, 3.0}});
  const Var<double> mine = tapegrad::constant(Array<double>(x * (me + 1.0)));
  tapegrad::sum(fc(mine)).backward();
  CHECK(ddp.steps() == 1);  // completed by backward
  const double mean = (ranks + 1.0) / 2.0;
  const Array<double> want_w = {{mean, 2.0 * mean, 3.0 * mean}, {mean, 2.0 * mean, 3.0 * mean}};
  CHECK(fc.weight().grad() == want_w);
  CHECK(fc.bias().grad() == Array<double>({1.0, 1.0}));
  ddp.finish();  // nothing to do
  CHECK(ddp.steps() == 1);
  CHECK(fc.weight().grad() == want_w);
  // A second backward before the step (accumulation): the sum's mean, twice the first.
  tapegrad::sum(fc(mine)).backward();
  CHECK(ddp.steps() == 2);
  CHECK(fc.weight().grad() == Array<double>(want_w * 2.0));
  CHECK(fc.bias().grad() == Array<double>({2.0, 2.0}));
}

TEST_CASE("DistributedSampler: disjoint shares of one seeded order, padded or cut") {
  const int n = comm().size();
  for (const bool drop_last : {false, true}) {
    CAPTURE(drop_last);
    const std::size_t size = 10;  // not a multiple of 3
    const dist::DistributedSampler sampler(size, comm().rank(), n, {true, 7, drop_last});
    const auto per = drop_last
                         ? size / static_cast<std::size_t>(n)
                         : (size + static_cast<std::size_t>(n) - 1) / static_cast<std::size_t>(n);
    CHECK(sampler.per_rank() == per);
    for (std::uint64_t epoch = 0; epoch < 2; ++epoch) {
      const auto mine = sampler.indices(epoch);
      CHECK(mine.size() == per);
      // Everyone's shares, gathered: the whole data set (without drop_last), no example twice
      // but the padding.
      std::string text;
      for (std::size_t i : mine) text += std::to_string(i) + ",";
      const auto all = comm().all_gather(text);
      std::multiset<std::size_t> seen;
      for (const auto& t : all) {
        std::size_t at = 0;
        while (at < t.size()) {
          const std::size_t comma = t.find(',', at);
          seen.insert(std::stoul(t.substr(at, comma - at)));
          at = comma + 1;
        }
      }
      CHECK(seen.size() == per * static_cast<std::size_t>(n));
      const std::set<std::size_t> distinct(seen.begin(), seen.end());
      CHECK(distinct.size() == (drop_last ? per * static_cast<std::size_t>(n) : size));
      // Every rank computes the same permutation: a sampler of rank 0 here gives rank 0's share.
      const dist::DistributedSampler as_zero(size, 0, n, {true, 7, drop_last});
      std::string zero;
      for (std::size_t i : as_zero.indices(epoch)) zero += std::to_string(i) + ",";
      CHECK(zero == all[0]);
    }
    CHECK(sampler.indices(0) != sampler.indices(1));  // a new order each epoch
    const auto batches = sampler.batches(0, 2);
    CHECK(batches.size() == (per + 1) / 2);
  }
  CHECK(message_of<tapegrad::value_error>([&] { dist::DistributedSampler(5, n, n); }) ==
        fmt::format("DistributedSampler: rank {} of {} ranks", n, n));
  CHECK(message_of<tapegrad::value_error>([&] { dist::DistributedSampler(0, 0, n); }) ==
        "DistributedSampler: the data set is empty");
}

TEST_CASE("a checkpoint rank 0 saves resumes on every rank, and on one process, exactly") {
  const auto make = [](std::uint64_t seed) {
    Generator g(seed);
    return std::make_unique<Net<double>>(g);
  };
  // Uninterrupted: kSteps steps.
  auto a = make(21);
  dist::DataParallel<double> ddp_a(*a, comm(), ordered());
  optim::Adam<double> opt_a(a->parameters(), {0.01});
  for (std::size_t step = 0; step < kSteps; ++step) step_ddp(*a, ddp_a, opt_a, step);

  // Interrupted after 2 steps: rank 0 alone writes the checkpoint (model, Adam's moments).
  auto b = make(21);
  dist::DataParallel<double> ddp_b(*b, comm(), ordered());
  optim::Adam<double> opt_b(b->parameters(), {0.01});
  for (std::size_t step = 0; step < 2; ++step) step_ddp(*b, ddp_b, opt_b, step);
  const std::string mine = (std::filesystem::temp_directory_path() /
                            ("tapegrad_distributed_" + std::to_string(::getpid()) + ".npz"))
                               .string();
  const std::string path = comm().all_gather(mine)[0];  // rank 0's name, on every rank
  if (comm().rank() == 0) {
    optim::TrainingState<double> state;
    state.model = b.get();
    state.optimizer = &opt_b;
    state.epoch = 2;
    optim::save_checkpoint(path, state);
  }
  comm().barrier();

  // Every rank resumes from it, into a model initialised differently.
  auto c = make(static_cast<std::uint64_t>(100 + comm().rank()));
  optim::Adam<double> opt_c(c->parameters(), {0.01});
  optim::TrainingState<double> state_c;
  state_c.model = c.get();
  state_c.optimizer = &opt_c;
  optim::load_checkpoint(path, state_c);
  CHECK(state_c.epoch == 2);
  dist::DataParallel<double> ddp_c(*c, comm(), ordered());
  for (std::size_t step = 2; step < kSteps; ++step) step_ddp(*c, ddp_c, opt_c, step);
  CHECK(values_of(*c) == values_of(*a));

  // One process (another number of ranks) resumes from the same file: the same parameters.
  auto d = make(7);
  optim::Adam<double> opt_d(d->parameters(), {0.01});
  optim::TrainingState<double> state_d;
  state_d.model = d.get();
  state_d.optimizer = &opt_d;
  optim::load_checkpoint(path, state_d);
  for (std::size_t step = 2; step < kSteps; ++step) step_reference(*d, opt_d, step);
  CHECK(values_of(*d) == values_of(*a));
  comm().barrier();
  if (comm().rank() == 0) std::filesystem::remove(path);
}
