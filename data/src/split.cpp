#include "tapegrad/data/split.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>

#include "data_detail.hpp"

namespace tapegrad::data {

namespace {

using Fractions = std::array<double, 3>;

Fractions checked_fractions(const char* op, const SplitOptions& o) {
  const Fractions f{o.train, o.valid, o.test};
  const double sum = f[0] + f[1] + f[2];
  const bool in_range = std::all_of(f.begin(), f.end(), [](double x) { return x >= 0 && x <= 1; });
  if (!in_range || !(f[0] > 0) || !(std::abs(sum - 1.0) <= 1e-6)) {
    throw value_error(fmt::format(
        "{}: fractions must be in [0, 1] with train > 0 and sum to 1, got train {}, valid {}, "
        "test {} (sum {:.6g})",
        op, o.train, o.valid, o.test, sum));
  }
  return f;
}

// Splits `n` into three counts near n * f (`carry` adds the rounding left over from earlier
// classes, and receives this call's): floors, then the remaining units to the largest
// remainders, ties in part order, never to a part of fraction 0.
std::array<std::size_t, 3> apportion(std::size_t n, const Fractions& f, Fractions& carry) {
  std::array<std::size_t, 3> counts{};
  Fractions ideal{}, remainder{};
  std::size_t assigned = 0;
  for (std::size_t s = 0; s < 3; ++s) {
    ideal[s] = static_cast<double>(n) * f[s] + carry[s];
    const double fl = std::floor(ideal[s] + 1e-9);
    counts[s] = fl > 0 ? static_cast<std::size_t>(fl) : 0;
    assigned += counts[s];
  }
  while (assigned > n) {  // rounding noise only: take from the part furthest above its ideal
    std::size_t worst = 0;
    double over = -1e300;
    for (std::size_t s = 0; s < 3; ++s) {
      const double d = static_cast<double>(counts[s]) - ideal[s];
      if (counts[s] > 0 && d > over) {
        over = d;
        worst = s;
      }
    }
    --counts[worst];
    --assigned;
  }
  while (assigned < n) {
    std::size_t best = 3;
    double most = -1e300;
    for (std::size_t s = 0; s < 3; ++s) {
      remainder[s] = ideal[s] - static_cast<double>(counts[s]);
      if (f[s] > 0 && remainder[s] > most + 1e-12) {
        most = remainder[s];
        best = s;
      }
    }
    ++counts[best];
    ++assigned;
  }
  for (std::size_t s = 0; s < 3; ++s) carry[s] = ideal[s] - static_cast<double>(counts[s]);
  return counts;
}

void deal(std::vector<std::size_t>& items, const std::array<std::size_t, 3>& counts, Split& out) {
  std::vector<std::size_t>* parts[3] = {&out.train, &out.valid, &out.test};
  std::size_t pos = 0;
  for (std::size_t s = 0; s < 3; ++s) {
    parts[s]->insert(parts[s]->end(), items.begin() + static_cast<std::ptrdiff_t>(pos),
                     items.begin() + static_cast<std::ptrdiff_t>(pos + counts[s]));
    pos += counts[s];
  }
}

void sort_parts(Split& split) {
  std::sort(split.train.begin(), split.train.end());
  std::sort(split.valid.begin(), split.valid.end());
  std::sort(split.test.begin(), split.test.end());
}

}  // namespace

Split split_indices(std::size_t n, const SplitOptions& options) {
  const Fractions f = checked_fractions("split_indices", options);
  Generator generator(options.seed);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  detail::shuffle(order, generator);
  Fractions carry{};
  Split split;
  deal(order, apportion(n, f, carry), split);
  sort_parts(split);
  return split;
}

Split stratified_split(const std::vector<Index>& labels, const SplitOptions& options) {
  const Fractions f = checked_fractions("stratified_split", options);
  std::map<Index, std::vector<std::size_t>> classes;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) {
      throw value_error(
          fmt::format("stratified_split: label {} at position {} is negative", labels[i], i));
    }
    classes[labels[i]].push_back(i);
  }
  Generator generator(options.seed);
  Fractions carry{};
  Split split;
  for (auto& [label, members] : classes) {
    detail::shuffle(members, generator);
    deal(members, apportion(members.size(), f, carry), split);
  }
  sort_parts(split);
  return split;
}

}  // namespace tapegrad::data
