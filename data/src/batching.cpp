#include "tapegrad/data/batching.hpp"

#include <algorithm>

#include "data_detail.hpp"
#include "tapegrad/autograd/limits.hpp"

namespace tapegrad::data {

namespace {

void check_sequences(const char* op, const std::vector<std::vector<Index>>& sequences,
                     const std::vector<std::size_t>* indices) {
  const std::size_t n = indices ? indices->size() : sequences.size();
  if (n == 0) throw value_error(fmt::format("{}: no sequences", op));
  for (std::size_t b = 0; b < n; ++b) {
    const std::size_t i = indices ? (*indices)[b] : b;
    if (i >= sequences.size()) {
      throw value_error(
          fmt::format("{}: index {} is out of range for {} sequences", op, i, sequences.size()));
    }
    if (sequences[i].empty()) {
      throw value_error(fmt::format(
          "{}: sequence {} is empty (a recurrent layer needs at least one step)", op, i));
    }
  }
}

Batch pad(const std::vector<std::vector<Index>>& sequences, const std::vector<std::size_t>* indices,
          const PadOptions& options) {
  const std::size_t batch = indices ? indices->size() : sequences.size();
  const auto seq = [&](std::size_t b) -> const std::vector<Index>& {
    return sequences[indices ? (*indices)[b] : b];
  };
  Batch out;
  out.targets = IndexArray::from_shape({0});
  out.lengths.resize(batch);
  std::size_t steps = 0;
  for (std::size_t b = 0; b < batch; ++b) {
    std::size_t length = seq(b).size();
    if (options.max_length != 0) length = std::min(length, options.max_length);
    out.lengths[b] = length;
    steps = std::max(steps, length);
  }
  const bool time_major = options.layout == Layout::time_major;
  check_input_size(fmt::format("padding {} sequences to {} steps", batch, steps),
                   std::uint64_t{batch} * steps * sizeof(Index), input_limits().max_array_bytes,
                   "max_array_bytes");
  out.ids =
      time_major ? IndexArray::from_shape({steps, batch}) : IndexArray::from_shape({batch, steps});
  std::fill(out.ids.begin(), out.ids.end(), options.pad_id);
  for (std::size_t b = 0; b < batch; ++b) {
    const std::vector<Index>& s = seq(b);
    for (std::size_t t = 0; t < out.lengths[b]; ++t) {
      if (time_major) {
        out.ids(t, b) = s[t];
      } else {
        out.ids(b, t) = s[t];
      }
    }
  }
  return out;
}

const std::vector<Index>& no_labels() {
  static const std::vector<Index> none;
  return none;
}

}  // namespace

Batch pad_sequences(const std::vector<std::vector<Index>>& sequences, const PadOptions& options) {
  check_sequences("pad_sequences", sequences, nullptr);
  return pad(sequences, nullptr, options);
}

Batch make_batch(const std::vector<std::vector<Index>>& sequences, const std::vector<Index>& labels,
                 const std::vector<std::size_t>& indices, const PadOptions& options) {
  check_sequences("make_batch", sequences, &indices);
  if (!labels.empty() && labels.size() != sequences.size()) {
    throw value_error(
        fmt::format("make_batch: {} labels for {} sequences", labels.size(), sequences.size()));
  }
  Batch out = pad(sequences, &indices, options);
  if (!labels.empty()) {
    out.targets = IndexArray::from_shape({indices.size()});
    for (std::size_t b = 0; b < indices.size(); ++b) out.targets(b) = labels[indices[b]];
  }
  out.indices = indices;
  return out;
}

std::vector<std::vector<std::size_t>> batch_indices(const std::vector<std::size_t>& lengths,
                                                    const BatchOptions& options,
                                                    Generator& generator) {
  if (options.batch_size == 0) throw value_error("batch_indices: batch_size is 0");
  const std::size_t n = lengths.size();
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  if (options.shuffle) detail::shuffle(order, generator);
  if (options.bucket_batches != 0) {
    const std::size_t chunk = options.bucket_batches * options.batch_size;
    for (std::size_t begin = 0; begin < n; begin += chunk) {
      const auto first = order.begin() + static_cast<std::ptrdiff_t>(begin);
      const auto last = order.begin() + static_cast<std::ptrdiff_t>(std::min(n, begin + chunk));
      std::stable_sort(first, last,
                       [&](std::size_t a, std::size_t b) { return lengths[a] > lengths[b]; });
    }
  }
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t begin = 0; begin < n; begin += options.batch_size) {
    const std::size_t end = std::min(n, begin + options.batch_size);
    if (options.drop_last && end - begin < options.batch_size) break;
    if (options.max_tokens == 0) {
      batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(begin),
                           order.begin() + static_cast<std::ptrdiff_t>(end));
      continue;
    }
    // Within the budget: consecutive examples while count * longest fits.
    std::vector<std::size_t> current;
    std::size_t longest = 0;
    for (std::size_t k = begin; k < end; ++k) {
      const std::size_t i = order[k];
      std::size_t length = lengths[i];
      if (options.pad.max_length != 0) length = std::min(length, options.pad.max_length);
      if (length > options.max_tokens) {
        throw value_error(fmt::format(
            "batch_indices: example {} has {} steps, more than the batch budget of {} tokens "
            "(BatchOptions::max_tokens); cut sequences with PadOptions::max_length",
            i, length, options.max_tokens));
      }
      const std::size_t widest = std::max(longest, length);
      if (!current.empty() && widest * (current.size() + 1) > options.max_tokens) {
        batches.push_back(std::move(current));
        current.clear();
        longest = 0;
      }
      current.push_back(i);
      longest = std::max(longest, length);
    }
    batches.push_back(std::move(current));
  }
  if (options.shuffle && options.bucket_batches != 0) detail::shuffle(batches, generator);
  return batches;
}

BatchIterator::BatchIterator(const std::vector<std::vector<Index>>& sequences,
                             const std::vector<Index>& labels, BatchOptions options)
    : sequences_(&sequences), labels_(&labels), options_(options), generator_(options.seed) {
  if (options.batch_size == 0) throw value_error("BatchIterator: batch_size is 0");
  if (!labels.empty() && labels.size() != sequences.size()) {
    throw value_error(
        fmt::format("BatchIterator: {} labels for {} sequences", labels.size(), sequences.size()));
  }
  check_sequences("BatchIterator", sequences, nullptr);
  lengths_.reserve(sequences.size());
  for (const auto& s : sequences) lengths_.push_back(s.size());
}

BatchIterator::BatchIterator(const std::vector<std::vector<Index>>& sequences, BatchOptions options)
    : BatchIterator(sequences, no_labels(), options) {}

BatchIterator::BatchIterator(const std::vector<std::vector<Index>>& sources,
                             const std::vector<std::vector<Index>>& targets, BatchOptions options)
    : BatchIterator(sources, no_labels(), options) {
  if (targets.size() != sources.size()) {
    throw value_error(fmt::format("BatchIterator: {} target sequences for {} sources",
                                  targets.size(), sources.size()));
  }
  check_sequences("BatchIterator: target", targets, nullptr);
  target_sequences_ = &targets;
}

BatchIterator::Epoch BatchIterator::epoch() {
  return Epoch(this, batch_indices(lengths_, options_, generator_));
}

std::size_t BatchIterator::num_batches() const {
  if (options_.max_tokens != 0) {
    Generator next = generator_;  // the next epoch's plan, without moving the real generator
    return batch_indices(lengths_, options_, next).size();
  }
  const std::size_t n = lengths_.size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

Batch BatchIterator::Epoch::batch(std::size_t i) const {
  if (i >= plan_.size()) {
    throw value_error(fmt::format("BatchIterator::Epoch: batch {} is out of range for {} batches",
                                  i, plan_.size()));
  }
  Batch out = make_batch(*owner_->sequences_, *owner_->labels_, plan_[i], owner_->options_.pad);
  if (owner_->target_sequences_ != nullptr) {
    PadOptions whole = owner_->options_.pad;
    whole.max_length = 0;
    Batch targets = pad(*owner_->target_sequences_, &plan_[i], whole);
    out.target_ids = std::move(targets.ids);
    out.target_lengths = std::move(targets.lengths);
  }
  return out;
}

}  // namespace tapegrad::data
