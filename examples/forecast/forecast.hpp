// forecast: one-step (or multi-step) forecasting of a noisy time series with a recurrent
// network, the "stock price" example of the RNN tutorials, done without leakage.
//
//   series  x_0 .. x_{n-1}, split in time: train [0, a), valid [a, b), test [b, n)
//   scale   z = (x - mean) / std, mean and std of the train part only
//   window  the forecast made at time t sees x_{t-w+1} .. x_t and nothing later; it is fed to
//           the network relative to its last value, u_k = z_{t-w+1+k} - z_t, so that a trend
//           or a random walk leaving the range of the training data does not matter
//   model   RNN (tanh) / LSTM / GRU over u -> h_n of the last layer -> Linear -> d [horizon]
//   output  x^_{t+k} = x_t + std * d_k, k = 1 .. horizon (the network predicts the change)
//   loss    MSE between d_k and (z_{t+k} - z_t); Adam with the gradients' norm clipped, the
//           learning rate halved when the validation RMSE stalls, early stopping on it
//
// A forecast at time t belongs to the part that holds all of its targets x_{t+1} .. x_{t+h};
// its window may reach back into the previous part, which is the past, not a leak.
// The baselines it is compared with: the last value (x^_{t+k} = x_t) and the moving average
// of the last `ma` values.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <tapegrad/nn.hpp>
#include <tapegrad/tapegrad.hpp>

namespace forecast {

enum class SeriesKind {
  sines,  ///< a sum of three sines of seeded periods and phases, a trend, Gaussian noise
  walk,   ///< a random walk with drift, like a price: x_t = x_{t-1} + drift + noise * e_t
};

/// What the synthetic series is made of.
struct SeriesOptions {
  SeriesKind kind = SeriesKind::sines;
  std::size_t length = 1500;
  double noise = 0.1;  ///< sines: standard deviation of the noise; walk: of each step
  std::uint64_t seed = 1;
};

/// Everything a run needs; the command line's options under the same names.
struct Options {
  SeriesOptions series;
  double train_fraction = 0.7;   ///< of the series, from its start
  double valid_fraction = 0.15;  ///< then validation; the rest is the test part
  std::size_t window = 32;       ///< past values each forecast sees
  std::size_t horizon = 1;       ///< values forecast at once
  tapegrad::nn::CellKind cell = tapegrad::nn::CellKind::lstm;  ///< rnn_tanh, lstm or gru
  std::size_t hidden = 32;
  std::size_t layers = 1;
  std::size_t epochs = 60;
  std::size_t patience = 10;  ///< stop after this many epochs without a better validation RMSE
  std::size_t batch = 16;
  double lr = 5e-3;             ///< Adam's learning rate
  double clip = 1.0;            ///< the gradients' joint norm is clipped to this
  std::size_t lr_patience = 3;  ///< halve lr after this many epochs without a better valid RMSE
  std::size_t ma = 3;           ///< the moving-average baseline's window
  std::uint64_t seed = 1;       ///< model initialisation and batch order (the series has its own)
};

/// The synthetic series. Same options, same values.
std::vector<double> make_series(const SeriesOptions& options);

/// A series from a CSV file of one numeric column; a first line that is not a number is a
/// header. A missing file, an empty one, or a line that is not one finite number (an empty
/// line inside the data, a second column) is a value_error naming the file and the line.
std::vector<double> read_series_csv(const std::string& path);

/// Where the parts end: train [0, train_end), valid [train_end, valid_end), test
/// [valid_end, length).
struct Parts {
  std::size_t train_end = 0;
  std::size_t valid_end = 0;
  std::size_t length = 0;
};

enum class Part { train, valid, test };

/// The parts of a series of `length` values, from the options' fractions (rounded down).
Parts split_in_time(std::size_t length, const Options& options);

/// The forecast times t (the last value seen) of one part: every t with a full window of
/// `window` past values (t + 1 >= max(window, ma)), whose targets t+1 .. t+horizon all lie in
/// the part. Ascending.
std::vector<std::size_t> forecast_times(const Parts& parts, Part part, const Options& options);

/// Checks the options against a series of `length` values: every size at least 1 (ma too),
/// fractions in (0, 1) leaving a test part, noise >= 0, lr and clip > 0 and finite, ma at most
/// the window, and at least one forecast in each part. A value_error names the option and its
/// value ("--window 0 must be at least 1").
void validate(const Options& options, std::size_t length);

/// z = (x - mean) / std with the train part's mean and standard deviation.
struct Scaler {
  double mean = 0.0;
  double std = 1.0;
};

/// The scaler of x[0, train_end). A constant train part gets std 1 (there is nothing to scale).
Scaler fit_scaler(const std::vector<double>& series, std::size_t train_end);

/// The network's inputs and targets for forecasts at `times`:
/// inputs [n, window], row i = (x[t-w+1 .. t] - x[t]) / std for t = times[i];
/// targets [n, horizon], row i = (x[t+1 .. t+h] - x[t]) / std.
struct Windows {
  std::vector<std::size_t> times;
  tapegrad::Array<float> inputs;
  tapegrad::Array<float> targets;
};

/// The windows at `times` (each needs t + 1 >= window and t + horizon < series.size(), else a
/// value_error naming t).
Windows make_windows(const std::vector<double>& series, const std::vector<std::size_t>& times,
                     std::size_t window, std::size_t horizon, const Scaler& scaler);

/// The network: a recurrent layer (RNN tanh, LSTM or GRU; `layers` deep) over a window, and a
/// Linear head from the last layer's final hidden state to `horizon` changes. Parameter names
/// are PyTorch's: rnn.weight_ih_l0 ..., head.weight, head.bias.
class Forecaster : public tapegrad::nn::Module<float> {
 public:
  Forecaster(tapegrad::nn::CellKind cell, std::size_t hidden, std::size_t layers,
             std::size_t horizon, tapegrad::Generator& generator);
  /// windows [B, window] (relative, scaled) -> predicted changes [B, horizon].
  tapegrad::Var<float> forward(const tapegrad::Var<float>& windows) const;
  tapegrad::Var<float> operator()(const tapegrad::Var<float>& windows) const {
    return forward(windows);
  }

 private:
  std::shared_ptr<tapegrad::nn::RNNBase<float>> rnn_;  // LSTM or GRU, or RNN
  tapegrad::nn::Linear<float> head_;
};

/// The forecasts of one part, in the series' units: `truth`, `model`, `last` and `moving`
/// are [n, horizon], row i for the forecast made at times[i], column k for time t+k+1.
struct Forecasts {
  std::vector<std::size_t> times;
  tapegrad::Array<double> truth;
  tapegrad::Array<double> model;
  tapegrad::Array<double> last;
  tapegrad::Array<double> moving;
};

/// The model's and the baselines' forecasts at the windows' times.
Forecasts predict(const Forecaster& model, const std::vector<double>& series, const Windows& w,
                  const Scaler& scaler, std::size_t ma);

/// Root mean squared error over every element (a value_error for different shapes or none).
double rmse(const tapegrad::Array<double>& predicted, const tapegrad::Array<double>& truth);
/// The RMSE of step k+1 ahead alone (column k).
double rmse_at(const tapegrad::Array<double>& predicted, const tapegrad::Array<double>& truth,
               std::size_t k);

/// One line of the training history.
struct Epoch {
  std::size_t epoch = 0;
  double train_loss = 0.0;  ///< mean MSE of the scaled changes over the epoch's windows
  double valid_rmse = 0.0;  ///< in the series' units
  double lr = 0.0;          ///< the learning rate the epoch trained with
  double seconds = 0.0;     ///< of this epoch, training and validation
};

/// What a run gives back. The model holds the parameters of the best epoch.
struct Result {
  Parts parts;
  Scaler scaler;
  std::vector<Epoch> history;
  std::size_t best_epoch = 0;
  double best_valid_rmse = 0.0;
  bool stopped_early = false;
  Forecasts test;
  double rmse_model = 0.0;  ///< test RMSE over all horizon steps, in the series' units
  double rmse_last = 0.0;
  double rmse_moving = 0.0;
  double seconds = 0.0;  ///< training and evaluation
};

/// Validates, splits, scales and windows the series; trains `model` with Adam on mini-batches
/// shuffled with options.seed (the gradients' norm clipped to options.clip, the learning rate
/// halved after options.lr_patience epochs without a better validation RMSE, stopping after
/// options.patience), restores its best epoch and forecasts the test part. Writes one line per
/// epoch to `log` (tapegrad::data::ProgressLine: redrawn in place on a terminal), and the epochs to
/// `metrics_csv` when it is not empty. `model` must be built with the options' cell, hidden,
/// layers and horizon. A validation RMSE that is not finite (a model that diverged) is a
/// tapegrad::numerical_error naming the epoch and the value.
Result train_and_test(Forecaster& model, const std::vector<double>& series, const Options& options,
                      std::ostream& log, const std::string& metrics_csv = {});

/// Writes the test forecasts `steps_ahead` (1 .. horizon) steps ahead as CSV:
/// time,truth,model,last_value,moving_average (time: the index of the forecast value).
/// Written atomically (tapegrad::write_file_atomic), as is write_series_csv: a failure is a
/// value_error naming the file and the cause, and leaves the file as it was.
void write_forecasts_csv(const std::string& path, const Forecasts& test, std::size_t steps_ahead);

/// Writes the series as CSV, time,train,valid,test: each value in its part's column, the others
/// empty (gnuplot draws the parts in three colours).
void write_series_csv(const std::string& path, const std::vector<double>& series,
                      const Parts& parts);

/// A PNG of the series, the test forecasts and the validation RMSE per epoch, from the CSV
/// files above and a metrics CSV (epoch,train_loss,valid_rmse,lr,seconds). Returns "" or why
/// there is no plot (examples::plot_png: never throws).
std::string plot_forecasts(const std::string& png, const std::string& series_csv,
                           const std::string& forecasts_csv, const std::string& metrics_csv,
                           std::size_t steps_ahead, std::size_t ma);

/// "sines" / "walk"; "rnn" / "lstm" / "gru".
std::string series_name(SeriesKind kind);
std::string cell_name(tapegrad::nn::CellKind cell);

}  // namespace forecast
