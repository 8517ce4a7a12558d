/// @file
/// DistributedSampler: each rank's share of every epoch's shuffled order, as PyTorch's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tapegrad::distributed {

/// DistributedSampler's settings.
struct SamplerOptions {
  bool shuffle = true;     ///< a new order each epoch (seeded by seed + epoch); false: 0..N-1
  std::uint64_t seed = 0;  ///< the same on every rank, or the ranks' shares overlap
  /// false (PyTorch's default): the order is padded by wrapping around to its start until it
  /// divides evenly, so every rank gets ceil(N / ranks) examples (a few examples twice per
  /// epoch). true: the last N mod ranks examples of the order are left out and every rank gets
  /// floor(N / ranks).
  bool drop_last = false;
};

/// Splits a data set of `size` examples over `ranks` processes, epoch after epoch, as PyTorch's
/// DistributedSampler: every rank computes the same permutation of the epoch (seeded by
/// seed + epoch, so no communication is needed), pads or cuts it to a multiple of `ranks`
/// (SamplerOptions::drop_last), and takes every ranks-th example starting at its rank. The
/// shares of one epoch are disjoint but for the padding, together they are the whole data set
/// (without drop_last), and every rank gets the same number, so the ranks take the same number
/// of steps. The permutation does not depend on `ranks`: a run resumed on another number of
/// processes sees the same order of each epoch, differently split.
class DistributedSampler {
 public:
  /// A zero `size` or `ranks`, or a `rank` outside [0, ranks), is a value_error; so is a data
  /// set smaller than `ranks` with drop_last (a rank would get nothing).
  DistributedSampler(std::size_t size, int rank, int ranks, SamplerOptions options = {});

  /// This rank's examples of epoch `epoch` (0, 1, ...), in the order to visit them.
  std::vector<std::size_t> indices(std::uint64_t epoch) const;
  /// indices(epoch) cut into batches of `batch_size` (the last smaller), for data::make_batch.
  /// Every rank gets the same number of batches. A zero batch_size is a value_error.
  std::vector<std::vector<std::size_t>> batches(std::uint64_t epoch, std::size_t batch_size) const;
  /// The number of examples each rank gets per epoch.
  std::size_t per_rank() const;

 private:
  std::size_t size_;
  int rank_;
  int ranks_;
  SamplerOptions options_;
};

}  // namespace tapegrad::distributed
