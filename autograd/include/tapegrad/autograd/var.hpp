/// @file
/// Var: the handle every op takes and returns.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad {

namespace detail {

/// The state a Var shares with its copies and with the tape that recorded it.
template <class T>
struct Node {
  Node() = default;
  explicit Node(Array<T>&& v) : value(std::move(v)) {}
  Array<T> value = no_array<T>();
  std::optional<Array<T>> grad;  // set exactly when has_grad (no array is built before)
  // Factors (a, b) of gradients a^T b received during a backward, not yet added (Grad::outer).
  std::vector<std::pair<Array<T>, Array<T>>> pending;
  bool has_grad = false;
  bool requires_grad = false;
  bool retain_grad = false;   // keep a non-leaf's gradient after backward
  std::uint32_t version = 0;  // bumped by every in-place change of value
  // Changes of each row along axis 0 (Var::mutable_row); empty until the first such change.
  std::vector<std::uint32_t> row_versions;
  std::int64_t entry = -1;        // position on the recording tape; -1 for a leaf
  std::uint64_t tape_serial = 0;  // which tape (and which life of it) recorded this value
  std::string name;
  // Memory. Handles to this value held by entries of the tape that recorded it (as an input or
  // as the output; during backward the walked entries' handles are counted out as they go), and
  // entries of that tape whose rule reads the value (record's `reads`).
  // When a computed value's last other handle goes (Var's destructor or assignment) and no rule
  // reads it, the value is released: its storage freed, its shape kept in released_shape.
  std::uint32_t tape_refs = 0;
  std::uint32_t readers = 0;
  bool released = false;
  Shape released_shape;

  /// The value's shape, also once the value is released.
  const Shape& shape() const { return released ? released_shape : value.shape(); }
};

/// Frees `node`'s value if only the recording tape's entries hold it and no rule reads it (see
/// Node); `node` is the handle about to be dropped. Called by Var's destructor and assignment.
template <class T>
void release_if_unused(const std::shared_ptr<Node<T>>& node) noexcept;

/// A usage_error: the value of `node` was released.
template <class T>
[[noreturn]] void throw_released(const Node<T>& node);

}  // namespace detail

/// A cheap, copyable handle to a value, its gradient and its place on the tape.
/// Copies share state: `Var b = a; b.set_name("x");` names `a` too.
template <class T = float>
class Var {
 public:
  /// The scalar type, float or double.
  using value_type = T;
  /// The state the handles share; its layout is an implementation detail.
  using node_type = detail::Node<T>;

  /// An empty handle; using it in an op is a usage_error.
  Var() = default;
  /// Another handle to the same value (copies share state).
  Var(const Var&) = default;
  /// Takes over `other`'s handle, leaving it empty.
  Var(Var&&) noexcept = default;
  /// Dropping the last handle to a computed value that no recorded backward rule reads frees
  /// the value's storage (the tape keeps its shape); see record's `reads`.
  ~Var() { drop(node_); }
  /// Makes this a handle to `other`'s value; the value held before is dropped as by ~Var.
  Var& operator=(const Var& other) {
    if (this != &other) {
      const std::shared_ptr<node_type> old = std::move(node_);
      node_ = other.node_;
      drop(old);
    }
    return *this;
  }
  /// Takes over `other`'s handle, leaving it empty; the value held before is dropped as by ~Var.
  Var& operator=(Var&& other) noexcept {
    if (this != &other) {
      const std::shared_ptr<node_type> old = std::move(node_);
      node_ = std::move(other.node_);
      drop(old);
    }
    return *this;
  }

  /// A leaf holding `value`. Parameters are leaves with `requires_grad = true`.
  explicit Var(Array<T> value, bool requires_grad = false, std::string name = {});

  /// A 0-d (scalar) leaf.
  static Var scalar(T value, bool requires_grad = false, std::string name = {});

  /// False for an empty handle (default-constructed); every other member but same() and
  /// node() is then a usage_error.
  bool defined() const { return node_ != nullptr; }

  /// The value. Shapes: as given, or as computed by the op that made it. A usage_error for a
  /// value released from the tape (only reachable through Tape::entries()).
  const Array<T>& value() const {
    const node_type& n = checked();
    if (n.released) detail::throw_released(n);
    return n.value;
  }
  /// The value for an in-place change (optimizer steps, gradcheck). Bumps the version, so
  /// backward through an op that saved the old value is a usage_error, not a wrong gradient.
  /// Const, as the handle is (a copy shares the value anyway): `fc.weight().mutable_value()`
  /// works as PyTorch's `fc.weight.data` does.
  Array<T>& mutable_value() const;
  /// Row `index` along axis 0 for an in-place change, as contiguous memory: what a fused kernel
  /// writes its scratch into. Bumps the version of the value and of that row. Backward through
  /// an op that recorded the whole value is then a usage_error; an op that recorded only other
  /// rows (record's `rows` argument) is unaffected. A shape_error for a 0-d value, a
  /// value_error for an index past the first axis.
  T* mutable_row(std::size_t index) const;

  /// d(loss)/d(this), accumulated over backward calls until zero_grad(). A usage_error when
  /// no gradient has been computed (see has_grad()).
  const Array<T>& grad() const;
  /// The gradient for an in-place change (clipping). A usage_error when there is none.
  Array<T>& mutable_grad() const;
  /// Whether a gradient is held: after a backward that reached this value (a leaf, or a
  /// non-leaf with retain_grad()) or set_grad(), until zero_grad().
  bool has_grad() const { return checked().has_grad; }
  /// Replaces the gradient; its shape must be the value's.
  void set_grad(Array<T> grad);
  /// Drops the gradient (PyTorch's `set_to_none=True`).
  void zero_grad();

  /// Whether backward computes a gradient for this value: set on parameters, and on every
  /// value computed from one outside NoGrad.
  bool requires_grad() const { return checked().requires_grad; }
  /// Only leaves can change this: a computed value requires a gradient exactly when one of its
  /// inputs does.
  Var& set_requires_grad(bool requires = true);
  /// Keep this non-leaf value's gradient after backward (leaves always keep theirs).
  Var& retain_grad();
  /// True for a value made directly (a parameter, a constant, detach()), false for an op's
  /// output.
  bool is_leaf() const { return checked().entry < 0; }

  /// The name given (parameter(), set_name, a module's registration), "" when none; the tape's
  /// DOT picture and error messages show it.
  const std::string& name() const { return checked().name; }
  /// Names the value, for every handle that shares it; returns *this.
  Var& set_name(std::string name);

  /// The value's shape, which a gradient of it has too.
  const Shape& shape() const { return checked().shape(); }
  /// The number of axes (0 for a scalar).
  std::size_t ndim() const { return shape().size(); }
  /// The number of elements (1 for a scalar).
  std::size_t size() const { return checked().released ? count(shape()) : value().size(); }
  /// Size along `axis` (negative counts from the end).
  std::size_t size(int axis) const;
  /// The single element of a one-element value.
  T item() const;
  /// Times the value was changed in place.
  std::uint32_t version() const { return checked().version; }
  /// Times row `index` (along axis 0) was changed in place, by mutable_row or mutable_value.
  std::uint32_t row_version(std::size_t index) const;

  /// A new leaf sharing no history: same value (copied), no gradient, requires_grad false.
  /// Cuts backpropagation, as between chunks of truncated BPTT.
  Var detach() const;

  /// backward(*this): see tapegrad::backward.
  void backward() const;
  /// backward(*this, grad), for a non-scalar value: see tapegrad::backward.
  void backward(const Array<T>& grad) const;

  /// True when both handles share one state.
  bool same(const Var& other) const { return node_ == other.node_; }

  /// For the engine and extensions.
  const std::shared_ptr<node_type>& node() const { return node_; }
  /// A handle to an existing state (as Tape::push makes its outputs).
  static Var from_node(std::shared_ptr<node_type> node);

 private:
  static void drop(const std::shared_ptr<node_type>& node) noexcept {
    if (node && node->entry >= 0) detail::release_if_unused(node);
  }
  static std::size_t count(const Shape& shape) {
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    return n;
  }
  node_type& checked() const;
  std::shared_ptr<node_type> node_;
};

extern template class Var<float>;
extern template class Var<double>;

/// Declared, never defined: Var<void> is an incomplete type, not an error. Generic code calls a
/// function with an explicit `void` for "no type given" (xt::mean calls `sum<void>(e, ...)`);
/// when an op of the same name is a candidate, its `const Var<void>&` parameter then merely
/// does not match, where instantiating Var<void> (an Array<void> member type) would stop the
/// build.
template <>
class Var<void>;

/// A leaf that does not require a gradient (data, targets).
template <class T>
Var<T> constant(Array<T> value, std::string name = {}) {
  return Var<T>(std::move(value), false, std::move(name));
}

/// A leaf that requires a gradient (a trainable parameter).
template <class T>
Var<T> parameter(Array<T> value, std::string name = {}) {
  return Var<T>(std::move(value), true, std::move(name));
}

}  // namespace tapegrad
