// Optimizers, gradient clipping and learning-rate schedules against PyTorch: every fixture in
// tests/fixtures/optim/ (written by tests/fixtures/generate_optim.py, float64) is replayed in
// double, each parameter compared after every step to 1e-10 and each learning rate after every
// epoch to 1e-12 (relative); then the behaviour around them: parameters without a gradient,
// zero_grad, state_dict round trips of optimizers and schedules, rejected states, non-finite
// gradient norms.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "helpers.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/schedule.hpp"

namespace fs = std::filesystem;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::Npz;
using tapegrad::Var;

namespace {

using State = std::vector<std::pair<std::string, Array<double>>>;

constexpr double kParamTol = 1e-10;  // |a - b| <= tol (1 + |b|)
constexpr double kLrTol = 1e-12;     // |a - b| <= tol |b|
constexpr std::size_t kSteps = 12;
constexpr std::size_t kEpochs = 100;

// ---- the fixture folder ----

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

fs::path fixture_dir() {
  return fs::path(tapegrad_test::source_dir()) / "tests" / "fixtures" / "optim";
}

Npz load(const std::string& stem) {
  return Npz::load((fixture_dir() / (stem + ".npz")).string());
}

// Stems of every .npz in the folder, sorted.
std::vector<std::string> all_stems() {
  std::vector<std::string> stems;
  if (!fs::is_directory(fixture_dir())) return stems;
  for (const auto& entry : fs::directory_iterator(fixture_dir())) {
    if (entry.is_regular_file() && entry.path().extension() == ".npz") {
      stems.push_back(entry.path().stem().string());
    }
  }
  std::sort(stems.begin(), stems.end());
  return stems;
}

// The optimizer an optimizer fixture is for: its stem up to the first '_'.
std::string kind_of(const std::string& stem) {
  return stem.substr(0, stem.find('_'));
}

const std::set<std::string> kOptimizerKinds{"sgd", "adam", "adamw", "rmsprop", "adagrad"};
const std::vector<std::string> kSchedules{
    "sched_step",   "sched_multistep",   "sched_exponential", "sched_cosine",
    "sched_linear", "sched_plateau_min", "sched_plateau_max", "sched_plateau_min_abs"};

bool is_optimizer_fixture(const std::string& stem) {
  return stem.find('_') != std::string::npos && kOptimizerKinds.count(kind_of(stem)) != 0;
}

std::vector<std::string> optimizer_fixtures(const std::string& kind) {
  std::vector<std::string> stems;
  for (const auto& stem : all_stems()) {
    if (is_optimizer_fixture(stem) && (kind.empty() || kind_of(stem) == kind)) {
      stems.push_back(stem);
    }
  }
  return stems;
}

// ---- comparisons ----

bool close_rel(double actual, double expected, double tol) {
  return std::abs(actual - expected) <= tol * std::abs(expected);
}

// Row k of an array stacked along its first axis.
Array<double> row(const Array<double>& stacked, std::size_t k) {
  std::vector<std::size_t> shape(stacked.shape().begin() + 1, stacked.shape().end());
  Array<double> r = Array<double>::from_shape(tapegrad::make_shape(shape));
  std::copy_n(stacked.data() + k * r.size(), r.size(), r.data());
  return r;
}

Array<double> filled(std::initializer_list<std::size_t> shape, double value) {
  Array<double> a = Array<double>::from_shape(tapegrad::make_shape(shape));
  a.fill(value);
  return a;
}

// Same names in the same order, same shapes, bitwise equal values.
bool same_state(const State& a, const State& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || a[i].second.shape() != b[i].second.shape()) return false;
    if (!std::equal(a[i].second.begin(), a[i].second.end(), b[i].second.begin())) return false;
  }
  return true;
}

std::string names_of(const State& state) {
  std::string s;
  for (const auto& entry : state) s += (s.empty() ? "" : ", ") + entry.first;
  return "[" + s + "]";
}

// ---- the model of the optimizer fixtures ----

// GRU(3, 3) then Linear(3, 2) on every time step; cross-entropy over the T*B outputs.
class Model : public nn::Module<double> {
 public:
  Model() : rnn_(nn::RNNOptions(3, 3)), fc_(3, 2) {
    register_module("rnn", rnn_);
    register_module("fc", fc_);
  }
  // Without `use_bias`, fc.bias takes no part (and gets no gradient).
  Var<double> loss(const Var<double>& x, const IndexArray& targets, bool use_bias) const {
    const Var<double> out = rnn_(x).output;  // [T, B, H]
    const Var<double> logits =
        tapegrad::linear(out, fc_.weight(), use_bias ? fc_.bias() : Var<double>());
    const std::size_t n = targets.size();
    return tapegrad::cross_entropy(tapegrad::reshape(logits, tapegrad::make_shape({n, 2})),
                                   targets);
  }

 private:
  nn::GRU<double> rnn_;
  nn::Linear<double> fc_;
};

// model.npz: the initial parameters and the data shared by every optimizer fixture.
struct Data {
  nn::StateDict<double> initial;
  Var<double> x;
  IndexArray targets;
};

Data load_data() {
  const Npz f = load("model");
  Data d;
  for (const auto& name : f.names()) {
    if (name != "x" && name != "targets") d.initial.emplace_back(name, f.get<double>(name));
  }
  d.x = tapegrad::constant(f.get<double>("x"), "x");
  d.targets = f.get_index("targets");
  return d;
}

std::unique_ptr<Model> make_model(const nn::StateDict<double>& state) {
  auto model = std::make_unique<Model>();
  model->load_state_dict(state);
  return model;
}

// The parameter groups of a fixture (meta.group_lrs, meta.group_of) over `model`'s parameters.
std::vector<optim::ParamGroup<double>> groups_of(const Npz& f, const Model& model) {
  const Array<double> lrs = f.get<double>("meta.group_lrs");
  const IndexArray group_of = f.get_index("meta.group_of");
  const auto params = model.parameters();
  REQUIRE(group_of.size() == params.size());
  std::vector<optim::ParamGroup<double>> groups;
  for (std::size_t g = 0; g < lrs.size(); ++g) {
    std::vector<Var<double>> members;
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (group_of(i) == static_cast<tapegrad::Index>(g)) members.push_back(params[i]);
    }
    groups.push_back(optim::ParamGroup<double>{members, lrs(g)});
  }
  return groups;
}

// The fixture's optimizer, its options read from the "option.*" entries (every one of them
// must be used, so a new option in the generator cannot be silently ignored here).
std::unique_ptr<optim::Optimizer<double>> make_optimizer(const std::string& stem, const Npz& f,
                                                         const Model& model) {
  std::size_t used = 0;
  auto value = [&](const std::string& field) {
    ++used;
    return f.get<double>("option." + field)();
  };
  auto flag = [&](const std::string& field) { return value(field) != 0.0; };
  auto groups = groups_of(f, model);
  const std::string kind = kind_of(stem);
  std::unique_ptr<optim::Optimizer<double>> opt;
  if (kind == "sgd") {
    optim::SGDOptions o;
    o.lr = value("lr");
    o.momentum = value("momentum");
    o.dampening = value("dampening");
    o.weight_decay = value("weight_decay");
    o.nesterov = flag("nesterov");
    opt = std::make_unique<optim::SGD<double>>(std::move(groups), o);
  } else if (kind == "adam" || kind == "adamw") {
    optim::AdamOptions o;
    o.lr = value("lr");
    o.beta1 = value("beta1");
    o.beta2 = value("beta2");
    o.eps = value("eps");
    o.weight_decay = value("weight_decay");
    o.amsgrad = flag("amsgrad");
    if (kind == "adam") {
      opt = std::make_unique<optim::Adam<double>>(std::move(groups), o);
    } else {
      opt = std::make_unique<optim::AdamW<double>>(std::move(groups), o);
    }
  } else if (kind == "rmsprop") {
    optim::RMSpropOptions o;
    o.lr = value("lr");
    o.alpha = value("alpha");
    o.eps = value("eps");
    o.weight_decay = value("weight_decay");
    o.momentum = value("momentum");
    o.centered = flag("centered");
    opt = std::make_unique<optim::RMSprop<double>>(std::move(groups), o);
  } else if (kind == "adagrad") {
    optim::AdagradOptions o;
    o.lr = value("lr");
    o.lr_decay = value("lr_decay");
    o.weight_decay = value("weight_decay");
    o.initial_accumulator_value = value("initial_accumulator_value");
    o.eps = value("eps");
    opt = std::make_unique<optim::Adagrad<double>>(std::move(groups), o);
  }
  REQUIRE_MESSAGE(opt != nullptr, "no optimizer for fixture ", stem);
  const auto in_file = std::count_if(f.names().begin(), f.names().end(), [](const std::string& n) {
    return starts_with(n, "option.");
  });
  CHECK_MESSAGE(static_cast<std::size_t>(in_file) == used, stem, " has ", in_file,
                " option entries, the test reads ", used);
  return opt;
}

// One training step k (1-based) as the generator runs it; returns the loss.
double train_step(const Npz& f, const Data& d, Model& model, optim::Optimizer<double>& opt,
                  std::size_t k) {
  opt.zero_grad();
  const auto bias_from = static_cast<std::size_t>(f.get_index("meta.bias_from")());
  Var<double> loss = model.loss(d.x, d.targets, k >= bias_from);
  loss.backward();
  opt.step();
  return loss.item();
}

// Runs steps [first, last] and compares the loss and every parameter after every step with the
// fixture; reports the first mismatch only (later steps inherit it) and returns false there.
bool replay(const std::string& stem, const Npz& f, const Data& d, Model& model,
            optim::Optimizer<double>& opt, std::size_t first, std::size_t last) {
  const Array<double> losses = f.get<double>("loss");
  for (std::size_t k = first; k <= last; ++k) {
    const double loss = train_step(f, d, model, opt, k);
    if (std::abs(loss - losses(k - 1)) > kParamTol * (1.0 + std::abs(losses(k - 1)))) {
      FAIL_CHECK(stem, ": step ", k, ": loss ", loss, ", expected ", losses(k - 1));
      return false;
    }
    for (const auto& [name, param] : model.named_parameters()) {
      const Array<double> expected = row(f.get<double>("step." + name), k - 1);
      if (!tapegrad_test::all_close(param.value(), expected, kParamTol)) {
        FAIL_CHECK(stem, ": after step ", k, ", ", name, ": ",
                   tapegrad_test::worst_element(param.value(), expected), "\nactual   ",
                   tapegrad_test::describe(param.value()), "\nexpected ",
                   tapegrad_test::describe(expected));
        return false;
      }
    }
  }
  return true;
}

// Replays every fixture of `kind` from its initial parameters through all 12 steps.
void check_optimizer_kind(const std::string& kind, std::size_t minimum) {
  const auto stems = optimizer_fixtures(kind);
  CHECK_MESSAGE(stems.size() >= minimum, "found ", stems.size(), " ", kind,
                " fixtures, expected at least ", minimum, " in ", fixture_dir().string(),
                " (remake them with tests/fixtures/generate_optim.py)");
  const Data d = load_data();
  for (const auto& stem : stems) {
    INFO("fixture ", stem);
    try {
      const Npz f = load(stem);
      auto model = make_model(d.initial);
      auto opt = make_optimizer(stem, f, *model);
      if (replay(stem, f, d, *model, *opt, 1, kSteps)) {
        CHECK(opt->steps() == static_cast<std::int64_t>(kSteps));
      }
    } catch (const std::exception& e) {
      FAIL_CHECK(stem, " threw: ", e.what());
    }
    tapegrad::tape<double>().clear();
  }
}

// ---- schedules ----

// An SGD over two one-element parameters, groups of base lr 0.1 and 0.02 (as the fixtures).
struct TwoGroups {
  Var<double> p = tapegrad::parameter(filled({1}, 0.0), "p");
  Var<double> q = tapegrad::parameter(filled({1}, 0.0), "q");
  optim::SGD<double> opt{std::vector<optim::ParamGroup<double>>{{{p}, 0.1}, {{q}, 0.02}},
                         optim::SGDOptions{}};
};

std::unique_ptr<optim::Schedule<double>> make_schedule(const std::string& stem, const Npz& f,
                                                       optim::Optimizer<double>& opt) {
  auto value = [&](const std::string& field) { return f.get<double>("option." + field)(); };
  if (stem == "sched_step") {
    return std::make_unique<optim::StepLR<double>>(
        opt, static_cast<std::int64_t>(value("step_size")), value("gamma"));
  }
  if (stem == "sched_multistep") {
    const IndexArray m = f.get_index("option.milestones");
    return std::make_unique<optim::MultiStepLR<double>>(
        opt, std::vector<std::int64_t>(m.begin(), m.end()), value("gamma"));
  }
  if (stem == "sched_exponential") {
    return std::make_unique<optim::ExponentialLR<double>>(opt, value("gamma"));
  }
  if (stem == "sched_cosine") {
    return std::make_unique<optim::CosineAnnealingLR<double>>(
        opt, static_cast<std::int64_t>(value("t_max")), value("eta_min"));
  }
  if (stem == "sched_linear") {
    return std::make_unique<optim::LinearLR<double>>(
        opt, value("start_factor"), value("end_factor"),
        static_cast<std::int64_t>(value("total_iters")));
  }
  REQUIRE_MESSAGE(starts_with(stem, "sched_plateau"), "no schedule for fixture ", stem);
  optim::PlateauOptions o;
  o.maximize = value("maximize") != 0.0;
  o.factor = value("factor");
  o.patience = static_cast<std::int64_t>(value("patience"));
  o.threshold = value("threshold");
  o.relative_threshold = value("relative_threshold") != 0.0;
  o.cooldown = static_cast<std::int64_t>(value("cooldown"));
  o.min_lr = value("min_lr");
  o.eps = value("eps");
  return std::make_unique<optim::ReduceLROnPlateau<double>>(opt, o);
}

// One epoch k (1-based) of schedule `s`: step(metric[k-1]) for a plateau schedule.
void schedule_step(const Npz& f, optim::Schedule<double>& s, std::size_t k) {
  if (auto* plateau = dynamic_cast<optim::ReduceLROnPlateau<double>*>(&s)) {
    plateau->step(f.get<double>("metric")(k - 1));
  } else {
    s.step();
  }
}

// Compares the learning rates with rows [first, last] of the fixture (row k: after k steps): row
// `first` as the schedule stands, then one step before each further row. Reports the first
// mismatch only.
bool replay_schedule(const std::string& stem, const Npz& f, optim::Schedule<double>& s,
                     const optim::Optimizer<double>& opt, std::size_t first, std::size_t last) {
  const Array<double> lr = f.get<double>("lr");
  const bool plateau = dynamic_cast<optim::ReduceLROnPlateau<double>*>(&s) != nullptr;
  for (std::size_t k = first; k <= last; ++k) {
    if (k > first) schedule_step(f, s, k);
    const auto lrs = s.lrs();
    if (lrs.size() != 2 || opt.param_groups().size() != 2) {
      FAIL_CHECK(stem, ": epoch ", k, ": ", lrs.size(), " learning rates, expected 2");
      return false;
    }
    for (std::size_t g = 0; g < 2; ++g) {
      const double expected = lr(k, g);
      if (!close_rel(lrs[g], expected, kLrTol) ||
          !close_rel(opt.param_groups()[g].lr, expected, kLrTol)) {
        std::ostringstream out;
        out.precision(17);
        out << stem << ": epoch " << k << ", group " << g << ": lrs() " << lrs[g]
            << ", param_groups()[" << g << "].lr " << opt.param_groups()[g].lr << ", expected "
            << expected;
        FAIL_CHECK(out.str());
        return false;
      }
    }
    if (plateau && k > 0) {
      const auto& p = dynamic_cast<optim::ReduceLROnPlateau<double>&>(s);
      const auto expected = f.get_index("bad_epochs")(k - 1);
      if (p.bad_epochs() != expected) {
        FAIL_CHECK(stem, ": epoch ", k, ": bad_epochs() ", p.bad_epochs(), ", expected ", expected);
        return false;
      }
    }
    if (k > 0 && s.epoch() != static_cast<std::int64_t>(k)) {
      FAIL_CHECK(stem, ": epoch() ", s.epoch(), " after ", k, " steps");
      return false;
    }
  }
  return true;
}

template <class Fn>
void for_each_schedule(const std::vector<std::string>& stems, Fn&& check) {
  for (const auto& stem : stems) {
    INFO("fixture ", stem);
    try {
      check(stem, load(stem));
    } catch (const std::exception& e) {
      FAIL_CHECK(stem, " threw: ", e.what());
    }
  }
}

// ---- small optimizers for the behaviour tests ----

// One optimizer of each kind, with weight decay and momentum where it has them, so that a
// skipped parameter would move if it were not skipped.
std::vector<std::pair<std::string, std::unique_ptr<optim::Optimizer<double>>>> every_kind(
    const std::vector<Var<double>>& params) {
  std::vector<std::pair<std::string, std::unique_ptr<optim::Optimizer<double>>>> all;
  optim::SGDOptions sgd;
  sgd.lr = 0.1;
  sgd.momentum = 0.9;
  sgd.weight_decay = 0.1;
  all.emplace_back("SGD", std::make_unique<optim::SGD<double>>(params, sgd));
  optim::AdamOptions adam;
  adam.lr = 0.1;
  adam.weight_decay = 0.1;
  adam.amsgrad = true;
  all.emplace_back("Adam", std::make_unique<optim::Adam<double>>(params, adam));
  all.emplace_back("AdamW", std::make_unique<optim::AdamW<double>>(params, adam));
  optim::RMSpropOptions rms;
  rms.weight_decay = 0.1;
  rms.momentum = 0.9;
  rms.centered = true;
  all.emplace_back("RMSprop", std::make_unique<optim::RMSprop<double>>(params, rms));
  optim::AdagradOptions ada;
  ada.weight_decay = 0.1;
  ada.initial_accumulator_value = 0.1;
  all.emplace_back("Adagrad", std::make_unique<optim::Adagrad<double>>(params, ada));
  return all;
}

}  // namespace

// ---- parity ----

TEST_CASE("optim: the PyTorch fixtures are all there and all known") {
  const auto stems = all_stems();
  REQUIRE_MESSAGE(!stems.empty(), "no fixtures in ", fixture_dir().string(),
                  " (remake them with tests/fixtures/generate_optim.py)");
  for (const auto& stem : stems) {
    const bool known = stem == "model" || stem == "clip" || is_optimizer_fixture(stem) ||
                       std::find(kSchedules.begin(), kSchedules.end(), stem) != kSchedules.end();
    CHECK_MESSAGE(known, "fixture ", stem,
                  ".npz belongs to no family this test knows: add its check to this file");
  }
  for (const auto& name : kSchedules) {
    CHECK_MESSAGE(std::find(stems.begin(), stems.end(), name) != stems.end(), name,
                  ".npz is missing");
  }
  CHECK(std::find(stems.begin(), stems.end(), "model") != stems.end());
  CHECK(std::find(stems.begin(), stems.end(), "clip") != stems.end());
  CHECK(optimizer_fixtures("").size() >= 22);
}

TEST_CASE("optim: SGD matches PyTorch step by step") {
  check_optimizer_kind("sgd", 7);
}

TEST_CASE("optim: Adam matches PyTorch step by step") {
  check_optimizer_kind("adam", 5);
}

TEST_CASE("optim: AdamW matches PyTorch step by step") {
  check_optimizer_kind("adamw", 2);
}

TEST_CASE("optim: RMSprop matches PyTorch step by step") {
  check_optimizer_kind("rmsprop", 4);
}

TEST_CASE("optim: Adagrad matches PyTorch step by step") {
  check_optimizer_kind("adagrad", 4);
}

TEST_CASE("optim: clip_grad_norm and clip_grad_value match PyTorch") {
  const Npz f = load("clip");
  // Three parameters with the fixture's gradients, and one without a gradient (ignored).
  auto make_params = [&f] {
    std::vector<Var<double>> params;
    for (int i = 0; i < 3; ++i) {
      const Array<double> grad = f.get<double>("grad." + std::to_string(i));
      Var<double> p = tapegrad::parameter(Array<double>(grad * 0.0), "p" + std::to_string(i));
      p.set_grad(grad);
      params.push_back(p);
    }
    params.push_back(tapegrad::parameter(filled({2}, 1.0), "no_grad"));
    return params;
  };
  for (const std::string c : {"norm2_clip", "norm2_noclip", "inf_clip"}) {
    INFO("case ", c);
    auto params = make_params();
    const double norm = optim::clip_grad_norm(params, f.get<double>(c + ".max_norm")(),
                                              f.get<double>(c + ".norm_type")());
    const double expected = f.get<double>(c + ".total")();
    CHECK_MESSAGE(std::abs(norm - expected) <= 1e-12 * expected, "norm ", norm, ", expected ",
                  expected);
    for (int i = 0; i < 3; ++i) {
      TG_CHECK_CLOSE(params[i].grad(), f.get<double>(c + ".grad." + std::to_string(i)), 1e-12);
    }
    CHECK_FALSE(params[3].has_grad());
  }
  auto params = make_params();
  optim::clip_grad_value(params, f.get<double>("value.clip")());
  for (int i = 0; i < 3; ++i) {
    TG_CHECK_CLOSE(params[i].grad(), f.get<double>("value.grad." + std::to_string(i)), 0.0);
  }
  CHECK_FALSE(params[3].has_grad());
}

TEST_CASE("optim: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR match PyTorch") {
  for_each_schedule({kSchedules.begin(), kSchedules.begin() + 5},
                    [](const std::string& stem, const Npz& f) {
                      TwoGroups t;
                      auto s = make_schedule(stem, f, t.opt);
                      CHECK(replay_schedule(stem, f, *s, t.opt, 0, kEpochs));
                    });
}

TEST_CASE("optim: ReduceLROnPlateau matches PyTorch (min, max, abs threshold)") {
  for_each_schedule({kSchedules.begin() + 5, kSchedules.end()},
                    [](const std::string& stem, const Npz& f) {
                      TwoGroups t;
                      auto s = make_schedule(stem, f, t.opt);
                      CHECK(replay_schedule(stem, f, *s, t.opt, 0, kEpochs));
                    });
}

// ---- behaviour ----

TEST_CASE("optim: parameters without a gradient are skipped") {
  Var<double> a = tapegrad::parameter(filled({2, 3}, 0.5), "a");
  Var<double> b = tapegrad::parameter(filled({3}, 0.5), "b");
  for (auto& [name, opt] : every_kind({a, b})) {
    INFO("optimizer ", name);
    a.mutable_value().fill(0.5);
    b.mutable_value().fill(0.5);
    for (int k = 0; k < 3; ++k) {
      a.set_grad(filled({2, 3}, 0.25));
      b.zero_grad();
      opt->step();
    }
    CHECK_FALSE(b.has_grad());
    TG_CHECK_CLOSE(b.value(), filled({3}, 0.5), 0.0);
    CHECK_FALSE(tapegrad_test::all_close(a.value(), filled({2, 3}, 0.5), 1e-6));
    CHECK(opt->steps() == 3);
  }
}

TEST_CASE("optim: zero_grad drops every gradient of every group") {
  const Data d = load_data();
  const Npz f = load("sgd_groups");
  auto model = make_model(d.initial);
  auto opt = make_optimizer("sgd_groups", f, *model);
  REQUIRE(opt->param_groups().size() == 2);
  model->loss(d.x, d.targets, true).backward();
  for (const auto& p : model->parameters()) CHECK(p.has_grad());
  opt->zero_grad();
  for (const auto& group : opt->param_groups()) {
    for (const auto& p : group.params) CHECK_FALSE(p.has_grad());
  }
  const auto before = model->state_dict();
  opt->step();  // nothing to do: no parameter has a gradient
  CHECK(same_state(model->state_dict(), before));
}

TEST_CASE("optim: state_dict and load_state_dict continue the same trajectory") {
  const Data d = load_data();
  for (const auto& stem : optimizer_fixtures("")) {
    // Every fixture split after step 6; the late ones also after step 3, when fc.bias has had
    // no gradient yet (and so no state).
    std::vector<std::size_t> splits{6};
    if (stem.find("late") != std::string::npos) splits.push_back(3);
    for (const std::size_t split : splits) {
      INFO("fixture ", stem, ", split after step ", split);
      try {
        const Npz f = load(stem);
        auto straight = make_model(d.initial);
        auto opt = make_optimizer(stem, f, *straight);
        for (std::size_t k = 1; k <= split; ++k) train_step(f, d, *straight, *opt, k);
        const State saved = opt->state_dict();
        CHECK_MESSAGE(std::any_of(saved.begin(), saved.end(),
                                  [](const auto& e) { return starts_with(e.first, "state."); }),
                      "no \"state.\" entry in ", names_of(saved));

        // A new model and a new optimizer, resumed from the saved values and state.
        auto resumed = make_model(straight->state_dict());
        auto opt2 = make_optimizer(stem, f, *resumed);
        opt2->load_state_dict(saved);
        CHECK(opt2->steps() == static_cast<std::int64_t>(split));
        CHECK_MESSAGE(same_state(opt2->state_dict(), saved), "state after load ",
                      names_of(opt2->state_dict()), ", saved ", names_of(saved));
        for (std::size_t k = split + 1; k <= kSteps; ++k) {
          train_step(f, d, *straight, *opt, k);
          train_step(f, d, *resumed, *opt2, k);
        }
        for (const auto& [name, value] : straight->state_dict()) {
          INFO("parameter ", name);
          TG_CHECK_CLOSE(resumed->parameter(name).value(), value, 0.0);
        }
        CHECK(same_state(opt2->state_dict(), opt->state_dict()));
      } catch (const std::exception& e) {
        FAIL_CHECK(stem, " threw: ", e.what());
      }
      tapegrad::tape<double>().clear();
    }
  }
}

TEST_CASE("optim: load_state_dict rejects a wrong shape or a missing entry and changes nothing") {
  const Data d = load_data();
  for (const std::string stem :
       {"adam_amsgrad", "sgd_momentum", "rmsprop_centered_momentum_wd", "adagrad_lr_decay_wd"}) {
    INFO("fixture ", stem);
    const Npz f = load(stem);
    auto model = make_model(d.initial);
    auto opt = make_optimizer(stem, f, *model);
    REQUIRE(replay(stem, f, d, *model, *opt, 1, 3));
    const State at3 = opt->state_dict();
    REQUIRE(replay(stem, f, d, *model, *opt, 4, 6));
    const State at6 = opt->state_dict();

    // The state of step 3, its last "state." entry reshaped: everything before it is valid.
    State bad = at3;
    auto last = std::find_if(bad.rbegin(), bad.rend(),
                             [](const auto& e) { return starts_with(e.first, "state."); });
    REQUIRE(last != bad.rend());
    last->second = filled({7}, 1.0);
    const std::string message =
        tapegrad_test::message_of<tapegrad::value_error>([&] { opt->load_state_dict(bad); });
    TG_CHECK_CONTAINS(message, last->first);
    CHECK(same_state(opt->state_dict(), at6));
    CHECK(opt->steps() == 6);

    // The state of step 3 without its first "state." entry.
    State missing = at3;
    auto first = std::find_if(missing.begin(), missing.end(),
                              [](const auto& e) { return starts_with(e.first, "state."); });
    REQUIRE(first != missing.end());
    const std::string missing_name = first->first;
    missing.erase(first);
    const std::string message2 =
        tapegrad_test::message_of<tapegrad::value_error>([&] { opt->load_state_dict(missing); });
    TG_CHECK_CONTAINS(message2, missing_name);
    CHECK(same_state(opt->state_dict(), at6));
    CHECK(opt->steps() == 6);

    // Nothing changed: the trajectory goes on as PyTorch's.
    CHECK(replay(stem, f, d, *model, *opt, 7, kSteps));
    tapegrad::tape<double>().clear();
  }
}

TEST_CASE("optim: schedules' state_dict and load_state_dict continue the same rates") {
  for_each_schedule(kSchedules, [](const std::string& stem, const Npz& f) {
    constexpr std::size_t split = 50;
    TwoGroups t;
    auto s = make_schedule(stem, f, t.opt);
    REQUIRE(replay_schedule(stem, f, *s, t.opt, 0, split));
    const auto saved = s->state_dict();

    // A new optimizer at the base rates and a new schedule, resumed from the saved state.
    TwoGroups t2;
    auto s2 = make_schedule(stem, f, t2.opt);
    s2->load_state_dict(saved);
    CHECK(s2->epoch() == static_cast<std::int64_t>(split));
    CHECK(replay_schedule(stem, f, *s2, t2.opt, split, kEpochs));
  });
}

TEST_CASE("optim: ReduceLROnPlateau::step() without a metric is a usage_error") {
  TwoGroups t;
  optim::ReduceLROnPlateau<double> s(t.opt);
  CHECK_THROWS_AS(s.step(), tapegrad::usage_error);
  CHECK(s.epoch() == 0);
}

TEST_CASE("optim: clip_grad_norm returns a non-finite norm for an inf or NaN gradient") {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const double bad : {inf, -inf, nan}) {
    for (const double norm_type : {2.0, inf}) {
      INFO("bad value ", bad, ", norm_type ", norm_type);
      Var<double> a = tapegrad::parameter(filled({3}, 0.0), "a");
      Var<double> b = tapegrad::parameter(filled({2, 2}, 0.0), "b");
      a.set_grad(filled({3}, 0.5));
      Array<double> g = filled({2, 2}, 0.25);
      g(1, 0) = bad;
      b.set_grad(g);
      const double norm = optim::clip_grad_norm(std::vector<Var<double>>{a, b}, 1.0, norm_type);
      CHECK_FALSE(std::isfinite(norm));
    }
  }
}

TEST_CASE("optim: default options are PyTorch's") {
  // torch 2.x's signatures; SGD's lr default (1e-3) is 2.3's, required before.
  const optim::SGDOptions sgd;
  CHECK(sgd.lr == 1e-3);
  CHECK(sgd.momentum == 0.0);
  CHECK(sgd.dampening == 0.0);
  CHECK(sgd.weight_decay == 0.0);
  CHECK_FALSE(sgd.nesterov);
  const optim::AdamOptions adam;
  CHECK(adam.lr == 1e-3);
  CHECK(adam.beta1 == 0.9);
  CHECK(adam.beta2 == 0.999);
  CHECK(adam.eps == 1e-8);
  CHECK(adam.weight_decay == 0.0);
  CHECK_FALSE(adam.amsgrad);
  const optim::RMSpropOptions rms;
  CHECK(rms.lr == 0.01);
  CHECK(rms.alpha == 0.99);
  CHECK(rms.eps == 1e-8);
  CHECK(rms.weight_decay == 0.0);
  CHECK(rms.momentum == 0.0);
  CHECK_FALSE(rms.centered);
  const optim::AdagradOptions ada;
  CHECK(ada.lr == 0.01);
  CHECK(ada.lr_decay == 0.0);
  CHECK(ada.weight_decay == 0.0);
  CHECK(ada.initial_accumulator_value == 0.0);
  CHECK(ada.eps == 1e-10);
  const optim::AdamWOptions adamw;  // Adam's, with weight_decay 1e-2
  CHECK(std::tie(adamw.lr, adamw.beta1, adamw.beta2, adamw.eps, adamw.amsgrad) ==
        std::tie(adam.lr, adam.beta1, adam.beta2, adam.eps, adam.amsgrad));
  CHECK(adamw.weight_decay == 0.01);
  const optim::PlateauOptions plateau;
  CHECK_FALSE(plateau.maximize);
  CHECK(plateau.factor == 0.1);
  CHECK(plateau.patience == 10);
  CHECK(plateau.threshold == 1e-4);
  CHECK(plateau.relative_threshold);
  CHECK(plateau.cooldown == 0);
  CHECK(plateau.min_lr == 0.0);
  CHECK(plateau.eps == 1e-8);

  // AdamW's default weight decay is PyTorch's 0.01: AdamW with default AdamWOptions must
  // step as AdamW with weight_decay = 0.01 given explicitly.
  Var<double> a = tapegrad::parameter(filled({3}, 0.5), "a");
  Var<double> b = tapegrad::parameter(filled({3}, 0.5), "b");
  optim::AdamWOptions explicit_wd;
  explicit_wd.weight_decay = 0.01;
  optim::AdamW<double> by_default(std::vector<Var<double>>{a}, optim::AdamWOptions{});
  optim::AdamW<double> by_hand(std::vector<Var<double>>{b}, explicit_wd);
  for (int k = 0; k < 3; ++k) {
    a.set_grad(filled({3}, 0.25));
    b.set_grad(filled({3}, 0.25));
    by_default.step();
    by_hand.step();
  }
  CHECK_MESSAGE(tapegrad_test::all_close(a.value(), b.value(), 0.0), "AdamW(AdamWOptions{}) gives ",
                tapegrad_test::describe(a.value()), ", with weight_decay 0.01 ",
                tapegrad_test::describe(b.value()));
}

TEST_CASE(
    "optim: optimizers and schedules are built from parameters alone, with PyTorch's "
    "defaults") {
  const auto params = [] {
    return std::vector<Var<double>>{tapegrad::parameter(filled({2}, 1.0))};
  };
  const auto lr_of = [](const optim::Optimizer<double>& o) { return o.param_groups()[0].lr; };
  // optim::Adam<float>(params) as torch.optim.Adam(params).
  CHECK(lr_of(optim::SGD<double>(params())) == 1e-3);
  CHECK(lr_of(optim::Adam<double>(params())) == 1e-3);
  CHECK(lr_of(optim::AdamW<double>(params())) == 1e-3);
  CHECK(lr_of(optim::RMSprop<double>(params())) == 1e-2);
  CHECK(lr_of(optim::Adagrad<double>(params())) == 1e-2);
  optim::Adam<float> adam_float(
      std::vector<Var<float>>{tapegrad::parameter(Array<float>{1.0f, 2.0f})});
  CHECK(adam_float.param_groups().size() == 1);

  // A group without a learning rate takes the optimizer's, as a PyTorch group without "lr".
  optim::AdamOptions two_groups;
  two_groups.lr = 0.02;
  optim::Adam<double> grouped(
      std::vector<optim::ParamGroup<double>>{optim::ParamGroup<double>{params()},
                                             optim::ParamGroup<double>{params(), 0.5}},
      two_groups);
  CHECK(grouped.param_groups()[0].lr == 0.02);
  CHECK(grouped.param_groups()[1].lr == 0.5);
  optim::SGD<double> sgd_groups(std::vector<optim::ParamGroup<double>>{{params()}});
  CHECK(sgd_groups.param_groups()[0].lr == 1e-3);
  // A group's NaN learning rate is an error, not "none given".
  const double nan = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_WITH_AS(optim::Adam<double>(std::vector<optim::ParamGroup<double>>{{params(), nan}}),
                       doctest::Contains("Adam: learning rate nan must be finite"),
                       tapegrad::value_error);

  // Schedules: StepLR and MultiStepLR gamma=0.1, CosineAnnealingLR eta_min=0, LinearLR
  // start_factor=1/3, end_factor=1, total_iters=5.
  optim::SGD<double> a(params(), {/*lr=*/1.0});
  optim::StepLR<double> step(a, 2);
  step.step();
  step.step();
  CHECK(lr_of(a) == doctest::Approx(0.1).epsilon(1e-15));
  optim::SGD<double> b(params(), {/*lr=*/1.0});
  optim::MultiStepLR<double> multi(b, {1});
  multi.step();
  CHECK(lr_of(b) == doctest::Approx(0.1).epsilon(1e-15));
  optim::SGD<double> c(params(), {/*lr=*/1.0});
  optim::CosineAnnealingLR<double> cosine(c, 4);
  for (int k = 0; k < 4; ++k) cosine.step();
  CHECK(std::abs(lr_of(c)) < 1e-15);
  optim::SGD<double> d(params(), {/*lr=*/1.0});
  optim::LinearLR<double> warmup(d);
  CHECK(lr_of(d) == doctest::Approx(1.0 / 3.0).epsilon(1e-15));
  for (int k = 0; k < 4; ++k) warmup.step();
  CHECK(lr_of(d) < 1.0);
  warmup.step();
  CHECK(lr_of(d) == doctest::Approx(1.0).epsilon(1e-15));
  optim::SGD<double> e(params(), {/*lr=*/1.0});
  optim::ReduceLROnPlateau<double> plateau(e);  // mode min, factor 0.1, patience 10
  for (int k = 0; k < 12; ++k) plateau.step(1.0);
  CHECK(lr_of(e) == doctest::Approx(0.1).epsilon(1e-15));
}

TEST_CASE("optimizer state is kept and saved under PyTorch's names") {
  using tapegrad::Array;
  using tapegrad::Var;
  const auto keys_after_a_step = [](auto& optimizer, Var<float>& w) {
    optimizer.zero_grad();
    tapegrad::sum(w * w).backward();
    optimizer.step();
    std::set<std::string> keys;
    for (const auto& [name, value] : optimizer.state_dict()) keys.insert(name);
    return keys;
  };
  const auto fresh = [] { return tapegrad::parameter<float>(Array<float>{1.0f, -2.0f}, "w"); };
  {
    Var<float> w = fresh();
    tapegrad::optim::SGDOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    tapegrad::optim::SGD<float> sgd({w}, o);
    CHECK(keys_after_a_step(sgd, w) ==
          std::set<std::string>{"steps", "state.0.step", "state.0.momentum_buffer", "group.0.lr"});
  }
  {
    Var<float> w = fresh();
    tapegrad::optim::AdamOptions o;
    o.amsgrad = true;
    tapegrad::optim::Adam<float> adam({w}, o);
    CHECK(keys_after_a_step(adam, w) ==
          std::set<std::string>{"steps", "state.0.step", "state.0.exp_avg", "state.0.exp_avg_sq",
                                "state.0.max_exp_avg_sq", "group.0.lr"});
  }
  {
    Var<float> w = fresh();
    tapegrad::optim::RMSpropOptions o;
    o.centered = true;
    o.momentum = 0.5;
    tapegrad::optim::RMSprop<float> rms({w}, o);
    CHECK(keys_after_a_step(rms, w) ==
          std::set<std::string>{"steps", "state.0.step", "state.0.square_avg", "state.0.grad_avg",
                                "state.0.momentum_buffer", "group.0.lr"});
  }
  {
    Var<float> w = fresh();
    tapegrad::optim::Adagrad<float> adagrad({w}, tapegrad::optim::AdagradOptions{});
    CHECK(keys_after_a_step(adagrad, w) ==
          std::set<std::string>{"steps", "state.0.step", "state.0.sum", "group.0.lr"});
  }
  tapegrad::optim::ParamState<float> state;
  state.add("exp_avg", Array<float>{1.0f});
  CHECK(state["exp_avg"](0) == 1.0f);
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::usage_error>([&] { state["momentum"]; }),
                    "ParamState: no buffer 'momentum'");
}

// ---- the update loops against a scalar reference, bit for bit ----
//
// The library's update loops are vectorised, a loop per combination of settings. Each optimizer
// runs here beside a plain scalar loop written from PyTorch's formulas, in float and in double,
// and the parameters must be bitwise equal after every step: +, -, *, /, sqrt and fma are
// correctly rounded IEEE operations, so a vector lane rounds as scalar code does and no
// tolerance is needed. Which products are fused is part of the arithmetic: the library fuses
// those its formulas name (one rounding where the target has FMA, optim/src/
// optimizer_detail.hpp) and compiles its loops with -ffp-contract=off; `fused` is the same, and
// this file is compiled with -ffp-contract=off too (tests/CMakeLists.txt), so neither side
// fuses anything else.

namespace {

// a * b + c, rounded once where the target has FMA.
template <class T>
T fused(T a, T b, T c) {
#if defined(__FMA__) || defined(__ARM_FEATURE_FMA)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

enum class Kind { sgd, adam, adamw, rmsprop, adagrad };

struct RefCase {
  std::string name;
  Kind kind = Kind::sgd;
  optim::SGDOptions sgd;
  optim::AdamOptions adam;
  optim::RMSpropOptions rms;
  optim::AdagradOptions ada;
};

// Every setting that changes an update loop, over the weight decay: 34 cases.
std::vector<RefCase> reference_cases() {
  std::vector<RefCase> cases;
  const auto add = [&cases](Kind kind, std::string name) -> RefCase& {
    RefCase c;
    c.kind = kind;
    c.name = std::move(name);
    cases.push_back(c);
    return cases.back();
  };
  for (const double wd : {0.0, 0.01}) {
    const std::string w = wd > 0.0 ? " wd" : "";
    add(Kind::sgd, "sgd" + w).sgd.weight_decay = wd;
    for (const int variant : {0, 1, 2}) {  // momentum; with dampening; nesterov
      RefCase& c = add(Kind::sgd, std::string("sgd momentum") +
                                      (variant == 1   ? " dampening"
                                       : variant == 2 ? " nesterov"
                                                      : "") +
                                      w);
      c.sgd.momentum = 0.9;
      c.sgd.dampening = variant == 1 ? 0.3 : 0.0;
      c.sgd.nesterov = variant == 2;
      c.sgd.weight_decay = wd;
    }
  }
  for (const bool amsgrad : {false, true}) {
    const std::string a = amsgrad ? " amsgrad" : "";
    for (const double wd : {0.0, 0.05}) {
      RefCase& c = add(Kind::adam, "adam" + a + (wd > 0.0 ? " wd" : ""));
      c.adam.lr = 0.01;
      c.adam.weight_decay = wd;
      c.adam.amsgrad = amsgrad;
    }
    for (const double wd : {0.0, 0.01, 0.1}) {
      RefCase& c = add(Kind::adamw, "adamw" + a + " wd " + std::to_string(wd));
      c.adam.lr = 0.01;
      c.adam.weight_decay = wd;
      c.adam.amsgrad = amsgrad;
    }
  }
  for (const double wd : {0.0, 0.05}) {
    for (const bool centered : {false, true}) {
      for (const double momentum : {0.0, 0.8}) {
        RefCase& c =
            add(Kind::rmsprop, std::string("rmsprop") + (centered ? " centered" : "") +
                                   (momentum > 0.0 ? " momentum" : "") + (wd > 0.0 ? " wd" : ""));
        c.rms.weight_decay = wd;
        c.rms.centered = centered;
        c.rms.momentum = momentum;
      }
    }
    for (const double lr_decay : {0.0, 0.1}) {
      for (const double initial : {0.0, 0.2}) {
        RefCase& c =
            add(Kind::adagrad, std::string("adagrad") + (lr_decay > 0.0 ? " lr_decay" : "") +
                                   (initial > 0.0 ? " initial" : "") + (wd > 0.0 ? " wd" : ""));
        c.ada.lr = 0.05;
        c.ada.weight_decay = wd;
        c.ada.lr_decay = lr_decay;
        c.ada.initial_accumulator_value = initial;
      }
    }
  }
  return cases;
}

double lr_of(const RefCase& c) {
  switch (c.kind) {
    case Kind::sgd:
      return 0.05;
    case Kind::adam:
    case Kind::adamw:
      return c.adam.lr;
    case Kind::rmsprop:
      return c.rms.lr;
    case Kind::adagrad:
      return c.ada.lr;
  }
  return 0.0;
}

template <class T>
std::unique_ptr<optim::Optimizer<T>> make_library(const RefCase& c,
                                                  std::vector<optim::ParamGroup<T>> groups) {
  switch (c.kind) {
    case Kind::sgd:
      return std::make_unique<optim::SGD<T>>(std::move(groups), c.sgd);
    case Kind::adam:
      return std::make_unique<optim::Adam<T>>(std::move(groups), c.adam);
    case Kind::adamw:
      return std::make_unique<optim::AdamW<T>>(std::move(groups), optim::AdamWOptions(c.adam));
    case Kind::rmsprop:
      return std::make_unique<optim::RMSprop<T>>(std::move(groups), c.rms);
    case Kind::adagrad:
      return std::make_unique<optim::Adagrad<T>>(std::move(groups), c.ada);
  }
  return nullptr;
}

// One parameter's buffers in the reference, and its update count t.
template <class T>
struct RefState {
  std::vector<T> a, b, c;
  std::int64_t t = 0;
};

// One update of p by grad at learning rate lr, straight from PyTorch's formulas, element by
// element. "p - x y" is written fused(-x, y, p).
template <class T>
void reference_update(const RefCase& c, double lr, std::vector<T>& p, const std::vector<T>& grad,
                      RefState<T>& s) {
  const std::size_t n = p.size();
  const bool first = s.t == 0;
  ++s.t;
  if (first) {
    s.a.assign(n, T(0));
    s.b.assign(n, T(0));
    s.c.assign(n, T(0));
  }
  const T lr_t = static_cast<T>(lr);
  switch (c.kind) {
    case Kind::sgd: {
      const T wd = static_cast<T>(c.sgd.weight_decay), mom = static_cast<T>(c.sgd.momentum);
      const T damp = static_cast<T>(c.sgd.dampening);
      for (std::size_t i = 0; i < n; ++i) {
        T g = grad[i];
        if (wd != T(0)) g = fused(wd, p[i], g);  // g + wd p
        if (mom != T(0)) {
          // b = g at first (a clone), then momentum b + (1 - dampening) g
          s.a[i] = first ? g : fused(mom, s.a[i], (T(1) - damp) * g);
          g = c.sgd.nesterov ? fused(mom, s.a[i], g) : s.a[i];
        }
        p[i] = fused(-lr_t, g, p[i]);  // p - lr g
      }
      break;
    }
    case Kind::adam:
    case Kind::adamw: {
      const optim::AdamOptions& o = c.adam;
      const T b1 = static_cast<T>(o.beta1), b2 = static_cast<T>(o.beta2);
      const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
      const double t = static_cast<double>(s.t);
      const T step_size = lr_t / static_cast<T>(1.0 - std::pow(o.beta1, t));  // lr / (1 - b1^t)
      const T bias2_sqrt = static_cast<T>(std::sqrt(1.0 - std::pow(o.beta2, t)));
      for (std::size_t i = 0; i < n; ++i) {
        T g = grad[i];
        if (c.kind == Kind::adamw) {
          p[i] = p[i] * fused(-lr_t, wd, T(1));  // p (1 - lr wd)
        } else if (wd != T(0)) {
          g = fused(wd, p[i], g);  // g + wd p
        }
        s.a[i] = fused(b1, s.a[i], (T(1) - b1) * g);      // m = b1 m + (1 - b1) g
        s.b[i] = fused(b2, s.b[i], (T(1) - b2) * g * g);  // v = b2 v + (1 - b2) g g
        T v = s.b[i];
        if (o.amsgrad) {
          s.c[i] = std::max(s.c[i], s.b[i]);
          v = s.c[i];
        }
        const T denom = std::sqrt(v) / bias2_sqrt + eps;
        p[i] = fused(-step_size, s.a[i] / denom, p[i]);  // p - step_size m / denom
      }
      break;
    }
    case Kind::rmsprop: {
      const optim::RMSpropOptions& o = c.rms;
      const T alpha = static_cast<T>(o.alpha), eps = static_cast<T>(o.eps);
      const T wd = static_cast<T>(o.weight_decay), mom = static_cast<T>(o.momentum);
      for (std::size_t i = 0; i < n; ++i) {
        T g = grad[i];
        if (wd != T(0)) g = fused(wd, p[i], g);
        s.a[i] = fused(alpha, s.a[i], (T(1) - alpha) * g * g);  // s = alpha s + (1 - alpha) g g
        T avg;
        if (o.centered) {
          s.b[i] = fused(alpha, s.b[i], (T(1) - alpha) * g);      // a = alpha a + (1 - alpha) g
          avg = std::sqrt(fused(-s.b[i], s.b[i], s.a[i])) + eps;  // sqrt(s - a a) + eps
        } else {
          avg = std::sqrt(s.a[i]) + eps;
        }
        if (mom > T(0)) {
          s.c[i] = fused(mom, s.c[i], g / avg);  // b = momentum b + g / avg
          p[i] = fused(-lr_t, s.c[i], p[i]);
        } else {
          p[i] = fused(-lr_t, g / avg, p[i]);
        }
      }
      break;
    }
    case Kind::adagrad: {
      const optim::AdagradOptions& o = c.ada;
      if (first) s.a.assign(n, static_cast<T>(o.initial_accumulator_value));
      const T wd = static_cast<T>(o.weight_decay), eps = static_cast<T>(o.eps);
      // clr = lr / (1 + (t - 1) lr_decay), in double
      const T clr = static_cast<T>(lr / fused(static_cast<double>(s.t - 1), o.lr_decay, 1.0));
      for (std::size_t i = 0; i < n; ++i) {
        T g = grad[i];
        if (wd != T(0)) g = fused(wd, p[i], g);
        s.a[i] = fused(g, g, s.a[i]);                             // sum += g g
        p[i] = fused(-clr, g / (std::sqrt(s.a[i]) + eps), p[i]);  // p - clr g / (sqrt(sum) + eps)
      }
      break;
    }
  }
}

// "" when a's elements have exactly the bits of b's, else the first that differs.
template <class T>
std::string first_difference(const Array<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return "sizes differ";
  for (std::size_t i = 0; i < b.size(); ++i) {
    if (std::memcmp(a.data() + i, &b[i], sizeof(T)) != 0) {
      std::ostringstream out;
      out.precision(std::numeric_limits<T>::max_digits10);
      out << "element " << i << ": " << a.data()[i] << " against the reference's " << b[i];
      return out.str();
    }
  }
  return "";
}

// Runs every case on four parameters in two groups (sizes 37, 65, 1, 24: vector loops and their
// remainders), 8 steps with new gradients each, the last parameter without a gradient at steps
// 3 and 6 (its own update count falls behind) and group 0's lr changed before step 5.
template <class T>
void check_against_reference(const std::string& type) {
  const std::vector<std::vector<std::size_t>> shapes{{37}, {5, 13}, {1}, {3, 8}};
  for (const RefCase& c : reference_cases()) {
    INFO(type, " ", c.name);
    tapegrad::Generator gen(2024);
    std::vector<Var<T>> params;
    std::vector<std::vector<T>> ref;
    for (const auto& shape : shapes) {
      Array<T> v = gen.uniform<T>(tapegrad::make_shape(shape), T(-1), T(1));
      ref.emplace_back(v.begin(), v.end());
      params.push_back(tapegrad::parameter(v));
    }
    const double lr = lr_of(c);
    std::vector<double> group_lr{lr, 0.5 * lr};
    auto opt = make_library<T>(c, {optim::ParamGroup<T>{{params[0], params[1]}, group_lr[0]},
                                   optim::ParamGroup<T>{{params[2], params[3]}, group_lr[1]}});
    std::vector<RefState<T>> states(params.size());
    for (int step = 1; step <= 8; ++step) {
      if (step == 5) {
        group_lr[0] *= 0.7;
        opt->param_groups()[0].lr = group_lr[0];
      }
      for (std::size_t k = 0; k < params.size(); ++k) {
        if (k == 3 && step % 3 == 0) {
          params[k].zero_grad();
          continue;
        }
        const T scale = static_cast<T>(step % 2 == 0 ? 0.3 : 2.0);
        Array<T> g = gen.normal<T>(tapegrad::make_shape(shapes[k]), T(0), scale);
        reference_update(c, group_lr[k / 2], ref[k], std::vector<T>(g.begin(), g.end()), states[k]);
        params[k].set_grad(g);
      }
      opt->step();
      for (std::size_t k = 0; k < params.size(); ++k) {
        const std::string diff = first_difference(params[k].value(), ref[k]);
        CHECK_MESSAGE(diff.empty(), "step ", step, ", parameter ", k, ": ", diff);
      }
    }
  }
}

}  // namespace

TEST_CASE("optim: every update loop equals a scalar reference bit for bit (float, double)") {
  check_against_reference<float>("float");
  check_against_reference<double>("double");
}

TEST_CASE("optim: a buffer the settings need but a loaded state lacks starts at zeros") {
  const auto param = [] { return tapegrad::parameter(Array<double>{0.5, -1.5, 2.0}); };
  const auto grad = [](int k) { return Array<double>{0.25 * k, -0.5, 1.0 / k}; };
  // Adam's state without amsgrad, resumed with it: max_exp_avg_sq starts at 0, so it takes v,
  // and the run goes on as the one without amsgrad.
  optim::AdamOptions plain;
  plain.lr = 0.1;
  Var<double> a = param(), b = param();
  optim::Adam<double> straight({a}, plain);
  a.set_grad(grad(1));
  straight.step();
  optim::AdamOptions with_max = plain;
  with_max.amsgrad = true;
  optim::Adam<double> resumed({b}, with_max);
  b.mutable_value() = a.value();
  resumed.load_state_dict(straight.state_dict());
  a.set_grad(grad(2));
  b.set_grad(grad(2));
  straight.step();
  resumed.step();
  TG_CHECK_CLOSE(b.value(), a.value(), 0.0);
  State state = resumed.state_dict();
  const auto entry = [&state](const std::string& name) -> const Array<double>& {
    for (const auto& [key, value] : state) {
      if (key == name) return value;
    }
    FAIL("no entry ", name);
    return state.front().second;
  };
  TG_CHECK_CLOSE(entry("state.0.max_exp_avg_sq"), entry("state.0.exp_avg_sq"), 0.0);

  // RMSprop's plain state, resumed centered and with momentum (this crashed before).
  Var<double> c = param();
  optim::RMSprop<double> rms_plain({c}, optim::RMSpropOptions{});
  c.set_grad(grad(1));
  rms_plain.step();
  optim::RMSpropOptions centered;
  centered.centered = true;
  centered.momentum = 0.5;
  optim::RMSprop<double> rms_centered({c}, centered);
  rms_centered.load_state_dict(rms_plain.state_dict());
  c.set_grad(grad(2));
  rms_centered.step();
  CHECK(tapegrad_test::all_finite(c.value()));
  state = rms_centered.state_dict();
  CHECK(entry("state.0.grad_avg").shape() == c.value().shape());
  CHECK(entry("state.0.momentum_buffer").shape() == c.value().shape());
}
