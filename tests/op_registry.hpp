// The one registry of every public op, with inputs it is checked at. test_ops_gradcheck.cpp
// gradchecks each entry and fails when an op declared in ops.hpp or nn_ops.hpp has no entry, so
// a new op cannot be added without a gradient check.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "tapegrad/tapegrad.hpp"

namespace tapegrad_test {

/// Where an input's values are drawn from.
enum class Domain {
  real,      // uniform in [-2, 2]
  positive,  // uniform in [0.5, 2] (log, sqrt, fractional powers)
  nonzero,   // |x| uniform in [0.5, 2], random sign (denominators)
  spaced,    // distinct values (k + 0.5) / 10, shuffled: no ties (max), and every value at least
             // 0.05 from a multiple of 0.1 (the kinks of relu at 0, clamp bounds at -0.3 and 0.4)
};

using OpFn = std::function<tapegrad::Var<double>(const std::vector<tapegrad::Var<double>>&)>;

/// One way of calling one op.
struct OpCase {
  std::string op;                       // the name declared in ops.hpp / nn_ops.hpp
  std::string variant;                  // what this case covers (shapes, options)
  std::vector<tapegrad::Shape> shapes;  // one per input; all inputs require a gradient
  std::vector<Domain> domains;          // one per input; the last repeats; empty means real
  OpFn fn;                              // builds the op from the inputs

  /// "matmul [b,m,k] x [k,n]".
  std::string label() const { return op + " " + variant; }
};

/// Every op, each in several shapes (non-square, broadcasting) and options.
const std::vector<OpCase>& op_registry();

/// Inputs for a case, drawn from its domains with a fixed seed.
std::vector<tapegrad::Var<double>> make_inputs(const OpCase& op_case, std::uint64_t seed = 1,
                                               bool requires_grad = true);

}  // namespace tapegrad_test
