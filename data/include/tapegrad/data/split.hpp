/// @file
/// Seeded train / validation / test splits, plain or stratified by class.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::data {

/// Example indices of each part, ascending.
struct Split {
  std::vector<std::size_t> train;  ///< examples to train on
  std::vector<std::size_t> valid;  ///< examples to choose settings and stop on
  std::vector<std::size_t> test;   ///< examples held out for the final score
};

/// Fractions of each part: each in [0, 1], train > 0, summing to 1 (within 1e-6); otherwise a
/// value_error naming the three.
struct SplitOptions {
  double train = 0.8;      ///< fraction of the examples for training
  double valid = 0.1;      ///< fraction for validation (0: no validation part)
  double test = 0.1;       ///< fraction for testing (0: no test part)
  std::uint64_t seed = 0;  ///< of the shuffle: the same seed and data give the same split
};

/// A random split of examples 0 .. n-1. The part sizes are the fractions of n rounded by
/// largest remainder, so they sum to n (ties go to train, then valid).
Split split_indices(std::size_t n, const SplitOptions& options = {});

/// A split that keeps each class's proportions: every class is split by the fractions (its
/// rounding carried over to the next class, so the part sizes stay as close to the fractions
/// of the whole as possible). A negative label is a value_error naming its position.
Split stratified_split(const std::vector<Index>& labels, const SplitOptions& options = {});

/// The items at `indices`, in that order: `select(texts, split.train)`. An index out of range
/// is a value_error naming it.
template <class T>
std::vector<T> select(const std::vector<T>& items, const std::vector<std::size_t>& indices) {
  std::vector<T> out;
  out.reserve(indices.size());
  for (std::size_t i : indices) {
    if (i >= items.size()) {
      throw value_error("select: index " + std::to_string(i) + " is out of range for " +
                        std::to_string(items.size()) + " items");
    }
    out.push_back(items[i]);
  }
  return out;
}

}  // namespace tapegrad::data
