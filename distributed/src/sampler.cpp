// DistributedSampler: a seeded permutation per epoch, padded or cut, split by rank.
#include "tapegrad/distributed/sampler.hpp"

#include <fmt/format.h>

#include <numeric>
#include <random>

#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/random.hpp"

namespace tapegrad::distributed {

DistributedSampler::DistributedSampler(std::size_t size, int rank, int ranks,
                                       SamplerOptions options)
    : size_(size), rank_(rank), ranks_(ranks), options_(options) {
  if (size == 0) throw value_error("DistributedSampler: the data set is empty");
  if (ranks <= 0 || rank < 0 || rank >= ranks) {
    throw value_error(fmt::format("DistributedSampler: rank {} of {} ranks", rank, ranks));
  }
  if (options.drop_last && size < static_cast<std::size_t>(ranks)) {
    throw value_error(
        fmt::format("DistributedSampler: {} examples for {} ranks with drop_last: "
                    "every rank would get none",
                    size, ranks));
  }
}

std::size_t DistributedSampler::per_rank() const {
  const auto p = static_cast<std::size_t>(ranks_);
  return options_.drop_last ? size_ / p : (size_ + p - 1) / p;
}

std::vector<std::size_t> DistributedSampler::indices(std::uint64_t epoch) const {
  std::vector<std::size_t> order(size_);
  std::iota(order.begin(), order.end(), std::size_t(0));
  if (options_.shuffle) {
    Generator generator(options_.seed + epoch);
    // Fisher-Yates from the back, one draw per position (the same on every rank).
    for (std::size_t i = size_; i > 1; --i) {
      std::uniform_int_distribution<std::size_t> pick(0, i - 1);
      std::swap(order[i - 1], order[pick(generator.engine())]);
    }
  }
  const auto p = static_cast<std::size_t>(ranks_);
  const std::size_t total = per_rank() * p;
  // Padding wraps around to the start (again, when the data set is smaller than the padding).
  for (std::size_t i = size_; i < total; ++i) order.push_back(order[i % size_]);
  std::vector<std::size_t> mine;
  mine.reserve(per_rank());
  for (std::size_t i = static_cast<std::size_t>(rank_); i < total; i += p) mine.push_back(order[i]);
  return mine;
}

std::vector<std::vector<std::size_t>> DistributedSampler::batches(std::uint64_t epoch,
                                                                  std::size_t batch_size) const {
  if (batch_size == 0) throw value_error("DistributedSampler::batches: batch_size is 0");
  const std::vector<std::size_t> mine = indices(epoch);
  std::vector<std::vector<std::size_t>> out;
  for (std::size_t at = 0; at < mine.size(); at += batch_size) {
    const std::size_t end = std::min(mine.size(), at + batch_size);
    out.emplace_back(mine.begin() + static_cast<std::ptrdiff_t>(at),
                     mine.begin() + static_cast<std::ptrdiff_t>(end));
  }
  return out;
}

}  // namespace tapegrad::distributed
