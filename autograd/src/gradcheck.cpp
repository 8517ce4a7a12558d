// gradcheck: the tape's gradients against central differences, in double precision.
#include "tapegrad/autograd/gradcheck.hpp"

#include <cmath>

#include "detail.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"

namespace tapegrad {

namespace {

std::vector<std::size_t> unravel(std::size_t flat, const Shape& shape) {
  std::vector<std::size_t> idx(shape.size(), 0);
  for (std::size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  return idx;
}

double weighted_sum(const Array<double>& y, const Array<double>& r) {
  double s = 0.0;
  for (std::size_t i = 0; i < y.size(); ++i) s += y.data()[i] * r.data()[i];
  return s;
}

}  // namespace

std::string GradcheckReport::message() const {
  const std::string who =
      var_name.empty() ? fmt::format("var {}", var) : fmt::format("var {} '{}'", var, var_name);
  return fmt::format(
      "gradcheck {}: {} elements checked; worst: {} at [{}]: analytic {:.10g}, numeric {:.10g}, "
      "abs error {:.3g}, rel error {:.3g}",
      passed ? "passed" : "FAILED", elements_checked, who, fmt::join(index, ","), analytic, numeric,
      abs_error, rel_error);
}

GradcheckReport gradcheck(const GradcheckFn& fn, const std::vector<Var<double>>& inputs,
                          const std::vector<Var<double>>& params, const GradcheckOptions& options) {
  if (!(options.eps > 0.0) || !std::isfinite(options.eps)) {
    throw value_error(fmt::format("gradcheck: eps = {} must be positive and finite", options.eps));
  }
  if (!(options.atol >= 0.0 && options.rtol >= 0.0) || !std::isfinite(options.atol) ||
      !std::isfinite(options.rtol)) {
    throw value_error(fmt::format("gradcheck: atol = {} and rtol = {} must be finite and >= 0",
                                  options.atol, options.rtol));
  }
  std::vector<Var<double>> all = inputs;
  all.insert(all.end(), params.begin(), params.end());
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (!all[i].defined()) throw usage_error(fmt::format("gradcheck: var {} is an empty Var", i));
  }

  // Keep the gradients the caller's Vars hold, and restore them whatever happens.
  struct Saved {
    Var<double> var;
    bool had;
    Array<double> grad;
  };
  std::vector<Saved> saved;
  for (auto& v : all) {
    saved.push_back({v, v.has_grad(), v.has_grad() ? v.grad() : no_array<double>()});
    v.zero_grad();
  }
  struct Restore {
    std::vector<Saved>& saved;
    ~Restore() {
      for (auto& s : saved) {
        if (s.had) {
          s.var.set_grad(s.grad);
        } else {
          s.var.zero_grad();
        }
      }
    }
  } restore{saved};

  // Analytic: d sum(f(x) * R) / dx from the tape.
  Var<double> y = fn(inputs);
  if (!y.defined()) throw usage_error("gradcheck: fn returned an empty Var");
  Generator gen(options.seed);
  const Array<double> r = gen.uniform<double>(y.shape(), -1.0, 1.0);
  std::vector<Array<double>> analytic(all.size());
  if (y.requires_grad()) backward(sum(y * constant(r)));
  for (std::size_t i = 0; i < all.size(); ++i) {
    analytic[i] =
        all[i].has_grad() ? all[i].grad() : Array<double>(xt::zeros<double>(all[i].shape()));
  }

  // Numeric: central differences, one element at a time, recording nothing.
  NoGrad no_grad;
  GradcheckReport report;
  double worst_score = -1.0;
  for (std::size_t i = 0; i < all.size(); ++i) {
    Var<double>& v = all[i];
    if (!v.requires_grad()) continue;
    for (std::size_t j = 0; j < v.size(); ++j) {
      const double original = v.value().data()[j];
      v.mutable_value().data()[j] = original + options.eps;
      const double plus = weighted_sum(fn(inputs).value(), r);
      v.mutable_value().data()[j] = original - options.eps;
      const double minus = weighted_sum(fn(inputs).value(), r);
      v.mutable_value().data()[j] = original;
      const double numeric = (plus - minus) / (2.0 * options.eps);
      const double a = analytic[i].data()[j];
      const double err = std::abs(a - numeric);
      const double tolerance = options.atol + options.rtol * std::abs(numeric);
      const double score = std::isfinite(err) ? err / tolerance : INFINITY;
      ++report.elements_checked;
      if (score > 1.0 || !std::isfinite(score)) report.passed = false;
      if (score > worst_score) {
        worst_score = score;
        report.var = i;
        report.var_name = v.name();
        report.index = unravel(j, v.shape());
        report.analytic = a;
        report.numeric = numeric;
        report.abs_error = err;
        const double denom = std::max(std::abs(a), std::abs(numeric));
        report.rel_error = denom > 0.0 ? err / denom : 0.0;
      }
    }
  }
  return report;
}

}  // namespace tapegrad
