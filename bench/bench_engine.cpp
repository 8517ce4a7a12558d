// The engine's fixed cost per op, and float32 GEMM through the op layer against raw cblas_sgemm,
// side by side in one run. bench/run_engine.sh builds this, runs it with repetitions and random
// interleaving, and prints the medians as tables.
//
// fixed_cost/<pass>/<shape>: a chain of kChainOps ops (tanh, add, mul, repeated) on one
// parameter x; the counter per_op is the time of the whole chain divided by kChainOps:
//   fwd+bwd  record the chain, then backward (everything a training step pays per op)
//   fwd      recording only (timed by hand; freeing the tape afterwards is not timed)
//   bwd      backward only (timed by hand; recording the chain first is not timed)
//   nograd   the same ops under NoGrad (the op's arithmetic and its output, no tape)
// gemm/<case>/MxKxN: C[M,N] = A[M,K] B[K,N] in float, through the op layer and through raw
// cblas_sgemm calls into preallocated outputs, timed alternately in the same iterations. The
// counters: op_gflops and raw_gflops (GFLOP/s), ratio (op throughput / raw throughput):
//   nograd   tapegrad::matmul under NoGrad vs one sgemm
//   record   tapegrad::matmul recorded on the tape (freed each time) vs one sgemm
//   fwd+bwd  tapegrad::matmul recorded, then backward from a given G, vs the three sgemms
//            C = A B, dA = G B^T, dB = A^T G
//
// Times are CPU time of the benchmark's thread by default (the machine this runs on is shared:
// CPU time leaves out the time other processes hold the core), wall time with --time=real or
// when OpenBLAS runs more than one thread (its workers' time would be missing from CPU time).
//
// Extra flags (before Google Benchmark's own):
//   --blas_threads=N   OpenBLAS threads (default 1)
//   --time=cpu|real    the clock (default: cpu with 1 BLAS thread, else real)
//   --blas_info        print the BLAS configuration and the core OpenBLAS picked, then exit
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/autograd/var.hpp"

namespace {

using tapegrad::Array;
using tapegrad::Var;

constexpr int kChainOps = 96;  // a multiple of 3: tanh, add, mul

bool use_real_time = false;  // else the thread's CPU time

// Seconds on the chosen clock, for the benchmarks that time part of an iteration by hand.
double now() {
  timespec t{};
  clock_gettime(use_real_time ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Automatic timing on the chosen clock.
benchmark::internal::Benchmark* timed(benchmark::internal::Benchmark* b) {
  return use_real_time ? b->UseRealTime() : b;
}

Array<float> random_array(std::size_t rows, std::size_t cols, std::uint64_t seed) {
  tapegrad::Generator g(seed);
  return g.uniform<float>(tapegrad::make_shape({rows, cols}), -1.0f, 1.0f);
}

// h <- (tanh(h) + x) * x, kChainOps / 3 times: values stay in [-2, 2] for x in [-1, 1].
Var<float> chain(const Var<float>& x) {
  Var<float> h = x;
  for (int i = 0; i < kChainOps; i += 3) {
    h = tapegrad::tanh(h);
    h = h + x;
    h = h * x;
  }
  return h;
}

void set_per_op_counter(benchmark::State& state) {
  // seconds per op: kChainOps ops per iteration, inverted rate
  state.counters["per_op"] = benchmark::Counter(
      kChainOps, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

// ---- fixed cost per op ----

void fixed_fwd_bwd(benchmark::State& state, std::size_t rows, std::size_t cols) {
  Var<float> x = tapegrad::parameter(random_array(rows, cols, 1));
  const Array<float> seed = Array<float>(tapegrad::make_shape({rows, cols}), 1.0f);
  for (auto _ : state) {
    x.zero_grad();
    Var<float> y = chain(x);
    y.backward(seed);
    benchmark::DoNotOptimize(x.grad().data());
  }
  set_per_op_counter(state);
}

void fixed_fwd(benchmark::State& state, std::size_t rows, std::size_t cols) {
  Var<float> x = tapegrad::parameter(random_array(rows, cols, 1));
  for (auto _ : state) {
    const double t0 = now();
    Var<float> y = chain(x);
    const double t1 = now();
    benchmark::DoNotOptimize(y.value().data());
    tapegrad::tape<float>().clear();
    state.SetIterationTime(t1 - t0);
  }
  set_per_op_counter(state);
}

void fixed_bwd(benchmark::State& state, std::size_t rows, std::size_t cols) {
  Var<float> x = tapegrad::parameter(random_array(rows, cols, 1));
  const Array<float> seed = Array<float>(tapegrad::make_shape({rows, cols}), 1.0f);
  for (auto _ : state) {
    x.zero_grad();
    Var<float> y = chain(x);
    const double t0 = now();
    y.backward(seed);
    const double t1 = now();
    benchmark::DoNotOptimize(x.grad().data());
    state.SetIterationTime(t1 - t0);
  }
  set_per_op_counter(state);
}

void fixed_nograd(benchmark::State& state, std::size_t rows, std::size_t cols) {
  Var<float> x = tapegrad::parameter(random_array(rows, cols, 1));
  tapegrad::NoGrad no_grad;
  for (auto _ : state) {
    Var<float> y = chain(x);
    benchmark::DoNotOptimize(y.value().data());
  }
  set_per_op_counter(state);
}

// ---- GEMM ----

std::size_t dim(int d) {
  return static_cast<std::size_t>(d);
}

// Times `raw` and `op` alternately in every iteration (swapping which runs first), so the noise
// of a shared machine hits both alike; the ratio is raw time / op time over the repetition.
template <class Raw, class Op>
void paired(benchmark::State& state, double flops_per_call, Raw&& raw, Op&& op) {
  double raw_time = 0.0, op_time = 0.0;
  bool raw_first = true;
  for (auto _ : state) {
    double t_raw = 0.0, t_op = 0.0;
    const double t0 = now();
    if (raw_first) {
      raw();
      const double t1 = now();
      op();
      t_raw = t1 - t0;
      t_op = now() - t1;
    } else {
      op();
      const double t1 = now();
      raw();
      t_op = t1 - t0;
      t_raw = now() - t1;
    }
    raw_first = !raw_first;
    raw_time += t_raw;
    op_time += t_op;
    state.SetIterationTime(t_raw + t_op);
  }
  const double flops = flops_per_call * static_cast<double>(state.iterations());
  state.counters["op_gflops"] = flops / op_time * 1e-9;
  state.counters["raw_gflops"] = flops / raw_time * 1e-9;
  state.counters["ratio"] = raw_time / op_time;  // op throughput / raw throughput
}

// A [m,k], B [k,n] and the output's gradient G [m,n], random; raw BLAS reads the Vars' values.
struct Gemm {
  int m, k, n;
  Var<float> a, b;
  Array<float> g;
  std::vector<float> c, ga, gb;  // preallocated outputs of the raw calls
  Gemm(int m_, int k_, int n_)
      : m(m_),
        k(k_),
        n(n_),
        a(tapegrad::parameter(random_array(dim(m_), dim(k_), 2))),
        b(tapegrad::parameter(random_array(dim(k_), dim(n_), 3))),
        g(random_array(dim(m_), dim(n_), 4)),
        c(dim(m_) * dim(n_)),
        ga(dim(m_) * dim(k_)),
        gb(dim(k_) * dim(n_)) {}
  double flops() const { return 2.0 * m * k * n; }

  // C = A B
  void raw_forward() {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a.value().data(), k,
                b.value().data(), n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
    benchmark::ClobberMemory();
  }
  // and dA[m,k] = G[m,n] B[k,n]^T, dB[k,n] = A[m,k]^T G[m,n]: what matmul's backward computes
  void raw_forward_backward() {
    raw_forward();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, k, n, 1.0f, g.data(), n,
                b.value().data(), n, 0.0f, ga.data(), k);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, k, n, m, 1.0f, a.value().data(), k,
                g.data(), n, 0.0f, gb.data(), n);
    benchmark::DoNotOptimize(ga.data());
    benchmark::DoNotOptimize(gb.data());
    benchmark::ClobberMemory();
  }
};

// tapegrad::matmul under NoGrad (allocates C) vs cblas_sgemm into a preallocated C.
void gemm_nograd(benchmark::State& state, int m, int k, int n) {
  Gemm p(m, k, n);
  paired(
      state, p.flops(), [&] { p.raw_forward(); },
      [&] {
        tapegrad::NoGrad no_grad;
        Var<float> c = tapegrad::matmul(p.a, p.b);
        benchmark::DoNotOptimize(c.value().data());
      });
}

// tapegrad::matmul recorded on the tape (then the tape is freed) vs one cblas_sgemm.
void gemm_record(benchmark::State& state, int m, int k, int n) {
  Gemm p(m, k, n);
  paired(
      state, p.flops(), [&] { p.raw_forward(); },
      [&] {
        Var<float> c = tapegrad::matmul(p.a, p.b);
        benchmark::DoNotOptimize(c.value().data());
        tapegrad::tape<float>().clear();
      });
}

// tapegrad::matmul recorded, then backward from G, vs the three cblas_sgemm calls it needs.
void gemm_fwd_bwd(benchmark::State& state, int m, int k, int n) {
  Gemm p(m, k, n);
  paired(
      state, 3.0 * p.flops(), [&] { p.raw_forward_backward(); },
      [&] {
        p.a.zero_grad();
        p.b.zero_grad();
        Var<float> c = tapegrad::matmul(p.a, p.b);
        c.backward(p.g);
        benchmark::DoNotOptimize(p.a.grad().data());
        benchmark::DoNotOptimize(p.b.grad().data());
      });
}

// ---- registration and main ----

void register_all() {
  struct Small {
    std::size_t rows, cols;
  };
  for (const Small s : {Small{1, 1}, Small{32, 128}}) {
    const std::string shape = std::to_string(s.rows) + "x" + std::to_string(s.cols);
    timed(benchmark::RegisterBenchmark(("fixed_cost/fwd+bwd/" + shape).c_str(), fixed_fwd_bwd,
                                       s.rows, s.cols));
    benchmark::RegisterBenchmark(("fixed_cost/fwd/" + shape).c_str(), fixed_fwd, s.rows, s.cols)
        ->UseManualTime();
    benchmark::RegisterBenchmark(("fixed_cost/bwd/" + shape).c_str(), fixed_bwd, s.rows, s.cols)
        ->UseManualTime();
    timed(benchmark::RegisterBenchmark(("fixed_cost/nograd/" + shape).c_str(), fixed_nograd, s.rows,
                                       s.cols));
  }
  struct Dims {
    int m, k, n;
  };
  using Fn = void (*)(benchmark::State&, int, int, int);
  const std::pair<const char*, Fn> cases[] = {
      {"nograd", gemm_nograd}, {"record", gemm_record}, {"fwd+bwd", gemm_fwd_bwd}};
  for (const Dims d : {Dims{32, 256, 1024}, Dims{512, 512, 512}}) {
    const std::string dims =
        std::to_string(d.m) + "x" + std::to_string(d.k) + "x" + std::to_string(d.n);
    for (const auto& [name, fn] : cases) {
      benchmark::RegisterBenchmark(("gemm/" + std::string(name) + "/" + dims).c_str(), fn, d.m, d.k,
                                   d.n)
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  std::string clock;  // "", "cpu" or "real"
  bool info_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--blas_threads=", 0) == 0) {
      threads = std::atoi(arg.c_str() + 15);
      if (threads < 1) {
        std::fprintf(stderr, "bench_engine: --blas_threads needs a number >= 1, got '%s'\n",
                     arg.c_str() + 15);
        return 2;
      }
    } else if (arg.rfind("--time=", 0) == 0) {
      clock = arg.substr(7);
      if (clock != "cpu" && clock != "real") {
        std::fprintf(stderr, "bench_engine: --time is cpu or real, got '%s'\n", clock.c_str());
        return 2;
      }
    } else if (arg == "--blas_info") {
      info_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  tapegrad::set_num_threads(threads);
  use_real_time = clock.empty() ? threads > 1 : clock == "real";
  const char* forced = std::getenv("OPENBLAS_CORETYPE");
  if (info_only) {
    std::printf("blas_info: %s\ncore: %s\nOPENBLAS_CORETYPE: %s\nthreads: %d\n",
                tapegrad::blas_info().c_str(), openblas_get_corename(),
                forced != nullptr ? forced : "(unset)", tapegrad::num_threads());
    return 0;
  }
  benchmark::AddCustomContext("blas_info", tapegrad::blas_info());
  benchmark::AddCustomContext("openblas_core", openblas_get_corename());
  benchmark::AddCustomContext("openblas_coretype_env", forced != nullptr ? forced : "");
  benchmark::AddCustomContext("blas_threads", std::to_string(tapegrad::num_threads()));
  benchmark::AddCustomContext("chain_ops", std::to_string(kChainOps));
  benchmark::AddCustomContext("time_base", use_real_time ? "real" : "cpu");

  register_all();
  int bench_argc = static_cast<int>(args.size());
  args.push_back(nullptr);  // argv[argc]
  benchmark::Initialize(&bench_argc, args.data());
  if (benchmark::ReportUnrecognizedArguments(bench_argc, args.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
