/// @file
/// gradcheck: analytic gradients from the tape against central finite differences.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/autograd/var.hpp"

namespace tapegrad {

/// The step and tolerances of gradcheck. The defaults suit double precision and values of
/// order 1. A step that is not positive and finite, or a tolerance that is negative or not
/// finite, is a value_error.
struct GradcheckOptions {
  double eps = 1e-6;       ///< the central-difference step added to and taken from each element
  double atol = 1e-5;      ///< an element passes when |analytic - numeric| <= atol + rtol |numeric|
  double rtol = 1e-3;      ///< the relative part of that tolerance
  std::uint64_t seed = 0;  ///< of the random weights R in the reduction sum(f(x) * R)
};

/// The outcome, and the worst element over all checked inputs and parameters.
/// The worst element is the one furthest outside its tolerance (or closest to it, when all
/// pass).
struct GradcheckReport {
  bool passed = true;                ///< every element within its tolerance, and finite
  std::size_t elements_checked = 0;  ///< over all Vars that require a gradient
  std::size_t var = 0;               ///< which Var: position in inputs, then in params
  std::string var_name;              ///< its name, when it has one
  std::vector<std::size_t> index;    ///< multi-index of the worst element in that Var
  double analytic = 0.0;             ///< the worst element's gradient from the tape
  double numeric = 0.0;              ///< the worst element's central difference
  double abs_error = 0.0;            ///< |analytic - numeric|
  double rel_error = 0.0;  ///< |analytic - numeric| / max(|analytic|, |numeric|); 0 if both 0

  /// One line: verdict, the worst element and its values.
  std::string message() const;
  /// `passed`: `if (!report) std::cerr << report.message();`.
  explicit operator bool() const { return passed; }
};

/// The function gradcheck differentiates: the inputs as given to gradcheck, in order, to one
/// output Var of any shape.
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
