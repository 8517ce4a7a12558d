// Gradient clipping: by the joint norm of all gradients, or elementwise by value.
#include <algorithm>
#include <cmath>
#include <limits>

#include "optimizer_detail.hpp"

namespace tapegrad::optim {

template <class T>
double clip_grad_norm(const std::vector<Var<T>>& params, double max_norm, double norm_type) {
  if (!(max_norm >= 0.0)) {
    throw value_error(fmt::format("clip_grad_norm: max_norm {} must be >= 0", max_norm));
  }
  const bool inf_norm = norm_type == std::numeric_limits<double>::infinity();
  if (!inf_norm && norm_type != 2.0) {
    throw value_error(
        fmt::format("clip_grad_norm: norm_type {} is not supported (2 or infinity)", norm_type));
  }
  // PyTorch: the norm of the per-parameter norms.
  double total = 0.0;
  for (const auto& p : params) {
    if (!p.defined() || !p.has_grad()) continue;
    double norm = 0.0;
    for (const T& g : p.grad()) {
      const double a = std::abs(static_cast<double>(g));
      norm = inf_norm ? std::max(norm, a) : norm + a * a;
      if (std::isnan(a)) norm = a;
    }
    if (inf_norm) {
      total = std::isnan(norm) ? norm : std::max(total, norm);
    } else {
      const double n = std::sqrt(norm);
      total += n * n;
    }
  }
  if (!inf_norm) total = std::sqrt(total);
  const double coef = max_norm / (total + 1e-6);
  if (coef < 1.0) {
    for (const auto& p : params) {
      if (!p.defined() || !p.has_grad()) continue;
      for (T& g : p.mutable_grad()) g *= static_cast<T>(coef);
    }
  }
  return total;
}

template <class T>
void clip_grad_value(const std::vector<Var<T>>& params, double clip) {
  if (!(clip >= 0.0)) throw value_error(fmt::format("clip_grad_value: clip {} must be >= 0", clip));
  const T c = static_cast<T>(clip);
  for (const auto& p : params) {
    if (!p.defined() || !p.has_grad()) continue;
    for (T& g : p.mutable_grad()) g = std::min(std::max(g, -c), c);
  }
}

template double clip_grad_norm<float>(const std::vector<Var<float>>&, double, double);
template double clip_grad_norm<double>(const std::vector<Var<double>>&, double, double);
template void clip_grad_value<float>(const std::vector<Var<float>>&, double);
template void clip_grad_value<double>(const std::vector<Var<double>>&, double);

}  // namespace tapegrad::optim
