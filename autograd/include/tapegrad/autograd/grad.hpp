/// @file
/// What a backward rule returns and sees: Grad, Grads, Context, and the BackwardRule type.
#pragma once

#include <array>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
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
  /// Which of the forms above a Grad holds.
  enum class Kind {
    none,   ///< no gradient (the input needs none, or the rule has none for it)
    full,   ///< value(): the whole input's gradient, or one that broadcasts to it
    block,  ///< value(): the gradient of a slice of the input along axis(), from start()
    index,  ///< value(): the gradient of one index start() of axis(), which value() lacks
    outer   ///< value()^T other(): the factors a and b of an outer gradient
  };

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

  /// The form of this gradient; the engine reads the accessors below by it.
  Kind kind() const { return kind_; }
  /// False for Kind::none.
  bool present() const { return kind_ != Kind::none; }
  /// @{
  /// The gradient array (the factor a of an outer gradient); not to be called on Kind::none.
  const Array<T>& value() const { return *value_; }
  Array<T>& value() { return *value_; }
  /// @}
  /// @{
  /// The factor b of an outer gradient; not to be called on another kind.
  const Array<T>& other() const { return *other_; }
  Array<T>& other() { return *other_; }
  /// @}
  /// The axis of a block or index gradient (0 for the other kinds).
  std::size_t axis() const { return axis_; }
  /// Where a block gradient starts along axis(), or the index of an index gradient.
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
  /// `n` Grads, all Kind::none, to be set by index.
  explicit Grads(std::size_t n) { resize(n); }
  /// The Grads given, one per input in order: `Grads<T>{gx, {}, gz}` ({} for none).
  Grads(std::initializer_list<Grad<T>> grads) {
    resize(grads.size());
    std::size_t i = 0;
    for (const auto& g : grads) (*this)[i++] = g;
  }
  /// How many Grads there are; the engine requires one per input of the op.
  std::size_t size() const { return size_; }
  /// @{
  /// The Grad of input `i`, unchecked: `i` must be below size().
  Grad<T>& operator[](std::size_t i) { return size_ <= kInline ? inline_[i] : heap_[i]; }
  const Grad<T>& operator[](std::size_t i) const {
    return size_ <= kInline ? inline_[i] : heap_[i];
  }
  /// @}
  /// Appends the Grad of the next input.
  void push_back(Grad<T> g) {
    resize(size_ + 1);
    (*this)[size_ - 1] = std::move(g);
  }

 private:
  static constexpr std::size_t kInline = 3;
  void resize(std::size_t n) {
    if (n > kInline) {
      const bool was_inline = size_ <= kInline;
      heap_.resize(n);
      if (was_inline) {
        for (std::size_t i = 0; i < size_; ++i) heap_[i] = std::move(inline_[i]);
      }
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
  /// Made by the engine for one tape entry while backward runs; a rule only reads it.
  explicit Context(const detail::Entry<T>& entry) : entry_(entry) {}
  /// d(loss)/d(output), of the output's shape.
  const Array<T>& grad_output() const;
  /// The op's output value, as recorded. A usage_error when it was changed in place since
  /// (the gradient computed from it would be wrong); an internal_error naming the op when the
  /// op was recorded saying its rule does not read it (record's `reads`).
  const Array<T>& output() const;
  /// The value of input `i` (in the order the op was recorded with), as it is now: the engine
  /// has checked that it was not changed in place since. An internal_error past the inputs, or
  /// when the op was recorded saying its rule does not read it (record's `reads`).
  const Array<T>& input(std::size_t i) const;
  /// Input `i`'s value, moved out of the tape for the rule to reuse its storage (for the
  /// input's gradient, say), when nothing can read it after this rule: a computed value (not a
  /// leaf) that this rule alone reads (record's `reads`) and that no handle outside the tape
  /// holds. The value is then released, as the tape releases a value no rule needs: its shape
  /// is kept, and reading it is a usage_error. Otherwise, and under anomaly detection, empty,
  /// and the value stays where it was. The same checks as input().
  std::optional<Array<T>> take_input(std::size_t i) const;
  /// The output's shape, whatever the rule reads.
  const Shape& output_shape() const;
  /// The shape of input `i`, whatever the rule reads. An internal_error past the inputs.
  const Shape& input_shape(std::size_t i) const;
  /// The op's number of inputs, which is the number of Grads the rule returns.
  std::size_t num_inputs() const;
  /// False when input i needs no gradient: the rule may skip computing it.
  bool needs_grad(std::size_t i) const;
  /// Arrays the op saved at record time (masks, indices, probabilities). An internal_error
  /// past the saved arrays.
  const Array<T>& saved(std::size_t i) const;
  /// Saved array `i`, moved out for the rule to reuse its storage (a rule runs once per entry);
  /// saved(i) is empty afterwards. An internal_error past the saved arrays.
  Array<T> take_saved(std::size_t i) const;
  /// The op's name, as recorded: for the rule's own error messages.
  const std::string& op() const;

 private:
  const detail::Entry<T>& entry_;
};

/// A backward rule: returns d(loss)/d(input_i) for each input from d(loss)/d(output).
/// Rules never accumulate; the engine does.
template <class T>
using BackwardRule = std::function<Grads<T>(const Context<T>&)>;

}  // namespace tapegrad
