// translate: trains a sequence-to-sequence model with attention (bidirectional GRU/LSTM encoder,
// attention decoder) to translate dates written in many human formats and four languages into
// ISO 8601, reports BLEU and exact match for greedy and beam decoding on a test split and on
// formats held out of training, draws the attention of a few sentences, and saves the model;
// with --load, translates new sentences.
//
//   translate                                    train with the defaults, save to out/translate
//   translate --load out/translate --translate "mardi 12 mars 2019"
//   printf '12. März 2019\nle 3 avril 2021\n' | translate --load out/translate --stdin
//
// See examples/README.md for what it prints.
#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_checks.hpp"
#include "guarded_main.hpp"
#include "outputs.hpp"
#include "plot.hpp"
#include "translate.hpp"

namespace {

namespace data = tapegrad::data;
namespace fs = std::filesystem;

struct Options {
  translate::DataOptions data;
  translate::ModelConfig model;
  std::string cell = "gru";
  std::string attention = "general";
  std::string style = "luong";
  bool unidirectional = false;
  translate::TrainConfig train;
  std::size_t max_source_length = 64;
  std::size_t beam_width = 5;
  double length_penalty = 1.0;
  std::string out_dir = "out/translate";
  bool no_save = false;
  std::size_t show = 4;
  int threads = 1;
  // translation
  std::string load;
  std::vector<std::string> sentences;
  bool from_stdin = false;
  std::string program = "translate";
};

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

translate::DecodeOptions greedy_options(const Options& o) {
  translate::DecodeOptions d;
  d.max_length = o.train.max_target_length;
  return d;
}

translate::DecodeOptions beam_options(const Options& o) {
  translate::DecodeOptions d = greedy_options(o);
  d.beam = true;
  d.beam_width = o.beam_width;
  d.length_penalty = o.length_penalty;
  return d;
}

std::string joined(const std::vector<std::string>& tokens) {
  std::string out;
  for (const std::string& t : tokens) out += t;
  return out;
}

// 2019-03-12 as `format` writes it.
std::string format_example(std::size_t format) {
  return translate::format_date({2019, 3, 12}, format);
}

// ---- translating with a saved model ----

int run_translation(const Options& o, const CLI::App& app) {
  translate::Translator translator = translate::Translator::load(o.load);
  if (app.count("--max-source-length") > 0) translator.set_max_source_length(o.max_source_length);
  std::vector<std::string> texts;
  std::vector<std::string> where;  // "--translate 2", "line 3"
  for (std::size_t i = 0; i < o.sentences.size(); ++i) {
    texts.push_back(o.sentences[i]);
    where.push_back("--translate " + std::to_string(i + 1));
  }
  if (o.from_stdin) {
    std::size_t line_number = 0;
    for (std::string line; std::getline(std::cin, line);) {
      ++line_number;
      texts.push_back(line);
      where.push_back("standard input line " + std::to_string(line_number));
    }
  }
  if (texts.empty()) {
    std::cerr << "translate: nothing to translate (give --translate TEXT or --stdin)\n";
    return 2;
  }
  // Each sentence checked first, so that an empty one is named before any work.
  for (std::size_t i = 0; i < texts.size(); ++i) {
    try {
      (void)translate::encode_source(translator.vocabularies().source, texts[i],
                                     translator.max_source_length());
    } catch (const tapegrad::value_error& e) {
      std::cerr << "translate: error: " << where[i] << ": " << e.what() << "\n";
      return 1;
    }
  }
  const translate::DecodeOptions decoding = o.beam_width > 1 ? beam_options(o) : greedy_options(o);
  const std::vector<translate::Translation> translations = translator.translate(texts, decoding);
  std::vector<std::string> unknown;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const translate::SourceIds& s = translations[i].source;
    for (const std::string& ch : s.unknown) {
      if (std::find(unknown.begin(), unknown.end(), ch) == unknown.end()) unknown.push_back(ch);
    }
    if (s.cut) {
      std::cerr << "translate: warning: " << where[i] << " has " << s.length
                << " characters; only its first " << translator.max_source_length()
                << " are translated (--max-source-length)\n";
    }
  }
  if (!unknown.empty()) {
    std::cerr << "translate: warning: characters the model never saw in training are read as "
                 "<unk>:";
    for (const std::string& ch : unknown) std::cerr << " '" << ch << "'";
    std::cerr << "\n";
  }
  for (std::size_t i = 0; i < texts.size(); ++i) {
    std::cout << data::align_left(translations[i].text, 12) << texts[i] << "\n";
  }
  return 0;
}

// ---- training ----

std::string describe(const translate::Seq2Seq& model) {
  const translate::ModelConfig& c = model.config();
  std::ostringstream out;
  out << "encoder: embedding " << c.embedding_size << " -> "
      << (c.bidirectional ? "bidirectional " : "") << tapegrad::nn::to_string(c.cell) << " "
      << c.hidden_size << " x " << c.num_layers
      << " layer(s); decoder: " << tapegrad::nn::to_string(c.cell) << " " << c.hidden_size
      << " with " << tapegrad::nn::to_string(c.score) << " attention, "
      << tapegrad::nn::to_string(c.style) << " style; " << model.num_parameters() << " parameters";
  return out.str();
}

void print_scores(const char* name, const translate::Scores& s, double seconds) {
  std::cout << "  " << std::left << std::setw(22) << name << std::right << std::fixed << "BLEU "
            << std::setprecision(2) << std::setw(6) << s.bleu.score << "  exact match "
            << std::setprecision(4) << s.exact_match << "  token accuracy " << s.token_accuracy
            << "  (" << std::setprecision(1) << seconds << " s)\n";
}

struct Evaluated {
  std::vector<translate::Decoded> greedy, beam;
};

Evaluated evaluate_split(translate::Seq2Seq& model, const translate::Vocabularies& v,
                         const translate::Examples& examples, const Options& o, const char* title) {
  Evaluated e;
  auto start = std::chrono::steady_clock::now();
  e.greedy = translate::decode(model, v.target, examples.sources, greedy_options(o));
  const double greedy_seconds = seconds_since(start);
  start = std::chrono::steady_clock::now();
  e.beam = translate::decode(model, v.target, examples.sources, beam_options(o));
  const double beam_seconds = seconds_since(start);
  const translate::Scores g = translate::score(e.greedy, examples);
  const translate::Scores b = translate::score(e.beam, examples);
  std::ostringstream beam_name;
  beam_name << "beam " << o.beam_width << ", alpha " << o.length_penalty;
  std::cout << "\n" << title << " (" << examples.size() << " sentences):\n";
  print_scores("greedy", g, greedy_seconds);
  print_scores(beam_name.str().c_str(), b, beam_seconds);
  std::cout << "  greedy: " << g.bleu.to_string() << "\n  beam:   " << b.bleu.to_string() << "\n";
  return e;
}

void print_by_format(const Evaluated& e, const translate::Examples& examples) {
  const auto greedy = translate::exact_match_by_format(e.greedy, examples);
  const auto beam = translate::exact_match_by_format(e.beam, examples);
  std::cout << "  exact match by format (greedy / beam):\n";
  for (std::size_t i = 0; i < greedy.size(); ++i) {
    const std::size_t f = greedy[i].format;
    std::cout << "    " << std::left << std::setw(34) << translate::date_formats()[f].name
              << data::align_left("\"" + format_example(f) + "\"", 26) << std::right
              << std::setprecision(3) << greedy[i].exact_match << " / " << beam[i].exact_match
              << "  (" << greedy[i].sentences << ")\n";
  }
}

void print_examples(const char* title, const translate::Examples& examples, const Evaluated& e,
                    const std::vector<std::size_t>& which) {
  if (which.empty()) {
    std::cout << "\n" << title << " none\n";
    return;
  }
  std::cout << "\n"
            << title << "\n  " << data::align_left("source", 32)
            << data::align_left("reference", 12) << data::align_left("greedy", 13) << "beam\n";
  for (std::size_t i : which) {
    const std::string greedy = joined(e.greedy[i].tokens), beam = joined(e.beam[i].tokens);
    const std::string& ref = examples.pairs[i].target;
    std::cout << "  " << data::align_left(examples.pairs[i].source, 32) << data::align_left(ref, 12)
              << data::align_left(greedy + (greedy == ref ? " " : "*"), 13) << beam
              << (beam == ref ? "" : "*") << "\n";
  }
}

// The first `n` sentences, and the first `n` the greedy decoding gets wrong.
std::pair<std::vector<std::size_t>, std::vector<std::size_t>> pick(const translate::Examples& ex,
                                                                   const Evaluated& e,
                                                                   std::size_t n) {
  std::vector<std::size_t> first, wrong;
  for (std::size_t i = 0; i < ex.size() && (first.size() < n || wrong.size() < n); ++i) {
    if (first.size() < n) first.push_back(i);
    if (wrong.size() < n && joined(e.greedy[i].tokens) != ex.pairs[i].target) wrong.push_back(i);
  }
  return {first, wrong};
}

// Attention of the greedy decoding of the first test sentence in each language.
std::vector<examples::Heatmap> attention_maps(const translate::Examples& test, const Evaluated& e) {
  std::vector<examples::Heatmap> maps;
  std::vector<translate::Language> done;
  for (std::size_t i = 0; i < test.size() && maps.size() < 4; ++i) {
    const translate::Language language = translate::date_formats()[test.pairs[i].format].language;
    if (std::find(done.begin(), done.end(), language) != done.end()) continue;
    done.push_back(language);
    const translate::Decoded& d = e.greedy[i];
    examples::Heatmap map;
    map.title = "\"" + test.pairs[i].source + "\" -> " + joined(d.tokens);
    map.x_label = "source characters";
    map.y_label = "output characters";
    for (const std::string& ch : translate::characters(test.pairs[i].source)) {
      map.column_labels.push_back(ch == " " ? "_" : ch);
    }
    map.row_labels = d.tokens;
    if (map.row_labels.size() < d.weights.shape()[0]) map.row_labels.emplace_back("<eos>");
    const std::size_t steps = d.weights.shape()[0], length = d.weights.shape()[1];
    if (length != map.column_labels.size()) continue;  // a source cut by --max-source-length
    for (std::size_t s = 0; s < steps; ++s) {
      map.values.emplace_back(d.weights.data() + s * length, d.weights.data() + (s + 1) * length);
    }
    maps.push_back(std::move(map));
  }
  return maps;
}

int run_training(const Options& o) {
  const auto run_start = std::chrono::steady_clock::now();
  translate::DateData date_data = translate::make_date_data(o.data);
  const std::vector<std::size_t> trained = translate::training_formats();
  const std::vector<std::size_t> held = translate::held_out_formats();
  std::cout << "data: dates of " << o.data.first_year << "-01-01 .. " << o.data.last_year
            << "-12-31 in " << translate::date_formats().size()
            << " formats (English, French, German, Spanish, numeric) to ISO 8601; seed "
            << o.data.seed << "\n"
            << "splits: train " << date_data.train.size() << ", valid " << date_data.valid.size()
            << ", test " << date_data.test.size() << " from " << trained.size()
            << " formats; held-out " << date_data.held_out.size() << " from " << held.size()
            << " formats never trained on; no sentence in two splits\n";
  const translate::Vocabularies vocab = translate::build_vocabularies(date_data.train);
  std::cout << "tokens: characters; source vocabulary " << vocab.source.size()
            << " (with <pad>, <unk>), target vocabulary " << vocab.target.size()
            << " (with <pad>, <unk>, <sos>, <eos>); BLEU over target characters\n";

  // Outputs are staged first (an unwritable folder fails before training) and replace an
  // earlier run's only when out.commit() ends a successful run.
  examples::create_folder(o.out_dir);
  tapegrad::OutputFiles out;
  const std::string metrics = (fs::path(o.out_dir) / "metrics.csv").string();
  const std::string png = (fs::path(o.out_dir) / "attention.png").string();
  const std::string metrics_new = out.stage(metrics);
  const std::string png_new = out.stage(png);
  if (!o.no_save) {
    tapegrad::OutputFiles probe;  // removes its temporaries
    probe.stage(translate::weights_path(o.out_dir));
    probe.stage(translate::metadata_path(o.out_dir));
  }

  const translate::Examples train =
      translate::make_examples(vocab, std::move(date_data.train), o.max_source_length);
  const translate::Examples valid =
      translate::make_examples(vocab, std::move(date_data.valid), o.max_source_length);
  const translate::Examples test =
      translate::make_examples(vocab, std::move(date_data.test), o.max_source_length);
  const translate::Examples held_out =
      translate::make_examples(vocab, std::move(date_data.held_out), o.max_source_length);

  translate::ModelConfig config = o.model;
  config.cell = tapegrad::nn::parse_cell_kind(o.cell);
  config.score = tapegrad::nn::parse_attention_score(o.attention);
  config.style = tapegrad::nn::parse_attention_style(o.style);
  config.bidirectional = !o.unidirectional;
  config.source_vocab_size = vocab.source.size();
  config.target_vocab_size = vocab.target.size();
  auto model = std::make_unique<translate::Seq2Seq>(config, o.data.seed);
  translate::TrainConfig tc = o.train;
  tc.seed = o.data.seed;
  tc.check();
  std::cout << "model: " << describe(*model) << "\n"
            << "training: Adam lr " << tc.lr << " (cosine to " << tc.lr / 20 << "), batch "
            << tc.batch_size << ", clip " << tc.clip_norm << ", teacher forcing "
            << tc.teacher_forcing_ratio << ", cross-entropy ignoring <pad>, " << tc.epochs
            << " epochs" << (tc.patience > 0 ? ", patience " + std::to_string(tc.patience) : "")
            << "; " << tapegrad::num_threads() << " thread(s)\n\n";

  std::ostringstream csv;
  csv << "epoch,train_loss,valid_loss,valid_exact,lr,seconds\n" << std::setprecision(6);
  const translate::TrainResult result = translate::train(
      *model, vocab, train, valid, tc, &std::cout, [&](const translate::EpochStats& s) {
        csv << s.epoch << "," << s.train_loss << "," << s.valid_loss << "," << s.valid_exact << ","
            << s.lr << "," << s.seconds << "\n";
      });
  const translate::EpochStats& best = result.history[result.best_epoch - 1];
  std::cout << std::fixed << std::setprecision(4) << "\nbest epoch " << result.best_epoch
            << " (valid exact match " << best.valid_exact << ", valid loss " << best.valid_loss
            << ")" << (result.stopped_early ? ", stopped early" : "") << "; training took "
            << std::setprecision(1) << result.seconds << " s\n";

  const Evaluated on_test = evaluate_split(*model, vocab, test, o, "test, the formats trained on");
  Evaluated on_held{};
  if (held_out.size() > 0) {
    on_held = evaluate_split(*model, vocab, held_out, o, "held-out formats, never trained on");
    print_by_format(on_held, held_out);
  }
  if (o.show > 0) {
    const auto [test_first, test_wrong] = pick(test, on_test, o.show);
    print_examples("test sentences (* marks a wrong translation):", test, on_test, test_first);
    print_examples("test sentences greedy decoding gets wrong:", test, on_test, test_wrong);
    if (held_out.size() > 0) {
      const auto [held_first, held_wrong] = pick(held_out, on_held, o.show);
      print_examples("held-out sentences:", held_out, on_held, held_first);
      print_examples("held-out sentences greedy decoding gets wrong:", held_out, on_held,
                     held_wrong);
    }
  }

  out.write(metrics, csv.str());
  const std::string plot_error = examples::heatmap_png(png_new, attention_maps(test, on_test));
  if (!plot_error.empty()) out.discard(png);  // an earlier plot stays as it was
  if (!o.no_save) {
    translate::Translator(std::move(model), vocab, o.max_source_length).save(out, o.out_dir);
  }
  out.commit();

  std::cout << "\nmetrics per epoch: " << metrics << "\n";
  if (plot_error.empty()) {
    std::cout << "attention of four test sentences: " << png << "\n";
  } else {
    std::error_code ec;
    std::cout << "no plot: " << plot_error
              << (fs::exists(png, ec) ? " (" + png + " is an earlier run's)" : std::string())
              << "\n";
  }
  if (!o.no_save) {
    std::cout << "saved model: " << translate::weights_path(o.out_dir) << " (weights) and "
              << translate::metadata_path(o.out_dir) << " (vocabularies, settings)\n"
              << "translate with it:  " << o.program << " --load " << o.out_dir
              << " --translate \"mardi 12 mars 2019\"\n";
  }
  std::cout << "total " << std::setprecision(1) << seconds_since(run_start) << " s\n";
  return 0;
}

std::string formats_help() {
  std::ostringstream out;
  out << "Formats (2019-03-12 as each writes it); held out of training: *\n";
  for (std::size_t f = 0; f < translate::date_formats().size(); ++f) {
    const translate::DateFormat& d = translate::date_formats()[f];
    out << "  " << (d.held_out ? "* " : "  ") << std::left << std::setw(34) << d.name
        << format_example(f) << "\n";
  }
  return out.str();
}

int run(int argc, char** argv) {
  Options o;
  translate::TrainConfig& tc = o.train;
  CLI::App app{
      "Trains a sequence-to-sequence model with attention to translate dates in human formats "
      "(English, French, German, Spanish, numeric) into ISO 8601; reports BLEU and exact match "
      "of greedy and beam decoding on a test split and on held-out formats, and saves the "
      "model. With --load, translates new sentences."};
  app.footer(formats_help());
  app.get_formatter()->column_width(36);

  auto* g = "Data";
  app.add_option("--train-size", o.data.train, "training sentences")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--valid-size", o.data.valid, "validation sentences (exact match per epoch)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--test-size", o.data.test, "test sentences, of the formats trained on")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--held-out-size", o.data.held_out, "sentences of the held-out formats")
      ->capture_default_str()
      ->group(g);
  app.add_option("--seed", o.data.seed, "seed of the data, initialisation and batches")
      ->capture_default_str()
      ->group(g);

  g = "Model";
  app.add_option("--cell", o.cell, "recurrent cell of encoder and decoder")
      ->capture_default_str()
      ->check(CLI::IsMember({"gru", "lstm", "rnn_tanh", "rnn_relu"}))
      ->group(g);
  app.add_option("--embedding", o.model.embedding_size, "character embedding size")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--hidden", o.model.hidden_size, "hidden size (per encoder direction)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--layers", o.model.num_layers, "stacked recurrent layers")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_flag("--unidirectional", o.unidirectional, "an encoder reading left to right only")
      ->group(g);
  app.add_option("--attention", o.attention, "attention score")
      ->capture_default_str()
      ->check(CLI::IsMember({"general", "dot", "additive", "scaled_dot"}))
      ->group(g);
  app.add_option("--style", o.style, "where the decoder attends")
      ->capture_default_str()
      ->check(CLI::IsMember({"luong", "bahdanau"}))
      ->group(g);
  app.add_option("--dropout", o.model.dropout, "between recurrent layers")
      ->capture_default_str()
      ->check(examples::drop_probability())
      ->group(g);

  g = "Training";
  app.add_option("--epochs", tc.epochs, "passes over the training sentences")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--batch-size", tc.batch_size, "sentences per step")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--lr", tc.lr, "Adam's rate, annealed to lr/20 (cosine)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--clip", tc.clip_norm, "gradient norm clipping (0: off)")
      ->capture_default_str()
      ->check(examples::non_negative())
      ->group(g);
  app.add_option("--teacher-forcing", tc.teacher_forcing_ratio,
                 "probability that a step reads the true previous character (else its own)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0))
      ->group(g);
  app.add_option("--patience", tc.patience,
                 "stop after this many epochs without a better valid exact match (0: never)")
      ->capture_default_str()
      ->group(g);
  app.add_option("--threads", o.threads, "OpenBLAS threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64))
      ->group(g);

  g = "Decoding";
  app.add_option("--beam-width", o.beam_width, "beam search's width (1 with --load: greedy)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--length-penalty", o.length_penalty, "beam search ranks by log p / length^alpha")
      ->capture_default_str()
      ->check(examples::non_negative())
      ->group(g);
  app.add_option("--max-target-length", tc.max_target_length, "output characters at most")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);
  app.add_option("--max-source-length", o.max_source_length,
                 "longer sentences are cut to this many characters (with a warning)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(g);

  g = "Output";
  app.add_option("--out", o.out_dir,
                 "folder for model.npz, model.json, metrics.csv and attention.png")
      ->capture_default_str()
      ->group(g);
  app.add_flag("--no-save", o.no_save, "do not save the model")->group(g);
  app.add_option("--show", o.show, "sentences to print with their translations")
      ->capture_default_str()
      ->group(g);

  g = "Translation";
  auto* load_opt =
      app.add_option("--load", o.load, "translate with the model saved in this folder")->group(g);
  app.add_option("--translate", o.sentences, "a sentence to translate (repeatable)")
      ->needs(load_opt)
      ->group(g);
  app.add_flag("--stdin", o.from_stdin, "translate the lines of standard input")
      ->needs(load_opt)
      ->group(g);

  CLI11_PARSE(app, argc, argv);
  o.program = argv[0];
  if (!o.load.empty()) {
    std::string training;
    for (const char* name : {"--train-size", "--valid-size",
                             "--test-size",  "--held-out-size",
                             "--seed",       "--cell",
                             "--embedding",  "--hidden",
                             "--layers",     "--unidirectional",
                             "--attention",  "--style",
                             "--dropout",    "--epochs",
                             "--batch-size", "--lr",
                             "--clip",       "--teacher-forcing",
                             "--patience",   "--out",
                             "--no-save",    "--show"}) {
      if (app.count(name) > 0) training += (training.empty() ? "" : ", ") + std::string(name);
    }
    if (!training.empty()) {
      std::cerr << "translate: error: " << training
                << " cannot be used with --load (the model and its settings come from the "
                   "saved folder)\n";
      return 2;
    }
    if (o.sentences.empty() && !o.from_stdin) {
      std::cerr << "translate: error: --load needs --translate TEXT or --stdin\n";
      return 2;
    }
  }
  tapegrad::set_num_threads(o.threads);
  try {
    return o.load.empty() ? run_training(o) : run_translation(o, app);
  } catch (const std::exception& e) {
    std::cerr << "translate: error: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return examples::guarded_main(argc, argv, run);
}
