#include "tapegrad/data/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <iostream>

#include "data_detail.hpp"

namespace tapegrad::data {

namespace {

// "42s" below a minute, else "m:ss" or "h:mm:ss".
std::string clock_time(double seconds) {
  if (!(seconds >= 0) || !std::isfinite(seconds)) return "?";
  const auto s = static_cast<long long>(std::llround(seconds));
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}:{:02}", s / 60, s % 60);
  return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
}

std::string rate_text(double examples, double seconds) {
  if (!(seconds > 0)) return "? ex/s";
  const double rate = examples / seconds;
  return rate >= 100 ? fmt::format("{:.0f} ex/s", rate) : fmt::format("{:.3g} ex/s", rate);
}

}  // namespace

bool is_terminal(const std::ostream& out) {
  const std::streambuf* buf = out.rdbuf();
  if (buf == nullptr) return false;
  if (buf == std::cout.rdbuf()) return ::isatty(STDOUT_FILENO) == 1;
  if (buf == std::cerr.rdbuf() || buf == std::clog.rdbuf()) return ::isatty(STDERR_FILENO) == 1;
  return false;
}

// ---- ProgressLine ----

ProgressLine::ProgressLine(std::ostream& out, std::size_t steps_per_epoch, ProgressOptions options)
    : out_(&out), total_steps_(steps_per_epoch), options_(std::move(options)) {
  if (!(options_.min_interval >= 0)) {
    throw value_error(
        fmt::format("ProgressLine: min_interval {} is negative", options_.min_interval));
  }
  redraw_ = options_.redraw == Redraw::always ||
            (options_.redraw == Redraw::automatic && is_terminal(out));
  start_ = now();
}

double ProgressLine::now() const {
  if (options_.clock) return options_.clock();
  using seconds = std::chrono::duration<double>;
  return std::chrono::duration_cast<seconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void ProgressLine::start_epoch(std::size_t epoch) {
  epoch_ = epoch;
  steps_ = 0;
  examples_ = 0;
  loss_sum_ = 0.0;
  drawn_ = false;
  drawn_width_ = 0;
  start_ = now();
  last_draw_ = start_;
}

double ProgressLine::mean_loss() const {
  return examples_ == 0 ? 0.0 : loss_sum_ / static_cast<double>(examples_);
}

double ProgressLine::elapsed() const {
  return now() - start_;
}

std::string ProgressLine::status(bool final_line) const {
  std::string line = options_.num_epochs == 0
                         ? fmt::format("epoch {}", epoch_)
                         : fmt::format("epoch {}/{}", epoch_, options_.num_epochs);
  if (total_steps_ == 0) {
    line += final_line ? fmt::format("  {} steps", steps_) : fmt::format("  step {}", steps_);
  } else {
    line += final_line ? fmt::format("  {}/{}", steps_, total_steps_)
                       : fmt::format("  step {}/{}", steps_, total_steps_);
  }
  line += fmt::format("  loss {:.4f}", mean_loss());
  const double seconds = elapsed();
  line += "  " + rate_text(static_cast<double>(examples_), seconds);
  if (final_line) {
    line += fmt::format("  {:.1f}s", seconds);
  } else if (total_steps_ != 0 && steps_ > 0) {
    const double left = total_steps_ > steps_ ? static_cast<double>(total_steps_ - steps_) *
                                                    seconds / static_cast<double>(steps_)
                                              : 0.0;
    line += "  " + clock_time(left) + " left";
  }
  return line;
}

void ProgressLine::draw(const std::string& line, bool newline) {
  std::string text = line;
  if (redraw_ && drawn_) {
    // '\r' returns to the start; spaces clear what is left of a longer previous line (in
    // display columns: a metric's name may be in CJK, two columns a character).
    text = align_left(text, drawn_width_);
    text.insert(0, 1, '\r');
  }
  if (newline) text += '\n';
  *out_ << text << std::flush;
  drawn_ = !newline;
  drawn_width_ = newline ? 0 : display_width(line);
}

void ProgressLine::step(double loss, std::size_t examples) {
  ++steps_;
  examples_ += examples;
  loss_sum_ += loss * static_cast<double>(examples);
  if (!redraw_) return;
  const double t = now();
  const bool last = total_steps_ != 0 && steps_ >= total_steps_;
  if (drawn_ && !last && t - last_draw_ < options_.min_interval) return;
  last_draw_ = t;
  draw(status(false), false);
}

void ProgressLine::end_epoch(const std::vector<std::pair<std::string, double>>& metrics) {
  std::string line = status(true);
  for (const auto& [name, value] : metrics) line += fmt::format("  {} {:.4g}", name, value);
  draw(line, true);
}

// ---- MetricsLog ----

MetricsLog::MetricsLog(const std::string& path, std::vector<std::string> columns, bool append)
    : path_(path), columns_(std::move(columns)) {
  if (columns_.empty()) throw value_error("MetricsLog: no columns");
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    const std::string& c = columns_[i];
    if (c.empty() || c.find_first_of(",\"\r\n") != std::string::npos) {
      throw value_error(fmt::format(
          "MetricsLog: column {} '{}' must be non-empty, without commas, quotes or line breaks", i,
          detail::printable(c)));
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (columns_[j] == c) {
        throw value_error(fmt::format("MetricsLog: column '{}' is given twice", c));
      }
    }
  }
  const std::string header = fmt::format("{}", fmt::join(columns_, ","));
  bool write_header = true;
  if (append) {
    std::ifstream existing(path, std::ios::binary);
    std::string first;
    if (existing && std::getline(existing, first)) {
      if (!first.empty() && first.back() == '\r') first.pop_back();
      if (first != header) {
        throw value_error(fmt::format(
            "MetricsLog: '{}' has the columns '{}', but this log writes '{}' (use another file, "
            "or append = false to start it afresh)",
            path, detail::printable(first), header));
      }
      write_header = false;
    }
  }
  file_.open(path, append ? std::ios::binary | std::ios::app : std::ios::binary | std::ios::trunc);
  if (!file_) {
    throw value_error(
        fmt::format("MetricsLog: cannot open '{}' for writing ({})", path, std::strerror(errno)));
  }
  if (write_header) file_ << header << '\n' << std::flush;
}

void MetricsLog::write_values(const std::vector<double>& values) {
  if (values.size() != columns_.size()) {
    throw value_error(fmt::format("MetricsLog: {} values for the {} columns {}", values.size(),
                                  columns_.size(), fmt::join(columns_, ",")));
  }
  file_ << fmt::format("{}\n", fmt::join(values, ",")) << std::flush;
  if (!file_) throw value_error(fmt::format("MetricsLog: cannot write to '{}'", path_));
}

void MetricsLog::write(const std::vector<std::pair<std::string, double>>& row) {
  std::vector<double> values(columns_.size());
  std::vector<bool> given(columns_.size(), false);
  for (const auto& [name, value] : row) {
    const auto it = std::find(columns_.begin(), columns_.end(), name);
    if (it == columns_.end()) {
      throw value_error(fmt::format("MetricsLog: unknown column '{}' (columns: {})", name,
                                    fmt::join(columns_, ",")));
    }
    const auto c = static_cast<std::size_t>(it - columns_.begin());
    if (given[c]) throw value_error(fmt::format("MetricsLog: column '{}' is given twice", name));
    given[c] = true;
    values[c] = value;
  }
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    if (!given[c])
      throw value_error(fmt::format("MetricsLog: no value for column '{}'", columns_[c]));
  }
  write_values(values);
}

}  // namespace tapegrad::data
