// Smoke test of examples/forecast: the series generator, the split in time and the windows
// (no value after a forecast's time reaches it), a short training run, and the errors of bad
// options and bad input files. Tiny sizes: it runs under the sanitizers too.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include "forecast.hpp"
#include "helpers.hpp"

using tapegrad_test::message_of;
using tapegrad_test::TempDir;

namespace {

// Small settings for a series of 300 values: parts of 210, 45 and 45 values.
forecast::Options tiny_options() {
  forecast::Options o;
  o.series.length = 300;
  o.window = 8;
  o.ma = 3;
  o.hidden = 8;
  o.epochs = 3;
  o.batch = 32;
  return o;
}

}  // namespace

TEST_CASE("forecast: the series generator is reproducible by seed") {
  for (forecast::SeriesKind kind : {forecast::SeriesKind::sines, forecast::SeriesKind::walk}) {
    CAPTURE(forecast::series_name(kind));
    forecast::SeriesOptions s;
    s.kind = kind;
    s.length = 200;
    s.noise = 0.2;
    s.seed = 7;
    const std::vector<double> a = forecast::make_series(s);
    REQUIRE(a.size() == 200);
    CHECK(forecast::make_series(s) == a);

    forecast::SeriesOptions other = s;
    other.seed = 8;
    CHECK(forecast::make_series(other) != a);

    // A longer series starts as the shorter one.
    forecast::SeriesOptions longer = s;
    longer.length = 333;
    const std::vector<double> b = forecast::make_series(longer);
    CHECK(std::vector<double>(b.begin(), b.begin() + 200) == a);

    // The noise level scales the noise only: clean + noise has the clean shape.
    forecast::SeriesOptions clean = s;
    clean.noise = 0.0;
    const std::vector<double> c = forecast::make_series(clean);
    double squares = 0.0;
    for (std::size_t t = 1; t < a.size(); ++t) {
      // sines: x - clean is the noise; walk: the steps' difference is.
      const double d =
          kind == forecast::SeriesKind::sines ? a[t] - c[t] : (a[t] - a[t - 1]) - (c[t] - c[t - 1]);
      squares += d * d;
    }
    const double sd = std::sqrt(squares / static_cast<double>(a.size() - 1));
    CHECK(sd > 0.15);
    CHECK(sd < 0.25);
  }
}

TEST_CASE("forecast: windows and baselines never use values after the forecast time") {
  forecast::Options o = tiny_options();
  o.window = 6;
  o.horizon = 3;
  const std::size_t n = 300;
  const forecast::Parts parts = forecast::split_in_time(n, o);
  CHECK(parts.train_end == 210);
  CHECK(parts.valid_end == 255);
  CHECK(parts.length == 300);

  // Every forecast's targets lie in its own part; its window lies before its targets.
  const auto check_part = [&](forecast::Part part, std::size_t lo, std::size_t hi) {
    const std::vector<std::size_t> times = forecast::forecast_times(parts, part, o);
    REQUIRE_FALSE(times.empty());
    for (std::size_t t : times) {
      CHECK(t + 1 >= o.window);
      CHECK(t + 1 >= lo);
      CHECK(t + o.horizon < hi);
    }
    // ... and every forecast that fits is there.
    CHECK(times.front() == std::max<std::size_t>(lo == 0 ? 0 : lo - 1, o.window - 1));
    CHECK(times.back() == hi - 1 - o.horizon);
  };
  check_part(forecast::Part::train, 0, parts.train_end);
  check_part(forecast::Part::valid, parts.train_end, parts.valid_end);
  check_part(forecast::Part::test, parts.valid_end, parts.length);

  // On a ramp x_t = t with std 1, a window's inputs are (index - t): never positive, so no
  // value after t; the targets are 1 .. horizon.
  std::vector<double> ramp(n);
  for (std::size_t t = 0; t < n; ++t) ramp[t] = static_cast<double>(t);
  const std::vector<std::size_t> test_times =
      forecast::forecast_times(parts, forecast::Part::test, o);
  const forecast::Windows w = forecast::make_windows(ramp, test_times, o.window, o.horizon, {});
  REQUIRE(w.inputs.shape() == tapegrad::make_shape({test_times.size(), o.window}));
  REQUIRE(w.targets.shape() == tapegrad::make_shape({test_times.size(), o.horizon}));
  for (std::size_t i = 0; i < test_times.size(); ++i) {
    for (std::size_t k = 0; k < o.window; ++k) {
      CHECK(w.inputs(i, k) == static_cast<float>(k) - static_cast<float>(o.window - 1));
    }
    for (std::size_t k = 0; k < o.horizon; ++k) {
      CHECK(w.targets(i, k) == static_cast<float>(k + 1));
    }
  }

  // The scaler sees the train part only: wild values later change nothing.
  std::vector<double> series = forecast::make_series(o.series);
  const forecast::Scaler s = forecast::fit_scaler(series, parts.train_end);
  std::vector<double> wild = series;
  for (std::size_t t = parts.train_end; t < n; ++t) wild[t] = 1e6;
  const forecast::Scaler s_wild = forecast::fit_scaler(wild, parts.train_end);
  CHECK(s_wild.mean == s.mean);
  CHECK(s_wild.std == s.std);

  // Changing every value after t changes no forecast made at t: model or baselines.
  tapegrad::Generator gen(3);
  forecast::Forecaster model(o.cell, o.hidden, o.layers, o.horizon, gen);
  const std::size_t t = test_times[test_times.size() / 2];
  std::vector<double> future_changed = series;
  for (std::size_t u = t + 1; u < n; ++u) future_changed[u] += 100.0;
  const auto forecasts_at_t = [&](const std::vector<double>& x) {
    return forecast::predict(model, x, forecast::make_windows(x, {t}, o.window, o.horizon, s), s,
                             o.ma);
  };
  const forecast::Forecasts a = forecasts_at_t(series);
  const forecast::Forecasts b = forecasts_at_t(future_changed);
  CHECK(a.model == b.model);
  CHECK(a.last == b.last);
  CHECK(a.moving == b.moving);
  CHECK(a.truth != b.truth);  // the targets are the future
  CHECK(a.last(0, 2) == series[t]);
  CHECK(a.moving(0, 0) == doctest::Approx((series[t] + series[t - 1] + series[t - 2]) / 3.0));

  // A window that would need values before the start or after the end is refused.
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>(
                        [&] { forecast::make_windows(ramp, {4}, o.window, o.horizon, s); }),
                    "time 4");
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>(
                        [&] { forecast::make_windows(ramp, {n - 2}, o.window, o.horizon, s); }),
                    "time 298");
}

TEST_CASE("forecast: predict gives the same forecasts in one chunk of windows or many") {
  // More windows than predict evaluates at once (4096), of a tiny model.
  forecast::SeriesOptions s;
  s.length = 4200;
  const std::vector<double> series = forecast::make_series(s);
  std::vector<std::size_t> times;
  for (std::size_t t = 1; t + 2 < series.size(); ++t) times.push_back(t);
  REQUIRE(times.size() > 4096);
  const forecast::Scaler scaler = forecast::fit_scaler(series, 3000);
  tapegrad::Generator gen(2);
  forecast::Forecaster model(tapegrad::nn::CellKind::gru, 3, 1, 2, gen);
  const forecast::Forecasts all = forecast::predict(
      model, series, forecast::make_windows(series, times, 2, 2, scaler), scaler, 1);
  for (std::size_t i : {std::size_t{0}, std::size_t{4095}, std::size_t{4096}, times.size() - 1}) {
    CAPTURE(i);
    const forecast::Forecasts one = forecast::predict(
        model, series, forecast::make_windows(series, {times[i]}, 2, 2, scaler), scaler, 1);
    CHECK(one.model(0, 0) == doctest::Approx(all.model(i, 0)).epsilon(1e-6));
    CHECK(one.model(0, 1) == doctest::Approx(all.model(i, 1)).epsilon(1e-6));
  }
}

TEST_CASE("forecast: a short run lowers the loss and beats the last value on a clean series") {
  // A clean sine: x_{t+1} = 2 cos(w) x_t - x_{t-1}, easy for any model to learn.
  std::vector<double> series(240);
  for (std::size_t t = 0; t < series.size(); ++t) {
    series[t] = 3.0 + 2.0 * std::sin(2.0 * 3.141592653589793 * static_cast<double>(t) / 17.0);
  }
  forecast::Options o = tiny_options();
  o.cell = tapegrad::nn::CellKind::gru;
  o.epochs = 12;
  o.patience = 12;
  o.batch = 16;
  o.lr = 0.02;
  TempDir dir;
  tapegrad::Generator gen(5);
  forecast::Forecaster model(o.cell, o.hidden, o.layers, o.horizon, gen);
  const auto names = model.named_parameters();
  REQUIRE(names.size() == 6);
  CHECK(names.front().first == "rnn.weight_ih_l0");
  CHECK(names.back().first == "head.bias");

  std::ostringstream log;
  const forecast::Result r =
      forecast::train_and_test(model, series, o, log, dir.file("metrics.csv"));
  REQUIRE(r.history.size() >= 2);
  CHECK(r.history.back().train_loss < 0.5 * r.history.front().train_loss);
  CHECK(r.best_valid_rmse < r.history.front().valid_rmse);
  CHECK(r.rmse_model < r.rmse_last);
  CHECK(r.rmse_model < r.rmse_moving);
  CHECK(r.test.times.size() == 36 - o.horizon + 1);
  TG_CHECK_CONTAINS(log.str(), "valid_rmse");

  const std::string metrics = tapegrad_test::read_bytes(dir.file("metrics.csv"));
  TG_CHECK_CONTAINS(metrics, "epoch,train_loss,valid_rmse,lr,seconds\n1,");

  forecast::write_forecasts_csv(dir.file("forecasts.csv"), r.test, 1);
  const std::string csv = tapegrad_test::read_bytes(dir.file("forecasts.csv"));
  TG_CHECK_CONTAINS(csv, "time,truth,model,last_value,moving_average\n");
  CHECK(std::count(csv.begin(), csv.end(), '\n') ==
        static_cast<std::ptrdiff_t>(r.test.times.size() + 1));
}

TEST_CASE("forecast: bad options and bad files are value_errors naming the value") {
  const std::size_t n = 300;
  const auto error_of = [n](forecast::Options o) {
    return message_of<tapegrad::value_error>([&] { forecast::validate(o, n); });
  };
  forecast::Options o = tiny_options();
  CHECK_NOTHROW(forecast::validate(o, n));

  o = tiny_options();
  o.window = 0;
  TG_CHECK_CONTAINS(error_of(o), "--window 0 must be at least 1");
  o = tiny_options();
  o.horizon = 0;
  TG_CHECK_CONTAINS(error_of(o), "--horizon 0 must be at least 1");
  o = tiny_options();
  o.window = 250;
  TG_CHECK_CONTAINS(error_of(o),
                    "--window 250 and --horizon 1 need 251 values in a row in the "
                    "train part, which has 210 (parts of a series of 300 values");
  o = tiny_options();
  o.horizon = 50;
  TG_CHECK_CONTAINS(error_of(o),
                    "--horizon 50 needs 50 values in the validation part, which "
                    "has 45");
  o = tiny_options();
  o.series.noise = -0.5;
  TG_CHECK_CONTAINS(error_of(o), "--noise -0.5");
  o = tiny_options();
  o.lr = 0.0;
  TG_CHECK_CONTAINS(error_of(o), "--lr 0 must be a positive number");
  o = tiny_options();
  o.lr = -0.01;
  TG_CHECK_CONTAINS(error_of(o), "--lr -0.01");
  o = tiny_options();
  o.clip = 0.0;
  TG_CHECK_CONTAINS(error_of(o), "--clip 0");
  o = tiny_options();
  o.ma = 9;
  TG_CHECK_CONTAINS(error_of(o), "--ma 9 must be at most --window 8");
  o = tiny_options();
  o.train_fraction = 1.5;
  TG_CHECK_CONTAINS(error_of(o), "--train-fraction 1.5");
  o = tiny_options();
  o.valid_fraction = 0.4;
  TG_CHECK_CONTAINS(error_of(o), "--train-fraction 0.7 and --valid-fraction 0.4 leave nothing");
  o = tiny_options();
  o.valid_fraction = 0.0;
  TG_CHECK_CONTAINS(error_of(o), "--valid-fraction 0 must be between 0 and 1");

  forecast::SeriesOptions s;
  s.noise = -1.0;
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] { forecast::make_series(s); }),
                    "--noise -1");

  // Training refuses bad options before any work.
  o = tiny_options();
  o.window = 0;
  tapegrad::Generator gen(1);
  forecast::Forecaster model(o.cell, o.hidden, o.layers, o.horizon, gen);
  std::ostringstream log;
  TG_CHECK_CONTAINS(message_of<tapegrad::value_error>([&] {
                      forecast::train_and_test(model, std::vector<double>(n, 1.0), o, log);
                    }),
                    "--window 0");
  CHECK(log.str().empty());

  TempDir dir;
  const std::string good = dir.write("good.csv", "price\r\n1.5\r\n2\r\n-3e-1\r\n\r\n");
  CHECK(forecast::read_series_csv(good) == std::vector<double>{1.5, 2.0, -0.3});
  const std::string bad = dir.write("bad.csv", "1\n2\nabc\n4\n");
  std::string message = message_of<tapegrad::value_error>([&] { forecast::read_series_csv(bad); });
  TG_CHECK_CONTAINS(message, "bad.csv' line 3: 'abc' is not a finite number");
  const std::string two = dir.write("two.csv", "1\n2,3\n");
  message = message_of<tapegrad::value_error>([&] { forecast::read_series_csv(two); });
  TG_CHECK_CONTAINS(message, "line 2: '2,3' is not one number (the file must have one column)");
  const std::string gap = dir.write("gap.csv", "1\n\n3\n");
  message = message_of<tapegrad::value_error>([&] { forecast::read_series_csv(gap); });
  TG_CHECK_CONTAINS(message, "line 2: empty line");
  message = message_of<tapegrad::value_error>(
      [&] { forecast::read_series_csv(dir.file("missing.csv")); });
  TG_CHECK_CONTAINS(message, "cannot open");
  TG_CHECK_CONTAINS(message, "missing.csv");
  const std::string empty = dir.write("empty.csv", "\n\n");
  message = message_of<tapegrad::value_error>([&] { forecast::read_series_csv(empty); });
  TG_CHECK_CONTAINS(message, "is empty");
}

TEST_CASE("forecast: a run with no finite validation RMSE is an error naming the epoch and value") {
  // A learning rate of 1e38 turns the weights into NaN at the first step: no epoch can be the
  // best (the run used to "restore" epoch 0, the untrained model, and save it).
  forecast::SeriesOptions s;
  s.length = 300;
  const std::vector<double> series = forecast::make_series(s);
  forecast::Options o = tiny_options();
  o.epochs = 3;
  o.lr = 1e38;
  tapegrad::Generator gen(1);
  forecast::Forecaster model(o.cell, o.hidden, o.layers, o.horizon, gen);
  std::ostringstream log;
  const std::string m = message_of<tapegrad::numerical_error>(
      [&] { forecast::train_and_test(model, series, o, log); });
  TG_CHECK_CONTAINS(m, "the validation RMSE is nan at epoch 1");
  TG_CHECK_CONTAINS(m, "try a lower --lr than 1e+38");
}
