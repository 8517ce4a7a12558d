// What the tutorials share, apart from the model: their small command line and a clock.
#pragma once

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace tutorial {

/// A tutorial's command line: `--epochs N`; with `data_and_words`, also `--data DIR` and plain
/// words (the names to classify).
struct Args {
  std::size_t epochs = 0;
  std::string data;
  std::vector<std::string> words;
};

/// A bad command line: the problem, then the usage.
inline std::invalid_argument bad_args(const std::string& problem, const std::string& usage) {
  return std::invalid_argument(problem + "; " + usage);
}

/// `text` as a number of epochs: digits only (std::stoul would take "-3" as 2^64 - 3).
inline std::size_t whole_number(const std::string& text, const std::string& usage) {
  if (text.empty() || text.size() > 9 ||
      text.find_first_not_of("0123456789") != std::string::npos) {
    throw bad_args("--epochs: '" + text + "' is not a whole number", usage);
  }
  return std::stoul(text);
}

/// Reads argv. A bad or unknown argument is a std::invalid_argument that shows the usage.
inline Args parse_args(int argc, char** argv, std::size_t default_epochs,
                       bool data_and_words = false) {
  std::string usage = "usage: ";
  usage += argc > 0 ? argv[0] : "tutorial";
  usage += data_and_words ? " [--epochs N] [--data DIR] [NAME...]" : " [--epochs N]";
  Args args{default_epochs, {}, {}};
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const std::string value = i + 1 < argc ? argv[i + 1] : "";
    if (arg == "--epochs") {
      args.epochs = whole_number(value, usage);
      ++i;
    } else if (data_and_words && arg == "--data" && !value.empty()) {
      args.data = value;
      ++i;
    } else if (data_and_words && arg.rfind("--", 0) != 0) {
      args.words.push_back(arg);
    } else {
      throw bad_args("unexpected argument '" + arg + "'", usage);
    }
  }
  return args;
}

/// Seconds since `start`.
inline double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace tutorial
