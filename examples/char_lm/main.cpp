// char_lm: trains a character-level LSTM (or GRU) language model on a text file with
// truncated BPTT, reports bits per character on the held-out end of the text next to the
// unigram baseline, and samples text from a prompt. See char_lm.hpp for the parts, and
// `char_lm --help` for the options.
//
//   char_lm                                  # LSTM on the GPL-3, then a sample
//   char_lm --save gpl.npz                   # ... and keep the model (+ gpl.vocab.txt)
//   char_lm --load gpl.npz --sample-only --prompt "You may " --temperature 0.5
//   mpirun -np 2 char_lm --distributed       # on 2 processes (docs/distributed.md)
#include <chrono>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "char_lm.hpp"
#include "cli_checks.hpp"
#include "distributed_main.hpp"
#include "guarded_main.hpp"
#include "outputs.hpp"
#include "plot.hpp"

namespace {

namespace data = tapegrad::data;

const char* cell_name(tapegrad::nn::CellKind cell) {
  return cell == tapegrad::nn::CellKind::gru ? "GRU" : "LSTM";
}

std::string describe(const char_lm::CharModel& model) {
  const char_lm::ModelConfig& c = model.config();
  return std::string(cell_name(c.cell)) + " (" + std::to_string(c.num_layers) +
         (c.num_layers == 1 ? " layer" : " layers") + ", hidden " + std::to_string(c.hidden_size) +
         ", embedding " + std::to_string(c.embedding_size) + ", vocabulary " +
         std::to_string(c.vocab_size) + ", " + std::to_string(model.num_parameters()) +
         " parameters)";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Trains, reports, and writes the model, the metrics and the plot as outputs of `out` (under
// temporary names: main commits them once the whole run has succeeded); returns the model and
// vocabulary to sample from. `files` gets a line for each output.
// With `distributed` (--distributed, under mpirun), every process trains on its share of the
// streams (char_lm::train) and rank 0 alone writes the outputs.
char_lm::Loaded train_model(const char_lm::Options& o, std::optional<char_lm::Loaded> loaded,
                            std::string save_path, std::string metrics_path, std::string plot_path,
                            tapegrad::OutputFiles& out, std::vector<std::string>& files,
                            bool distributed) {
  const auto start = std::chrono::steady_clock::now();
  examples::Parallel parallel;
#ifdef TAPEGRAD_HAVE_DISTRIBUTED
  std::optional<tapegrad::distributed::Communicator> comm;
  if (distributed) {
    comm = tapegrad::distributed::Communicator::world();
    parallel.rank = comm->rank();
    parallel.size = comm->size();
  }
#else
  (void)distributed;  // distributed_main refuses --distributed without MPI
#endif
  if (parallel.rank != 0) save_path = metrics_path = plot_path = "";  // one writer
  const std::string text = char_lm::read_text(o.text_path, o.any_bytes);
  char_lm::Corpus corpus;
  tapegrad::IndexArray streams;
  try {
    corpus = char_lm::make_corpus(text, o.valid_fraction, loaded ? &loaded->vocab : nullptr);
    // Checked before the first epoch, so that a short text fails at once.
    streams = char_lm::make_streams(corpus.train,
                                    o.batch_size * static_cast<std::size_t>(parallel.size), o.bptt);
  } catch (const tapegrad::value_error& e) {
    throw tapegrad::value_error("--text '" + o.text_path + "': " + e.what());
  }
  const std::size_t steps = streams.shape()[0] - 1;
  char_lm::Loaded run;
  if (loaded) {
    run = std::move(*loaded);
  } else {
    tapegrad::Generator generator(o.seed);
    run.model = std::make_unique<char_lm::CharModel>(char_lm::model_config(o, corpus.vocab.size()),
                                                     generator);
    run.vocab = corpus.vocab;
  }
  // Mistakes that would otherwise show only after training: a prompt with unknown characters,
  // an output folder that cannot be created or written, a folder in an output's place.
  char_lm::encode_strict(run.vocab, o.prompt, "--prompt");
  std::string csv = metrics_path;
  if (csv.empty() && !plot_path.empty()) csv = plot_path + ".csv";
  for (const std::string& path : {save_path, csv, plot_path}) {
    if (!path.empty()) examples::create_folder(std::filesystem::path(path).parent_path().string());
  }
  if (!save_path.empty()) {
    tapegrad::OutputFiles probe;  // removes its temporaries
    probe.stage(save_path);
    probe.stage(char_lm::vocab_path_for(save_path));
  }
  const std::string csv_new = csv.empty() ? "" : out.stage(csv);
  const std::string plot_new = plot_path.empty() ? "" : out.stage(plot_path);

  std::printf("char_lm: %s%s\n", describe(*run.model).c_str(),
              loaded ? ", continuing from the loaded model" : "");
  std::printf(
      "text: '%s', %zu bytes, %zu distinct; training on the first %zu, holding out "
      "the last %zu\n",
      o.text_path.c_str(), text.size(), corpus.vocab.size() - 2, corpus.train.size(),
      corpus.valid.size());
  std::printf(
      "truncated BPTT: %zu streams of %zu steps, chunks of %zu steps (%zu per epoch); "
      "Adam, lr %g -> %g (cosine), clip %g, dropout %g, seed %llu\n",
      o.batch_size, steps, o.bptt, (steps + o.bptt - 1) / o.bptt, o.lr, o.lr / 10, o.clip,
      o.dropout, static_cast<unsigned long long>(o.seed));
  std::printf(
      "unigram entropy: %.3f bits/char of the training text's own frequencies; "
      "%.3f bits/char on the held-out text\n"
      "  (training frequencies, add-one smoothed): the baseline valid_bpc must beat\n",
      char_lm::entropy_bits(corpus.train),
      char_lm::unigram_bits(corpus.train, corpus.valid, corpus.vocab.size()));
  std::printf("BLAS: %s, %d thread\n\n", tapegrad::blas_info().c_str(), tapegrad::num_threads());
  std::fflush(stdout);

  std::optional<data::MetricsLog> log;
  if (!csv.empty()) {
    log.emplace(
        csv_new,
        std::vector<std::string>{"epoch", "train_bpc", "valid_bpc", "unigram_bpc", "lr", "seconds"},
        /*append=*/false);
  }
#ifdef TAPEGRAD_HAVE_DISTRIBUTED
  // Rank 0's parameters everywhere; gradients averaged after each backward.
  std::unique_ptr<tapegrad::distributed::DataParallel<float>> ddp;
  if (comm) {
    ddp = std::make_unique<tapegrad::distributed::DataParallel<float>>(*run.model, *comm);
    parallel.average_gradients = [&ddp] { ddp->finish(); };
    parallel.sum = [&comm](const std::vector<double>& v) { return comm->sum(v); };
    std::printf("distributed: %d processes, %zu streams each\n\n", parallel.size, o.batch_size);
  }
#endif
  const auto stats = char_lm::train(
      *run.model, corpus, o, parallel.rank == 0 ? &std::cout : nullptr,
      [&](const auto& s) {
        if (log) {
          log->write_values({static_cast<double>(s.epoch), s.train_bpc, s.valid_bpc, s.unigram_bpc,
                             s.lr, s.seconds});
        }
      },
      parallel);
  log.reset();  // closed before the plot reads it
  const char_lm::EpochStats& last = stats.back();
  std::printf(
      "\nfinal: valid %.3f bpc, unigram baseline %.3f bpc (%.0f%% of it); "
      "trained in %.1f s\n",
      last.valid_bpc, last.unigram_bpc, 100.0 * last.valid_bpc / last.unigram_bpc,
      seconds_since(start));
  if (!save_path.empty()) {
    char_lm::save(out, *run.model, run.vocab, save_path);
    files.push_back("saved the model to " + save_path + " and its vocabulary to " +
                    char_lm::vocab_path_for(save_path));
  }
  if (!csv.empty()) files.push_back("wrote the per-epoch metrics to " + csv);
  if (!plot_path.empty()) {
    const examples::Panel panel{"bits per character, by epoch",
                                "epoch",
                                "bits per character",
                                {{csv_new, 1, 2, "train (running mean)", "linespoints"},
                                 {csv_new, 1, 3, "held-out", "linespoints"},
                                 {csv_new, 1, 4, "unigram baseline (held-out)", "lines"}}};
    const std::string error = examples::plot_png(plot_new, {panel});
    if (error.empty()) {
      files.push_back("plotted bpc per epoch to " + plot_path);
    } else {
      out.discard(plot_path);  // an earlier plot stays as it was
      files.push_back("no plot: " + error);
    }
  }
  return run;
}

}  // namespace

namespace {

int run(int argc, char** argv) {
  char_lm::Options o;
  std::string save_path, load_path, metrics_path, plot_path;
  bool sample_only = false;
  bool distributed = false;

  CLI::App app(
      "char_lm: a character-level language model (Embedding -> LSTM/GRU -> Linear) trained\n"
      "with truncated BPTT on a text file; reports bits per character on the held-out end\n"
      "of the text next to the unigram baseline, then samples text from a prompt.");
  app.footer(
      "Prints one line per epoch: chunks done, the mean training loss (nats), characters per\n"
      "second (ex/s), seconds, then train_bpc, valid_bpc (held-out text), unigram_bpc (the\n"
      "baseline) and lr; then a sample. --save FILE.npz also writes FILE.vocab.txt, which\n"
      "--load reads back with the model.");
  app.get_formatter()->column_width(30);

  const char* group = "Data";
  app.add_option("--text", o.text_path, "text file to train on")
      ->capture_default_str()
      ->type_name("FILE")
      ->group(group);
  app.add_flag("--bytes", o.any_bytes,
               "train on any bytes (a binary file, a text not in UTF-8); else the file must "
               "be UTF-8 text")
      ->group(group);
  app.add_option("--valid-fraction", o.valid_fraction, "held-out end of the text")
      ->capture_default_str()
      ->check(CLI::Validator(
          [](std::string& input) -> std::string {
            double value = 0.0;
            if (!CLI::detail::lexical_cast(input, value)) return "not a number: " + input;
            if (!(value > 0.0 && value <= 0.5)) return "must be in (0, 0.5], got " + input;
            return {};
          },
          "in (0, 0.5]"))
      ->group(group);

  group = "Model";
  app.add_option("--cell", o.cell, "recurrent layer")
      ->capture_default_str()
      ->check(CLI::IsMember({"lstm", "gru"}))
      ->group(group);
  app.add_option("--embedding", o.embedding_size, "embedding size")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--hidden", o.hidden_size, "hidden size")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--layers", o.num_layers, "stacked recurrent layers")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--dropout", o.dropout, "on embeddings, between layers, before the head")
      ->capture_default_str()
      ->check(examples::drop_probability())
      ->group(group);

  group = "Training";
  app.add_option("--epochs", o.epochs, "passes over the training text")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--batch-size", o.batch_size, "parallel streams the text is cut into")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--bptt", o.bptt, "steps per chunk of truncated BPTT")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--lr", o.lr, "Adam's rate, annealed to lr/10 (cosine)")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--clip", o.clip, "gradient norm clipping")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--seed", o.seed, "initialisation, dropout and sampling")
      ->capture_default_str()
      ->group(group);

  group = "Sampling";
  app.add_option("--prompt", o.prompt, "text the sample continues")
      ->default_str("'" + o.prompt + "'")
      ->group(group);
  app.add_option("--temperature", o.temperature, "lower is more conservative")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);
  app.add_option("--sample-length", o.sample_length, "characters to sample")
      ->capture_default_str()
      ->check(examples::positive())
      ->group(group);

  group = "Files";
  app.add_option("--save", save_path, "save the model (.npz) and its vocabulary")
      ->type_name("FILE")
      ->group(group);
  auto* load = app.add_option("--load", load_path, "start from a saved model and vocabulary")
                   ->type_name("FILE")
                   ->check(CLI::ExistingFile.description(""))
                   ->group(group);
  app.add_flag("--sample-only", sample_only, "with --load: sample without training")
      ->needs(load)
      ->group(group);
  app.add_flag("--distributed", distributed,
               "train on the processes of mpirun (data parallel, --batch-size streams each; "
               "docs/distributed.md); rank 0 writes")
      ->group(group);
  app.add_option("--metrics", metrics_path, "write the per-epoch numbers (CSV)")
      ->type_name("FILE")
      ->group(group);
  app.add_option("--plot", plot_path, "plot bpc per epoch (PNG, needs gnuplot)")
      ->type_name("FILE")
      ->group(group);

  CLI11_PARSE(app, argc, argv);
  // Options that would be silently ignored are errors.
  const auto given = [&](const std::vector<const char*>& names) {
    std::string list;
    for (const char* name : names) {
      if (app.count(name) > 0) list += (list.empty() ? "" : ", ") + std::string(name);
    }
    return list;
  };
  if (const std::string shape =
          given({"--cell", "--embedding", "--hidden", "--layers", "--dropout"});
      !load_path.empty() && !shape.empty()) {
    std::fprintf(stderr,
                 "char_lm: error: %s cannot be used with --load: the model's shape comes from "
                 "the saved file\n",
                 shape.c_str());
    return 2;
  }
  if (const std::string training =
          given({"--text", "--bytes", "--valid-fraction", "--epochs", "--batch-size", "--bptt",
                 "--lr", "--clip", "--save", "--metrics", "--plot"});
      sample_only && !training.empty()) {
    std::fprintf(stderr, "char_lm: error: %s cannot be used with --sample-only (no training)\n",
                 training.c_str());
    return 2;
  }

  try {
    char_lm::check_options(o);
    // Small matrices: a second BLAS thread would only add synchronisation.
    tapegrad::set_num_threads(1);
    std::optional<char_lm::Loaded> loaded;
    if (!load_path.empty()) loaded = char_lm::load(load_path);

    // The run's files replace earlier ones only once it has succeeded (out.commit() below): a
    // run that fails or is interrupted leaves them as they were.
    tapegrad::OutputFiles out;
    std::vector<std::string> files;
    char_lm::Loaded model;
    if (sample_only) {
      model = std::move(*loaded);
      std::printf("char_lm: loaded %s from %s (vocabulary %s)\n", describe(*model.model).c_str(),
                  load_path.c_str(), char_lm::vocab_path_for(load_path).c_str());
    } else {
      model = train_model(o, std::move(loaded), save_path, metrics_path, plot_path, out, files,
                          distributed);
    }

    const std::string sampled = char_lm::sample(*model.model, model.vocab, o.prompt, o.temperature,
                                                o.sample_length, o.seed);
    std::printf("\nsample (temperature %g, seed %llu):\n%s%s\n", o.temperature,
                static_cast<unsigned long long>(o.seed), o.prompt.c_str(), sampled.c_str());
    out.commit();
    if (!files.empty()) std::printf("\n");
    for (const std::string& line : files) std::printf("%s\n", line.c_str());
    return 0;
  } catch (const tapegrad::value_error& e) {
    std::fprintf(stderr, "char_lm: error: %s\n", e.what());
    return 1;
  } catch (const tapegrad::numerical_error& e) {
    std::fprintf(stderr, "char_lm: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "char_lm: unexpected error: %s\n", e.what());
    return 2;
  }
}

}  // namespace

int main(int argc, char** argv) {
  return examples::distributed_main(argc, argv, run);
}
