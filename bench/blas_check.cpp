// Checks the GEMM and GEMV kernels OpenBLAS picked on this machine (or the ones forced with
// OPENBLAS_CORETYPE) against a naive loop in double precision: sgemm, dgemm, sgemv, dgemv on
// random matrices, row- and column-major, every transpose, odd sizes, padded leading
// dimensions, alpha/beta != 1/0, and beta = 0 over a C full of NaN (which must be overwritten).
//
// An element passes when |blas - exact| <= tol * (|alpha| sum_l |a_il b_lj| + |beta c_ij|) with
// tol = 2 (k + 2) eps, twice the standard rounding-error bound of a length-k dot product, so a
// correct kernel never fails and a wrong one (a bad edge case, a skipped block) fails by far.
//
// Usage: blas_check [threads]   (default 1). Exit status 0 when every case passes.
#include <cblas.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

struct Stats {
  int cases = 0;
  int failed = 0;
  double worst = 0.0;  // largest error / bound over all elements (< 1 passes)
};

std::mt19937_64 rng(12345);

template <class T>
std::vector<T> random_vector(std::size_t n) {
  std::uniform_real_distribution<double> u(-1.0, 1.0);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(u(rng));
  return v;
}

void blas_gemm(CBLAS_ORDER o, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
               float alpha, const float* a, int lda, const float* b, int ldb, float beta, float* c,
               int ldc) {
  cblas_sgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemm(CBLAS_ORDER o, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int m, int n, int k,
               double alpha, const double* a, int lda, const double* b, int ldb, double beta,
               double* c, int ldc) {
  cblas_dgemm(o, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
void blas_gemv(CBLAS_ORDER o, CBLAS_TRANSPOSE t, int m, int n, float alpha, const float* a, int lda,
               const float* x, float beta, float* y) {
  cblas_sgemv(o, t, m, n, alpha, a, lda, x, 1, beta, y, 1);
}
void blas_gemv(CBLAS_ORDER o, CBLAS_TRANSPOSE t, int m, int n, double alpha, const double* a,
               int lda, const double* x, double beta, double* y) {
  cblas_dgemv(o, t, m, n, alpha, a, lda, x, 1, beta, y, 1);
}

// Element (i, j) of a matrix stored with leading dimension ld in the given order.
template <class T>
double at(const std::vector<T>& x, bool row_major, int ld, int i, int j) {
  return static_cast<double>(row_major ? x[static_cast<std::size_t>(i) * ld + j]
                                       : x[static_cast<std::size_t>(j) * ld + i]);
}

template <class T>
void check_gemm(Stats& s, bool row_major, bool ta, bool tb, int m, int n, int k, double alpha,
                double beta, const char* type) {
  // op(A) is m x k, op(B) is k x n; stored A is (ta ? k x m : m x k), likewise B.
  const int ar = ta ? k : m, ac = ta ? m : k, br = tb ? n : k, bc = tb ? k : n;
  const int pad = 3;
  const int lda = (row_major ? ac : ar) + pad, ldb = (row_major ? bc : br) + pad;
  const int ldc = (row_major ? n : m) + pad;
  const std::size_t a_size = static_cast<std::size_t>(row_major ? ar : ac) * lda;
  const std::size_t b_size = static_cast<std::size_t>(row_major ? br : bc) * ldb;
  const std::size_t c_size = static_cast<std::size_t>(row_major ? m : n) * ldc;
  std::vector<T> a = random_vector<T>(a_size), b = random_vector<T>(b_size);
  std::vector<T> c = random_vector<T>(c_size);
  if (beta == 0.0) c.assign(c_size, std::numeric_limits<T>::quiet_NaN());
  const std::vector<T> c0 = c;
  blas_gemm(row_major ? CblasRowMajor : CblasColMajor, ta ? CblasTrans : CblasNoTrans,
            tb ? CblasTrans : CblasNoTrans, m, n, k, static_cast<T>(alpha), a.data(), lda, b.data(),
            ldb, static_cast<T>(beta), c.data(), ldc);
  const double tol = 2.0 * (k + 2) * std::numeric_limits<T>::epsilon();
  double worst = 0.0;
  bool ok = true;
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double exact = 0.0, magnitude = 0.0;
      for (int l = 0; l < k; ++l) {
        const double x = ta ? at(a, row_major, lda, l, i) : at(a, row_major, lda, i, l);
        const double y = tb ? at(b, row_major, ldb, j, l) : at(b, row_major, ldb, l, j);
        exact += x * y;
        magnitude += std::abs(x * y);
      }
      exact *= alpha;
      magnitude *= std::abs(alpha);
      if (beta != 0.0) {
        const double c_in = at(c0, row_major, ldc, i, j);
        exact += beta * c_in;
        magnitude += std::abs(beta * c_in);
      }
      const double got = at(c, row_major, ldc, i, j);
      const double ratio = std::abs(got - exact) / (tol * magnitude + 1e-300);
      if (!(ratio <= 1.0)) ok = false;  // also catches NaN
      if (!(ratio <= worst)) worst = ratio;
    }
  }
  // The padding of C must be untouched.
  for (std::size_t idx = 0; idx < c_size; ++idx) {
    const std::size_t inner = idx % static_cast<std::size_t>(ldc);
    const bool in_matrix = inner < static_cast<std::size_t>(row_major ? n : m);
    if (!in_matrix && !(c[idx] == c0[idx] || (std::isnan(c[idx]) && std::isnan(c0[idx]))))
      ok = false;
  }
  ++s.cases;
  if (!(worst <= s.worst)) s.worst = worst;
  if (!ok) {
    ++s.failed;
    std::printf("FAIL %s %s ta=%d tb=%d m=%d n=%d k=%d alpha=%g beta=%g: error/bound %.3g\n", type,
                row_major ? "row" : "col", ta, tb, m, n, k, alpha, beta, worst);
  }
}

template <class T>
void check_gemv(Stats& s, bool row_major, bool trans, int m, int n, double alpha, double beta,
                const char* type) {
  // y = alpha op(A) x + beta y, A stored m x n.
  const int pad = 3, lda = (row_major ? n : m) + pad;
  const int xl = trans ? m : n, yl = trans ? n : m;
  std::vector<T> a = random_vector<T>(static_cast<std::size_t>(row_major ? m : n) * lda);
  std::vector<T> x = random_vector<T>(static_cast<std::size_t>(xl));
  std::vector<T> y = random_vector<T>(static_cast<std::size_t>(yl));
  if (beta == 0.0) y.assign(y.size(), std::numeric_limits<T>::quiet_NaN());
  const std::vector<T> y0 = y;
  blas_gemv(row_major ? CblasRowMajor : CblasColMajor, trans ? CblasTrans : CblasNoTrans, m, n,
            static_cast<T>(alpha), a.data(), lda, x.data(), static_cast<T>(beta), y.data());
  const double tol = 2.0 * (xl + 2) * std::numeric_limits<T>::epsilon();
  double worst = 0.0;
  for (int i = 0; i < yl; ++i) {
    double exact = 0.0, magnitude = 0.0;
    for (int l = 0; l < xl; ++l) {
      const double e = trans ? at(a, row_major, lda, l, i) : at(a, row_major, lda, i, l);
      exact += e * static_cast<double>(x[l]);
      magnitude += std::abs(e * static_cast<double>(x[l]));
    }
    exact *= alpha;
    magnitude *= std::abs(alpha);
    if (beta != 0.0) {
      exact += beta * static_cast<double>(y0[i]);
      magnitude += std::abs(beta * static_cast<double>(y0[i]));
    }
    const double ratio = std::abs(static_cast<double>(y[i]) - exact) / (tol * magnitude + 1e-300);
    if (!(ratio <= worst)) worst = ratio;
  }
  ++s.cases;
  if (!(worst <= s.worst)) s.worst = worst;
  if (!(worst <= 1.0)) {
    ++s.failed;
    std::printf("FAIL %s %s trans=%d m=%d n=%d alpha=%g beta=%g: error/bound %.3g\n", type,
                row_major ? "row" : "col", trans, m, n, alpha, beta, worst);
  }
}

template <class T>
Stats run_gemm(const char* type) {
  struct Dims {
    int m, n, k;
  };
  const std::vector<Dims> dims = {{1, 1, 1},       {1, 7, 5},      {7, 1, 5},       {3, 5, 7},
                                  {15, 17, 16},    {16, 16, 16},   {31, 33, 29},    {32, 512, 128},
                                  {64, 64, 1},     {65, 63, 127},  {97, 101, 103},  {128, 130, 257},
                                  {255, 1, 300},   {1, 257, 513},  {200, 300, 333}, {32, 1024, 256},
                                  {511, 513, 509}, {512, 512, 512}};
  const double coefficients[][2] = {{1.0, 0.0}, {1.5, 0.5}, {-0.75, 1.0}};
  Stats s;
  for (const auto& d : dims) {
    for (int layout = 0; layout < 2; ++layout) {
      for (int t = 0; t < 4; ++t) {
        for (const auto& ab : coefficients) {
          // Every combination on the small shapes; on large ones, one set of coefficients.
          if (d.m * d.n * d.k > 2000000 && ab[0] != 1.5) continue;
          check_gemm<T>(s, layout == 0, (t & 1) != 0, (t & 2) != 0, d.m, d.n, d.k, ab[0], ab[1],
                        type);
        }
      }
    }
  }
  return s;
}

template <class T>
Stats run_gemv(const char* type) {
  const int sizes[][2] = {{1, 1},    {1, 9},     {9, 1},      {7, 13},    {16, 16},
                          {33, 31},  {128, 512}, {512, 128},  {257, 129}, {1000, 3},
                          {3, 1000}, {513, 511}, {1024, 1023}};
  const double coefficients[][2] = {{1.0, 0.0}, {1.5, 0.5}, {-0.75, 1.0}};
  Stats s;
  for (const auto& mn : sizes) {
    for (int layout = 0; layout < 2; ++layout) {
      for (int trans = 0; trans < 2; ++trans) {
        for (const auto& ab : coefficients) {
          check_gemv<T>(s, layout == 0, trans != 0, mn[0], mn[1], ab[0], ab[1], type);
        }
      }
    }
  }
  return s;
}

void report(const char* what, const Stats& s, int& failures) {
  std::printf("%-6s %4d cases, %d failed, worst error/bound %.3g\n", what, s.cases, s.failed,
              s.worst);
  failures += s.failed;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  openblas_set_num_threads(threads < 1 ? 1 : threads);
  std::printf("%s (core %s), %d thread(s)\n", openblas_get_config(), openblas_get_corename(),
              openblas_get_num_threads());
  int failures = 0;
  report("sgemm", run_gemm<float>("sgemm"), failures);
  report("dgemm", run_gemm<double>("dgemm"), failures);
  report("sgemv", run_gemv<float>("sgemv"), failures);
  report("dgemv", run_gemv<double>("dgemv"), failures);
  std::printf("%s\n", failures == 0 ? "PASS" : "FAIL");
  return failures == 0 ? 0 : 1;
}
