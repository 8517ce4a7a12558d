// One optimizer step alone, over the parameter sets of the recurrent benchmark's models
// (bench/rnn: an LSTM of one layer and its Linear(H, 10) head), for every optimizer and the
// settings that change its inner loop. docs/performance.md ("Optimizer step") has a run.
//
//   bench_optim [--dtype float|double] [--reps R] [--min-rep-ms M] [--filter TEXT]
//
// Each row: fresh parameters ~ U(-0.1, 0.1) and gradients ~ N(0, 0.1) (seeded, the same for
// every row of a model), a new optimizer, 10 steps whose result is hashed (FNV-1a over the
// parameters' bytes: equal hashes from two builds are bit-identical updates), 3 warm-up steps,
// then R reps of enough consecutive steps to last M ms each; the row gives the median and the
// fastest rep in µs per step, and the median in ns per parameter element. The gradients are set
// once and kept, so only optimizer.step() is timed.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/var.hpp"
#include "tapegrad/optim/optimizer.hpp"

namespace {

using tapegrad::Array;
using tapegrad::Var;
namespace optim = tapegrad::optim;

constexpr std::size_t kClasses = 10;  // the head of bench/rnn's models

struct Config {
  std::string dtype = "float";
  int reps = 15;
  double min_rep_ms = 50.0;
  std::string filter;  // rows whose "model/optimizer" contains it
};

Config parse_args(int argc, char** argv) {
  Config c;
  try {
    for (int i = 1; i < argc; i += 2) {
      const std::string key = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument("option " + key + " needs a value");
      const std::string value = argv[i + 1];
      if (key == "--dtype") {
        c.dtype = value;
      } else if (key == "--reps") {
        c.reps = std::stoi(value);
      } else if (key == "--min-rep-ms") {
        c.min_rep_ms = std::stod(value);
      } else if (key == "--filter") {
        c.filter = value;
      } else {
        throw std::invalid_argument("unknown option " + key);
      }
    }
    if (c.dtype != "float" && c.dtype != "double") {
      throw std::invalid_argument("--dtype must be float or double, got " + c.dtype);
    }
    if (c.reps < 1 || !(c.min_rep_ms > 0.0)) {
      throw std::invalid_argument("--reps and --min-rep-ms must be positive");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr,
                 "%s: %s\nusage: bench_optim [--dtype float|double] [--reps R] [--min-rep-ms M] "
                 "[--filter TEXT]\n",
                 argv[0], e.what());
    std::exit(2);
  }
  return c;
}

/// A model's parameter shapes: an LSTM(input, hidden) of one layer and a Linear(hidden, 10).
struct Model {
  std::string name;
  std::vector<std::vector<std::size_t>> shapes;
};

Model lstm_model(const std::string& name, std::size_t input, std::size_t hidden) {
  return {name,
          {{4 * hidden, input},
           {4 * hidden, hidden},
           {4 * hidden},
           {4 * hidden},
           {kClasses, hidden},
           {kClasses}}};
}

template <class T>
using Factory = std::function<std::unique_ptr<optim::Optimizer<T>>(std::vector<Var<T>>)>;

template <class T>
std::vector<std::pair<std::string, Factory<T>>> optimizers() {
  std::vector<std::pair<std::string, Factory<T>>> out;
  const auto adam = [&out](const std::string& name, optim::AdamOptions o, bool decoupled) {
    out.emplace_back(name, [o, decoupled](std::vector<Var<T>> p) {
      return decoupled ? std::unique_ptr<optim::Optimizer<T>>(
                             std::make_unique<optim::AdamW<T>>(std::move(p), o))
                       : std::make_unique<optim::Adam<T>>(std::move(p), o);
    });
  };
  optim::AdamOptions a;  // lr 1e-3, as bench/rnn's training step
  adam("adam", a, false);
  optim::AdamOptions a_wd = a;
  a_wd.weight_decay = 0.01;
  adam("adam_wd", a_wd, false);
  optim::AdamOptions a_ams = a;
  a_ams.amsgrad = true;
  adam("adam_amsgrad", a_ams, false);
  adam("adamw", a_wd, true);
  optim::AdamOptions aw_ams = a_wd;
  aw_ams.amsgrad = true;
  adam("adamw_amsgrad", aw_ams, true);
  out.emplace_back("rmsprop", [](std::vector<Var<T>> p) {
    return std::make_unique<optim::RMSprop<T>>(std::move(p), optim::RMSpropOptions{});
  });
  out.emplace_back("rmsprop_centered_momentum_wd", [](std::vector<Var<T>> p) {
    optim::RMSpropOptions o;
    o.centered = true;
    o.momentum = 0.9;
    o.weight_decay = 0.01;
    return std::make_unique<optim::RMSprop<T>>(std::move(p), o);
  });
  out.emplace_back("adagrad", [](std::vector<Var<T>> p) {
    return std::make_unique<optim::Adagrad<T>>(std::move(p), optim::AdagradOptions{});
  });
  out.emplace_back("sgd", [](std::vector<Var<T>> p) {
    optim::SGDOptions o;
    o.lr = 0.01;
    return std::make_unique<optim::SGD<T>>(std::move(p), o);
  });
  out.emplace_back("sgd_nesterov_wd", [](std::vector<Var<T>> p) {
    optim::SGDOptions o;
    o.lr = 0.01;
    o.momentum = 0.9;
    o.nesterov = true;
    o.weight_decay = 1e-4;
    return std::make_unique<optim::SGD<T>>(std::move(p), o);
  });
  return out;
}

double now_us() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::micro>(clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

std::uint64_t fnv1a(std::uint64_t h, const void* data, std::size_t bytes) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < bytes; ++i) {
    h ^= p[i];
    h *= 1099511628211ULL;
  }
  return h;
}

template <class T>
void run(const Config& c) {
  const std::vector<Model> models{lstm_model("lstm_1_50_64_64", 64, 64),
                                  lstm_model("lstm_32_100_128_256", 128, 256)};
  std::printf(
      "| model | optimizer | elements | µs/step (median) | µs/step (min) | ns/element | "
      "hash after 10 steps |\n|---|---|---:|---:|---:|---:|---|\n");
  for (const auto& model : models) {
    for (const auto& [name, make] : optimizers<T>()) {
      const std::string row = model.name + "/" + name;
      if (row.find(c.filter) == std::string::npos) continue;
      tapegrad::Generator gen(7);
      std::vector<Var<T>> params;
      std::size_t elements = 0;
      for (const auto& shape : model.shapes) {
        const auto s = tapegrad::make_shape(shape);
        Var<T> p = tapegrad::parameter(gen.uniform<T>(s, T(-0.1), T(0.1)));
        p.set_grad(gen.normal<T>(s, T(0), T(0.1)));
        elements += p.value().size();
        params.push_back(p);
      }
      const std::unique_ptr<optim::Optimizer<T>> opt = make(params);
      for (int k = 0; k < 10; ++k) opt->step();
      std::uint64_t hash = 14695981039346656037ULL;
      for (const auto& p : params)
        hash = fnv1a(hash, p.value().data(), p.value().size() * sizeof(T));

      double last = 0.0;
      for (int k = 0; k < 3; ++k) {
        const double t0 = now_us();
        opt->step();
        last = now_us() - t0;
      }
      const int inner = static_cast<int>(
          std::clamp(std::ceil(c.min_rep_ms * 1e3 / std::max(last, 1e-3)), 1.0, 1e6));
      std::vector<double> times;
      for (int r = 0; r < c.reps; ++r) {
        const double t0 = now_us();
        for (int k = 0; k < inner; ++k) opt->step();
        times.push_back((now_us() - t0) / inner);
      }
      const double med = median(times);
      std::printf("| %s | %s | %zu | %.2f | %.2f | %.3f | %016llx |\n", model.name.c_str(),
                  name.c_str(), elements, med, *std::min_element(times.begin(), times.end()),
                  med * 1e3 / static_cast<double>(elements), static_cast<unsigned long long>(hash));
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Config c = parse_args(argc, argv);
  if (c.dtype == "float") {
    run<float>(c);
  } else {
    run<double>(c);
  }
  return 0;
}
