// The candidates for tapegrad's float GEMM, side by side in one process: OpenBLAS's
// cblas_sgemm (the kernels it chose when it loaded, from its CPU table or OPENBLAS_CORETYPE) and
// oneDNN's dnnl_sgemm (which picks its instruction set from the CPU's features when it runs,
// capped by DNNL_MAX_CPU_ISA), at the GEMM shapes of bench/run_rnn.sh's grid: for each shape
// (B, T, I, H) and each cell's gate count G (RNN 1, GRU 3, LSTM 4), the six products of a
// recurrent layer's training step in the layouts tapegrad uses (row-major):
//   proj  Gx = X W_ih^T        [T*B, I] x [I, G*H]       NT
//   rec   Gx_t += h W_hh^T     [B, H] x [H, G*H]         NT, beta 1
//   dWih  dG^T X               [G*H, T*B] x [T*B, I]     TN
//   dWhh  dg_t^T h             [G*H, B] x [B, H]         TN, beta 1
//   dh    dg_t W_hh            [B, G*H] x [G*H, H]       NN
//   dX    dG W_ih              [T*B, G*H] x [G*H, I]     NN
// Each repetition times enough calls to last --min-rep-ms, the backends alternating repetition
// by repetition, so that the machine's noise hits both alike; the medians are printed as one
// JSON line per product (GFLOP/s of each and their ratio), after a check of both against a
// double-precision product (largest error relative to the largest |C|).
//
//   gemm_backends [--threads N] [--reps R] [--min-rep-ms M] [--only SUBSTRING]
//
// bench/run_gemm.sh builds it, runs it under the CPU's own code paths and under forced older
// ones, and prints the table of docs/performance.md.
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include <oneapi/dnnl/dnnl.h>

extern "C" {
void openblas_set_num_threads(int threads);
char* openblas_get_corename(void);
}

namespace {

struct Product {
  std::string name;  // e.g. "lstm 32,50,64,128 proj"
  bool trans_a, trans_b;
  std::int64_t m, n, k;
  float beta;
};

struct Options {
  int threads = 1;
  int reps = 7;
  double min_rep_ms = 20.0;
  std::string only;
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "gemm_backends: %s\nusage: gemm_backends [--threads N] [--reps R] "
               "[--min-rep-ms M] [--only SUBSTRING]\n",
               why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string key = argv[i];
    if (i + 1 >= argc) usage(("missing value after " + key).c_str());
    const char* value = argv[++i];
    char* end = nullptr;
    if (key == "--threads") {
      o.threads = static_cast<int>(std::strtol(value, &end, 10));
    } else if (key == "--reps") {
      o.reps = static_cast<int>(std::strtol(value, &end, 10));
    } else if (key == "--min-rep-ms") {
      o.min_rep_ms = std::strtod(value, &end);
    } else if (key == "--only") {
      o.only = value;
      continue;
    } else {
      usage(("unknown option " + key).c_str());
    }
    if (end == value || *end != '\0') usage(("bad value for " + key).c_str());
  }
  if (o.threads < 1 || o.reps < 1 || !(o.min_rep_ms > 0)) usage("values must be positive");
  return o;
}

std::vector<Product> products() {
  const std::int64_t shapes[][4] = {{1, 50, 64, 64},
                                    {32, 50, 64, 128},
                                    {32, 100, 128, 256},
                                    {64, 100, 256, 512},
                                    {16, 200, 32, 64}};
  const std::pair<const char*, std::int64_t> cells[] = {{"rnn", 1}, {"gru", 3}, {"lstm", 4}};
  std::vector<Product> out;
  std::set<std::tuple<bool, bool, std::int64_t, std::int64_t, std::int64_t, float>> seen;
  for (const auto& s : shapes) {
    const std::int64_t b = s[0], t = s[1], in = s[2], h = s[3];
    for (const auto& [cell, g] : cells) {
      const std::string where = std::string(cell) + " " + std::to_string(b) + "," +
                                std::to_string(t) + "," + std::to_string(in) + "," +
                                std::to_string(h);
      const Product ps[] = {{where + " proj", false, true, t * b, g * h, in, 0.0f},
                            {where + " rec", false, true, b, g * h, h, 1.0f},
                            {where + " dWih", true, false, g * h, in, t * b, 0.0f},
                            {where + " dWhh", true, false, g * h, h, b, 1.0f},
                            {where + " dh", false, false, b, h, g * h, 0.0f},
                            {where + " dX", false, false, t * b, in, g * h, 0.0f}};
      for (const Product& p : ps) {
        if (seen.insert({p.trans_a, p.trans_b, p.m, p.n, p.k, p.beta}).second) out.push_back(p);
      }
    }
  }
  return out;
}

// Row-major leading dimensions of op(A) [m, k] and op(B) [k, n] as stored.
std::int64_t lda_of(const Product& p) {
  return p.trans_a ? p.m : p.k;
}
std::int64_t ldb_of(const Product& p) {
  return p.trans_b ? p.k : p.n;
}

void run_openblas(const Product& p, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasRowMajor, p.trans_a ? CblasTrans : CblasNoTrans,
              p.trans_b ? CblasTrans : CblasNoTrans, static_cast<int>(p.m), static_cast<int>(p.n),
              static_cast<int>(p.k), 1.0f, a, static_cast<int>(lda_of(p)), b,
              static_cast<int>(ldb_of(p)), p.beta, c, static_cast<int>(p.n));
}

void run_dnnl(const Product& p, const float* a, const float* b, float* c) {
  const dnnl_status_t s = dnnl_sgemm(p.trans_a ? 'T' : 'N', p.trans_b ? 'T' : 'N', p.m, p.n, p.k,
                                     1.0f, a, lda_of(p), b, ldb_of(p), p.beta, c, p.n);
  if (s != dnnl_success) {
    std::fprintf(stderr, "gemm_backends: dnnl_sgemm failed (status %d) at %s\n",
                 static_cast<int>(s), p.name.c_str());
    std::exit(1);
  }
}

// The largest |C - C_double| over the largest |C_double|, with beta 0 (C fresh).
double error_of(const Product& p, const std::vector<float>& a, const std::vector<float>& b,
                void (*gemm)(const Product&, const float*, const float*, float*)) {
  Product q = p;
  q.beta = 0.0f;
  std::vector<float> c(static_cast<std::size_t>(p.m * p.n));
  gemm(q, a.data(), b.data(), c.data());
  double worst = 0.0, scale = 0.0;
  for (std::int64_t i = 0; i < p.m; ++i) {
    for (std::int64_t j = 0; j < p.n; ++j) {
      double sum = 0.0;
      for (std::int64_t l = 0; l < p.k; ++l) {
        const double x = p.trans_a ? a[static_cast<std::size_t>(l * p.m + i)]
                                   : a[static_cast<std::size_t>(i * p.k + l)];
        const double y = p.trans_b ? b[static_cast<std::size_t>(j * p.k + l)]
                                   : b[static_cast<std::size_t>(l * p.n + j)];
        sum += x * y;
      }
      worst = std::max(worst, std::abs(sum - c[static_cast<std::size_t>(i * p.n + j)]));
      scale = std::max(scale, std::abs(sum));
    }
  }
  return scale > 0 ? worst / scale : worst;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// GFLOP/s of one repetition: as many calls as fill min_rep_ms (at least one).
double repetition(const Product& p, const float* a, const float* b, float* c, double min_rep_ms,
                  void (*gemm)(const Product&, const float*, const float*, float*)) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::int64_t calls = 0;
  double ms = 0.0;
  do {
    gemm(p, a, b, c);
    ++calls;
    ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
  } while (ms < min_rep_ms);
  const double flops = 2.0 * static_cast<double>(p.m) * static_cast<double>(p.n) *
                       static_cast<double>(p.k) * static_cast<double>(calls);
  return flops / (ms * 1e6);
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  openblas_set_num_threads(o.threads);
  omp_set_num_threads(o.threads);
  const char* isa = std::getenv("DNNL_MAX_CPU_ISA");
  const char* core = std::getenv("OPENBLAS_CORETYPE");
  std::printf(
      "{\"machine\": {\"openblas_core\": \"%s\", \"OPENBLAS_CORETYPE\": \"%s\", "
      "\"DNNL_MAX_CPU_ISA\": \"%s\", \"threads\": %d}}\n",
      openblas_get_corename(), core ? core : "", isa ? isa : "", o.threads);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (const Product& p : products()) {
    if (!o.only.empty() && p.name.find(o.only) == std::string::npos) continue;
    std::vector<float> a(static_cast<std::size_t>(p.m * p.k)),
        b(static_cast<std::size_t>(p.k * p.n));
    std::vector<float> c(static_cast<std::size_t>(p.m * p.n), 0.0f);
    for (float& x : a) x = u(rng);
    for (float& x : b) x = u(rng);
    // The reference check on the smaller products only (the largest take seconds in double).
    const bool check =
        static_cast<double>(p.m) * static_cast<double>(p.n) * static_cast<double>(p.k) < 2.5e8;
    const double err_blas = check ? error_of(p, a, b, run_openblas) : -1.0;
    const double err_dnnl = check ? error_of(p, a, b, run_dnnl) : -1.0;
    for (int w = 0; w < 2; ++w) {  // warm-up: oneDNN generates its kernel at the first call
      run_openblas(p, a.data(), b.data(), c.data());
      run_dnnl(p, a.data(), b.data(), c.data());
    }
    std::vector<double> blas, dnnl;
    for (int r = 0; r < o.reps; ++r) {
      if (r % 2 == 0) {
        blas.push_back(repetition(p, a.data(), b.data(), c.data(), o.min_rep_ms, run_openblas));
        dnnl.push_back(repetition(p, a.data(), b.data(), c.data(), o.min_rep_ms, run_dnnl));
      } else {
        dnnl.push_back(repetition(p, a.data(), b.data(), c.data(), o.min_rep_ms, run_dnnl));
        blas.push_back(repetition(p, a.data(), b.data(), c.data(), o.min_rep_ms, run_openblas));
      }
    }
    const double mb = median(blas), md = median(dnnl);
    std::printf(
        "{\"product\": \"%s\", \"op\": \"%c%c\", \"m\": %lld, \"n\": %lld, \"k\": %lld, "
        "\"beta\": %g, \"openblas_gflops\": %.2f, \"dnnl_gflops\": %.2f, "
        "\"dnnl_over_openblas\": %.3f, \"openblas_error\": %.3g, \"dnnl_error\": %.3g}\n",
        p.name.c_str(), p.trans_a ? 'T' : 'N', p.trans_b ? 'T' : 'N', static_cast<long long>(p.m),
        static_cast<long long>(p.n), static_cast<long long>(p.k), static_cast<double>(p.beta), mb,
        md, md / mb, err_blas, err_dnnl);
    std::fflush(stdout);
  }
  return 0;
}
