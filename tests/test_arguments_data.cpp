// Bad arguments to tapegrad::data's utilities (the tables: arguments.hpp).
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "tapegrad/data.hpp"

namespace data = tapegrad::data;
using namespace tapegrad_test::arguments;  // Bad, expect_rejected, Array, Var, ...

TEST_CASE("arguments: data utilities reject zero batch sizes, bad fractions, labels and ids") {
  const std::vector<std::vector<Index>> seqs{{2, 3}, {4}};
  const std::vector<std::vector<Index>> with_empty{{2, 3}, {}};
  const std::vector<Index> three_labels{0, 1, 0};
  const std::vector<Index> two_labels{0, 1};
  tapegrad::Generator g(1);
  const auto batching = [](std::size_t batch_size) {
    data::BatchOptions o;
    o.batch_size = batch_size;
    return o;
  };
  const auto split = [](double train, double valid, double test) {
    data::SplitOptions o;
    o.train = train;
    o.valid = valid;
    o.test = test;
    return o;
  };
  const data::Vocabulary vocab({"<pad>", "<unk>", "a", "b"});
  const data::LabelSet labels({"negative", "positive"});
  data::ConfusionMatrix cm(3);
  const auto progress = [](double interval) {
    data::ProgressOptions o;
    o.min_interval = interval;
    return o;
  };
  std::ostringstream out;
  expect_rejected<tapegrad::value_error>({
      {"batch_indices batch_size 0",
       [&] {
         data::batch_indices({1, 2}, batching(0), g);
       },
       "batch_size is 0"},
      {"BatchIterator batch_size 0", [&] { data::BatchIterator it(seqs, two_labels, batching(0)); },
       "batch_size is 0"},
      {"BatchIterator 3 labels for 2 sequences",
       [&] { data::BatchIterator it(seqs, three_labels); }, "3 labels for 2 sequences"},
      {"BatchIterator empty sequence", [&] { data::BatchIterator it(with_empty); },
       "sequence 1 is empty"},
      {"pad_sequences empty sequence", [&] { data::pad_sequences(with_empty); },
       "sequence 1 is empty"},
      {"make_batch index 5 of 2",
       [&] {
         data::make_batch(seqs, two_labels, {0, 5});
       },
       "index 5"},
      {"make_batch 3 labels for 2 sequences", [&] { data::make_batch(seqs, three_labels, {0}); },
       "3 labels for 2 sequences"},
      {"split_indices train 0", [&] { data::split_indices(10, split(0, 0.5, 0.5)); }, "train 0,"},
      {"split_indices valid -0.1", [&] { data::split_indices(10, split(0.9, -0.1, 0.2)); },
       "valid -0.1"},
      {"split_indices sum 1.2", [&] { data::split_indices(10, split(0.8, 0.2, 0.2)); }, "sum 1.2"},
      {"split_indices test nan", [&] { data::split_indices(10, split(0.8, 0.2, not_a_number)); },
       "test nan"},
      {"stratified_split label -1",
       [&] {
         data::stratified_split({0, -1, 1});
       },
       "label -1 at position 1"},
      {"select index 3 of 2", [&] { data::select(two_labels, std::vector<std::size_t>{3}); },
       "index 3 is out of range for 2"},
      {"Vocabulary::token(-1)", [&] { vocab.token(-1); }, "id -1"},
      {"Vocabulary::decode id 4 of 4",
       [&] {
         vocab.decode({2, 4});
       },
       "id 4 at position 1"},
      {"Vocabulary::build max_size 1", [&] { data::Vocabulary::build({{"a"}}, 1, 1); },
       "max_size 1"},
      {"Vocabulary::sos_id without <sos>", [&] { vocab.sos_id(); }, "has no sos token"},
      {"Vocabulary::is_special(4)", [&] { vocab.is_special(4); }, "id 4 is outside [0, 4)"},
      {"Specials duplicate",
       [] {
         data::Specials{"<pad>", "<pad>"};
       },
       "token 1 '<pad>'"},
      {"Specials::set on a token that is not special",
       [] { data::Specials().set(data::SpecialRole::eos, "a"); }, "'a' is not one of the"},
      {"corpus_bleu 1 hypothesis, 2 references",
       [] {
         data::corpus_bleu({{"a"}}, std::vector<std::vector<std::string>>{{"a"}, {"b"}});
       },
       "1 hypotheses but 2 references"},
      {"corpus_bleu no reference",
       [] { data::corpus_bleu({{"a"}}, std::vector<std::vector<std::vector<std::string>>>{{}}); },
       "hypothesis 0 has no reference"},
      {"exact_match 0 vs 1", [] { data::exact_match({}, {{"a"}}); }, "0 hypotheses but 1"},
      {"token_accuracy 1 vs 0", [] { data::token_accuracy({{"a"}}, {}); }, "1 hypotheses but 0"},
      {"token_accuracy [2] vs [3]",
       [] {
         data::token_accuracy(IndexArray{1, 2}, IndexArray{1, 2, 3}, 0);
       },
       "predicted [2] and targets [3] differ in shape"},
      {"LabelSet::id unknown", [&] { labels.id("neutral"); }, "unknown label 'neutral'"},
      {"LabelSet::name(2)", [&] { labels.name(2); }, "id 2 is outside [0, 2)"},
      {"LabelSet::name(-1)", [&] { labels.name(-1); }, "id -1"},
      {"LabelSet duplicate",
       [] {
         data::LabelSet({"a", "b", "a"});
       },
       "label 2 'a'"},
      {"Column(-2)", [] { data::Column c(-2); }, "index -2"},
      {"ConfusionMatrix(0)", [] { data::ConfusionMatrix m(0); }, "num_classes is 0"},
      {"ConfusionMatrix::add truth 3 of 3", [&] { cm.add(3, 0); }, "= 3 is outside [0, 3)"},
      {"ConfusionMatrix::add predicted -1", [&] { cm.add(0, -1); }, "= -1 is outside"},
      {"ConfusionMatrix::add 2 vs 1 classes",
       [&] {
         cm.add({0, 1}, {0});
       },
       "2 true classes but 1 predicted"},
      {"ConfusionMatrix::report digits -1", [&] { cm.report({}, -1); }, "digits -1"},
      {"ConfusionMatrix::report 2 names for 3",
       [&] {
         cm.report({"a", "b"});
       },
       "2 names given for 3 classes"},
      {"accuracy 2 vs 3",
       [] {
         data::accuracy({0, 1}, {0, 1, 1});
       },
       "2 true classes but 3 predicted"},
      {"argmax_rows [2,0]",
       [] {
         data::argmax_rows(Array<float>::from_shape({2, 0}));
       },
       "got [2,0]"},
      {"ProgressLine min_interval -1", [&] { data::ProgressLine p(out, 10, progress(-1)); },
       "min_interval -1"},
      {"ProgressLine min_interval nan",
       [&] { data::ProgressLine p(out, 10, progress(not_a_number)); }, "min_interval nan"},
  });
  CHECK(cm.total() == 0);  // the rejected adds added nothing
  expect_accepted({
      {"split_indices train 1",
       [] {
         data::split_indices(10, {1.0, 0.0, 0.0, 0});
       }},
      {"batch_indices batch_size 1",
       [&] {
         data::batch_indices({1, 2}, batching(1), g);
       }},
      {"BatchIterator without labels", [&] { data::BatchIterator it(seqs); }},
      {"ProgressLine min_interval 0", [&] { data::ProgressLine p(out, 0, progress(0)); }},
      {"ConfusionMatrix::add 2, 2", [&] { cm.add(2, 2); }},
  });
}
