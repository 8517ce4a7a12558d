#include "tapegrad/data/labelled_text.hpp"

#include <algorithm>
#include <cctype>
#include <unordered_map>

#include <fmt/format.h>

#include "data_detail.hpp"
#include "tapegrad/autograd/npz.hpp"

namespace tapegrad::data {

namespace {

constexpr const char* kRead = "read_labelled_text";

bool is_integer(const std::string& s) {
  std::size_t i = (!s.empty() && (s[0] == '-' || s[0] == '+')) ? 1 : 0;
  if (i == s.size()) return false;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

// Integers compared by value, as text: sign, then length, then digits (no overflow).
bool integer_less(const std::string& a, const std::string& b) {
  const bool neg_a = a[0] == '-', neg_b = b[0] == '-';
  auto digits = [](const std::string& s) {
    std::size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
    while (i + 1 < s.size() && s[i] == '0') ++i;
    return s.substr(i);
  };
  std::string da = digits(a), db = digits(b);
  const bool zero_a = da == "0", zero_b = db == "0";
  const int sign_a = zero_a ? 0 : (neg_a ? -1 : 1), sign_b = zero_b ? 0 : (neg_b ? -1 : 1);
  if (sign_a != sign_b) return sign_a < sign_b;
  const bool magnitude_less = da.size() != db.size() ? da.size() < db.size() : da < db;
  const bool magnitude_greater = da.size() != db.size() ? da.size() > db.size() : da > db;
  return sign_a < 0 ? magnitude_greater : magnitude_less;
}

std::string trim(const std::string& s) {
  const auto first = s.find_first_not_of(" \t");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t");
  return s.substr(first, last - first + 1);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "a, b, c"; the first 20 and a count when there are more.
std::string join_names(const std::vector<std::string>& names) {
  constexpr std::size_t shown_max = 20;
  std::vector<std::string> shown;
  for (std::size_t i = 0; i < names.size() && i < shown_max; ++i) {
    shown.push_back(detail::printable(names[i]));
  }
  std::string out = fmt::format("{}", fmt::join(shown, ", "));
  if (names.size() > shown_max) out += fmt::format(", ... ({} in all)", names.size());
  return out;
}

struct Record {
  std::vector<std::string> fields;
  std::size_t line;  // where the record starts
};

[[noreturn]] void fail_at(const std::string& path, std::size_t line, const std::string& what) {
  throw value_error(fmt::format("{}: '{}' line {}: {}", kRead, path, line, what));
}

// Splits the bytes into records of fields; quoted fields (when `quotes`) may hold the
// separator, line breaks and doubled quotes.
std::vector<Record> parse_records(const std::string& bytes, char sep, bool quotes,
                                  const std::string& path) {
  std::vector<Record> records;
  std::size_t pos = bytes.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;
  std::size_t line = 1;
  const std::size_t n = bytes.size();
  while (pos < n) {
    // A blank line (only spaces, tabs and a '\r') is skipped.
    std::size_t eol = bytes.find('\n', pos);
    if (eol == std::string::npos) eol = n;
    if (bytes.find_first_not_of(" \t\r", pos) >= eol) {
      pos = eol + 1;
      ++line;
      continue;
    }
    Record record{{}, line};
    bool end_of_record = false;
    while (!end_of_record) {
      std::string field;
      if (quotes && pos < n && bytes[pos] == '"') {
        ++pos;
        for (;;) {
          if (pos >= n) {
            fail_at(path, record.line,
                    fmt::format("unterminated quote in field {} (no closing '\"' before the end "
                                "of the file)",
                                record.fields.size() + 1));
          }
          const char c = bytes[pos];
          if (c == '"') {
            if (pos + 1 < n && bytes[pos + 1] == '"') {
              field.push_back('"');
              pos += 2;
              continue;
            }
            ++pos;
            break;
          }
          if (c == '\n') ++line;
          field.push_back(c);
          ++pos;
        }
        // After the closing quote: a separator, the end of the line or of the file.
        if (pos < n && bytes[pos] == '\r' && (pos + 1 == n || bytes[pos + 1] == '\n')) ++pos;
        if (pos < n && bytes[pos] != sep && bytes[pos] != '\n') {
          fail_at(
              path, line,
              fmt::format("unexpected character '{}' after the closing quote of field {} "
                          "(a quote inside a quoted field is written \"\")",
                          detail::printable(std::string(1, bytes[pos])), record.fields.size() + 1));
        }
      } else {
        while (pos < n && bytes[pos] != sep && bytes[pos] != '\n') field.push_back(bytes[pos++]);
        const bool at_line_end = pos >= n || bytes[pos] == '\n';
        if (at_line_end && !field.empty() && field.back() == '\r') field.pop_back();
      }
      record.fields.push_back(std::move(field));
      if (pos < n && bytes[pos] == sep) {
        ++pos;
      } else {
        end_of_record = true;
        if (pos < n) {  // '\n'
          ++pos;
          ++line;
        }
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

TextFormat format_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  const auto dot = path.find_last_of('.');
  const std::string ext = dot == std::string::npos || (slash != std::string::npos && dot < slash)
                              ? std::string()
                              : lower(path.substr(dot));
  if (ext == ".tsv" || ext == ".tab") return TextFormat::tsv;
  if (ext == ".csv") return TextFormat::csv;
  throw value_error(fmt::format(
      "{}: cannot tell the format of '{}' from its extension ({}); set ReadOptions::format "
      "to TextFormat::tsv or TextFormat::csv",
      kRead, path, ext.empty() ? std::string("none") : "'" + ext + "'"));
}

bool usual_column_name(const std::string& cell) {
  static const char* const names[] = {
      "label",    "labels",  "class",   "classes", "category", "target",   "sentiment",
      "polarity", "y",       "tag",     "intent",  "text",     "sentence", "review",
      "document", "content", "comment", "tweet",   "message",  "body",     "x"};
  const std::string c = lower(trim(cell));
  return std::any_of(std::begin(names), std::end(names), [&](const char* n) { return c == n; });
}

std::size_t resolve(const Column& column, const char* role, const Record* header,
                    const std::string& path) {
  if (!column.by_name()) {
    return column.index;
  }
  if (header == nullptr) {
    throw value_error(fmt::format(
        "{}: '{}': the {} column is given by name ('{}'), but there is no header line (give "
        "its index instead)",
        kRead, path, role, column.name));
  }
  for (std::size_t i = 0; i < header->fields.size(); ++i) {
    if (header->fields[i] == column.name) return i;
  }
  for (std::size_t i = 0; i < header->fields.size(); ++i) {
    if (lower(trim(header->fields[i])) == lower(column.name)) return i;
  }
  fail_at(path, header->line,
          fmt::format("no {} column '{}' in the header (columns: {})", role, column.name,
                      join_names(header->fields)));
}

}  // namespace

// ---- LabelSet ----

LabelSet::LabelSet(std::vector<std::string> names) : names_(std::move(names)) {
  std::unordered_map<std::string, std::size_t> seen;
  for (std::size_t i = 0; i < names_.size(); ++i) {
    detail::check_list_entry("LabelSet", "label", i, names_[i]);
    const auto [it, inserted] = seen.emplace(names_[i], i);
    if (!inserted) {
      throw value_error(fmt::format("LabelSet: label {} '{}' is a duplicate of label {}", i,
                                    detail::printable(names_[i]), it->second));
    }
  }
}

LabelSet LabelSet::from_labels(const std::vector<std::string>& labels) {
  std::vector<std::string> names = labels;
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  if (!names.empty() && std::all_of(names.begin(), names.end(), is_integer)) {
    std::stable_sort(names.begin(), names.end(), integer_less);
  }
  return LabelSet(std::move(names));
}

void LabelSet::save(const std::string& path) const {
  std::string text;
  for (const std::string& name : names_) text += name + "\n";
  write_file_atomic(path, text);
}

LabelSet LabelSet::load(const std::string& path) {
  return LabelSet(detail::read_list_file("LabelSet::load", path, "label"));
}

bool LabelSet::contains(const std::string& name) const {
  return std::find(names_.begin(), names_.end(), name) != names_.end();
}

Index LabelSet::id(const std::string& name) const {
  const auto it = std::find(names_.begin(), names_.end(), name);
  if (it == names_.end()) {
    throw value_error(fmt::format("LabelSet: unknown label '{}' (labels: {})",
                                  detail::printable(name), join_names(names_)));
  }
  return static_cast<Index>(it - names_.begin());
}

const std::string& LabelSet::name(Index id) const {
  if (id < 0 || static_cast<std::size_t>(id) >= names_.size()) {
    throw value_error(fmt::format("LabelSet: id {} is outside [0, {})", id, names_.size()));
  }
  return names_[static_cast<std::size_t>(id)];
}

// ---- reading ----

Column::Column(int column_index) : index(static_cast<std::size_t>(column_index)) {
  if (column_index < 0) {
    throw value_error(fmt::format("Column: index {} is negative", column_index));
  }
}

LabelledText read_labelled_text(const std::string& path, const ReadOptions& options) {
  const TextFormat format =
      options.format == TextFormat::by_extension ? format_of(path) : options.format;
  const bool csv = format == TextFormat::csv;
  std::string bytes = detail::read_file(kRead, path);
  std::size_t replaced = 0;
  detail::check_text(kRead, path, bytes, options.invalid_utf8, &replaced, true);
  const std::vector<Record> records =
      parse_records(bytes, csv ? ',' : '\t', csv || options.tsv_quotes, path);
  if (records.empty()) throw value_error(fmt::format("{}: '{}' is empty", kRead, path));

  const Record& first = records.front();
  bool header = options.header == Header::present;
  if (options.header == Header::detect) {
    if (options.text.by_name() || options.label.by_name()) {
      header = true;
    } else if (options.label.index < first.fields.size() &&
               options.text.index < first.fields.size()) {
      const std::string cell = trim(first.fields[options.label.index]);
      if (options.labels) {
        header = !options.labels->contains(cell);
      } else {
        bool elsewhere = false, others_integer = records.size() > 1;
        for (std::size_t r = 1; r < records.size(); ++r) {
          const auto& f = records[r].fields;
          if (options.label.index >= f.size()) continue;  // reported below
          const std::string other = trim(f[options.label.index]);
          elsewhere = elsewhere || other == cell;
          others_integer = others_integer && is_integer(other);
        }
        header = !elsewhere &&
                 (usual_column_name(cell) || usual_column_name(first.fields[options.text.index]) ||
                  (others_integer && !is_integer(cell)));
      }
    }
  }

  const Record* header_record = header ? &first : nullptr;
  const std::size_t text_col = resolve(options.text, "text", header_record, path);
  const std::size_t label_col = resolve(options.label, "label", header_record, path);
  const std::size_t width = first.fields.size();
  for (const auto& [col, role] : {std::pair{text_col, "text"}, std::pair{label_col, "label"}}) {
    if (col >= width) {
      fail_at(path, first.line,
              fmt::format("the {} column index {} is out of range for {} field{}", role, col, width,
                          width == 1 ? "" : "s"));
    }
  }
  if (text_col == label_col) {
    throw value_error(
        fmt::format("{}: '{}': text and label are the same column ({})", kRead, path, text_col));
  }

  LabelledText out;
  out.had_header = header;
  out.replaced_utf8 = replaced;
  std::vector<std::string> names;
  for (std::size_t r = header ? 1 : 0; r < records.size(); ++r) {
    const Record& record = records[r];
    if (record.fields.size() != width) {
      fail_at(path, record.line,
              fmt::format("expected {} fields, got {}{}", width, record.fields.size(),
                          csv ? " (a field with a comma must be quoted)" : ""));
    }
    std::string label = trim(record.fields[label_col]);
    if (label.empty()) fail_at(path, record.line, "empty label");
    if (label.find_first_of("\r\n") != std::string::npos) {
      fail_at(path, record.line,
              fmt::format("label '{}' contains a line break", detail::printable(label)));
    }
    if (options.labels && !options.labels->contains(label)) {
      fail_at(path, record.line,
              fmt::format("unknown label '{}' (labels: {})", detail::printable(label),
                          join_names(options.labels->names())));
    }
    out.texts.push_back(record.fields[text_col]);
    out.lines.push_back(record.line);
    names.push_back(std::move(label));
  }
  if (out.texts.empty()) {
    throw value_error(fmt::format("{}: '{}' has a header line but no examples", kRead, path));
  }
  out.label_set = options.labels ? *options.labels : LabelSet::from_labels(names);
  std::unordered_map<std::string, Index> ids;
  for (std::size_t i = 0; i < out.label_set.size(); ++i) {
    ids.emplace(out.label_set.names()[i], static_cast<Index>(i));
  }
  out.labels.reserve(names.size());
  for (const std::string& name : names) out.labels.push_back(ids.at(name));
  return out;
}

}  // namespace tapegrad::data
