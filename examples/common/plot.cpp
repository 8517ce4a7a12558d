#include "plot.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>

namespace examples {

namespace {

// A string as a gnuplot string literal: single quotes, doubled inside.
std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char ch : text) {
    if (ch == '\'') out += '\'';
    out += ch;
  }
  return out + "'";
}

// Runs a gnuplot script that writes `png_path`; its script and log go next to the PNG and are
// removed afterwards. Returns why it failed, or "" when a complete PNG is there.
std::string run_gnuplot(const std::string& png_path, const std::string& script) {
  const std::string script_path = png_path + ".gnuplot";
  {
    std::ofstream file(script_path);
    if (!file) return "cannot write " + script_path;
    file << script;
  }
  const std::string log_path = png_path + ".gnuplot.log";
  const std::string command = "gnuplot " + quoted(script_path) + " >" + quoted(log_path) + " 2>&1";
  const int status = std::system(command.c_str());
  std::string error;
  if (status != 0) {
    std::ifstream log(log_path);
    std::ostringstream text;
    text << log.rdbuf();
    error = "gnuplot failed: " + text.str();
  } else {
    // gnuplot can exit with 0 after a failed write (a full disk): a whole PNG must be there,
    // from its signature to its IEND chunk.
    std::ifstream png(png_path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(png)),
                            std::istreambuf_iterator<char>());
    const std::string signature = "\x89PNG\r\n\x1a\n", end = "IEND\xae\x42\x60\x82";
    if (bytes.size() < signature.size() + end.size() ||
        bytes.compare(0, signature.size(), signature) != 0 ||
        bytes.compare(bytes.size() - end.size(), end.size(), end) != 0) {
      error = "gnuplot wrote no complete PNG to " + png_path;
    }
  }
  std::remove(script_path.c_str());
  std::remove(log_path.c_str());
  return error;
}

}  // namespace

bool have_gnuplot() {
  return std::system("command -v gnuplot >/dev/null 2>&1") == 0;
}

std::string plot_png(const std::string& png_path, const std::vector<Panel>& panels, int width) {
  if (panels.empty()) return "nothing to plot";
  if (!have_gnuplot()) return "gnuplot is not installed (scripts/setup.sh --extras installs it)";

  std::ostringstream script;
  script << "set terminal pngcairo size " << width << "," << 360 * panels.size()
         << " font 'sans,10'\n"
         << "set output " << quoted(png_path) << "\n"
         << "set datafile separator ','\n"
         << "set key outside right top\n"
         << "set grid\n";
  if (panels.size() > 1) script << "set multiplot layout " << panels.size() << ",1\n";
  for (const Panel& panel : panels) {
    script << "set title " << quoted(panel.title) << "\n"
           << "set xlabel " << quoted(panel.x_label) << "\n"
           << "set ylabel " << quoted(panel.y_label) << "\n"
           << "plot ";
    for (std::size_t i = 0; i < panel.curves.size(); ++i) {
      const Curve& c = panel.curves[i];
      script << (i ? ", " : "") << quoted(c.csv_path) << " using " << c.x_column << ":"
             << c.y_column << " skip 1 with " << c.style << " title " << quoted(c.title);
    }
    script << "\n";
  }
  if (panels.size() > 1) script << "unset multiplot\n";

  return run_gnuplot(png_path, script.str());
}

std::string heatmap_png(const std::string& png_path, const std::vector<Heatmap>& maps, int columns,
                        int panel_width, int panel_height) {
  if (maps.empty()) return "nothing to plot";
  for (const Heatmap& map : maps) {
    const std::size_t width = map.values.empty() ? 0 : map.values.front().size();
    if (width == 0) return "heatmap '" + map.title + "' has no values";
    for (const auto& row : map.values) {
      if (row.size() != width) return "heatmap '" + map.title + "' has rows of different lengths";
    }
    if ((!map.row_labels.empty() && map.row_labels.size() != map.values.size()) ||
        (!map.column_labels.empty() && map.column_labels.size() != width)) {
      return "heatmap '" + map.title + "' has labels that are not one per row or column";
    }
  }
  if (!have_gnuplot()) return "gnuplot is not installed (scripts/setup.sh --extras installs it)";
  columns = std::max(1, std::min(columns, static_cast<int>(maps.size())));
  const int rows = (static_cast<int>(maps.size()) + columns - 1) / columns;

  std::ostringstream script;
  script << "set terminal pngcairo noenhanced size " << columns * panel_width << ","
         << rows * panel_height << " font 'sans,10'\n"
         << "set output " << quoted(png_path) << "\n"
         << "set palette defined (0 '#ffffff', 1 '#08306b')\n"
         << "set tics scale 0\n";
  for (std::size_t m = 0; m < maps.size(); ++m) {
    script << "$map" << m << " << EOD\n";
    for (const auto& row : maps[m].values) {
      for (std::size_t c = 0; c < row.size(); ++c) script << (c ? " " : "") << row[c];
      script << "\n";
    }
    script << "EOD\n";
  }
  if (maps.size() > 1) script << "set multiplot layout " << rows << "," << columns << "\n";
  // Tic labels: one per row or column, at its centre.
  const auto tics = [](const std::vector<std::string>& labels, std::size_t n) {
    std::ostringstream out;
    out << "(";
    for (std::size_t i = 0; i < n; ++i) {
      out << (i ? ", " : "") << quoted(labels.empty() ? std::to_string(i) : labels[i]) << " " << i;
    }
    out << ")";
    return out.str();
  };
  for (std::size_t m = 0; m < maps.size(); ++m) {
    const Heatmap& map = maps[m];
    const std::size_t height = map.values.size(), width = map.values.front().size();
    double low = 0.0, high = 0.0;
    for (const auto& row : map.values) {
      for (double v : row) {
        low = std::min(low, v);
        high = std::max(high, v);
      }
    }
    if (!(high > low)) high = low + 1.0;
    script << "set title " << quoted(map.title) << "\n"
           << "set xlabel " << quoted(map.x_label) << "\n"
           << "set ylabel " << quoted(map.y_label) << "\n"
           << "set xtics " << tics(map.column_labels, width) << "\n"
           << "set ytics " << tics(map.row_labels, height) << "\n"
           << "set xrange [-0.5:" << width - 0.5 << "]\n"
           << "set yrange [" << height - 0.5 << ":-0.5]\n"
           << "set cbrange [" << low << ":" << high << "]\n"
           << "plot $map" << m << " matrix with image notitle\n";
  }
  if (maps.size() > 1) script << "unset multiplot\n";
  return run_gnuplot(png_path, script.str());
}

}  // namespace examples
