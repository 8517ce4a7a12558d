/// @file
/// Labelled text files (TSV or CSV) and the class names they use.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/data/utf8.hpp"

namespace tapegrad::data {

/// Class names <-> class ids 0 .. size()-1.
class LabelSet {
 public:
  LabelSet() = default;
  /// The names in id order, as given. An empty name, a line break in a name or a duplicate is
  /// a value_error.
  explicit LabelSet(std::vector<std::string> names);
  /// The distinct values of `labels`, sorted: by numeric value when every name is an integer
  /// ("2" before "10"), in byte order otherwise.
  static LabelSet from_labels(const std::vector<std::string>& labels);

  /// One name per line, atomically; load reads it back (errors name the file and line, as
  /// Vocabulary::load).
  void save(const std::string& path) const;
  /// Reads what save writes, with the checks of the constructor; errors name the file and
  /// line.
  static LabelSet load(const std::string& path);

  /// The number of classes.
  std::size_t size() const { return names_.size(); }
  /// Whether `name` is one of the classes (exact bytes; no trimming, no case folding).
  bool contains(const std::string& name) const;
  /// The id of a name; a value_error listing the names for an unknown one.
  Index id(const std::string& name) const;
  /// The name of an id; a value_error outside [0, size()).
  const std::string& name(Index id) const;
  /// The names in id order.
  const std::vector<std::string>& names() const { return names_; }

  /// @{
  /// Equal when the same names have the same ids (the order matters).
  friend bool operator==(const LabelSet& a, const LabelSet& b) { return a.names_ == b.names_; }
  friend bool operator!=(const LabelSet& a, const LabelSet& b) { return !(a == b); }
  /// @}

 private:
  std::vector<std::string> names_;
};

/// How a labelled text file splits its records into fields.
enum class TextFormat {
  by_extension,  ///< ".tsv" or ".tab": tsv; ".csv": csv; anything else is a value_error
  tsv,           ///< fields split at tabs, no quoting (unless ReadOptions::tsv_quotes)
  csv,           ///< RFC 4180: fields split at commas, "quoted" fields may hold commas,
                 ///< line breaks and doubled quotes ("" for ")
};

/// Whether the first record of a labelled text file names the columns.
enum class Header {
  detect,   ///< see read_labelled_text
  present,  ///< the first record is a header
  absent,   ///< every record is an example
};

/// A column, by its header name or by its 0-based index.
struct Column {
  /// @{
  /// The column with this header name (implicit on purpose: `options.text = "review";`).
  Column(const char* column_name) : name(column_name) {}
  Column(std::string column_name) : name(std::move(column_name)) {}
  /// @}
  /// The column at this index, from 0 (implicit: `options.label = 0;`).
  Column(std::size_t column_index) : index(column_index) {}
  /// A negative index is a value_error.
  Column(int column_index);
  std::string name;       ///< used when not empty
  std::size_t index = 0;  ///< used when `name` is empty
  /// True when the column is given by name (which then needs a header record).
  bool by_name() const { return !name.empty(); }
};

/// How read_labelled_text reads a file: format, columns, header, labels, bad bytes.
struct ReadOptions {
  TextFormat format = TextFormat::by_extension;  ///< by_extension: from the file's name
  Column text = "text";                          ///< the column of the texts
  Column label = "label";                        ///< the column of the labels (class names)
  Header header = Header::detect;                ///< whether the first record is a header
  /// A fixed label set: the ids are its ids, and a label outside it is a value_error. Without
  /// one, the label set is LabelSet::from_labels of the file's labels.
  std::optional<LabelSet> labels = std::nullopt;
  /// TSV fields may be quoted as in CSV (what pandas' to_csv(sep="\t") writes).
  bool tsv_quotes = false;
  /// Bytes that are not UTF-8: an error naming the line and byte offset, or U+FFFD.
  InvalidUtf8 invalid_utf8 = InvalidUtf8::error;
};

/// The examples of a file, in file order.
struct LabelledText {
  std::vector<std::string> texts;  ///< each example's text, as in the file (unquoted)
  std::vector<Index> labels;       ///< ids in `label_set`
  /// The classes: ReadOptions::labels when given, else those of the file's labels, sorted.
  LabelSet label_set;
  std::vector<std::size_t> lines;  ///< the line each example starts on (1-based)
  bool had_header = false;         ///< whether the first record was taken as a header
  /// Invalid UTF-8 sequences replaced by U+FFFD (ReadOptions::invalid_utf8 = replace).
  std::size_t replaced_utf8 = 0;
  /// The number of examples.
  std::size_t size() const { return texts.size(); }
};

/// Reads a labelled TSV or CSV file. Lines may end in "\n" or "\r\n"; a UTF-8 byte order mark
/// is skipped; blank lines are skipped; every record must have as many fields as the first.
///
/// Header::detect: when a column is given by name, the first record is the header (and must
/// contain the name). With indices only, the first record is a header when its label is not
/// in the fixed label set; without a fixed set, when its label occurs in no other record and
/// either a cell of it is a usual column name (label, class, category, sentiment, target,
/// text, sentence, review, ...) or every other label is an integer and it is not. Pass
/// Header::present or Header::absent when in doubt.
///
/// The text must be UTF-8 (ReadOptions::invalid_utf8 says what else happens), and the file no
/// larger than tapegrad::input_limits().max_text_bytes.
///
/// Errors are value_errors naming the file, and the line when there is one: a missing or
/// empty file, a folder, a binary file (a NUL byte), bytes that are not UTF-8 (with their byte
/// offset), a file over the size limit, an unknown extension, a missing column, a
/// wrong number of fields, an unterminated quote, a character after a closing quote, an empty
/// label, an unknown label (with a fixed label set), a file with no examples.
LabelledText read_labelled_text(const std::string& path, const ReadOptions& options = {});

}  // namespace tapegrad::data
