// Recording: each thread's Tape (its life, its size) and record(), which appends an op to it.
#include <atomic>
#include <unordered_set>

#include "engine_detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

namespace {

std::atomic<std::uint64_t> next_tape_serial{1};

}  // namespace

namespace detail {

template <class T>
void release_if_unused(const std::shared_ptr<Node<T>>& node) noexcept {
  Node<T>& n = *node;
  // Only on the recording thread, during the tape's life and outside backward (the serial
  // checked first: it is the one field no other thread writes).
  if (n.tape_serial != releasing_serial<T>() || n.readers != 0 || n.tape_refs == 0 || n.released) {
    return;
  }
  // The handle being dropped is the last one besides the tape's own.
  if (static_cast<std::size_t>(node.use_count()) != std::size_t{n.tape_refs} + 1) return;
  if (anomaly_checks_on()) return;  // its messages show every value
  release_value(n);
}

template <class T>
void throw_released(const Node<T>& node) {
  throw usage_error(fmt::format(
      "{} was released from the tape: no handle outside the tape held it and no recorded "
      "backward rule reads it (record's `reads`); its shape is kept, its value is not",
      describe(node)));
}

}  // namespace detail

template <class T>
Tape<T>::Tape() : serial_(next_tape_serial.fetch_add(1)) {
  detail::releasing_serial<T>() = serial_;
}

template <class T>
Tape<T>::~Tape() {
  detail::releasing_serial<T>() = 0;  // the entries' handles go now: release nothing
}

template <class T>
Tape<T>& Tape<T>::current() {
  thread_local Tape<T> tape;
  return tape;
}

template <class T>
void Tape<T>::clear() {
  detail::releasing_serial<T>() = 0;  // the entries' handles go now: release nothing
  entries_.clear();
  serial_ = next_tape_serial.fetch_add(1);
  detail::releasing_serial<T>() = serial_;
}

template <class T>
std::size_t Tape<T>::bytes() const {
  std::unordered_set<const void*> seen;
  std::size_t total = 0;
  auto count_node = [&](const Var<T>& v) {
    const auto& n = *v.node();
    if (!seen.insert(&n).second) return;
    if (n.entry < 0 && n.requires_grad) return;  // a parameter: owned by the model
    if (!n.released) total += n.value.size() * sizeof(T);
    if (n.has_grad) total += n.grad->size() * sizeof(T);
    for (const auto& p : n.pending) total += (p.first.size() + p.second.size()) * sizeof(T);
  };
  for (const auto& e : entries_) {
    if (!e.output.defined()) continue;
    count_node(e.output);
    for (const auto& in : e.inputs) count_node(in);
    for (const auto& s : e.saved) total += s.size() * sizeof(T);
  }
  return total;
}

template <class T>
Var<T> Tape<T>::push(std::string&& op, std::vector<Var<T>>&& inputs, Array<T>&& output,
                     BackwardRule<T>&& rule, std::vector<Array<T>>&& saved,
                     const std::vector<RowRead>& rows, const Reads& reads) {
  auto node = std::make_shared<detail::Node<T>>(std::move(output));
  node->requires_grad = true;
  node->entry = static_cast<std::int64_t>(entries_.size());
  node->tape_serial = serial_;
  node->tape_refs = 1;  // the entry's output
  node->readers = reads.output ? 1 : 0;
  detail::Entry<T>& e = entries_.emplace_back();
  e.op = std::move(op);
  e.reads_output = reads.output;
  if (!reads.all_inputs) {
    e.reads.assign(inputs.size(), 0);
    for (std::size_t k : reads.inputs) e.reads[k] = 1;
    for (const RowRead& r : rows) e.reads[r.input] = 1;
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    auto& in = *inputs[k].node();
    e.versions.push_back(in.version);
    if (in.entry < 0 || in.tape_serial != serial_) continue;  // a leaf: never released
    ++in.tape_refs;
    if (e.reads.empty() || e.reads[k] != 0) ++in.readers;
  }
  if (!rows.empty()) {
    e.rows.assign(inputs.size(), -1);
    for (const RowRead& r : rows) {
      auto& in = *inputs[r.input].node();
      // From now on whole-value writes count per row too (Var::mutable_value).
      if (in.row_versions.empty()) in.row_versions.assign(in.value.shape()[0], 0);
      e.rows[r.input] = static_cast<std::int64_t>(r.row);
      e.versions[r.input] = in.row_versions[r.row];
    }
  }
  e.inputs = std::move(inputs);
  e.output = Var<T>::from_node(std::move(node));
  e.saved = std::move(saved);
  e.rule = std::move(rule);
  if (detail::anomaly_checks_on()) e.scope = scope_path();
  return e.output;
}

template <class T>
Var<T> record(std::string op, std::vector<Var<T>> inputs, Array<T> output, BackwardRule<T> rule,
              std::vector<Array<T>> saved, std::vector<RowRead> rows, Reads reads) {
  bool any = false;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].defined()) {
      throw usage_error(fmt::format("{}: input {} is an empty Var", op, k));
    }
    any = any || inputs[k].node()->requires_grad;
  }
  for (const RowRead& r : rows) {
    if (r.input >= inputs.size() || inputs[r.input].ndim() == 0 ||
        r.row >= inputs[r.input].shape()[0]) {
      throw usage_error(
          fmt::format("{}: reads row {} of input {}, which does not exist", op, r.row, r.input));
    }
  }
  for (std::size_t k : reads.inputs) {
    if (k >= inputs.size()) {
      throw usage_error(fmt::format("{}: reads input {} of {}", op, k, inputs.size()));
    }
  }
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (inputs[k].node()->released) detail::throw_released(*inputs[k].node());
  }
  if (detail::anomaly_checks_on()) detail::check_output(op, inputs, output);
  if (!is_grad_enabled() || !any) return Var<T>(std::move(output));
  if (!rule) throw usage_error(fmt::format("{}: recorded without a backward rule", op));
  Tape<T>& t = Tape<T>::current();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const auto& n = *inputs[k].node();
    if (n.requires_grad && n.entry >= 0 && n.tape_serial != t.serial()) {
      throw usage_error(fmt::format(
          "{}: input {} ({}) was computed on a tape that has been freed (by backward() or "
          "Tape::clear()) or on another thread; detach() it to use it as a constant, as between "
          "chunks of truncated BPTT",
          op, k, detail::describe(n)));
    }
  }
  return t.push(std::move(op), std::move(inputs), std::move(output), std::move(rule),
                std::move(saved), rows, reads);
}

// A vector of entries grows by moving them, never by copying (a copy's handles would count as
// handles outside the tape).
static_assert(std::is_nothrow_move_constructible_v<detail::Entry<float>>);

#define TAPEGRAD_INSTANTIATE(T)                                                                 \
  template class Tape<T>;                                                                       \
  template Var<T> record<T>(std::string, std::vector<Var<T>>, Array<T>, BackwardRule<T>,        \
                            std::vector<Array<T>>, std::vector<RowRead>, Reads);                \
  template void detail::release_if_unused<T>(const std::shared_ptr<detail::Node<T>>&) noexcept; \
  template void detail::throw_released<T>(const detail::Node<T>&);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad
