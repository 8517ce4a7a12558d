// oneDNN's side of the recurrent benchmark (bench/run_rnn.sh): the same model and the same work
// as rnn_torch.cpp and rnn_tapegrad.cpp, with oneDNN's fused RNN primitives (the C++ API of
// oneDNN 2.6, Debian's libdnnl-dev). One configuration per process; no tapegrad header.
//
// The model: one layer, unidirectional, f32, x [T, B, in] ~ N(0, 1) in oneDNN's tnc layout
// (PyTorch's batch_first = false), a zero initial state (given explicitly: see
// make_primitive_descs), then Linear(H, 10) on the last hidden state, cross_entropy against fixed
// random targets in [0, 10). The cells:
//   rnn   vanilla_rnn, tanh     h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
//   lstm  lstm                  PyTorch's gates i, f, g, o are oneDNN's i, f, c~, o (same order)
//   gru   lbr_gru (linear       PyTorch's gates r, z, n are oneDNN's r, u, o, which oneDNN
//         before reset: the     orders u, r, o; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)),
//         GRU of PyTorch)       h' = (1 - z) * n + z * h
// Parameters are drawn in PyTorch's layouts and distributions (U(-1/sqrt(H), 1/sqrt(H)) for
// every tensor of the layer and of the head) and mapped to oneDNN's: weights_layer
// [1, 1, in, G, H] and weights_iter [1, 1, H, G, H] (ldigo: W^T, gates reordered), one bias
// [1, 1, G, H] = b_ih + b_hh; lbr_gru's bias has a fourth gate, u' = b_hn, and its o gate holds
// b_in alone. oneDNN keeps one bias where PyTorch has two, so Adam updates G*H fewer values
// (G*H - H for the GRU).
//   train: forward (prop_kind forward_training, with a workspace), the head (dnnl_sgemm),
//          softmax cross-entropy and its gradient, the head's backward, the RNN backward
//          primitive (oneDNN accumulates into diff_weights_layer, diff_weights_iter and
//          diff_bias, so they are zeroed first, as PyTorch's zero_grad), an Adam step (lr 1e-3,
//          PyTorch's formula) over every parameter in a plain loop. The backward primitive
//          always computes the gradients of x (diff_src_layer) and of h_0 (diff_src_iter),
//          which PyTorch and tapegrad skip: one [T*B, G*H] x [G*H, in] product and one
//          [B, G*H] x [G*H, H] product more than they do.
//   infer: forward (prop_kind forward_inference) and the head.
// Weight layouts: the primitives choose them (format_tag::any); the user's weights are dense
// ldigo. Inference reorders them to its primitive's layout once, at setup. Training keeps the
// parameters Adam updates in the layout the backward primitive chose for their gradients (on
// the machine this was written on: ldigo, its leading dimension padded at some shapes), so
// that no gradient needs a reorder; the reorders from it to the layouts the forward and the
// backward primitives read their weights in, where those differ (the backward's ldgoi), run
// every step, inside the timing, as the weights change every step. The JSON line names the
// layouts and the implementations, and counts those reorders.
// Everything else (memory objects, primitives, workspace) is created once before timing.
//
// Threads: oneDNN's are OpenMP's (omp_set_num_threads(--threads)); OpenBLAS is not used.
//
//   rnn_onednn ARGS...          times the configuration (rnn_common.hpp's command line) and
//                               prints its JSON line, plus the chosen layouts, implementations,
//                               ISA, workspace bytes, base_rss_kb and peak_rss_kb
//   rnn_onednn --check ARGS...  no timing: one step at the configured shape (keep it small)
//                               against a double-precision implementation of PyTorch's
//                               equations from the same parameters: the hidden states of every
//                               time step and the logits; for train also every gradient, the
//                               reference's by central differences of its loss, and with a
//                               second forward and backward first, so that gradients left over
//                               from the first would show. Error of a tensor: max |got - want|
//                               over max |want|. Prints one JSON line; exits 1 when an error
//                               exceeds 1e-4.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <oneapi/dnnl/dnnl_debug.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "rnn_common.hpp"

namespace {

using dnnl::memory;
using Tag = memory::format_tag;
using Args = std::unordered_map<int, memory>;

constexpr std::int64_t kClasses = 10;
constexpr double kTolerance = 1e-4;  // float against double, a few time steps

/// Shapes of one configuration, in oneDNN's dimension type.
struct Sizes {
  memory::dim seq, batch, input, hidden, gates, bias_gates;
  explicit Sizes(const rnn_bench::Config& c)
      : seq(c.seq),
        batch(c.batch),
        input(c.input),
        hidden(c.hidden),
        gates(c.gates()),
        bias_gates(c.cell == "gru" ? 4 : c.gates()) {}
};

/// One layer and the head as PyTorch holds them (float values, kept in double for the
/// reference): w_ih [G*H, in], w_hh [G*H, H], b_ih and b_hh [G*H] in PyTorch's gate order,
/// head_w [10, H], head_b [10].
struct TorchParams {
  std::vector<double> w_ih, w_hh, b_ih, b_hh, head_w, head_b;
};

TorchParams init_params(const Sizes& s, std::mt19937_64& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(s.hidden));
  std::uniform_real_distribution<float> u(static_cast<float>(-bound), static_cast<float>(bound));
  auto draw = [&](memory::dim n) {
    std::vector<double> v(static_cast<std::size_t>(n));
    for (double& x : v) x = u(rng);
    return v;
  };
  const memory::dim gh = s.gates * s.hidden;
  TorchParams p;
  p.w_ih = draw(gh * s.input);
  p.w_hh = draw(gh * s.hidden);
  p.b_ih = draw(gh);
  p.b_hh = draw(gh);
  p.head_w = draw(kClasses * s.hidden);
  p.head_b = draw(kClasses);
  return p;
}

/// PyTorch's gate index of oneDNN's gate g: the GRU's u, r, o are PyTorch's z (1), r (0), n (2);
/// the other cells keep PyTorch's order.
memory::dim torch_gate(const std::string& cell, memory::dim g) {
  if (cell == "gru" && g < 2) return 1 - g;
  return g;
}

/// A PyTorch weight [G*H, cols] (or its gradient) in oneDNN's ldigo [1, 1, cols, G, H].
template <class T>
std::vector<T> to_ldigo(const std::string& cell, const Sizes& s, memory::dim cols,
                        const std::vector<double>& w) {
  std::vector<T> out(w.size());
  for (memory::dim i = 0; i < cols; ++i) {
    for (memory::dim g = 0; g < s.gates; ++g) {
      for (memory::dim o = 0; o < s.hidden; ++o) {
        const memory::dim row = torch_gate(cell, g) * s.hidden + o;
        out[static_cast<std::size_t>((i * s.gates + g) * s.hidden + o)] =
            static_cast<T>(w[static_cast<std::size_t>(row * cols + i)]);
      }
    }
  }
  return out;
}

/// oneDNN's bias [1, 1, G', H] (ldgo) from PyTorch's two: b_ih + b_hh per gate; lbr_gru's o gate
/// takes b_in alone and its fourth gate u' takes b_hn. With `gradient`, the same map for the
/// gradients of the loss: each oneDNN bias entry's gradient is the gradient of the b_ih entry it
/// holds (equal to b_hh's where it holds both), and u''s that of b_hn.
std::vector<double> to_onednn_bias(const std::string& cell, const Sizes& s,
                                   const std::vector<double>& b_ih, const std::vector<double>& b_hh,
                                   bool gradient) {
  std::vector<double> out(static_cast<std::size_t>(s.bias_gates * s.hidden));
  for (memory::dim g = 0; g < s.bias_gates; ++g) {
    for (memory::dim o = 0; o < s.hidden; ++o) {
      double& v = out[static_cast<std::size_t>(g * s.hidden + o)];
      if (cell == "gru" && g == 3) {  // lbr_gru's u'
        v = b_hh[static_cast<std::size_t>(2 * s.hidden + o)];
        continue;
      }
      const auto r = static_cast<std::size_t>(torch_gate(cell, g) * s.hidden + o);
      const bool ih_only = gradient || (cell == "gru" && g == 2);
      v = ih_only ? b_ih[r] : b_ih[r] + b_hh[r];
    }
  }
  return out;
}

// ---- the reference: PyTorch's equations in double ----

double sigmoid(double v) {
  return 1.0 / (1.0 + std::exp(-v));
}

/// h_t of every step, [T, B, H], from a zero initial state.
std::vector<double> reference_hidden(const std::string& cell, const Sizes& s, const TorchParams& p,
                                     const std::vector<float>& x) {
  const auto t_n = static_cast<std::size_t>(s.seq), b_n = static_cast<std::size_t>(s.batch);
  const auto in = static_cast<std::size_t>(s.input), h_n = static_cast<std::size_t>(s.hidden);
  const std::size_t gh = static_cast<std::size_t>(s.gates) * h_n;
  std::vector<double> hs(t_n * b_n * h_n), h(b_n * h_n, 0.0), c(b_n * h_n, 0.0), gx(gh), gg(gh);
  for (std::size_t t = 0; t < t_n; ++t) {
    for (std::size_t b = 0; b < b_n; ++b) {
      const float* xt = &x[(t * b_n + b) * in];
      double* hb = &h[b * h_n];
      double* cb = &c[b * h_n];
      for (std::size_t r = 0; r < gh; ++r) {  // gx = W_ih x + b_ih, gg = W_hh h + b_hh
        gx[r] = p.b_ih[r];
        for (std::size_t i = 0; i < in; ++i) gx[r] += p.w_ih[r * in + i] * xt[i];
        gg[r] = p.b_hh[r];
        for (std::size_t j = 0; j < h_n; ++j) gg[r] += p.w_hh[r * h_n + j] * hb[j];
      }
      for (std::size_t k = 0; k < h_n; ++k) {
        auto a = [&](std::size_t gate) { return gx[gate * h_n + k] + gg[gate * h_n + k]; };
        if (cell == "rnn") {
          hb[k] = std::tanh(a(0));
        } else if (cell == "lstm") {
          const double i = sigmoid(a(0)), f = sigmoid(a(1)), g = std::tanh(a(2));
          const double o = sigmoid(a(3));
          cb[k] = f * cb[k] + i * g;
          hb[k] = o * std::tanh(cb[k]);
        } else {
          const double r = sigmoid(a(0)), z = sigmoid(a(1));
          const double n = std::tanh(gx[2 * h_n + k] + r * gg[2 * h_n + k]);
          hb[k] = (1.0 - z) * n + z * hb[k];
        }
        hs[(t * b_n + b) * h_n + k] = hb[k];
      }
    }
  }
  return hs;
}

/// logits [B, 10] = h_T head_w^T + head_b, from the hidden states [T, B, H].
std::vector<double> reference_logits(const Sizes& s, const TorchParams& p,
                                     const std::vector<double>& hs) {
  const auto b_n = static_cast<std::size_t>(s.batch), h_n = static_cast<std::size_t>(s.hidden);
  const double* last = &hs[(static_cast<std::size_t>(s.seq) - 1) * b_n * h_n];
  std::vector<double> logits(b_n * kClasses);
  for (std::size_t b = 0; b < b_n; ++b) {
    for (std::size_t j = 0; j < kClasses; ++j) {
      double v = p.head_b[j];
      for (std::size_t k = 0; k < h_n; ++k) v += p.head_w[j * h_n + k] * last[b * h_n + k];
      logits[b * kClasses + j] = v;
    }
  }
  return logits;
}

/// Mean softmax cross-entropy of logits [B, 10] against the targets.
double reference_loss(const std::vector<double>& logits, const std::vector<int>& targets) {
  double sum = 0.0;
  for (std::size_t b = 0; b < targets.size(); ++b) {
    const double* l = &logits[b * kClasses];
    const double top = *std::max_element(l, l + kClasses);
    double z = 0.0;
    for (std::size_t j = 0; j < kClasses; ++j) z += std::exp(l[j] - top);
    sum += top + std::log(z) - l[targets[b]];
  }
  return sum / static_cast<double>(targets.size());
}

/// d loss / d param by central differences, every entry of `param` in turn.
std::vector<double> numeric_gradient(std::vector<double>& param,
                                     const std::function<double()>& loss) {
  constexpr double eps = 1e-6;
  std::vector<double> grad(param.size());
  for (std::size_t i = 0; i < param.size(); ++i) {
    const double keep = param[i];
    param[i] = keep + eps;
    const double up = loss();
    param[i] = keep - eps;
    const double down = loss();
    param[i] = keep;
    grad[i] = (up - down) / (2.0 * eps);
  }
  return grad;
}

/// max |got - want| over max |want|.
double relative_error(const float* got, const std::vector<double>& want) {
  double worst = 0.0, scale = 0.0;
  for (std::size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return scale > 0.0 ? worst / scale : worst;
}

// ---- oneDNN ----

void sgemm(char ta, char tb, memory::dim m, memory::dim n, memory::dim k, const float* a,
           memory::dim lda, const float* b, memory::dim ldb, float beta, float* c,
           memory::dim ldc) {
  const dnnl_status_t status = dnnl_sgemm(ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
  if (status != dnnl_success) {
    throw std::runtime_error(std::string("dnnl_sgemm failed: ") + dnnl_status2str(status));
  }
}

/// The memory descriptor `pd` has for its execution argument `arg` (a DNNL_ARG_*).
memory::desc arg_md(const dnnl::primitive_desc& pd, int arg) {
  return pd.query_md(dnnl::query::exec_arg_md, arg);
}

float* data_of(const memory& m) {
  return static_cast<float*>(m.get_data_handle());
}

/// A weight layout: its axes from outermost to innermost in ldigo's letters (ldigo, ldgoi, ...)
/// with the strides when they are not dense (padded leading dimensions), or oneDNN's name of a
/// format kind that is not plain strides (rnn_packed).
std::string layout_name(const memory::desc& md) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.ndims != 5) return dnnl_fmt_kind2str(d.format_kind);
  const dnnl_blocking_desc_t& blk = d.format_desc.blocking;
  int order[5] = {0, 1, 2, 3, 4};
  std::stable_sort(order, order + 5, [&](int a, int b) { return blk.strides[a] > blk.strides[b]; });
  std::string name, strides;
  memory::dim dense = 1;
  bool padded = false;
  for (int k = 4; k >= 0; --k) {
    const int axis = order[k];
    padded = padded || blk.strides[axis] != dense;
    dense *= d.dims[axis];
  }
  for (int k = 0; k < 5; ++k) {
    name += "ldigo"[order[k]];
    strides += (k ? "," : "") + std::to_string(blk.strides[order[k]]);
  }
  if (padded) name += " (strides " + strides + ")";
  if (blk.inner_nblks > 0) name += " inner-blocked";
  if (d.extra.flags != 0) name += " +extra";
  return name;
}

/// A parameter with its gradient (same layout, n floats) and Adam's moments.
struct AdamSlot {
  float* param;
  const float* grad;
  std::size_t n;
  std::vector<float> m, v;
};

/// The forward and backward primitive descriptors of one cell. The initial state h_0 (and the
/// LSTM's c_0) is given, zero as PyTorch's default, with its gradient as an output: without it,
/// oneDNN 2.6.3's backward gets diff_weights_iter wrong for vanilla_rnn and lstm (its merged
/// diff_weights_iter GEMM, in src/cpu/rnn/ref_rnn.cpp, then pairs the gates of step t with h_t
/// instead of h_{t-1}; --check shows it: at T = 1 the gradient is dg h_1^T, not 0). The final
/// state is absent (zero memory descriptor): the head reads h_T from dst_layer.
struct PrimitiveDescs {
  dnnl::primitive_desc fwd, bwd;
};

PrimitiveDescs make_primitive_descs(const std::string& cell, bool train, const dnnl::engine& eng,
                                    const Sizes& s) {
  using dt = memory::data_type;
  const memory::desc x({s.seq, s.batch, s.input}, dt::f32, Tag::tnc);
  const memory::desc h({s.seq, s.batch, s.hidden}, dt::f32, Tag::tnc);
  const memory::desc w_layer({1, 1, s.input, s.gates, s.hidden}, dt::f32, Tag::any);
  const memory::desc w_iter({1, 1, s.hidden, s.gates, s.hidden}, dt::f32, Tag::any);
  const memory::desc bias({1, 1, s.bias_gates, s.hidden}, dt::f32, Tag::ldgo);
  const memory::desc h0({1, 1, s.batch, s.hidden}, dt::f32, Tag::ldnc);  // and the LSTM's c_0
  const memory::desc none;
  const auto prop = train ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference;
  const auto bwd = dnnl::prop_kind::backward;
  const auto dir = dnnl::rnn_direction::unidirectional_left2right;
  PrimitiveDescs out;
  if (cell == "lstm") {
    const dnnl::lstm_forward::primitive_desc fwd_pd(
        {prop, dir, x, h0, h0, w_layer, w_iter, bias, h, none, none}, eng);
    out.fwd = fwd_pd;
    if (train) {
      out.bwd = dnnl::lstm_backward::primitive_desc(
          {bwd,  dir, x,  h0, h0,      w_layer, w_iter, bias, h,    none,
           none, x,   h0, h0, w_layer, w_iter,  bias,   h,    none, none},
          eng, fwd_pd);
    }
  } else if (cell == "gru") {
    const dnnl::lbr_gru_forward::primitive_desc fwd_pd(
        {prop, dir, x, h0, w_layer, w_iter, bias, h, none}, eng);
    out.fwd = fwd_pd;
    if (train) {
      out.bwd = dnnl::lbr_gru_backward::primitive_desc(
          {bwd, dir, x, h0, w_layer, w_iter, bias, h, none, x, h0, w_layer, w_iter, bias, h, none},
          eng, fwd_pd);
    }
  } else {
    const auto act = dnnl::algorithm::eltwise_tanh;
    const dnnl::vanilla_rnn_forward::primitive_desc fwd_pd(
        {prop, act, dir, x, h0, w_layer, w_iter, bias, h, none}, eng);
    out.fwd = fwd_pd;
    if (train) {
      out.bwd = dnnl::vanilla_rnn_backward::primitive_desc(
          {bwd, act, dir, x, h0, w_layer, w_iter, bias, h, none, x, h0, w_layer, w_iter, bias, h,
           none},
          eng, fwd_pd);
    }
  }
  return out;
}

/// The recurrent layer and the head in oneDNN, every buffer and primitive made at construction.
class OnednnModel {
 public:
  OnednnModel(const rnn_bench::Config& c, const TorchParams& p, const std::vector<float>& x,
              std::vector<int> targets)
      : s_(c),
        train_(c.train()),
        stream_(engine_),
        targets_(std::move(targets)),
        head_w_(p.head_w.begin(), p.head_w.end()),
        head_b_(p.head_b.begin(), p.head_b.end()),
        logits_(static_cast<std::size_t>(s_.batch * kClasses)),
        dlogits_(logits_.size()),
        head_dw_(head_w_.size()),
        head_db_(head_b_.size()) {
    using dt = memory::data_type;
    const PrimitiveDescs pds = make_primitive_descs(c.cell, train_, engine_, s_);
    fwd_pd_ = pds.fwd;
    bwd_pd_ = pds.bwd;
    const memory::dims layer_dims = {1, 1, s_.input, s_.gates, s_.hidden};
    const memory::dims iter_dims = {1, 1, s_.hidden, s_.gates, s_.hidden};

    x_ = memory({{s_.seq, s_.batch, s_.input}, dt::f32, Tag::tnc}, engine_);
    std::copy(x.begin(), x.end(), data_of(x_));
    h_ = memory(arg_md(fwd_pd_, DNNL_ARG_DST_LAYER), engine_);
    if (h_.get_desc() != memory::desc({s_.seq, s_.batch, s_.hidden}, dt::f32, Tag::tnc)) {
      throw std::runtime_error("rnn_onednn: expected dst_layer in tnc");
    }
    bias_ = memory({{1, 1, s_.bias_gates, s_.hidden}, dt::f32, Tag::ldgo}, engine_);
    const std::vector<double> bias = to_onednn_bias(c.cell, s_, p.b_ih, p.b_hh, false);
    std::transform(bias.begin(), bias.end(), data_of(bias_),
                   [](double v) { return static_cast<float>(v); });
    // The user's weights, in dense ldigo.
    const memory user_w_layer({layer_dims, dt::f32, Tag::ldigo}, engine_);
    const memory user_w_iter({iter_dims, dt::f32, Tag::ldigo}, engine_);
    const std::vector<float> w_layer = to_ldigo<float>(c.cell, s_, s_.input, p.w_ih);
    const std::vector<float> w_iter = to_ldigo<float>(c.cell, s_, s_.hidden, p.w_hh);
    std::copy(w_layer.begin(), w_layer.end(), data_of(user_w_layer));
    std::copy(w_iter.begin(), w_iter.end(), data_of(user_w_iter));
    // The parameters Adam updates: for training in the layout of their gradients, the backward
    // primitive's choice, so that no gradient needs a reorder; for inference the user's.
    w_layer_ = user_w_layer;
    w_iter_ = user_w_iter;
    if (train_) {
      w_layer_ = copy_to(user_w_layer, arg_md(bwd_pd_, DNNL_ARG_DIFF_WEIGHTS_LAYER));
      w_iter_ = copy_to(user_w_iter, arg_md(bwd_pd_, DNNL_ARG_DIFF_WEIGHTS_ITER));
    }

    // The forward's weights: the parameters themselves, or a copy in its layout.
    fwd_w_layer_ = in_layout(fwd_pd_, DNNL_ARG_WEIGHTS_LAYER, w_layer_, fwd_reorders_);
    fwd_w_iter_ = in_layout(fwd_pd_, DNNL_ARG_WEIGHTS_ITER, w_iter_, fwd_reorders_);
    const bool lstm = c.cell == "lstm";
    h0_ = zeros(arg_md(fwd_pd_, DNNL_ARG_SRC_ITER));
    if (lstm) c0_ = zeros(arg_md(fwd_pd_, DNNL_ARG_SRC_ITER_C));
    fwd_ = dnnl::primitive(fwd_pd_);
    fwd_args_ = {{DNNL_ARG_SRC_LAYER, x_},
                 {DNNL_ARG_SRC_ITER, h0_},
                 {DNNL_ARG_WEIGHTS_LAYER, fwd_w_layer_},
                 {DNNL_ARG_WEIGHTS_ITER, fwd_w_iter_},
                 {DNNL_ARG_BIAS, bias_},
                 {DNNL_ARG_DST_LAYER, h_}};
    if (lstm) fwd_args_.insert({DNNL_ARG_SRC_ITER_C, c0_});
    if (!train_) {  // the weights never change: their reorders run once, here
      run(fwd_reorders_);
      fwd_reorders_.clear();
      return;
    }
    workspace_ = memory(fwd_pd_.workspace_desc(), engine_);
    fwd_args_.insert({DNNL_ARG_WORKSPACE, workspace_});

    bwd_w_layer_ = in_layout(bwd_pd_, DNNL_ARG_WEIGHTS_LAYER, w_layer_, bwd_reorders_);
    bwd_w_iter_ = in_layout(bwd_pd_, DNNL_ARG_WEIGHTS_ITER, w_iter_, bwd_reorders_);
    diff_w_layer_ = memory(w_layer_.get_desc(), engine_);
    diff_w_iter_ = memory(w_iter_.get_desc(), engine_);
    diff_bias_ = memory(arg_md(bwd_pd_, DNNL_ARG_DIFF_BIAS), engine_);
    if (diff_bias_.get_desc() != bias_.get_desc()) {
      throw std::runtime_error("rnn_onednn: expected diff_bias in the bias's layout (ldgo)");
    }
    diff_x_ = memory(arg_md(bwd_pd_, DNNL_ARG_DIFF_SRC_LAYER), engine_);
    // d loss / d h_t: zero but at the last step, where the head's backward writes it.
    diff_h_ = memory(arg_md(bwd_pd_, DNNL_ARG_DIFF_DST_LAYER), engine_);
    if (diff_h_.get_desc() != h_.get_desc()) {
      throw std::runtime_error("rnn_onednn: expected diff_dst_layer in dst_layer's layout (tnc)");
    }
    std::memset(diff_h_.get_data_handle(), 0, diff_h_.get_desc().get_size());
    diff_h0_ = memory(arg_md(bwd_pd_, DNNL_ARG_DIFF_SRC_ITER), engine_);
    bwd_ = dnnl::primitive(bwd_pd_);
    bwd_args_ = {{DNNL_ARG_SRC_LAYER, x_},
                 {DNNL_ARG_SRC_ITER, h0_},
                 {DNNL_ARG_DIFF_SRC_ITER, diff_h0_},
                 {DNNL_ARG_WEIGHTS_LAYER, bwd_w_layer_},
                 {DNNL_ARG_WEIGHTS_ITER, bwd_w_iter_},
                 {DNNL_ARG_BIAS, bias_},
                 {DNNL_ARG_DST_LAYER, h_},
                 {DNNL_ARG_WORKSPACE, workspace_},
                 {DNNL_ARG_DIFF_SRC_LAYER, diff_x_},
                 {DNNL_ARG_DIFF_WEIGHTS_LAYER, diff_w_layer_},
                 {DNNL_ARG_DIFF_WEIGHTS_ITER, diff_w_iter_},
                 {DNNL_ARG_DIFF_BIAS, diff_bias_},
                 {DNNL_ARG_DIFF_DST_LAYER, diff_h_}};
    if (lstm) {
      diff_c0_ = memory(arg_md(bwd_pd_, DNNL_ARG_DIFF_SRC_ITER_C), engine_);
      bwd_args_.insert({{DNNL_ARG_SRC_ITER_C, c0_}, {DNNL_ARG_DIFF_SRC_ITER_C, diff_c0_}});
    }

    const auto n_of = [](const memory& m) { return m.get_desc().get_size() / sizeof(float); };
    // (a layout with padding has zeros there in both: they stay zero)
    adam_ = {{data_of(w_layer_), data_of(diff_w_layer_), n_of(w_layer_), {}, {}},
             {data_of(w_iter_), data_of(diff_w_iter_), n_of(w_iter_), {}, {}},
             {data_of(bias_), data_of(diff_bias_), n_of(bias_), {}, {}},
             {head_w_.data(), head_dw_.data(), head_w_.size(), {}, {}},
             {head_b_.data(), head_db_.data(), head_b_.size(), {}, {}}};
    for (AdamSlot& a : adam_) {
      a.m.assign(a.n, 0.0f);
      a.v.assign(a.n, 0.0f);
    }
  }

  /// The RNN forward (after bringing changed weights to its layout) and the head: logits.
  void forward() {
    run(fwd_reorders_);
    fwd_.execute(stream_, fwd_args_);
    stream_.wait();
    // logits [B, 10] = h_T [B, H] x head_w^T [H, 10] + head_b
    sgemm('N', 'T', s_.batch, kClasses, s_.hidden, last_hidden(), s_.hidden, head_w_.data(),
          s_.hidden, 0.0f, logits_.data(), kClasses);
    for (memory::dim b = 0; b < s_.batch; ++b) {
      for (memory::dim j = 0; j < kClasses; ++j) {
        logits_[static_cast<std::size_t>(b * kClasses + j)] += head_b_[static_cast<std::size_t>(j)];
      }
    }
  }

  /// The loss of the last forward, and every parameter's gradient.
  float backward() {
    // cross_entropy (mean over the batch); d loss / d logits = (softmax - onehot) / B
    float loss = 0.0f;
    const float inv_b = 1.0f / static_cast<float>(s_.batch);
    for (std::size_t b = 0; b < targets_.size(); ++b) {
      const float* l = &logits_[b * kClasses];
      float* dl = &dlogits_[b * kClasses];
      const float top = *std::max_element(l, l + kClasses);
      float z = 0.0f;
      for (std::size_t j = 0; j < kClasses; ++j) {
        dl[j] = std::exp(l[j] - top);
        z += dl[j];
      }
      loss += top + std::log(z) - l[targets_[b]];
      for (std::size_t j = 0; j < kClasses; ++j) dl[j] *= inv_b / z;
      dl[targets_[b]] -= inv_b;
    }
    // the head: dW = dlogits^T h_T, db = sum over the batch, d h_T = dlogits W
    sgemm('T', 'N', kClasses, s_.hidden, s_.batch, dlogits_.data(), kClasses, last_hidden(),
          s_.hidden, 0.0f, head_dw_.data(), s_.hidden);
    std::fill(head_db_.begin(), head_db_.end(), 0.0f);
    for (std::size_t b = 0; b < targets_.size(); ++b) {
      for (std::size_t j = 0; j < kClasses; ++j) head_db_[j] += dlogits_[b * kClasses + j];
    }
    float* dh_last = data_of(diff_h_) + (s_.seq - 1) * s_.batch * s_.hidden;
    sgemm('N', 'N', s_.batch, s_.hidden, kClasses, dlogits_.data(), kClasses, head_w_.data(),
          s_.hidden, 0.0f, dh_last, s_.hidden);
    // the RNN: oneDNN adds to the diff weights, so they start at zero
    for (const memory* m : {&diff_w_layer_, &diff_w_iter_, &diff_bias_}) {
      std::memset(m->get_data_handle(), 0, m->get_desc().get_size());
    }
    run(bwd_reorders_);
    bwd_.execute(stream_, bwd_args_);
    stream_.wait();
    return loss * inv_b;
  }

  /// PyTorch's Adam (lr 1e-3, betas 0.9, 0.999, eps 1e-8, no weight decay) on every parameter.
  void adam_step() {
    constexpr double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
    ++adam_steps_;
    const double correction1 = 1.0 - std::pow(beta1, adam_steps_);
    const double correction2 = 1.0 - std::pow(beta2, adam_steps_);
    const auto step_size = static_cast<float>(lr / correction1);
    const auto sqrt_correction2 = static_cast<float>(std::sqrt(correction2));
    const auto b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
    for (AdamSlot& a : adam_) {
      for (std::size_t i = 0; i < a.n; ++i) {
        const float g = a.grad[i];
        a.m[i] = b1 * a.m[i] + (1.0f - b1) * g;
        a.v[i] = b2 * a.v[i] + (1.0f - b2) * g * g;
        a.param[i] -=
            step_size * a.m[i] / (std::sqrt(a.v[i]) / sqrt_correction2 + static_cast<float>(eps));
      }
    }
  }

  const float* hidden() const { return data_of(h_); }  // [T, B, H]
  const std::vector<float>& logits() const { return logits_; }
  /// The weights' gradients in dense ldigo (a reorder: for --check, not for the timed step).
  std::vector<float> grad_w_layer() const { return dense_ldigo(diff_w_layer_); }
  std::vector<float> grad_w_iter() const { return dense_ldigo(diff_w_iter_); }
  const float* grad_bias() const { return data_of(diff_bias_); }
  const std::vector<float>& grad_head_w() const { return head_dw_; }
  const std::vector<float>& grad_head_b() const { return head_db_; }

  /// What the primitives chose, for the JSON line.
  void describe(rnn_bench::JsonLine& j) const {
    const auto layout = [](const dnnl::primitive_desc& pd, int arg) {
      return layout_name(arg_md(pd, arg));
    };
    j.add("weights_layout_fwd",
          layout(fwd_pd_, DNNL_ARG_WEIGHTS_LAYER) + " / " + layout(fwd_pd_, DNNL_ARG_WEIGHTS_ITER))
        .add("impl_fwd", fwd_pd_.impl_info_str());
    if (train_) {
      j.add("weights_layout_bwd", layout(bwd_pd_, DNNL_ARG_WEIGHTS_LAYER) + " / " +
                                      layout(bwd_pd_, DNNL_ARG_WEIGHTS_ITER))
          .add("diff_weights_layout", layout(bwd_pd_, DNNL_ARG_DIFF_WEIGHTS_LAYER) + " / " +
                                          layout(bwd_pd_, DNNL_ARG_DIFF_WEIGHTS_ITER))
          .add("impl_bwd", bwd_pd_.impl_info_str())
          .add("workspace_bytes", static_cast<std::int64_t>(workspace_.get_desc().get_size()))
          .add("reorders_per_step", static_cast<int>(fwd_reorders_.size() + bwd_reorders_.size()));
    }
  }

 private:
  struct Reorder {
    dnnl::reorder prim;
    Args args;  // DNNL_ARG_FROM, DNNL_ARG_TO
  };

  /// `src` if `pd` takes argument `arg` in its layout, else a new memory in `pd`'s
  /// layout and the reorder that fills it, appended to `reorders`.
  memory in_layout(const dnnl::primitive_desc& pd, int arg, const memory& src,
                   std::vector<Reorder>& reorders) const {
    const memory::desc want = arg_md(pd, arg);
    if (want == src.get_desc()) return src;
    memory dst(want, engine_);
    reorders.push_back({dnnl::reorder(src, dst), {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}}});
    return dst;
  }

  /// A new memory in layout `want` holding `src`'s values (zero in any padding).
  memory copy_to(const memory& src, const memory::desc& want) {
    memory dst = zeros(want);
    dnnl::reorder(src, dst).execute(stream_, {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}});
    stream_.wait();
    return dst;
  }

  std::vector<float> dense_ldigo(const memory& m) const {
    const memory dense({m.get_desc().dims(), memory::data_type::f32, Tag::ldigo}, engine_);
    dnnl::stream stream(engine_);
    dnnl::reorder(m, dense).execute(stream, {{DNNL_ARG_FROM, m}, {DNNL_ARG_TO, dense}});
    stream.wait();
    const float* v = data_of(dense);
    return std::vector<float>(v, v + dense.get_desc().get_size() / sizeof(float));
  }

  memory zeros(const memory::desc& md) const {
    memory m(md, engine_);
    std::memset(m.get_data_handle(), 0, md.get_size());
    return m;
  }

  void run(const std::vector<Reorder>& reorders) {
    for (const Reorder& r : reorders) r.prim.execute(stream_, r.args);
  }

  const float* last_hidden() const { return data_of(h_) + (s_.seq - 1) * s_.batch * s_.hidden; }

  Sizes s_;
  bool train_;
  dnnl::engine engine_{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream_;
  dnnl::primitive_desc fwd_pd_, bwd_pd_;
  dnnl::primitive fwd_, bwd_;
  Args fwd_args_, bwd_args_;
  std::vector<Reorder> fwd_reorders_, bwd_reorders_;
  memory x_, h_, bias_, w_layer_, w_iter_, fwd_w_layer_, fwd_w_iter_, workspace_;
  memory bwd_w_layer_, bwd_w_iter_, diff_w_layer_, diff_w_iter_, diff_bias_;
  memory diff_x_, diff_h_;
  memory h0_, c0_, diff_h0_, diff_c0_;  // zero initial state (c: LSTM only) and its gradient
  std::vector<int> targets_;
  std::vector<float> head_w_, head_b_, logits_, dlogits_, head_dw_, head_db_;
  std::vector<AdamSlot> adam_;
  int adam_steps_ = 0;
};

/// --check: the model's outputs (and gradients, training) against the double reference; prints
/// one JSON line and returns the process's exit status.
int check(const rnn_bench::Config& c, TorchParams p, const std::vector<float>& x,
          const std::vector<int>& targets) {
  const Sizes s(c);
  OnednnModel model(c, p, x, targets);
  model.forward();
  if (c.train()) {  // a first step's gradients must not leak into the second's
    model.backward();
    model.forward();
    model.backward();
  }
  const std::vector<double> hs = reference_hidden(c.cell, s, p, x);
  std::vector<std::pair<std::string, double>> errors = {
      {"hidden", relative_error(model.hidden(), hs)},
      {"logits", relative_error(model.logits().data(), reference_logits(s, p, hs))}};
  if (c.train()) {
    auto loss = [&]() {
      return reference_loss(reference_logits(s, p, reference_hidden(c.cell, s, p, x)), targets);
    };
    const std::vector<double> g_ih = numeric_gradient(p.w_ih, loss);
    const std::vector<double> g_hh = numeric_gradient(p.w_hh, loss);
    const std::vector<double> g_b_ih = numeric_gradient(p.b_ih, loss);
    const std::vector<double> g_b_hh = numeric_gradient(p.b_hh, loss);
    errors.push_back(
        {"grad_weights_layer",
         relative_error(model.grad_w_layer().data(), to_ldigo<double>(c.cell, s, s.input, g_ih))});
    errors.push_back(
        {"grad_weights_iter",
         relative_error(model.grad_w_iter().data(), to_ldigo<double>(c.cell, s, s.hidden, g_hh))});
    errors.push_back(
        {"grad_bias",
         relative_error(model.grad_bias(), to_onednn_bias(c.cell, s, g_b_ih, g_b_hh, true))});
    errors.push_back({"grad_head_weight", relative_error(model.grad_head_w().data(),
                                                         numeric_gradient(p.head_w, loss))});
    errors.push_back({"grad_head_bias", relative_error(model.grad_head_b().data(),
                                                       numeric_gradient(p.head_b, loss))});
  }
  rnn_bench::JsonLine j;
  j.add("lib", "onednn")
      .add("check", "PyTorch's equations in double")
      .add("cell", c.cell)
      .add("mode", c.mode)
      .add("batch", c.batch)
      .add("seq", c.seq)
      .add("input", c.input)
      .add("hidden", c.hidden);
  model.describe(j);
  double worst = 0.0;
  std::string failed;  // "name error, ..." of the tensors over the tolerance (or NaN)
  for (const auto& [name, err] : errors) {
    j.add(name + "_error", err);
    if (std::isnan(err) || err > worst) worst = err;
    if (!(err <= kTolerance)) {
      failed += (failed.empty() ? "" : ", ") + name + " " + std::to_string(err);
    }
  }
  j.add("max_error", worst).add("tolerance", kTolerance).add("passed", failed.empty() ? 1 : 0);
  std::printf("%s\n", j.str().c_str());
  if (!failed.empty()) {
    std::fprintf(stderr,
                 "rnn_onednn: check failed for %s %s at B,T,in,H = %lld,%lld,%lld,%lld: error "
                 "(max |oneDNN - reference| / max |reference|) above %.0e: %s\n",
                 c.cell.c_str(), c.mode.c_str(), static_cast<long long>(c.batch),
                 static_cast<long long>(c.seq), static_cast<long long>(c.input),
                 static_cast<long long>(c.hidden), kTolerance, failed.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // --check takes no value; the other options are rnn_common.hpp's
  bool check_only = false;
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::strcmp(argv[i], "--check") == 0) {
      check_only = true;
    } else {
      args.push_back(argv[i]);
    }
  }
  const rnn_bench::Config c = rnn_bench::parse_args(static_cast<int>(args.size()), args.data());
  if (c.flush_denormals) rnn_bench::set_flush_denormals();
  omp_set_num_threads(c.threads);

  const Sizes s(c);
  std::mt19937_64 rng(c.seed);
  const TorchParams params = init_params(s, rng);
  std::vector<float> x(static_cast<std::size_t>(s.seq * s.batch * s.input));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (float& v : x) v = normal(rng);
  std::vector<int> targets(static_cast<std::size_t>(s.batch));
  std::uniform_int_distribution<int> label(0, kClasses - 1);
  for (int& t : targets) t = label(rng);

  try {
    if (check_only) return check(c, params, x, targets);

    OnednnModel model(c, params, x, targets);
    double checksum = 0.0;
    auto train_step = [&]() {
      model.forward();
      checksum = model.backward();
      model.adam_step();
    };
    auto infer_step = [&]() {
      model.forward();
      checksum = model.logits()[0];
    };
    bool probe = false;
    rnn_bench::JsonLine j = rnn_bench::measure("onednn", c, train_step, infer_step, probe);
    const dnnl_version_t* v = dnnl_version();
    model.describe(j);
    j.add("onednn_version", std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                                std::to_string(v->patch))
        .add("onednn_isa", dnnl_cpu_isa2str(dnnl_get_effective_cpu_isa()))
        .add("omp_threads", omp_get_max_threads())
        .add("checksum", checksum);
    std::printf("%s\n", j.str().c_str());
  } catch (const dnnl::error& e) {
    std::fprintf(stderr, "rnn_onednn: oneDNN error (status %s): %s\n", dnnl_status2str(e.status),
                 e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "rnn_onednn: %s\n", e.what());
    return 1;
  }
  return 0;
}
