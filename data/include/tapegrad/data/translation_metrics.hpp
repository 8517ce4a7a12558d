/// @file
/// Metrics of generated sequences against references: corpus BLEU as sacreBLEU defines it, the
/// exact-match rate and position-wise token accuracy. They take token lists (the caller
/// tokenises, e.g. Vocabulary::decode of a model's ids) or padded id arrays.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "tapegrad/autograd/array.hpp"

namespace tapegrad::data {

/// What corpus_bleu puts in place of an n-gram precision without a match.
enum class BleuSmoothing {
  /// sacreBLEU's default ("exp", NIST's geometric smoothing of mteval-v13a.pl; NLTK's
  /// SmoothingFunction().method3): the k-th order without a match, counting from 1, gets the
  /// precision 1 / (2^k * its n-gram count).
  exp,
  /// sacreBLEU's "none": an order without a match makes the score 0.
  none,
};

/// The highest n-gram order of corpus_bleu.
inline constexpr std::size_t bleu_max_order = 4;

/// A corpus BLEU score with its statistics, on sacreBLEU's scales (percent), so
/// `to_string()` prints what sacreBLEU prints; NLTK, torchtext and torchmetrics give score / 100.
struct BleuScore {
  double score = 0.0;  ///< BLEU in [0, 100]: brevity_penalty * geometric mean of the precisions
  /// The n-gram precisions in percent, n = 1 .. 4, as the score used them (smoothed); 0 for an
  /// order the score did not reach (no match at all, or no hypothesis n-gram of that order).
  std::array<double, bleu_max_order> precisions{};
  /// exp(1 - reference_length / hypothesis_length) when the hypotheses are shorter, else 1; 0
  /// for empty hypotheses against non-empty references.
  double brevity_penalty = 0.0;
  std::size_t hypothesis_length = 0;  ///< the hypotheses' tokens (sacreBLEU's sys_len)
  /// The sum over sentences of the closest reference length (sacreBLEU's ref_len).
  std::size_t reference_length = 0;
  /// Clipped n-gram matches over the corpus, n = 1 .. 4 (sacreBLEU's counts).
  std::array<std::size_t, bleu_max_order> matches{};
  /// The hypotheses' n-grams over the corpus, n = 1 .. 4 (sacreBLEU's totals).
  std::array<std::size_t, bleu_max_order> totals{};

  /// sacreBLEU's line, e.g. "BLEU = 53.73 83.3/60.0/50.0/33.3 (BP = 1.000 ratio = 1.000
  /// hyp_len = 6 ref_len = 6)"; ratio = hypothesis_length / reference_length (0 without
  /// references' tokens).
  std::string to_string() const;
};

/// @{
/// Corpus BLEU of token lists (Papineni et al. 2002) exactly as sacreBLEU's corpus_bleu
/// computes it from tokens (its tokenize="none"), with one or more references per hypothesis:
///
/// - n-grams of orders 1 to 4, weighted uniformly (a geometric mean of four precisions);
/// - each order's precision is matches / totals summed over the corpus, a hypothesis n-gram
///   matching at most as often as it occurs in the reference that has it most often (clipping);
/// - brevity penalty over the corpus, from the summed hypothesis length c and the summed
///   reference length r: exp(1 - r / c) when c < r, else 1; for each sentence r counts the
///   reference whose length is closest to the hypothesis's, the shorter one on a tie (as
///   sacreBLEU and NLTK);
/// - no match of any order gives 0, and so does an order without any hypothesis n-gram (a
///   corpus of hypotheses shorter than 4 tokens), with either smoothing;
/// - `smoothing` for an order with n-grams but no match (BleuSmoothing).
///
/// `references[s]` are the references of `hypotheses[s]` (NLTK's list_of_references layout;
/// sacreBLEU takes one stream per reference instead). An empty corpus scores 0. A different
/// number of hypotheses and references, or a hypothesis without a reference, is a value_error.
///
/// ```
///   std::vector<std::vector<std::string>> hyps = {{"the", "cat", "sat", "on", "the", "mat"}};
///   std::vector<std::vector<std::string>> refs = {{"the", "cat", "sat", "on", "a", "mat"}};
///   corpus_bleu(hyps, refs).score  // 53.73: precisions 5/6, 3/5, 2/4, 1/3, BP 1
/// ```
BleuScore corpus_bleu(const std::vector<std::vector<std::string>>& hypotheses,
                      const std::vector<std::vector<std::string>>& references,
                      BleuSmoothing smoothing = BleuSmoothing::exp);
BleuScore corpus_bleu(const std::vector<std::vector<std::string>>& hypotheses,
                      const std::vector<std::vector<std::vector<std::string>>>& references,
                      BleuSmoothing smoothing = BleuSmoothing::exp);
/// @}

/// @{
/// The fraction of hypotheses equal to their reference, token by token (0 for none); with
/// several references per hypothesis (`references[s]`, as corpus_bleu), equal to any of them.
/// A different number of hypotheses and references is a value_error.
double exact_match(const std::vector<std::vector<std::string>>& hypotheses,
                   const std::vector<std::vector<std::string>>& references);
double exact_match(const std::vector<std::vector<std::string>>& hypotheses,
                   const std::vector<std::vector<std::vector<std::string>>>& references);
/// @}

/// Position-wise token accuracy over the references' positions: for each sentence s and each
/// position i < len(references[s]), whether hypotheses[s][i] exists and equals
/// references[s][i]; the matches over all the references' tokens (0 for none). A hypothesis
/// shorter than its reference misses the positions it lacks; tokens past the reference's end
/// are not counted (exact_match and BLEU see them). A different number of hypotheses and
/// references is a value_error.
double token_accuracy(const std::vector<std::vector<std::string>>& hypotheses,
                      const std::vector<std::vector<std::string>>& references);

/// The same over padded id arrays of one shape, e.g. the argmax of a decoder's logits against the
/// targets [T, B]: the positions where `targets` is pad_id are left out, the others count
/// a match when `predicted` equals `targets` there (PyTorch: `(pred == tgt)[tgt != pad].mean()`;
/// 0 when every position is padding). Shapes that differ are a value_error naming both.
double token_accuracy(const IndexArray& predicted, const IndexArray& targets, Index pad_id);

}  // namespace tapegrad::data
