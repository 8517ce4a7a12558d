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
  std::map<std::string, std::vector<float>> step_grads;  // LibTorch's, "K/NAME"
  double loss_tg = 0.0, loss_lt = 0.0;
  for (int k = 1; k <= steps && mismatch.empty(); ++k) {
    // Every step's gradients against tapegrad's (older check files carry the first step's only).
    const auto [loss_value, norm] = step([&] {
      for (const auto& item : model.named_parameters()) {
        const std::string key = std::to_string(k) + "/" + item.key();
        step_grads[key] = values(item.value().grad());
        const auto found =
            ref.find((k == 1 ? "grad/" : "grad" + std::to_string(k) + "/") + item.key());
        if (found == ref.end()) continue;
        const double e = scaled_error(step_grads[key], found->second.data);
        if (e >= grad_err) worst_grad = "step " + std::to_string(k) + ": " + item.key();
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
  // The weights after the steps. Adam moves a weight by about its learning rate whatever the
  // size of its gradient, so where a step's gradient is rounding noise (under kNoise of the
  // tensor's largest on tapegrad's side) the two libraries' noise moves it differently: such
  // weights are counted and their largest difference reported, not held to the bound. Where the
  // weights differ most, every step's gradient there on both sides.
  constexpr double kNoise = 1e-4;
  std::string after_worst, after_worst_grads;
  double noise_abs = 0.0, worst = 0.0;
  std::int64_t noise_weights = 0;
  for (const auto& item : model.named_parameters()) {
    const std::vector<float> now = values(item.value());
    const std::vector<float>& tg = ref["after/" + item.key()].data;
    after_err = std::max(after_err, scaled_error(now, tg));
    std::vector<const std::vector<float>*> grads;  // tapegrad's, per step
    std::vector<double> largest;
    for (int k = 1; k <= steps; ++k) {
      const auto found = ref.find("grad" + std::to_string(k) + "/" + item.key());
      if (found == ref.end()) continue;
      grads.push_back(&found->second.data);
      double m = 0.0;
      for (const float g : found->second.data) m = std::max(m, std::abs(static_cast<double>(g)));
      largest.push_back(m);
    }
    for (std::size_t i = 0; i < now.size() && i < tg.size(); ++i) {
      const double d = std::abs(static_cast<double>(now[i]) - tg[i]);
      bool noise = false;
      for (std::size_t k = 0; k < grads.size(); ++k) {
        noise = noise || (i < grads[k]->size() &&
                          std::abs(static_cast<double>((*grads[k])[i])) < kNoise * largest[k]);
      }
      if (noise) {
        ++noise_weights;
        noise_abs = std::max(noise_abs, d);
      }
      if (!noise) after_abs = std::max(after_abs, d);
      if (d > worst) {
        worst = d;
        after_worst = item.key() + "[" + std::to_string(i) + "]";
        after_worst_grads.clear();
        for (int k = 1; k <= steps; ++k) {
          const std::string key = std::to_string(k) + "/" + item.key();
          const auto found = ref.find("grad" + key);
          const std::vector<float>& g_lt = step_grads[key];
          const float g_tg =
              found != ref.end() && i < found->second.data.size() ? found->second.data[i] : 0.0f;
          char text[96];
          std::snprintf(text, sizeof text, "%sstep %d: %.4g / %.4g", k > 1 ? "; " : "", k, g_tg,
                        i < g_lt.size() ? g_lt[i] : 0.0f);
          after_worst_grads += text;
        }
      }
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
      .add("after_abs_err", after_abs)
      .add("noise_gradient_weights", noise_weights)
      .add("noise_gradient_after_abs_err", noise_abs)
      .add("after_worst", after_worst)
      .add("after_worst_grads_tapegrad_libtorch", after_worst_grads);
  std::printf("%s\n", j.str().c_str());
  return pass ? 0 : 1;
}

}  // namespace value_check
