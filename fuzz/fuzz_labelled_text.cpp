// libFuzzer harness of tapegrad::data::read_labelled_text: any file is examples or a
// value_error, for TSV and CSV and every header and column option.
//
// The first byte of the input chooses the options, the rest is the file:
//   bits 0-1  format: tsv, csv, by extension (.tsv), by extension (.csv)
//   bits 2-3  header: detect, present, absent, detect
//   bit 4     tsv_quotes
//   bit 5     columns by name ("text", and "label" or "class") instead of by index
//   bit 6     label column first: indices 1 (text), 0 (label); by name: "class" for the label
//   bit 7     a fixed label set {0, 1, negative, positive}
// Examples that load must be consistent: one label and one line per text, every label an id
// of the label set (the fixed one when given), lines increasing.
#include <cstddef>
#include <cstdint>
#include <string>

#include <tapegrad/data.hpp>

#include "fuzz_common.hpp"

namespace {

namespace data = tapegrad::data;

data::ReadOptions options_of(std::uint8_t byte) {
  data::ReadOptions options;
  constexpr data::TextFormat formats[] = {data::TextFormat::tsv, data::TextFormat::csv,
                                          data::TextFormat::by_extension,
                                          data::TextFormat::by_extension};
  constexpr data::Header headers[] = {data::Header::detect, data::Header::present,
                                      data::Header::absent, data::Header::detect};
  options.format = formats[byte & 3];
  options.header = headers[(byte >> 2) & 3];
  options.tsv_quotes = (byte & 0x10) != 0;
  const bool label_first = (byte & 0x40) != 0;
  if ((byte & 0x20) != 0) {
    options.text = "text";
    options.label = label_first ? "class" : "label";
  } else {
    options.text = std::size_t{label_first ? 1u : 0u};
    options.label = std::size_t{label_first ? 0u : 1u};
  }
  if ((byte & 0x80) != 0) options.labels = data::LabelSet({"0", "1", "negative", "positive"});
  return options;
}

void check(const data::LabelledText& read, const data::ReadOptions& options) {
  if (read.size() == 0) fuzz::finding("labelled text: no examples, but no error either");
  if (read.labels.size() != read.size() || read.lines.size() != read.size()) {
    fuzz::finding("labelled text: texts, labels and lines differ in number");
  }
  if (options.labels && read.label_set != *options.labels) {
    fuzz::finding("labelled text: the label set is not the fixed one");
  }
  const auto classes = static_cast<tapegrad::Index>(read.label_set.size());
  std::size_t previous_line = 0;
  for (std::size_t i = 0; i < read.size(); ++i) {
    if (read.labels[i] < 0 || read.labels[i] >= classes) {
      fuzz::finding("labelled text: a label id outside the label set");
    }
    if (read.lines[i] <= previous_line) fuzz::finding("labelled text: lines not increasing");
    previous_line = read.lines[i];
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::set_small_input_limits();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return -1;  // no options byte: not worth adding to the corpus
  const data::ReadOptions options = options_of(data[0]);
  const bool csv_name = (data[0] & 3) == 3;
  const std::string path =
      fuzz::write_input(csv_name ? "input.csv" : "input.tsv", data + 1, size - 1);
  data::LabelledText read;
  if (fuzz::read_or_typed_error([&] { read = data::read_labelled_text(path, options); })) {
    check(read, options);
  }
  return 0;
}
