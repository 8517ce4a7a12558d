// sentiment: trains a recurrent sentiment classifier on labelled sentences, reports its test
// metrics, saves it, and predicts the label of new sentences with a saved model.
//
//   sentiment                                   train on datasets/sentiment/sentences.tsv
//   sentiment --train my.tsv --test my_test.tsv train on your own data
//   sentiment --load out/sentiment/model.npz --predict "what a great phone"
//   echo "the food was cold" | sentiment --load out/sentiment/model.npz --stdin
//   mpirun -np 2 sentiment --distributed        train on 2 processes (docs/distributed.md)
//
// See examples/README.md for every option and what it prints.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <tapegrad/autograd/npz.hpp>

#include "cli_checks.hpp"
#include "distributed_main.hpp"
#include "guarded_main.hpp"
#include "outputs.hpp"
#include "plot.hpp"
#include "sentiment.hpp"

namespace {

namespace data = tapegrad::data;
namespace fs = std::filesystem;
using sentiment::Examples;
using sentiment::Index;

struct Options {
  // data
  std::string data = "datasets/sentiment/sentences.tsv";
  std::string train, valid, test;
  std::string text_column = "text";
  std::string label_column = "label";
  std::size_t min_frequency = 1;
  std::size_t max_length = sentiment::TextEncoder::kDefaultMaxLength;
  std::string long_texts = "cut";
  std::string invalid_utf8 = "error";
  // model (vocab_size and num_classes come from the data)
  sentiment::ModelConfig model;
  std::string cell = tapegrad::nn::to_string(model.cell);
  std::string pooling = sentiment::to_string(model.pooling);
  // training
  sentiment::TrainConfig train_config;
  std::uint64_t seed = 1;
  int threads = 1;
  bool distributed = false;
  // output
  std::string out_dir = "out/sentiment";
  std::string save;
  bool no_save = false;
  std::size_t show = 6;
  // prediction
  std::string load;
  std::vector<std::string> predict;
  bool from_stdin = false;
  std::string program = "sentiment";  // argv[0], for the hint printed after training
};

void print_prediction(const sentiment::Prediction& p, const std::string& text) {
  // Padded by display width: a label may be "正面", two columns a character.
  std::cout << data::align_left(p.name, 10) << std::fixed << std::setprecision(3) << p.probability
            << "  " << text << "\n";
}

int run_prediction(const Options& o) {
  const sentiment::Predictor predictor = sentiment::Predictor::load(o.load);
  std::vector<std::string> texts = o.predict;
  if (o.from_stdin) {
    for (std::string line; std::getline(std::cin, line);) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) texts.push_back(line);
    }
  }
  if (texts.empty()) {
    std::cerr << "sentiment: nothing to predict (give --predict TEXT or --stdin)\n";
    return 2;
  }
  const std::vector<sentiment::Prediction> predictions = predictor.predict(texts);
  for (std::size_t i = 0; i < texts.size(); ++i) print_prediction(predictions[i], texts[i]);
  return 0;
}

/// The texts and label ids of a file, read with a fixed label set when one is given.
data::LabelledText read_file(const std::string& path, const Options& o,
                             const data::LabelSet* labels) {
  data::ReadOptions read;
  read.text = o.text_column;
  read.label = o.label_column;
  if (labels) read.labels = *labels;
  if (o.invalid_utf8 == "replace") read.invalid_utf8 = data::InvalidUtf8::replace;
  data::LabelledText text;
  try {
    text = data::read_labelled_text(path, read);
  } catch (const tapegrad::value_error& e) {
    const std::string message = e.what();
    if (message.find("invalid UTF-8") == std::string::npos) throw;
    throw tapegrad::value_error(message + "; here: --invalid-utf8 replace");
  }
  if (text.replaced_utf8 > 0) {
    std::cout << "data: " << path << ": " << text.replaced_utf8
              << " invalid UTF-8 sequence(s) replaced by U+FFFD (--invalid-utf8 replace)\n";
  }
  // Texts over --max-length: cut (counted here) or refused by line.
  sentiment::TextEncoder limit;
  limit.max_length = o.max_length;
  std::size_t too_long = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (!limit.too_long(text.texts[i])) continue;
    if (o.long_texts == "refuse") {
      std::ostringstream message;
      message << path << " line " << text.lines[i] << ": a text of more than " << o.max_length
              << " tokens (--max-length " << o.max_length
              << "); raise --max-length, or leave out --long-texts refuse to cut such texts to "
                 "their first "
              << o.max_length << " tokens";
      throw tapegrad::value_error(message.str());
    }
    ++too_long;
  }
  if (too_long > 0) {
    std::cout << "data: " << path << ": " << too_long << " text(s) longer than " << o.max_length
              << " tokens cut to their first " << o.max_length
              << " (--max-length; --long-texts refuse stops instead)\n";
  }
  return text;
}

std::string counts_by_label(const std::vector<Index>& labels, const data::LabelSet& set) {
  std::vector<std::size_t> counts(set.size());
  for (Index l : labels) ++counts[static_cast<std::size_t>(l)];
  std::ostringstream out;
  for (std::size_t c = 0; c < set.size(); ++c) {
    out << (c ? ", " : "") << set.name(static_cast<Index>(c)) << " " << counts[c];
  }
  return out.str();
}

struct Splits {
  data::LabelSet labels;
  std::vector<std::string> train_texts, valid_texts, test_texts;
  std::vector<Index> train_labels, valid_labels, test_labels;
};

Splits load_data(const Options& o) {
  Splits s;
  if (o.train.empty()) {
    if (!fs::exists(o.data)) {
      throw tapegrad::value_error(
          o.data +
          ": no such file. Fetch the sentiment data set with "
          "`bash scripts/get_sentiment_data.sh`, or train on your own file with "
          "--train FILE (a TSV or CSV with text and label columns)");
    }
    const data::LabelledText all = read_file(o.data, o, nullptr);
    s.labels = all.label_set;
    const data::Split split = data::stratified_split(all.labels, {0.8, 0.1, 0.1, o.seed});
    s.train_texts = data::select(all.texts, split.train);
    s.valid_texts = data::select(all.texts, split.valid);
    s.test_texts = data::select(all.texts, split.test);
    s.train_labels = data::select(all.labels, split.train);
    s.valid_labels = data::select(all.labels, split.valid);
    s.test_labels = data::select(all.labels, split.test);
    std::cout << "data: " << o.data << ": " << all.size() << " sentences ("
              << counts_by_label(all.labels, s.labels) << ")\n"
              << "split: stratified 80/10/10 with seed " << o.seed << ": train "
              << split.train.size() << ", valid " << split.valid.size() << ", test "
              << split.test.size() << "\n";
    return s;
  }
  const data::LabelledText train = read_file(o.train, o, nullptr);
  s.labels = train.label_set;
  if (o.valid.empty()) {
    // No validation file: a stratified tenth of the training file.
    const data::Split split = data::stratified_split(train.labels, {0.9, 0.1, 0.0, o.seed});
    s.train_texts = data::select(train.texts, split.train);
    s.valid_texts = data::select(train.texts, split.valid);
    s.train_labels = data::select(train.labels, split.train);
    s.valid_labels = data::select(train.labels, split.valid);
  } else {
    s.train_texts = train.texts;
    s.train_labels = train.labels;
    const data::LabelledText valid = read_file(o.valid, o, &s.labels);
    s.valid_texts = valid.texts;
    s.valid_labels = valid.labels;
  }
  if (!o.test.empty()) {
    const data::LabelledText test = read_file(o.test, o, &s.labels);
    s.test_texts = test.texts;
    s.test_labels = test.labels;
  }
  std::cout << "data: train " << o.train << " (" << s.train_texts.size() << " used for training, "
            << (o.valid.empty() ? "a stratified tenth held out for validation" : "valid " + o.valid)
            << ")" << (o.test.empty() ? ", no test file" : ", test " + o.test) << "\n"
            << "labels: " << counts_by_label(train.labels, s.labels) << "\n";
  return s;
}

std::string csv_of_history(const std::vector<sentiment::EpochStats>& history) {
  std::ostringstream out;
  out << "epoch,train_loss,train_acc,valid_loss,valid_acc,lr,seconds\n" << std::setprecision(6);
  for (const auto& e : history) {
    out << e.epoch << "," << e.train_loss << "," << e.train_accuracy << "," << e.valid_loss << ","
        << e.valid_accuracy << "," << e.lr << "," << e.seconds << "\n";
  }
  return out.str();
}

void show_examples(const Examples& test, const sentiment::Evaluation& e,
                   const data::LabelSet& labels, std::size_t count) {
  // The first test sentences it gets right and the first it gets wrong, half of `count` each,
  // in test-set order (not picked by confidence).
  const auto show = [&](bool right, std::size_t n) {
    std::cout << "\ntest sentences it gets " << (right ? "right" : "wrong")
              << " (predicted label, its probability, true label):\n";
    for (std::size_t i = 0, shown = 0; i < test.size() && shown < n; ++i) {
      const Index p = e.predicted[i];
      if ((p == test.labels[i]) != right) continue;
      std::string text = test.texts[i];
      if (text.size() > 90) {
        std::size_t cut = 87;  // not inside a UTF-8 character
        while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
        text = text.substr(0, cut) + "...";
      }
      std::cout << "  " << data::align_left(labels.name(p), 9) << std::fixed << std::setprecision(3)
                << e.probabilities[i][static_cast<std::size_t>(p)] << "  ("
                << labels.name(test.labels[i]) << ")  " << text << "\n";
      ++shown;
    }
  };
  if (count == 0 || test.size() == 0) return;
  show(true, (count + 1) / 2);
  show(false, count / 2);
}

int run_training(const Options& o) {
  Splits s = load_data(o);
  // --distributed: every rank reads the data and builds the same vocabulary and model; rank 0
  // alone writes (its standard output, the metrics, the plot and the model).
  sentiment::Parallel parallel;
#ifdef TAPEGRAD_HAVE_DISTRIBUTED
  std::optional<tapegrad::distributed::Communicator> comm;
  if (o.distributed) {
    comm = tapegrad::distributed::Communicator::world();
    parallel.rank = comm->rank();
    parallel.size = comm->size();
  }
#endif
  const bool writer = parallel.rank == 0;

  sentiment::TextEncoder encoder;
  encoder.max_length = o.max_length;
  const data::Tokenizer tokenizer = encoder.make_tokenizer();  // reads no text past max_length
  encoder.vocabulary =
      data::Vocabulary::build(tokenizer.tokenize_all(s.train_texts), o.min_frequency);
  std::cout << "vocabulary: " << encoder.vocabulary.size()
            << " tokens from the training sentences (min frequency " << o.min_frequency << ")\n";

  // Every output is staged here, under a unique temporary name next to its final path (so an
  // unwritable folder fails before training), written at the end, and renamed into place by
  // out.commit() only once the whole run has succeeded: a run that fails or is interrupted
  // leaves the outputs of an earlier run as they were.
  tapegrad::OutputFiles out;
  const std::string metrics = (fs::path(o.out_dir) / "metrics.csv").string();
  const std::string png = (fs::path(o.out_dir) / "training.png").string();
  std::string metrics_new, png_new;
  if (writer) {
    examples::create_folder(o.out_dir);
    metrics_new = out.stage(metrics);
    png_new = out.stage(png);
  }
  const std::string model_path =
      o.save.empty() ? (fs::path(o.out_dir) / "model.npz").string() : o.save;
  if (!o.no_save && writer) {
    examples::create_folder(fs::path(model_path).parent_path().string());
    tapegrad::OutputFiles probe;  // the model's folder too, before training; removes its files
    probe.stage(model_path);
    probe.stage(sentiment::metadata_path(model_path));
  }

  const Examples train =
      sentiment::make_examples(encoder, std::move(s.train_texts), std::move(s.train_labels));
  const Examples valid =
      sentiment::make_examples(encoder, std::move(s.valid_texts), std::move(s.valid_labels));
  const Examples test =
      sentiment::make_examples(encoder, std::move(s.test_texts), std::move(s.test_labels));

  sentiment::ModelConfig config = o.model;
  config.cell = tapegrad::nn::parse_cell_kind(o.cell);
  config.pooling = sentiment::parse_pooling(o.pooling);
  config.vocab_size = encoder.vocabulary.size();
  config.num_classes = s.labels.size();
  auto model = std::make_unique<sentiment::Classifier>(config, o.seed);
  sentiment::TrainConfig tc = o.train_config;
  tc.seed = o.seed;
  tc.check();

  std::cout << "model: embedding " << config.embedding_dim << " -> "
            << (config.bidirectional ? "bidirectional " : "")
            << tapegrad::nn::to_string(config.cell) << " " << config.hidden_size << " x "
            << config.num_layers << " layer(s) -> " << sentiment::to_string(config.pooling)
            << " pooling -> linear " << config.num_classes << "; " << model->num_parameters()
            << " parameters\n"
            << "training: AdamW lr " << tc.lr << " weight decay " << tc.weight_decay
            << (tc.cosine_schedule ? ", cosine schedule" : "") << ", batch " << tc.batch_size
            << ", clip " << tc.clip_norm << ", dropout " << config.embedding_dropout << " / "
            << config.dropout << ", up to " << tc.epochs << " epochs, patience " << tc.patience
            << ", seed " << o.seed << "\n\n";

#ifdef TAPEGRAD_HAVE_DISTRIBUTED
  // Rank 0's initial parameters everywhere; gradients averaged after each backward.
  std::unique_ptr<tapegrad::distributed::DataParallel<float>> ddp;
  if (comm) {
    ddp = std::make_unique<tapegrad::distributed::DataParallel<float>>(*model, *comm);
    parallel.average_gradients = [&ddp] { ddp->finish(); };
    parallel.sum = [&comm](const std::vector<double>& v) { return comm->sum(v); };
    std::cout << "distributed: " << parallel.size << " processes, batch " << tc.batch_size
              << " each (" << tc.batch_size * static_cast<std::size_t>(parallel.size)
              << " per step), gradients in " << ddp->bucket_names().size() << " bucket(s)\n";
  }
#endif
  const sentiment::TrainResult result =
      sentiment::train(*model, train, valid, tc, writer ? &std::cout : nullptr, {}, parallel);
  const sentiment::EpochStats& best = result.history[result.best_epoch - 1];
  std::cout << std::fixed << std::setprecision(4) << "\nbest epoch " << result.best_epoch
            << " (valid loss " << best.valid_loss << ", valid accuracy " << best.valid_accuracy
            << ")" << (result.stopped_early ? ", stopped early" : "") << "; training took "
            << std::setprecision(1) << result.seconds << " s\n";
  if (!writer) return 0;  // every rank has the same model; rank 0 tests and saves it

  if (test.size() > 0) {
    const sentiment::Evaluation e = sentiment::evaluate(*model, test);
    std::cout << "\ntest: " << test.size() << " sentences, accuracy " << std::setprecision(4)
              << e.confusion.accuracy() << ", loss " << e.loss << "\n\n"
              << e.confusion.report(s.labels.names(), 3) << "\nconfusion matrix (rows: true):\n"
              << e.confusion.to_string(s.labels.names());
    show_examples(test, e, s.labels, o.show);
  }

  // The outputs, under their temporary names; the plot reads the new metrics.
  out.write(metrics, csv_of_history(result.history));
  const std::string plot_error = examples::plot_png(
      png_new,
      {{"loss per epoch",
        "epoch",
        "cross-entropy",
        {{metrics_new, 1, 2, "train", "linespoints"}, {metrics_new, 1, 4, "valid", "linespoints"}}},
       {"accuracy per epoch",
        "epoch",
        "accuracy",
        {{metrics_new, 1, 3, "train", "linespoints"},
         {metrics_new, 1, 5, "valid", "linespoints"}}}});
  if (!plot_error.empty()) out.discard(png);  // an earlier plot stays as it was
  if (!o.no_save) {
    sentiment::Predictor(std::move(model), std::move(encoder), s.labels).save(out, model_path);
  }
  out.commit();

  std::cout << "\nmetrics per epoch: " << metrics << "\n";
  if (plot_error.empty()) {
    std::cout << "plot of loss and accuracy: " << png << "\n";
  } else {
    std::error_code ec;
    std::cout << "no plot: " << plot_error
              << (fs::exists(png, ec) ? " (" + png + " is an earlier run's)" : std::string())
              << "\n";
  }
  if (!o.no_save) {
    std::cout << "saved model: " << model_path << " (weights) and "
              << sentiment::metadata_path(model_path) << " (vocabulary, labels, settings)\n"
              << "predict with it:  " << o.program << " --load " << model_path
              << " --predict \"the battery died after a day\"\n";
  }
  return 0;
}

}  // namespace

namespace {

int run(int argc, char** argv) {
  Options o;
  sentiment::TrainConfig& tc = o.train_config;
  CLI::App app{
      "Trains a recurrent sentiment classifier (embedding -> LSTM/GRU -> linear) on labelled "
      "sentences, reports test metrics and saves the model; or, with --load, predicts the "
      "labels of new sentences."};
  app.get_formatter()->column_width(36);

  auto* g = "Data";
  app.add_option("--data", o.data,
                 "a TSV/CSV file split 80/10/10 (stratified, seeded) into train/valid/test")
      ->capture_default_str()
      ->group(g);
  auto* train_opt =
      app.add_option("--train", o.train, "train on this file instead of --data")->group(g);
  app.add_option("--valid", o.valid, "validation file (default: a tenth of --train)")
      ->needs(train_opt)
      ->group(g);
  app.add_option("--test", o.test, "test file")->needs(train_opt)->group(g);
  app.add_option("--text-column", o.text_column, "the text column's header")
      ->capture_default_str()
      ->group(g);
  app.add_option("--label-column", o.label_column, "the label column's header")
      ->capture_default_str()
      ->group(g);
  app.add_option("--min-freq", o.min_frequency, "rarer training tokens become <unk>")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--max-length", o.max_length,
                 "cut texts to this many tokens (0: no cut), in training and prediction")
      ->capture_default_str()
      ->group(g);
  app.add_option("--long-texts", o.long_texts,
                 "texts over --max-length: cut them (counted), or refuse the file (naming the "
                 "line)")
      ->capture_default_str()
      ->check(CLI::IsMember({"cut", "refuse"}))
      ->group(g);
  app.add_option("--invalid-utf8", o.invalid_utf8,
                 "bytes that are not UTF-8: an error naming the line and byte, or U+FFFD")
      ->capture_default_str()
      ->check(CLI::IsMember({"error", "replace"}))
      ->group(g);

  g = "Model";
  app.add_option("--cell", o.cell, "recurrent cell")
      ->capture_default_str()
      ->check(CLI::IsMember({"lstm", "gru", "rnn_tanh", "rnn_relu"}))
      ->group(g);
  app.add_option("--embedding-dim", o.model.embedding_dim, "word vector size")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--hidden", o.model.hidden_size, "hidden size per direction")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--layers", o.model.num_layers, "stacked recurrent layers")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_flag("--bidirectional,!--unidirectional", o.model.bidirectional,
               "read sentences both ways (default) or left to right only")
      ->group(g);
  app.add_option("--pooling", o.pooling, "sentence vector from the outputs")
      ->capture_default_str()
      ->check(CLI::IsMember({"last", "mean", "max"}))
      ->group(g);
  app.add_option("--dropout", o.model.dropout, "dropout before the head and between layers")
      ->capture_default_str()
      ->check(examples::drop_probability())
      ->group(g);
  app.add_option("--embedding-dropout", o.model.embedding_dropout, "dropout on the word vectors")
      ->capture_default_str()
      ->check(examples::drop_probability())
      ->group(g);

  app.add_option("--embedding-init-std", o.model.embedding_init_std,
                 "initial word vectors ~ N(0, std^2) (PyTorch's default: 1)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);

  g = "Training";
  app.add_option("--epochs", tc.epochs, "at most this many epochs")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--patience", tc.patience,
                 "stop after this many epochs without a better "
                 "validation loss")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--batch-size", tc.batch_size, "sentences per step")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--max-batch-tokens", tc.max_batch_tokens,
                 "budget of a batch's padded size (sentences x longest); larger batches are "
                 "split (0: no budget)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--lr", tc.lr, "AdamW learning rate")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--weight-decay", tc.weight_decay, "AdamW weight decay")
      ->capture_default_str()
      ->check(examples::non_negative())
      ->group(g);
  app.add_option("--clip", tc.clip_norm, "gradient norm clipping (0: off)")
      ->capture_default_str()
      ->check(examples::non_negative())
      ->group(g);
  app.add_option("--label-smoothing", tc.label_smoothing, "cross-entropy label smoothing")
      ->capture_default_str()
      ->check(examples::drop_probability())
      ->group(g);
  app.add_option("--word-dropout", tc.word_dropout,
                 "probability that a training word is replaced by <unk>")
      ->capture_default_str()
      ->check(examples::drop_probability())
      ->group(g);
  app.add_flag("--cosine,!--constant-lr", tc.cosine_schedule,
               "cosine learning-rate schedule over --epochs (default) or a constant rate")
      ->group(g);
  app.add_option("--threads", o.threads,
                 "OpenBLAS threads (the matrices are small: more threads rarely help)")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->group(g);
  app.add_option("--seed", o.seed, "seed of the split, initialisation, batches and dropout")
      ->capture_default_str()
      ->group(g);
  app.add_flag("--distributed", o.distributed,
               "train on the processes of mpirun (data parallel, --batch-size each; "
               "docs/distributed.md)")
      ->group(g);

  g = "Output";
  app.add_option("--out", o.out_dir, "folder for metrics.csv, training.png and the model")
      ->capture_default_str()
      ->group(g);
  auto* save_opt =
      app.add_option("--save", o.save, "where to save the model (default: OUT/model.npz)")
          ->group(g);
  app.add_flag("--no-save", o.no_save, "do not save the model")->excludes(save_opt)->group(g);
  app.add_option("--show", o.show, "test sentences to print with their predictions")
      ->capture_default_str()
      ->group(g);

  g = "Prediction";
  auto* load_opt =
      app.add_option("--load", o.load, "predict with this saved model instead of training")
          ->check(CLI::ExistingFile)
          ->group(g);
  app.add_option("--predict", o.predict, "a sentence to classify (repeatable)")
      ->needs(load_opt)
      ->group(g);
  app.add_flag("--stdin", o.from_stdin, "classify the lines of standard input")
      ->needs(load_opt)
      ->group(g);

  CLI11_PARSE(app, argc, argv);
  o.program = argv[0];
  if (!o.load.empty() && o.predict.empty() && !o.from_stdin) {
    std::cerr << "sentiment: --load needs --predict TEXT or --stdin\n";
    return 2;
  }
  tapegrad::set_num_threads(o.threads);
  try {
    return o.load.empty() ? run_training(o) : run_prediction(o);
  } catch (const std::exception& e) {
    std::cerr << "sentiment: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return examples::distributed_main(argc, argv, run);
}
