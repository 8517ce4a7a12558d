#include "tapegrad/data/translation_metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "data_detail.hpp"

namespace tapegrad::data {

namespace {

using TokenLists = std::vector<std::vector<std::string>>;

double ratio(std::size_t num, std::size_t den) {
  return den == 0 ? 0.0 : static_cast<double>(num) / static_cast<double>(den);
}

void check_sizes(const char* op, std::size_t hypotheses, std::size_t references) {
  if (hypotheses != references) {
    throw value_error(
        fmt::format("{}: {} hypotheses but {} references", op, hypotheses, references));
  }
}

// Tokens as small integers, so that an n-gram is the bytes of up to four of them: a key
// without the ambiguity of joining tokens with a separator.
class Interner {
 public:
  std::vector<std::uint32_t> ids(const std::vector<std::string>& tokens) {
    std::vector<std::uint32_t> out;
    out.reserve(tokens.size());
    for (const std::string& t : tokens) {
      out.push_back(ids_.emplace(t, static_cast<std::uint32_t>(ids_.size())).first->second);
    }
    return out;
  }

 private:
  std::unordered_map<std::string, std::uint32_t> ids_;
};

using NgramCounts = std::unordered_map<std::string, std::size_t>;

// The n-grams of `ids` of order n (1-based) with their counts.
NgramCounts count_ngrams(const std::vector<std::uint32_t>& ids, std::size_t n) {
  NgramCounts counts;
  for (std::size_t i = 0; i + n <= ids.size(); ++i) {
    std::string key(n * sizeof(std::uint32_t), '\0');
    std::memcpy(key.data(), ids.data() + i, key.size());
    ++counts[key];
  }
  return counts;
}

// The reference length closest to `hyp_len`, the shorter on a tie (sacreBLEU's
// _get_closest_ref_len, NLTK's closest_ref_length).
std::size_t closest_length(std::size_t hyp_len, const TokenLists& references) {
  std::size_t best = references.front().size();
  const auto distance = [&](std::size_t len) {
    return len > hyp_len ? len - hyp_len : hyp_len - len;
  };
  for (const auto& reference : references) {
    const std::size_t len = reference.size();
    if (distance(len) < distance(best) || (distance(len) == distance(best) && len < best)) {
      best = len;
    }
  }
  return best;
}

// sacreBLEU's BLEU.compute_bleu from the corpus statistics in `s`, max_ngram_order 4,
// effective_order off.
void compute_score(BleuScore& s, BleuSmoothing smoothing) {
  const double c = static_cast<double>(s.hypothesis_length);
  const double r = static_cast<double>(s.reference_length);
  s.brevity_penalty = c < r ? (c > 0 ? std::exp(1.0 - r / c) : 0.0) : 1.0;
  s.precisions.fill(0.0);
  s.score = 0.0;
  if (std::all_of(s.matches.begin(), s.matches.end(), [](std::size_t m) { return m == 0; })) {
    return;
  }
  double smooth = 1.0;  // 2^k for the k-th order without a match
  for (std::size_t n = 0; n < bleu_max_order; ++n) {
    if (s.totals[n] == 0) break;  // no n-gram of this order, nor higher: the score stays 0
    const auto total = static_cast<double>(s.totals[n]);
    if (s.matches[n] > 0) {
      s.precisions[n] = 100.0 * static_cast<double>(s.matches[n]) / total;
    } else if (smoothing == BleuSmoothing::exp) {
      smooth *= 2.0;
      s.precisions[n] = 100.0 / (smooth * total);
    }
  }
  // sacreBLEU takes log 0 as -9999999999, so that a zero precision makes exp() of the mean 0.
  if (std::any_of(s.precisions.begin(), s.precisions.end(), [](double p) { return p == 0.0; })) {
    return;
  }
  double log_sum = 0.0;
  for (const double p : s.precisions) log_sum += std::log(p);
  s.score = s.brevity_penalty * std::exp(log_sum / static_cast<double>(bleu_max_order));
}

}  // namespace

std::string BleuScore::to_string() const {
  const double length_ratio = ratio(hypothesis_length, reference_length);
  return fmt::format(
      "BLEU = {:.2f} {:.1f}/{:.1f}/{:.1f}/{:.1f} (BP = {:.3f} ratio = {:.3f} hyp_len = {} "
      "ref_len = {})",
      score, precisions[0], precisions[1], precisions[2], precisions[3], brevity_penalty,
      length_ratio, hypothesis_length, reference_length);
}

BleuScore corpus_bleu(const std::vector<std::vector<std::string>>& hypotheses,
                      const std::vector<std::vector<std::string>>& references,
                      BleuSmoothing smoothing) {
  check_sizes("corpus_bleu", hypotheses.size(), references.size());
  std::vector<TokenLists> wrapped;
  wrapped.reserve(references.size());
  for (const auto& reference : references) wrapped.push_back({reference});
  return corpus_bleu(hypotheses, wrapped, smoothing);
}

BleuScore corpus_bleu(const std::vector<std::vector<std::string>>& hypotheses,
                      const std::vector<std::vector<std::vector<std::string>>>& references,
                      BleuSmoothing smoothing) {
  check_sizes("corpus_bleu", hypotheses.size(), references.size());
  for (std::size_t s = 0; s < references.size(); ++s) {
    if (references[s].empty()) {
      throw value_error(fmt::format("corpus_bleu: hypothesis {} has no reference", s));
    }
  }
  BleuScore score;
  Interner interner;
  for (std::size_t s = 0; s < hypotheses.size(); ++s) {
    const std::vector<std::uint32_t> hyp = interner.ids(hypotheses[s]);
    std::vector<std::vector<std::uint32_t>> refs;
    refs.reserve(references[s].size());
    for (const auto& reference : references[s]) refs.push_back(interner.ids(reference));
    for (std::size_t n = 1; n <= bleu_max_order; ++n) {
      const NgramCounts hyp_counts = count_ngrams(hyp, n);
      // Each hypothesis n-gram matches at most as often as the reference with most of it has it.
      NgramCounts max_ref;
      for (const auto& ref : refs) {
        for (const auto& [ngram, count] : count_ngrams(ref, n)) {
          if (hyp_counts.count(ngram) == 0) continue;
          std::size_t& best = max_ref[ngram];
          best = std::max(best, count);
        }
      }
      std::size_t matched = 0;
      for (const auto& [ngram, count] : hyp_counts) {
        const auto it = max_ref.find(ngram);
        if (it != max_ref.end()) matched += std::min(count, it->second);
      }
      score.matches[n - 1] += matched;
      score.totals[n - 1] += hyp.size() >= n ? hyp.size() - n + 1 : 0;
    }
    score.hypothesis_length += hyp.size();
    score.reference_length += closest_length(hyp.size(), references[s]);
  }
  compute_score(score, smoothing);
  return score;
}

double exact_match(const std::vector<std::vector<std::string>>& hypotheses,
                   const std::vector<std::vector<std::string>>& references) {
  check_sizes("exact_match", hypotheses.size(), references.size());
  std::size_t equal = 0;
  for (std::size_t s = 0; s < hypotheses.size(); ++s) {
    if (hypotheses[s] == references[s]) ++equal;
  }
  return ratio(equal, hypotheses.size());
}

double exact_match(const std::vector<std::vector<std::string>>& hypotheses,
                   const std::vector<std::vector<std::vector<std::string>>>& references) {
  check_sizes("exact_match", hypotheses.size(), references.size());
  std::size_t equal = 0;
  for (std::size_t s = 0; s < hypotheses.size(); ++s) {
    const auto& refs = references[s];
    if (std::find(refs.begin(), refs.end(), hypotheses[s]) != refs.end()) ++equal;
  }
  return ratio(equal, hypotheses.size());
}

double token_accuracy(const std::vector<std::vector<std::string>>& hypotheses,
                      const std::vector<std::vector<std::string>>& references) {
  check_sizes("token_accuracy", hypotheses.size(), references.size());
  std::size_t matched = 0, counted = 0;
  for (std::size_t s = 0; s < hypotheses.size(); ++s) {
    const auto& hyp = hypotheses[s];
    const auto& ref = references[s];
    counted += ref.size();
    for (std::size_t i = 0; i < std::min(hyp.size(), ref.size()); ++i) {
      if (hyp[i] == ref[i]) ++matched;
    }
  }
  return ratio(matched, counted);
}

double token_accuracy(const IndexArray& predicted, const IndexArray& targets, Index pad_id) {
  if (predicted.shape() != targets.shape()) {
    throw value_error(fmt::format("token_accuracy: predicted {} and targets {} differ in shape",
                                  shape_str(predicted.shape()), shape_str(targets.shape())));
  }
  std::size_t matched = 0, counted = 0;
  auto p = predicted.begin();
  for (auto t = targets.begin(); t != targets.end(); ++t, ++p) {
    if (*t == pad_id) continue;
    ++counted;
    if (*p == *t) ++matched;
  }
  return ratio(matched, counted);
}

}  // namespace tapegrad::data
