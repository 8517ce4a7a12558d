// The GEMM on raw buffers and its libraries: every backend against a double-precision product,
// at the shapes that take special paths (one row, one column, k = 0) and in all transpositions;
// the backend setting and the thread setting.
#include <doctest/doctest.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tape.hpp"

namespace {

using tapegrad::GemmBackend;

/// Restores the backend and the thread count a test case changed.
class BackendGuard {
 public:
  BackendGuard() : backend_(tapegrad::gemm_backend()), threads_(tapegrad::num_threads()) {}
  ~BackendGuard() {
    tapegrad::set_gemm_backend(backend_);
    tapegrad::set_num_threads(threads_);
  }
  BackendGuard(const BackendGuard&) = delete;
  BackendGuard& operator=(const BackendGuard&) = delete;

 private:
  GemmBackend backend_;
  int threads_;
};

struct Product {
  bool trans_a, trans_b;
  std::size_t m, n, k;
  float beta;
};

/// The largest |error| of tapegrad::gemm<float> against the product computed in double, each
/// relative to its element's scale (the sum of the absolute values of its terms, which bounds
/// float's rounding error whatever cancels), with row strides wider than the rows.
double gemm_error(const Product& p, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0F, 1.0F);
  const std::size_t a_rows = p.trans_a ? p.k : p.m, a_cols = p.trans_a ? p.m : p.k;
  const std::size_t b_rows = p.trans_b ? p.n : p.k, b_cols = p.trans_b ? p.k : p.n;
  const std::size_t lda = a_cols + 3, ldb = b_cols + 3, ldc = p.n + 3;
  std::vector<float> a(a_rows * lda), b(b_rows * ldb), c(p.m * ldc);
  for (float& v : a) v = normal(rng);
  for (float& v : b) v = normal(rng);
  for (float& v : c) v = normal(rng);
  const auto at = [&](std::size_t i, std::size_t l) {
    return static_cast<double>(p.trans_a ? a[l * lda + i] : a[i * lda + l]);
  };
  const auto bt = [&](std::size_t l, std::size_t j) {
    return static_cast<double>(p.trans_b ? b[j * ldb + l] : b[l * ldb + j]);
  };
  std::vector<double> expected(p.m * p.n), scale(p.m * p.n);
  for (std::size_t i = 0; i < p.m; ++i) {
    for (std::size_t j = 0; j < p.n; ++j) {
      double sum = 0.0, abs_sum = 0.0;
      for (std::size_t l = 0; l < p.k; ++l) {
        sum += at(i, l) * bt(l, j);
        abs_sum += std::abs(at(i, l) * bt(l, j));
      }
      const double bc = static_cast<double>(p.beta) * c[i * ldc + j];
      expected[i * p.n + j] = 0.5 * sum + bc;
      scale[i * p.n + j] = 0.5 * abs_sum + std::abs(bc) + 1e-30;
    }
  }
  const std::vector<float> padding(c);
  tapegrad::gemm<float>(p.trans_a, p.trans_b, p.m, p.n, p.k, 0.5F, a.data(), lda, b.data(), ldb,
                        p.beta, c.data(), ldc);
  double err = 0.0;
  for (std::size_t i = 0; i < p.m; ++i) {
    for (std::size_t j = 0; j < p.n; ++j) {
      const std::size_t e = i * p.n + j;
      err = std::max(err, std::abs(c[i * ldc + j] - expected[e]) / scale[e]);
    }
    for (std::size_t j = p.n; j < ldc; ++j) {  // the stride's padding stays untouched
      REQUIRE(c[i * ldc + j] == padding[i * ldc + j]);
    }
  }
  return err;
}

}  // namespace

TEST_CASE("gemm: every backend computes the float products of every shape and transposition") {
  const BackendGuard guard;
  std::mt19937 rng(7);
  const std::vector<std::vector<std::size_t>> shapes = {{1, 37, 19}, {23, 1, 41},  {1, 1, 9},
                                                        {17, 29, 1}, {64, 96, 48}, {5, 7, 0}};
  for (const GemmBackend backend :
       {GemmBackend::openblas, GemmBackend::onednn, GemmBackend::automatic}) {
    tapegrad::set_gemm_backend(backend);
    CHECK(tapegrad::gemm_backend() == backend);
    for (const auto& s : shapes) {
      for (const int t : {0, 1, 2, 3}) {
        for (const float beta : {0.0F, 1.0F}) {
          const Product p{(t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2], beta};
          CAPTURE(tapegrad::to_string(backend));
          CAPTURE(p.m);
          CAPTURE(p.n);
          CAPTURE(p.k);
          CAPTURE(t);
          CAPTURE(beta);
          CHECK(gemm_error(p, rng) < 1e-5);
        }
      }
    }
  }
}

TEST_CASE("gemm: a product with k = 0 is beta C, and beta 0 ignores what C held") {
  const BackendGuard guard;
  for (const GemmBackend backend : {GemmBackend::openblas, GemmBackend::onednn}) {
    tapegrad::set_gemm_backend(backend);
    std::vector<float> c = {1.0F, std::nanf(""), 3.0F, 4.0F};
    tapegrad::gemm<float>(false, false, 2, 2, 0, 1.0F, nullptr, 1, nullptr, 2, 0.0F, c.data(), 2);
    CHECK(c == std::vector<float>{0.0F, 0.0F, 0.0F, 0.0F});
    c = {1.0F, 2.0F, 3.0F, 4.0F};
    tapegrad::gemm<float>(false, false, 2, 2, 0, 1.0F, nullptr, 1, nullptr, 2, 2.0F, c.data(), 2);
    CHECK(c == std::vector<float>{2.0F, 4.0F, 6.0F, 8.0F});
  }
}

TEST_CASE("gemm: the backends' names, and blas_info names both libraries and the choice") {
  CHECK(tapegrad::to_string(GemmBackend::automatic) == "automatic");
  CHECK(tapegrad::to_string(GemmBackend::onednn) == "onednn");
  CHECK(tapegrad::to_string(GemmBackend::openblas) == "openblas");
  const std::string info = tapegrad::blas_info();
  CAPTURE(info);
  CHECK(info.find("OpenBLAS") != std::string::npos);
  CHECK(info.find("oneDNN") != std::string::npos);
  CHECK(info.find("float GEMMs: ") != std::string::npos);
}

TEST_CASE("set_num_threads sets OpenBLAS's and OpenMP's (oneDNN's) counts on every thread") {
  // (for products of 2^20 multiply-adds or more; smaller ones run on one thread)
  const BackendGuard guard;
  tapegrad::set_gemm_backend(GemmBackend::onednn);
  std::mt19937 rng(3);
  for (const int threads : {2, 1}) {
    tapegrad::set_num_threads(threads);
    CHECK(tapegrad::num_threads() == threads);
    CHECK(gemm_error(Product{false, true, 128, 128, 128, 0.0F}, rng) < 1e-5);
    CHECK(omp_get_max_threads() == threads);
    // A thread of the user's own: OpenMP keeps its count per thread; the GEMM matches it.
    int seen = 0;
    std::thread user([&] {
      omp_set_num_threads(threads + 3);
      std::mt19937 rng2(4);
      CHECK(gemm_error(Product{false, false, 128, 96, 128, 0.0F}, rng2) < 1e-5);
      seen = omp_get_max_threads();
    });
    user.join();
    CHECK(seen == threads);
    // A product under 2^20 multiply-adds runs on one thread: sharing it costs more than it saves.
    CHECK(gemm_error(Product{false, false, 64, 64, 64, 0.0F}, rng) < 1e-5);
    CHECK(omp_get_max_threads() == 1);
  }
  CHECK_THROWS_WITH_AS(tapegrad::set_num_threads(0), "set_num_threads: 0 threads; need at least 1",
                       tapegrad::value_error);
}

namespace {

/// The largest |gemm_by_weight - A W^T - beta C (- bias)| over C's elements, relative to the
/// element's scale, with w's current value, A's and C's rows strided wider than they are, and a
/// random bias when `with_bias`. With beta 0, C starts as NaN: nothing may read it.
template <class T>
double by_weight_error(std::size_t m, const tapegrad::Var<T>& w, T beta, std::mt19937& rng,
                       bool with_bias = false) {
  std::normal_distribution<T> normal(T(0), T(1));
  const std::size_t n = w.shape()[0], k = w.shape()[1], lda = k + 2, ldc = n + 5;
  std::vector<T> a(m * lda), c(m * ldc), bias(n);
  for (T& v : a) v = normal(rng);
  for (T& v : bias) v = normal(rng);
  for (std::size_t i = 0; i < c.size(); ++i) {
    c[i] = beta == T(0) && i % ldc < n ? std::numeric_limits<T>::quiet_NaN() : normal(rng);
  }
  const std::vector<T> before(c);
  tapegrad::gemm_by_weight<T>(m, a.data(), lda, w, beta, c.data(), ldc,
                              with_bias ? bias.data() : nullptr);
  const T* wv = w.value().data();
  double err = 0.0;
  for (std::size_t i = 0; i < m; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      double sum = beta == T(0) ? 0.0 : static_cast<double>(beta) * before[i * ldc + j];
      if (with_bias) sum += bias[j];
      double scale = std::abs(sum) + 1e-30;
      for (std::size_t l = 0; l < k; ++l) {
        const double t = static_cast<double>(a[i * lda + l]) * wv[j * k + l];
        sum += t;
        scale += std::abs(t);
      }
      err = std::max(err, std::abs(c[i * ldc + j] - sum) / scale);
    }
    for (std::size_t j = n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == before[i * ldc + j]);
  }
  return std::isnan(err) ? 1.0 : err;
}

template <class T>
tapegrad::Var<T> random_weight(std::size_t n, std::size_t k, std::mt19937& rng) {
  std::normal_distribution<T> normal(T(0), T(1));
  tapegrad::Array<T> w = tapegrad::Array<T>::from_shape({n, k});
  for (T& v : w) v = normal(rng);
  return tapegrad::parameter<T>(std::move(w), "w");
}

}  // namespace

TEST_CASE("gemm_by_weight: A W^T + beta C (+ a bias) on every backend, at one row and at many") {
  const BackendGuard guard;
  std::mt19937 rng(11);
  for (const GemmBackend backend :
       {GemmBackend::openblas, GemmBackend::onednn, GemmBackend::automatic}) {
    tapegrad::set_gemm_backend(backend);
    const tapegrad::Var<float> w = random_weight<float>(48, 24, rng);
    for (const std::size_t m : {1, 7, 8, 33, 64}) {
      for (const float beta : {0.0F, 1.0F}) {
        CAPTURE(tapegrad::to_string(backend));
        CAPTURE(m);
        CAPTURE(beta);
        // Twice: the second product runs on the weights kept from the first.
        for (const bool with_bias : {false, true}) {
          CAPTURE(with_bias);
          CHECK(by_weight_error<float>(m, w, beta, rng, with_bias) < 1e-5);
          CHECK(by_weight_error<float>(m, w, beta, rng, with_bias) < 1e-5);
        }
      }
    }
  }
  const tapegrad::Var<double> wd = random_weight<double>(16, 9, rng);
  for (const double beta : {0.0, 1.0, 0.5}) {
    CHECK(by_weight_error<double>(12, wd, beta, rng) < 1e-13);
    CHECK(by_weight_error<double>(12, wd, beta, rng, true) < 1e-13);
  }
  CHECK_THROWS_AS(by_weight_error<float>(8, tapegrad::Var<float>(), 0.0F, rng),
                  tapegrad::usage_error);
}

TEST_CASE("gemm_by_weight: a weight changed in place, or destroyed and replaced, is read again") {
  const BackendGuard guard;
  tapegrad::set_gemm_backend(GemmBackend::onednn);
  std::mt19937 rng(12);
  tapegrad::Var<float> w = random_weight<float>(32, 16, rng);
  CHECK(by_weight_error<float>(16, w, 0.0F, rng) < 1e-5);
  // An in-place change (an optimizer's step) bumps the version: the kept copy is stale.
  for (float& v : w.mutable_value()) v = -2.0F * v + 1.0F;
  CHECK(by_weight_error<float>(16, w, 0.0F, rng) < 1e-5);
  w.mutable_value() = tapegrad::Array<float>::from_shape({20, 16});  // a new shape
  for (float& v : w.mutable_value()) v = 0.25F;
  CHECK(by_weight_error<float>(16, w, 0.0F, rng) < 1e-5);
  // Many weights made and dropped, more than are kept, some at addresses of dropped ones.
  for (int round = 0; round < 40; ++round) {
    const tapegrad::Var<float> v =
        random_weight<float>(24, 8 + static_cast<std::size_t>(round % 3), rng);
    CHECK(by_weight_error<float>(9, v, 1.0F, rng) < 1e-5);
    CHECK(by_weight_error<float>(9, v, 1.0F, rng) < 1e-5);
  }
  // A primitive is made for a thread count: another count gets its own.
  const tapegrad::Var<float> big = random_weight<float>(128, 128, rng);
  for (const int threads : {2, 1, 2}) {
    tapegrad::set_num_threads(threads);
    CHECK(by_weight_error<float>(64, big, 1.0F, rng) < 1e-5);
    CHECK(omp_get_max_threads() == threads);
  }
  // Each thread keeps its own copies.
  std::thread user([&] { CHECK(by_weight_error<float>(16, w, 1.0F, rng) < 1e-5); });
  user.join();
  CHECK(by_weight_error<float>(16, w, 1.0F, rng) < 1e-5);
}

TEST_CASE("gemm_by_weight: the own loop sums in order, one FMA at a time, in every panel") {
  // Small products, and with AVX-512 every product one thread runs, run on the library's loop
  // over W kept in panels (autograd/src/small_gemm_kernel.hpp): every element is C (or 0) plus
  // its k products in order, each by a fused multiply-add, whatever the block of rows and the
  // panel the element falls in. The reference does the same one element at a time.
  const BackendGuard guard;
  tapegrad::set_gemm_backend(GemmBackend::automatic);
  tapegrad::set_num_threads(1);
#if defined(__x86_64__) && defined(__FMA__)
  const bool avx512 = __builtin_cpu_supports("avx512f") != 0;
#endif
  std::mt19937 rng(13);
  std::normal_distribution<float> normal(0.0F, 1.0F);
  // 112 columns: a panel of 64, one of 32 and one of 16 (8 lanes: 64, 32 and 16 again); 1136:
  // 17 of 64, then 32 and 16, each fetched while the one before runs; k = 300 runs the next
  // panel's fetch over several blocks of rows.
  for (const auto& shape :
       {std::pair<std::size_t, std::size_t>{112, 24}, {64, 64}, {16, 3}, {1136, 300}}) {
    const std::size_t n = shape.first, k = shape.second;
    tapegrad::Var<float> w = random_weight<float>(n, k, rng);
    for (int change = 0; change < 2; ++change) {
      for (const std::size_t m : {1, 2, 3, 5, 7, 9, 17, 64}) {
        // beta 2 stands for beta 0 with a bias: the sums start from the bias.
        for (const float beta : {0.0F, 1.0F, 2.0F}) {
          CAPTURE(n);
          CAPTURE(k);
          CAPTURE(m);
          CAPTURE(beta);
          const bool with_bias = beta == 2.0F;
          const std::size_t lda = k + 3, ldc = n + 2;
          std::vector<float> a(m * lda), c(m * ldc), bias(n);
          for (float& v : a) v = normal(rng);
          for (float& v : c) v = normal(rng);
          for (float& v : bias) v = normal(rng);
          const std::vector<float> before(c);
          tapegrad::gemm_by_weight<float>(m, a.data(), lda, w, with_bias ? 0.0F : beta, c.data(),
                                          ldc, with_bias ? bias.data() : nullptr);
          const float* wv = w.value().data();
          std::size_t wrong = 0;
          double err = 0.0;
          for (std::size_t i = 0; i < m; ++i) {
            for (std::size_t j = 0; j < n; ++j) {
              float sum = with_bias ? bias[j] : beta * before[i * ldc + j];
              double exact = sum, scale = std::abs(exact) + 1e-30;
              for (std::size_t l = 0; l < k; ++l) {
                sum = std::fma(a[i * lda + l], wv[j * k + l], sum);
                exact += static_cast<double>(a[i * lda + l]) * wv[j * k + l];
                scale += std::abs(static_cast<double>(a[i * lda + l]) * wv[j * k + l]);
              }
              wrong += c[i * ldc + j] != sum ? 1 : 0;
              err = std::max(err, std::abs(c[i * ldc + j] - exact) / scale);
            }
            for (std::size_t j = n; j < ldc; ++j) REQUIRE(c[i * ldc + j] == before[i * ldc + j]);
          }
          CHECK(err < 1e-5);
#if defined(__x86_64__) && defined(__FMA__)
          // The loop, bit for bit, on every x86-64 CPU with FMA: with AVX-512 every product here;
          // before it, fewer than 8 rows on a weight of up to 2^15 floats.
          if (avx512 || (m < 8 && n * k <= (std::size_t{1} << 15))) CHECK(wrong == 0);
#endif
        }
      }
      // An in-place change (an optimizer's step) bumps the version: the copy is written again.
      for (float& v : w.mutable_value()) v = 0.5F * v - 1.0F;
    }
  }
}

TEST_CASE("linear in float on every backend and thread count, large enough for oneDNN's bias") {
  // From about 2^20 multiply-adds oneDNN runs float products, and linear hands it the bias to
  // add in its tiles (autograd/src/weight_gemm.cpp); below, the bias is copied into y first.
  tapegrad::Generator gen(5);
  const BackendGuard guard;
  for (const auto& shape : {std::array<std::size_t, 3>{300, 64, 96}, {3, 5, 7}}) {
    const std::size_t rows = shape[0], in = shape[1], out = shape[2];
    const tapegrad::Array<float> xv = gen.normal<float>(tapegrad::make_shape({rows, in}));
    const tapegrad::Array<float> wv = gen.normal<float>(tapegrad::make_shape({out, in}));
    const tapegrad::Array<float> bv = gen.normal<float>(tapegrad::make_shape({out}));
    for (const auto backend :
         {GemmBackend::automatic, GemmBackend::onednn, GemmBackend::openblas}) {
      tapegrad::set_gemm_backend(backend);
      for (const int threads : {1, 2}) {
        tapegrad::set_num_threads(threads);
        const tapegrad::Array<float> y =
            tapegrad::linear(tapegrad::constant(xv), tapegrad::constant(wv), tapegrad::constant(bv))
                .value();
        REQUIRE(y.shape() == tapegrad::make_shape({rows, out}));
        double err = 0.0;
        for (std::size_t r = 0; r < rows; ++r) {
          for (std::size_t j = 0; j < out; ++j) {
            double sum = bv(j), scale = std::abs(sum);
            for (std::size_t l = 0; l < in; ++l) {
              sum += static_cast<double>(xv(r, l)) * wv(j, l);
              scale += std::abs(static_cast<double>(xv(r, l)) * wv(j, l));
            }
            err = std::max(err, std::abs(y(r, j) - sum) / scale);
          }
        }
        CAPTURE(tapegrad::to_string(backend));
        CAPTURE(threads);
        CAPTURE(rows);
        CHECK(err < 1e-6);
      }
    }
  }
}
