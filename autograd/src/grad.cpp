// The rule's side of the engine: the Grad kinds a rule can return, and the Context it reads.
#include "tapegrad/autograd/grad.hpp"

#include "engine_detail.hpp"

namespace tapegrad {

template <class T>
Grad<T> Grad<T>::block(Array<T> value, std::size_t axis, std::size_t start) {
  Grad g(std::move(value));
  g.kind_ = Kind::block;
  g.axis_ = axis;
  g.start_ = start;
  return g;
}

template <class T>
Grad<T> Grad<T>::outer(Array<T> a, Array<T> b) {
  Grad g(std::move(a));
  g.kind_ = Kind::outer;
  g.other_ = std::move(b);
  return g;
}

template <class T>
Grad<T> Grad<T>::at(Array<T> value, std::size_t axis, std::size_t index) {
  Grad g = block(std::move(value), axis, index);  // a block of length 1 without its axis
  g.kind_ = Kind::index;
  return g;
}

// ---- Context ----

template <class T>
const Array<T>& Context<T>::grad_output() const {
  return *entry_.output.node()->grad;
}
template <class T>
const Array<T>& Context<T>::output() const {
  const auto& out = *entry_.output.node();
  TAPEGRAD_ASSERT(entry_.reads_output && !out.released,
                  fmt::format("backward of '{}': the rule reads the output ({}), which the op was "
                              "recorded saying it does not read (record's `reads`)",
                              entry_.op, detail::describe(out)));
  if (out.version != 0) {  // an output is recorded before anything can change it
    throw usage_error(fmt::format(
        "backward of '{}': its output ({}) was changed in place after the op recorded it, and "
        "the rule reads it; its gradient would be wrong",
        entry_.op, detail::describe(out)));
  }
  return out.value;
}
template <class T>
const Array<T>& Context<T>::input(std::size_t i) const {
  TAPEGRAD_ASSERT(i < entry_.inputs.size(), "Context::input out of range in " + entry_.op);
  const auto& in = *entry_.inputs[i].node();
  TAPEGRAD_ASSERT((entry_.reads.empty() || entry_.reads[i] != 0) && !in.released,
                  fmt::format("backward of '{}': the rule reads input {} ({}), which the op was "
                              "recorded saying it does not read (record's `reads`)",
                              entry_.op, i, detail::describe(in)));
  return in.value;
}
template <class T>
std::optional<Array<T>> Context<T>::take_input(std::size_t i) const {
  (void)input(i);  // the same checks
  const std::shared_ptr<detail::Node<T>>& node = entry_.inputs[i].node();
  detail::Node<T>& in = *node;
  // During backward the tape's count of its handles falls as the walk drops entries
  // (run_backward), so a use count equal to it means no handle outside the tape; `readers`
  // counts the rules that read the value, this one among them.
  if (in.entry < 0 || in.tape_serial != entry_.output.node()->tape_serial || in.readers != 1 ||
      detail::anomaly_checks_on() ||
      static_cast<std::size_t>(node.use_count()) != std::size_t{in.tape_refs}) {
    return std::nullopt;
  }
  return detail::release_value(in);
}
template <class T>
const Shape& Context<T>::output_shape() const {
  return entry_.output.node()->shape();
}
template <class T>
const Shape& Context<T>::input_shape(std::size_t i) const {
  TAPEGRAD_ASSERT(i < entry_.inputs.size(), "Context::input_shape out of range in " + entry_.op);
  return entry_.inputs[i].node()->shape();
}
template <class T>
std::size_t Context<T>::num_inputs() const {
  return entry_.inputs.size();
}
template <class T>
bool Context<T>::needs_grad(std::size_t i) const {
  return i < entry_.inputs.size() && entry_.inputs[i].node()->requires_grad;
}
template <class T>
const Array<T>& Context<T>::saved(std::size_t i) const {
  TAPEGRAD_ASSERT(i < entry_.saved.size(), "Context::saved out of range in " + entry_.op);
  return entry_.saved[i];
}
template <class T>
Array<T> Context<T>::take_saved(std::size_t i) const {
  TAPEGRAD_ASSERT(i < entry_.saved.size(), "Context::take_saved out of range in " + entry_.op);
  // The engine runs an entry's rule once and drops the entry after (run_backward): nothing reads
  // the array again. The tape's entries are not const; the Context only hands out const access.
  return std::move(const_cast<detail::Entry<T>&>(entry_).saved[i]);
}
template <class T>
const std::string& Context<T>::op() const {
  return entry_.op;
}

template class Grad<float>;
template class Grad<double>;
template class Context<float>;
template class Context<double>;

}  // namespace tapegrad
