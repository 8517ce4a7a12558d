// tapegrad's side of the value check (value_check.hpp), for seq2seq_tapegrad and
// sentiment_tapegrad: runs a few training steps of a module and writes what LibTorch compares.
#pragma once

#include <cstdio>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "rnn/rnn_common.hpp"
#include "tapegrad/autograd/array.hpp"
#include "tapegrad/nn/module.hpp"
#include "value_check.hpp"

namespace value_check {

inline Tensor tensor(const std::string& name, const tapegrad::Array<float>& a) {
  Tensor t{name, {}, {a.begin(), a.end()}};
  for (std::size_t d : a.shape()) t.shape.push_back(static_cast<std::int64_t>(d));
  return t;
}

inline Tensor scalar(const std::string& name, double value) {
  return {name, {}, {static_cast<float>(value)}};
}

/// One training step: `before_clip` runs between backward and the gradient clipping (it
/// records the gradients); returns the loss and the gradient norm before clipping.
using Step = std::function<std::pair<double, double>(const std::function<void()>& before_clip)>;

/// Writes the check file `path`: the initial parameters of `model` ("init/NAME"), the loss and
/// gradient norm of each of `steps` calls of `step` ("loss/K", "norm/K", K from 1), the first
/// step's gradients ("grad/NAME"), every step's ("gradK/NAME", before clipping) and the
/// parameters after the steps ("after/NAME"). Prints
/// one JSON line naming the file.
inline void write_check(const std::string& path, const tapegrad::nn::Module<float>& model,
                        int steps, const Step& step) {
  std::vector<Tensor> out;
  for (const auto& [name, p] : model.named_parameters()) {
    out.push_back(tensor("init/" + name, p.value()));
  }
  for (int k = 1; k <= steps; ++k) {
    const auto [loss, norm] = step([&] {
      for (const auto& [name, p] : model.named_parameters()) {
        if (k == 1) out.push_back(tensor("grad/" + name, p.grad()));
        out.push_back(tensor("grad" + std::to_string(k) + "/" + name, p.grad()));
      }
    });
    out.push_back(scalar("loss/" + std::to_string(k), loss));
    out.push_back(scalar("norm/" + std::to_string(k), norm));
  }
  for (const auto& [name, p] : model.named_parameters()) {
    out.push_back(tensor("after/" + name, p.value()));
  }
  write_tensors(path, out);
  std::printf("{\"lib\":\"tapegrad\",\"check_file\":\"%s\",\"tensors\":%zu}\n",
              rnn_bench::json_escape(path).c_str(), out.size());
}

}  // namespace value_check
