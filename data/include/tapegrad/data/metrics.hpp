/// @file
/// Classification metrics as scikit-learn computes them: accuracy, per-class precision, recall
/// and F1, their macro and weighted averages, the confusion matrix and a printable report.
/// Zero division gives 0 (sklearn's zero_division=0): precision of a class never predicted,
/// recall of a class never true, F1 when precision + recall = 0, accuracy of no examples.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "tapegrad/autograd/array.hpp"

namespace tapegrad::data {

/// Scores of one class (or an average); support = number of true examples.
struct ClassScores {
  double precision = 0.0;   ///< tp / (tp + fp)
  double recall = 0.0;      ///< tp / (tp + fn)
  double f1 = 0.0;          ///< 2 tp / (2 tp + fp + fn), the harmonic mean of the two
  std::size_t support = 0;  ///< the examples of the class (of all classes, for an average)
};

/// Counts of (true class, predicted class) pairs: rows true, columns predicted. Classes are
/// 0 .. num_classes-1, every one of them counted in the averages (sklearn with
/// labels=range(num_classes)).
class ConfusionMatrix {
 public:
  /// A zero num_classes is a value_error.
  explicit ConfusionMatrix(std::size_t num_classes);
  /// A matrix of the given pairs: add(truth, predicted), with its errors.
  ConfusionMatrix(const std::vector<Index>& truth, const std::vector<Index>& predicted,
                  std::size_t num_classes);

  /// @{
  /// Adds pairs. Sizes that differ, or a class outside [0, num_classes), are value_errors
  /// naming the position and value (nothing is added then).
  void add(Index truth, Index predicted);
  void add(const std::vector<Index>& truth, const std::vector<Index>& predicted);
  /// @}
  /// 1-D arrays: `cm.add_batch(batch.targets, argmax_rows(logits.value()))`. Another rank is
  /// a value_error.
  void add_batch(const IndexArray& truth, const IndexArray& predicted);
  /// Sets every count to zero (a new epoch), keeping the classes.
  void clear();

  /// The classes' count, as built.
  std::size_t num_classes() const { return num_classes_; }
  /// Examples of class `truth` predicted as `predicted`.
  std::size_t count(std::size_t truth, std::size_t predicted) const;
  /// All pairs added since the last clear().
  std::size_t total() const { return total_; }
  /// @{
  /// Examples whose true class is c (row sum), and examples predicted as c (column sum). A
  /// class outside [0, num_classes) is a value_error, here and in the scores below.
  std::size_t support(std::size_t c) const;
  std::size_t predicted_count(std::size_t c) const;
  /// @}

  /// trace / total.
  double accuracy() const;
  /// @{
  /// Precision, recall and F1 of class c: tp / (tp + fp), tp / (tp + fn),
  /// 2 tp / (2 tp + fp + fn); 0 when the denominator is.
  double precision(std::size_t c) const;
  double recall(std::size_t c) const;
  double f1(std::size_t c) const;
  /// @}
  /// The three scores of class c and its support.
  ClassScores scores(std::size_t c) const;
  /// Unweighted mean of the per-class scores; support = total.
  ClassScores macro_average() const;
  /// Mean weighted by support; support = total.
  ClassScores weighted_average() const;

  /// The matrix with row and column labels (`names`: one per class, or empty for 0, 1, ...).
  std::string to_string(const std::vector<std::string>& names = {}) const;
  /// sklearn's classification_report layout: precision, recall, f1-score and support per
  /// class, then accuracy, macro avg and weighted avg, with `digits` decimals. `names` as in
  /// to_string; a wrong count is a value_error.
  std::string report(const std::vector<std::string>& names = {}, int digits = 2) const;

 private:
  void check_class(const char* what, std::size_t position, Index value) const;
  std::size_t num_classes_;
  std::vector<std::size_t> counts_;  // row-major [num_classes, num_classes]
  std::size_t total_ = 0;
};

/// Fraction of equal entries (0 for none). Sizes that differ are a value_error.
double accuracy(const std::vector<Index>& truth, const std::vector<Index>& predicted);

/// @{
/// The index of the largest value in each row of [B, C] scores (the first on ties), as a
/// [B] array; a value_error for another rank or C = 0.
IndexArray argmax_rows(const Array<float>& scores);
IndexArray argmax_rows(const Array<double>& scores);
/// @}

}  // namespace tapegrad::data
