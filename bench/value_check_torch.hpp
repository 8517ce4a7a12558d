// LibTorch's side of the value check (value_check.hpp), for seq2seq_torch and sentiment_torch:
// loads the tapegrad binary's initial weights into a module by name, runs the same training
// steps and compares the losses, the gradient norms, the first step's gradients and the weights
// after the steps.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "rnn/rnn_common.hpp"
#include "value_check.hpp"

namespace value_check {

/// A tensor's values, as float.
inline std::vector<float> values(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().contiguous().to(torch::kFloat);
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
}

/// One training step: `before_clip` runs between backward and the gradient clipping (it reads
/// the gradients); returns the loss and the gradient norm before clipping.
using TorchStep =
    std::function<std::pair<double, double>(const std::function<void()>& before_clip)>;

/// Loads the "init/" weights of the check file `path` into `model` (every name and shape must
/// match), runs `steps` calls of `step` and compares them with the file. Prints one JSON line
/// of the errors with "check": "pass" or "fail"; returns the exit status, 0 when it passed.
inline int compare_check(const std::string& path, torch::nn::Module& model, int steps,
                         const TorchStep& step) {
  std::map<std::string, Tensor> ref;
  for (auto& t : read_tensors(path)) ref[t.name] = std::move(t);
  // the same names and shapes on both sides, then tapegrad's initial values
  std::string mismatch;
  std::size_t loaded = 0;
  {
    torch::NoGradGuard no_grad;
    for (const auto& item : model.named_parameters()) {
      const auto it = ref.find("init/" + item.key());
      torch::Tensor p = item.value();
      if (it == ref.end() || it->second.shape != p.sizes().vec()) {
        mismatch += (mismatch.empty() ? "" : ", ") + item.key();
        continue;
      }
      p.copy_(torch::tensor(it->second.data).reshape(p.sizes()));
      ++loaded;
    }
  }
  std::size_t expected = 0;
  for (const auto& [name, t] : ref) expected += name.rfind("init/", 0) == 0 ? 1 : 0;
  double loss_err = 0.0, norm_err = 0.0, grad_err = 0.0, after_err = 0.0, after_abs = 0.0;
  std::string worst_grad;
  double loss_tg = 0.0, loss_lt = 0.0;
  for (int k = 1; k <= steps && mismatch.empty(); ++k) {
    const auto [loss_value, norm] = step([&] {
      if (k > 1) return;
      for (const auto& item : model.named_parameters()) {
        const double e = scaled_error(values(item.value().grad()), ref["grad/" + item.key()].data);
        if (e >= grad_err) worst_grad = item.key();
        grad_err = std::max(grad_err, e);
      }
    });
    const double tg_loss = ref["loss/" + std::to_string(k)].data.at(0);
    const double tg_norm = ref["norm/" + std::to_string(k)].data.at(0);
    if (k == 1) {
      loss_tg = tg_loss;
      loss_lt = loss_value;
    }
    loss_err = std::max(loss_err, std::abs(loss_value - tg_loss) / std::abs(tg_loss));
    norm_err = std::max(norm_err, std::abs(norm - tg_norm) / std::abs(tg_norm));
  }
  for (const auto& item : model.named_parameters()) {
    const std::vector<float> now = values(item.value());
    const std::vector<float>& tg = ref["after/" + item.key()].data;
    after_err = std::max(after_err, scaled_error(now, tg));
    for (std::size_t i = 0; i < now.size() && i < tg.size(); ++i) {
      after_abs = std::max(after_abs, std::abs(static_cast<double>(now[i]) - tg[i]));
    }
  }
  // float32 on both sides, different summation orders: errors of 1e-6 relative are expected;
  // a different model or a wrong gradient is off by 1e-2 and more.
  const bool pass = mismatch.empty() && loaded == expected && loss_err < 1e-4 && norm_err < 1e-3 &&
                    grad_err < 1e-3 && after_abs < 1e-4;
  rnn_bench::JsonLine j;
  j.add("lib", "libtorch")
      .add("check", pass ? "pass" : "fail")
      .add("parameters_matched", static_cast<std::int64_t>(loaded))
      .add("parameters_expected", static_cast<std::int64_t>(expected))
      .add("mismatched", mismatch)
      .add("steps", steps)
      .add("loss_tapegrad", loss_tg)
      .add("loss_libtorch", loss_lt)
      .add("loss_rel_err", loss_err)
      .add("grad_norm_rel_err", norm_err)
      .add("grad_scaled_err", grad_err)
      .add("grad_worst", worst_grad)
      .add("after_scaled_err", after_err)
      .add("after_abs_err", after_abs);
  std::printf("%s\n", j.str().c_str());
  return pass ? 0 : 1;
}

}  // namespace value_check
