// sentiment_import: converts the UCI "Sentiment Labelled Sentences" JSON files of the npm
// package `sentiment` 5.0.2 into the TSV file the sentiment example reads.
//
//   sentiment_import -o datasets/sentiment/sentences.tsv amazon.json imdb.json yelp.json
//
// scripts/get_sentiment_data.sh fetches the package, checks its checksum and runs this.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "guarded_main.hpp"
#include "sentiment.hpp"

namespace {

int run(int argc, char** argv) {
  std::vector<std::string> inputs;
  std::string output;
  CLI::App app{
      "Converts the UCI sentiment JSON files (text, class) to one TSV file "
      "(text, label, source)."};
  app.add_option("inputs", inputs, "the JSON files")->required()->check(CLI::ExistingFile);
  app.add_option("-o,--output", output, "the TSV file to write")->required();
  CLI11_PARSE(app, argc, argv);
  try {
    const std::size_t n = sentiment::import_uci_json(inputs, output);
    std::cout << "sentiment_import: wrote " << n << " sentences to " << output << "\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "sentiment_import: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
