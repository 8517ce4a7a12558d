// The backward walk: seed the root's gradient, run each rule in reverse order, free the tape.
#include <algorithm>
#include <unordered_set>
#include <utility>

#include "engine_detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

namespace {

// This thread's live LeafGradHooks of scalar type T, in the order they were made.
template <class T>
std::vector<const LeafGradHook<T>*>& leaf_hooks() {
  thread_local std::vector<const LeafGradHook<T>*> hooks;
  return hooks;
}

// The leaves requiring a gradient that entries 0..last take as inputs, each with the earliest
// entry that does, in increasing order of that entry: where the reverse walk finishes each
// leaf's gradient. Only built while a LeafGradHook is alive.
template <class T>
std::vector<std::pair<std::int64_t, std::shared_ptr<detail::Node<T>>>> first_uses(
    const std::vector<detail::Entry<T>>& entries, std::int64_t last) {
  std::vector<std::pair<std::int64_t, std::shared_ptr<detail::Node<T>>>> firsts;
  std::unordered_set<const detail::Node<T>*> seen;
  for (std::int64_t i = 0; i <= last; ++i) {
    for (const Var<T>& in : entries[static_cast<std::size_t>(i)].inputs) {
      const auto& node = in.node();
      if (node->entry < 0 && node->requires_grad && seen.insert(node.get()).second) {
        firsts.emplace_back(i, node);
      }
    }
  }
  return firsts;
}

// Tells the hooks that have a `starting` function which leaves the walk will report: the
// leaves of `firsts` from the last to the first.
template <class T>
void walk_starting(
    const std::vector<std::pair<std::int64_t, std::shared_ptr<detail::Node<T>>>>& firsts) {
  const auto& hooks = leaf_hooks<T>();
  if (std::none_of(hooks.begin(), hooks.end(), [](const auto* h) { return bool(h->starting()); }))
    return;
  std::vector<Var<T>> leaves;
  leaves.reserve(firsts.size());
  for (auto it = firsts.rbegin(); it != firsts.rend(); ++it) {
    leaves.push_back(Var<T>::from_node(it->second));
  }
  for (const auto* hook : hooks) {
    if (hook->starting()) hook->starting()(leaves);
  }
}

// The leaf's gradient is final: its outer gradients are added, then every hook sees it.
template <class T>
void leaf_ready(const std::shared_ptr<detail::Node<T>>& node) {
  detail::settle(*node);
  const Var<T> leaf = Var<T>::from_node(node);
  for (const auto* hook : leaf_hooks<T>()) hook->ready()(leaf);
}

// Counts a walked entry's handles out of its values' tape_refs, as push() counted them in: its
// output's, and each input's that this tape computed (`serial`).
template <class T>
void drop_tape_refs(const detail::Entry<T>& e, std::uint64_t serial) {
  --e.output.node()->tape_refs;
  for (const Var<T>& in : e.inputs) {
    detail::Node<T>& n = *in.node();
    if (n.entry >= 0 && n.tape_serial == serial) --n.tape_refs;
  }
}

}  // namespace

template <class T>
LeafGradHook<T>::LeafGradHook(Ready ready, Starting starting)
    : ready_(std::move(ready)), starting_(std::move(starting)) {
  if (!ready_) throw usage_error("LeafGradHook: the ready function is empty");
  leaf_hooks<T>().push_back(this);
}

template <class T>
LeafGradHook<T>::~LeafGradHook() {
  auto& hooks = leaf_hooks<T>();
  hooks.erase(std::remove(hooks.begin(), hooks.end(), this), hooks.end());
}

template <class T>
void Tape<T>::run_backward(const Var<T>& root, Array<T> seed) {
  auto& rn = *root.node();
  if (!rn.requires_grad) {
    throw usage_error(fmt::format(
        "backward: {} does not require a gradient (no input of its computation requires one, "
        "or it was computed under NoGrad)",
        detail::describe(rn)));
  }
  if (rn.entry < 0) {  // a leaf: d(root)/d(root)
    detail::accumulate(rn, Grad<T>(std::move(seed)), "backward", 0);
    if (!leaf_hooks<T>().empty()) {
      walk_starting<T>({{0, root.node()}});
      leaf_ready(root.node());
    }
    return;
  }
  if (rn.tape_serial != serial_ || static_cast<std::size_t>(rn.entry) >= entries_.size()) {
    throw usage_error(fmt::format(
        "backward: the tape that recorded {} was already freed (by an earlier backward() or "
        "Tape::clear()), or it belongs to another thread; backward runs once per recorded "
        "computation: run the forward pass again",
        detail::describe(rn)));
  }
  const detail::ScopedFlushDenormals flush;
  // No value is released while the walk drops the entries' handles (clear() sets it again).
  detail::releasing_serial<T>() = 0;
  // Leaves that received outer gradients, settled at the end.
  std::vector<std::shared_ptr<detail::Node<T>>> waiting;
  // Free the tape whatever happens: a half-walked tape cannot be walked again; a failed
  // backward adds no pending outer gradient later.
  struct Release {
    Tape& tape;
    std::vector<std::shared_ptr<detail::Node<T>>>& waiting;
    ~Release() {
      for (auto& n : waiting) n->pending.clear();
      tape.clear();
    }
  } release{*this, waiting};

  // With a LeafGradHook alive: each leaf with the entry that finishes its gradient.
  const auto firsts = leaf_hooks<T>().empty() ? decltype(first_uses(entries_, 0))()
                                              : first_uses(entries_, rn.entry);
  std::size_t unfinished = firsts.size();
  if (!firsts.empty()) walk_starting(firsts);

  detail::accumulate(rn, Grad<T>(std::move(seed)), "backward", 0);
  for (auto i = rn.entry; i >= 0; --i) {
    detail::Entry<T>& e = entries_[static_cast<std::size_t>(i)];
    auto& out = *e.output.node();
    // Its gradient is complete: every op that used it comes later on the tape.
    detail::settle(out);
    if (out.has_grad) {
      for (std::size_t k = 0; k < e.inputs.size(); ++k) {
        const auto& in = *e.inputs[k].node();
        const std::int64_t row = e.rows.empty() ? -1 : e.rows[k];
        const std::uint32_t now =
            row < 0 ? in.version : in.row_versions[static_cast<std::size_t>(row)];
        if (now != e.versions[k]) {
          throw usage_error(fmt::format(
              "backward of '{}': input {} ({}){} was changed in place after the op recorded it; "
              "its gradient would be wrong",
              e.op, k, detail::describe(in),
              row < 0 ? std::string() : fmt::format(", row {},", row)));
        }
      }
      Grads<T> grads = e.rule(Context<T>(e));
      if (grads.size() != e.inputs.size()) {
        throw usage_error(
            fmt::format("backward of '{}': the rule returned {} gradients for {} inputs", e.op,
                        grads.size(), e.inputs.size()));
      }
      if (detail::anomaly_checks_on()) detail::check_grads(e, grads);
      for (std::size_t k = 0; k < grads.size(); ++k) {
        auto& in = *e.inputs[k].node();
        if (!grads[k].present() || !in.requires_grad) continue;
        const bool outer = grads[k].kind() == Grad<T>::Kind::outer;
        detail::accumulate(in, std::move(grads[k]), e.op, k);
        // A leaf with outer gradients is settled at the end (a non-leaf at its own entry).
        if (outer && in.entry < 0 &&
            std::find(waiting.begin(), waiting.end(), e.inputs[k].node()) == waiting.end()) {
          waiting.push_back(e.inputs[k].node());
        }
      }
      if (!out.retain_grad) {
        out.grad.reset();
        out.has_grad = false;
      }
    }
    // This entry is done: release what only it held, so memory falls as backward proceeds,
    // and count its handles out of the values' tape_refs (Context::take_input reads them).
    drop_tape_refs(e, serial_);
    e = detail::Entry<T>();
    // Every entry that reads these leaves has run: their gradients are final.
    for (; unfinished > 0 && firsts[unfinished - 1].first == i; --unfinished) {
      leaf_ready(firsts[unfinished - 1].second);
    }
  }
  for (auto& n : waiting) detail::settle(*n);
}

template <class T>
void backward(const Var<T>& root) {
  detail::check_defined("backward", {&root});
  if (root.size() != 1) {
    throw usage_error(fmt::format(
        "backward: the output has shape {}; reduce it to one element (e.g. sum or mean) or pass "
        "its gradient",
        shape_str(root.shape())));
  }
  Array<T> seed = Array<T>::from_shape(root.shape());
  seed.fill(T(1));
  Tape<T>::current().run_backward(root, std::move(seed));
}

template <class T>
void backward(const Var<T>& root, const Array<T>& grad) {
  detail::check_defined("backward", {&root});
  if (grad.shape() != root.shape()) {
    throw shape_error(fmt::format("backward: the gradient has shape {}, the output {}",
                                  shape_str(grad.shape()), shape_str(root.shape())));
  }
  Tape<T>::current().run_backward(root, grad);
}

#define TAPEGRAD_INSTANTIATE(T)                                 \
  template class LeafGradHook<T>;                               \
  template void Tape<T>::run_backward(const Var<T>&, Array<T>); \
  template void backward<T>(const Var<T>&);                     \
  template void backward<T>(const Var<T>&, const Array<T>&);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad
