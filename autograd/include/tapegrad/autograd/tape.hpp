/// @file
/// The tape: a Wengert list of recorded ops per thread, walked in reverse by backward().
/// Includes grad.hpp (what a rule returns and sees) and modes.hpp (NoGrad and the switches).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <string>
#include <vector>

#include "tapegrad/autograd/grad.hpp"
#include "tapegrad/autograd/modes.hpp"
#include "tapegrad/autograd/var.hpp"

namespace tapegrad {

/// Says that an op's backward rule reads only row `row` (along axis 0) of input `input`, as a
/// fused recurrent step reads its own time step of the gate input: writes to other rows after
/// the op was recorded (Var::mutable_row) leave it valid. Any write to that row, or to the
/// whole value (Var::mutable_value), still makes its backward a usage_error.
struct RowRead {
  std::size_t input = 0;  ///< position of the input in the op's inputs
  std::size_t row = 0;    ///< the row of it the rule reads, along axis 0
};

/// Says which recorded values an op's backward rule reads (record's `reads` argument): its
/// output's value (Context::output) and which inputs' values (Context::input). A value that no
/// recorded rule reads, and that no handle outside the tape refers to, is released: its storage
/// is freed as soon as its last handle goes, its shape kept (Context::input_shape, output_shape).
/// Reading a value the op said it does not read is an internal_error naming the op, released or
/// not, so a wrong declaration fails in every test. An input named in record's `rows` is read
/// (that row of it). The default, everything, is right for any rule.
struct Reads {
  bool output = true;               ///< the rule reads the output's value
  bool all_inputs = true;           ///< the rule reads every input's value
  std::vector<std::size_t> inputs;  ///< else the positions of the inputs it reads

  /// Everything: the output and every input (the default).
  static Reads all() { return {}; }
  /// Nothing but shapes (add, reshape, stack, select...).
  static Reads none() { return {false, false, {}}; }
  /// The output only (tanh, sigmoid, exp...).
  static Reads output_only() { return {true, false, {}}; }
  /// Every input, not the output (matmul, linear, mul...).
  static Reads all_inputs_only() { return {false, true, {}}; }
  /// The inputs listed, not the output.
  static Reads inputs_only(std::vector<std::size_t> which) {
    return {false, false, std::move(which)};
  }
  /// The same, and the output too.
  Reads and_output() const {
    Reads r = *this;
    r.output = true;
    return r;
  }
};

namespace detail {
template <class T>
struct Entry {
  std::string op;
  std::vector<Var<T>> inputs;
  xt::svector<std::uint32_t, 4> versions;  // of the inputs when recorded (inline up to 4)
  // Per input, the one row (axis 0) the rule reads, whose row version `versions` then holds,
  // or -1 for the whole value. Empty when every input is read whole.
  xt::svector<std::int64_t, 4> rows;
  // Per input, whether the rule reads its value (Reads); empty when it reads every input.
  xt::svector<std::uint8_t, 4> reads;
  bool reads_output = true;
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

  /// The number of ops recorded since the tape was last freed.
  std::size_t size() const { return entries_.size(); }
  /// True when no op is recorded: at the start, and after backward() or clear().
  bool empty() const { return entries_.empty(); }
  /// Bytes of the arrays the tape keeps alive: every recorded output, every saved array, every
  /// input that is not a trainable leaf, and gradients held during backward. Counted once each;
  /// a released value (see Reads) counts nothing.
  std::size_t bytes() const;
  /// Drops every entry (and every value only the tape held). Handles to values recorded
  /// before stay valid as values, but backward through them is a usage_error.
  void clear();

  /// Graphviz DOT: one box per value (name, shape), one ellipse per op.
  void write_dot(std::ostream& out) const;
  /// write_dot's text as a string.
  std::string dot() const;

  /// The recorded entries in recording order (op name, inputs, output, saved arrays, rule),
  /// for tools that inspect the tape; their type is an implementation detail.
  const std::vector<detail::Entry<T>>& entries() const { return entries_; }
  /// Identifies this tape in its current life: it changes whenever the tape is freed, so a
  /// value whose recording tape has been freed since is recognised (backward through it, or
  /// an op on it, is then a usage_error).
  std::uint64_t serial() const { return serial_; }

  /// Appends an entry and returns its output, which requires a gradient. For record(), which
  /// checks the arguments first; call record() instead.
  Var<T> push(std::string&& op, std::vector<Var<T>>&& inputs, Array<T>&& output,
              BackwardRule<T>&& rule, std::vector<Array<T>>&& saved,
              const std::vector<RowRead>& rows, const Reads& reads);
  /// The backward walk from `root`, seeded with `seed` (of the root's shape), then frees the
  /// tape. For backward(), which checks the seed's shape first; call backward() instead.
  void run_backward(const Var<T>& root, Array<T> seed);

  Tape();
  ~Tape();
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

/// Records an op: `output` was computed from `inputs`; `rule` maps d(loss)/d(output) to one
/// Grad per input. Records nothing (and returns a leaf not requiring a gradient) under NoGrad
/// or when no input requires a gradient. This is also the extension API for custom ops.
/// Backward through the op is a usage_error when an input (or, with `rows`, the row of it the
/// rule reads) was changed in place after recording, or when the rule reads the output
/// (Context::output) and that was changed in place.
/// `reads` says which values the rule reads (see Reads): declaring less than everything lets the
/// tape free the values no rule needs, a computed value as soon as the last handle outside the
/// tape goes. Under anomaly detection nothing is freed.
template <class T>
Var<T> record(std::string op, std::vector<Var<T>> inputs, Array<T> output, BackwardRule<T> rule,
              std::vector<Array<T>> saved = {}, std::vector<RowRead> rows = {},
              Reads reads = Reads::all());

/// While alive, calls `ready(leaf)` during every backward() of this thread's tape of scalar type
/// T as soon as the gradient of a leaf that requires one is final: right after the walk has
/// run the rule of the earliest recorded entry that takes the leaf as an input (its outer
/// gradients added first), before the rules of the entries recorded before that one. The leaf
/// may have no gradient (`has_grad()` false): the entries that read it got none. A leaf no walked
/// entry reads is not reported (it gets no gradient in that backward); the root, when it is a
/// leaf, is. `starting`, when given, is called once at the start of each walk with every leaf
/// the walk will report, in the order it will report them, so that a hook can tell at once which
/// of its leaves this backward leaves out. What data-parallel training needs to start sending a
/// gradient while backward goes on (PyTorch's register_post_accumulate_grad_hook, for every leaf
/// at once). An exception from a hook ends backward (the tape is freed). Several hooks run in
/// the order they were made; hooks are per thread, and cost nothing when none is alive (with
/// one alive, backward first lists the leaves: one pass over the entries' inputs). Not copyable
/// or movable.
template <class T>
class LeafGradHook {
 public:
  /// The function called with each leaf whose gradient is final.
  using Ready = std::function<void(const Var<T>&)>;
  /// The function called at the start of a walk with the leaves it will report, in order.
  using Starting = std::function<void(const std::vector<Var<T>>&)>;

  /// Registers the hooks on the calling thread until destroyed. An empty `ready` is a
  /// usage_error; `starting` may be empty.
  explicit LeafGradHook(Ready ready, Starting starting = {});
  /// Unregisters the hooks (destroy it on the thread that made it).
  ~LeafGradHook();
  LeafGradHook(const LeafGradHook&) = delete;
  LeafGradHook& operator=(const LeafGradHook&) = delete;

  /// The function given as `ready`.
  const Ready& ready() const { return ready_; }
  /// The function given as `starting` (empty when none was).
  const Starting& starting() const { return starting_; }

 private:
  Ready ready_;
  Starting starting_;
};

extern template class LeafGradHook<float>;
extern template class LeafGradHook<double>;

/// Backpropagates from a scalar `root` (seed d(root)/d(root) = 1): walks this thread's tape in
/// reverse, accumulates gradients into every leaf that requires one, then frees the tape.
/// A second backward through the same (freed) tape is a usage_error.
template <class T>
void backward(const Var<T>& root);
/// As above, seeded with `grad` (the root's shape) for a non-scalar root.
template <class T>
void backward(const Var<T>& root, const Array<T>& grad);

}  // namespace tapegrad
