// What the own loop's instruction pattern reaches on this core, against its peak, with every
// operand in the first-level cache: no product of the recurrent grid is timed here
// (packed_weights is), only what bounds one. With AVX-512 (else it prints why it did not run):
//   fma_only    24 independent chains of fused multiply-adds on registers: the peak;
//   loop RxV    one long loop of the own loop's pattern: per iteration V vector loads and R
//               broadcasts feed R*V fused multiply-adds (6x4 is the library's block), from two
//               rings of 8 KiB; then 6x4 with only its broadcasts or only its vectors loaded
//               (the others held in registers): which of the two loads costs; 24x1 and 16x1
//               are the batch in the lanes (one vector of h per k, a broadcast of W per
//               multiply-add), the layout a batch of 16 would allow;
//   block RxV k the library's own block (small_gemm_kernel.hpp) called over and over on one
//               panel of k rows: a panel of 4 vectors is 16 KiB at k = 64 and 32 KiB at 128 (in
//               the first-level cache), 64 KiB at 256 (not).
// The patterns alternate repetition by repetition; medians, each against the median peak.
//
//   fma_loads [--reps R] [--ms M]
//
// Prints one JSON line per pattern.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fma_loads.hpp"

namespace {

struct Aligned {
  float* p;
  explicit Aligned(std::size_t n)
      : p(static_cast<float*>(std::aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64))) {
    if (p == nullptr) {
      std::fprintf(stderr, "fma_loads: out of memory\n");
      std::exit(1);
    }
    for (std::size_t i = 0; i < n; ++i) p[i] = 1e-3f * static_cast<float>(i % 97);
  }
  ~Aligned() { std::free(p); }
  Aligned(const Aligned&) = delete;
  Aligned& operator=(const Aligned&) = delete;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 7;
  double ms = 50;
  for (int i = 1; i < argc; ++i) {
    const bool has_value = i + 1 < argc;
    if (std::strcmp(argv[i], "--reps") == 0 && has_value) {
      reps = std::max(1, std::atoi(argv[++i]));
    } else if (std::strcmp(argv[i], "--ms") == 0 && has_value) {
      ms = std::max(1.0, std::atof(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: fma_loads [--reps R] [--ms M]\n");
      return 2;
    }
  }
  __builtin_cpu_init();
  if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))) {
    std::printf("{\"skipped\": \"this CPU has no AVX-512: the own loop runs its other build\"}\n");
    return 0;
  }
  using fma_loads::Pattern;
  const std::size_t ring = fma_loads::ring_floats();
  const Aligned w(ring), a(ring);
  const std::size_t kMaxK = 256;
  const Aligned panel(kMaxK * 64), rows_a(6 * kMaxK), c(6 * 64);
  float sink = 0.0f;
  const double seconds = ms / 1000.0;

  struct Row {
    std::string name;
    std::vector<double> gflops;
  };
  const std::pair<const char*, Pattern> loops[] = {
      {"fma_only", Pattern::fma_only},
      {"loop 6x4", Pattern::loop_6x4},
      {"loop 5x4", Pattern::loop_5x4},
      {"loop 8x3", Pattern::loop_8x3},
      {"loop 12x2", Pattern::loop_12x2},
      {"loop 4x6", Pattern::loop_4x6},
      {"loop 24x1", Pattern::loop_24x1},
      {"loop 16x1", Pattern::loop_16x1},
      {"loop 6x4, broadcasts loaded only", Pattern::broadcasts_6x4},
      {"loop 6x4, weight vectors loaded only", Pattern::vectors_6x4}};
  const std::pair<int, std::size_t> blocks[] = {{6, 64}, {6, 128}, {6, 256}, {5, 128}};
  std::vector<Row> rows;
  for (const auto& l : loops) rows.push_back({l.first, {}});
  for (const auto& b : blocks) {
    rows.push_back({"block " + std::to_string(b.first) + "x4 k=" + std::to_string(b.second), {}});
  }
  for (int r = 0; r < reps; ++r) {
    std::size_t i = 0;
    for (const auto& l : loops) {
      rows[i++].gflops.push_back(fma_loads::avx512_gflops(l.second, w.p, a.p, seconds, &sink));
    }
    for (const auto& b : blocks) {
      rows[i++].gflops.push_back(
          fma_loads::avx512_block_gflops(b.first, b.second, panel.p, rows_a.p, c.p, seconds));
    }
  }
  const double peak = median(rows[0].gflops);
  for (const Row& row : rows) {
    const double g = median(row.gflops);
    std::printf("{\"pattern\": \"%s\", \"gflops\": %.1f, \"of_peak\": %.3f}\n", row.name.c_str(), g,
                g / peak);
  }
  volatile float kept = sink;  // the loops' sums stay live, so no loop can be dropped
  static_cast<void>(kept);
  return 0;
}
