// Tests of examples/translate: the calendar and the date formats (ISO targets, weekdays checked
// against Zeller's congruence), the splits (disjoint, held-out formats only in the held-out
// split, seeded), the character vocabularies and their specials, a short training run, decoding
// shapes, save -> load -> the same translations, and the errors of bad input. Sizes are tiny
// so that the file runs in a few seconds.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "plot.hpp"
#include "translate.hpp"

namespace {

using tapegrad::value_error;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using translate::Date;

// The weekday by Zeller's congruence, an algorithm other than the example's: 0 = Monday.
int zeller_weekday(const Date& d) {
  int m = d.month, y = d.year;
  if (m < 3) {
    m += 12;
    y -= 1;
  }
  const int k = y % 100, j = y / 100;
  const int h = (d.day + 13 * (m + 1) / 5 + k + k / 4 + j / 4 + 5 * j) % 7;  // 0 = Saturday
  return (h + 5) % 7;
}

translate::DataOptions small_data(std::uint64_t seed = 1) {
  translate::DataOptions o;
  o.train = 3000;
  o.valid = 300;
  o.test = 300;
  o.held_out = 300;
  o.seed = seed;
  return o;
}

translate::ModelConfig tiny_config(const translate::Vocabularies& v) {
  translate::ModelConfig c;
  c.source_vocab_size = v.source.size();
  c.target_vocab_size = v.target.size();
  c.embedding_size = 8;
  c.hidden_size = 12;
  return c;
}

std::vector<std::string> texts_of(const std::vector<translate::Translation>& t) {
  std::vector<std::string> out;
  for (const auto& x : t) out.push_back(x.text);
  return out;
}

}  // namespace

TEST_CASE("translate: the calendar: day numbers, leap years, weekdays") {
  CHECK(translate::days_from_civil({1970, 1, 1}) == 0);
  CHECK(translate::days_from_civil({2000, 3, 1}) - translate::days_from_civil({2000, 2, 28}) == 2);
  CHECK(translate::days_in_month(2000, 2) == 29);
  CHECK(translate::days_in_month(1900, 2) == 28);
  CHECK(translate::days_in_month(2024, 2) == 29);
  CHECK(translate::days_in_month(2023, 2) == 28);
  CHECK(translate::days_in_month(2023, 13) == 0);
  CHECK(translate::weekday({1970, 1, 1}) == 3);   // a Thursday
  CHECK(translate::weekday({2019, 3, 12}) == 1);  // a Tuesday
  CHECK(translate::weekday({1950, 1, 1}) == 6);   // a Sunday
  CHECK(translate::iso_date({2019, 3, 12}) == "2019-03-12");
  CHECK(translate::iso_date({1950, 11, 5}) == "1950-11-05");
  // Every day of the task's years: the day number round-trips, the weekday is Zeller's.
  const long first = translate::days_from_civil({1950, 1, 1});
  const long last = translate::days_from_civil({2049, 12, 31});
  CHECK(last - first + 1 == 100 * 365 + 25);  // 25 leap years, 2000 among them
  for (long day = first; day <= last; ++day) {
    const Date d = translate::civil_from_days(day);
    REQUIRE(translate::days_from_civil(d) == day);
    REQUIRE(d.day <= translate::days_in_month(d.year, d.month));
    REQUIRE(translate::weekday(d) == zeller_weekday(d));
  }
}

TEST_CASE("translate: each format writes 2019-03-12 as expected, weekdays and ordinals right") {
  const std::map<std::string, std::string> expected = {
      {"en_day_month_year", "12 March 2019"},
      {"en_month_day_year", "March 12, 2019"},
      {"en_month_ordinal_year", "March 12th, 2019"},
      {"en_weekday_month_day_year", "Tuesday, March 12, 2019"},
      {"en_short_weekday_apostrophe_year", "Tue, Mar 12 '19"},
      {"en_the_ordinal_of_month", "the 12th of March, 2019"},
      {"en_day_short_month_year", "12 Mar 2019"},
      {"fr_day_month_year", "12 mars 2019"},
      {"fr_weekday_day_month_year", "mardi 12 mars 2019"},
      {"fr_le_day_month_year", "le 12 mars 2019"},
      {"de_day_month_year", "12. März 2019"},
      {"de_weekday_day_month_year", "Dienstag, 12. März 2019"},
      {"de_am_day_month_year", "am 12. März 2019"},
      {"es_day_de_month_de_year", "12 de marzo de 2019"},
      {"es_weekday_day_de_month_de_year", "martes, 12 de marzo de 2019"},
      {"es_el_day_de_month_del_year", "el 12 de marzo del 2019"},
      {"dd/mm/yyyy", "12/03/2019"},
      {"dd.mm.yyyy", "12.03.2019"},
      {"yyyy.mm.dd", "2019.03.12"},
      {"yyyymmdd", "20190312"},
      {"d-m-yyyy", "12-3-2019"},
      {"en_short_month_day_year", "Mar 12, 2019"},
      {"fr_le_weekday_day_month_year", "le mardi 12 mars 2019"},
      {"es_day_month_year", "12 marzo 2019"},
      {"yyyy/mm/dd", "2019/03/12"},
      {"dd.mm.yy", "12.03.19"},
  };
  const auto& formats = translate::date_formats();
  REQUIRE(formats.size() == expected.size());
  std::set<translate::Language> languages;
  for (std::size_t f = 0; f < formats.size(); ++f) {
    CAPTURE(formats[f].name);
    REQUIRE(expected.count(formats[f].name) == 1);
    CHECK(translate::format_date({2019, 3, 12}, f) == expected.at(formats[f].name));
    if (!formats[f].held_out) languages.insert(formats[f].language);
  }
  CHECK(languages.size() == 5);  // English, French, German, Spanish and numeric are trained on
  CHECK(translate::training_formats().size() >= 15);
  CHECK(translate::held_out_formats().size() == 5);

  const auto index_of = [&](const std::string& name) {
    for (std::size_t f = 0; f < formats.size(); ++f) {
      if (formats[f].name == name) return f;
    }
    FAIL("no format " << name);
    return std::size_t{0};
  };
  // Ordinals, the French first of the month, two-digit years of both centuries.
  const std::size_t ordinal = index_of("en_month_ordinal_year");
  const std::vector<std::pair<int, std::string>> ordinals = {
      {1, "1st"},   {2, "2nd"},   {3, "3rd"},   {4, "4th"},   {11, "11th"}, {12, "12th"},
      {13, "13th"}, {21, "21st"}, {22, "22nd"}, {23, "23rd"}, {30, "30th"}, {31, "31st"}};
  for (const auto& [day, text] : ordinals) {
    CHECK(translate::format_date({2019, 1, day}, ordinal) == "January " + text + ", 2019");
  }
  CHECK(translate::format_date({2019, 8, 1}, index_of("fr_le_day_month_year")) ==
        "le 1er août 2019");
  CHECK(translate::format_date({1950, 1, 2}, index_of("dd.mm.yy")) == "02.01.50");
  CHECK(translate::format_date({2001, 1, 2}, index_of("en_short_weekday_apostrophe_year")) ==
        "Tue, Jan 2 '01");

  // Weekday names are the date's own, in every language, over two years of days.
  const std::vector<std::pair<std::string, std::vector<std::string>>> weekday_formats = {
      {"en_weekday_month_day_year",
       {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}},
      {"fr_weekday_day_month_year",
       {"lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"}},
      {"de_weekday_day_month_year",
       {"Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"}},
      {"es_weekday_day_de_month_de_year",
       {"lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"}},
      {"en_short_weekday_apostrophe_year", {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"}},
  };
  for (const auto& [name, names] : weekday_formats) {
    const std::size_t f = index_of(name);
    for (long day = translate::days_from_civil({2023, 1, 1});
         day < translate::days_from_civil({2025, 1, 1}); ++day) {
      const Date d = translate::civil_from_days(day);
      const std::string text = translate::format_date(d, f);
      const std::string& weekday = names[static_cast<std::size_t>(zeller_weekday(d))];
      REQUIRE_MESSAGE(text.compare(0, weekday.size(), weekday) == 0, text, " for ",
                      translate::iso_date(d));
    }
  }
  CHECK(message_of<value_error>([] {
          translate::format_date({2019, 2, 29}, 0);
        }) == "format_date: 2019-2-29 is not a date of the years 1 .. 9999");
  CHECK(message_of<value_error>([] {
          translate::format_date({2019, 2, 1}, 99);
        }) == "format_date: format 99 is not one of the 26");
}

TEST_CASE("translate: the splits: ISO targets, disjoint, held-out formats held out, seeded") {
  const translate::DateData d = translate::make_date_data(small_data());
  CHECK(d.train.size() == 3000);
  CHECK(d.valid.size() == 300);
  CHECK(d.test.size() == 300);
  CHECK(d.held_out.size() == 300);
  std::set<std::string> sources;
  std::set<std::size_t> train_formats, held_formats;
  const auto check_split = [&](const std::vector<translate::Pair>& split, bool held) {
    for (const translate::Pair& p : split) {
      CAPTURE(p.source);
      REQUIRE(translate::date_formats()[p.format].held_out == held);
      REQUIRE(p.source == translate::format_date(p.date, p.format));
      REQUIRE(p.target == translate::iso_date(p.date));
      REQUIRE(p.date.year >= 1950);
      REQUIRE(p.date.year <= 2049);
      REQUIRE(sources.insert(p.source).second);  // in no other split, nor twice in this one
      (held ? held_formats : train_formats).insert(p.format);
    }
  };
  check_split(d.train, false);
  check_split(d.valid, false);
  check_split(d.test, false);
  check_split(d.held_out, true);
  CHECK(train_formats.size() == translate::training_formats().size());
  CHECK(held_formats.size() == translate::held_out_formats().size());

  const translate::DateData again = translate::make_date_data(small_data());
  const translate::DateData other = translate::make_date_data(small_data(2));
  CHECK(again.train.front().source == d.train.front().source);
  CHECK(again.held_out.back().source == d.held_out.back().source);
  CHECK(other.train.front().source != d.train.front().source);

  translate::DataOptions bad = small_data();
  bad.valid = 0;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { translate::make_date_data(bad); }),
                    "the training and validation sizes must be at least 1, got 3000 and 0");
  bad = small_data();
  bad.first_year = 1900;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { translate::make_date_data(bad); }),
                    "the years must lie in 1950 .. 2049 (two-digit years), got 1900 .. 2049");
  bad = small_data();
  bad.first_year = bad.last_year = 2000;
  bad.train = 20000;  // 366 days x 21 formats: fewer sentences than that
  TG_CHECK_CONTAINS(message_of<value_error>([&] { translate::make_date_data(bad); }),
                    "cannot draw 20000 distinct training sentences from the years 2000 .. 2000");
}

TEST_CASE("translate: characters, vocabularies with their specials, source ids") {
  CHECK(translate::characters("März") == std::vector<std::string>{"M", "ä", "r", "z"});
  CHECK(translate::characters("").empty());
  TG_CHECK_CONTAINS(message_of<value_error>([] { translate::characters("ab\xff"); }),
                    "not UTF-8 (byte 2)");

  const translate::DateData d = translate::make_date_data(small_data());
  const translate::Vocabularies v = translate::build_vocabularies(d.train);
  CHECK(v.source.pad_id() == 0);
  CHECK(v.source.unk_id() == 1);
  CHECK(v.source.specials().size() == 2);
  CHECK(v.target.pad_id() == 0);
  CHECK(v.target.unk_id() == 1);
  CHECK(v.target.sos_id() == 2);
  CHECK(v.target.eos_id() == 3);
  CHECK(v.target.size() == 4 + 11);  // the specials, ten digits and '-'
  CHECK(v.source.contains("ä"));
  CHECK(v.source.contains(" "));

  const translate::SourceIds s = translate::encode_source(v.source, "  12   März\t2019 ", 0);
  CHECK(s.tokens == translate::characters("12 März 2019"));  // spaces trimmed and folded
  CHECK(s.unknown.empty());
  CHECK_FALSE(s.cut);
  const translate::SourceIds unknown = translate::encode_source(v.source, "12 Z 2019 @ Z", 0);
  CHECK(unknown.unknown == std::vector<std::string>{"Z", "@"});  // each once, in order
  CHECK(unknown.ids[3] == v.source.unk_id());
  CHECK(unknown.ids[10] == v.source.unk_id());
  CHECK(unknown.ids[0] != v.source.unk_id());
  const translate::SourceIds cut = translate::encode_source(v.source, "12 March 2019", 5);
  CHECK(cut.cut);
  CHECK(cut.length == 13);
  CHECK(cut.ids.size() == 5);
  for (const char* empty : {"", "   ", "\t\r\n"}) {
    CHECK(message_of<value_error>([&] { translate::encode_source(v.source, empty, 0); }) ==
          "the sentence is empty");
  }

  const translate::Examples ex = translate::make_examples(v, d.valid, 64);
  REQUIRE(ex.size() == 300);
  CHECK(ex.targets[0].size() == 11);  // ten characters and <eos>
  CHECK(ex.targets[0].back() == v.target.eos_id());
  CHECK(v.target.decode(ex.targets[0], {false, true, false}) ==
        translate::characters(ex.pairs[0].target));
}

TEST_CASE(
    "translate: a short training run lowers the loss, and decoding returns weights per step") {
  translate::DataOptions o = small_data();
  o.train = 600;
  o.valid = 50;
  const translate::DateData d = translate::make_date_data(o);
  const translate::Vocabularies v = translate::build_vocabularies(d.train);
  const translate::Examples train = translate::make_examples(v, d.train, 64);
  const translate::Examples valid = translate::make_examples(v, d.valid, 64);
  for (const auto cell : {tapegrad::nn::CellKind::gru, tapegrad::nn::CellKind::lstm,
                          tapegrad::nn::CellKind::rnn_tanh}) {
    for (const auto style :
         {tapegrad::nn::AttentionStyle::luong, tapegrad::nn::AttentionStyle::bahdanau}) {
      CAPTURE(tapegrad::nn::to_string(cell));
      CAPTURE(tapegrad::nn::to_string(style));
      translate::ModelConfig c = tiny_config(v);
      c.cell = cell;
      c.style = style;
      c.score = style == tapegrad::nn::AttentionStyle::luong
                    ? tapegrad::nn::AttentionScore::general
                    : tapegrad::nn::AttentionScore::additive;
      translate::Seq2Seq model(c, 3);
      translate::TrainConfig tc;
      tc.epochs = 3;
      tc.batch_size = 32;
      tc.lr = 0.01;
      tc.teacher_forcing_ratio = 0.9;
      const translate::TrainResult r = translate::train(model, v, train, valid, tc);
      REQUIRE(r.history.size() == 3);
      CHECK(r.history.back().train_loss < r.history.front().train_loss);
      CHECK(r.history.back().valid_loss < r.history.front().valid_loss);
      CHECK(r.best_epoch >= 1);
      CHECK_FALSE(model.is_training());
    }
  }
  translate::Seq2Seq model(tiny_config(v), 5);
  for (const bool beam : {false, true}) {
    translate::DecodeOptions opts;
    opts.beam = beam;
    opts.beam_width = 3;
    opts.max_length = 12;
    opts.batch_size = 7;  // batches of different padded lengths
    const std::vector<translate::Decoded> out =
        translate::decode(model, v.target, valid.sources, opts);
    REQUIRE(out.size() == valid.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
      const tapegrad::Array<float>& w = out[i].weights;
      CHECK(w.shape()[1] == valid.sources[i].size());  // its own length, not the batch's
      CHECK((w.shape()[0] == out[i].tokens.size() || w.shape()[0] == out[i].tokens.size() + 1));
      for (std::size_t s = 0; s < w.shape()[0]; ++s) {
        double total = 0.0;
        for (std::size_t j = 0; j < w.shape()[1]; ++j) total += w(s, j);
        CHECK(total == doctest::Approx(1.0).epsilon(1e-4));
      }
    }
    const translate::Scores s = translate::score(out, valid);
    CHECK(s.sentences == valid.size());
    CHECK(s.exact_match >= 0.0);
    CHECK(s.bleu.score <= 100.0);
  }
  // Beam search of width 1 without a length penalty is greedy decoding, through the example's
  // batches and its cutting of the weights too.
  translate::DecodeOptions greedy, one;
  greedy.max_length = one.max_length = 12;
  one.beam = true;
  one.beam_width = 1;
  one.length_penalty = 0.0;
  const auto g = translate::decode(model, v.target, valid.sources, greedy);
  const auto b1 = translate::decode(model, v.target, valid.sources, one);
  for (std::size_t i = 0; i < valid.size(); ++i) {
    CAPTURE(i);
    CHECK(b1[i].tokens == g[i].tokens);
    CHECK(b1[i].score == doctest::Approx(g[i].score).epsilon(1e-6));
    CHECK(b1[i].weights == g[i].weights);
  }
}

TEST_CASE("translate: perfect translations score BLEU 100 and exact match 1, per format too") {
  const translate::DateData d = translate::make_date_data(small_data());
  const translate::Vocabularies v = translate::build_vocabularies(d.train);
  const translate::Examples test = translate::make_examples(v, d.test, 64);
  std::vector<translate::Decoded> perfect(test.size());
  for (std::size_t i = 0; i < test.size(); ++i) {
    perfect[i].tokens = translate::characters(test.pairs[i].target);
  }
  const translate::Scores s = translate::score(perfect, test);
  CHECK(s.bleu.score == doctest::Approx(100.0));
  CHECK(s.exact_match == 1.0);
  CHECK(s.token_accuracy == 1.0);
  perfect[0].tokens.pop_back();  // one character short
  const translate::Scores one_off = translate::score(perfect, test);
  CHECK(one_off.exact_match == doctest::Approx(299.0 / 300.0));
  CHECK(one_off.bleu.score < 100.0);
  const auto by_format = translate::exact_match_by_format(perfect, test);
  std::size_t counted = 0;
  for (const auto& f : by_format) {
    counted += f.sentences;
    CHECK(f.exact_match == (f.format == test.pairs[0].format
                                ? doctest::Approx(1.0 - 1.0 / f.sentences)
                                : doctest::Approx(1.0)));
  }
  CHECK(counted == test.size());
  CHECK(message_of<value_error>([&] { translate::score({}, test); }) ==
        "score: 0 translations for 300 sentences");
}

TEST_CASE("translate: save -> load gives the same translations, and mismatched files are refused") {
  TempDir dir;
  const translate::DateData d = translate::make_date_data(small_data());
  const translate::Vocabularies v = translate::build_vocabularies(d.train);
  auto model = std::make_unique<translate::Seq2Seq>(tiny_config(v), 7);
  const auto names = model->named_parameters();
  CHECK(names.front().first == "encoder.embedding.weight");
  CHECK(std::any_of(names.begin(), names.end(),
                    [](const auto& p) { return p.first == "decoder.attention.key_proj.weight"; }));
  const translate::Translator translator(std::move(model), v, 40);
  const std::vector<std::string> texts = {"12 March 2019", "mardi 12 mars 2019", "12. März 2019",
                                          "Tue, Mar 12 '19", "le 1er août 1999"};
  translate::DecodeOptions greedy, beam;
  beam.beam = true;
  beam.beam_width = 4;
  const auto before_greedy = translator.translate(texts, greedy);
  const auto before_beam = translator.translate(texts, beam);
  translator.save(dir.file("model"));
  CHECK(std::filesystem::exists(dir.file("model/model.npz")));
  CHECK(std::filesystem::exists(dir.file("model/model.json")));

  const translate::Translator loaded = translate::Translator::load(dir.file("model"));
  CHECK(loaded.max_source_length() == 40);
  CHECK(loaded.vocabularies().source.tokens() == v.source.tokens());
  CHECK(loaded.vocabularies().target.tokens() == v.target.tokens());
  CHECK(loaded.vocabularies().target.eos_id() == v.target.eos_id());
  const auto after_greedy = loaded.translate(texts, greedy);
  const auto after_beam = loaded.translate(texts, beam);
  CHECK(texts_of(after_greedy) == texts_of(before_greedy));
  CHECK(texts_of(after_beam) == texts_of(before_beam));
  for (std::size_t i = 0; i < texts.size(); ++i) {
    CHECK(after_beam[i].decoded.score == before_beam[i].decoded.score);
  }

  // Another run's weights beside this run's .json: the fingerprint differs.
  translate::Translator(std::make_unique<translate::Seq2Seq>(tiny_config(v), 8), v, 40)
      .save(dir.file("other"));
  std::filesystem::copy_file(dir.file("other/model.npz"), dir.file("model/model.npz"),
                             std::filesystem::copy_options::overwrite_existing);
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { translate::Translator::load(dir.file("model")); }),
      "these weights are not the ones");
  // A model of other sizes: named by its first parameter of another shape.
  translate::ModelConfig bigger = tiny_config(v);
  bigger.hidden_size = 16;
  translate::Translator(std::make_unique<translate::Seq2Seq>(bigger, 8), v, 40)
      .save(dir.file("bigger"));
  std::filesystem::copy_file(dir.file("bigger/model.npz"), dir.file("other/model.npz"),
                             std::filesystem::copy_options::overwrite_existing);
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { translate::Translator::load(dir.file("other")); }),
      "encoder.rnn.weight_hh_l0 has shape [48,16], but");

  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { translate::Translator::load(dir.file("nowhere")); }),
      "nowhere' is not a folder");
  dir.write("bigger/model.json", "{\"format\": \"tapegrad-sentiment\", \"version\": 1}");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { translate::Translator::load(dir.file("bigger")); }),
      "format is not tapegrad-translate version 1");
  dir.write("bigger/model.json", "{ not json");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { translate::Translator::load(dir.file("bigger")); }),
      "model.json: not a saved translation model");
  std::filesystem::remove(dir.file("bigger/model.json"));
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { translate::Translator::load(dir.file("bigger")); }),
      "model.json: not a saved translation model");
}

TEST_CASE("translate: bad input: empty sentences, unknown characters, long ones, bad options") {
  const translate::DateData d = translate::make_date_data(small_data());
  const translate::Vocabularies v = translate::build_vocabularies(d.train);
  translate::Translator translator(std::make_unique<translate::Seq2Seq>(tiny_config(v), 7), v, 10);
  const translate::DecodeOptions greedy;
  CHECK(message_of<value_error>([&] {
          translator.translate({"12 March 2019", " "}, greedy);
        }) == "sentence 2: the sentence is empty");
  const auto t = translator.translate({"ZZ 12 Q March 2019"}, greedy);
  CHECK(t[0].source.unknown == std::vector<std::string>{"Z", "Q"});
  CHECK(t[0].source.cut);
  CHECK(t[0].source.length == 18);
  CHECK(t[0].decoded.weights.shape()[1] == 10);
  CHECK(translator.translate({}, greedy).empty());
  CHECK(message_of<value_error>([&] { translator.set_max_source_length(0); }) ==
        "Translator: max_source_length must be at least 1, got 0");

  translate::ModelConfig c = tiny_config(v);
  c.hidden_size = 0;
  CHECK(message_of<value_error>([&] { c.check(); }) ==
        "ModelConfig: hidden_size must be at least 1, got 0");
  c = tiny_config(v);
  c.target_vocab_size = 4;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { c.check(); }),
                    "target_vocab_size must be at least 5");
  c = tiny_config(v);
  c.score = tapegrad::nn::AttentionScore::dot;
  TG_CHECK_CONTAINS(message_of<value_error>([&] { c.check(); }),
                    "the dot attention needs queries and keys of one size");
  c.bidirectional = false;
  CHECK_NOTHROW(c.check());
  c.dropout = 1.0;
  CHECK(message_of<value_error>([&] { c.check(); }) ==
        "ModelConfig: dropout must be in [0, 1), got 1");
  translate::TrainConfig tc;
  tc.teacher_forcing_ratio = 1.5;
  CHECK(message_of<value_error>([&] { tc.check(); }) ==
        "TrainConfig: teacher_forcing_ratio must be in [0, 1], got 1.5");
  tc = {};
  tc.lr = 0.0;
  CHECK(message_of<value_error>([&] { tc.check(); }) ==
        "TrainConfig: lr must be positive and finite, got 0");
  translate::DecodeOptions dopt;
  dopt.beam = true;
  dopt.beam_width = 0;
  CHECK(message_of<value_error>([&] { dopt.check(); }) ==
        "DecodeOptions: beam_width must be at least 1, got 0");
}

TEST_CASE(
    "heatmap_png: a PNG of labelled matrices when gnuplot is there, and bad shapes are refused") {
  TempDir dir;
  examples::Heatmap map;
  map.title = "it's \"quoted\" & {braced}_";
  map.values = {{0.1, 0.9, 0.0}, {0.5, 0.25, 0.25}};
  map.row_labels = {"2", "<eos>"};
  map.column_labels = {"ä", "'", "_"};
  const std::string png = dir.file("map.png");
  const std::string error = examples::heatmap_png(png, {map, map, map});
  if (examples::have_gnuplot()) {
    CHECK(error.empty());
    CHECK(read_bytes(png).compare(1, 3, "PNG") == 0);
  } else {
    TG_CHECK_CONTAINS(error, "gnuplot is not installed");
  }
  CHECK_FALSE(std::filesystem::exists(png + ".gnuplot"));
  examples::Heatmap ragged = map;
  ragged.values[1].pop_back();
  CHECK(examples::heatmap_png(png, {ragged}) ==
        "heatmap 'it's \"quoted\" & {braced}_' has rows of different lengths");
  examples::Heatmap labels = map;
  labels.row_labels.pop_back();
  TG_CHECK_CONTAINS(examples::heatmap_png(png, {labels}), "labels that are not one per row");
  CHECK(examples::heatmap_png(png, {}) == "nothing to plot");
}
