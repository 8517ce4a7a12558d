// Var, Tape, record() and backward(): the engine.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif
#include <unordered_set>

#include "detail.hpp"
#include "gemm.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad {

namespace {

std::atomic<std::uint64_t> next_tape_serial{1};
thread_local bool grad_enabled = true;
std::atomic<bool> flush_subnormals{true};
std::atomic<bool> anomaly_detection{false};

template <class T>
std::string describe(const detail::Node<T>& node);
thread_local std::vector<std::string> scopes;

std::string where_scoped(const std::string& scope) {
  return scope.empty() ? std::string() : fmt::format(" in {}", scope);
}

std::string index_str(const std::vector<std::size_t>& index) {
  return fmt::format("[{}]", fmt::join(index, ","));
}

// The first element of `a` that is NaN or infinite, as a phrase ("NaN at [1,2]"); "" if none.
template <class T>
std::string first_non_finite(const Array<T>& a) {
  const T* p = a.data();
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isfinite(p[i])) continue;
    std::vector<std::size_t> index(a.dimension());
    std::size_t rest = i;
    for (std::size_t d = a.dimension(); d-- > 0;) {
      index[d] = rest % a.shape()[d];
      rest /= a.shape()[d];
    }
    return fmt::format("{} at {} of shape {}",
                       std::isnan(p[i]) ? "NaN"
                       : p[i] > 0       ? "inf"
                                        : "-inf",
                       index_str(index), shape_str(a.shape()));
  }
  return {};
}

// "inputs: 'x' [2,3]; a value of shape [3] (holds NaN at [1]); output 'h'" for messages: the
// inputs that were not finite already are marked.
template <class T>
std::string operands_of(const std::vector<Var<T>>& inputs, const Var<T>* output) {
  std::vector<std::string> parts;
  for (const auto& v : inputs) {
    const std::string bad = first_non_finite(v.value());
    parts.push_back(describe(*v.node()) + (bad.empty() ? "" : " (holds " + bad + ")"));
  }
  std::string text = fmt::format("inputs: {}", fmt::join(parts, "; "));
  if (output != nullptr && output->defined() && !output->name().empty()) {
    text += fmt::format("; output '{}'", output->name());
  }
  return text;
}

// While alive, this thread flushes subnormal results to zero and reads subnormal operands as
// zero (MXCSR's FTZ and DAZ bits), if set_flush_denormals is on.
class ScopedFlushDenormals {
 public:
  ScopedFlushDenormals() {
#if defined(__SSE__)
    if (flush_subnormals.load(std::memory_order_relaxed)) {
      saved_ = _mm_getcsr();
      active_ = true;
      _mm_setcsr(saved_ | kFlushToZero | kDenormalsAreZero);
    }
#endif
  }
  ~ScopedFlushDenormals() {
#if defined(__SSE__)
    if (active_) _mm_setcsr(saved_);
#endif
  }
  ScopedFlushDenormals(const ScopedFlushDenormals&) = delete;
  ScopedFlushDenormals& operator=(const ScopedFlushDenormals&) = delete;

 private:
  static constexpr unsigned kFlushToZero = 0x8000;
  static constexpr unsigned kDenormalsAreZero = 0x0040;
  unsigned saved_ = 0;
  bool active_ = false;
};

template <class T>
std::string describe(const detail::Node<T>& node) {
  return node.name.empty() ? std::string("a value of shape ") + shape_str(node.value.shape())
                           : fmt::format("'{}' {}", node.name, shape_str(node.value.shape()));
}

// Sums the axes of `g` that `target` was broadcast along, giving an array of shape `target`.
template <class T>
Array<T> unbroadcast(const Array<T>& g, const Shape& target, const std::string& op, std::size_t k) {
  const Shape& gs = g.shape();
  const auto fail = [&] {
    return shape_error(fmt::format(
        "backward of '{}': the gradient for input {} has shape {}, which does not match or "
        "reduce to the input's shape {}",
        op, k, shape_str(gs), shape_str(target)));
  };
  if (gs.size() < target.size()) throw fail();
  const std::size_t lead = gs.size() - target.size();
  bool only_leading = true;
  for (std::size_t j = 0; j < target.size(); ++j) {
    if (target[j] != gs[lead + j]) {
      if (target[j] != 1) throw fail();
      only_leading = false;
    }
  }
  Array<T> out = detail::zeros_array<T>(target);
  if (only_leading) {
    // g is [rows, target...]: add the rows.
    const std::size_t inner = out.size();
    const std::size_t rows = inner == 0 ? 0 : g.size() / inner;
    T* o = out.data();
    const T* src = g.data();
    for (std::size_t r = 0; r < rows; ++r, src += inner) {
      for (std::size_t i = 0; i < inner; ++i) o[i] += src[i];
    }
    return out;
  }
  // General case: walk g, mapping each element to its place in the (padded) target.
  std::vector<std::size_t> strides(gs.size(), 0);
  std::size_t stride = 1;
  for (std::size_t j = target.size(); j-- > 0;) {
    strides[lead + j] = target[j] == 1 ? 0 : stride;
    stride *= target[j];
  }
  std::vector<std::size_t> idx(gs.size(), 0);
  T* o = out.data();
  std::size_t pos = 0;
  for (const T& v : g) {
    o[pos] += v;
    for (std::size_t d = gs.size(); d-- > 0;) {
      ++idx[d];
      pos += strides[d];
      if (idx[d] < gs[d]) break;
      pos -= strides[d] * idx[d];
      idx[d] = 0;
    }
  }
  return out;
}

template <class T>
void add_into(Array<T>& dst, const Array<T>& src) {
  T* d = dst.data();
  const T* s = src.data();
  const std::size_t n = dst.size();
  for (std::size_t i = 0; i < n; ++i) d[i] += s[i];
}

// Adds a block gradient into node.grad (allocated as zeros if absent).
template <class T>
void accumulate_block(detail::Node<T>& node, const Grad<T>& g, const std::string& op,
                      std::size_t k) {
  const Shape& shape = node.value.shape();
  const Shape& bs = g.value().shape();
  const bool is_index = g.kind() == Grad<T>::Kind::index;
  const std::size_t axis = g.axis();
  bool ok = axis < shape.size() && bs.size() + (is_index ? 1 : 0) == shape.size();
  std::size_t length = 1;
  if (ok) {
    for (std::size_t d = 0, b = 0; d < shape.size(); ++d) {
      if (d == axis) {
        if (!is_index) length = bs[b++];
        continue;
      }
      if (bs[b++] != shape[d]) ok = false;
    }
    ok = ok && g.start() + length <= shape[axis];
  }
  if (!ok) {
    throw shape_error(fmt::format(
        "backward of '{}': the gradient block for input {} has shape {} at axis {}, start {}, "
        "which does not fit the input's shape {}",
        op, k, shape_str(bs), axis, g.start(), shape_str(shape)));
  }
  if (!node.has_grad) {
    node.grad = detail::zeros_array<T>(shape);
    node.has_grad = true;
  }
  const detail::Lanes l = detail::lanes(shape, axis);
  const std::size_t chunk = length * l.inner;
  const T* src = g.value().data();
  for (std::size_t o = 0; o < l.outer; ++o, src += chunk) {
    T* dst = node.grad->data() + (o * l.n + g.start()) * l.inner;
    for (std::size_t i = 0; i < chunk; ++i) dst[i] += src[i];
  }
}

template <class T>
void settle(detail::Node<T>& node);

// Keeps the factors of an outer gradient a^T b for settle(), which runs once they hold
// kGatherRows rows (a GEMM with k = 512 runs near OpenBLAS's peak, and memory stays bounded)
// or when the node's gradient is complete.
constexpr std::size_t kGatherRows = 512;

template <class T>
void accumulate_outer(detail::Node<T>& node, Grad<T>&& g, const std::string& op, std::size_t k) {
  const Shape& shape = node.value.shape();
  const Shape& as = g.value().shape();
  const Shape& bs = g.other().shape();
  if (shape.size() != 2 || as.size() != 2 || bs.size() != 2 || as[0] != bs[0] ||
      as[1] != shape[0] || bs[1] != shape[1]) {
    throw shape_error(fmt::format(
        "backward of '{}': the outer gradient a^T b for input {} has a {} and b {}, which do "
        "not give the input's shape {}",
        op, k, shape_str(as), shape_str(bs), shape_str(shape)));
  }
  node.pending.emplace_back(std::move(g.value()), std::move(g.other()));
  std::size_t rows = 0;
  for (const auto& p : node.pending) rows += p.first.shape()[0];
  if (rows >= kGatherRows) settle(node);
}

// Adds the pending outer gradients of `node` into its gradient: one GEMM over all their rows.
template <class T>
void settle(detail::Node<T>& node) {
  if (node.pending.empty()) return;
  const std::size_t m = node.value.shape()[0], n = node.value.shape()[1];
  const bool had = node.has_grad;
  if (!had) {
    node.grad = detail::empty_array<T>(node.value.shape());
    node.has_grad = true;
  }
  const T beta = had ? T(1) : T(0);
  T* c = node.grad->data();
  if (node.pending.size() == 1) {
    const auto& [a, b] = node.pending.front();
    detail::gemm<T>(true, false, m, n, a.shape()[0], T(1), a.data(), m, b.data(), n, beta, c, n);
  } else {
    std::size_t rows = 0;
    for (const auto& p : node.pending) rows += p.first.shape()[0];
    Array<T> a = detail::empty_array<T>({rows, m});
    Array<T> b = detail::empty_array<T>({rows, n});
    T* pa = a.data();
    T* pb = b.data();
    for (auto& p : node.pending) {
      pa = std::copy(p.first.data(), p.first.data() + p.first.size(), pa);
      pb = std::copy(p.second.data(), p.second.data() + p.second.size(), pb);
      p = {no_array<T>(), no_array<T>()};  // freed as soon as copied
    }
    detail::gemm<T>(true, false, m, n, rows, T(1), a.data(), m, b.data(), n, beta, c, n);
  }
  node.pending.clear();
}

template <class T>
void accumulate(detail::Node<T>& node, Grad<T>&& g, const std::string& op, std::size_t k) {
  if (g.kind() == Grad<T>::Kind::outer) {
    accumulate_outer(node, std::move(g), op, k);
    return;
  }
  if (g.kind() == Grad<T>::Kind::block || g.kind() == Grad<T>::Kind::index) {
    accumulate_block(node, g, op, k);
    return;
  }
  Array<T>& v = g.value();
  if (v.shape() != node.value.shape()) v = unbroadcast(v, node.value.shape(), op, k);
  if (!node.has_grad) {
    node.grad = std::move(v);
    node.has_grad = true;
  } else {
    add_into(*node.grad, v);
  }
}

// Throws numerical_error at the first non-finite gradient a rule returned.
template <class T>
void check_grads(const detail::Entry<T>& e, const Grads<T>& grads) {
  for (std::size_t k = 0; k < grads.size(); ++k) {
    if (!grads[k].present()) continue;
    std::string bad = first_non_finite(grads[k].value());
    if (bad.empty() && grads[k].kind() == Grad<T>::Kind::outer) {
      bad = first_non_finite(grads[k].other());
    }
    if (bad.empty()) continue;
    const std::string from = first_non_finite(*e.output.node()->grad);
    throw numerical_error(fmt::format(
        "anomaly: backward of '{}'{} returned {} in the gradient for input {} ({}); the "
        "gradient of its output {}; {}",
        e.op, where_scoped(e.scope), bad, k, describe(*e.inputs[k].node()),
        from.empty() ? std::string("is finite") : "has " + from, operands_of(e.inputs, &e.output)));
  }
}

}  // namespace

// ---- Grad ----

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
  Grad g(std::move(value));
  g.kind_ = Kind::index;
  g.axis_ = axis;
  g.start_ = index;
  return g;
}

// ---- Context ----

template <class T>
const Array<T>& Context<T>::grad_output() const {
  return *entry_.output.node()->grad;
}
template <class T>
const Array<T>& Context<T>::output() const {
  return entry_.output.node()->value;
}
template <class T>
const Array<T>& Context<T>::input(std::size_t i) const {
  TAPEGRAD_ASSERT(i < entry_.inputs.size(), "Context::input out of range in " + entry_.op);
  return entry_.inputs[i].node()->value;
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
const std::string& Context<T>::op() const {
  return entry_.op;
}

// ---- Var ----

template <class T>
Var<T>::Var(Array<T> value, bool requires_grad, std::string name)
    : node_(std::make_shared<node_type>(std::move(value))) {
  node_->requires_grad = requires_grad;
  node_->name = std::move(name);
}

template <class T>
Var<T> Var<T>::scalar(T value, bool requires_grad, std::string name) {
  Array<T> a = Array<T>::from_shape({});
  a() = value;
  return Var(std::move(a), requires_grad, std::move(name));
}

template <class T>
Var<T> Var<T>::from_node(std::shared_ptr<node_type> node) {
  Var v;
  v.node_ = std::move(node);
  return v;
}

template <class T>
typename Var<T>::node_type& Var<T>::checked() const {
  if (!node_) throw usage_error("an empty Var (default-constructed) was used");
  return *node_;
}

template <class T>
Array<T>& Var<T>::mutable_value() {
  auto& n = checked();
  ++n.version;
  return n.value;
}

template <class T>
const Array<T>& Var<T>::grad() const {
  auto& n = checked();
  if (!n.has_grad) {
    throw usage_error(fmt::format("grad(): {} has no gradient{}", describe(n),
                                  !n.requires_grad ? " (it does not require one)"
                                  : n.entry >= 0
                                      ? " (it is not a leaf: call retain_grad() before backward)"
                                      : " (no backward has reached it since zero_grad())"));
  }
  return *n.grad;
}

template <class T>
Array<T>& Var<T>::mutable_grad() {
  return const_cast<Array<T>&>(static_cast<const Var&>(*this).grad());
}

template <class T>
void Var<T>::set_grad(Array<T> grad) {
  auto& n = checked();
  if (grad.shape() != n.value.shape()) {
    throw shape_error(fmt::format("set_grad: gradient shape {} differs from the value's {}",
                                  shape_str(grad.shape()), shape_str(n.value.shape())));
  }
  n.grad = std::move(grad);
  n.has_grad = true;
}

template <class T>
void Var<T>::zero_grad() {
  auto& n = checked();
  n.grad.reset();
  n.has_grad = false;
}

template <class T>
Var<T>& Var<T>::set_requires_grad(bool requires) {
  auto& n = checked();
  if (n.entry >= 0) {
    throw usage_error(fmt::format(
        "set_requires_grad: {} was computed by an op; only leaves can change it (use detach())",
        describe(n)));
  }
  n.requires_grad = requires;
  return *this;
}

template <class T>
Var<T>& Var<T>::retain_grad() {
  checked().retain_grad = true;
  return *this;
}

template <class T>
Var<T>& Var<T>::set_name(std::string name) {
  checked().name = std::move(name);
  return *this;
}

template <class T>
std::size_t Var<T>::size(int axis) const {
  return shape()[detail::normalize_axis("size", axis, shape())];
}

template <class T>
T Var<T>::item() const {
  const auto& v = value();
  if (v.size() != 1) {
    throw shape_error(fmt::format("item(): expected a value with one element, got shape {}",
                                  shape_str(v.shape())));
  }
  return *v.data();
}

template <class T>
Var<T> Var<T>::detach() const {
  const auto& n = checked();
  return Var(n.value, false, n.name);
}

template <class T>
void Var<T>::backward() const {
  tapegrad::backward(*this);
}

template <class T>
void Var<T>::backward(const Array<T>& grad) const {
  tapegrad::backward(*this, grad);
}

// ---- Tape ----

template <class T>
Tape<T>::Tape() : serial_(next_tape_serial.fetch_add(1)) {}

template <class T>
Tape<T>& Tape<T>::current() {
  thread_local Tape<T> tape;
  return tape;
}

template <class T>
void Tape<T>::clear() {
  entries_.clear();
  serial_ = next_tape_serial.fetch_add(1);
}

template <class T>
std::size_t Tape<T>::bytes() const {
  std::unordered_set<const void*> seen;
  std::size_t total = 0;
  auto count_node = [&](const Var<T>& v) {
    const auto& n = *v.node();
    if (!seen.insert(&n).second) return;
    if (n.entry < 0 && n.requires_grad) return;  // a parameter: owned by the model
    total += n.value.size() * sizeof(T);
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
                     BackwardRule<T>&& rule, std::vector<Array<T>>&& saved) {
  auto node = std::make_shared<detail::Node<T>>(std::move(output));
  node->requires_grad = true;
  node->entry = static_cast<std::int64_t>(entries_.size());
  node->tape_serial = serial_;
  detail::Entry<T>& e = entries_.emplace_back();
  e.op = std::move(op);
  for (const auto& in : inputs) e.versions.push_back(in.node()->version);
  e.inputs = std::move(inputs);
  e.output = Var<T>::from_node(std::move(node));
  e.saved = std::move(saved);
  e.rule = std::move(rule);
  if (anomaly_detection.load(std::memory_order_relaxed)) e.scope = scope_path();
  return e.output;
}

template <class T>
void Tape<T>::run_backward(const Var<T>& root, Array<T> seed) {
  auto& rn = *root.node();
  if (!rn.requires_grad) {
    throw usage_error(fmt::format(
        "backward: {} does not require a gradient (no input of its computation requires one, "
        "or it was computed under NoGrad)",
        describe(rn)));
  }
  if (rn.entry < 0) {  // a leaf: d(root)/d(root)
    accumulate(rn, Grad<T>(std::move(seed)), "backward", 0);
    return;
  }
  if (rn.tape_serial != serial_ || static_cast<std::size_t>(rn.entry) >= entries_.size()) {
    throw usage_error(fmt::format(
        "backward: the tape that recorded {} was already freed (by an earlier backward() or "
        "Tape::clear()), or it belongs to another thread; backward runs once per recorded "
        "computation: run the forward pass again",
        describe(rn)));
  }
  const ScopedFlushDenormals flush;
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

  accumulate(rn, Grad<T>(std::move(seed)), "backward", 0);
  for (auto i = rn.entry; i >= 0; --i) {
    detail::Entry<T>& e = entries_[static_cast<std::size_t>(i)];
    auto& out = *e.output.node();
    settle(out);  // its gradient is complete: every op that used it comes later on the tape
    if (out.has_grad) {
      for (std::size_t k = 0; k < e.inputs.size(); ++k) {
        const auto& in = *e.inputs[k].node();
        if (in.version != e.versions[k]) {
          throw usage_error(fmt::format(
              "backward of '{}': input {} ({}) was changed in place after the op recorded it; "
              "its gradient would be wrong",
              e.op, k, describe(in)));
        }
      }
      Grads<T> grads = e.rule(Context<T>(e));
      if (grads.size() != e.inputs.size()) {
        throw usage_error(
            fmt::format("backward of '{}': the rule returned {} gradients for {} inputs", e.op,
                        grads.size(), e.inputs.size()));
      }
      if (anomaly_detection.load(std::memory_order_relaxed)) check_grads(e, grads);
      for (std::size_t k = 0; k < grads.size(); ++k) {
        auto& in = *e.inputs[k].node();
        if (!grads[k].present() || !in.requires_grad) continue;
        const bool outer = grads[k].kind() == Grad<T>::Kind::outer;
        accumulate(in, std::move(grads[k]), e.op, k);
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
    // This entry is done: release what only it held, so memory falls as backward proceeds.
    e = detail::Entry<T>();
  }
  for (auto& n : waiting) settle(*n);
}

// ---- record, backward, NoGrad ----

NoGrad::NoGrad() : previous_(grad_enabled) {
  grad_enabled = false;
}
NoGrad::~NoGrad() {
  grad_enabled = previous_;
}
bool is_grad_enabled() {
  return grad_enabled;
}
void set_detect_anomaly(bool on) {
  anomaly_detection.store(on);
}
bool detect_anomaly() {
  return anomaly_detection.load();
}
DetectAnomaly::DetectAnomaly() : previous_(detect_anomaly()) {
  set_detect_anomaly(true);
}
DetectAnomaly::~DetectAnomaly() {
  set_detect_anomaly(previous_);
}
Scope::Scope(std::string label) {
  scopes.push_back(std::move(label));
}
Scope::~Scope() {
  scopes.pop_back();
}
std::string scope_path() {
  return fmt::format("{}", fmt::join(scopes, " / "));
}

void set_flush_denormals(bool on) {
  flush_subnormals.store(on);
}
bool flush_denormals() {
  return flush_subnormals.load();
}

template <class T>
Var<T> record(std::string op, std::vector<Var<T>> inputs, Array<T> output, BackwardRule<T> rule,
              std::vector<Array<T>> saved) {
  bool any = false;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    if (!inputs[k].defined()) {
      throw usage_error(fmt::format("{}: input {} is an empty Var", op, k));
    }
    any = any || inputs[k].node()->requires_grad;
  }
  if (anomaly_detection.load(std::memory_order_relaxed)) {
    const std::string bad = first_non_finite(output);
    if (!bad.empty()) {
      throw numerical_error(fmt::format("anomaly: '{}'{} computed {}; {}", op,
                                        where_scoped(scope_path()), bad,
                                        operands_of<T>(inputs, nullptr)));
    }
  }
  if (!grad_enabled || !any) return Var<T>(std::move(output));
  if (!rule) throw usage_error(fmt::format("{}: recorded without a backward rule", op));
  Tape<T>& t = Tape<T>::current();
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const auto& n = *inputs[k].node();
    if (n.requires_grad && n.entry >= 0 && n.tape_serial != t.serial()) {
      throw usage_error(fmt::format(
          "{}: input {} ({}) was computed on a tape that has been freed (by backward() or "
          "Tape::clear()) or on another thread; detach() it to use it as a constant, as between "
          "chunks of truncated BPTT",
          op, k, describe(n)));
    }
  }
  return t.push(std::move(op), std::move(inputs), std::move(output), std::move(rule),
                std::move(saved));
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

#define TAPEGRAD_INSTANTIATE(T)                                                          \
  template class Grad<T>;                                                                \
  template class Context<T>;                                                             \
  template class Var<T>;                                                                 \
  template class Tape<T>;                                                                \
  template Var<T> record<T>(std::string, std::vector<Var<T>>, Array<T>, BackwardRule<T>, \
                            std::vector<Array<T>>);                                      \
  template void backward<T>(const Var<T>&);                                              \
  template void backward<T>(const Var<T>&, const Array<T>&);

TAPEGRAD_INSTANTIATE(float)
TAPEGRAD_INSTANTIATE(double)

}  // namespace tapegrad
