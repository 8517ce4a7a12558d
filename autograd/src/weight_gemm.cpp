// gemm_by_weight: rows times a weight matrix transposed, A W^T, with W reordered once and kept
// while W is unchanged (docs/design.md, "The GEMM").
//
// dnnl_sgemm packs its B operand on every call. A recurrent layer multiplies the same W_hh by
// a new h at every step, so a sequence of 100 steps packs W_hh 100 times; oneDNN's own RNN
// primitive reorders its weights once. Measured per step (bench/gemm/packed_weights.cpp), the
// product on weights reordered once runs 1.13-1.30x faster at batch 32-64 and up to 2x at batch
// 16, and slower at batch 1, where the primitive's fixed cost dominates: hence kMinRows.
//
// The library's own loop (small_gemm_kernel.hpp) runs on a copy of W kept in its panels, the
// same way. Below a few hundred thousand multiply-adds a library's fixed cost per call is most
// of the product: a single row of h times an LSTM's W_hh at H = 64 takes 0.9 us in oneDNN's
// primitive and 0.45 us in the loop. With AVX-512 the loop also runs the large products one
// thread computes (a step's, or one thread's block of a step's rows): it fetches the next panel
// of W while the current one runs, so that a W_hh larger than the cache (an LSTM's at H = 512,
// 4 MiB) streams without a stall, which oneDNN's matmul does not do. Per step against the
// primitive (performance.md, fourth round): 1.05-1.09x for the LSTM's and GRU's W_hh at H = 512,
// 0.96x for the RNN's (1 MiB, which the cache holds), 1.00-1.13x at batch 32, 1.2-4.3x below.
// Products on more threads run on the primitive, which shares them.
#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include <fmt/format.h>

#include "detail.hpp"
#include "gemm.hpp"
#include "small_gemm.hpp"
#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/var.hpp"

namespace tapegrad {

namespace {

/// Fewer rows than this run on gemm (the primitive's fixed cost is larger than its gain).
constexpr std::size_t kMinRows = 8;
/// Weights kept per thread; the least recently used is dropped first (after destroyed ones).
constexpr std::size_t kMaxKept = 16;

using dnnl::memory;

/// A's bytes at most for the own loop, which reads all of A once per panel of W: A stays in the
/// second-level cache (256 KiB or more on x86-64 CPUs since 2008), 64 rows at k = 512 and more.
constexpr std::size_t kOwnLoopRowBytes = std::size_t{1} << 18;

/// Which products run on the own loop, measured against oneDNN's primitive and OpenBLAS at the
/// recurrent steps' shapes (docs/performance.md): with AVX-512, every product that runs on one
/// thread and whose A stays in the cache (a recurrent step's, or one block of its rows); before
/// AVX-512, only fewer than kMinRows rows on a weight of up to 2^15 floats.
bool own_loop_product(std::size_t m, std::size_t n, std::size_t k, bool avx512) {
  if (avx512) {
    return m * k * sizeof(float) <= kOwnLoopRowBytes && detail::onednn_threads_for(m * n * k) == 1;
  }
  return m < kMinRows && n * k <= (std::size_t{1} << 15);
}

/// The small loop of the CPU's widest instruction set the library was built for.
struct SmallLoop {
  bool avx512 = false;
  detail::SmallGemmKernel kernel{};
  SmallLoop() : kernel(detail::base_small_gemm()) {
#if defined(TAPEGRAD_AVX512_KERNELS)
    avx512 = detail::cpu_level() >= 3;
    if (avx512) kernel = detail::avx512_small_gemm();
#endif
  }
};

const SmallLoop& small_loop() {
  static const SmallLoop loop;
  return loop;
}

/// A weight [n, k] kept transposed in the own loop's panels (small_gemm_kernel.hpp).
struct Panels {
  std::weak_ptr<detail::Node<float>> owner;
  const detail::Node<float>* node = nullptr;
  std::uint32_t version = 0;
  std::size_t n = 0, k = 0;
  Array<float> value;  // n * k floats in panels, 64-byte aligned (the library's allocator)
  std::uint64_t used = 0;
};

/// One weight matrix in oneDNN's layout, with the matmul primitive for one shape of A and C.
struct Packed {
  std::weak_ptr<detail::Node<float>> owner;  // the weight's node; expired once it is destroyed
  const detail::Node<float>* node = nullptr;
  std::uint32_t version = 0;  // of the weight when it was reordered
  std::size_t m = 0, n = 0, k = 0, lda = 0, ldc = 0;
  float beta = 0.0f;
  bool biased = false;  // the primitive adds a bias row
  int threads = 0;      // OpenMP's count when the primitive was made
  dnnl::matmul product;
  memory weights, src, dst, bias;
  std::uint64_t used = 0;  // when last used, for eviction
};

/// The matmul primitive with a bias for one shape (linear_on_onednn): weights in the caller's
/// layout, so nothing is kept but the primitive.
struct Biased {
  std::size_t m = 0, n = 0, k = 0;
  int threads = 0;
  dnnl::matmul product;
  memory src, weights, bias, dst;
  std::uint64_t used = 0;
};

/// Each thread's engine, stream and kept weights (a primitive runs on the thread that calls).
struct Kept {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::vector<Packed> entries;
  std::vector<Panels> panels;
  std::vector<Biased> biased;
  std::uint64_t clock = 0;
};

Kept& kept() {
  thread_local Kept k;
  return k;
}

memory::dims dims(std::size_t a, std::size_t b) {
  return {static_cast<memory::dim>(a), static_cast<memory::dim>(b)};
}

/// Drops the entries of destroyed weights, then the least recently used, to make room for one.
template <class E>
void make_room(std::vector<E>& es) {
  if constexpr (!std::is_same_v<E, Biased>) {
    es.erase(std::remove_if(es.begin(), es.end(), [](const E& e) { return e.owner.expired(); }),
             es.end());
  }
  if (es.size() >= kMaxKept) {
    es.erase(std::min_element(es.begin(), es.end(),
                              [](const E& a, const E& b) { return a.used < b.used; }));
  }
}

/// w's copy in panels, made (or written again) as needed.
const Panels& panels_for(Kept& kp, const Var<float>& w) {
  const auto& node = w.node();
  const std::size_t n = w.shape()[0], k = w.shape()[1];
  Panels* t = nullptr;
  for (Panels& e : kp.panels) {
    if (e.node == node.get() && !e.owner.expired() && e.n == n && e.k == k) {
      t = &e;
      break;
    }
  }
  if (t == nullptr) {
    make_room(kp.panels);
    Panels e;
    e.owner = node;
    e.node = node.get();
    e.n = n, e.k = k;
    e.value = detail::empty_array<float>({k, n});
    e.version = w.version() + 1;  // not yet written
    kp.panels.push_back(std::move(e));
    t = &kp.panels.back();
  }
  if (t->version != w.version()) {
    small_loop().kernel.pack(w.value().data(), n, k, t->value.data());
    t->version = w.version();
  }
  t->used = ++kp.clock;
  return *t;
}

/// Reorders w's value (stored [n, k]) into the entry's weights.
void reorder_weights(Kept& kp, Packed& p, const float* w) {
  memory user({dims(p.k, p.n), memory::data_type::f32, memory::format_tag::ba}, kp.engine,
              const_cast<float*>(w));
  dnnl::reorder(user, p.weights).execute(kp.stream, user, p.weights);
}

/// A new entry: the primitive for A [m, k] (row stride lda), W^T [k, n], C [m, n] (row stride
/// ldc), C = A W^T (+ a bias row when `biased`) + beta C, with W in the layout the primitive
/// chooses.
Packed make_entry(Kept& kp, const std::shared_ptr<detail::Node<float>>& node, std::size_t m,
                  std::size_t n, std::size_t k, std::size_t lda, std::size_t ldc, float beta,
                  bool biased, int threads) {
  Packed p;
  p.owner = node;
  p.node = node.get();
  p.m = m, p.n = n, p.k = k, p.lda = lda, p.ldc = ldc, p.beta = beta, p.biased = biased;
  p.threads = threads;
  const memory::desc src_md(dims(m, k), memory::data_type::f32, dims(lda, 1));
  const memory::desc w_md(dims(k, n), memory::data_type::f32, memory::format_tag::any);
  const memory::desc dst_md(dims(m, n), memory::data_type::f32, dims(ldc, 1));
  dnnl::primitive_attr attr;
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  const memory::desc b_md(dims(1, n), memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(biased ? dnnl::matmul::desc(src_md, w_md, b_md, dst_md)
                                               : dnnl::matmul::desc(src_md, w_md, dst_md),
                                        attr, kp.engine);
  p.product = dnnl::matmul(pd);
  p.weights = memory(pd.weights_desc(), kp.engine);
  p.src = memory(src_md, kp.engine, DNNL_MEMORY_NONE);
  p.dst = memory(dst_md, kp.engine, DNNL_MEMORY_NONE);
  if (biased) p.bias = memory(b_md, kp.engine, DNNL_MEMORY_NONE);
  return p;
}

/// The kept entry for this weight and shape, made (or its weights reordered again) as needed.
Packed& entry_for(Kept& kp, const Var<float>& w, std::size_t m, std::size_t lda, std::size_t ldc,
                  float beta, bool biased, int threads) {
  const auto& node = w.node();
  const std::size_t n = w.shape()[0], k = w.shape()[1];
  for (Packed& p : kp.entries) {
    if (p.node == node.get() && !p.owner.expired() && p.m == m && p.n == n && p.k == k &&
        p.lda == lda && p.ldc == ldc && p.beta == beta && p.biased == biased &&
        p.threads == threads) {
      if (p.version != w.version()) {
        reorder_weights(kp, p, w.value().data());
        p.version = w.version();
      }
      return p;
    }
  }
  auto& es = kp.entries;
  make_room(es);
  es.push_back(make_entry(kp, node, m, n, k, lda, ldc, beta, biased, threads));
  Packed& p = es.back();
  reorder_weights(kp, p, w.value().data());
  p.version = w.version();
  return p;
}

/// Runs one primitive through oneDNN's C call (the C++ one builds a hash map of the arguments on
/// every call, a measurable part of a small product); a CPU stream runs it before returning.
void execute(Kept& kp, const dnnl::primitive& prim, const dnnl_exec_arg_t* args, int count) {
  const dnnl_status_t status = dnnl_primitive_execute(prim.get(), kp.stream.get(), count, args);
  if (status != dnnl_success) throw dnnl::error(status, "dnnl_primitive_execute");
  kp.stream.wait();
}

Biased& biased_for(Kept& kp, std::size_t m, std::size_t n, std::size_t k, int threads) {
  for (Biased& e : kp.biased) {
    if (e.m == m && e.n == n && e.k == k && e.threads == threads) return e;
  }
  make_room(kp.biased);
  Biased e;
  e.m = m, e.n = n, e.k = k, e.threads = threads;
  const memory::desc src_md(dims(m, k), memory::data_type::f32, memory::format_tag::ab);
  const memory::desc w_md(dims(k, n), memory::data_type::f32, memory::format_tag::ba);
  const memory::desc b_md(dims(1, n), memory::data_type::f32, memory::format_tag::ab);
  const memory::desc dst_md(dims(m, n), memory::data_type::f32, memory::format_tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, w_md, b_md, dst_md), kp.engine);
  e.product = dnnl::matmul(pd);
  e.src = memory(src_md, kp.engine, DNNL_MEMORY_NONE);
  e.weights = memory(w_md, kp.engine, DNNL_MEMORY_NONE);
  e.bias = memory(b_md, kp.engine, DNNL_MEMORY_NONE);
  e.dst = memory(dst_md, kp.engine, DNNL_MEMORY_NONE);
  kp.biased.push_back(std::move(e));
  return kp.biased.back();
}

}  // namespace

namespace detail {

bool linear_on_onednn(std::size_t m, std::size_t n, std::size_t k, const float* x, const float* w,
                      const float* b, float* y) {
  if (m == 0 || n == 0 || k == 0 || !float_product_on_onednn(false, true, m, n, k)) return false;
  try {
    Kept& kp = kept();
    const int threads = onednn_threads_for(m * n * k);
    match_onednn_threads(threads);
    Biased& e = biased_for(kp, m, n, k, threads);
    e.used = ++kp.clock;
    e.src.set_data_handle(const_cast<float*>(x));
    e.weights.set_data_handle(const_cast<float*>(w));
    e.bias.set_data_handle(const_cast<float*>(b));
    e.dst.set_data_handle(y);
    const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, e.src.get()},
                                    {DNNL_ARG_WEIGHTS, e.weights.get()},
                                    {DNNL_ARG_BIAS, e.bias.get()},
                                    {DNNL_ARG_DST, e.dst.get()}};
    execute(kp, e.product, args, 4);
  } catch (const dnnl::error& err) {
    throw internal_error(
        fmt::format("linear: oneDNN's matmul failed ({}, status {}) for [{},{}] x [{},{}]^T + b",
                    err.what(), static_cast<int>(err.status), m, k, n, k));
  }
  return true;
}

}  // namespace detail

template <class T>
void gemm_by_weight(std::size_t m, const T* a, std::size_t lda, const Var<T>& w, T beta, T* c,
                    std::size_t ldc, const T* bias) {
  if (!w.defined() || w.ndim() != 2) {
    throw usage_error(fmt::format("gemm_by_weight: the weight must be a matrix [n, k], got {}",
                                  w.defined() ? shape_str(w.shape()) : "an empty Var"));
  }
  const std::size_t n = w.shape()[0], k = w.shape()[1];
  const T* wv = w.value().data();
  if constexpr (std::is_same_v<T, float>) {
    const SmallLoop& loop = small_loop();
    if (gemm_backend() == GemmBackend::automatic &&
        (beta == 0.0f || (beta == 1.0f && bias == nullptr)) && m > 0 && k > 0 &&
        n % loop.kernel.lanes == 0 && own_loop_product(m, n, k, loop.avx512)) {
      const Panels& t = panels_for(kept(), w);
      loop.kernel.run(m, n, k, a, lda, t.value.data(), c, ldc, beta == 1.0f, bias);
      return;
    }
    if (m >= kMinRows && k > 0 && n > 0 && gemm_backend() != GemmBackend::openblas) {
      try {
        Kept& kp = kept();
        // The primitive divides its work among the threads it was made for: part of the key.
        const int threads = detail::onednn_threads_for(m * n * k);
        detail::match_onednn_threads(threads);
        Packed& p = entry_for(kp, w, m, lda, ldc, beta, bias != nullptr, threads);
        p.used = ++kp.clock;
        p.src.set_data_handle(const_cast<float*>(a));
        p.dst.set_data_handle(c);
        if (bias != nullptr) p.bias.set_data_handle(const_cast<float*>(bias));
        const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, p.src.get()},
                                        {DNNL_ARG_WEIGHTS, p.weights.get()},
                                        {DNNL_ARG_DST, p.dst.get()},
                                        {DNNL_ARG_BIAS, p.bias.get(true)}};
        execute(kp, p.product, args, bias != nullptr ? 4 : 3);
      } catch (const dnnl::error& e) {
        throw internal_error(fmt::format(
            "gemm_by_weight: oneDNN's matmul failed ({}, status {}) for [{},{}] x [{},{}]^T",
            e.what(), static_cast<int>(e.status), m, k, n, k));
      }
      return;
    }
  }
  if (bias != nullptr) {
    // C = bias + beta C first, then C += A W^T.
    for (std::size_t i = 0; i < m; ++i) {
      T* row = c + i * ldc;
      for (std::size_t j = 0; j < n; ++j) row[j] = beta == T(0) ? bias[j] : bias[j] + beta * row[j];
    }
    beta = T(1);
  }
  detail::gemm<T>(false, true, m, n, k, T(1), a, lda, wv, k, beta, c, ldc);
}

template void gemm_by_weight<float>(std::size_t, const float*, std::size_t, const Var<float>&,
                                    float, float*, std::size_t, const float*);
template void gemm_by_weight<double>(std::size_t, const double*, std::size_t, const Var<double>&,
                                     double, double*, std::size_t, const double*);

}  // namespace tapegrad
