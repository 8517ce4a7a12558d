// The one registry of every op, with the inputs it is checked at. The op tests run each entry:
// gradcheck (test_ops_gradcheck.cpp), forward in float and double, empty and mis-shaped
// arguments (test_ops_registry.cpp); and they fail when an op in tapegrad::registered_ops() (the
// ops defined with TAPEGRAD_OP) has no entry here, so a new op cannot go untested.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tapegrad/autograd.hpp"
#include "tapegrad/nn/cells.hpp"

namespace tapegrad_test {

/// Where an input's values are drawn from.
enum class Domain {
  real,      // uniform in [-2, 2]
  positive,  // uniform in [0.5, 2] (log, sqrt, fractional powers)
  nonzero,   // |x| uniform in [0.5, 2], random sign (denominators)
  spaced,    // distinct values (k + 0.5) / 10, shuffled: no ties (max), and every value at least
             // 0.05 from a multiple of 0.1 (the kinks of relu at 0, clamp bounds at -0.3 and 0.4)
};

template <class T>
using OpFnOf = std::function<tapegrad::Var<T>(const std::vector<tapegrad::Var<T>>&)>;

/// A case's call of its op, in double (gradcheck) and float, made from one generic lambda
/// `[](const auto& x) { return tapegrad::add(x[0], x[1]); }`.
class OpFn {
 public:
  OpFn() = default;
  template <class F, class = std::enable_if_t<!std::is_same_v<std::decay_t<F>, OpFn>>>
  OpFn(F f) : f64_(f), f32_(std::move(f)) {}  // NOLINT(google-explicit-constructor): from a lambda
  tapegrad::Var<double> operator()(const std::vector<tapegrad::Var<double>>& x) const {
    return f64_(x);
  }
  tapegrad::Var<float> operator()(const std::vector<tapegrad::Var<float>>& x) const {
    return f32_(x);
  }
  explicit operator bool() const { return f64_ && f32_; }

 private:
  OpFnOf<double> f64_;
  OpFnOf<float> f32_;
};

/// The scalar type of a generic case lambda's inputs: `scalar_of<decltype(x)>`.
template <class Inputs>
using scalar_of = typename std::decay_t<Inputs>::value_type::value_type;

/// One way of calling one op.
struct OpCase {
  std::string op;                       // the op's name, as TAPEGRAD_OP registers it
  std::string variant;                  // what this case covers (shapes, options)
  std::vector<tapegrad::Shape> shapes;  // one per input; all inputs require a gradient
  std::vector<Domain> domains;          // one per input; the last repeats; empty means real
  OpFn fn;                              // calls the op on the inputs
  /// Input shapes the op must reject with a shape_error naming it (each set one call).
  std::vector<std::vector<tapegrad::Shape>> bad_shapes = {};
  /// Inputs that may be an empty Var (linear's bias: none); every other input, empty, is a
  /// usage_error naming the op.
  std::vector<std::size_t> optional_inputs = {};
  /// The op name of the tape entries the call records, when not `op` (chunk records narrow).
  std::string tape_op = {};
  /// The op returns its input itself and records nothing (dropout in eval or with p = 0).
  bool returns_input = false;

  /// "matmul [b,m,k] x [k,n]".
  std::string label() const { return op + " " + variant; }
};

/// Every op, each in several shapes (non-square, broadcasting) and options.
const std::vector<OpCase>& op_registry();

/// Inputs for a case, drawn from its domains with a fixed seed.
std::vector<tapegrad::Var<double>> make_inputs(const OpCase& op_case, std::uint64_t seed = 1,
                                               bool requires_grad = true);

}  // namespace tapegrad_test
