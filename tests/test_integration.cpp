// Parts used together as a program uses them, through the one-line target tapegrad::tapegrad:
// what tapegrad::data makes, tapegrad::nn takes as it is.
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/nn.hpp"

using tapegrad::Index;
using tapegrad_test::TempDir;
using namespace tapegrad::data;

namespace {

using Ids = std::vector<Index>;

}  // namespace

TEST_CASE("a labelled file to batches that an Embedding and an LSTM take as they are") {
  TempDir dir;
  std::string tsv = "label\ttext\n";
  const char* const reviews[] = {"Great movie, loved it!", "Awful. Boring plot.",
                                 "Loved the acting", "Boring and awful", "A great, great film"};
  for (int i = 0; i < 20; ++i) {
    tsv += (i % 5 == 1 || i % 5 == 3 ? "neg\t" : "pos\t") + std::string(reviews[i % 5]) + "\n";
  }
  const LabelledText data = read_labelled_text(dir.write("reviews.tsv", tsv));
  REQUIRE(data.size() == 20);
  const Split split = stratified_split(data.labels);
  const Tokenizer tokenize;
  const Vocabulary vocab =
      Vocabulary::build(tokenize.tokenize_all(select(data.texts, split.train)), 2);
  const std::vector<Ids> ids = vocab.encode_all(tokenize.tokenize_all(data.texts));
  const std::vector<Ids> train_ids = select(ids, split.train);
  const Ids train_labels = select(data.labels, split.train);

  tapegrad::Generator gen(0);
  tapegrad::nn::Embedding<float> embed(vocab.size(), 4, vocab.pad_id(), gen);
  tapegrad::nn::LSTM<float> lstm(tapegrad::nn::RNNOptions(4, 3), gen);
  tapegrad::nn::Linear<float> head(3, data.label_set.size(), true, gen);
  BatchOptions options;
  options.batch_size = 6;
  options.bucket_batches = 2;
  BatchIterator batches(train_ids, train_labels, options);
  ConfusionMatrix cm(data.label_set.size());
  std::size_t seen = 0;
  for (const Batch& batch : batches.epoch()) {
    const auto x = embed(batch.ids);  // [T, B, 4]
    CHECK(x.shape() == tapegrad::make_shape({batch.ids.shape()[0], batch.size(), 4}));
    const auto out = lstm(x, batch.lengths);
    const auto logits = head(tapegrad::select(out.h_n, 0, 0));  // [B, classes]
    cm.add_batch(batch.targets, argmax_rows(logits.value()));
    seen += batch.size();
  }
  CHECK(seen == 16);
  CHECK(cm.total() == 16);
}
