/// @file
/// Training progress: a status line redrawn in place on a terminal, and a CSV log of
/// per-epoch metrics.
#pragma once

#include <cstddef>
#include <fstream>
#include <functional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

namespace tapegrad::data {

/// True when `out` writes to std::cout / std::cerr / std::clog and that file descriptor
/// (1 or 2) is a terminal.
bool is_terminal(const std::ostream& out);

/// Whether a ProgressLine redraws its status line in place after each step.
enum class Redraw {
  automatic,  ///< when is_terminal(out)
  always,     ///< even into a file or a pipe
  never,      ///< one line per epoch only
};

/// How a ProgressLine counts epochs and when it draws.
struct ProgressOptions {
  std::size_t num_epochs = 0;         ///< for "epoch 3/10"; 0: unknown ("epoch 3")
  Redraw redraw = Redraw::automatic;  ///< automatic: in place on a terminal only
  double min_interval = 0.1;          ///< seconds between two redraws (the last step always draws)
  std::function<double()> clock;      ///< seconds, for tests; a steady clock when empty
};

/// A training status line:
/// ```
///   epoch 2/10  step 120/782  loss 0.4123  1534 ex/s  0:42 left
/// ```
/// redrawn in place (a carriage return, then the line) when redrawing, and at the end of each
/// epoch one line
/// ```
///   epoch 2/10  782/782  loss 0.3921  1520 ex/s  51.2s  valid_loss 0.41  valid_acc 0.873
/// ```
/// which is all that is written when not redrawing (a log file, a CI log).
/// The loss shown is the mean over the epoch's examples so far.
class ProgressLine {
 public:
  /// `steps_per_epoch`: 0 when unknown (no total and no time left).
  ProgressLine(std::ostream& out, std::size_t steps_per_epoch, ProgressOptions options = {});

  /// Starts epoch `epoch` (1-based, shown as given) and its clock.
  void start_epoch(std::size_t epoch);
  /// One step done: its mean loss over `examples` examples. A negative or non-finite loss is
  /// shown as it is.
  void step(double loss, std::size_t examples);
  /// Ends the epoch with one line, followed by `metrics` ("name value" pairs).
  void end_epoch(const std::vector<std::pair<std::string, double>>& metrics = {});

  /// Whether the status line is redrawn in place (the options' Redraw, resolved for `out`).
  bool redraws() const { return redraw_; }
  /// Steps of this epoch so far.
  std::size_t steps_done() const { return steps_; }
  /// Examples of this epoch so far, the sum of step()'s `examples`.
  std::size_t examples_done() const { return examples_; }
  /// Mean loss per example in this epoch so far (0 before the first step).
  double mean_loss() const;
  /// Seconds since start_epoch.
  double elapsed() const;

 private:
  double now() const;
  std::string status(bool final_line) const;
  void draw(const std::string& line, bool newline);

  std::ostream* out_;
  std::size_t total_steps_;
  ProgressOptions options_;
  bool redraw_;
  std::size_t epoch_ = 0;
  std::size_t steps_ = 0;
  std::size_t examples_ = 0;
  double loss_sum_ = 0.0;
  double start_ = 0.0;
  double last_draw_ = 0.0;
  bool drawn_ = false;
  std::size_t drawn_width_ = 0;
};

/// A CSV file of one row per epoch: a header line with the column names, then one row per
/// write, flushed at once, so a crash loses no finished epoch.
///
/// ```
///   data::MetricsLog log("metrics.csv", {"epoch", "train_loss", "valid_loss", "valid_acc"});
///   log.write({{"epoch", 3}, {"train_loss", 0.41}, {"valid_loss", 0.45}, {"valid_acc", 0.87}});
/// ```
class MetricsLog {
 public:
  /// Appends to `path` (`append`) or starts it afresh. A new or empty file gets the header;
  /// an existing file must start with the same header (else a value_error naming both). No
  /// columns, an empty or duplicate name, a name with a comma, quote or line break, or a file
  /// that cannot be opened is a value_error.
  MetricsLog(const std::string& path, std::vector<std::string> columns, bool append = true);

  /// A row by column name, in any order; a missing, unknown or repeated name is a
  /// value_error (and nothing is written).
  void write(const std::vector<std::pair<std::string, double>>& row);
  /// A row with the values in column order; a wrong count is a value_error.
  void write_values(const std::vector<double>& values);

  /// The column names, in file order.
  const std::vector<std::string>& columns() const { return columns_; }
  /// The file written.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::vector<std::string> columns_;
  std::ofstream file_;
};

}  // namespace tapegrad::data
