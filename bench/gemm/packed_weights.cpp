// What packing a recurrent layer's weights once would buy (issue #17's next step): the products
// a recurrent step repeats T times with the same weights, timed as tapegrad runs them today
// (dnnl_sgemm, which packs W_hh on every call) and as oneDNN's matmul primitive with the
// weights reordered once into the layout it chooses (format_tag::any; the reorder is outside
// the timing, as it would run once per forward pass). One process, alternating repetitions,
// medians; both results checked against each other. OpenBLAS's cblas_sgemm is timed beside them
// (the library's choice for small products on one thread when its kernels are the CPU's own),
// and so is tapegrad's own call, as a recurrent step makes it: gemm_by_weight for rec (the own
// loop on its kept panels of W, or the primitive; weight_gemm.cpp), gemm for dh.
//
// The core's peak comes first: a loop of independent fused multiply-adds on registers only, in
// the widest vectors the CPU has (AVX-512 or AVX2), timed alone: what no product can exceed.
// It is timed again in each product's rotation (peak_gflops), and each *_of_peak ratio is
// against that one: a shared machine's clock drifts (on one AMD EPYC, 172 to 228 GFLOP/s
// between runs minutes apart).
//   rec  gates += h W_hh^T   [B, H] x [H, G*H]   NT, beta 1 (a sum post-op for the primitive)
//   dh   dh = dg W_hh        [B, G*H] x [G*H, H] NN
//
//   packed_weights [--threads N] [--reps R] [--min-rep-ms M]
//
// Prints a JSON line with the peak, then one per product: GFLOP/s of each and their ratios.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include <cblas.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/var.hpp"

namespace {

struct Product {
  std::string name;
  bool trans_b;  // B stored [n, k] (W_hh for rec) or [k, n] (W_hh for dh)
  std::int64_t m, n, k;
  float beta;
};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// GFLOP/s of one repetition of `call`: as many calls as fill min_rep_ms.
double repetition(const Product& p, double min_rep_ms, const std::function<void()>& call) {
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  std::int64_t calls = 0;
  double ms = 0.0;
  do {
    call();
    ++calls;
    ms = std::chrono::duration<double, std::milli>(clock::now() - start).count();
  } while (ms < min_rep_ms);
  return 2.0 * static_cast<double>(p.m * p.n * p.k) * static_cast<double>(calls) / (ms * 1e6);
}

#if defined(__x86_64__)
// 24 independent chains of fused multiply-adds per iteration, registers only.
__attribute__((target("avx512f"))) void fma_chains_avx512(long iterations) {
  asm volatile(
      "vxorps %%xmm30, %%xmm30, %%xmm30\n"
      "vxorps %%xmm31, %%xmm31, %%xmm31\n"
      "1:\n"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23\n"
      "vfmadd231ps %%zmm30, %%zmm31, %%zmm\\r\n"
      ".endr\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(iterations)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19",
        "xmm20", "xmm21", "xmm22", "xmm23", "xmm30", "xmm31");
}
// 12 chains of 8 lanes: 16 registers.
__attribute__((target("avx2,fma"))) void fma_chains_avx2(long iterations) {
  asm volatile(
      "vxorps %%xmm14, %%xmm14, %%xmm14\n"
      "vxorps %%xmm15, %%xmm15, %%xmm15\n"
      "1:\n"
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11\n"
      "vfmadd231ps %%ymm14, %%ymm15, %%ymm\\r\n"
      ".endr\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(iterations)
      :
      : "cc", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
        "xmm10", "xmm11", "xmm14", "xmm15");
}
#endif

// The core's single-precision rate in GFLOP/s over `iterations` of the chains, with the vectors
// it was measured in; 0 where this program has no loop for the CPU.
std::pair<double, const char*> fma_rate(long iterations) {
#if defined(__x86_64__)
  const bool avx512 = __builtin_cpu_supports("avx512f") != 0;
  if (!avx512 && (__builtin_cpu_supports("avx2") == 0 || __builtin_cpu_supports("fma") == 0))
    return {0.0, "none"};
  const double flops = 2.0 * (avx512 ? 16 * 24 : 8 * 12) * static_cast<double>(iterations);
  const auto start = std::chrono::steady_clock::now();
  if (avx512) {
    fma_chains_avx512(iterations);
  } else {
    fma_chains_avx2(iterations);
  }
  const double ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return {flops / (ms * 1e6), avx512 ? "avx512" : "avx2"};
#else
  static_cast<void>(iterations);
  return {0.0, "none"};
#endif
}

// The core's single-precision peak in GFLOP/s (median of 5 runs of 20M iterations).
std::pair<double, const char*> fma_peak() {
  std::vector<double> rates;
  const char* vectors = "none";
  for (int r = 0; r < 5; ++r) {
    const auto [rate, v] = fma_rate(20000000);
    rates.push_back(rate);
    vectors = v;
  }
  return {median(rates), vectors};
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, reps = 7;
  double min_rep_ms = 20.0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    if (key == "--threads") {
      threads = std::atoi(argv[i + 1]);
    } else if (key == "--reps") {
      reps = std::atoi(argv[i + 1]);
    } else if (key == "--min-rep-ms") {
      min_rep_ms = std::atof(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: packed_weights [--threads N] [--reps R] [--min-rep-ms M]\n");
      return 2;
    }
  }
  omp_set_num_threads(threads);       // oneDNN's pool
  openblas_set_num_threads(threads);  // OpenBLAS's own
  tapegrad::set_num_threads(threads);
  const auto [peak, vectors] = fma_peak();
  std::printf("{\"fma_peak_gflops\": %.1f, \"vectors\": \"%s\", \"threads\": 1}\n", peak, vectors);
  using dnnl::memory;
  using tag = memory::format_tag;
  const dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  std::mt19937_64 rng(1);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);

  const std::int64_t shapes[][2] = {{1, 64},   {8, 64},   {16, 64},
                                    {32, 128}, {32, 256}, {64, 512}};  // B, H
  const std::pair<const char*, std::int64_t> cells[] = {{"rnn", 1}, {"gru", 3}, {"lstm", 4}};
  for (const auto& s : shapes) {
    for (const auto& [cell, g] : cells) {
      const std::int64_t b = s[0], h = s[1];
      const std::string where =
          std::string(cell) + " B=" + std::to_string(b) + " H=" + std::to_string(h);
      for (const Product& p : {Product{where + " rec", true, b, g * h, h, 1.0f},
                               Product{where + " dh", false, b, h, g * h, 0.0f}}) {
        std::vector<float> a(static_cast<std::size_t>(p.m * p.k)),
            w(static_cast<std::size_t>(p.k * p.n));
        std::vector<float> c1(static_cast<std::size_t>(p.m * p.n), 0.0f), c2(c1);
        for (float& x : a) x = u(rng);
        for (float& x : w) x = u(rng);
        const std::int64_t ldb = p.trans_b ? p.k : p.n;
        const auto sgemm = [&] {
          dnnl_sgemm('N', p.trans_b ? 'T' : 'N', p.m, p.n, p.k, 1.0f, a.data(), p.k, w.data(), ldb,
                     p.beta, c1.data(), p.n);
        };
        std::vector<float> c3(c1);
        const auto openblas = [&] {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, p.trans_b ? CblasTrans : CblasNoTrans,
                      static_cast<int>(p.m), static_cast<int>(p.n), static_cast<int>(p.k), 1.0f,
                      a.data(), static_cast<int>(p.k), w.data(), static_cast<int>(ldb), p.beta,
                      c3.data(), static_cast<int>(p.n));
        };
        // tapegrad's own call: rec on the weight as a layer holds it ([n, k]); dh on [k, n].
        std::vector<float> c4(c1);
        tapegrad::Array<float> w_value =
            tapegrad::Array<float>::from_shape({static_cast<std::size_t>(p.trans_b ? p.n : p.k),
                                                static_cast<std::size_t>(p.trans_b ? p.k : p.n)});
        std::copy(w.begin(), w.end(), w_value.begin());
        const tapegrad::Var<float> w_var = tapegrad::parameter(std::move(w_value));
        const auto own = [&] {
          const auto m = static_cast<std::size_t>(p.m), n = static_cast<std::size_t>(p.n),
                     k = static_cast<std::size_t>(p.k);
          if (p.trans_b) {
            tapegrad::gemm_by_weight<float>(m, a.data(), k, w_var, p.beta, c4.data(), n);
          } else {
            tapegrad::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, w.data(), n, p.beta,
                                  c4.data(), n);
          }
        };
        // The primitive: src [m, k] ab, weights [k, n] in the layout it prefers, dst [m, n] ab.
        const memory::desc src_md({p.m, p.k}, memory::data_type::f32, tag::ab);
        const memory::desc w_any({p.k, p.n}, memory::data_type::f32, tag::any);
        const memory::desc dst_md({p.m, p.n}, memory::data_type::f32, tag::ab);
        dnnl::primitive_attr attr;
        if (p.beta != 0.0f) {
          dnnl::post_ops ops;
          ops.append_sum(p.beta);
          attr.set_post_ops(ops);
        }
        const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_any, dst_md), attr, eng);
        memory w_user({{p.k, p.n}, memory::data_type::f32, p.trans_b ? tag::ba : tag::ab}, eng,
                      w.data());
        memory w_packed(pd.weights_desc(), eng);
        dnnl::reorder(w_user, w_packed).execute(strm, w_user, w_packed);  // once per forward
        strm.wait();
        memory src(src_md, eng, a.data()), dst(dst_md, eng, c2.data());
        const dnnl::matmul prim(pd);
        const auto packed = [&] {
          prim.execute(strm,
                       {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w_packed}, {DNNL_ARG_DST, dst}});
          strm.wait();
        };
        // Same result: one call each from the same C.
        std::fill(c1.begin(), c1.end(), 0.5f);
        std::fill(c2.begin(), c2.end(), 0.5f);
        std::fill(c4.begin(), c4.end(), 0.5f);
        sgemm();
        packed();
        own();
        double diff = 0.0, scale = 0.0;
        for (std::size_t i = 0; i < c1.size(); ++i) {
          diff = std::max({diff, static_cast<double>(std::abs(c1[i] - c2[i])),
                           static_cast<double>(std::abs(c1[i] - c4[i]))});
          scale = std::max(scale, static_cast<double>(std::abs(c1[i])));
        }
        // The peak again beside the products, in the same rotation: the clock of a shared
        // machine drifts between the start and a product minutes later.
        std::vector<double> t_sgemm, t_packed, t_openblas, t_own, peaks;
        for (int r = 0; r < reps; ++r) {  // the order rotates from repetition to repetition
          for (int i = 0; i < 5; ++i) {
            switch ((r + i) % 5) {
              case 4:
                peaks.push_back(fma_rate(4000000).first);
                break;
              case 0:
                t_sgemm.push_back(repetition(p, min_rep_ms, sgemm));
                break;
              case 1:
                t_packed.push_back(repetition(p, min_rep_ms, packed));
                break;
              case 2:
                t_own.push_back(repetition(p, min_rep_ms, own));
                break;
              default:
                t_openblas.push_back(repetition(p, min_rep_ms, openblas));
            }
          }
        }
        const double ms = median(t_sgemm), mp = median(t_packed), mo = median(t_openblas),
                     mt = median(t_own), peak_here = median(peaks);
        std::printf(
            "{\"product\": \"%s\", \"m\": %lld, \"n\": %lld, \"k\": %lld, \"sgemm_gflops\": %.1f, "
            "\"packed_gflops\": %.1f, \"openblas_gflops\": %.1f, \"tapegrad_gflops\": %.1f, "
            "\"packed_over_sgemm\": %.2f, \"packed_over_openblas\": %.2f, "
            "\"tapegrad_over_packed\": %.2f, \"peak_gflops\": %.1f, \"tapegrad_of_peak\": %.2f, "
            "\"sgemm_of_peak\": %.2f, \"packed_of_peak\": %.2f, "
            "\"weights_layout\": \"%s\", \"max_difference\": %.2g}\n",
            p.name.c_str(), static_cast<long long>(p.m), static_cast<long long>(p.n),
            static_cast<long long>(p.k), ms, mp, mo, mt, mp / ms, mp / mo, mt / mp, peak_here,
            peak_here > 0 ? mt / peak_here : 0.0, peak_here > 0 ? ms / peak_here : 0.0,
            peak_here > 0 ? mp / peak_here : 0.0,
            pd.weights_desc() == w_user.get_desc() ? "as stored" : "reordered",
            scale > 0 ? diff / scale : diff);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
