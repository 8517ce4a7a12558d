// forecast: a recurrent network forecasts a noisy time series from its past values and is
// compared with two baselines on a test period it never saw (see forecast.hpp for the
// method). Seeded: the same --seed prints the same numbers, timings aside.
//
//   forecast                                 # LSTM on a sum of sines, one step ahead
//   forecast --series walk --cell gru        # a random walk with drift, like a price
//   forecast --horizon 5 --window 48         # the next 5 values at once
//   forecast --input prices.csv              # your own series: one numeric column
//
// Writes to --out (default out/forecast): forecasts.csv (the test forecasts), series.csv,
// metrics.csv (one row per epoch), model.npz (the best epoch's parameters, PyTorch's names)
// and, when gnuplot is installed, forecast.png, all together once the run has succeeded (a run
// that fails or is interrupted leaves the files of an earlier run as they were).
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>

#include <CLI/CLI.hpp>
#include <tapegrad/autograd/files.hpp>
#include <tapegrad/optim.hpp>
#include <tapegrad/tapegrad.hpp>

#include "forecast.hpp"
#include "guarded_main.hpp"
#include "outputs.hpp"

namespace {

using tapegrad::nn::CellKind;

std::string cell_title(CellKind cell) {
  switch (cell) {
    case CellKind::rnn_tanh:
      return "RNN (tanh)";
    case CellKind::rnn_relu:
      return "RNN (relu)";
    case CellKind::lstm:
      return "LSTM";
    case CellKind::gru:
      return "GRU";
  }
  return "?";
}

// "38.2% lower" / "0.41% higher" than the baseline.
std::string compared(double model, double baseline) {
  char text[64];
  const double change = 100.0 * (model - baseline) / baseline;
  const double size = change < 0 ? -change : change;
  std::snprintf(text, sizeof text, size < 1.0 ? "%.2f%% %s" : "%.1f%% %s", size,
                change < 0 ? "lower" : "higher");
  return text;
}

// CLI11's NonNegativeNumber would accept 2.5 and print DBL_MAX in its message; an unsigned
// option also takes "-3" as 2^64 - 3. Whole numbers only, then.
const CLI::Validator whole_number(
    [](std::string& text) {
      const bool digits =
          !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
      return digits ? std::string() : "'" + text + "' is not a whole number (0, 1, 2, ...)";
    },
    "");

}  // namespace

namespace {

int run(int argc, char** argv) {
  forecast::Options o;
  std::string series_kind = "sines";
  std::string cell = "lstm";
  std::uint64_t seed = 1;
  std::string input;
  std::string out_dir = "out/forecast";
  bool no_plot = false;

  CLI::App app{
      "forecast: an RNN, LSTM or GRU forecasts a noisy time series from its last --window "
      "values. It trains on the series' first part, stops early on the next, and is tested on "
      "the last part against the last-value and moving-average forecasts."};
  app.get_formatter()->column_width(30);
  const std::map<std::string, forecast::SeriesKind> series_kinds{
      {"sines", forecast::SeriesKind::sines}, {"walk", forecast::SeriesKind::walk}};
  const std::map<std::string, CellKind> cells{
      {"rnn", CellKind::rnn_tanh}, {"lstm", CellKind::lstm}, {"gru", CellKind::gru}};

  app.add_option("--series", series_kind,
                 "synthetic series: sines (three sines, a trend and noise) or walk (a random "
                 "walk with drift, like a price)")
      ->transform(CLI::IsMember(series_kinds, CLI::ignore_case))
      ->capture_default_str();
  app.add_option("--length", o.series.length, "values in the synthetic series")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--noise", o.series.noise,
                 "standard deviation of the noise (sines) or of each step (walk)")
      ->capture_default_str();
  auto* input_option = app.add_option("--input", input,
                                      "forecast your own series instead: a CSV file of one "
                                      "numeric column (a header line is allowed)")
                           ->check(CLI::ExistingFile);
  for (const char* synthetic : {"--series", "--length", "--noise"}) {
    input_option->excludes(app.get_option(synthetic));
  }
  app.add_option("--train-fraction", o.train_fraction, "the first part of the series, to train")
      ->capture_default_str();
  app.add_option("--valid-fraction", o.valid_fraction,
                 "the next part, for early stopping; the rest is the test part")
      ->capture_default_str();
  app.add_option("--window", o.window, "past values each forecast sees")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--horizon", o.horizon, "values forecast at once (1: the next value)")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--cell", cell, "recurrent layer: rnn (tanh), lstm or gru")
      ->transform(CLI::IsMember(cells, CLI::ignore_case))
      ->capture_default_str();
  app.add_option("--hidden", o.hidden, "hidden size")->check(whole_number)->capture_default_str();
  app.add_option("--layers", o.layers, "stacked recurrent layers")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "at most this many epochs")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--patience", o.patience,
                 "stop after this many epochs without a better validation RMSE")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--batch", o.batch, "windows per mini-batch")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--lr", o.lr, "Adam's learning rate")->capture_default_str();
  app.add_option("--lr-patience", o.lr_patience,
                 "halve the learning rate after this many epochs without a better validation "
                 "RMSE")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--clip", o.clip, "clip the gradients' joint norm to this")->capture_default_str();
  app.add_option("--ma", o.ma, "window of the moving-average baseline")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--seed", seed, "seeds the series, the initialisation and the batch order")
      ->check(whole_number)
      ->capture_default_str();
  app.add_option("--out", out_dir, "folder for the CSV files, the model and the plot")
      ->capture_default_str();
  app.add_flag("--no-plot", no_plot, "do not draw forecast.png");
  CLI11_PARSE(app, argc, argv);
  o.series.kind = series_kinds.at(series_kind);  // IsMember gave the key in lower case
  o.cell = cells.at(cell);
  o.seed = seed;
  o.series.seed = seed;

  // Tiny matrices (32 x 128): a second BLAS thread would only add synchronisation.
  tapegrad::set_num_threads(1);
  namespace fs = std::filesystem;
  try {
    const auto start = std::chrono::steady_clock::now();
    const std::vector<double> series =
        input.empty() ? forecast::make_series(o.series) : forecast::read_series_csv(input);
    forecast::validate(o, series.size());

    const forecast::Parts parts = forecast::split_in_time(series.size(), o);
    tapegrad::Generator init(o.seed);
    forecast::Forecaster model(o.cell, o.hidden, o.layers, o.horizon, init);
    const std::string what =
        o.horizon == 1 ? "the next value" : "the next " + std::to_string(o.horizon) + " values";
    std::printf("forecast: %s (hidden %zu, %zu layer%s, %zu parameters) forecasts %s\n",
                cell_title(o.cell).c_str(), o.hidden, o.layers, o.layers == 1 ? "" : "s",
                model.num_parameters(), what.c_str());
    std::printf("          from the last %zu values; the moving-average baseline uses %zu\n",
                o.window, o.ma);
    if (input.empty()) {
      std::printf("series:   %s, %zu values, noise %g, seed %llu\n",
                  forecast::series_name(o.series.kind).c_str(), series.size(), o.series.noise,
                  static_cast<unsigned long long>(seed));
    } else {
      std::printf("series:   %s, %zu values\n", input.c_str(), series.size());
    }
    std::printf("parts:    train t < %zu, validation t < %zu, test t < %zu (in time order)\n",
                parts.train_end, parts.valid_end, parts.length);
    std::printf("windows:  %zu train, %zu validation, %zu test; batch %zu, Adam lr %g, clip %g\n",
                forecast::forecast_times(parts, forecast::Part::train, o).size(),
                forecast::forecast_times(parts, forecast::Part::valid, o).size(),
                forecast::forecast_times(parts, forecast::Part::test, o).size(), o.batch, o.lr,
                o.clip);
    std::printf(
        "training: at most %zu epochs, early stopping after %zu without a better "
        "validation RMSE\n\n",
        o.epochs, o.patience);
    std::fflush(stdout);

    // Every output is staged now, under a unique temporary name next to its final path (so an
    // unwritable folder fails before training), and renamed into place by out.commit() only
    // once the whole run has succeeded: a run that fails or is interrupted leaves the outputs
    // of an earlier run as they were.
    examples::create_folder(out_dir);
    tapegrad::OutputFiles out;
    const std::string metrics_csv = (fs::path(out_dir) / "metrics.csv").string();
    const std::string forecasts_csv = (fs::path(out_dir) / "forecasts.csv").string();
    const std::string series_csv = (fs::path(out_dir) / "series.csv").string();
    const std::string model_npz = (fs::path(out_dir) / "model.npz").string();
    const std::string png = (fs::path(out_dir) / "forecast.png").string();
    const std::string metrics_new = out.stage(metrics_csv);
    const std::string forecasts_new = out.stage(forecasts_csv);
    const std::string series_new = out.stage(series_csv);
    const std::string model_new = out.stage(model_npz);
    const std::string png_new = no_plot ? std::string() : out.stage(png);
    const forecast::Result r = forecast::train_and_test(model, series, o, std::cout, metrics_new);

    std::printf("\nbest epoch %zu: validation RMSE %.4f", r.best_epoch, r.best_valid_rmse);
    if (r.stopped_early) {
      std::printf(" (stopped after epoch %zu: %zu epochs without improvement)",
                  r.history.back().epoch, o.patience);
    }
    std::printf("\nscaled with the train part's mean %.4g and standard deviation %.4g\n\n",
                r.scaler.mean, r.scaler.std);

    std::printf("test RMSE over %zu forecasts, in the series' units:\n", r.test.times.size());
    std::printf("  %-30s %9.4f\n", (cell_title(o.cell) + " model").c_str(), r.rmse_model);
    std::printf("  %-30s %9.4f   model %s\n", "last value", r.rmse_last,
                compared(r.rmse_model, r.rmse_last).c_str());
    std::printf("  %-30s %9.4f   model %s\n",
                ("moving average of " + std::to_string(o.ma) + " values").c_str(), r.rmse_moving,
                compared(r.rmse_model, r.rmse_moving).c_str());
    if (o.horizon > 1) {
      std::printf("  steps ahead:   model  last value  moving average\n");
      for (std::size_t k = 0; k < o.horizon; ++k) {
        std::printf("  %11zu %9.4f %11.4f %15.4f\n", k + 1,
                    forecast::rmse_at(r.test.model, r.test.truth, k),
                    forecast::rmse_at(r.test.last, r.test.truth, k),
                    forecast::rmse_at(r.test.moving, r.test.truth, k));
      }
    }
    const bool beats_both = r.rmse_model < r.rmse_last && r.rmse_model < r.rmse_moving;
    std::printf("the model %s both baselines.\n", beats_both ? "beats" : "does not beat");
    if (input.empty() && o.series.kind == forecast::SeriesKind::walk) {
      std::printf(
          "(a random walk's next step is noise but for its drift: the last value is\n"
          " nearly the best forecast there is, and the model can only learn the drift)\n");
    }
    std::printf("\n");

    forecast::write_forecasts_csv(forecasts_new, r.test, o.horizon);
    forecast::write_series_csv(series_new, series, r.parts);
    tapegrad::optim::save_model(model, model_new);
    const std::string plot_error =
        no_plot ? std::string()
                : forecast::plot_forecasts(png_new, series_new, forecasts_new, metrics_new,
                                           o.horizon, o.ma);
    if (!plot_error.empty()) out.discard(png);  // an earlier plot stays as it was
    out.commit();

    const std::string ahead =
        o.horizon == 1 ? "" : ", " + std::to_string(o.horizon) + " steps ahead";
    std::printf("wrote %s (time,truth,model,last_value,moving_average%s)\n", forecasts_csv.c_str(),
                ahead.c_str());
    std::printf("      %s, %s, %s\n", series_csv.c_str(), metrics_csv.c_str(), model_npz.c_str());
    if (no_plot) {
      std::printf("no plot (--no-plot)\n");
    } else if (plot_error.empty()) {
      std::printf("plot: %s\n", png.c_str());
    } else {
      std::printf("no plot: %s\n", plot_error.c_str());
    }
    std::printf("total %.1f s (training and testing %.1f s)\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count(),
                r.seconds);
  } catch (const tapegrad::value_error& e) {
    std::fprintf(stderr, "%s\nRun with --help for more information.\n", e.what());
    return 2;
  } catch (const std::exception& e) {  // files that cannot be written, a diverging run
    std::fprintf(stderr, "forecast: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
