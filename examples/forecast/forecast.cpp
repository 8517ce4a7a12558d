#include "forecast.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <sstream>

#include <tapegrad/autograd/files.hpp>
#include <tapegrad/autograd/limits.hpp>
#include <tapegrad/data.hpp>
#include <tapegrad/optim.hpp>

#include "plot.hpp"

namespace forecast {

namespace {

using tapegrad::Array;
using tapegrad::make_shape;
using tapegrad::value_error;
using tapegrad::Var;

constexpr double kTwoPi = 6.283185307179586;

// A number as the user typed it would read: 0.003, 1e-05, 840.
std::string num(double value) {
  std::ostringstream out;
  out << value;
  return out.str();
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

void require_at_least_one(const char* flag, std::size_t value) {
  if (value == 0) throw value_error(std::string("forecast: ") + flag + " 0 must be at least 1");
}

void require_positive(const char* flag, double value) {
  if (!(value > 0.0) || !std::isfinite(value)) {
    throw value_error(std::string("forecast: ") + flag + " " + num(value) +
                      " must be a positive number");
  }
}

const char* part_name(Part part) {
  switch (part) {
    case Part::train:
      return "train";
    case Part::valid:
      return "validation";
    case Part::test:
      return "test";
  }
  return "?";
}

// Leading and trailing blanks (and a '\r' of a Windows line end) removed.
std::string trimmed(const std::string& line) {
  const auto first = line.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  const auto last = line.find_last_not_of(" \t\r");
  return line.substr(first, last - first + 1);
}

// `text` with control characters as \xNN, for messages (a binary file's bytes).
std::string printable(const std::string& text) {
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) {
      static const char hex[] = "0123456789abcdef";
      out += {'\\', 'x', hex[c >> 4], hex[c & 0xf]};
    } else {
      out += ch;
    }
  }
  return out;
}

// The number in `text`, or false when it is not exactly one finite number.
bool parse_number(const std::string& text, double& value) {
  if (text.empty()) return false;
  char* end = nullptr;
  errno = 0;
  value = std::strtod(text.c_str(), &end);
  return end == text.c_str() + text.size() && errno == 0 && std::isfinite(value);
}

}  // namespace

std::string series_name(SeriesKind kind) {
  return kind == SeriesKind::sines ? "sines" : "walk";
}

std::string cell_name(tapegrad::nn::CellKind cell) {
  switch (cell) {
    case tapegrad::nn::CellKind::rnn_tanh:
      return "rnn";
    case tapegrad::nn::CellKind::rnn_relu:
      return "rnn-relu";
    case tapegrad::nn::CellKind::lstm:
      return "lstm";
    case tapegrad::nn::CellKind::gru:
      return "gru";
  }
  return "?";
}

std::vector<double> make_series(const SeriesOptions& options) {
  if (!(options.noise >= 0.0) || !std::isfinite(options.noise)) {
    throw value_error("forecast: --noise " + num(options.noise) + " must be 0 or more");
  }
  const std::size_t n = options.length;
  tapegrad::Generator gen(options.seed);
  std::vector<double> x(n);
  // The shape of the series is drawn first, then one unit normal per step scaled by the noise
  // (std::normal_distribution needs a positive deviation): so the same seed gives the same
  // series at any noise level, and a longer series starts as the shorter one.
  const auto draw_noise = [&gen, &options](std::size_t count) {
    Array<double> e = gen.normal<double>(make_shape({count}), 0.0, 1.0);
    e *= options.noise;
    return e;
  };
  if (options.kind == SeriesKind::sines) {
    // x_t = sum_j a_j sin(2 pi t / P_j + phi_j) + slope t + noise e_t: a slow, a middle and a
    // fast component (periods drawn around 60, 22 and 8 steps), a gentle upward trend.
    const double amplitude[3] = {1.0, 0.6, 0.35};
    const double period_lo[3] = {45.0, 16.0, 6.0};
    const double period_hi[3] = {75.0, 28.0, 10.0};
    double period[3];
    double phase[3];
    for (int j = 0; j < 3; ++j) {
      period[j] = gen.uniform<double>(make_shape({1}), period_lo[j], period_hi[j])(0);
      phase[j] = gen.uniform<double>(make_shape({1}), 0.0, kTwoPi)(0);
    }
    const double slope = 1.5 / 1000.0;
    const Array<double> e = draw_noise(n);
    for (std::size_t t = 0; t < n; ++t) {
      const double time = static_cast<double>(t);
      double value = slope * time + e(t);
      for (int j = 0; j < 3; ++j) {
        value += amplitude[j] * std::sin(kTwoPi * time / period[j] + phase[j]);
      }
      x[t] = value;
    }
  } else {
    // x_0 = 20, x_t = x_{t-1} + drift + noise e_t: a price with a slow upward drift.
    const double drift = 0.02;
    const Array<double> e = draw_noise(n);
    double value = 20.0;
    for (std::size_t t = 0; t < n; ++t) {
      if (t > 0) value += drift + e(t);
      x[t] = value;
    }
  }
  return x;
}

std::vector<double> read_series_csv(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    throw value_error("forecast: '" + path + "' is a folder, not a file");
  }
  // Refused before it is read: a file larger than the limit of text files.
  if (const auto size = std::filesystem::file_size(path, ec); !ec) {
    tapegrad::check_input_size("forecast: '" + path + "'", size,
                               tapegrad::input_limits().max_text_bytes, "max_text_bytes");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) throw value_error("forecast: cannot open '" + path + "'");
  std::ostringstream content;
  content << file.rdbuf();
  const std::string bytes = content.str();
  if (file.bad()) throw value_error("forecast: cannot read '" + path + "'");
  const std::size_t nul = bytes.find('\0');
  if (nul != std::string::npos) {
    const auto line =
        1 + std::count(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(nul), '\n');
    throw value_error("forecast: '" + path + "' line " + std::to_string(line) +
                      ": a NUL byte (a binary file, not a CSV of numbers?)");
  }
  std::vector<std::string> lines;
  std::istringstream text_lines(bytes);
  for (std::string line; std::getline(text_lines, line);) lines.push_back(trimmed(line));
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  if (lines.empty()) throw value_error("forecast: '" + path + "' is empty");

  std::vector<double> values;
  values.reserve(lines.size());
  for (std::size_t i = 0; i < lines.size(); ++i) {
    // A UTF-8 byte order mark may start the file.
    std::string text = lines[i];
    if (i == 0 && text.rfind("\xEF\xBB\xBF", 0) == 0) text = trimmed(text.substr(3));
    double value = 0.0;
    if (parse_number(text, value)) {
      values.push_back(value);
      continue;
    }
    if (i == 0) continue;  // a header
    const std::string where = "forecast: '" + path + "' line " + std::to_string(i + 1) + ": ";
    if (text.empty()) throw value_error(where + "empty line (a missing value?)");
    if (text.find_first_of(",;\t") != std::string::npos) {
      throw value_error(where + "'" + printable(text) +
                        "' is not one number (the file must have one column)");
    }
    throw value_error(where + "'" + printable(text) + "' is not a finite number");
  }
  if (values.empty()) throw value_error("forecast: '" + path + "' has a header but no values");
  return values;
}

Parts split_in_time(std::size_t length, const Options& options) {
  // Rounded down, with a little slack so that 300 * (0.7 + 0.15) is 255, not 254.
  const auto at = [length](double fraction) {
    const double end = std::floor(static_cast<double>(length) * fraction + 1e-9);
    return std::min(length, static_cast<std::size_t>(std::max(end, 0.0)));
  };
  Parts parts;
  parts.length = length;
  parts.train_end = at(options.train_fraction);
  parts.valid_end = std::max(parts.train_end, at(options.train_fraction + options.valid_fraction));
  return parts;
}

std::vector<std::size_t> forecast_times(const Parts& parts, Part part, const Options& options) {
  const std::size_t lo = part == Part::train   ? 0
                         : part == Part::valid ? parts.train_end
                                               : parts.valid_end;
  const std::size_t hi = part == Part::train   ? parts.train_end
                         : part == Part::valid ? parts.valid_end
                                               : parts.length;
  // t sees x[t-w+1 .. t] (and x[t-ma+1 .. t]); its targets x[t+1 .. t+h] lie in [lo, hi).
  const std::size_t first =
      std::max({lo == 0 ? std::size_t{0} : lo - 1, std::max(options.window, options.ma) - 1});
  std::vector<std::size_t> times;
  for (std::size_t t = first; t + options.horizon < hi; ++t) times.push_back(t);
  return times;
}

void validate(const Options& options, std::size_t length) {
  require_at_least_one("--window", options.window);
  require_at_least_one("--horizon", options.horizon);
  require_at_least_one("--hidden", options.hidden);
  require_at_least_one("--layers", options.layers);
  require_at_least_one("--epochs", options.epochs);
  require_at_least_one("--patience", options.patience);
  require_at_least_one("--batch", options.batch);
  require_at_least_one("--ma", options.ma);
  require_positive("--lr", options.lr);
  require_positive("--clip", options.clip);
  if (!(options.series.noise >= 0.0) || !std::isfinite(options.series.noise)) {
    throw value_error("forecast: --noise " + num(options.series.noise) + " must be 0 or more");
  }
  if (options.ma > options.window) {
    throw value_error("forecast: --ma " + std::to_string(options.ma) +
                      " must be at most --window " + std::to_string(options.window) +
                      " (every forecast sees the same past)");
  }
  const double tf = options.train_fraction;
  const double vf = options.valid_fraction;
  if (!(tf > 0.0 && tf < 1.0)) {
    throw value_error("forecast: --train-fraction " + num(tf) + " must be between 0 and 1");
  }
  if (!(vf > 0.0 && vf < 1.0)) {
    throw value_error("forecast: --valid-fraction " + num(vf) + " must be between 0 and 1");
  }
  if (!(tf + vf < 1.0)) {
    throw value_error("forecast: --train-fraction " + num(tf) + " and --valid-fraction " + num(vf) +
                      " leave nothing for the test part (their sum must be below 1)");
  }
  const Parts parts = split_in_time(length, options);
  for (Part part : {Part::train, Part::valid, Part::test}) {
    if (!forecast_times(parts, part, options).empty()) continue;
    const std::size_t size = part == Part::train   ? parts.train_end
                             : part == Part::valid ? parts.valid_end - parts.train_end
                                                   : length - parts.valid_end;
    std::ostringstream message;
    message << "forecast: ";
    if (part == Part::train) {
      // The window (and the moving average) and the targets must fit in the train part.
      const std::size_t past = std::max(options.window, options.ma);
      message << "--window " << options.window << " and --horizon " << options.horizon << " need "
              << past + options.horizon << " values in a row in the train part";
    } else {
      // Windows may reach back into the previous part; the targets must fit in this one.
      message << "--horizon " << options.horizon << " needs " << options.horizon
              << " values in the " << part_name(part) << " part";
    }
    message << ", which has " << size << " (parts of a series of " << length << " values: train "
            << parts.train_end << ", validation " << parts.valid_end - parts.train_end << ", test "
            << length - parts.valid_end << ")";
    throw value_error(message.str());
  }
}

Scaler fit_scaler(const std::vector<double>& series, std::size_t train_end) {
  if (train_end == 0 || train_end > series.size()) {
    throw value_error("forecast: fit_scaler: train part of " + std::to_string(train_end) +
                      " values in a series of " + std::to_string(series.size()));
  }
  double sum = 0.0;
  for (std::size_t i = 0; i < train_end; ++i) sum += series[i];
  Scaler s;
  s.mean = sum / static_cast<double>(train_end);
  double squares = 0.0;
  for (std::size_t i = 0; i < train_end; ++i)
    squares += (series[i] - s.mean) * (series[i] - s.mean);
  s.std = std::sqrt(squares / static_cast<double>(train_end));
  if (!(s.std > 1e-12)) s.std = 1.0;  // a constant train part: nothing to scale
  return s;
}

Windows make_windows(const std::vector<double>& series, const std::vector<std::size_t>& times,
                     std::size_t window, std::size_t horizon, const Scaler& scaler) {
  Windows w;
  w.times = times;
  w.inputs = Array<float>::from_shape(make_shape({times.size(), window}));
  w.targets = Array<float>::from_shape(make_shape({times.size(), horizon}));
  for (std::size_t i = 0; i < times.size(); ++i) {
    const std::size_t t = times[i];
    if (t + 1 < window || t + horizon >= series.size()) {
      throw value_error("forecast: make_windows: no window of " + std::to_string(window) +
                        " values and " + std::to_string(horizon) + " targets at time " +
                        std::to_string(t) + " of a series of " + std::to_string(series.size()));
    }
    const double last = series[t];
    for (std::size_t k = 0; k < window; ++k) {
      w.inputs(i, k) = static_cast<float>((series[t + 1 - window + k] - last) / scaler.std);
    }
    for (std::size_t k = 0; k < horizon; ++k) {
      w.targets(i, k) = static_cast<float>((series[t + 1 + k] - last) / scaler.std);
    }
  }
  return w;
}

Forecaster::Forecaster(tapegrad::nn::CellKind cell, std::size_t hidden, std::size_t layers,
                       std::size_t horizon, tapegrad::Generator& generator)
    : rnn_(tapegrad::nn::make_recurrent<float>(
          cell, tapegrad::nn::RNNOptions(1, hidden).num_layers(layers).batch_first(true),
          generator)),
      head_(hidden, horizon, true, generator) {
  register_module("rnn", rnn_);
  register_module("head", head_);
}

Var<float> Forecaster::forward(const Var<float>& windows) const {
  const std::size_t batch = windows.size(0);
  const std::size_t steps = windows.size(1);
  const Var<float> x = tapegrad::reshape(windows, make_shape({batch, steps, 1}));  // [B, w, 1]
  const tapegrad::nn::RecurrentOutput<float> out = rnn_->forward(x);
  // h_n [layers, B, H]: the last layer's state after the window's last value.
  return head_(tapegrad::select(out.h_n, 0, rnn_->options().num_layers() - 1));
}

Forecasts predict(const Forecaster& model, const std::vector<double>& series, const Windows& w,
                  const Scaler& scaler, std::size_t ma) {
  const std::size_t n = w.times.size();
  const std::size_t horizon = w.targets.shape()[1];
  // The predicted changes [n, horizon], in chunks of rows: a long series needs no more memory
  // than a few thousand windows at a time.
  Array<float> changes = Array<float>::from_shape(make_shape({n, horizon}));
  {
    tapegrad::NoGrad no_grad;
    const Var<float> all = tapegrad::constant(w.inputs);
    const std::size_t chunk = 4096;
    for (std::size_t start = 0; start < n; start += chunk) {
      const std::size_t rows = std::min(chunk, n - start);
      const Array<float> part = model(tapegrad::narrow(all, 0, start, rows)).value();
      std::copy(part.begin(), part.end(),
                changes.begin() + static_cast<std::ptrdiff_t>(start * horizon));
    }
  }
  Forecasts f;
  f.times = w.times;
  for (Array<double>* a : {&f.truth, &f.model, &f.last, &f.moving}) {
    *a = Array<double>::from_shape(make_shape({n, horizon}));
  }
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t t = w.times[i];
    double window_sum = 0.0;
    for (std::size_t k = 0; k < ma; ++k) window_sum += series[t - k];
    for (std::size_t k = 0; k < horizon; ++k) {
      f.truth(i, k) = series[t + 1 + k];
      f.model(i, k) = series[t] + scaler.std * static_cast<double>(changes(i, k));
      f.last(i, k) = series[t];
      f.moving(i, k) = window_sum / static_cast<double>(ma);
    }
  }
  return f;
}

double rmse(const Array<double>& predicted, const Array<double>& truth) {
  if (predicted.shape() != truth.shape() || truth.size() == 0) {
    throw value_error("forecast: rmse of " + tapegrad::shape_str(predicted.shape()) + " and " +
                      tapegrad::shape_str(truth.shape()));
  }
  double squares = 0.0;
  for (std::size_t i = 0; i < truth.size(); ++i) {
    const double d = predicted.data()[i] - truth.data()[i];
    squares += d * d;
  }
  return std::sqrt(squares / static_cast<double>(truth.size()));
}

double rmse_at(const Array<double>& predicted, const Array<double>& truth, std::size_t k) {
  if (predicted.shape() != truth.shape() || truth.dimension() != 2 || k >= truth.shape()[1] ||
      truth.shape()[0] == 0) {
    throw value_error("forecast: rmse_at column " + std::to_string(k) + " of " +
                      tapegrad::shape_str(predicted.shape()) + " and " +
                      tapegrad::shape_str(truth.shape()));
  }
  double squares = 0.0;
  for (std::size_t i = 0; i < truth.shape()[0]; ++i) {
    const double d = predicted(i, k) - truth(i, k);
    squares += d * d;
  }
  return std::sqrt(squares / static_cast<double>(truth.shape()[0]));
}

Result train_and_test(Forecaster& model, const std::vector<double>& series, const Options& options,
                      std::ostream& log, const std::string& metrics_csv) {
  namespace data = tapegrad::data;
  namespace optim = tapegrad::optim;
  validate(options, series.size());
  const auto start = std::chrono::steady_clock::now();

  Result r;
  r.parts = split_in_time(series.size(), options);
  r.scaler = fit_scaler(series, r.parts.train_end);
  const auto windows = [&](Part part) {
    return make_windows(series, forecast_times(r.parts, part, options), options.window,
                        options.horizon, r.scaler);
  };
  const Windows train = windows(Part::train);
  const Windows valid = windows(Part::valid);
  const Windows test = windows(Part::test);
  const Var<float> train_x = tapegrad::constant(train.inputs);
  const Var<float> train_y = tapegrad::constant(train.targets);

  const std::vector<Var<float>> params = model.parameters();
  optim::AdamOptions adam_options;
  adam_options.lr = options.lr;
  optim::Adam<float> adam(params, adam_options);
  optim::PlateauOptions plateau_options;
  plateau_options.factor = 0.5;
  plateau_options.patience = static_cast<std::int64_t>(options.lr_patience);
  optim::ReduceLROnPlateau<float> plateau(adam, plateau_options);

  // Every window has the same length: batch_indices only shuffles and cuts.
  const std::vector<std::size_t> lengths(train.times.size(), options.window);
  data::BatchOptions batching;
  batching.batch_size = options.batch;
  batching.shuffle = true;
  tapegrad::Generator shuffle(options.seed + 0x5eed);
  const std::size_t num_batches = (lengths.size() + options.batch - 1) / options.batch;
  data::ProgressOptions progress_options;
  progress_options.num_epochs = options.epochs;
  data::ProgressLine progress(log, num_batches, progress_options);
  std::unique_ptr<data::MetricsLog> metrics;
  if (!metrics_csv.empty()) {
    metrics = std::make_unique<data::MetricsLog>(
        metrics_csv, std::vector<std::string>{"epoch", "train_loss", "valid_rmse", "lr", "seconds"},
        /*append=*/false);
  }

  tapegrad::nn::StateDict<float> best_state = model.state_dict();
  r.best_valid_rmse = std::numeric_limits<double>::infinity();
  std::size_t epochs_without_gain = 0;
  for (std::size_t epoch = 1; epoch <= options.epochs; ++epoch) {
    progress.start_epoch(epoch);
    model.train();
    for (const std::vector<std::size_t>& batch : data::batch_indices(lengths, batching, shuffle)) {
      tapegrad::IndexArray ids = tapegrad::IndexArray::from_shape(make_shape({batch.size()}));
      std::copy(batch.begin(), batch.end(), ids.begin());
      // Rows of constants: gathers that record nothing.
      const Var<float> x = tapegrad::index_rows(train_x, ids);
      const Var<float> y = tapegrad::index_rows(train_y, ids);
      adam.zero_grad();
      const Var<float> loss = tapegrad::mse_loss(model(x), y);
      loss.backward();
      if (!std::isfinite(optim::clip_grad_norm(params, options.clip))) {
        adam.zero_grad();  // skip a step with inf/NaN gradients
        continue;
      }
      adam.step();
      progress.step(static_cast<double>(loss.item()), batch.size());
    }
    model.eval();
    const Forecasts f = predict(model, series, valid, r.scaler, options.ma);
    Epoch e;
    e.epoch = epoch;
    e.train_loss = progress.mean_loss();
    e.valid_rmse = rmse(f.model, f.truth);
    e.lr = adam.param_groups()[0].lr;
    e.seconds = progress.elapsed();
    r.history.push_back(e);
    progress.end_epoch({{"valid_rmse", e.valid_rmse}, {"lr", e.lr}});
    if (metrics) {
      metrics->write_values(
          {static_cast<double>(epoch), e.train_loss, e.valid_rmse, e.lr, e.seconds});
    }
    if (!std::isfinite(e.valid_rmse)) {
      // NaN compares false: without this a run with no finite RMSE would "restore" the
      // untrained model of epoch 0, and a later divergence would train on to the patience.
      throw tapegrad::numerical_error(
          "the validation RMSE is " + (std::isnan(e.valid_rmse) ? "nan" : num(e.valid_rmse)) +
          " at epoch " + std::to_string(epoch) + ": the model diverged (try a lower --lr than " +
          num(options.lr) + ")");
    }
    plateau.step(e.valid_rmse);
    if (e.valid_rmse < r.best_valid_rmse) {
      r.best_valid_rmse = e.valid_rmse;
      r.best_epoch = epoch;
      best_state = model.state_dict();
      epochs_without_gain = 0;
    } else if (++epochs_without_gain >= options.patience) {
      r.stopped_early = epoch < options.epochs;
      break;
    }
  }

  TAPEGRAD_ASSERT(r.best_epoch >= 1, "forecast: every epoch had a finite RMSE, so one is the best");
  model.load_state_dict(best_state);
  model.eval();
  r.test = predict(model, series, test, r.scaler, options.ma);
  r.rmse_model = rmse(r.test.model, r.test.truth);
  r.rmse_last = rmse(r.test.last, r.test.truth);
  r.rmse_moving = rmse(r.test.moving, r.test.truth);
  r.seconds = seconds_since(start);
  return r;
}

void write_forecasts_csv(const std::string& path, const Forecasts& test, std::size_t steps_ahead) {
  const std::size_t horizon = test.truth.shape()[1];
  if (steps_ahead < 1 || steps_ahead > horizon) {
    throw value_error("forecast: write_forecasts_csv: steps ahead " + std::to_string(steps_ahead) +
                      " outside 1 .. " + std::to_string(horizon));
  }
  std::ostringstream file;
  file.precision(8);
  file << "time,truth,model,last_value,moving_average\n";
  const std::size_t k = steps_ahead - 1;
  for (std::size_t i = 0; i < test.times.size(); ++i) {
    file << test.times[i] + steps_ahead << ',' << test.truth(i, k) << ',' << test.model(i, k) << ','
         << test.last(i, k) << ',' << test.moving(i, k) << '\n';
  }
  tapegrad::write_file_atomic(path, file.str());
}

void write_series_csv(const std::string& path, const std::vector<double>& series,
                      const Parts& parts) {
  std::ostringstream file;
  file.precision(8);
  file << "time,train,valid,test\n";
  for (std::size_t t = 0; t < series.size(); ++t) {
    const int column = t < parts.train_end ? 0 : t < parts.valid_end ? 1 : 2;
    file << t;
    for (int c = 0; c < 3; ++c) {
      file << ',';
      if (c == column) file << series[t];
    }
    file << '\n';
  }
  tapegrad::write_file_atomic(path, file.str());
}

std::string plot_forecasts(const std::string& png, const std::string& series_csv,
                           const std::string& forecasts_csv, const std::string& metrics_csv,
                           std::size_t steps_ahead, std::size_t ma) {
  using examples::Curve;
  using examples::Panel;
  std::vector<Panel> panels;
  panels.push_back({"the series, split in time",
                    "time",
                    "value",
                    {{series_csv, 1, 2, "train", "lines"},
                     {series_csv, 1, 3, "validation", "lines"},
                     {series_csv, 1, 4, "test", "lines"}}});
  const std::string ahead =
      steps_ahead == 1 ? "1 step ahead" : std::to_string(steps_ahead) + " steps ahead";
  panels.push_back({"test forecasts, " + ahead,
                    "time",
                    "value",
                    {{forecasts_csv, 1, 2, "truth", "linespoints"},
                     {forecasts_csv, 1, 3, "model", "lines"},
                     {forecasts_csv, 1, 4, "last value", "lines"},
                     {forecasts_csv, 1, 5, "moving average of " + std::to_string(ma), "lines"}}});
  if (!metrics_csv.empty()) {
    panels.push_back({"training",
                      "epoch",
                      "validation RMSE",
                      {{metrics_csv, 1, 3, "validation RMSE", "linespoints"}}});
  }
  return examples::plot_png(png, panels);
}

}  // namespace forecast
