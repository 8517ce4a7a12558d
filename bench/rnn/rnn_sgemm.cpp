// The raw-BLAS reference of the recurrent benchmark: the GEMMs of one step of the configured
// cell, shape and mode as bare cblas_sgemm calls into preallocated buffers, with the layouts a
// recurrent layer uses (row-major, weights [G*H, in] and [G*H, H] used transposed):
//   forward   Gx = X W_ih^T                    [T*B, in] x [in, G*H]   (1 call)
//             Gx_t += h_{t-1} W_hh^T           [B, H] x [H, G*H]       (T calls)
//   backward  dW_ih = dG^T X                   [G*H, T*B] x [T*B, in]  (1 call)
//             dW_hh += dg_t^T h_{t-1}          [G*H, B] x [B, H]       (T calls)
//             dh_{t-1} = dg_t W_hh             [B, G*H] x [G*H, H]     (T - 1 calls)
// (train: forward and backward; infer: forward), exactly the FLOPs of rnn_common.hpp's
// gemm_flops. Its GFLOP/s is what a step whose time were all GEMM would reach. Also prints the
// GFLOP/s of the input projection alone (proj_gflops) and of one recurrent GEMM (rec_gflops).
// Same command line and JSON line as rnn_tapegrad / rnn_torch (lib "sgemm").
#include <cblas.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "rnn_common.hpp"

extern "C" {
void openblas_set_num_threads(int threads);
char* openblas_get_config(void);
char* openblas_get_corename(void);
}

namespace {

std::vector<float> random_buffer(std::size_t n, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  const rnn_bench::Config c = rnn_bench::parse_args(argc, argv);
  if (c.flush_denormals) rnn_bench::set_flush_denormals();
  openblas_set_num_threads(c.threads);
  const int t_steps = static_cast<int>(c.seq), b = static_cast<int>(c.batch);
  const int in = static_cast<int>(c.input), h = static_cast<int>(c.hidden);
  const int gh = static_cast<int>(c.gates()) * h, tb = t_steps * b;
  const auto sz = [](int rows, int cols) {
    return static_cast<std::size_t>(rows) * static_cast<std::size_t>(cols);
  };

  std::mt19937_64 rng(c.seed);
  const std::vector<float> x = random_buffer(sz(tb, in), rng);
  const std::vector<float> w_ih = random_buffer(sz(gh, in), rng);
  const std::vector<float> w_hh = random_buffer(sz(gh, h), rng);
  const std::vector<float> hs = random_buffer(sz(tb, h), rng);  // h_0 .. h_{T-1}
  const std::vector<float> dg = random_buffer(sz(tb, gh), rng);
  std::vector<float> gx(sz(tb, gh)), dw_ih(sz(gh, in)), dw_hh(sz(gh, h)), dh(sz(b, h));
  const auto at = [&](const std::vector<float>& v, int t, int cols) {
    return v.data() + sz(t * b, cols);
  };

  auto projection = [&]() {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, tb, gh, in, 1.0f, x.data(), in,
                w_ih.data(), in, 0.0f, gx.data(), gh);
  };
  auto recurrence = [&](int t) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, b, gh, h, 1.0f, at(hs, t, h), h,
                w_hh.data(), h, 1.0f, gx.data() + sz(t * b, gh), gh);
  };
  auto forward = [&]() {
    projection();
    for (int t = 0; t < t_steps; ++t) recurrence(t);
  };
  auto backward = [&]() {
    for (int t = t_steps - 1; t >= 0; --t) {
      cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, gh, h, b, 1.0f, at(dg, t, gh), gh,
                  at(hs, t, h), h, t == t_steps - 1 ? 0.0f : 1.0f, dw_hh.data(), h);
      if (t > 0) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, b, h, gh, 1.0f, at(dg, t, gh), gh,
                    w_hh.data(), h, 0.0f, dh.data(), h);
      }
    }
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, gh, in, tb, 1.0f, dg.data(), gh, x.data(),
                in, 0.0f, dw_ih.data(), in);
  };
  auto step = [&]() {
    forward();
    if (c.train()) backward();
  };

  int inner = 1;
  const std::vector<double> times = rnn_bench::time_steps(c, step, inner);
  rnn_bench::JsonLine j = rnn_bench::result_line("sgemm", c, times, inner);

  const rnn_bench::GemmFlops f = rnn_bench::gemm_flops(c);
  int unused = 0;
  const double proj_ms = rnn_bench::median(rnn_bench::time_steps(c, projection, unused));
  const double rec_ms = rnn_bench::median(rnn_bench::time_steps(
      c, [&]() { recurrence(t_steps / 2); }, unused));
  j.add("proj_gflops", f.projection / (proj_ms * 1e-3) * 1e-9)
      .add("rec_gflops", f.recurrence / (rec_ms * 1e-3) * 1e-9)
      .add("peak_rss_kb", rnn_bench::peak_rss_kb())
      .add("blas", std::string(openblas_get_config()) + " core " + openblas_get_corename())
      .add("checksum", static_cast<double>(gx[0] + dw_ih[0] + dw_hh[0] + dh[0]));
  std::printf("%s\n", j.str().c_str());
  return 0;
}
