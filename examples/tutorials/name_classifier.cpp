// Tutorial 5: PyTorch's "classifying names with a character-level RNN". An RNN reads a surname
// letter by letter (one-hot) and a linear layer with LogSoftmax names its language, trained with
// the negative log-likelihood. The names are examples/tutorials/data/names/<Language>.txt, 70
// per language; a quarter of each language is held out for the accuracy and the confusion
// matrix. docs/tutorials.md shows the PyTorch program it follows.
//
//   name_classifier [--epochs N] [--data DIR] [NAME...]   (predicts the languages of NAMEs)
#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <tapegrad/tapegrad.hpp>
#include "guarded_main.hpp"
#include "tutorial.hpp"

using namespace tapegrad;

// Lowercase only: with 70 names a language, capitals would be 26 more inputs to learn, each seen
// a few times (the tutorial keeps them; here they cost a few points of accuracy).
const std::string all_letters = "abcdefghijklmnopqrstuvwxyz .,;'";

// A name's letters, lowercased, as ids 1..31 (0 pads a batch); other characters are left out.
std::vector<Index> letter_ids(const std::string& name) {
  std::vector<Index> ids;
  for (char c : name) {
    const std::size_t at = all_letters.find(char(std::tolower(static_cast<unsigned char>(c))));
    if (at != std::string::npos) ids.push_back(Index(at) + 1);
  }
  return ids;
}

// lineToTensor for a padded batch: ids [T, B] -> one-hot [T, B, 31], zeros past each name.
Var<float> one_hot(const IndexArray& ids) {
  Array<float> x = zeros({ids.shape(0), ids.shape(1), all_letters.size()});
  for (std::size_t t = 0; t < ids.shape(0); ++t) {
    for (std::size_t b = 0; b < ids.shape(1); ++b) {
      if (ids(t, b) > 0) x(t, b, std::size_t(ids(t, b) - 1)) = 1;
    }
  }
  return constant(x);
}

class CharRNN : public nn::ModuleBase<CharRNN> {
 public:
  CharRNN(std::size_t input_size, std::size_t hidden_size, std::size_t output_size)
      : rnn_(nn::RNNOptions(input_size, hidden_size)), h2o_(hidden_size, output_size) {
    register_module("rnn", rnn_);
    register_module("h2o", h2o_);
  }
  // A batch of names -> log-probabilities of the languages [B, languages].
  Var<float> forward(const data::Batch& batch) const {
    Var<float> hidden = rnn_(one_hot(batch.ids), batch.lengths).h_n;  // [1, B, hidden]
    return softmax_(h2o_(select(hidden, 0, 0)));
  }

 private:
  nn::RNN<float> rnn_;
  nn::Linear<float> h2o_;
  nn::LogSoftmax<float> softmax_{1};
};

int run(int argc, char** argv) {
  tutorial::Args args = tutorial::parse_args(argc, argv, 40, /*data_and_words=*/true);
  const std::string data_dir = args.data.empty() ? "examples/tutorials/data/names" : args.data;
  std::vector<std::string> to_predict = args.words;
  if (to_predict.empty()) to_predict = {"Dovesky", "Jackson", "Satoshi"};

  // category_lines: every name of every <Language>.txt, in file-name order.
  if (!std::filesystem::is_directory(data_dir)) {
    throw std::runtime_error(data_dir +
                             ": no such folder (run from the repository root, or --data)");
  }
  std::vector<std::string> languages;
  for (const auto& entry : std::filesystem::directory_iterator(data_dir)) {
    if (entry.path().extension() == ".txt") languages.push_back(entry.path().stem().string());
  }
  std::sort(languages.begin(), languages.end());
  if (languages.size() < 3) {
    throw std::runtime_error(data_dir + ": needs a <Language>.txt for each of 3 languages or more");
  }
  std::vector<std::vector<Index>> names;
  std::vector<Index> labels;
  for (std::size_t k = 0; k < languages.size(); ++k) {
    std::ifstream file(data_dir + "/" + languages[k] + ".txt");
    for (std::string line; std::getline(file, line);) {
      if (letter_ids(line).empty()) continue;
      names.push_back(letter_ids(line));
      labels.push_back(Index(k));
    }
  }

  manual_seed(0);
  data::Split split = data::stratified_split(labels, {0.75, 0.0, 0.25, 0});
  const auto train_names = data::select(names, split.train),
             test_names = data::select(names, split.test);
  const auto train_labels = data::select(labels, split.train),
             test_labels = data::select(labels, split.test);
  data::BatchOptions options;
  options.batch_size = 16;
  data::BatchIterator train(train_names, train_labels, options);
  std::printf("name_classifier: %zu names in %zu languages; training on %zu, testing on %zu\n",
              names.size(), languages.size(), train_names.size(), test_names.size());

  CharRNN rnn(all_letters.size(), 32, languages.size());
  optim::Adam<float> optimizer(rnn.parameters());
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = 1; epoch <= args.epochs; ++epoch) {
    double total = 0;
    for (const data::Batch& batch : train.epoch()) {
      optimizer.zero_grad();
      Var<float> loss = nll_loss(rnn(batch), batch.targets);  // criterion = nn.NLLLoss()
      loss.backward();
      optimizer.step();
      total += loss.item() * double(batch.size());
    }
    if (epoch % 5 == 0 || epoch == 1) {
      std::printf("epoch %2zu/%zu  loss %.4f\n", epoch, args.epochs,
                  total / double(train_names.size()));
    }
  }
  const double seconds = tutorial::seconds_since(start);

  NoGrad no_grad;
  IndexArray predicted = data::argmax_rows(rnn(data::pad_sequences(test_names)).value());
  data::ConfusionMatrix confusion(test_labels, {predicted.begin(), predicted.end()},
                                  languages.size());
  std::printf("\ntest accuracy %.3f over %zu names (trained in %.1f s); confusion matrix:\n%s\n",
              confusion.accuracy(), test_names.size(), seconds,
              confusion.to_string(languages).c_str());

  for (const std::string& name : to_predict) {  // predict("Dovesky")
    if (letter_ids(name).empty()) throw std::runtime_error("'" + name + "' has no letter");
    Array<float> output = rnn(data::pad_sequences({letter_ids(name)})).value();
    std::vector<std::size_t> top(languages.size());  // output.topk(3)
    std::iota(top.begin(), top.end(), 0);
    std::partial_sort(top.begin(), top.begin() + 3, top.end(),
                      [&](auto a, auto b) { return output(0, a) > output(0, b); });
    std::printf("> %s\n", name.c_str());
    for (std::size_t k = 0; k < 3; ++k) {
      std::printf("(%.2f) %s\n", output(0, top[k]), languages[top[k]].c_str());
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
