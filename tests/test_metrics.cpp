// tapegrad::data metrics (confusion matrix, precision, recall, F1, report), the progress line
// and the metrics log.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <limits>

#include <unistd.h>

#include "helpers.hpp"
#include "tapegrad/data.hpp"

namespace fs = std::filesystem;
using tapegrad::Array;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::value_error;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;
using namespace tapegrad::data;

namespace {

using Ids = std::vector<Index>;
using Strings = std::vector<std::string>;

// truth 0,0,0,1,1,2,2,2,2 against predictions 0,0,1,1,1,2,2,0,3 over four classes:
//   rows true, cols predicted   [[2,1,0,0],
//                                [0,2,0,0],
//                                [1,0,2,1],
//                                [0,0,0,0]]
// class 3 is predicted once and never true (recall 0 by convention, precision 0).
const Ids truth = {0, 0, 0, 1, 1, 2, 2, 2, 2};
const Ids predicted = {0, 0, 1, 1, 1, 2, 2, 0, 3};

ConfusionMatrix example() {
  return ConfusionMatrix(truth, predicted, 4);
}

// The display column (display_width) where each field of `line` ends: fields are separated by
// two spaces or more ("true \\ pred" and "macro avg" are one field each).
std::vector<std::size_t> field_ends(const std::string& line) {
  std::vector<std::size_t> ends;
  for (std::size_t i = 1; i <= line.size(); ++i) {
    const bool at_gap = i == line.size() || line.compare(i, 2, "  ") == 0;
    if (line[i - 1] != ' ' && at_gap) ends.push_back(display_width(line.substr(0, i)));
  }
  return ends;
}

// The lines of `text` but empty ones.
Strings lines_of(const std::string& text) {
  Strings lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

// Options of a progress line that redraws, on the clock `t`.
ProgressOptions redrawing(const double& t) {
  ProgressOptions options;
  options.redraw = Redraw::always;
  options.clock = [&t] { return t; };
  return options;
}

// `line`, padded with spaces to the width of `previous` (what a redraw writes).
std::string over(const std::string& line, const std::string& previous) {
  return line + std::string(previous.size() > line.size() ? previous.size() - line.size() : 0, ' ');
}

}  // namespace

// ---- metrics ----

TEST_CASE("confusion matrix counts, rows true and columns predicted") {
  const ConfusionMatrix cm = example();
  CHECK(cm.num_classes() == 4);
  CHECK(cm.total() == 9);
  const std::size_t expected[4][4] = {{2, 1, 0, 0}, {0, 2, 0, 0}, {1, 0, 2, 1}, {0, 0, 0, 0}};
  for (std::size_t t = 0; t < 4; ++t) {
    for (std::size_t p = 0; p < 4; ++p) {
      CAPTURE(t);
      CAPTURE(p);
      CHECK(cm.count(t, p) == expected[t][p]);
    }
  }
  CHECK(cm.support(2) == 4);
  CHECK(cm.predicted_count(0) == 3);
  CHECK(cm.predicted_count(3) == 1);
  CHECK(cm.support(3) == 0);
}

TEST_CASE("accuracy, precision, recall and F1 against hand-computed values") {
  const ConfusionMatrix cm = example();
  CHECK(cm.accuracy() == doctest::Approx(6.0 / 9.0));
  CHECK(accuracy(truth, predicted) == doctest::Approx(6.0 / 9.0));
  // precision = tp / column sum, recall = tp / row sum, F1 = 2 tp / (row + column)
  const double p[4] = {2.0 / 3.0, 2.0 / 3.0, 1.0, 0.0};
  const double r[4] = {2.0 / 3.0, 1.0, 0.5, 0.0};
  const double f[4] = {2.0 / 3.0, 0.8, 2.0 / 3.0, 0.0};
  for (std::size_t c = 0; c < 4; ++c) {
    CAPTURE(c);
    CHECK(cm.precision(c) == doctest::Approx(p[c]));
    CHECK(cm.recall(c) == doctest::Approx(r[c]));
    CHECK(cm.f1(c) == doctest::Approx(f[c]));
    const ClassScores s = cm.scores(c);
    CHECK(s.precision == doctest::Approx(p[c]));
    CHECK(s.support == cm.support(c));
  }
  const ClassScores macro = cm.macro_average();
  CHECK(macro.precision == doctest::Approx(7.0 / 12.0));
  CHECK(macro.recall == doctest::Approx(13.0 / 24.0));
  CHECK(macro.f1 == doctest::Approx((2.0 / 3.0 + 0.8 + 2.0 / 3.0) / 4.0));
  CHECK(macro.support == 9);
  const ClassScores weighted = cm.weighted_average();
  CHECK(weighted.precision == doctest::Approx(22.0 / 27.0));
  CHECK(weighted.recall == doctest::Approx(6.0 / 9.0));  // equals the accuracy
  CHECK(weighted.f1 == doctest::Approx((2.0 + 1.6 + 8.0 / 3.0) / 9.0));
  CHECK(weighted.support == 9);
}

TEST_CASE("metrics with zero division are 0, as sklearn's zero_division=0") {
  const ConfusionMatrix empty(3);
  CHECK(empty.total() == 0);
  CHECK(empty.accuracy() == 0.0);
  CHECK(empty.precision(1) == 0.0);
  CHECK(empty.recall(1) == 0.0);
  CHECK(empty.f1(1) == 0.0);
  CHECK(empty.macro_average().f1 == 0.0);
  CHECK(empty.weighted_average().precision == 0.0);
  CHECK(accuracy({}, {}) == 0.0);

  // Always predicting class 0: class 1 has recall 0 and precision 0/0 = 0.
  const ConfusionMatrix constant({0, 1, 1, 0}, {0, 0, 0, 0}, 2);
  CHECK(constant.precision(0) == 0.5);
  CHECK(constant.recall(0) == 1.0);
  CHECK(constant.f1(0) == doctest::Approx(2.0 / 3.0));
  CHECK(constant.precision(1) == 0.0);
  CHECK(constant.recall(1) == 0.0);
  CHECK(constant.f1(1) == 0.0);
  CHECK(constant.macro_average().f1 == doctest::Approx(1.0 / 3.0));

  // All correct.
  const ConfusionMatrix perfect({2, 0, 1}, {2, 0, 1}, 3);
  CHECK(perfect.accuracy() == 1.0);
  CHECK(perfect.macro_average().f1 == 1.0);
}

TEST_CASE("confusion matrix accumulates batches, from vectors or arrays, and clears") {
  ConfusionMatrix cm(4);
  cm.add(Ids(truth.begin(), truth.begin() + 4), Ids(predicted.begin(), predicted.begin() + 4));
  cm.add_batch(IndexArray{1, 2, 2, 2}, IndexArray{1, 2, 2, 0});
  cm.add(2, 3);
  const ConfusionMatrix whole = example();
  for (std::size_t t = 0; t < 4; ++t) {
    for (std::size_t p = 0; p < 4; ++p) CHECK(cm.count(t, p) == whole.count(t, p));
  }
  CHECK(cm.total() == 9);
  cm.clear();
  CHECK(cm.total() == 0);
  CHECK(cm.count(0, 0) == 0);
}

TEST_CASE("metrics errors name the position, the value and the sizes") {
  TG_CHECK_CONTAINS(message_of<value_error>([] { ConfusionMatrix cm(0); }),
                    "ConfusionMatrix: num_classes is 0");
  ConfusionMatrix cm(3);
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      cm.add({0, 1, 2}, {0, 1});
                    }),
                    "ConfusionMatrix: 3 true classes but 2 predicted classes");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      cm.add({0, 1, 2}, {0, 3, 1});
                    }),
                    "ConfusionMatrix: predicted[1] = 3 is outside [0, 3)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      cm.add({0, -1}, {0, 0});
                    }),
                    "ConfusionMatrix: truth[1] = -1 is outside [0, 3)");
  CHECK(cm.total() == 0);  // nothing added by a failed call
  TG_CHECK_CONTAINS(message_of<value_error>([&] { cm.add(5, 0); }), "truth[0] = 5 is outside");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      cm.add_batch(IndexArray{{0, 1}}, IndexArray{0, 1});
                    }),
                    "ConfusionMatrix: expected 1-D class arrays, got [1,2] and [2]");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { cm.count(3, 0); }),
                    "ConfusionMatrix::count: (3, 0) is outside 3 classes");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      cm.report({"a", "b"});
                    }),
                    "ConfusionMatrix::report: 2 names given for 3 classes");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { cm.to_string({"a"}); }),
                    "ConfusionMatrix::to_string: 1 names given for 3 classes");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { cm.report({}, 12); }),
                    "ConfusionMatrix::report: digits 12 is outside [0, 9]");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      accuracy({1, 2}, {1});
                    }),
                    "accuracy: 2 true classes but 1 predicted classes");
}

TEST_CASE("classification report in sklearn's layout, and the printed matrix") {
  const ConfusionMatrix cm = example();
  const std::string expected =
      "              precision    recall  f1-score   support\n"
      "\n"
      "         cat       0.67      0.67      0.67         3\n"
      "         dog       0.67      1.00      0.80         2\n"
      "        bird       1.00      0.50      0.67         4\n"
      "        fish       0.00      0.00      0.00         0\n"
      "\n"
      "    accuracy                           0.67         9\n"
      "   macro avg       0.58      0.54      0.53         9\n"
      "weighted avg       0.81      0.67      0.70         9\n";
  CHECK(cm.report({"cat", "dog", "bird", "fish"}) == expected);

  const std::string three = cm.report({}, 3);
  TG_CHECK_CONTAINS(three, "           0      0.667     0.667     0.667         3\n");
  TG_CHECK_CONTAINS(three, "   macro avg      0.583     0.542     0.533         9\n");

  // A long class name widens the first column.
  const std::string wide = ConfusionMatrix({0, 1}, {0, 1}, 2).report({"a", "a very long name"});
  TG_CHECK_CONTAINS(wide, "a very long name       1.00      1.00      1.00         1\n");
  TG_CHECK_CONTAINS(wide, "    weighted avg       1.00");

  CHECK(cm.to_string({"cat", "dog", "bird", "fish"}) ==
        "true \\ pred   cat   dog  bird  fish\n"
        "        cat     2     1     0     0\n"
        "        dog     0     2     0     0\n"
        "       bird     1     0     2     1\n"
        "       fish     0     0     0     0\n");
  CHECK(ConfusionMatrix({0, 1, 1}, {1, 1, 1}, 2).to_string() ==
        "true \\ pred  0  1\n"
        "          0  0  1\n"
        "          1  0  2\n");
}

TEST_CASE("confusion matrix and report line up class names by display width") {
  // "正面", "负面": 6 bytes and 4 columns each; "😀ok": 6 bytes, 4 columns; "cafe" with a
  // combining acute: 6 bytes, 4 columns.
  const Strings names = {"\xE6\xAD\xA3\xE9\x9D\xA2", "\xE8\xB4\x9F\xE9\x9D\xA2", "neutral",
                         "\xF0\x9F\x98\x80ok"};
  const ConfusionMatrix cm({0, 0, 1, 1, 2, 3, 3, 3}, {0, 1, 1, 1, 2, 3, 3, 0}, 4);
  INFO(cm.to_string(names));
  INFO(cm.report(names));

  // The matrix: every line's fields end at the same columns.
  const Strings matrix = lines_of(cm.to_string(names));
  REQUIRE(matrix.size() == 5);
  for (const std::string& line : matrix) CHECK(field_ends(line) == field_ends(matrix[0]));
  // The columns are as wide as their widest entry, in columns: "true \ pred" (11), then
  // "neutral" (7) for each class.
  CHECK(field_ends(matrix[0]) == std::vector<std::size_t>{11, 20, 29, 38, 47});
  CHECK(matrix[1] == "       \xE6\xAD\xA3\xE9\x9D\xA2        1        1        0        0");

  // The report: the class rows and the averages end their fields at the same columns; the
  // header and the accuracy row at some of them.
  const Strings report = lines_of(cm.report(names));
  REQUIRE(report.size() == 8);
  const std::vector<std::size_t> full = field_ends(report[1]);
  CHECK(full == std::vector<std::size_t>{12, 23, 33, 43, 53});  // "weighted avg" is 12 wide
  for (std::size_t i = 1; i < report.size(); ++i) {
    if (i == 5) continue;  // accuracy
    CHECK(field_ends(report[i]) == full);
  }
  CHECK(field_ends(report[0]) == std::vector<std::size_t>(full.begin() + 1, full.end()));
  CHECK(field_ends(report[5]) == std::vector<std::size_t>{12, 43, 53});
  CHECK(report[1] == "        \xE6\xAD\xA3\xE9\x9D\xA2       0.50      0.50      0.50         2");

  // A name wider than "weighted avg" sets the first column by its columns, not its bytes:
  // eight CJK characters are 24 bytes and 16 columns.
  const std::string long_name =
      "\xE6\xAD\xA3\xE9\x9D\xA2\xE6\xAD\xA3\xE9\x9D\xA2"
      "\xE6\xAD\xA3\xE9\x9D\xA2\xE6\xAD\xA3\xE9\x9D\xA2";
  const ConfusionMatrix two({0, 1}, {0, 1}, 2);
  const Strings wide = lines_of(two.report({long_name, "e\xCC\x81"}));
  for (const std::string& line : wide) {
    CHECK(field_ends(line).back() == 16 + 2 + 9 + 3 * 10);
  }
  CHECK(field_ends(wide[1]).front() == 16);
  CHECK(field_ends(wide[2]).front() == 16);  // "e" and U+0301: one column
  const Strings narrow = lines_of(two.to_string({long_name, "e\xCC\x81"}));
  for (const std::string& line : narrow) CHECK(field_ends(line) == field_ends(narrow[0]));
  CHECK(field_ends(narrow[0]) == std::vector<std::size_t>{16, 34, 52});
}

TEST_CASE("argmax_rows picks the first largest score of each row") {
  CHECK(argmax_rows(Array<float>{{0.1f, 0.9f, 0.3f}, {2.0f, -1.0f, 2.0f}, {-5.f, -4.f, -6.f}}) ==
        IndexArray{1, 0, 1});
  CHECK(argmax_rows(tapegrad_test::column({1.0, -1.0})) == IndexArray{0, 0});
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(argmax_rows(Array<float>{{-inf, 1e30f, inf}}) == IndexArray{2});
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      argmax_rows(Array<float>{1.0f, 2.0f});
                    }),
                    "argmax_rows: expected scores [B, C] with C > 0, got [2]");
  TG_CHECK_CONTAINS(message_of<value_error>([] {
                      argmax_rows(Array<double>::from_shape({2, 0}));
                    }),
                    "got [2,0]");
}

// ---- progress line ----

TEST_CASE("is_terminal is true only for a standard stream on a terminal") {
  std::ostringstream text;
  CHECK_FALSE(is_terminal(text));
  CHECK(is_terminal(std::cout) == (::isatty(STDOUT_FILENO) == 1));
  CHECK(is_terminal(std::cerr) == (::isatty(STDERR_FILENO) == 1));
  CHECK(is_terminal(std::clog) == (::isatty(STDERR_FILENO) == 1));
  std::ostream alias(std::cout.rdbuf());
  CHECK(is_terminal(alias) == (::isatty(STDOUT_FILENO) == 1));
  std::ofstream file;
  CHECK_FALSE(is_terminal(file));
}

TEST_CASE("progress line is quiet when not a terminal: one line per epoch end") {
  double t = 10.0;
  ProgressOptions options;
  options.num_epochs = 2;
  options.clock = [&] { return t; };
  std::ostringstream out;
  ProgressLine progress(out, 4, options);
  CHECK_FALSE(progress.redraws());
  progress.start_epoch(1);
  t = 11;
  progress.step(1.0, 10);
  t = 12;
  progress.step(0.5, 10);
  t = 13;
  progress.step(0.5, 20);
  t = 14;
  progress.step(0.25, 10);
  CHECK(out.str().empty());
  CHECK(progress.steps_done() == 4);
  CHECK(progress.examples_done() == 50);
  CHECK(progress.mean_loss() == doctest::Approx(27.5 / 50));  // weighted by examples
  CHECK(progress.elapsed() == 4.0);
  progress.end_epoch({{"valid_acc", 0.875}, {"valid_loss", 0.123456}});
  CHECK(out.str() ==
        "epoch 1/2  4/4  loss 0.5500  12.5 ex/s  4.0s  valid_acc 0.875  valid_loss 0.1235\n");

  progress.start_epoch(2);
  CHECK(progress.mean_loss() == 0.0);
  t = 16;
  progress.step(0.125, 1000);
  progress.end_epoch();
  CHECK(out.str().find('\r') == std::string::npos);
  TG_CHECK_CONTAINS(out.str(), "\nepoch 2/2  1/4  loss 0.1250  500 ex/s  2.0s\n");
}

TEST_CASE("progress line redraws in place with a carriage return on a terminal") {
  double t = 0.0;
  std::ostringstream out;
  ProgressLine progress(out, 4, redrawing(t));
  CHECK(progress.redraws());
  progress.start_epoch(1);
  t = 1.0;
  progress.step(2.0, 8);
  const std::string s1 = "epoch 1  step 1/4  loss 2.0000  8 ex/s  3s left";
  CHECK(out.str() == s1);
  t = 1.05;
  progress.step(1.0, 8);  // within min_interval of the last draw: not drawn
  CHECK(out.str() == s1);
  t = 2.0;
  progress.step(1.0, 8);
  const std::string s3 = "epoch 1  step 3/4  loss 1.3333  12 ex/s  1s left";
  t = 2.01;
  progress.step(0.0, 8);  // the last step is always drawn
  const std::string s4 = "epoch 1  step 4/4  loss 1.0000  15.9 ex/s  0s left";
  progress.end_epoch();
  const std::string end = "epoch 1  4/4  loss 1.0000  15.9 ex/s  2.0s";
  CHECK(out.str() == s1 + "\r" + over(s3, s1) + "\r" + over(s4, s3) + "\r" + over(end, s4) + "\n");

  // The next epoch starts a new line (no carriage return before its first draw).
  const std::size_t before = out.str().size();
  t = 10.0;
  progress.start_epoch(2);
  t = 11.0;
  progress.step(1.0, 1);
  CHECK(out.str().substr(before) == "epoch 2  step 1/4  loss 1.0000  1 ex/s  3s left");
}

TEST_CASE("progress line clears the line it redraws by display width") {
  double t = 0.0;
  std::ostringstream out;
  ProgressLine progress(out, 4, redrawing(t));
  progress.start_epoch(1);
  t = 1.0;
  progress.step(2.0, 8);
  const std::string s1 = "epoch 1  step 1/4  loss 2.0000  8 ex/s  3s left";  // 47 columns
  REQUIRE(out.str() == s1);
  // The final line is 46 bytes but 45 columns ("准" is 3 bytes, 2 columns): two spaces clear
  // the last columns of the longer line before it, not one.
  progress.end_epoch({{"\xE5\x87\x86", 1.0}});
  const std::string end = "epoch 1  1/4  loss 2.0000  8 ex/s  1.0s  \xE5\x87\x86 1";
  CHECK(out.str() == s1 + "\r" + end + "  \n");
  CHECK(display_width(end + "  ") == display_width(s1));
}

TEST_CASE("progress line time left, unknown totals and bad options") {
  double t = 0.0;
  ProgressOptions options;
  options.redraw = Redraw::always;
  options.clock = [&] { return t; };
  std::ostringstream long_run;
  ProgressLine hours(long_run, 1000, options);
  hours.start_epoch(1);
  t = 5.0;
  hours.step(1.0, 32);
  TG_CHECK_CONTAINS(long_run.str(), "1:23:15 left");  // 999 steps * 5 s

  std::ostringstream minutes_out;
  ProgressLine minutes(minutes_out, 26, options);
  t = 0.0;
  minutes.start_epoch(1);
  t = 5.0;
  minutes.step(1.0, 32);
  TG_CHECK_CONTAINS(minutes_out.str(), "2:05 left");

  std::ostringstream unknown_out;
  ProgressLine unknown(unknown_out, 0, options);
  t = 0.0;
  unknown.start_epoch(3);
  unknown.step(0.5, 4);  // no time passed: no rate yet
  CHECK(unknown_out.str() == "epoch 3  step 1  loss 0.5000  ? ex/s");
  t = 1.0;
  unknown.step(0.5, 4);
  unknown.end_epoch();
  TG_CHECK_CONTAINS(unknown_out.str(), "\repoch 3  2 steps  loss 0.5000  8 ex/s  1.0s");

  options.min_interval = -1;
  std::ostringstream sink;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { ProgressLine bad(sink, 1, options); }),
                    "ProgressLine: min_interval -1 is negative");
}

// ---- metrics log ----

TEST_CASE("metrics log writes a header once and one flushed row per epoch") {
  TempDir dir;
  const std::string path = dir.file("metrics.csv");
  {
    MetricsLog log(path, {"epoch", "train_loss", "valid_acc"});
    CHECK(read_bytes(path) == "epoch,train_loss,valid_acc\n");
    log.write_values({1, 0.5, 0.8});
    CHECK(read_bytes(path) == "epoch,train_loss,valid_acc\n1,0.5,0.8\n");  // flushed
    log.write({{"valid_acc", 0.875}, {"epoch", 2}, {"train_loss", 0.25}});
    CHECK(log.columns() == Strings{"epoch", "train_loss", "valid_acc"});
    CHECK(log.path() == path);
  }
  CHECK(read_bytes(path) == "epoch,train_loss,valid_acc\n1,0.5,0.8\n2,0.25,0.875\n");

  // Appending (a resumed run) keeps the rows and writes no second header.
  {
    MetricsLog log(path, {"epoch", "train_loss", "valid_acc"});
    log.write_values({3, std::nan(""), 1e-7});
  }
  CHECK(read_bytes(path) == "epoch,train_loss,valid_acc\n1,0.5,0.8\n2,0.25,0.875\n3,nan,1e-07\n");

  // append = false starts afresh.
  {
    MetricsLog log(path, {"epoch", "seconds"}, /*append=*/false);
    log.write_values({1, 12.5});
  }
  CHECK(read_bytes(path) == "epoch,seconds\n1,12.5\n");

  // An existing empty file gets the header.
  { std::ofstream touch(dir.file("empty.csv")); }
  { MetricsLog log(dir.file("empty.csv"), {"a"}); }
  CHECK(read_bytes(dir.file("empty.csv")) == "a\n");
}

TEST_CASE("metrics log errors name the file, the columns and the values") {
  TempDir dir;
  const std::string path = dir.file("metrics.csv");
  { MetricsLog log(path, {"epoch", "loss"}); }
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] {
        MetricsLog log(path, {"epoch", "acc"});
      }),
      "MetricsLog: '" + path + "' has the columns 'epoch,loss', but this log writes 'epoch,acc'");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { MetricsLog log(path, {}); }),
                    "MetricsLog: no columns");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      MetricsLog log(path, {"a", "b", "a"});
                    }),
                    "MetricsLog: column 'a' is given twice");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      MetricsLog log(path, {"a", "b,c"});
                    }),
                    "MetricsLog: column 1 'b,c' must be non-empty, without commas");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { MetricsLog log(path, {""}); }),
                    "MetricsLog: column 0 '' must be non-empty");
  const std::string nowhere = dir.file("no/such/dir/metrics.csv");
  TG_CHECK_CONTAINS(message_of<value_error>([&] { MetricsLog log(nowhere, {"a"}); }),
                    "MetricsLog: cannot open '" + nowhere + "' for writing");

  MetricsLog log(path, {"epoch", "loss"});
  TG_CHECK_CONTAINS(message_of<value_error>([&] { log.write_values({1.0}); }),
                    "MetricsLog: 1 values for the 2 columns epoch,loss");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      log.write({{"epoch", 1}, {"acc", 0.5}});
                    }),
                    "MetricsLog: unknown column 'acc' (columns: epoch,loss)");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      log.write({{"epoch", 1}});
                    }),
                    "MetricsLog: no value for column 'loss'");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      log.write({{"epoch", 1}, {"epoch", 2}});
                    }),
                    "MetricsLog: column 'epoch' is given twice");
  CHECK(read_bytes(path) == "epoch,loss\n");  // no partial row
}
