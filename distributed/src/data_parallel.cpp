// DataParallel: the parameters' check and broadcast, the buckets, their exchange during
// backward (through a LeafGradHook) and finish().
#include "tapegrad/distributed/data_parallel.hpp"

#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <unordered_map>

#include "comm_detail.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace tapegrad::distributed {

namespace {

// One line per parameter: its name, shape and scalar size; what the ranks compare.
template <class T>
std::vector<std::string> describe_parameters(const nn::Module<T>& module) {
  std::vector<std::string> lines;
  for (const auto& [name, p] : module.named_parameters()) {
    lines.push_back(fmt::format("'{}' {} ({}-byte scalars{})", name, shape_str(p.shape()),
                                sizeof(T), p.requires_grad() ? "" : ", frozen"));
  }
  return lines;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t end = text.find('\n', at);
    lines.push_back(text.substr(at, end - at));
    at = end == std::string::npos ? text.size() : end + 1;
  }
  return lines;
}

// A value_error (on every rank alike) unless every rank describes the same parameters.
void check_same_parameters(Communicator& comm, const std::vector<std::string>& mine) {
  std::string joined;
  for (const std::string& line : mine) joined += line + '\n';
  const std::vector<std::string> all = comm.all_gather(joined);
  const std::vector<std::string> first = split_lines(all[0]);
  for (std::size_t r = 1; r < all.size(); ++r) {
    const std::vector<std::string> theirs = split_lines(all[r]);
    const std::size_t n = std::min(first.size(), theirs.size());
    for (std::size_t i = 0; i < n; ++i) {
      if (first[i] != theirs[i]) {
        throw value_error(fmt::format(
            "DataParallel: the ranks' models differ at parameter {}: rank 0 has {}, rank {} has "
            "{}",
            i, first[i], r, theirs[i]));
      }
    }
    if (first.size() != theirs.size()) {
      const bool rank0_longer = first.size() > theirs.size();
      throw value_error(fmt::format(
          "DataParallel: rank 0 has {} parameters, rank {} has {}; the first one only {} has is "
          "{}",
          first.size(), r, theirs.size(), rank0_longer ? "rank 0" : fmt::format("rank {}", r),
          rank0_longer ? first[n] : theirs[n]));
    }
  }
}

}  // namespace

template <class T>
struct DataParallel<T>::Impl {
  struct Slot {
    Var<T> param;
    std::string name;
    std::size_t bucket = 0;
    std::size_t offset = 0;  // in the bucket's data
    bool reported = false;   // this step
  };
  struct Bucket {
    std::vector<std::size_t> slots;
    std::vector<T> data;      // the gradients of its parameters, one after the other
    std::vector<T> gathered;  // Reduction::ordered: every rank's data, by rank
    std::size_t waiting = 0;  // parameters not reported yet this step
    MPI_Request request = MPI_REQUEST_NULL;
    bool started = false;
  };

  detail::CommState* state = nullptr;
  Reduction reduction = Reduction::allreduce;
  std::vector<Slot> slots;  // trainable parameters, in registration order
  std::vector<Bucket> buckets;
  std::unordered_map<const tapegrad::detail::Node<T>*, std::size_t> by_node;
  std::vector<int> used;        // per slot: this rank had a gradient this step
  std::vector<int> used_total;  // per slot: the ranks that had one
  std::size_t next = 0;  // the next bucket to start: they start in order, the same on every rank
  std::size_t started_in_backward = 0;
  std::size_t started_in_finish = 0;
  std::unique_ptr<LeafGradHook<T>> hook;
  // An exchange failed (a communication_error) with buckets outstanding: MPI may still write
  // into their buffers, so they are never freed (the job is ending anyway).
  bool abandoned = false;
  std::size_t reported_count = 0;  // slots reported this step
  // backward completed the step (its last gradient was final): the next finish() has nothing
  // to do.
  bool completed_by_backward = false;

  void start(Bucket& b) {
    const int n = static_cast<int>(b.data.size());
    int code = MPI_SUCCESS;
    if (reduction == Reduction::allreduce) {
      code = MPI_Iallreduce(MPI_IN_PLACE, b.data.data(), n, detail::mpi_type<T>(), MPI_SUM,
                            state->comm, &b.request);
    } else {
      code = MPI_Iallgather(b.data.data(), n, detail::mpi_type<T>(), b.gathered.data(), n,
                            detail::mpi_type<T>(), state->comm, &b.request);
    }
    if (code != MPI_SUCCESS) detail::fault(*state, "DataParallel: starting a bucket failed");
    b.started = true;
  }

  // Copies the slot's gradient (zeros when it has none) into its bucket; starts the bucket
  // when it was the last one missing. `in_backward`: called by the hook (else by finish()).
  void report(std::size_t s, bool in_backward) {
    Slot& slot = slots[s];
    if (slot.reported) {
      throw usage_error(fmt::format(
          "DataParallel: parameter '{}' got a gradient twice in one step; call finish() after "
          "each backward (one backward per step)",
          slot.name));
    }
    slot.reported = true;
    if (reported_count++ == 0) completed_by_backward = false;  // a new step
    Bucket& b = buckets[slot.bucket];
    T* into = b.data.data() + slot.offset;
    const std::size_t n = slot.param.size();
    if (slot.param.has_grad()) {
      const Array<T>& g = slot.param.grad();
      std::copy(g.data(), g.data() + n, into);
      used[s] = 1;
    } else {
      std::fill(into, into + n, T(0));
      used[s] = 0;
    }
    --b.waiting;
    // MPI needs every rank to start the collectives of a communicator in one order: buckets
    // start in index order, a ready bucket waiting for the ones before it (as PyTorch's).
    for (; next < buckets.size() && buckets[next].waiting == 0; ++next) {
      start(buckets[next]);
      ++(in_backward ? started_in_backward : started_in_finish);
    }
  }

  // At the start of a backward walk that reaches this model: the parameters it will not
  // report get no gradient from it, so they count (as zeros, or what gradient they hold) now.
  void starting(const std::vector<Var<T>>& leaves) {
    std::vector<bool> walked(slots.size(), false);
    bool ours = false;
    for (const Var<T>& leaf : leaves) {
      const auto it = by_node.find(leaf.node().get());
      if (it == by_node.end()) continue;
      walked[it->second] = true;
      ours = true;
    }
    if (!ours) return;  // another model's backward
    for (std::size_t s = 0; s < slots.size(); ++s) {
      if (!walked[s] && !slots[s].reported) report(s, true);
    }
  }

  // Lets MPI move the started exchanges on (non-blocking collectives progress inside MPI calls).
  void progress() {
    for (Bucket& b : buckets) {
      if (b.request == MPI_REQUEST_NULL) continue;
      int done = 0;
      if (MPI_Test(&b.request, &done, MPI_STATUS_IGNORE) != MPI_SUCCESS) {
        detail::fault(*state, "DataParallel: a bucket's exchange failed");
      }
    }
  }
};

template <class T>
DataParallel<T>::DataParallel(nn::Module<T>& module, Communicator comm, DataParallelOptions options)
    : module_(module), comm_(std::move(comm)), impl_(std::make_unique<Impl>()) {
  if (options.bucket_bytes == 0) {
    throw value_error("DataParallel: bucket_bytes must be positive, got 0");
  }
  detail::check_usable(*comm_.state(), "DataParallel");
  check_same_parameters(comm_, describe_parameters(module_));

  // Rank 0's values everywhere: one broadcast of all of them.
  const auto named = module_.named_parameters();
  std::size_t total = 0;
  for (const auto& np : named) total += np.second.size();
  std::vector<T> values(total);
  std::size_t at = 0;
  for (const auto& np : named) {
    const Array<T>& v = np.second.value();
    at = static_cast<std::size_t>(std::copy(v.data(), v.data() + v.size(), values.data() + at) -
                                  values.data());
  }
  comm_.broadcast(values.data(), total, 0);
  if (comm_.rank() != 0) {
    at = 0;
    for (const auto& np : named) {
      Array<T>& v = np.second.mutable_value();
      std::copy(values.data() + at, values.data() + at + v.size(), v.data());
      at += v.size();
    }
  }

  Impl& im = *impl_;
  im.state = comm_.state().get();
  im.reduction = options.reduction;
  for (const auto& [name, p] : named) {
    if (p.requires_grad()) im.slots.push_back({p, name});
  }
  // Buckets in reverse registration order: the last layers' gradients are final first.
  const std::size_t per_element = sizeof(T);
  for (std::size_t k = im.slots.size(); k-- > 0;) {
    auto& slot = im.slots[k];
    const std::size_t n = slot.param.size();
    if (n > static_cast<std::size_t>(INT_MAX) / static_cast<std::size_t>(comm_.size())) {
      throw value_error(fmt::format(
          "DataParallel: parameter '{}' has {} elements, more than one MPI message can carry",
          slot.name, n));
    }
    if (im.buckets.empty() ||
        (im.buckets.back().data.size() + n) * per_element > options.bucket_bytes ||
        im.buckets.back().data.size() + n > static_cast<std::size_t>(INT_MAX / comm_.size())) {
      if (im.buckets.empty() || !im.buckets.back().slots.empty()) im.buckets.emplace_back();
    }
    auto& b = im.buckets.back();
    slot.bucket = im.buckets.size() - 1;
    slot.offset = b.data.size();
    b.slots.push_back(k);
    b.data.resize(b.data.size() + n);
    im.by_node.emplace(slot.param.node().get(), k);
  }
  for (auto& b : im.buckets) {
    b.waiting = b.slots.size();
    if (im.reduction == Reduction::ordered) {
      b.gathered.resize(b.data.size() * static_cast<std::size_t>(comm_.size()));
    }
  }
  im.used.assign(im.slots.size(), 0);
  im.used_total.assign(im.slots.size(), 0);
  im.hook = std::make_unique<LeafGradHook<T>>(
      [this](const Var<T>& leaf) {
        Impl& i = *impl_;
        const auto it = i.by_node.find(leaf.node().get());
        if (it == i.by_node.end()) return;  // not one of this model's parameters
        i.report(it->second, true);
        if (i.reported_count == i.slots.size()) {
          // The model's last gradient is final: wait for the buckets and write the means now,
          // so the optimizer's step after backward needs nothing more (as PyTorch's).
          complete_step();
          i.completed_by_backward = true;
        } else {
          i.progress();
        }
      },
      [this](const std::vector<Var<T>>& leaves) { impl_->starting(leaves); });
}

template <class T>
DataParallel<T>::~DataParallel() {
  if (impl_->abandoned) {
    impl_->hook.reset();
    impl_.release();  // NOLINT(bugprone-unused-return-value): see Impl::abandoned
  }
}

template <class T>
void DataParallel<T>::finish() {
  if (impl_->completed_by_backward) {  // backward did it
    impl_->completed_by_backward = false;
    return;
  }
  complete_step();
}

template <class T>
void DataParallel<T>::complete_step() {
  Impl& im = *impl_;
  detail::check_usable(*im.state, "DataParallel::finish");
  const auto begin = std::chrono::steady_clock::now();
  StepStats stats;
  stats.buckets = im.buckets.size();
  im.progress();
  for (const auto& b : im.buckets) {
    if (b.started && b.request == MPI_REQUEST_NULL) ++stats.complete_at_finish;
  }
  // Parameters no hook reported (no walked entry read them, or backward ran on another thread):
  // their gradients, or zeros, go now, and their buckets start.
  for (std::size_t s = 0; s < im.slots.size(); ++s) {
    if (!im.slots[s].reported) im.report(s, false);
  }
  std::vector<MPI_Request> requests;
  for (auto& b : im.buckets) {
    if (b.request != MPI_REQUEST_NULL) requests.push_back(b.request);
    b.request = MPI_REQUEST_NULL;  // wait_all completes it
  }
  const int n_slots = static_cast<int>(im.slots.size());
  requests.push_back(MPI_REQUEST_NULL);
  if (MPI_Iallreduce(im.used.data(), im.used_total.data(), n_slots, MPI_INT, MPI_SUM,
                     im.state->comm, &requests.back()) != MPI_SUCCESS) {
    detail::fault(*im.state, "DataParallel::finish: exchanging which parameters were used failed");
  }
  try {
    detail::wait_all(*im.state, requests, fmt::format("the gradients of step {}", steps_ + 1));
  } catch (const communication_error&) {
    im.abandoned = true;
    throw;
  }

  const auto p = static_cast<std::size_t>(comm_.size());
  const T ranks = static_cast<T>(p);
  for (auto& b : im.buckets) {
    const std::size_t n = b.data.size();
    if (im.reduction == Reduction::ordered) {
      // ((g_0 + g_1) + g_2) + ...: rank order, the same bits on every rank.
      std::copy(b.gathered.begin(), b.gathered.begin() + static_cast<std::ptrdiff_t>(n),
                b.data.begin());
      for (std::size_t r = 1; r < p; ++r) {
        const T* g = b.gathered.data() + r * n;
        for (std::size_t i = 0; i < n; ++i) b.data[i] += g[i];
      }
    }
    for (T& v : b.data) v /= ranks;
    b.started = false;
    b.waiting = b.slots.size();
    im.next = 0;
    stats.payload_bytes += n * sizeof(T);
  }
  for (std::size_t s = 0; s < im.slots.size(); ++s) {
    auto& slot = im.slots[s];
    slot.reported = false;
    im.reported_count = 0;
    if (im.used_total[s] == 0) {
      ++stats.unused_everywhere;
      continue;
    }
    const T* from = im.buckets[slot.bucket].data.data() + slot.offset;
    if (slot.param.has_grad()) {
      Array<T>& g = slot.param.mutable_grad();
      std::copy(from, from + g.size(), g.data());
    } else {
      Array<T> g = Array<T>::from_shape(slot.param.shape());
      std::copy(from, from + g.size(), g.data());
      slot.param.set_grad(std::move(g));
    }
  }
  stats.started_in_backward = im.started_in_backward;
  stats.started_in_finish = im.started_in_finish;
  im.started_in_backward = 0;
  im.started_in_finish = 0;
  stats.wait_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  stats_ = stats;
  ++steps_;
}

template <class T>
std::vector<std::vector<std::string>> DataParallel<T>::bucket_names() const {
  std::vector<std::vector<std::string>> out;
  for (const auto& b : impl_->buckets) {
    auto& names = out.emplace_back();
    for (std::size_t s : b.slots) names.push_back(impl_->slots[s].name);
  }
  return out;
}

template class DataParallel<float>;
template class DataParallel<double>;

}  // namespace tapegrad::distributed
