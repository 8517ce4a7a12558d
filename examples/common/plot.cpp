#include "plot.hpp"

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

  const std::string script_path = png_path + ".gnuplot";
  {
    std::ofstream file(script_path);
    if (!file) return "cannot write " + script_path;
    file << script.str();
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

}  // namespace examples
