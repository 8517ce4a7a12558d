// What the sequence-to-sequence benchmark's binaries share (seq2seq_tapegrad, seq2seq_torch):
// the sizes and the command line, the one batch both train on (drawn from a seeded
// std::mt19937_64 with plain arithmetic, so both see the same ids and lengths) and the JSON line
// each prints. The timing loop, the JSON writer and the memory probes are the recurrent
// benchmark's (../rnn/rnn_common.hpp); the value check's file is ../value_check.hpp.
// Standard library only: the LibTorch binary includes this too, so no tapegrad header may enter.
//
// Command line (both binaries; every default is Config's, the one place to change them):
//   --batch B --src-len S --src-len-min S0 --tgt-len T --tgt-len-min T0 --src-vocab Vs
//   --tgt-vocab Vt --embed E --hidden H --threads N --reps R --warmup W --min-rep-ms M
//   --seed S --check FILE
// With --check, seq2seq_tapegrad writes its initial weights, the losses, gradient norms and
// gradients of kCheckSteps training steps and the weights after them to FILE, and
// seq2seq_torch loads those weights into its modules by name, runs the same steps and compares.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "../rnn/rnn_common.hpp"

namespace s2s_bench {

/// Token ids of the specials, in both vocabularies; words are the ids from kFirstWord up.
constexpr std::int64_t kPad = 0, kSos = 1, kEos = 2, kFirstWord = 3;
/// Adam's learning rate and the gradient clipping norm, the same in both libraries.
constexpr double kLearningRate = 1e-3, kMaxNorm = 1.0;
/// Training steps the value check runs and compares.
constexpr int kCheckSteps = 3;

/// The model's sizes and the run's settings. The defaults are the translate example's
/// (examples/translate with its defaults): batch 64, embeddings 32, hidden 64, its vocabularies
/// (56 source characters, 15 target ones, specials included), ISO dates as targets (10
/// characters and <eos>), and a batch of sources of similar lengths (it buckets them) around
/// the mean length of its training formats' dates.
struct Config {
  std::int64_t batch = 64;        // B
  std::int64_t src_len = 16;      // S, the padded source length
  std::int64_t src_len_min = 12;  // source lengths are drawn from [src_len_min, src_len]
  std::int64_t tgt_len = 11;      // T, decoder steps: the padded target length (with <eos>)
  std::int64_t tgt_len_min = 11;  // target lengths (with <eos>) from [tgt_len_min, tgt_len]
  std::int64_t src_vocab = 56;    // Vs, with the specials
  std::int64_t tgt_vocab = 15;    // Vt, with the specials
  std::int64_t embed = 32;        // E, both embeddings
  std::int64_t hidden = 64;       // H, per encoder direction and the decoder's
  int threads = 1;
  int reps = 5;
  int warmup = 2;
  double min_rep_ms = 100.0;
  std::uint64_t seed = 1;
  std::string check;  // the value check's file; empty: benchmark

  /// The recurrent benchmark's Config with this run's timing settings (rnn_bench::time_steps).
  rnn_bench::Config timing() const {
    rnn_bench::Config t;
    t.reps = reps;
    t.warmup = warmup;
    t.min_rep_ms = min_rep_ms;
    return t;
  }
};

inline const char* usage() {
  return "usage: --batch B --src-len S --src-len-min S0 --tgt-len T --tgt-len-min T0 "
         "--src-vocab Vs --tgt-vocab Vt --embed E --hidden H --threads N --reps R --warmup W "
         "--min-rep-ms M --seed S --check FILE";
}

/// Parses `--key value` pairs; a bad key or value prints the usage and exits with status 2.
inline Config parse_args(int argc, char** argv) {
  Config c;
  auto i64 = [](std::int64_t& field) {
    return [&field](const std::string& v) { field = std::stoll(v); };
  };
  const rnn_bench::OptionSetters keys = {
      {"--batch", i64(c.batch)},
      {"--src-len", i64(c.src_len)},
      {"--src-len-min", i64(c.src_len_min)},
      {"--tgt-len", i64(c.tgt_len)},
      {"--tgt-len-min", i64(c.tgt_len_min)},
      {"--src-vocab", i64(c.src_vocab)},
      {"--tgt-vocab", i64(c.tgt_vocab)},
      {"--embed", i64(c.embed)},
      {"--hidden", i64(c.hidden)},
      {"--threads", [&](const std::string& v) { c.threads = std::stoi(v); }},
      {"--reps", [&](const std::string& v) { c.reps = std::stoi(v); }},
      {"--warmup", [&](const std::string& v) { c.warmup = std::stoi(v); }},
      {"--min-rep-ms", [&](const std::string& v) { c.min_rep_ms = std::stod(v); }},
      {"--seed", [&](const std::string& v) { c.seed = std::stoull(v); }},
      {"--check", [&](const std::string& v) { c.check = v; }},
  };
  rnn_bench::parse_options(
      argc, argv, keys,
      [&c] {
        if (c.batch < 1 || c.embed < 1 || c.hidden < 1 || c.threads < 1 || c.reps < 1 ||
            c.warmup < 0) {
          throw std::invalid_argument("sizes, threads and reps must be positive, warmup >= 0");
        }
        if (c.src_len_min < 1 || c.src_len_min > c.src_len) {
          throw std::invalid_argument("need 1 <= --src-len-min <= --src-len");
        }
        if (c.tgt_len_min < 1 || c.tgt_len_min > c.tgt_len) {
          throw std::invalid_argument("need 1 <= --tgt-len-min <= --tgt-len");
        }
        if (c.src_vocab <= kFirstWord || c.tgt_vocab <= kFirstWord) {
          throw std::invalid_argument("the vocabularies need a word beside the 3 specials");
        }
      },
      usage());
  return c;
}

/// The batch both libraries train on, row-major.
struct Batch {
  std::vector<std::int64_t> source;          // [B, S]: words, kPad past each length
  std::vector<std::int64_t> source_lengths;  // [B], in [src_len_min, src_len], unsorted
  std::vector<std::int64_t> decoder_input;   // [B, T]: <sos> y_0 .. y_{T-2} (teacher forcing)
  std::vector<std::int64_t> target;          // [B, T]: y_0 .. y_{L-1} = <eos>, kPad past L
};

/// A batch drawn from `seed` with std::mt19937_64 and modulo arithmetic (no distribution
/// object, whose algorithm the standard leaves open): the same in every binary.
inline Batch make_batch(const Config& c) {
  std::mt19937_64 gen(c.seed);
  auto draw = [&gen](std::int64_t lo, std::int64_t hi) {  // in [lo, hi]
    return lo + static_cast<std::int64_t>(gen() % static_cast<std::uint64_t>(hi - lo + 1));
  };
  const std::int64_t b = c.batch, s = c.src_len, t = c.tgt_len;
  Batch batch;
  batch.source.assign(static_cast<std::size_t>(b * s), kPad);
  batch.decoder_input.assign(static_cast<std::size_t>(b * t), kPad);
  batch.target.assign(static_cast<std::size_t>(b * t), kPad);
  for (std::int64_t i = 0; i < b; ++i) {
    const std::int64_t len = draw(c.src_len_min, c.src_len);
    batch.source_lengths.push_back(len);
    for (std::int64_t j = 0; j < len; ++j) {
      batch.source[static_cast<std::size_t>(i * s + j)] = draw(kFirstWord, c.src_vocab - 1);
    }
    const std::int64_t tlen = draw(c.tgt_len_min, c.tgt_len);
    for (std::int64_t j = 0; j < tlen; ++j) {
      const std::int64_t y = j == tlen - 1 ? kEos : draw(kFirstWord, c.tgt_vocab - 1);
      batch.target[static_cast<std::size_t>(i * t + j)] = y;
    }
    batch.decoder_input[static_cast<std::size_t>(i * t)] = kSos;
    for (std::int64_t j = 1; j < t; ++j) {
      batch.decoder_input[static_cast<std::size_t>(i * t + j)] =
          batch.target[static_cast<std::size_t>(i * t + j - 1)];
    }
  }
  return batch;
}

/// The fields both binaries print first: the library, the sizes, the step times.
inline rnn_bench::JsonLine result_line(const std::string& lib, const Config& c,
                                       const std::vector<double>& times, int inner) {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  rnn_bench::JsonLine j;
  j.add("lib", lib)
      .add("batch", c.batch)
      .add("src_len", c.src_len)
      .add("src_len_min", c.src_len_min)
      .add("tgt_len", c.tgt_len)
      .add("tgt_len_min", c.tgt_len_min)
      .add("src_vocab", c.src_vocab)
      .add("tgt_vocab", c.tgt_vocab)
      .add("embed", c.embed)
      .add("hidden", c.hidden)
      .add("threads", c.threads)
      .add("omp_wait_policy", policy != nullptr ? policy : "")
      .add("glibc_tunables", tunables != nullptr ? tunables : "")
      .add("steps_per_rep", inner)
      .add("times_ms", times)
      .add("median_ms", rnn_bench::median(times));
  return j;
}

/// Times `train_step` (rnn_bench::time_steps: warm-up steps, then reps of enough steps to last
/// min_rep_ms) and returns the result line with the process's resident memory before the first
/// step and at its peak.
inline rnn_bench::JsonLine measure(const std::string& lib, const Config& c,
                                   const std::function<void()>& train_step) {
  const std::int64_t base_rss = rnn_bench::current_rss_kb();
  int inner = 1;
  const std::vector<double> times = rnn_bench::time_steps(c.timing(), train_step, inner);
  rnn_bench::JsonLine j = result_line(lib, c, times, inner);
  j.add("base_rss_kb", base_rss).add("peak_rss_kb", rnn_bench::peak_rss_kb());
  return j;
}

}  // namespace s2s_bench
