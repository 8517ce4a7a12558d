// Plots for the examples: gnuplot when it is installed (optional at run time), nothing
// otherwise. The data go to gnuplot through CSV files the example writes anyway.
#pragma once

#include <string>
#include <vector>

namespace examples {

/// True when a `gnuplot` executable is on PATH.
bool have_gnuplot();

/// One curve of a plot: column `y_column` (1-based, gnuplot's numbering) against
/// `x_column` of the CSV file `csv_path` (with a header line), drawn as `title`.
struct Curve {
  std::string csv_path;
  int x_column = 1;
  int y_column = 2;
  std::string title;
  std::string style = "lines";  ///< gnuplot's `with` style: "lines", "linespoints", "points"
};

/// One panel of a figure.
struct Panel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Curve> curves;
};

/// Writes a PNG of `panels` stacked vertically (width x 360 pixels each) to `png_path` with
/// gnuplot. Returns an empty string on success, else why it failed (gnuplot missing, its
/// error output, no PNG written); a failed plot never throws, the PNG is an extra. Its
/// script and log are `png_path` + ".gnuplot" and ".gnuplot.log", removed afterwards, so a
/// unique `png_path` (a temporary of tapegrad::OutputFiles) gives them unique names too.
std::string plot_png(const std::string& png_path, const std::vector<Panel>& panels,
                     int width = 900);

}  // namespace examples
