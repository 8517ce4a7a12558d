// Anomaly detection: find NaN and infinity in values and gradients, and say where they arose.
#include <cmath>

#include "engine_detail.hpp"

namespace tapegrad::detail {

namespace {

std::string where_scoped(const std::string& scope) {
  return scope.empty() ? std::string() : fmt::format(" in {}", scope);
}

std::string index_str(const std::vector<std::size_t>& index) {
  return fmt::format("[{}]", fmt::join(index, ","));
}

// The first element of `a` that is NaN or infinite, as a phrase ("NaN at [1,2]"); "" if none.
template <class T>
std::string first_non_finite(const Array<T>& a) {
  const T* p = a.data();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(p[i])) continue;
    std::vector<std::size_t> index(a.dimension());
    std::size_t rest = i;
    for (std::size_t d = a.dimension(); d-- > 0;) {
      index[d] = rest % a.shape()[d];
      rest /= a.shape()[d];
    }
    return fmt::format("{} at {} of shape {}",
                       std::isnan(p[i]) ? "NaN"
                       : p[i] > 0       ? "inf"
                                        : "-inf",
                       index_str(index), shape_str(a.shape()));
  }
  return {};
}

// "inputs: 'x' [2,3]; a value of shape [3] (holds NaN at [1]); output 'h'" for messages: the
// inputs that were not finite already are marked.
template <class T>
std::string operands_of(const std::vector<Var<T>>& inputs, const Var<T>* output) {
  std::vector<std::string> parts;
  for (const auto& v : inputs) {
    // A value released before anomaly detection was switched on is shown by its shape only.
    const auto& n = *v.node();
    const std::string bad = n.released ? std::string() : first_non_finite(n.value);
    parts.push_back(describe(*v.node()) + (bad.empty() ? "" : " (holds " + bad + ")"));
  }
  std::string text = fmt::format("inputs: {}", fmt::join(parts, "; "));
  if (output != nullptr && output->defined() && !output->name().empty()) {
    text += fmt::format("; output '{}'", output->name());
  }
  return text;
}

}  // namespace

template <class T>
void check_output(const std::string& op, const std::vector<Var<T>>& inputs,
                  const Array<T>& output) {
  const std::string bad = first_non_finite(output);
  if (bad.empty()) return;
  throw numerical_error(fmt::format("anomaly: '{}'{} computed {}; {}", op,
                                    where_scoped(scope_path()), bad,
                                    operands_of<T>(inputs, nullptr)));
}

template <class T>
void check_grads(const Entry<T>& e, const Grads<T>& grads) {
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].present()) continue;
    std::string bad = first_non_finite(grads[k].value());
    if (bad.empty() && grads[k].kind() == Grad<T>::Kind::outer) {
      bad = first_non_finite(grads[k].other());
    }
    if (bad.empty()) continue;
    const std::string from = first_non_finite(*e.output.node()->grad);
    throw numerical_error(fmt::format(
        "anomaly: backward of '{}'{} returned {} in the gradient for input {} ({}); the "
        "gradient of its output {}; {}",
        e.op, where_scoped(e.scope), bad, k, describe(*e.inputs[k].node()),
        from.empty() ? std::string("is finite") : "has " + from, operands_of(e.inputs, &e.output)));
  }
}

#define TAPEGRAD_INSTANTIATE(T)                                                                   \
  template void check_output<T>(const std::string&, const std::vector<Var<T>>&, const Array<T>&); \
  template void check_grads<T>(const Entry<T>&, const Grads<T>&);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad::detail
