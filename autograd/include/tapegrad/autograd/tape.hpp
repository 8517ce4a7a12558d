// The tape: a Wengert list of recorded ops per thread, walked in reverse by backward().
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "tapegrad/autograd/var.hpp"

namespace tapegrad {

/// The gradient a backward rule returns for one input: none, the whole input's gradient (its
/// shape, or a shape the input broadcasts to: the engine sums the broadcast axes back), or the
/// gradient of one block of the input (so that slicing ops need not build a full-size array), or
/// a product a^T b that the engine gathers over ops and computes in one GEMM.
template <class T>
class Grad {
 public:
  enum class Kind { none, full, block, index, outer };

  /// No gradient for this input.
  Grad() = default;
  /// The gradient of the whole input (implicit, so a rule can `return {gx, gy};`).
  Grad(Array<T> value) : kind_(Kind::full), value_(std::move(value)) {}  // NOLINT
  /// The gradient of input[..., start : start + value.shape[axis], ...].
  static Grad block(Array<T> value, std::size_t axis, std::size_t start);
  /// The gradient of the input at `index` along `axis` (value lacks that axis).
  static Grad at(Array<T> value, std::size_t axis, std::size_t index);
  /// The gradient a^T b of a 2-D input [m, n], from a [r, m] and b [r, n]. The engine keeps the
  /// factors of every such gradient an input receives in one backward and adds their products
  /// in one GEMM over all their rows, once the input's gradient is complete: a weight used at
  /// every time step gets one [m, r_1 + ... + r_T] x [r_1 + ... + r_T, n] product instead of T
  /// small ones.
  static Grad outer(Array<T> a, Array<T> b);

  Kind kind() const { return kind_; }
  bool present() const { return kind_ != Kind::none; }
  const Array<T>& value() const { return *value_; }
  Array<T>& value() { return *value_; }
  /// The factor b of an outer gradient.
  const Array<T>& other() const { return *other_; }
  Array<T>& other() { return *other_; }
  std::size_t axis() const { return axis_; }
  std::size_t start() const { return start_; }

 private:
  Kind kind_ = Kind::none;
  std::optional<Array<T>> value_;  // set unless kind_ is none
  std::optional<Array<T>> other_;  // set when kind_ is outer
  std::size_t axis_ = 0;
  std::size_t start_ = 0;
};

/// One Grad per input of the op, in order: `return Grads<T>{gx, gy};`, or `Grads<T> g(n);`
/// then `g[i] = ...`. Up to three are kept inline (no allocation), more on the heap.
template <class T>
class Grads {
 public:
  Grads() = default;
  explicit Grads(std::size_t n) { resize(n); }
  Grads(std::initializer_list<Grad<T>> grads) {
    resize(grads.size());
    std::size_t i = 0;
    for (const auto& g : grads) (*this)[i++] = g;
  }
  std::size_t size() const { return size_; }
  Grad<T>& operator[](std::size_t i) { return size_ <= kInline ? inline_[i] : heap_[i]; }
  const Grad<T>& operator[](std::size_t i) const {
    return size_ <= kInline ? inline_[i] : heap_[i];
  }
  void push_back(Grad<T> g) {
    resize(size_ + 1);
    (*this)[size_ - 1] = std::move(g);
  }

 private:
  static constexpr std::size_t kInline = 3;
  void resize(std::size_t n) {
    if (n > kInline && size_ <= kInline) {
      heap_.resize(n);
      for (std::size_t i = 0; i < size_; ++i) heap_[i] = std::move(inline_[i]);
    } else if (n > kInline) {
      heap_.resize(n);
    }
    size_ = n;
  }
  std::array<Grad<T>, kInline> inline_;
  std::vector<Grad<T>> heap_;
  std::size_t size_ = 0;
};

namespace detail {
template <class T>
struct Entry;
}

/// What a backward rule sees: the gradient of the op's output and the values it recorded.
template <class T>
class Context {
 public:
  explicit Context(const detail::Entry<T>& entry) : entry_(entry) {}
  /// d(loss)/d(output), of the output's shape.
  const Array<T>& grad_output() const;
  const Array<T>& output() const;
  const Array<T>& input(std::size_t i) const;
  std::size_t num_inputs() const;
  /// False when input i needs no gradient: the rule may skip computing it.
  bool needs_grad(std::size_t i) const;
  /// Arrays the op saved at record time (masks, indices, probabilities).
  const Array<T>& saved(std::size_t i) const;
  const std::string& op() const;

 private:
  const detail::Entry<T>& entry_;
};

/// A backward rule: returns d(loss)/d(input_i) for each input from d(loss)/d(output).
/// Rules never accumulate; the engine does.
template <class T>
using BackwardRule = std::function<Grads<T>(const Context<T>&)>;

namespace detail {
template <class T>
struct Entry {
  std::string op;
  std::vector<Var<T>> inputs;
  xt::svector<std::uint32_t, 4> versions;  // of the inputs when recorded (inline up to 4)
  Var<T> output;
  std::vector<Array<T>> saved;
  BackwardRule<T> rule;
  std::string scope;  // scope_path() when recorded under anomaly detection
};
}  // namespace detail

/// This thread's list of recorded ops of scalar type T, in the order they ran (which is a
/// topological order). Parameters (leaves) outlive it; intermediate values live as long as
/// the tape or a user's handle holds them.
template <class T>
class Tape {
 public:
  /// The calling thread's tape.
  static Tape& current();

  std::size_t size() const { return entries_.size(); }
  bool empty() const { return entries_.empty(); }
  /// Bytes of the arrays the tape keeps alive: every recorded output, every saved array, every
  /// input that is not a trainable leaf, and gradients held during backward. Counted once each.
  std::size_t bytes() const;
  /// Drops every entry (and every value only the tape held). Handles to values recorded
  /// before stay valid as values, but backward through them is a usage_error.
  void clear();

  /// Graphviz DOT: one box per value (name, shape), one ellipse per op.
  void write_dot(std::ostream& out) const;
  std::string dot() const;

  const std::vector<detail::Entry<T>>& entries() const { return entries_; }
  std::uint64_t serial() const { return serial_; }

  // Used by record() and backward().
  Var<T> push(std::string&& op, std::vector<Var<T>>&& inputs, Array<T>&& output,
              BackwardRule<T>&& rule, std::vector<Array<T>>&& saved);
  void run_backward(const Var<T>& root, Array<T> seed);

  Tape();
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

 private:
  std::vector<detail::Entry<T>> entries_;
  std::uint64_t serial_;
};

extern template class Tape<float>;
extern template class Tape<double>;

/// The calling thread's tape for scalar type T.
template <class T = float>
Tape<T>& tape() {
  return Tape<T>::current();
}

/// While alive, no op is recorded on this thread (inference, optimizer updates).
class NoGrad {
 public:
  NoGrad();
  ~NoGrad();
  NoGrad(const NoGrad&) = delete;
  NoGrad& operator=(const NoGrad&) = delete;

 private:
  bool previous_;
};

/// False inside a NoGrad scope.
bool is_grad_enabled();

/// Anomaly detection, as PyTorch's detect_anomaly: while on, every op checks the value it
/// computes, and backward() every gradient a rule returns, for NaN and infinity; the first one
/// found throws numerical_error naming the op, the names of its inputs and output, its scope
/// path (the layer, direction and time step it ran in) and the element. Off by default: the
/// checks read every value once more. Process-wide.
void set_detect_anomaly(bool on);
bool detect_anomaly();

/// Anomaly detection on while alive (restores the previous setting).
class DetectAnomaly {
 public:
  DetectAnomaly();
  ~DetectAnomaly();
  DetectAnomaly(const DetectAnomaly&) = delete;
  DetectAnomaly& operator=(const DetectAnomaly&) = delete;

 private:
  bool previous_;
};

/// A label for the ops recorded while alive, nested per thread: anomaly messages name the
/// path of scopes an op ran in ("encoder / LSTM(32, 64) layer 0 direction 1 / step 17").
/// The layers open theirs only under anomaly detection; a user's scope costs a string.
class Scope {
 public:
  explicit Scope(std::string label);
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
};

/// This thread's open scopes, outermost first, joined by " / " ("" when none).
std::string scope_path();

/// Whether backward() flushes subnormal floats to zero (x86's FTZ and DAZ modes, set on the
/// calling thread while backward runs and restored after). On by default: gradients that
/// vanish over long sequences pass through the subnormal range (below 1.2e-38 in float), where
/// every arithmetic operation on them takes microcode assists, and a backward pass through 200
/// steps ran 8-10x slower (docs/design.md). Flushing changes only values below that bound.
/// Off: IEEE subnormals, as PyTorch by default. A process-wide setting.
void set_flush_denormals(bool on);
bool flush_denormals();

/// Records an op: `output` was computed from `inputs`; `rule` maps d(loss)/d(output) to one
/// Grad per input. Records nothing (and returns a leaf not requiring a gradient) under NoGrad
/// or when no input requires a gradient. This is also the extension API for custom ops.
template <class T>
Var<T> record(std::string op, std::vector<Var<T>> inputs, Array<T> output, BackwardRule<T> rule,
              std::vector<Array<T>> saved = {});

/// Backpropagates from a scalar `root` (seed d(root)/d(root) = 1): walks this thread's tape in
/// reverse, accumulates gradients into every leaf that requires one, then frees the tape.
/// A second backward through the same (freed) tape is a usage_error.
template <class T>
void backward(const Var<T>& root);
/// As above, seeded with `grad` (the root's shape) for a non-scalar root.
template <class T>
void backward(const Var<T>& root, const Array<T>& grad);

}  // namespace tapegrad
