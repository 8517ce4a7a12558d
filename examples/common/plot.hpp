// Plots for the examples: gnuplot when it is installed (optional at run time), nothing
// otherwise. The data of curves go to gnuplot through CSV files the example writes anyway,
// those of heatmaps inside the script.
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

/// A matrix drawn as a heatmap: values[r][c] as a colour from white (the smallest value, or 0
/// when none is below it) to dark blue (the largest), row 0 at the top.
struct Heatmap {
  std::string title;
  std::vector<std::vector<double>> values;  ///< rows x columns, every row as long as the first
  std::vector<std::string> row_labels;      ///< one per row, or none (row numbers)
  std::vector<std::string> column_labels;   ///< one per column, or none (column numbers)
  std::string x_label;
  std::string y_label;
};

/// Writes a PNG of `maps` in a grid of `columns` panels a row (each panel_width x panel_height
/// pixels) to `png_path` with gnuplot; labels are drawn as they are (no gnuplot markup), UTF-8
/// included. The data go inside the script. Returns and cleans up as plot_png; maps without
/// values, or rows or labels of the wrong length, are returned as the error too.
std::string heatmap_png(const std::string& png_path, const std::vector<Heatmap>& maps,
                        int columns = 2, int panel_width = 520, int panel_height = 360);

}  // namespace examples
