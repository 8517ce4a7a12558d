// What the engine's files share (not installed): messages, accumulation, checks, a guard.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad::detail {

/// A value for messages: "'h' [2,3]" when named, else "a value of shape [2,3]".
template <class T>
std::string describe(const Node<T>& node) {
  return node.name.empty() ? std::string("a value of shape ") + shape_str(node.shape())
                           : fmt::format("'{}' {}", node.name, shape_str(node.shape()));
}

// ---- record.cpp ----

/// The serial of this thread's live tape of scalar type T while values of it may be released
/// (release_if_unused), 0 while none may: during backward, while the tape is freed, after it
/// is gone. Trivially destructible, so a Var dropped after the tape still reads it.
template <class T>
std::uint64_t& releasing_serial() {
  thread_local std::uint64_t serial = 0;
  return serial;
}

/// Takes a computed value off the tape: its storage is returned, its shape kept in
/// released_shape, and reading it is a usage_error from then on (throw_released).
template <class T>
Array<T> release_value(Node<T>& n) {
  Array<T> value = std::move(n.value);
  n.released_shape = value.shape();
  n.value = no_array<T>();
  n.released = true;
  return value;
}

// ---- accumulate.cpp ----

/// Adds gradient `g` for input `k` of op `op` into node.grad: summing broadcast axes back,
/// placing blocks, or keeping outer factors for settle(). A shape_error naming the op when `g`
/// does not fit the node's shape.
template <class T>
void accumulate(Node<T>& node, Grad<T>&& g, const std::string& op, std::size_t k);

/// Adds the outer gradients pending on `node` into its gradient (one GEMM over all their rows).
template <class T>
void settle(Node<T>& node);

// ---- anomaly.cpp ----

/// A numerical_error when the value op `op` computed from `inputs` holds NaN or infinity.
template <class T>
void check_output(const std::string& op, const std::vector<Var<T>>& inputs, const Array<T>& output);

/// A numerical_error at the first non-finite gradient the rule of `e` returned.
template <class T>
void check_grads(const Entry<T>& e, const Grads<T>& grads);

// ---- modes.cpp ----

/// True while anomaly detection is on (a relaxed read: it is checked on every op).
bool anomaly_checks_on();

/// While alive, this thread flushes subnormal results to zero and reads subnormal operands as
/// zero (MXCSR's FTZ and DAZ bits), if set_flush_denormals is on.
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals();
  ~ScopedFlushDenormals();
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  unsigned saved_ = 0;
  bool active_ = false;
};

}  // namespace tapegrad::detail
