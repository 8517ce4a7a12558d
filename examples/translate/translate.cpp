#include "translate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <limits>
#include <numeric>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>
#include <tapegrad/autograd/npz.hpp>
#include <tapegrad/optim.hpp>

#include "eval_mode.hpp"
#include "outputs.hpp"
#include "saved_model.hpp"

namespace translate {

namespace data = tapegrad::data;
namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using examples::json_field;
using tapegrad::value_error;

namespace {

// A double for messages, as short as it prints: "0.1", "-1e-09", "nan".
std::string number(double value) {
  if (std::isnan(value)) return "nan";
  std::ostringstream out;
  out << value;
  return out.str();
}

}  // namespace

// ---- dates ----

int days_in_month(int year, int month) {
  static constexpr std::array<int, 12> days = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month < 1 || month > 12) return 0;
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : days[static_cast<std::size_t>(month - 1)];
}

// Howard Hinnant's days_from_civil and civil_from_days (eras of 400 years, March first).
long days_from_civil(const Date& date) {
  const long y = date.year - (date.month <= 2 ? 1 : 0);
  const long era = (y >= 0 ? y : y - 399) / 400;
  const long year_of_era = y - era * 400;
  const long month_from_march = (date.month + 9) % 12;
  const long day_of_year = (153 * month_from_march + 2) / 5 + date.day - 1;
  const long day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

Date civil_from_days(long days) {
  const long z = days + 719468;
  const long era = (z >= 0 ? z : z - 146096) / 146097;
  const long day_of_era = z - era * 146097;
  const long year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const long day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const long month_from_march = (5 * day_of_year + 2) / 153;
  const long day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
  const long month = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
  const long year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);
  return {static_cast<int>(year), static_cast<int>(month), static_cast<int>(day)};
}

int weekday(const Date& date) {
  // 1970-01-01 was a Thursday, 3 counting from Monday = 0.
  return static_cast<int>(((days_from_civil(date) % 7) + 7 + 3) % 7);
}

namespace {

std::string two_digits(int n) {
  std::string s = std::to_string(n % 100);
  return s.size() < 2 ? "0" + s : s;
}

}  // namespace

std::string iso_date(const Date& date) {
  return std::to_string(date.year) + "-" + two_digits(date.month) + "-" + two_digits(date.day);
}

const char* language_name(Language language) {
  switch (language) {
    case Language::en:
      return "English";
    case Language::fr:
      return "French";
    case Language::de:
      return "German";
    case Language::es:
      return "Spanish";
    case Language::numeric:
      return "numeric";
  }
  return "?";
}

namespace {

using Names = std::array<const char*, 12>;
using Weekdays = std::array<const char*, 7>;  // Monday first

constexpr Names en_months = {"January", "February", "March",     "April",   "May",      "June",
                             "July",    "August",   "September", "October", "November", "December"};
constexpr Names en_months_short = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr Names fr_months = {"janvier", "février", "mars",      "avril",   "mai",      "juin",
                             "juillet", "août",    "septembre", "octobre", "novembre", "décembre"};
constexpr Names de_months = {"Januar", "Februar", "März",      "April",   "Mai",      "Juni",
                             "Juli",   "August",  "September", "Oktober", "November", "Dezember"};
constexpr Names es_months = {"enero", "febrero", "marzo",      "abril",   "mayo",      "junio",
                             "julio", "agosto",  "septiembre", "octubre", "noviembre", "diciembre"};
constexpr Weekdays en_weekdays = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                  "Friday", "Saturday", "Sunday"};
constexpr Weekdays en_weekdays_short = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr Weekdays fr_weekdays = {"lundi",    "mardi",  "mercredi", "jeudi",
                                  "vendredi", "samedi", "dimanche"};
constexpr Weekdays de_weekdays = {"Montag",  "Dienstag", "Mittwoch", "Donnerstag",
                                  "Freitag", "Samstag",  "Sonntag"};
constexpr Weekdays es_weekdays = {"lunes",   "martes", "miércoles", "jueves",
                                  "viernes", "sábado", "domingo"};

// The parts of a date as the renderers use them.
struct Parts {
  std::string d, dd, m, mm, yyyy, yy;  // 5, 05, 3, 03, 2019, 19
  std::size_t month = 0, weekday = 0;  // indices into the tables
  int day = 1;
};

Parts parts_of(const Date& date) {
  Parts p;
  p.d = std::to_string(date.day);
  p.dd = two_digits(date.day);
  p.m = std::to_string(date.month);
  p.mm = two_digits(date.month);
  p.yyyy = std::to_string(date.year);
  p.yy = two_digits(date.year);
  p.month = static_cast<std::size_t>(date.month - 1);
  p.weekday = static_cast<std::size_t>(weekday(date));
  p.day = date.day;
  return p;
}

// 1st, 2nd, 3rd, 4th, ..., 11th, 12th, 13th, ..., 21st, 22nd, 23rd, ...
std::string en_ordinal(int day) {
  const int tens = day % 100 / 10, units = day % 10;
  const char* suffix = tens == 1    ? "th"
                       : units == 1 ? "st"
                       : units == 2 ? "nd"
                       : units == 3 ? "rd"
                                    : "th";
  return std::to_string(day) + suffix;
}

// French writes the first of the month as "1er".
std::string fr_day(const Parts& p) {
  return p.day == 1 ? "1er" : p.d;
}

struct FormatEntry {
  DateFormat format;
  std::string (*render)(const Parts&);
};

// The formats, training ones first. Examples are for 2019-03-12, a Tuesday.
const std::vector<FormatEntry>& format_table() {
  static const std::vector<FormatEntry> table = {
      // "12 March 2019"
      {{"en_day_month_year", Language::en, false},
       [](const Parts& p) { return p.d + " " + en_months[p.month] + " " + p.yyyy; }},
      // "March 12, 2019"
      {{"en_month_day_year", Language::en, false},
       [](const Parts& p) { return std::string(en_months[p.month]) + " " + p.d + ", " + p.yyyy; }},
      // "March 12th, 2019"
      {{"en_month_ordinal_year", Language::en, false},
       [](const Parts& p) {
         return std::string(en_months[p.month]) + " " + en_ordinal(p.day) + ", " + p.yyyy;
       }},
      // "Tuesday, March 12, 2019"
      {{"en_weekday_month_day_year", Language::en, false},
       [](const Parts& p) {
         return std::string(en_weekdays[p.weekday]) + ", " + en_months[p.month] + " " + p.d + ", " +
                p.yyyy;
       }},
      // "Tue, Mar 12 '19"
      {{"en_short_weekday_apostrophe_year", Language::en, false},
       [](const Parts& p) {
         return std::string(en_weekdays_short[p.weekday]) + ", " + en_months_short[p.month] + " " +
                p.d + " '" + p.yy;
       }},
      // "the 12th of March, 2019"
      {{"en_the_ordinal_of_month", Language::en, false},
       [](const Parts& p) {
         return "the " + en_ordinal(p.day) + " of " + en_months[p.month] + ", " + p.yyyy;
       }},
      // "12 Mar 2019"
      {{"en_day_short_month_year", Language::en, false},
       [](const Parts& p) { return p.d + " " + en_months_short[p.month] + " " + p.yyyy; }},
      // "12 mars 2019", "1er mars 2019"
      {{"fr_day_month_year", Language::fr, false},
       [](const Parts& p) { return fr_day(p) + " " + fr_months[p.month] + " " + p.yyyy; }},
      // "mardi 12 mars 2019"
      {{"fr_weekday_day_month_year", Language::fr, false},
       [](const Parts& p) {
         return std::string(fr_weekdays[p.weekday]) + " " + fr_day(p) + " " + fr_months[p.month] +
                " " + p.yyyy;
       }},
      // "le 12 mars 2019"
      {{"fr_le_day_month_year", Language::fr, false},
       [](const Parts& p) { return "le " + fr_day(p) + " " + fr_months[p.month] + " " + p.yyyy; }},
      // "12. März 2019"
      {{"de_day_month_year", Language::de, false},
       [](const Parts& p) { return p.d + ". " + de_months[p.month] + " " + p.yyyy; }},
      // "Dienstag, 12. März 2019"
      {{"de_weekday_day_month_year", Language::de, false},
       [](const Parts& p) {
         return std::string(de_weekdays[p.weekday]) + ", " + p.d + ". " + de_months[p.month] + " " +
                p.yyyy;
       }},
      // "am 12. März 2019"
      {{"de_am_day_month_year", Language::de, false},
       [](const Parts& p) { return "am " + p.d + ". " + de_months[p.month] + " " + p.yyyy; }},
      // "12 de marzo de 2019"
      {{"es_day_de_month_de_year", Language::es, false},
       [](const Parts& p) { return p.d + " de " + es_months[p.month] + " de " + p.yyyy; }},
      // "martes, 12 de marzo de 2019"
      {{"es_weekday_day_de_month_de_year", Language::es, false},
       [](const Parts& p) {
         return std::string(es_weekdays[p.weekday]) + ", " + p.d + " de " + es_months[p.month] +
                " de " + p.yyyy;
       }},
      // "el 12 de marzo del 2019"
      {{"es_el_day_de_month_del_year", Language::es, false},
       [](const Parts& p) { return "el " + p.d + " de " + es_months[p.month] + " del " + p.yyyy; }},
      // "12/03/2019"
      {{"dd/mm/yyyy", Language::numeric, false},
       [](const Parts& p) { return p.dd + "/" + p.mm + "/" + p.yyyy; }},
      // "12.03.2019"
      {{"dd.mm.yyyy", Language::numeric, false},
       [](const Parts& p) { return p.dd + "." + p.mm + "." + p.yyyy; }},
      // "2019.03.12"
      {{"yyyy.mm.dd", Language::numeric, false},
       [](const Parts& p) { return p.yyyy + "." + p.mm + "." + p.dd; }},
      // "20190312"
      {{"yyyymmdd", Language::numeric, false}, [](const Parts& p) { return p.yyyy + p.mm + p.dd; }},
      // "12-3-2019"
      {{"d-m-yyyy", Language::numeric, false},
       [](const Parts& p) { return p.d + "-" + p.m + "-" + p.yyyy; }},
      // ---- held out: new combinations of what the training formats show ----
      // "Mar 12, 2019": the short month of "12 Mar 2019" in the order of "March 12, 2019"
      {{"en_short_month_day_year", Language::en, true},
       [](const Parts& p) {
         return std::string(en_months_short[p.month]) + " " + p.d + ", " + p.yyyy;
       }},
      // "le mardi 12 mars 2019": "le" of "le 12 mars 2019" before a weekday
      {{"fr_le_weekday_day_month_year", Language::fr, true},
       [](const Parts& p) {
         return std::string("le ") + fr_weekdays[p.weekday] + " " + fr_day(p) + " " +
                fr_months[p.month] + " " + p.yyyy;
       }},
      // "12 marzo 2019": a Spanish month without "de"
      {{"es_day_month_year", Language::es, true},
       [](const Parts& p) { return p.d + " " + es_months[p.month] + " " + p.yyyy; }},
      // "2019/03/12": the order of "2019.03.12" with the slashes of "12/03/2019"
      {{"yyyy/mm/dd", Language::numeric, true},
       [](const Parts& p) { return p.yyyy + "/" + p.mm + "/" + p.dd; }},
      // "12.03.19": a two-digit year, seen only after an apostrophe in training
      {{"dd.mm.yy", Language::numeric, true},
       [](const Parts& p) { return p.dd + "." + p.mm + "." + p.yy; }},
  };
  return table;
}

}  // namespace

const std::vector<DateFormat>& date_formats() {
  static const std::vector<DateFormat> formats = [] {
    std::vector<DateFormat> out;
    for (const FormatEntry& e : format_table()) out.push_back(e.format);
    return out;
  }();
  return formats;
}

namespace {

std::vector<std::size_t> formats_where(bool held_out) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < date_formats().size(); ++i) {
    if (date_formats()[i].held_out == held_out) out.push_back(i);
  }
  return out;
}

}  // namespace

std::vector<std::size_t> training_formats() {
  return formats_where(false);
}
std::vector<std::size_t> held_out_formats() {
  return formats_where(true);
}

std::string format_date(const Date& date, std::size_t format) {
  if (format >= format_table().size()) {
    throw value_error("format_date: format " + std::to_string(format) + " is not one of the " +
                      std::to_string(format_table().size()));
  }
  if (date.year < 1 || date.year > 9999 || days_in_month(date.year, date.month) < date.day ||
      date.day < 1) {
    throw value_error("format_date: " + std::to_string(date.year) + "-" +
                      std::to_string(date.month) + "-" + std::to_string(date.day) +
                      " is not a date of the years 1 .. 9999");
  }
  return format_table()[format].render(parts_of(date));
}

DateData make_date_data(const DataOptions& options) {
  if (options.train == 0 || options.valid == 0) {
    throw value_error("make_date_data: the training and validation sizes must be at least 1, got " +
                      std::to_string(options.train) + " and " + std::to_string(options.valid));
  }
  if (options.first_year < 1950 || options.last_year > 2049 ||
      options.first_year > options.last_year) {
    throw value_error("make_date_data: the years must lie in 1950 .. 2049 (two-digit years), got " +
                      std::to_string(options.first_year) + " .. " +
                      std::to_string(options.last_year));
  }
  tapegrad::Generator generator(options.seed);
  const long first = days_from_civil({options.first_year, 1, 1});
  const long last = days_from_civil({options.last_year, 12, 31});
  std::uniform_int_distribution<long> day(first, last);
  std::unordered_set<std::string> seen;
  DateData out;
  const auto draw = [&](std::vector<Pair>& split, std::size_t n,
                        const std::vector<std::size_t>& formats, const char* name) {
    std::uniform_int_distribution<std::size_t> pick(0, formats.size() - 1);
    // Each draw is new with probability >= 1/2 as long as the splits hold under half of the
    // possible sentences; far more attempts than that mean there are too few.
    const std::size_t max_attempts = 20 * n + 1000;
    for (std::size_t attempt = 0; split.size() < n; ++attempt) {
      if (attempt == max_attempts) {
        throw value_error("make_date_data: cannot draw " + std::to_string(n) + " distinct " + name +
                          " sentences from the years " + std::to_string(options.first_year) +
                          " .. " + std::to_string(options.last_year) + "; ask for fewer");
      }
      Pair p;
      p.date = civil_from_days(day(generator.engine()));
      p.format = formats[pick(generator.engine())];
      p.source = format_date(p.date, p.format);
      if (!seen.insert(p.source).second) continue;
      p.target = iso_date(p.date);
      split.push_back(std::move(p));
    }
  };
  draw(out.train, options.train, training_formats(), "training");
  draw(out.valid, options.valid, training_formats(), "validation");
  draw(out.test, options.test, training_formats(), "test");
  draw(out.held_out, options.held_out, held_out_formats(), "held-out");
  return out;
}

// ---- tokens and vocabularies ----

std::vector<std::string> characters(std::string_view text) {
  const std::size_t bad = data::find_invalid_utf8(text);
  if (bad != std::string_view::npos) {
    throw value_error("the text is not UTF-8 (byte " + std::to_string(bad) + ")");
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < text.size();) {
    std::size_t n = 1;  // a lead byte, then its continuation bytes 10xxxxxx
    while (i + n < text.size() && (static_cast<unsigned char>(text[i + n]) & 0xC0) == 0x80) ++n;
    out.emplace_back(text.substr(i, n));
    i += n;
  }
  return out;
}

data::Specials source_specials() {
  return data::Specials{"<pad>", "<unk>"};
}

data::Specials target_specials() {
  return data::Specials{"<pad>", "<unk>", "<sos>", "<eos>"};
}

Vocabularies build_vocabularies(const std::vector<Pair>& train) {
  std::vector<std::vector<std::string>> sources, targets;
  for (const Pair& p : train) {
    sources.push_back(characters(p.source));
    targets.push_back(characters(p.target));
  }
  return {data::Vocabulary::build(sources, source_specials()),
          data::Vocabulary::build(targets, target_specials())};
}

namespace {

bool is_space(char ch) {
  return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' || ch == '\f' || ch == '\v';
}

// Spaces at both ends removed, each run of white space inside made one space.
std::string normalise_spaces(std::string_view text) {
  std::string out;
  bool pending_space = false;
  for (char ch : text) {
    if (is_space(ch)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out += ' ';
    pending_space = false;
    out += ch;
  }
  return out;
}

}  // namespace

SourceIds encode_source(const data::Vocabulary& vocabulary, std::string_view text,
                        std::size_t max_length) {
  const std::string clean = normalise_spaces(text);
  if (clean.empty()) throw value_error("the sentence is empty");
  SourceIds out;
  out.tokens = characters(clean);
  out.length = out.tokens.size();
  if (max_length > 0 && out.tokens.size() > max_length) {
    out.tokens.resize(max_length);
    out.cut = true;
  }
  for (const std::string& ch : out.tokens) {
    if (!vocabulary.contains(ch) &&
        std::find(out.unknown.begin(), out.unknown.end(), ch) == out.unknown.end()) {
      out.unknown.push_back(ch);
    }
  }
  out.ids = vocabulary.encode(out.tokens);
  return out;
}

Examples make_examples(const Vocabularies& vocabularies, std::vector<Pair> pairs,
                       std::size_t max_source_length) {
  Examples out;
  data::EncodeOptions eos;
  eos.add_eos = true;
  for (const Pair& p : pairs) {
    out.sources.push_back(encode_source(vocabularies.source, p.source, max_source_length).ids);
    out.targets.push_back(vocabularies.target.encode(characters(p.target), eos));
  }
  out.pairs = std::move(pairs);
  return out;
}

// ---- the model ----

void ModelConfig::check() const {
  const auto positive = [](const char* what, std::size_t n) {
    if (n == 0)
      throw value_error(std::string("ModelConfig: ") + what + " must be at least 1, got 0");
  };
  if (source_vocab_size < 3) {
    throw value_error(
        "ModelConfig: source_vocab_size must be at least 3 (<pad>, <unk> and a "
        "character), got " +
        std::to_string(source_vocab_size));
  }
  if (target_vocab_size < 5) {
    throw value_error(
        "ModelConfig: target_vocab_size must be at least 5 (<pad>, <unk>, <sos>, "
        "<eos> and a character), got " +
        std::to_string(target_vocab_size));
  }
  positive("embedding_size", embedding_size);
  positive("hidden_size", hidden_size);
  positive("num_layers", num_layers);
  if (!(dropout >= 0.0 && dropout < 1.0)) {
    throw value_error("ModelConfig: dropout must be in [0, 1), got " + number(dropout));
  }
  const bool equal_sizes =
      score == nn::AttentionScore::dot || score == nn::AttentionScore::scaled_dot;
  if (equal_sizes && bidirectional) {
    throw value_error(std::string("ModelConfig: the ") + nn::to_string(score) +
                      " attention needs queries and keys of one size, but a bidirectional "
                      "encoder's states are twice the decoder's (use general or additive)");
  }
}

namespace {

ModelConfig checked(const ModelConfig& config) {
  config.check();
  return config;
}

nn::EncoderOptions encoder_options(const ModelConfig& c) {
  nn::EncoderOptions o;
  o.cell = c.cell;
  o.vocab_size = c.source_vocab_size;
  o.embedding_size = c.embedding_size;
  o.hidden_size = c.hidden_size;
  o.num_layers = c.num_layers;
  o.bidirectional = c.bidirectional;
  o.dropout = c.dropout;
  return o;
}

nn::DecoderOptions decoder_options(const ModelConfig& c) {
  nn::DecoderOptions o;
  o.cell = c.cell;
  o.vocab_size = c.target_vocab_size;
  o.embedding_size = c.embedding_size;
  o.hidden_size = c.hidden_size;
  o.context_size = (c.bidirectional ? 2 : 1) * c.hidden_size;
  o.num_layers = c.num_layers;
  o.score = c.score;
  o.style = c.style;
  o.dropout = c.dropout;
  return o;
}

}  // namespace

Seq2Seq::Seq2Seq(const ModelConfig& config, std::uint64_t seed)
    : config_(checked(config)),
      init_(seed),
      encoder_(encoder_options(config_), init_),
      decoder_(decoder_options(config_), init_) {
  register_module("encoder", encoder_);
  register_module("decoder", decoder_);
}

Encoded Seq2Seq::encode(const IndexArray& source, const std::vector<std::size_t>& lengths) const {
  const nn::EncoderOutput<float> out = encoder_(source, lengths);
  return {decoder_.memory(out.outputs, lengths), {out.state, {}}};
}

Var<float> Seq2Seq::forward(const IndexArray& source, const std::vector<std::size_t>& lengths,
                            const IndexArray& inputs, double teacher_forcing_ratio,
                            tapegrad::Generator& generator) const {
  const Encoded e = encode(source, lengths);
  return decoder_(inputs, e.initial, e.memory, teacher_forcing_ratio, generator).logits;
}

// ---- decoding and scores ----

namespace {

// The sources `indices` padded into [B, S] (batch first) with their lengths.
data::Batch source_batch(const std::vector<std::vector<Index>>& sources,
                         const std::vector<std::size_t>& indices) {
  data::PadOptions pad;
  pad.layout = data::Layout::batch_major;
  return data::make_batch(sources, {}, indices, pad);
}

// The decoder's inputs [B, T] (<sos>, then each target but its last token) and its targets
// [B * T] (the target, <eos> last), padded with pad_id (ignored by the loss).
struct TargetBatch {
  IndexArray inputs;
  IndexArray targets;
  std::size_t tokens = 0;  // targets that are not padding
};

TargetBatch target_batch(const std::vector<std::vector<Index>>& targets,
                         const std::vector<std::size_t>& indices, Index sos, Index pad) {
  std::size_t steps = 0;
  for (std::size_t i : indices) steps = std::max(steps, targets[i].size());
  TargetBatch out{IndexArray::from_shape({indices.size(), steps}),
                  IndexArray::from_shape({indices.size() * steps}), 0};
  std::fill(out.inputs.begin(), out.inputs.end(), pad);
  std::fill(out.targets.begin(), out.targets.end(), pad);
  for (std::size_t b = 0; b < indices.size(); ++b) {
    const std::vector<Index>& t = targets[indices[b]];
    for (std::size_t s = 0; s < t.size(); ++s) {
      out.inputs(b, s) = s == 0 ? sos : t[s - 1];
      out.targets(b * steps + s) = t[s];
    }
    out.tokens += t.size();
  }
  return out;
}

// The batches of `sources` in order of length (similar lengths together: little padding).
std::vector<std::vector<std::size_t>> by_length(const std::vector<std::vector<Index>>& sources,
                                                std::size_t batch_size) {
  std::vector<std::size_t> order(sources.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return sources[a].size() < sources[b].size();
  });
  std::vector<std::vector<std::size_t>> batches;
  for (std::size_t i = 0; i < order.size(); i += batch_size) {
    batches.emplace_back(
        order.begin() + static_cast<std::ptrdiff_t>(i),
        order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), i + batch_size)));
  }
  return batches;
}

}  // namespace

void DecodeOptions::check() const {
  if (beam && beam_width == 0)
    throw value_error("DecodeOptions: beam_width must be at least 1, got 0");
  if (max_length == 0) throw value_error("DecodeOptions: max_length must be at least 1, got 0");
  if (batch_size == 0) throw value_error("DecodeOptions: batch_size must be at least 1, got 0");
  if (!std::isfinite(length_penalty)) {
    throw value_error("DecodeOptions: length_penalty must be finite, got " +
                      number(length_penalty));
  }
}

std::vector<Decoded> decode(Seq2Seq& model, const data::Vocabulary& target,
                            const std::vector<std::vector<Index>>& sources,
                            const DecodeOptions& options) {
  options.check();
  examples::EvalMode eval_mode(model);
  tapegrad::NoGrad no_grad;
  const Index sos = target.sos_id(), eos = target.eos_id();
  nn::BeamOptions beam;
  beam.beam_width = options.beam_width;
  beam.length_penalty = options.length_penalty;
  beam.max_length = options.max_length;
  std::vector<Decoded> out(sources.size());
  for (const std::vector<std::size_t>& indices : by_length(sources, options.batch_size)) {
    const data::Batch batch = source_batch(sources, indices);
    const Encoded e = model.encode(batch.ids, batch.lengths);
    const nn::Decoded<float> d =
        options.beam
            ? nn::beam_search(model.decoder(), e.memory, e.initial, sos, eos, beam)
            : nn::greedy_decode(model.decoder(), e.memory, e.initial, sos, eos, options.max_length);
    for (std::size_t b = 0; b < indices.size(); ++b) {
      Decoded& r = out[indices[b]];
      for (Index id : d.tokens[b]) r.tokens.push_back(target.token(id));
      r.score = d.scores[b];
      // [steps, S of the batch] -> [steps, this source's length]
      const tapegrad::Array<float>& w = d.weights[b];
      const std::size_t steps = w.shape()[0], width = w.shape()[1], length = batch.lengths[b];
      r.weights = tapegrad::Array<float>::from_shape({steps, length});
      for (std::size_t s = 0; s < steps; ++s) {
        std::copy(w.data() + s * width, w.data() + s * width + length,
                  r.weights.data() + s * length);
      }
    }
  }
  return out;
}

namespace {

std::vector<std::vector<std::string>> hypotheses_of(const std::vector<Decoded>& decoded) {
  std::vector<std::vector<std::string>> out;
  out.reserve(decoded.size());
  for (const Decoded& d : decoded) out.push_back(d.tokens);
  return out;
}

std::vector<std::vector<std::string>> references_of(const Examples& examples) {
  std::vector<std::vector<std::string>> out;
  out.reserve(examples.size());
  for (const Pair& p : examples.pairs) out.push_back(characters(p.target));
  return out;
}

void check_counts(const char* where, const std::vector<Decoded>& decoded,
                  const Examples& examples) {
  if (decoded.size() != examples.size()) {
    throw value_error(std::string(where) + ": " + std::to_string(decoded.size()) +
                      " translations for " + std::to_string(examples.size()) + " sentences");
  }
}

}  // namespace

Scores score(const std::vector<Decoded>& decoded, const Examples& examples) {
  check_counts("score", decoded, examples);
  const auto hyps = hypotheses_of(decoded);
  const auto refs = references_of(examples);
  Scores s;
  s.bleu = data::corpus_bleu(hyps, refs);
  s.exact_match = data::exact_match(hyps, refs);
  s.token_accuracy = data::token_accuracy(hyps, refs);
  s.sentences = examples.size();
  return s;
}

std::vector<FormatScore> exact_match_by_format(const std::vector<Decoded>& decoded,
                                               const Examples& examples) {
  check_counts("exact_match_by_format", decoded, examples);
  std::vector<FormatScore> all(date_formats().size());
  std::vector<std::size_t> right(all.size(), 0);
  for (std::size_t i = 0; i < examples.size(); ++i) {
    const std::size_t f = examples.pairs[i].format;
    ++all[f].sentences;
    if (decoded[i].tokens == characters(examples.pairs[i].target)) ++right[f];
  }
  std::vector<FormatScore> out;
  for (std::size_t f = 0; f < all.size(); ++f) {
    if (all[f].sentences == 0) continue;
    out.push_back({f, all[f].sentences,
                   static_cast<double>(right[f]) / static_cast<double>(all[f].sentences)});
  }
  return out;
}

// ---- training ----

void TrainConfig::check() const {
  if (epochs == 0) throw value_error("TrainConfig: epochs must be at least 1, got 0");
  if (batch_size == 0) throw value_error("TrainConfig: batch_size must be at least 1, got 0");
  if (max_target_length == 0) {
    throw value_error("TrainConfig: max_target_length must be at least 1, got 0");
  }
  if (!(lr > 0.0 && std::isfinite(lr))) {
    throw value_error("TrainConfig: lr must be positive and finite, got " + number(lr));
  }
  if (!(clip_norm >= 0.0 && std::isfinite(clip_norm))) {
    throw value_error("TrainConfig: clip_norm must be >= 0 and finite (0: off), got " +
                      number(clip_norm));
  }
  if (!(teacher_forcing_ratio >= 0.0 && teacher_forcing_ratio <= 1.0)) {
    throw value_error("TrainConfig: teacher_forcing_ratio must be in [0, 1], got " +
                      number(teacher_forcing_ratio));
  }
}

namespace {

// The mean teacher-forced cross-entropy per target token of `examples`, without a tape.
double mean_loss(Seq2Seq& model, const Vocabularies& v, const Examples& examples) {
  examples::EvalMode eval_mode(model);
  tapegrad::NoGrad no_grad;
  tapegrad::LossOptions sum;
  sum.reduction = tapegrad::Reduction::sum;
  sum.ignore_index = v.target.pad_id();
  tapegrad::Generator unused(0);
  double total = 0.0;
  std::size_t tokens = 0;
  for (const auto& indices : by_length(examples.sources, 256)) {
    const data::Batch batch = source_batch(examples.sources, indices);
    const TargetBatch t =
        target_batch(examples.targets, indices, v.target.sos_id(), v.target.pad_id());
    const Var<float> logits = model.forward(batch.ids, batch.lengths, t.inputs, 1.0, unused);
    const std::size_t vocab = logits.shape()[2];
    total += static_cast<double>(
        tapegrad::cross_entropy(
            tapegrad::reshape(logits, tapegrad::make_shape({t.targets.size(), vocab})), t.targets,
            sum)
            .item());
    tokens += t.tokens;
  }
  return tokens == 0 ? 0.0 : total / static_cast<double>(tokens);
}

}  // namespace

TrainResult train(Seq2Seq& model, const Vocabularies& vocabularies, const Examples& train,
                  const Examples& valid, const TrainConfig& config, std::ostream* progress,
                  const std::function<void(const EpochStats&)>& on_epoch) {
  config.check();
  if (train.size() == 0) throw value_error("train: the training set is empty");
  if (valid.size() == 0) throw value_error("train: the validation set is empty");
  using clock = std::chrono::steady_clock;
  const auto run_start = clock::now();
  const data::Vocabulary& target = vocabularies.target;

  data::BatchOptions batching;
  batching.batch_size = config.batch_size;
  batching.bucket_batches = 8;  // similar source lengths in a batch: less padding
  batching.seed = config.seed;
  batching.pad.layout = data::Layout::batch_major;
  data::BatchIterator batches(train.sources, batching);

  const std::vector<Var<float>> params = model.parameters();
  optim::AdamOptions adam_options;
  adam_options.lr = config.lr;
  optim::Adam<float> adam(params, adam_options);
  optim::CosineAnnealingLR<float> schedule(
      adam, static_cast<std::int64_t>(config.epochs * batches.num_batches()), config.lr / 20.0);
  tapegrad::LossOptions loss_options;
  loss_options.ignore_index = target.pad_id();
  tapegrad::Generator forcing(config.seed + 1);

  std::optional<data::ProgressLine> line;
  if (progress != nullptr) {
    data::ProgressOptions options;
    options.num_epochs = config.epochs;
    line.emplace(*progress, batches.num_batches(), options);
  }

  DecodeOptions greedy;
  greedy.max_length = config.max_target_length;
  TrainResult result;
  nn::StateDict<float> best_state;
  double best_exact = -1.0, best_loss = std::numeric_limits<double>::infinity();
  std::size_t since_best = 0;
  for (std::size_t epoch = 1; epoch <= config.epochs; ++epoch) {
    const auto epoch_start = clock::now();
    if (line) line->start_epoch(epoch);
    model.train();
    EpochStats stats;
    stats.epoch = epoch;
    double loss_sum = 0.0;
    std::size_t tokens = 0, step = 0;
    for (const data::Batch& batch : batches.epoch()) {
      ++step;
      const TargetBatch t =
          target_batch(train.targets, batch.indices, target.sos_id(), target.pad_id());
      adam.zero_grad();
      const Var<float> logits =
          model.forward(batch.ids, batch.lengths, t.inputs, config.teacher_forcing_ratio, forcing);
      const std::size_t vocab = logits.shape()[2];
      const Var<float> loss = tapegrad::cross_entropy(
          tapegrad::reshape(logits, tapegrad::make_shape({t.targets.size(), vocab})), t.targets,
          loss_options);
      const double value = static_cast<double>(loss.item());
      if (!std::isfinite(value)) {
        throw tapegrad::numerical_error(
            "train: the training loss is " + number(value) + " at epoch " + std::to_string(epoch) +
            ", step " + std::to_string(step) +
            ": the model diverged (try a lower learning rate than " + number(config.lr) + ")");
      }
      loss.backward();
      if (config.clip_norm > 0.0) optim::clip_grad_norm(params, config.clip_norm);
      adam.step();
      schedule.step();
      loss_sum += value * static_cast<double>(t.tokens);
      tokens += t.tokens;
      if (line) line->step(value, batch.size());
    }
    stats.train_loss = loss_sum / static_cast<double>(tokens);
    stats.valid_loss = mean_loss(model, vocabularies, valid);
    stats.valid_exact = score(decode(model, target, valid.sources, greedy), valid).exact_match;
    stats.lr = adam.param_groups().front().lr;
    stats.seconds = std::chrono::duration<double>(clock::now() - epoch_start).count();
    result.history.push_back(stats);
    if (line) {
      line->end_epoch({{"valid_loss", stats.valid_loss}, {"valid_exact", stats.valid_exact}});
    }
    if (on_epoch) on_epoch(stats);
    if (!std::isfinite(stats.valid_loss)) {
      throw tapegrad::numerical_error("train: the validation loss is " + number(stats.valid_loss) +
                                      " at epoch " + std::to_string(epoch) +
                                      ": the model diverged (try a lower learning rate than " +
                                      number(config.lr) + ")");
    }
    const bool better = stats.valid_exact > best_exact ||
                        (stats.valid_exact == best_exact && stats.valid_loss < best_loss);
    if (better) {
      best_exact = stats.valid_exact;
      best_loss = stats.valid_loss;
      best_state = model.state_dict();
      result.best_epoch = epoch;
      since_best = 0;
    } else {
      ++since_best;
    }
    if (config.patience > 0 && since_best >= config.patience && epoch < config.epochs) {
      result.stopped_early = true;
      break;
    }
  }
  model.load_state_dict(best_state);
  model.eval();
  result.seconds = std::chrono::duration<double>(clock::now() - run_start).count();
  return result;
}

// ---- a saved model ----

std::string weights_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "model.npz").string();
}

std::string metadata_path(const std::string& dir) {
  return (std::filesystem::path(dir) / "model.json").string();
}

Translator::Translator(std::unique_ptr<Seq2Seq> model, Vocabularies vocabularies,
                       std::size_t max_source_length)
    : model_(std::move(model)),
      vocabularies_(std::move(vocabularies)),
      max_source_length_(max_source_length) {
  if (!model_) throw value_error("Translator: no model");
  const ModelConfig& c = model_->config();
  if (c.source_vocab_size != vocabularies_.source.size() ||
      c.target_vocab_size != vocabularies_.target.size()) {
    throw value_error("Translator: the model's vocabularies have " +
                      std::to_string(c.source_vocab_size) + " and " +
                      std::to_string(c.target_vocab_size) + " tokens, the vocabularies given " +
                      std::to_string(vocabularies_.source.size()) + " and " +
                      std::to_string(vocabularies_.target.size()));
  }
  set_max_source_length(max_source_length);
  model_->eval();
}

void Translator::set_max_source_length(std::size_t n) {
  if (n == 0) throw value_error("Translator: max_source_length must be at least 1, got 0");
  max_source_length_ = n;
}

namespace {

nlohmann::json vocabulary_json(const data::Vocabulary& v) {
  return {
      {"tokens", "characters"}, {"specials", v.specials().tokens()}, {"vocabulary", v.tokens()}};
}

data::Vocabulary vocabulary_of(const nlohmann::json& meta, const char* section,
                               const data::Specials& expected) {
  const nlohmann::json& s = meta.at(section);
  if (json_field<std::string>(s, section, "tokens") != "characters") {
    throw value_error(std::string(section) + ".tokens: expected \"characters\"");
  }
  const data::Specials specials(json_field<std::vector<std::string>>(s, section, "specials"));
  if (specials != expected) {
    throw value_error(std::string(section) + ".specials: not the specials of a " + section +
                      " vocabulary");
  }
  return data::Vocabulary(json_field<std::vector<std::string>>(s, section, "vocabulary"), specials);
}

}  // namespace

void Translator::save(tapegrad::OutputFiles& out, const std::string& dir) const {
  const std::string json_path = metadata_path(dir);
  const ModelConfig& c = model_->config();
  nlohmann::json meta;
  meta["format"] = "tapegrad-translate";
  meta["version"] = 1;
  meta["task"] = "dates in human formats to ISO 8601";
  meta["model"] = {{"cell", nn::to_string(c.cell)},
                   {"source_vocab_size", c.source_vocab_size},
                   {"target_vocab_size", c.target_vocab_size},
                   {"embedding_size", c.embedding_size},
                   {"hidden_size", c.hidden_size},
                   {"num_layers", c.num_layers},
                   {"bidirectional", c.bidirectional},
                   {"attention", nn::to_string(c.score)},
                   {"style", nn::to_string(c.style)},
                   {"dropout", c.dropout}};
  meta["source"] = vocabulary_json(vocabularies_.source);
  meta["source"]["max_length"] = max_source_length_;
  meta["target"] = vocabulary_json(vocabularies_.target);
  meta["weights_fingerprint"] = examples::fingerprint(*model_);
  std::string text;
  try {
    text = meta.dump(1) + "\n";
  } catch (const nlohmann::json::exception& e) {  // text that is not UTF-8
    throw value_error("cannot write '" + json_path + "': " + e.what());
  }
  examples::create_folder(dir);
  optim::save_model(*model_, out.stage(weights_path(dir)));
  out.write(json_path, text);
}

void Translator::save(const std::string& dir) const {
  tapegrad::OutputFiles out;
  save(out, dir);
  out.commit();
}

Translator Translator::load(const std::string& dir) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    throw value_error("'" + dir +
                      "' is not a folder (a saved model is a folder with model.npz and "
                      "model.json, as a training run's --out)");
  }
  const std::string json_path = metadata_path(dir), npz_path = weights_path(dir);
  const nlohmann::json meta =
      examples::read_model_json(json_path, "tapegrad-translate", 1, "translation");
  ModelConfig config;
  Vocabularies vocabularies;
  std::size_t max_source_length = 0;
  std::string expected_fingerprint;
  try {
    const nlohmann::json& m = meta.at("model");
    config.cell = nn::parse_cell_kind(json_field<std::string>(m, "model", "cell"));
    config.source_vocab_size = json_field<std::size_t>(m, "model", "source_vocab_size");
    config.target_vocab_size = json_field<std::size_t>(m, "model", "target_vocab_size");
    config.embedding_size = json_field<std::size_t>(m, "model", "embedding_size");
    config.hidden_size = json_field<std::size_t>(m, "model", "hidden_size");
    config.num_layers = json_field<std::size_t>(m, "model", "num_layers");
    config.bidirectional = json_field<bool>(m, "model", "bidirectional");
    config.score = nn::parse_attention_score(json_field<std::string>(m, "model", "attention"));
    config.style = nn::parse_attention_style(json_field<std::string>(m, "model", "style"));
    config.dropout = json_field<double>(m, "model", "dropout");
    config.check();
    vocabularies.source = vocabulary_of(meta, "source", source_specials());
    vocabularies.target = vocabulary_of(meta, "target", target_specials());
    max_source_length = json_field<std::size_t>(meta.at("source"), "source", "max_length");
    expected_fingerprint = json_field<std::string>(meta, "file", "weights_fingerprint");
    if (vocabularies.source.size() != config.source_vocab_size ||
        vocabularies.target.size() != config.target_vocab_size) {
      throw value_error("the vocabularies have " + std::to_string(vocabularies.source.size()) +
                        " and " + std::to_string(vocabularies.target.size()) +
                        " tokens, model.source_vocab_size and target_vocab_size say " +
                        std::to_string(config.source_vocab_size) + " and " +
                        std::to_string(config.target_vocab_size));
    }
    if (max_source_length == 0) throw value_error("source.max_length must be at least 1, got 0");
  } catch (const nlohmann::json::exception& e) {
    throw value_error(json_path + ": " + e.what());
  } catch (const std::invalid_argument& e) {
    throw value_error(json_path + ": " + e.what());
  }
  // The sizes of the .json must be the weights' before a model of those sizes is built (a
  // corrupt size would allocate without bound); load_model then checks every parameter.
  const tapegrad::Npz weights = tapegrad::Npz::load(npz_path);
  const auto check_shape = [&](const std::string& name, const tapegrad::Shape& expected) {
    if (!weights.contains(name)) {
      throw value_error(npz_path + ": no entry '" + name + "' (not a translation model?)");
    }
    if (weights.shape(name) != expected) {
      throw value_error(npz_path + ": " + name + " has shape " +
                        tapegrad::shape_str(weights.shape(name)) + ", but " + json_path + " says " +
                        tapegrad::shape_str(expected) + ": files from different runs?");
    }
  };
  const std::size_t h = config.hidden_size, e = config.embedding_size;
  const std::size_t gates = nn::gate_count(config.cell);
  const std::size_t context = (config.bidirectional ? 2 : 1) * h;
  check_shape("encoder.embedding.weight", {config.source_vocab_size, e});
  check_shape("decoder.embedding.weight", {config.target_vocab_size, e});
  check_shape("encoder.rnn.weight_hh_l0", {gates * h, h});
  check_shape("decoder.rnn.weight_hh_l0", {gates * h, h});
  check_shape("decoder.out.weight", {config.target_vocab_size,
                                     config.style == nn::AttentionStyle::luong ? h : h + context});
  const auto has_layers = [&](const std::string& part) {
    const std::string prefix = part + ".rnn.weight_hh_l";
    return weights.contains(prefix + std::to_string(config.num_layers - 1)) &&
           !weights.contains(prefix + std::to_string(config.num_layers));
  };
  if (!has_layers("encoder") || !has_layers("decoder")) {
    throw value_error(npz_path + ": the recurrent layers are not the " +
                      std::to_string(config.num_layers) + " (model.num_layers) of " + json_path +
                      ": files from different runs?");
  }
  auto model = std::make_unique<Seq2Seq>(config, 0);
  optim::load_model(*model, npz_path);  // strict: names the file and the entry
  if (examples::fingerprint(*model) != expected_fingerprint) {
    throw value_error(npz_path + ": these weights are not the ones " + json_path +
                      " was saved with (files from different runs?)");
  }
  return Translator(std::move(model), std::move(vocabularies), max_source_length);
}

std::vector<Translation> Translator::translate(const std::vector<std::string>& texts,
                                               const DecodeOptions& options) const {
  std::vector<Translation> out(texts.size());
  std::vector<std::vector<Index>> sources;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      out[i].source = encode_source(vocabularies_.source, texts[i], max_source_length_);
    } catch (const value_error& e) {
      throw value_error("sentence " + std::to_string(i + 1) + ": " + e.what());
    }
    sources.push_back(out[i].source.ids);
  }
  if (texts.empty()) return out;
  std::vector<Decoded> decoded = decode(*model_, vocabularies_.target, sources, options);
  for (std::size_t i = 0; i < texts.size(); ++i) {
    for (const std::string& t : decoded[i].tokens) out[i].text += t;
    out[i].decoded = std::move(decoded[i]);
  }
  return out;
}

}  // namespace translate
