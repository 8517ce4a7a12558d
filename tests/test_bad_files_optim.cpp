// Bad files given to tapegrad::optim's model files and training checkpoints: each load refuses
// them naming the file and changes nothing of the run, bit for bit (the cases: bad_files.hpp).
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "bad_files.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"
#include "training_run.hpp"

// fs, nn, optim, Training, fingerprint, check_refused, npz_cases, ...
using namespace tapegrad_test::bad_files;
using tapegrad_test::TempDir;

// ---- models and training checkpoints ----

TEST_CASE("bad files: load_model refuses bad files and leaves every parameter bit for bit") {
  TempDir dir;
  Training saved, target;
  saved.train(2);
  optim::save_model(saved.model, dir.file("model.npz"));
  const std::string valid = read_bytes(dir.file("model.npz"));
  optim::TrainingState<float> state = target.state();
  const std::string before = fingerprint(target, state);
  const auto unchanged = [&] { return fingerprint(target, state) == before; };
  const auto load = [&](const std::string& path) { optim::load_model(target.model, path); };

  check_refused(dir, dir.file("bad.npz"), npz_cases(valid), load, unchanged);

  const Npz good = Npz::load(dir.file("model.npz"));
  const auto archive = [&](Npz npz) {
    npz.save(dir.file("tmp.npz"));
    const std::string b = read_bytes(dir.file("tmp.npz"));
    fs::remove(dir.file("tmp.npz"));
    return b;
  };
  Npz as_int = good, as_scalar = good, transposed = good;
  as_int.put("head.bias", IndexArray{0, 1});
  as_scalar.put("head.bias", Array<float>::from_shape({}));
  transposed.put("head.weight", Array<float>::from_shape({5, 2}));
  const std::vector<BadFile> contents = {
      with_bytes("an int64 parameter", archive(as_int),
                 "'head.bias' is int64, the model is float32"),
      with_bytes("a scalar parameter", archive(as_scalar),
                 "'head.bias' has shape [], the model expects [2]"),
      with_bytes("a transposed parameter", archive(transposed),
                 "'head.weight' has shape [5,2], the model expects [2,5]"),
      with_bytes("an empty archive", archive(Npz()), "missing embed.weight"),
  };
  check_refused(dir, dir.file("bad.npz"), contents, load, unchanged);
  // The last parameter in the file is the bad one: nothing before it was assigned either.
  CHECK(good.names().back() == "head.bias");
  CHECK(read_bytes(dir.file("model.npz")) == valid);
}

TEST_CASE("bad files: load_checkpoint refuses bad files and changes nothing of the run") {
  TempDir dir;
  Training saved;
  saved.train(3);
  saved.epoch = 3;
  saved.values = {{"best", 0.5}};
  optim::save_checkpoint(dir.file("ckpt.npz"), saved.state());
  const std::string valid = read_bytes(dir.file("ckpt.npz"));

  Training target;
  target.train(1);  // its own Adam state, schedule and generator
  target.epoch = 1;
  target.values = {{"best", 2.0}};
  optim::TrainingState<float> state = target.state();
  const std::string before = fingerprint(target, state);
  const auto unchanged = [&] { return fingerprint(target, state) == before; };
  const auto load = [&](const std::string& path) { optim::load_checkpoint(path, state); };

  check_refused(dir, dir.file("bad.npz"), npz_cases(valid), load, unchanged);

  const Npz good = Npz::load(dir.file("ckpt.npz"));
  const auto archive = [&](const std::function<void(Npz&)>& edit) {
    Npz npz = good;
    edit(npz);
    npz.save(dir.file("tmp.npz"));
    const std::string b = read_bytes(dir.file("tmp.npz"));
    fs::remove(dir.file("tmp.npz"));
    return b;
  };
  const auto dropping = [&](const std::string& name) {
    const Npz npz = without(good, name);
    npz.save(dir.file("tmp.npz"));
    const std::string b = read_bytes(dir.file("tmp.npz"));
    fs::remove(dir.file("tmp.npz"));
    return b;
  };
  const std::vector<BadFile> contents = {
      with_bytes("a model parameter of the wrong shape",
                 archive([](Npz& n) { n.put("model.head.bias", Array<float>::from_shape({3})); }),
                 "'model.head.bias' has shape [3], the model expects [2]"),
      with_bytes("a model parameter missing", dropping("model.rnn.bias_hh_l0"),
                 "missing model.rnn.bias_hh_l0"),
      with_bytes("an unknown model parameter", archive([](Npz& n) {
                   n.put("model.rnn.weight_ih_l1", Array<float>::from_shape({15, 5}));
                 }),
                 "unexpected model.rnn.weight_ih_l1"),
      with_bytes("a model parameter in float64", archive([&](Npz& n) {
                   n.put("model.head.bias", good.get_as<double>("model.head.bias"));
                 }),
                 "'model.head.bias' is float64, the model is float32"),
      with_bytes("an Adam moment of the wrong shape", archive([](Npz& n) {
                   n.put("optimizer.state.0.exp_avg", Array<float>::from_shape({2, 2}));
                 }),
                 "'state.0.exp_avg' has shape [2,2]"),
      with_bytes("an Adam moment in float64", archive([&](Npz& n) {
                   n.put("optimizer.state.0.exp_avg",
                         good.get_as<double>("optimizer.state.0.exp_avg"));
                 }),
                 "'optimizer.state.0.exp_avg' is float64, expected float32"),
      with_bytes("the optimizer's step count empty",
                 archive([](Npz& n) { n.put("optimizer.steps", Array<float>::from_shape({0})); }),
                 "'steps'"),
      with_bytes("a parameter's step count empty", archive([](Npz& n) {
                   n.put("optimizer.state.1.step", Array<float>::from_shape({0}));
                 }),
                 "'state.1.step'"),
      with_bytes("a group's learning rate empty", archive([](Npz& n) {
                   n.put("optimizer.group.0.lr", Array<float>::from_shape({0}));
                 }),
                 "'group.0.lr'"),
      with_bytes("no optimizer state", dropping("optimizer.steps"), "missing 'steps'"),
      with_bytes("the learning rate missing", dropping("lr.0"), "missing 'lr.0'"),
      with_bytes("the learning rate empty",
                 archive([](Npz& n) { n.put("lr.0", Array<double>::from_shape({0})); }), "'lr.0'"),
      with_bytes("the schedule's epoch empty",
                 archive([](Npz& n) { n.put("schedule.epoch", Array<double>::from_shape({0})); }),
                 "'epoch'"),
      with_bytes("the schedule's learning rates for 2 groups", archive([](Npz& n) {
                   n.put("schedule.lrs", Array<double>{0.1, 0.2});
                 }),
                 "'base_lrs' has 1 and 'lrs' 2 learning rates, for 1 groups"),
      with_bytes("the epoch missing", dropping("meta.epoch"), "missing 'meta.epoch'"),
      with_bytes("the epoch empty",
                 archive([](Npz& n) { n.put("meta.epoch", IndexArray::from_shape({0})); }),
                 "'meta.epoch'"),
      with_bytes("the epoch in float64", archive([](Npz& n) { n.put("meta.epoch", scalar(3.0)); }),
                 "'meta.epoch' is float64, expected an integer array"),
      with_bytes("a value with two numbers", archive([](Npz& n) {
                   n.put("value.best", Array<double>{0.5, 0.25});
                 }),
                 "'value.best'"),
      with_bytes("a value in float32",
                 archive([](Npz& n) { n.put("value.best", Array<float>::from_shape({})); }),
                 "'value.best' is float32, expected float64"),
      with_bytes("a generator's state cut", archive([](Npz& n) {
                   n.put("rng.shuffle", IndexArray{49, 50, 32});
                 }),
                 "'rng.shuffle' is corrupt"),
      with_bytes("a generator's state missing", dropping("rng.shuffle"), "missing 'rng.shuffle'"),
  };
  check_refused(dir, dir.file("bad.npz"), contents, load, unchanged);
  CHECK(read_bytes(dir.file("ckpt.npz")) == valid);

  // The surgery is sound: the valid file loads, and changes the run.
  optim::load_checkpoint(dir.file("ckpt.npz"), state);
  CHECK(state.epoch == 3);
  CHECK_FALSE(unchanged());
}
