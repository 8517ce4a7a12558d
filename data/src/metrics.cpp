#include "tapegrad/data/metrics.hpp"

#include <algorithm>

#include "data_detail.hpp"

namespace tapegrad::data {

namespace {

double ratio(std::size_t num, std::size_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

std::vector<std::string> class_names(const char* op, const std::vector<std::string>& names,
                                     std::size_t k) {
  if (names.empty()) {
    std::vector<std::string> out;
    for (std::size_t c = 0; c < k; ++c) out.push_back(std::to_string(c));
    return out;
  }
  if (names.size() != k) {
    throw value_error(fmt::format("{}: {} names given for {} classes", op, names.size(), k));
  }
  return names;
}

template <class T>
IndexArray argmax_rows_impl(const Array<T>& scores) {
  if (scores.dimension() != 2 || scores.shape()[1] == 0) {
    throw value_error(fmt::format("argmax_rows: expected scores [B, C] with C > 0, got {}",
                                  shape_str(scores.shape())));
  }
  const std::size_t rows = scores.shape()[0], cols = scores.shape()[1];
  IndexArray out = IndexArray::from_shape({rows});
  for (std::size_t r = 0; r < rows; ++r) {
    std::size_t best = 0;
    for (std::size_t c = 1; c < cols; ++c) {
      if (scores(r, c) > scores(r, best)) best = c;
    }
    out(r) = static_cast<Index>(best);
  }
  return out;
}

}  // namespace

ConfusionMatrix::ConfusionMatrix(std::size_t num_classes) : num_classes_(num_classes) {
  if (num_classes == 0) throw value_error("ConfusionMatrix: num_classes is 0");
  counts_.assign(num_classes * num_classes, 0);
}

ConfusionMatrix::ConfusionMatrix(const std::vector<Index>& truth,
                                 const std::vector<Index>& predicted, std::size_t num_classes)
    : ConfusionMatrix(num_classes) {
  add(truth, predicted);
}

void ConfusionMatrix::check_class(const char* what, std::size_t position, Index value) const {
  if (value < 0 || static_cast<std::size_t>(value) >= num_classes_) {
    throw value_error(fmt::format("ConfusionMatrix: {}[{}] = {} is outside [0, {})", what, position,
                                  value, num_classes_));
  }
}

void ConfusionMatrix::add(Index truth, Index predicted) {
  check_class("truth", 0, truth);
  check_class("predicted", 0, predicted);
  ++counts_[static_cast<std::size_t>(truth) * num_classes_ + static_cast<std::size_t>(predicted)];
  ++total_;
}

void ConfusionMatrix::add(const std::vector<Index>& truth, const std::vector<Index>& predicted) {
  if (truth.size() != predicted.size()) {
    throw value_error(fmt::format("ConfusionMatrix: {} true classes but {} predicted classes",
                                  truth.size(), predicted.size()));
  }
  for (std::size_t i = 0; i < truth.size(); ++i) {
    check_class("truth", i, truth[i]);
    check_class("predicted", i, predicted[i]);
  }
  for (std::size_t i = 0; i < truth.size(); ++i) {
    ++counts_[static_cast<std::size_t>(truth[i]) * num_classes_ +
              static_cast<std::size_t>(predicted[i])];
  }
  total_ += truth.size();
}

void ConfusionMatrix::add_batch(const IndexArray& truth, const IndexArray& predicted) {
  if (truth.dimension() != 1 || predicted.dimension() != 1) {
    throw value_error(fmt::format("ConfusionMatrix: expected 1-D class arrays, got {} and {}",
                                  shape_str(truth.shape()), shape_str(predicted.shape())));
  }
  add(std::vector<Index>(truth.begin(), truth.end()),
      std::vector<Index>(predicted.begin(), predicted.end()));
}

void ConfusionMatrix::clear() {
  std::fill(counts_.begin(), counts_.end(), 0);
  total_ = 0;
}

std::size_t ConfusionMatrix::count(std::size_t truth, std::size_t predicted) const {
  if (truth >= num_classes_ || predicted >= num_classes_) {
    throw value_error(fmt::format("ConfusionMatrix::count: ({}, {}) is outside {} classes", truth,
                                  predicted, num_classes_));
  }
  return counts_[truth * num_classes_ + predicted];
}

std::size_t ConfusionMatrix::support(std::size_t c) const {
  std::size_t sum = 0;
  for (std::size_t p = 0; p < num_classes_; ++p) sum += count(c, p);
  return sum;
}

std::size_t ConfusionMatrix::predicted_count(std::size_t c) const {
  std::size_t sum = 0;
  for (std::size_t t = 0; t < num_classes_; ++t) sum += count(t, c);
  return sum;
}

double ConfusionMatrix::accuracy() const {
  std::size_t correct = 0;
  for (std::size_t c = 0; c < num_classes_; ++c) correct += counts_[c * num_classes_ + c];
  return ratio(correct, total_);
}

double ConfusionMatrix::precision(std::size_t c) const {
  return ratio(count(c, c), predicted_count(c));
}

double ConfusionMatrix::recall(std::size_t c) const {
  return ratio(count(c, c), support(c));
}

double ConfusionMatrix::f1(std::size_t c) const {
  // 2 tp / (2 tp + fp + fn) = 2 p r / (p + r), and 0 when there is no such example at all
  return ratio(2 * count(c, c), support(c) + predicted_count(c));
}

ClassScores ConfusionMatrix::scores(std::size_t c) const {
  return {precision(c), recall(c), f1(c), support(c)};
}

ClassScores ConfusionMatrix::macro_average() const {
  ClassScores avg;
  for (std::size_t c = 0; c < num_classes_; ++c) {
    const ClassScores s = scores(c);
    avg.precision += s.precision;
    avg.recall += s.recall;
    avg.f1 += s.f1;
  }
  const auto k = static_cast<double>(num_classes_);
  avg.precision /= k;
  avg.recall /= k;
  avg.f1 /= k;
  avg.support = total_;
  return avg;
}

ClassScores ConfusionMatrix::weighted_average() const {
  ClassScores avg;
  avg.support = total_;
  if (total_ == 0) return avg;
  for (std::size_t c = 0; c < num_classes_; ++c) {
    const ClassScores s = scores(c);
    const double w = ratio(s.support, total_);
    avg.precision += w * s.precision;
    avg.recall += w * s.recall;
    avg.f1 += w * s.f1;
  }
  return avg;
}

std::string ConfusionMatrix::to_string(const std::vector<std::string>& names) const {
  const std::vector<std::string> labels =
      class_names("ConfusionMatrix::to_string", names, num_classes_);
  // Widths in display columns: a class name in CJK takes two a character (utf8.hpp).
  const std::string corner = "true \\ pred";
  std::size_t first = corner.size();
  for (const auto& l : labels) first = std::max(first, display_width(l));
  std::size_t cell = 1;
  for (const auto& l : labels) cell = std::max(cell, display_width(l));
  for (std::size_t v : counts_) cell = std::max(cell, std::to_string(v).size());
  std::string out = align_right(corner, first);
  for (const auto& l : labels) out += "  " + align_right(l, cell);
  out += '\n';
  for (std::size_t t = 0; t < num_classes_; ++t) {
    out += align_right(labels[t], first);
    for (std::size_t p = 0; p < num_classes_; ++p) {
      out += fmt::format("  {:>{}}", counts_[t * num_classes_ + p], cell);
    }
    out += '\n';
  }
  return out;
}

std::string ConfusionMatrix::report(const std::vector<std::string>& names, int digits) const {
  if (digits < 0 || digits > 9) {
    throw value_error(fmt::format("ConfusionMatrix::report: digits {} is outside [0, 9]", digits));
  }
  const std::vector<std::string> labels =
      class_names("ConfusionMatrix::report", names, num_classes_);
  // The layout of sklearn.metrics.classification_report, in display columns.
  std::size_t width = std::string("weighted avg").size();
  for (const auto& l : labels) width = std::max(width, display_width(l));
  width = std::max(width, static_cast<std::size_t>(digits));
  const auto row = [&](const std::string& name, const ClassScores& s) {
    return align_right(name, width) + fmt::format("  {:>9.{}f} {:>9.{}f} {:>9.{}f} {:>9}\n",
                                                  s.precision, digits, s.recall, digits, s.f1,
                                                  digits, s.support);
  };
  std::string out = fmt::format("{:>{}}  {:>9} {:>9} {:>9} {:>9}\n\n", "", width, "precision",
                                "recall", "f1-score", "support");
  for (std::size_t c = 0; c < num_classes_; ++c) out += row(labels[c], scores(c));
  out += '\n';
  out += fmt::format("{:>{}}  {:>9} {:>9} {:>9.{}f} {:>9}\n", "accuracy", width, "", "", accuracy(),
                     digits, total_);
  out += row("macro avg", macro_average());
  out += row("weighted avg", weighted_average());
  return out;
}

double accuracy(const std::vector<Index>& truth, const std::vector<Index>& predicted) {
  if (truth.size() != predicted.size()) {
    throw value_error(fmt::format("accuracy: {} true classes but {} predicted classes",
                                  truth.size(), predicted.size()));
  }
  std::size_t correct = 0;
  for (std::size_t i = 0; i < truth.size(); ++i) correct += truth[i] == predicted[i] ? 1 : 0;
  return ratio(correct, truth.size());
}

IndexArray argmax_rows(const Array<float>& scores) {
  return argmax_rows_impl(scores);
}
IndexArray argmax_rows(const Array<double>& scores) {
  return argmax_rows_impl(scores);
}

}  // namespace tapegrad::data
