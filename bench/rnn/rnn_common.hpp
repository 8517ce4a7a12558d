// What the recurrent benchmark's binaries share (rnn_tapegrad, rnn_torch, rnn_sgemm): the
// command line, the GEMM FLOP count of a step, the timing loop, memory probes and the one JSON
// line each run prints. Standard library and POSIX only: the LibTorch binary includes this too,
// so no tapegrad header may enter here.
//
// Command line (every binary):
//   --cell rnn|lstm|gru --batch B --seq T --input I --hidden H --mode train|infer
//   --threads N --reps R --warmup W --min-rep-ms M --seed S --flush-denormals 0|1
// A "rep" times ceil(M / one step's time) consecutive steps and records their mean, so short
// steps are timed over at least M milliseconds; the JSON holds one time per rep (ms per step).
#pragma once

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>
#include <xmmintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace rnn_bench {

struct Config {
  std::string cell = "lstm";  // rnn (tanh), lstm, gru
  std::int64_t batch = 32;
  std::int64_t seq = 50;
  std::int64_t input = 64;
  std::int64_t hidden = 128;
  std::string mode = "train";  // train: forward, head, loss, backward, Adam; infer: no tape
  int threads = 1;
  int reps = 5;
  int warmup = 2;
  double min_rep_ms = 100.0;
  std::uint64_t seed = 1;
  bool flush_denormals = false;  // FTZ + DAZ before any thread starts (set_flush_denormals)

  bool train() const { return mode == "train"; }
  /// Gates per cell: G in the [G*H, ...] weight shapes.
  std::int64_t gates() const { return cell == "lstm" ? 4 : cell == "gru" ? 3 : 1; }
};

inline const char* usage() {
  return "usage: --cell rnn|lstm|gru --batch B --seq T --input I --hidden H --mode train|infer "
         "--threads N --reps R --warmup W --min-rep-ms M --seed S --flush-denormals 0|1";
}

/// What each option of a command line does with its value.
using OptionSetters = std::map<std::string, std::function<void(const std::string&)>>;

/// Applies the command line's `--key value` pairs through `keys`, then `check`, which throws
/// std::invalid_argument for values that do not go together; an unknown key, a missing or bad
/// value or a failed check prints the message and `usage_text` and exits with status 2.
inline void parse_options(int argc, char** argv, const OptionSetters& keys,
                          const std::function<void()>& check, const char* usage_text) {
  try {
    for (int i = 1; i < argc; i += 2) {
      auto it = keys.find(argv[i]);
      if (it == keys.end() || i + 1 >= argc) {
        throw std::invalid_argument(std::string("unknown or incomplete option ") + argv[i]);
      }
      it->second(argv[i + 1]);
    }
    check();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: %s\n%s\n", argv[0], e.what(), usage_text);
    std::exit(2);
  }
}

/// Parses `--key value` pairs; a bad key or value prints the usage and exits with status 2.
inline Config parse_args(int argc, char** argv) {
  Config c;
  const OptionSetters keys = {
      {"--cell", [&](const std::string& v) { c.cell = v; }},
      {"--batch", [&](const std::string& v) { c.batch = std::stoll(v); }},
      {"--seq", [&](const std::string& v) { c.seq = std::stoll(v); }},
      {"--input", [&](const std::string& v) { c.input = std::stoll(v); }},
      {"--hidden", [&](const std::string& v) { c.hidden = std::stoll(v); }},
      {"--mode", [&](const std::string& v) { c.mode = v; }},
      {"--threads", [&](const std::string& v) { c.threads = std::stoi(v); }},
      {"--reps", [&](const std::string& v) { c.reps = std::stoi(v); }},
      {"--warmup", [&](const std::string& v) { c.warmup = std::stoi(v); }},
      {"--min-rep-ms", [&](const std::string& v) { c.min_rep_ms = std::stod(v); }},
      {"--seed", [&](const std::string& v) { c.seed = std::stoull(v); }},
      {"--flush-denormals", [&](const std::string& v) { c.flush_denormals = std::stoi(v) != 0; }},
  };
  parse_options(
      argc, argv, keys,
      [&c] {
        if (c.cell != "rnn" && c.cell != "lstm" && c.cell != "gru") {
          throw std::invalid_argument("--cell must be rnn, lstm or gru, got " + c.cell);
        }
        if (c.mode != "train" && c.mode != "infer") {
          throw std::invalid_argument("--mode must be train or infer, got " + c.mode);
        }
        if (c.batch < 1 || c.seq < 1 || c.input < 1 || c.hidden < 1 || c.threads < 1 ||
            c.reps < 1 || c.warmup < 0) {
          throw std::invalid_argument("sizes, threads and reps must be positive, warmup >= 0");
        }
      },
      usage());
  return c;
}

/// FLOPs of the recurrent GEMMs of one step (the Linear head's [B,H]x[H,10] is left out).
/// Forward: the input projection [T*B, in] x [in, G*H] and T recurrences [B, H] x [H, G*H].
/// Backward (training): dW_ih = dG^T X ([G*H, T*B] x [T*B, in]; the input needs no gradient),
/// T products dW_hh += dg_t^T h_{t-1} ([G*H, B] x [B, H]) and T - 1 products dh_{t-1} = dg_t W_hh
/// ([B, G*H] x [G*H, H]; the zero initial state needs no gradient).
struct GemmFlops {
  double projection = 0;  // one input projection GEMM
  double recurrence = 0;  // one per-step recurrent GEMM
  double forward = 0;
  double backward = 0;
  double step = 0;  // what one step of the configured mode does
};

inline GemmFlops gemm_flops(const Config& c) {
  const double t = static_cast<double>(c.seq), b = static_cast<double>(c.batch);
  const double in = static_cast<double>(c.input), h = static_cast<double>(c.hidden);
  const double gh = static_cast<double>(c.gates()) * h;
  GemmFlops f;
  f.projection = 2.0 * t * b * in * gh;
  f.recurrence = 2.0 * b * h * gh;
  f.forward = f.projection + t * f.recurrence;
  f.backward = f.projection + (2.0 * t - 1.0) * f.recurrence;
  f.step = c.train() ? f.forward + f.backward : f.forward;
  return f;
}

/// Flushes denormal results to zero and reads denormal inputs as zero (MXCSR FTZ and DAZ) on
/// the calling thread and on the threads it creates afterwards (they inherit its floating-point
/// environment), as torch::set_flush_denormal(true) does. Call it before setting the BLAS
/// threads: OpenBLAS creates its workers when the thread count goes up. Gradients that decay
/// over many time steps reach denormal values, on which the CPU's arithmetic is many times
/// slower; flushing changes results only below 1.2e-38.
inline void set_flush_denormals() {
  _mm_setcsr(_mm_getcsr() | 0x8040);  // FTZ (bit 15) | DAZ (bit 6)
}

inline double now_ms() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double, std::milli>(clock::now().time_since_epoch()).count();
}

/// Wall-clock times of `step`: `warmup` steps first, then `reps` reps of `inner` consecutive
/// steps each, inner chosen from the last warm-up step so that a rep lasts about min_rep_ms.
/// Returns ms per step, one value per rep; `inner` is set to the steps per rep.
inline std::vector<double> time_steps(const Config& c, const std::function<void()>& step,
                                      int& inner) {
  double last = 0.0;
  for (int i = 0; i < std::max(c.warmup, 1); ++i) {
    const double t0 = now_ms();
    step();
    last = now_ms() - t0;
  }
  inner = static_cast<int>(std::clamp(std::ceil(c.min_rep_ms / std::max(last, 1e-3)), 1.0, 1e4));
  std::vector<double> times;
  for (int r = 0; r < c.reps; ++r) {
    const double t0 = now_ms();
    for (int i = 0; i < inner; ++i) step();
    times.push_back((now_ms() - t0) / inner);
  }
  return times;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/// Bytes the process holds from malloc right now, over every arena (glibc): blocks in use in
/// the arenas plus mmapped blocks. Both libraries allocate their arrays through malloc.
inline std::int64_t heap_in_use() {
  const struct mallinfo2 m = mallinfo2();
  return static_cast<std::int64_t>(m.uordblks + m.hblkhd);
}

/// Resident set size now, in KiB (/proc/self/statm).
inline std::int64_t current_rss_kb() {
  std::ifstream statm("/proc/self/statm");
  std::int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * static_cast<std::int64_t>(sysconf(_SC_PAGESIZE)) / 1024;
}

/// Peak resident set size of the process so far, in KiB (getrusage ru_maxrss).
inline std::int64_t peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<std::int64_t>(u.ru_maxrss);
}

inline std::string json_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += ' ';
    } else {
      out += ch;
    }
  }
  return out;
}

/// One flat JSON object, written in insertion order.
class JsonLine {
 public:
  JsonLine& add(const std::string& key, const std::string& value) {
    return raw(key, "\"" + json_escape(value) + "\"");
  }
  JsonLine& add(const std::string& key, const char* value) { return add(key, std::string(value)); }
  JsonLine& add(const std::string& key, double value) {
    std::ostringstream s;
    s.precision(9);
    s << value;
    return raw(key, s.str());
  }
  JsonLine& add(const std::string& key, std::int64_t value) {
    return raw(key, std::to_string(value));
  }
  JsonLine& add(const std::string& key, int value) { return raw(key, std::to_string(value)); }
  JsonLine& add(const std::string& key, const std::vector<double>& values) {
    std::ostringstream s;
    s.precision(6);
    s << '[';
    for (std::size_t i = 0; i < values.size(); ++i) s << (i ? "," : "") << values[i];
    s << ']';
    return raw(key, s.str());
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  JsonLine& raw(const std::string& key, const std::string& value) {
    body_ += (body_.empty() ? "\"" : ",\"") + json_escape(key) + "\":" + value;
    return *this;
  }
  std::string body_;
};

/// The fields every binary prints first: the library, the configuration, the step times.
inline JsonLine result_line(const std::string& lib, const Config& c,
                            const std::vector<double>& times, int inner) {
  const GemmFlops f = gemm_flops(c);
  const double med = median(times);
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  JsonLine j;
  j.add("lib", lib)
      .add("cell", c.cell)
      .add("batch", c.batch)
      .add("seq", c.seq)
      .add("input", c.input)
      .add("hidden", c.hidden)
      .add("mode", c.mode)
      .add("threads", c.threads)
      .add("flush_denormals", c.flush_denormals ? 1 : 0)
      .add("omp_wait_policy", policy != nullptr ? policy : "")
      .add("steps_per_rep", inner)
      .add("times_ms", times)
      .add("median_ms", med)
      .add("tokens_per_s", static_cast<double>(c.batch * c.seq) / (med * 1e-3))
      .add("gemm_flops", f.step)
      .add("gemm_gflops", f.step / (med * 1e-3) * 1e-9);
  return j;
}

/// What both binaries do with their step: one probed step (`probe` is true during it, for the
/// memory figures), then the timed steps; returns the result line with the step times and the
/// process's resident memory before the first step and at its peak.
inline JsonLine measure(const std::string& lib, const Config& c,
                        const std::function<void()>& train_step,
                        const std::function<void()>& infer_step, bool& probe) {
  const std::function<void()>& step = c.train() ? train_step : infer_step;
  const std::int64_t base_rss = current_rss_kb();
  probe = true;
  step();
  probe = false;
  int inner = 1;
  const std::vector<double> times = time_steps(c, step, inner);
  JsonLine j = result_line(lib, c, times, inner);
  j.add("base_rss_kb", base_rss).add("peak_rss_kb", peak_rss_kb());
  return j;
}

}  // namespace rnn_bench
