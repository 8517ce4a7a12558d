/// @file
/// DataParallel: a model trained on several processes at once, its gradients averaged over them
/// in buckets that are sent while backward still runs (PyTorch's DistributedDataParallel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/distributed/communicator.hpp"
#include "tapegrad/nn/module.hpp"

namespace tapegrad::distributed {

/// How DataParallel adds the ranks' gradients.
enum class Reduction {
  /// MPI_Iallreduce (MPI's own algorithm, a ring or a tree): the least traffic. The order of
  /// the additions is MPI's, so the sum may differ in its last bits from a serial one.
  allreduce,
  /// Every rank gathers every rank's bucket (MPI_Iallgather) and adds them in rank order,
  /// ((g_0 + g_1) + g_2) + ...: the same bits as one process adding the ranks' gradients in
  /// that order, whatever MPI does; p times the traffic and memory of a bucket. For exact
  /// reproducibility (the tests, debugging).
  ordered,
};

/// DataParallel's settings.
struct DataParallelOptions {
  /// A bucket holds parameters' gradients, in reverse registration order (backward finishes the
  /// last layers first), up to this many bytes (a parameter larger than it has its own bucket).
  /// PyTorch's default, 25 MiB. 0 is a value_error.
  std::size_t bucket_bytes = std::size_t(25) << 20;
  Reduction reduction = Reduction::allreduce;  ///< how the ranks' gradients are added
};

/// What DataParallel did in the last step, for tests and benchmarks. "The completion" is the
/// wait for every bucket that ends a step: at the end of backward, or in finish().
struct StepStats {
  std::size_t buckets = 0;  ///< buckets of the model
  /// Buckets whose exchange started during backward, as soon as their last gradient was final.
  std::size_t started_in_backward = 0;
  /// Buckets started by the completion: those with a parameter no backward reported.
  std::size_t started_in_finish = 0;
  /// Buckets already complete when the completion began (their exchange overlapped backward).
  std::size_t complete_at_finish = 0;
  std::size_t payload_bytes = 0;  ///< bytes of gradients each rank contributes
  /// Parameters that no rank gave a gradient this step (left without one, as PyTorch does).
  std::size_t unused_everywhere = 0;
  double wait_seconds = 0;  ///< time the completion waited for the exchange
};

/// Trains `module` on every rank of a communicator at once, each rank on its own batches: its
/// parameters are made equal (rank 0's values) at construction, and each backward ends with
/// every gradient replaced by its mean over the ranks, so every rank's optimizer makes
/// the same step: one process's training on the union of the batches (with the loss a mean over
/// each rank's batch, the mean of those means).
///
/// The construction first checks, on every rank, that all ranks have the same parameters
/// (names, shapes, order), a value_error naming the first difference and the ranks otherwise.
/// Gradients travel in buckets (DataParallelOptions::bucket_bytes). A LeafGradHook tells this
/// object when each parameter's gradient is final during backward; when a bucket's last one is,
/// its exchange starts (non-blocking), so the exchange overlaps the rest of backward. MPI makes
/// progress on it whenever a later gradient is reported. When the model's last gradient is
/// final, backward waits for every bucket, bounded by the communicator's timeout (a
/// communication_error naming the ranks that did not come, thrown by backward), and writes the
/// means into the parameters' gradients, before backward returns: clipping and the optimizer's
/// step then see the means, with nothing to call in between (PyTorch's behaviour). finish()
/// does the same for a step whose backward did not (run on another thread, or no backward on
/// this rank); after a backward that did, it does nothing. A parameter that got no gradient
/// counts as zero on that rank; one that no rank gave a gradient keeps none. Two backwards
/// before a step (gradient accumulation) each end with means, so the gradients are the means
/// of the sums, as on one process.
///
/// The hook is the constructing thread's: run backward on that thread, and keep this object
/// alive while training (it must outlive no Environment).
///
/// ```
///   distributed::Environment env(argc, argv);
///   auto comm = distributed::Communicator::world();
///   Net model;
///   distributed::DataParallel<float> ddp(model, comm);
///   optim::Adam<float> opt(model.parameters(), {1e-3f});
///   for (const auto& batch : my_share_of_the_batches) {
///     opt.zero_grad();
///     loss_of(model, batch).backward();  // the gradients are the means over the ranks now
///     opt.step();
///   }
/// ```
template <class T>
class DataParallel {
 public:
  /// Checks that every rank has the same parameters, copies rank 0's values to every rank,
  /// plans the buckets and registers the hook. A zero bucket size is a value_error.
  DataParallel(nn::Module<T>& module, Communicator comm, DataParallelOptions options = {});
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  /// Completes the step when backward did not: waits for every bucket (starting those that
  /// wait for a parameter with no gradient), then sets each parameter's gradient to its mean
  /// over the ranks. A communication_error when a rank does not come within the timeout.
  /// Backward does this itself when the last of the model's gradients is final (the usual
  /// case), and finish() right after it then does nothing; call it after a backward run on
  /// another thread, or to take part in a step without a backward of your own.
  void finish();

  /// The module trained.
  nn::Module<T>& module() const { return module_; }
  /// The communicator.
  const Communicator& communicator() const { return comm_; }
  /// The parameters' dotted names in each bucket, in the order their exchanges usually start.
  std::vector<std::vector<std::string>> bucket_names() const;
  /// The last finished step's numbers.
  const StepStats& last_step() const { return stats_; }
  /// Steps finished so far.
  std::uint64_t steps() const { return steps_; }

 private:
  struct Impl;           // the buckets and their requests (MPI's types stay out of this header)
  void complete_step();  // finish()'s work, also run by the hook at the end of backward
  nn::Module<T>& module_;
  Communicator comm_;
  std::unique_ptr<Impl> impl_;
  StepStats stats_;
  std::uint64_t steps_ = 0;
};

extern template class DataParallel<float>;
extern template class DataParallel<double>;

}  // namespace tapegrad::distributed
