// Tutorial 2: the Keras text classifier, Embedding -> LSTM -> Dense(softmax), on product
// reviews labelled negative, neutral or positive, then scikit-learn's classification report.
// The reviews are generated here (seeded) from a small grammar in which word order matters:
// "not" turns a clause around ("the battery is not bad" is positive), and after "but" the second
// clause decides; a bag of words cannot tell "good but slow" from "slow but good". One label in
// twenty is replaced by a random one, as annotators disagree. docs/tutorials.md shows the Keras
// program it follows.
//
//   text_classifier [--epochs N]
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include "guarded_main.hpp"
#include "tutorial.hpp"

using namespace tapegrad;

using Words = std::vector<std::string>;
const Words nouns = {"phone", "battery", "screen", "camera", "speaker", "charger", "case", "price"};
const Words good = {"good", "great", "excellent", "fast", "bright", "solid", "lovely", "fine"};
const Words bad = {"bad", "terrible", "awful", "slow", "weak", "noisy", "poor", "cheap"};
const Words adverbs = {"", "", "very ", "really ", "quite "};
const Words neutral = {"arrived on monday", "came in a box",    "is black",
                       "was a gift",        "is the new model", "came with a manual"};

// A clause and its polarity: -1, 0 (neutral) or +1.
std::pair<std::string, int> clause(std::mt19937_64& rng, bool polar) {
  auto pick = [&](const Words& words) { return words[rng() % words.size()]; };
  if (!polar) return {"the " + pick(nouns) + " " + pick(neutral), 0};
  const int polarity = rng() % 2 ? 1 : -1;
  const bool negated = rng() % 3 == 0;
  std::string text = rng() % 2 ? "the " + pick(nouns) + " is " + (negated ? "not " : "") +
                                     pick(adverbs) + pick(polarity > 0 ? good : bad)
                               : std::string("i ") + (negated ? "do not " : "") +
                                     (polarity > 0 ? "like" : "hate") + " the " + pick(nouns);
  return {text, negated ? -polarity : polarity};
}

// n reviews and their labels, 0 negative, 1 neutral, 2 positive: the annotators' (`labels`), and
// the grammar's (`truth`).
void make_reviews(std::size_t n, std::mt19937_64& rng, Words& texts, std::vector<Index>& labels,
                  std::vector<Index>& truth) {
  for (std::size_t i = 0; i < n; ++i) {
    auto [a, polarity] = clause(rng, rng() % 3 != 0);  // a third of the reviews are neutral
    const std::uint64_t form = rng() % 3;              // a, "a and b" or "a but b"
    if (form > 0) {  // b agrees with a after "and", and turns it around after "but"
      std::pair<std::string, int> b = clause(rng, polarity != 0);
      while (b.second != (form == 1 ? polarity : -polarity)) b = clause(rng, polarity != 0);
      a += (form == 1 ? " and " : " but ") + b.first;
      polarity = b.second;
    }
    texts.push_back(a);
    truth.push_back(polarity + 1);
    labels.push_back(rng() % 20 == 0 ? Index(rng() % 3) : truth.back());
  }
}

// Keras' Sequential([Embedding(vocab, 32, mask_zero=True), LSTM(32), Dense(3)]).
class TextClassifier : public nn::ModuleBase<TextClassifier> {
 public:
  explicit TextClassifier(std::size_t vocab) : embedding_(vocab, 32, /*padding_idx=*/0) {
    register_module("embedding", embedding_);
    register_module("lstm", lstm_);
    register_module("dense", dense_);
  }
  // ids [T, B] (padded), lengths [B] -> logits [B, 3]; softmax(logits) are the probabilities.
  Var<float> forward(const IndexArray& ids, const std::vector<std::size_t>& lengths) const {
    nn::RecurrentOutput<float> out = lstm_(embedding_(ids), lengths);
    return dense_(select(out.h_n, 0, 0));  // the state after each review's last word
  }

 private:
  nn::Embedding<float> embedding_;
  nn::LSTM<float> lstm_{nn::RNNOptions(32, 32)};
  nn::Linear<float> dense_{32, 3};
};

// The mean loss over the batches, and their predictions counted in `cm`.
double evaluate(const TextClassifier& model, data::BatchIterator& batches,
                data::ConfusionMatrix& cm) {
  NoGrad no_grad;
  double total = 0;
  for (const data::Batch& batch : batches.epoch()) {
    Var<float> logits = model(batch.ids, batch.lengths);
    total += cross_entropy(logits, batch.targets).item() * double(batch.size());
    cm.add_batch(batch.targets, data::argmax_rows(logits.value()));
  }
  return total / double(batches.num_examples());
}

int run(int argc, char** argv) {
  const std::size_t epochs = tutorial::parse_args(argc, argv, 10).epochs;
  manual_seed(0);
  std::mt19937_64 rng(0);
  Words texts;
  std::vector<Index> labels, truth;
  make_reviews(5000, rng, texts, labels, truth);
  const Words classes = {"negative", "neutral", "positive"};

  // Tokenizer().fit_on_texts(train), texts_to_sequences, and a stratified 80/10/10 split.
  data::Split split = data::stratified_split(labels, {0.8, 0.1, 0.1, 0});
  data::Tokenizer tokenizer;
  data::Vocabulary vocab =
      data::Vocabulary::build(tokenizer.tokenize_all(data::select(texts, split.train)));
  std::vector<std::vector<Index>> ids = vocab.encode_all(tokenizer.tokenize_all(texts));
  auto part = [&](const std::vector<std::size_t>& idx) { return data::select(ids, idx); };
  const auto train_ids = part(split.train), valid_ids = part(split.valid),
             test_ids = part(split.test);
  const auto train_y = data::select(labels, split.train),
             valid_y = data::select(labels, split.valid), test_y = data::select(labels, split.test);
  // batch_size=32, shuffle=True: the defaults (shuffling does not change an evaluation)
  data::BatchIterator train(train_ids, train_y), valid(valid_ids, valid_y), test(test_ids, test_y);
  std::printf("text_classifier: %zu reviews (train %zu, valid %zu, test %zu), vocabulary %zu\n",
              texts.size(), train_ids.size(), valid_ids.size(), test_ids.size(), vocab.size());
  std::printf("for example: \"%s\" (%s)\n", texts[0].c_str(), classes[labels[0]].c_str());

  TextClassifier model(vocab.size());
  optim::Adam<float> optimizer(model.parameters());  // optimizer="adam"
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = 1; epoch <= epochs; ++epoch) {  // model.fit(epochs=10)
    data::ConfusionMatrix seen(3);
    double total = 0;
    for (const data::Batch& batch : train.epoch()) {
      optimizer.zero_grad();
      Var<float> logits = model(batch.ids, batch.lengths);
      Var<float> loss = cross_entropy(logits, batch.targets);  // sparse_categorical_crossentropy
      loss.backward();
      optimizer.step();
      total += loss.item() * double(batch.size());
      seen.add_batch(batch.targets, data::argmax_rows(logits.value()));
    }
    data::ConfusionMatrix cm(3);
    const double val_loss = evaluate(model, valid, cm);
    std::printf(
        "epoch %2zu/%zu - loss: %.4f - accuracy: %.4f - val_loss: %.4f - val_accuracy: %.4f\n",
        epoch, epochs, total / double(train_ids.size()), seen.accuracy(), val_loss, cm.accuracy());
  }
  const double seconds = tutorial::seconds_since(start);

  data::ConfusionMatrix cm(3);
  evaluate(model, test, cm);
  const std::vector<Index> test_truth = data::select(truth, split.test);
  data::BatchIterator clean(test_ids, test_truth);
  data::ConfusionMatrix against_truth(3);
  evaluate(model, clean, against_truth);
  std::printf("\ntest (trained in %.1f s):\n%s\n%s\n", seconds, cm.report(classes, 3).c_str(),
              cm.to_string(classes).c_str());
  std::printf(
      "%.3f of the test labels are the grammar's (the others are noise); against the\n"
      "grammar's own labels, the accuracy is %.3f\n\n",
      data::accuracy(test_y, test_truth), against_truth.accuracy());

  NoGrad no_grad;  // model.predict(...)
  for (const char* review : {"the battery is not bad", "the screen is great but the price is awful",
                             "the price is awful but the screen is great", "the case is black"}) {
    data::Batch batch = data::pad_sequences({vocab.encode(tokenizer(review))});
    Array<float> p = softmax(model(batch.ids, batch.lengths)).value();
    std::printf("%-44s negative %.3f  neutral %.3f  positive %.3f\n", review, p(0, 0), p(0, 1),
                p(0, 2));
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
