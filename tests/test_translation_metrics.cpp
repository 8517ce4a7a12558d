// tapegrad::data translation metrics: corpus BLEU (against NLTK's numbers in
// tests/fixtures/bleu.json, made by tests/fixtures/generate_bleu.py), exact match and token
// accuracy.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <sstream>

#include <nlohmann/json.hpp>

#include "helpers.hpp"
#include "tapegrad/data.hpp"

using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::value_error;
using tapegrad_test::message_of;
using namespace tapegrad::data;

namespace {

using Tokens = std::vector<std::string>;
using TokenLists = std::vector<Tokens>;
using Counts = std::array<std::size_t, bleu_max_order>;

Tokens toks(const std::string& text) {
  Tokens out;
  std::istringstream in(text);
  for (std::string t; in >> t;) out.push_back(t);
  return out;
}

// |got - expected| within 1e-12 of max(1, |expected|): scores are in [0, 100].
bool close(double got, double expected) {
  return std::abs(got - expected) <= 1e-12 * std::max(1.0, std::abs(expected));
}

// 17 significant digits: a double as it is.
std::string digits(double x) {
  std::ostringstream out;
  out << std::setprecision(17) << x;
  return out.str();
}

nlohmann::json read_fixtures() {
  const std::string path = tapegrad_test::source_dir() + "/tests/fixtures/bleu.json";
  std::ifstream in(path);
  REQUIRE_MESSAGE(in.good(), "cannot open ", path);
  return nlohmann::json::parse(in);
}

}  // namespace

// ---- BLEU ----

TEST_CASE("corpus BLEU equals NLTK's corpus_bleu in sacreBLEU's settings on every fixture") {
  const nlohmann::json fixtures = read_fixtures();
  const auto& cases = fixtures.at("cases");
  REQUIRE(cases.size() >= 20);
  std::size_t counted = 0;
  for (const auto& c : cases) {
    const std::string name = c.at("name").get<std::string>();
    INFO("case: ", name, " (", c.at("reference").get<std::string>(), ")");
    const auto hyps = c.at("hypotheses").get<TokenLists>();
    const auto refs = c.at("references").get<std::vector<TokenLists>>();
    const BleuScore exp = corpus_bleu(hyps, refs);
    const BleuScore none = corpus_bleu(hyps, refs, BleuSmoothing::none);
    for (const BleuScore* s : {&exp, &none}) {
      CHECK(s->matches == c.at("matches").get<Counts>());
      CHECK(s->totals == c.at("totals").get<Counts>());
      CHECK(s->hypothesis_length == c.at("hypothesis_length").get<std::size_t>());
      CHECK(s->reference_length == c.at("reference_length").get<std::size_t>());
      CHECK(close(s->brevity_penalty, c.at("brevity_penalty").get<double>()));
    }
    const double expected_exp = c.at("bleu").at("exp").get<double>();
    const double expected_none = c.at("bleu").at("none").get<double>();
    CHECK_MESSAGE(close(exp.score, expected_exp), digits(exp.score), " vs ", digits(expected_exp));
    CHECK_MESSAGE(close(none.score, expected_none), digits(none.score), " vs ",
                  digits(expected_none));
    // NLTK's method0 puts the smallest double in place of a zero precision; sacreBLEU, and
    // tapegrad, give 0 exactly.
    if (expected_none < 1e-60) CHECK(none.score == 0.0);
    CHECK(exp.to_string() == c.at("line").get<std::string>());
    ++counted;
  }
  CHECK(counted == cases.size());
}

TEST_CASE("corpus BLEU by hand: precisions, smoothing, brevity penalty and the printed line") {
  const TokenLists hyps = {toks("the cat sat on the mat")};
  const TokenLists refs = {toks("the cat sat on a mat")};
  const BleuScore s = corpus_bleu(hyps, refs);
  // Matches 5/6, 3/5, 2/4, 1/3 (the second "the" is clipped to the reference's one).
  CHECK(s.matches == Counts{5, 3, 2, 1});
  CHECK(s.totals == Counts{6, 5, 4, 3});
  CHECK(s.precisions[0] == doctest::Approx(500.0 / 6));
  CHECK(s.precisions[3] == doctest::Approx(100.0 / 3));
  CHECK(s.brevity_penalty == 1.0);
  CHECK(s.score == doctest::Approx(100 * std::pow(5.0 / 6 * 3.0 / 5 * 2.0 / 4 * 1.0 / 3, 0.25)));
  CHECK(s.to_string() ==
        "BLEU = 53.73 83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000 hyp_len = 6 ref_len = 6)");
  // One reference per hypothesis is the multi-reference form with one each.
  const BleuScore multi = corpus_bleu(hyps, std::vector<TokenLists>{refs});
  CHECK(multi.score == s.score);

  // exp: the k-th order without a match gets 1 / (2^k n-grams); none: the score is 0.
  const TokenLists shuffled = {toks("mat the on sat cat")};
  const BleuScore e = corpus_bleu(shuffled, {toks("the cat sat on the mat")});
  CHECK(e.matches == Counts{5, 0, 0, 0});
  CHECK(e.precisions[0] == doctest::Approx(100.0));
  CHECK(e.precisions[1] == doctest::Approx(100.0 / (2 * 4)));
  CHECK(e.precisions[2] == doctest::Approx(100.0 / (4 * 3)));
  CHECK(e.precisions[3] == doctest::Approx(100.0 / (8 * 2)));
  CHECK(e.brevity_penalty == doctest::Approx(std::exp(1.0 - 6.0 / 5.0)));
  const BleuScore n = corpus_bleu(shuffled, {toks("the cat sat on the mat")}, BleuSmoothing::none);
  CHECK(n.score == 0.0);
  CHECK(n.precisions == std::array<double, 4>{100.0, 0.0, 0.0, 0.0});

  // Hypotheses shorter than 4 tokens have no 4-gram: 0 with either smoothing, as sacreBLEU.
  const BleuScore tiny = corpus_bleu({toks("the cat")}, {toks("the cat")});
  CHECK(tiny.totals == Counts{2, 1, 0, 0});
  CHECK(tiny.score == 0.0);
  CHECK(tiny.precisions == std::array<double, 4>{100.0, 100.0, 0.0, 0.0});

  // No match at all: 0, and precisions 0.
  const BleuScore miss = corpus_bleu({toks("a b c d")}, {toks("w x y z")});
  CHECK(miss.score == 0.0);
  CHECK(miss.precisions == std::array<double, 4>{});

  // An empty corpus, and empty hypotheses against empty references: brevity penalty 1 (the
  // hypotheses are not shorter), score 0.
  const BleuScore empty = corpus_bleu(TokenLists{}, TokenLists{});
  CHECK(empty.score == 0.0);
  CHECK(empty.brevity_penalty == 1.0);
  CHECK(empty.to_string() ==
        "BLEU = 0.00 0.0/0.0/0.0/0.0 (BP = 1.000 ratio = 0.000 hyp_len = 0 ref_len = 0)");
  CHECK(corpus_bleu(TokenLists{{}}, TokenLists{{}}).brevity_penalty == 1.0);
  // Empty hypotheses against words: brevity penalty 0.
  CHECK(corpus_bleu(TokenLists{{}}, TokenLists{{"a"}}).brevity_penalty == 0.0);

  // The closest reference length, the shorter on a tie; a longer hypothesis has BP 1.
  const TokenLists six = {toks("the cat sat on the mat")};
  CHECK(corpus_bleu(six, std::vector<TokenLists>{{toks("a b c d e f g h"), toks("a b c d")}})
            .reference_length == 4);
  CHECK(corpus_bleu(six, std::vector<TokenLists>{{toks("a b c d e f g"), toks("a b c")}})
            .reference_length == 7);
}

TEST_CASE("corpus BLEU errors name the counts and the hypothesis") {
  const TokenLists two = {toks("a b"), toks("c d")};
  TG_CHECK_CONTAINS(message_of<value_error>([&] { corpus_bleu(two, TokenLists{toks("a b")}); }),
                    "corpus_bleu: 2 hypotheses but 1 references");
  TG_CHECK_CONTAINS(
      message_of<value_error>([&] { corpus_bleu(two, std::vector<TokenLists>{{toks("a")}}); }),
      "corpus_bleu: 2 hypotheses but 1 references");
  TG_CHECK_CONTAINS(message_of<value_error>([&] {
                      corpus_bleu(two, std::vector<TokenLists>{{toks("a")}, {}});
                    }),
                    "corpus_bleu: hypothesis 1 has no reference");
}

// ---- exact match and token accuracy ----

TEST_CASE("exact match: the fraction of hypotheses equal to their reference") {
  const TokenLists refs = {toks("a b c"), toks("d e"), toks("f"), {}};
  CHECK(exact_match(refs, refs) == 1.0);
  CHECK(exact_match({toks("a b c"), toks("d"), toks("f g"), {}}, refs) == 0.5);
  CHECK(exact_match({toks("a b c"), toks("d e"), toks("F"), toks("x")}, refs) == 0.5);
  CHECK(exact_match(TokenLists{}, TokenLists{}) == 0.0);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { exact_match({toks("a")}, refs); }),
                    "exact_match: 1 hypotheses but 4 references");
}

TEST_CASE("exact match with several references: equal to any of them") {
  // "you are tired" is "tu es fatigué" or "tu es fatiguée".
  const std::vector<TokenLists> refs = {{toks("tu es fatigué"), toks("tu es fatiguée")},
                                        {toks("elle est là")}};
  CHECK(exact_match({toks("tu es fatiguée"), toks("elle est là")}, refs) == 1.0);
  CHECK(exact_match({toks("tu es fatigué"), toks("elle est")}, refs) == 0.5);
  CHECK(exact_match({toks("tu es fatigués"), toks("elle")}, refs) == 0.0);
  const std::vector<TokenLists> none = {{}, {toks("elle est là")}};  // no reference: no match
  CHECK(exact_match({toks("tu"), toks("elle est là")}, none) == 0.5);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { exact_match({toks("a")}, refs); }),
                    "exact_match: 1 hypotheses but 2 references");
}

TEST_CASE("token accuracy: position-wise matches over the references' tokens") {
  // Sentence 1: 2 of 3 (b != x); sentence 2: 1 of 3 (the hypothesis stops early);
  // sentence 3: 2 of 2 (the extra token is not counted); sentence 4: no reference token.
  const TokenLists refs = {toks("a b c"), toks("d e f"), toks("g h"), {}};
  const TokenLists hyps = {toks("a x c"), toks("d"), toks("g h i"), toks("j")};
  CHECK(token_accuracy(hyps, refs) == doctest::Approx(5.0 / 8.0));
  CHECK(token_accuracy(refs, refs) == 1.0);
  // Shifted by one position, nothing matches: the measure is position-wise.
  CHECK(token_accuracy({toks("z a b c")}, {toks("a b c")}) == 0.0);
  CHECK(token_accuracy({toks("a")}, TokenLists{{}}) == 0.0);
  TG_CHECK_CONTAINS(message_of<value_error>([&] { token_accuracy(hyps, {toks("a")}); }),
                    "token_accuracy: 4 hypotheses but 1 references");

  // Padded [T, B] ids: the targets' padding (0) is left out.
  IndexArray targets = {{5, 7, 4}, {6, 3, 0}, {2, 0, 0}};
  IndexArray predicted = {{5, 7, 9}, {6, 1, 8}, {2, 0, 9}};
  // Counted: (0,0) (0,1) (0,2) (1,0) (1,1) (2,0) = 6; matches: 5, 7, 6, 2 = 4.
  CHECK(token_accuracy(predicted, targets, 0) == doctest::Approx(4.0 / 6.0));
  CHECK(token_accuracy(targets, targets, 0) == 1.0);
  // The same positions as the lists: each column is a sentence cut at its padding.
  const TokenLists ref_cols = {toks("5 6 2"), toks("7 3"), toks("4")};
  const TokenLists hyp_cols = {toks("5 6 2"), toks("7 1"), toks("9")};
  CHECK(token_accuracy(hyp_cols, ref_cols) == token_accuracy(predicted, targets, 0));
  const IndexArray all_pad = {{0, 0}};
  CHECK(token_accuracy(all_pad, all_pad, 0) == 0.0);
  CHECK(token_accuracy(predicted, targets, -1) == doctest::Approx(5.0 / 9.0));  // no padding
  TG_CHECK_CONTAINS(message_of<value_error>([&] { token_accuracy(predicted, all_pad, 0); }),
                    "token_accuracy: predicted [3,3] and targets [1,2] differ in shape");
}

TEST_CASE("a decoder's ids to BLEU: decode with the specials, then score") {
  const Vocabulary vocab = Vocabulary::build({toks("the cat sat on the mat")},
                                             Specials{"<pad>", "<unk>", "<sos>", "<eos>"});
  EncodeOptions wrap;
  wrap.add_sos = wrap.add_eos = true;
  std::vector<Index> output = vocab.encode(toks("the cat sat on the mat"), wrap);
  output.push_back(vocab.pad_id());
  output.push_back(vocab.id("cat"));  // after <eos>: not part of the translation
  DecodeOptions clean;
  clean.skip_sos = clean.skip_padding = clean.stop_at_eos = true;
  const TokenLists hyps = {vocab.decode(output, clean)};
  CHECK(hyps[0] == toks("the cat sat on the mat"));
  CHECK(corpus_bleu(hyps, {toks("the cat sat on the mat")}).score == doctest::Approx(100.0));
  CHECK(exact_match(hyps, {toks("the cat sat on the mat")}) == 1.0);
}
