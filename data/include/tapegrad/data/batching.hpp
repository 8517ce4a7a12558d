/// @file
/// Padding id sequences into batches, and seeded, optionally length-bucketed batch order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/autograd/random.hpp"

/// Data for training (target tapegrad::data, on autograd): tokenizer and vocabulary,
/// labelled TSV/CSV readers and UTF-8 checks, padded and bucketed batches, seeded splits,
/// classification metrics, a progress line and a CSV log of metrics.
namespace tapegrad::data {

/// Which axis of a batch's ids is time.
enum class Layout {
  time_major,   ///< ids [T, B], the layout of tapegrad's recurrent layers
  batch_major,  ///< ids [B, T], for layers built with batch_first
};

/// How sequences are padded into a batch.
struct PadOptions {
  Layout layout = Layout::time_major;  ///< time_major: ids [T, B], as the recurrent layers take
  Index pad_id = 0;                    ///< a Vocabulary's pad_id() (0 by default)
  /// Longer sequences are cut to their first max_length ids; 0: no cut.
  std::size_t max_length = 0;
};

/// A padded batch: ids [T, B] (or [B, T]) with T the longest (cut) length, pad_id past each
/// sequence's end; lengths [B]; targets [B] (shape [0] when there are no labels); the
/// positions of the examples in the data set; and, from a BatchIterator over pairs of
/// sequences, the target sequences padded the same way.
struct Batch {
  IndexArray ids;                    ///< [T, B] or [B, T], as PadOptions::layout says
  std::vector<std::size_t> lengths;  ///< each sequence's length after the cut, in [1, T]
  IndexArray targets = IndexArray::from_shape({0});  ///< the labels [B], or shape [0]
  std::vector<std::size_t> indices;                  ///< each example's position in the data set
  /// The target sequences [T', B] (or [B, T'], the layout of ids), pad_id past each one's
  /// end and never cut; shape [0] when the batch is not of pairs.
  IndexArray target_ids = IndexArray::from_shape({0});
  std::vector<std::size_t> target_lengths;  ///< each target sequence's length, or empty
  /// B, the number of sequences.
  std::size_t size() const { return lengths.size(); }
};

/// Pads `sequences` into a batch (targets and indices left empty). No sequences, an empty
/// sequence (a recurrent layer needs at least one step), or a padded batch over
/// tapegrad::input_limits().max_array_bytes, is a value_error naming it.
Batch pad_sequences(const std::vector<std::vector<Index>>& sequences,
                    const PadOptions& options = {});

/// The examples `indices` of a data set as a batch; `labels` may be empty (no targets).
Batch make_batch(const std::vector<std::vector<Index>>& sequences, const std::vector<Index>& labels,
                 const std::vector<std::size_t>& indices, const PadOptions& options = {});

/// How a data set is cut into batches, epoch after epoch.
struct BatchOptions {
  /// Examples per batch: at most, since the last batch, and batches split to fit max_tokens,
  /// have fewer. 0 is a value_error.
  std::size_t batch_size = 32;
  bool shuffle = true;  ///< a new random order each epoch; false: the data set's order
  /// Length bucketing: the (shuffled) examples are sorted by length, longest first, within
  /// chunks of bucket_batches * batch_size, cut into batches, and the batches are shuffled,
  /// so that a batch holds similar lengths and little padding. 0: off. 50 is a usual value.
  std::size_t bucket_batches = 0;
  /// Leave out the last batch when it is smaller than batch_size.
  bool drop_last = false;
  /// The budget of a batch's padded size, in tokens: batch size times its longest sequence
  /// (after pad.max_length). A batch over it is split into smaller ones of consecutive
  /// examples, so memory is set by this setting, not by the longest text in the data; a
  /// single sequence longer than the budget is a value_error naming it. 0: no budget.
  std::size_t max_tokens = 0;
  std::uint64_t seed = 0;  ///< BatchIterator's generator
  PadOptions pad = {};     ///< BatchIterator's padding
};

/// The batches of one epoch, as example indices, for examples of the given lengths (lengths
/// matter for bucketing and the max_tokens budget). Draws from `generator` when shuffling, so
/// consecutive calls give the epochs of one seeded run. A zero batch_size is a value_error.
std::vector<std::vector<std::size_t>> batch_indices(const std::vector<std::size_t>& lengths,
                                                    const BatchOptions& options,
                                                    Generator& generator);

/// Epochs of padded batches over a data set it refers to (the sequences and labels must
/// outlive it; temporaries are refused at compile time).
///
/// ```
///   data::BatchIterator batches(train_ids, train_labels, {64, true, 50});
///   for (std::size_t epoch = 1; epoch <= epochs; ++epoch)
///     for (const data::Batch& batch : batches.epoch()) { ... batch.ids, batch.lengths ... }
/// ```
class BatchIterator {
 public:
  /// `labels` may be empty; otherwise one per sequence. An empty sequence, a label count that
  /// differs from the sequence count or a zero batch size is a value_error.
  BatchIterator(const std::vector<std::vector<Index>>& sequences, const std::vector<Index>& labels,
                BatchOptions options = {});
  /// Without labels (the batches have no targets).
  explicit BatchIterator(const std::vector<std::vector<Index>>& sequences,
                         BatchOptions options = {});
  /// Pairs of sequences, such as a translation's sources and targets: each batch holds the
  /// sources as `ids` and `lengths` and their targets as `target_ids` and `target_lengths`,
  /// padded in the same layout with the same pad_id, and never cut (PadOptions::max_length
  /// cuts the sources only). The order, the length bucketing and the max_tokens budget go by
  /// the source lengths. A different number of sources and targets, or an empty sequence on
  /// either side, is a value_error naming it.
  ///
  /// ```
  ///   data::BatchIterator pairs(source_ids, target_ids, {64, true, 50});
  ///   for (const data::Batch& b : pairs.epoch()) { ... b.ids, b.lengths, b.target_ids ... }
  /// ```
  BatchIterator(const std::vector<std::vector<Index>>& sources,
                const std::vector<std::vector<Index>>& targets, BatchOptions options = {});
  BatchIterator(std::vector<std::vector<Index>>&&, const std::vector<Index>&,
                BatchOptions = {}) = delete;
  explicit BatchIterator(std::vector<std::vector<Index>>&&, BatchOptions = {}) = delete;
  BatchIterator(const std::vector<std::vector<Index>>&, std::vector<Index>&&,
                BatchOptions = {}) = delete;
  BatchIterator(const std::vector<std::vector<Index>>&, std::vector<std::vector<Index>>&&,
                BatchOptions = {}) = delete;

  /// The batches of one epoch, padded one at a time as the loop reaches them.
  class Epoch {
   public:
    /// An input iterator over the batches of an Epoch, for range-for.
    class iterator {
     public:
      /// @{
      /// What std::iterator_traits reads: an input iterator whose elements are Batch values,
      /// made when dereferenced (so there is no pointer to them, and `reference` is a value).
      using value_type = Batch;
      using difference_type = std::ptrdiff_t;
      using reference = Batch;
      using pointer = void;
      using iterator_category = std::input_iterator_tag;
      /// @}
      /// At batch `pos` of `epoch`; Epoch::begin() and end() make them.
      iterator(const Epoch* epoch, std::size_t pos) : epoch_(epoch), pos_(pos) {}
      /// Pads the batch here: Epoch::batch(pos), built anew by each dereference.
      Batch operator*() const { return epoch_->batch(pos_); }
      /// On to the next batch.
      iterator& operator++() {
        ++pos_;
        return *this;
      }
      /// @{
      /// Compares positions; iterators of different epochs do not compare meaningfully.
      bool operator==(const iterator& other) const { return pos_ == other.pos_; }
      bool operator!=(const iterator& other) const { return pos_ != other.pos_; }
      /// @}

     private:
      const Epoch* epoch_;
      std::size_t pos_;
    };
    /// @{
    /// The first batch and the end, for `for (const Batch& b : iterator.epoch())`. An Epoch
    /// reads its BatchIterator's data set and must not outlive it.
    iterator begin() const { return {this, 0}; }
    iterator end() const { return {this, plan_.size()}; }
    /// @}
    /// The number of batches of this epoch.
    std::size_t size() const { return plan_.size(); }
    /// Batch `i` of this epoch; an i past the batches is a value_error.
    Batch batch(std::size_t i) const;
    /// The example indices of each batch, in batch order: the epoch's plan.
    const std::vector<std::vector<std::size_t>>& indices() const { return plan_; }

   private:
    friend class BatchIterator;
    Epoch(const BatchIterator* owner, std::vector<std::vector<std::size_t>> plan)
        : owner_(owner), plan_(std::move(plan)) {}
    const BatchIterator* owner_;
    std::vector<std::vector<std::size_t>> plan_;
  };

  /// The next epoch (a new order when shuffling).
  Epoch epoch();
  /// Batches per epoch (with a max_tokens budget: those of the next epoch).
  std::size_t num_batches() const;
  /// The number of sequences in the data set.
  std::size_t num_examples() const { return sequences_->size(); }
  /// The options it was built with.
  const BatchOptions& options() const { return options_; }

 private:
  const std::vector<std::vector<Index>>* sequences_;
  const std::vector<Index>* labels_;                                   // empty for none
  const std::vector<std::vector<Index>>* target_sequences_ = nullptr;  // pairs: the targets
  std::vector<std::size_t> lengths_;
  BatchOptions options_;
  Generator generator_;
};

}  // namespace tapegrad::data
