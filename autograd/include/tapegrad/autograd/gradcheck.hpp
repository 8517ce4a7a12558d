// gradcheck: analytic gradients from the tape against central finite differences.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/autograd/var.hpp"

namespace tapegrad {

struct GradcheckOptions {
  double eps = 1e-6;   // central-difference step
  double atol = 1e-5;  // an element passes when |analytic - numeric| <= atol + rtol |numeric|
  double rtol = 1e-3;
  std::uint64_t seed = 0;  // of the random weights R in the reduction sum(f(x) * R)
};

/// The outcome, and the worst element over all checked inputs and parameters.
struct GradcheckReport {
  bool passed = true;
  std::size_t elements_checked = 0;
  std::size_t var = 0;             // which Var: position in inputs, then in params
  std::string var_name;            // its name, when it has one
  std::vector<std::size_t> index;  // multi-index of the worst element in that Var
  double analytic = 0.0;
  double numeric = 0.0;
  double abs_error = 0.0;
  double rel_error = 0.0;  // |analytic - numeric| / max(|analytic|, |numeric|)

  /// One line: verdict, the worst element and its values.
  std::string message() const;
  explicit operator bool() const { return passed; }
};

using GradcheckFn = std::function<Var<double>(const std::vector<Var<double>>& inputs)>;

/// Checks d sum(fn(inputs) * R) / d v, for a fixed random R of fn's output shape, for every v
/// in `inputs` and `params` that requires a gradient: the tape's value against the central
/// difference (f(v + eps) - f(v - eps)) / (2 eps) of each element. `params` are Vars that fn
/// uses without taking them as arguments (a layer's weights). Runs in double precision.
/// fn must be deterministic (seed any generator it uses inside fn). Gradients the Vars held
/// before the call are restored. backward() frees this thread's double tape.
GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Var<double>>& inputs,
                          const std::vector<Var<double>>& params = {},
                          const GradcheckOptions& options = {});

}  // namespace tapegrad
