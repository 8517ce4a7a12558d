// A small training run with its whole state (a model, an optimizer, a schedule, a generator,
// the epoch and values), and a fingerprint of it bit for bit: what a failed load or save must
// leave as it was (test_bad_files_optim.cpp, examples/tests/test_bad_files.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <sstream>
#include <string>

#include "helpers.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace tapegrad_test::bad_files {

namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using tapegrad::Array;
using tapegrad::IndexArray;
using tapegrad::Npz;
using tapegrad::Var;

// ---- a model, an optimizer and a schedule, with their state ----

class Tagger : public nn::Module<float> {
 public:
  explicit Tagger(tapegrad::Generator& gen)
      : embed_(10, 4, 0, gen), rnn_(nn::RNNOptions(4, 5), gen), head_(5, 2, true, gen) {
    register_module("embed", embed_);
    register_module("rnn", rnn_);
    register_module("head", head_);
  }
  Var<float> forward(const IndexArray& ids) const {
    return head_(tapegrad::select(rnn_(embed_(ids)).h_n, 0, 0));
  }

 private:
  nn::Embedding<float> embed_;
  nn::GRU<float> rnn_;
  nn::Linear<float> head_;
};

struct Training {
  tapegrad::Generator init{11}, shuffle{12};
  Tagger model{init};
  optim::Adam<float> adam{model.parameters(), optim::AdamOptions{0.01}};
  optim::StepLR<float> schedule{adam, 2, 0.5};
  std::int64_t epoch = 0;
  std::map<std::string, double> values;

  /// `steps` Adam steps on a fixed batch, the schedule and the shuffle generator moved on.
  void train(int steps) {
    const IndexArray ids = {{1, 2, 3}, {4, 5, 6}, {7, 8, 9}};
    for (int s = 0; s < steps; ++s) {
      adam.zero_grad();
      tapegrad::cross_entropy(model.forward(ids), IndexArray{0, 1, 1}).backward();
      adam.step();
      schedule.step();
      shuffle.engine()();
    }
  }
  optim::TrainingState<float> state() {
    optim::TrainingState<float> s;
    s.model = &model;
    s.optimizer = &adam;
    s.schedule = &schedule;
    s.generators = {{"shuffle", &shuffle}};
    s.epoch = epoch;
    s.values = values;
    return s;
  }
};

template <class T>
std::string bits(const Array<T>& a) {
  return tapegrad::shape_str(a.shape()) +
         std::string(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(T));
}

template <class Named>
std::string bits_of(const Named& entries) {
  std::string out;
  for (const auto& [name, value] : entries) out += name + "=" + bits(value) + ";";
  return out;
}

/// Everything a failed load must leave as it was, bit for bit.
inline std::string fingerprint(Training& t, const optim::TrainingState<float>& s) {
  std::ostringstream out;
  out << bits_of(t.model.state_dict()) << "|" << bits_of(t.adam.state_dict()) << "|";
  for (const auto& g : t.adam.param_groups()) out << g.lr << ",";
  out << "|" << bits_of(t.schedule.state_dict()) << "|" << t.shuffle.engine() << "|" << s.epoch;
  for (const auto& [name, value] : s.values) out << "|" << name << "=" << value;
  return out.str();
}

/// `npz` without the entry `name`.
inline Npz without(const Npz& npz, const std::string& name) {
  Npz out;
  for (const auto& n : npz.names()) {
    if (n == name) continue;
    const std::string dtype = npz.dtype(n);
    if (dtype == "float32") out.put(n, npz.get<float>(n));
    if (dtype == "float64") out.put(n, npz.get<double>(n));
    if (dtype == "int64") out.put(n, npz.get_index(n));
  }
  return out;
}

inline Array<double> scalar(double v) {
  Array<double> a = Array<double>::from_shape({});
  a() = v;
  return a;
}

}  // namespace tapegrad_test::bad_files
