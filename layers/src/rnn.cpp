// The recurrent modules: RNN, LSTM and GRU over a padded batch (functional::recurrent, in
// recurrent.cpp), and the single-step cells RNNCell, LSTMCell and GRUCell (functional::rnn_cell,
// ..., in cells/). Each registers its parameters by PyTorch's names, with PyTorch's init.
#include "tapegrad/nn/rnn.hpp"

#include <cmath>
#include <optional>

#include <fmt/format.h>

#include "checks.hpp"
#include "recurrent.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::nn {

using detail::kind_name;
using detail::zeros;

namespace {

void check_options(const char* op, const RNNOptions& o) {
  using detail::impossible_size;
  using detail::size_text;
  if (impossible_size(o.input_size()) || impossible_size(o.hidden_size()) ||
      impossible_size(o.num_layers())) {
    throw value_error(fmt::format(
        "{}: input_size {}, hidden_size {} and num_layers {} must be positive", op,
        size_text(o.input_size()), size_text(o.hidden_size()), size_text(o.num_layers())));
  }
  if (!(o.dropout() >= 0.0 && o.dropout() < 1.0)) {
    throw value_error(fmt::format("{}: dropout {} is outside [0, 1)", op, o.dropout()));
  }
}

template <class T>
Var<T> uniform_param(Generator& g, std::size_t rows, std::size_t cols, T bound) {
  const Shape shape = cols == 0 ? make_shape({rows}) : make_shape({rows, cols});
  return Var<T>(g.uniform<T>(shape, -bound, bound));
}

// Registers weight_ih, weight_hh and (when bias) bias_ih, bias_hh with `suffix`, PyTorch's init.
template <class T>
functional::RecurrentWeights<T> make_weights(Module<T>& m, Generator& g, std::size_t gates,
                                             std::size_t in, std::size_t hidden, bool bias,
                                             const std::string& suffix) {
  const T bound = T(1) / std::sqrt(static_cast<T>(hidden));
  functional::RecurrentWeights<T> w;
  w.w_ih =
      m.register_parameter("weight_ih" + suffix, uniform_param<T>(g, gates * hidden, in, bound));
  w.w_hh = m.register_parameter("weight_hh" + suffix,
                                uniform_param<T>(g, gates * hidden, hidden, bound));
  if (bias) {
    w.b_ih =
        m.register_parameter("bias_ih" + suffix, uniform_param<T>(g, gates * hidden, 0, bound));
    w.b_hh =
        m.register_parameter("bias_hh" + suffix, uniform_param<T>(g, gates * hidden, 0, bound));
  }
  return w;
}

// A cell's input and state as [B, ...]: a 1-D input is one sequence.
template <class T>
Var<T> as_batch(const Var<T>& v) {
  return v.defined() && v.ndim() == 1 ? reshape(v, make_shape({1, v.shape()[0]})) : v;
}

// A cell's state as [B, H]: the given one, or zeros for the batch of `xb`.
template <class T>
Var<T> state_or_zeros(const Var<T>& state, const Var<T>& xb, std::size_t hidden) {
  return state.defined() ? as_batch(state) : zeros<T>(xb.defined() ? xb.shape()[0] : 1, hidden);
}

template <class T>
Var<T> like_input(const Var<T>& v, const Var<T>& x) {
  return x.ndim() == 1 ? reshape(v, make_shape({v.shape()[1]})) : v;
}

}  // namespace

template <class T>
RNNBase<T>::RNNBase(CellKind kind, const RNNOptions& options, Generator& generator)
    : kind_(kind), options_(options), generator_(generator.engine()()) {
  check_options(kind_name(kind), options);
  const std::size_t dirs = options.bidirectional() ? 2 : 1;
  for (std::size_t layer = 0; layer < options.num_layers(); ++layer) {
    for (std::size_t d = 0; d < dirs; ++d) {
      const std::size_t in = layer == 0 ? options.input_size() : options.hidden_size() * dirs;
      const std::string suffix = "_l" + std::to_string(layer) + (d == 1 ? "_reverse" : "");
      weights_.push_back(make_weights(*this, generator, gate_count(kind), in, options.hidden_size(),
                                      options.bias(), suffix));
    }
  }
}

template <class T>
RecurrentOutput<T> RNNBase<T>::forward(const Var<T>& x, const RecurrentState<T>& initial,
                                       const std::vector<std::size_t>& lengths) const {
  functional::RecurrentOptions o;
  o.kind = kind_;
  o.num_layers = options_.num_layers();
  o.bidirectional = options_.bidirectional();
  o.batch_first = options_.batch_first();
  o.dropout = options_.dropout();
  o.training = this->is_training();
  o.fused = options_.fused();
  o.generator = &generator_;
  std::optional<Scope> scope;
  if (detect_anomaly()) {
    scope.emplace(
        fmt::format("{}({}, {})", kind_name(kind_), options_.input_size(), options_.hidden_size()));
  }
  if (x.defined() && x.ndim() == 3 && x.shape()[2] != options_.input_size()) {
    throw shape_error(fmt::format("{}: input {} has {} features, the layer expects input_size {}",
                                  kind_name(kind_), shape_str(x.shape()), x.shape()[2],
                                  options_.input_size()));
  }
  return functional::recurrent(x, weights_, o, initial, lengths);
}

template <class T>
const functional::RecurrentWeights<T>& RNNBase<T>::weights(std::size_t layer,
                                                           std::size_t direction) const {
  const std::size_t dirs = options_.bidirectional() ? 2 : 1;
  if (layer >= options_.num_layers() || direction >= dirs) {
    throw value_error(fmt::format("weights: no layer {} direction {} ({} layers, {} directions)",
                                  layer, direction, options_.num_layers(), dirs));
  }
  return weights_[layer * dirs + direction];
}

template <class T>
std::shared_ptr<RNNBase<T>> make_recurrent(CellKind kind, const RNNOptions& options,
                                           Generator& generator) {
  switch (kind) {
    case CellKind::lstm:
      return std::make_shared<LSTM<T>>(options, generator);
    case CellKind::gru:
      return std::make_shared<GRU<T>>(options, generator);
    default:
      return std::make_shared<RNN<T>>(
          RNNOptions(options).nonlinearity(kind == CellKind::rnn_relu ? Nonlinearity::relu
                                                                      : Nonlinearity::tanh),
          generator);
  }
}

template <class T>
RNN<T>::RNN(const RNNOptions& options, Generator& generator)
    : RNNBase<T>(
          options.nonlinearity() == Nonlinearity::tanh ? CellKind::rnn_tanh : CellKind::rnn_relu,
          options, generator) {}

template <class T>
RNNCell<T>::RNNCell(std::size_t input_size, std::size_t hidden_size, bool bias,
                    Nonlinearity nonlinearity, Generator& generator)
    : hidden_(hidden_size), nonlinearity_(nonlinearity) {
  check_options("RNNCell", RNNOptions(input_size, hidden_size));
  w_ = make_weights(*this, generator, 1, input_size, hidden_size, bias, "");
}

template <class T>
Var<T> RNNCell<T>::forward(const Var<T>& x, const Var<T>& h) const {
  const Var<T> xb = as_batch(x);
  const Var<T> hb = state_or_zeros(h, xb, hidden_);
  return like_input(functional::rnn_cell(xb, hb, w_.w_ih, w_.w_hh, w_.b_ih, w_.b_hh, nonlinearity_),
                    x);
}

template <class T>
LSTMCell<T>::LSTMCell(std::size_t input_size, std::size_t hidden_size, bool bias,
                      Generator& generator)
    : hidden_(hidden_size) {
  check_options("LSTMCell", RNNOptions(input_size, hidden_size));
  w_ = make_weights(*this, generator, 4, input_size, hidden_size, bias, "");
}

template <class T>
RecurrentState<T> LSTMCell<T>::forward(const Var<T>& x, const RecurrentState<T>& state) const {
  const Var<T> xb = as_batch(x);
  const RecurrentState<T> s{state_or_zeros(state.h, xb, hidden_),
                            state_or_zeros(state.c, xb, hidden_)};
  RecurrentState<T> next = functional::lstm_cell(xb, s, w_.w_ih, w_.w_hh, w_.b_ih, w_.b_hh);
  return {like_input(next.h, x), like_input(next.c, x)};
}

template <class T>
GRUCell<T>::GRUCell(std::size_t input_size, std::size_t hidden_size, bool bias,
                    Generator& generator)
    : hidden_(hidden_size) {
  check_options("GRUCell", RNNOptions(input_size, hidden_size));
  w_ = make_weights(*this, generator, 3, input_size, hidden_size, bias, "");
}

template <class T>
Var<T> GRUCell<T>::forward(const Var<T>& x, const Var<T>& h) const {
  const Var<T> xb = as_batch(x);
  const Var<T> hb = state_or_zeros(h, xb, hidden_);
  return like_input(functional::gru_cell(xb, hb, w_.w_ih, w_.w_hh, w_.b_ih, w_.b_hh), x);
}

template class RNNBase<float>;
template class RNNBase<double>;
template class RNN<float>;
template class RNN<double>;
template std::shared_ptr<RNNBase<float>> make_recurrent<float>(CellKind, const RNNOptions&,
                                                               Generator&);
template std::shared_ptr<RNNBase<double>> make_recurrent<double>(CellKind, const RNNOptions&,
                                                                 Generator&);
template class RNNCell<float>;
template class RNNCell<double>;
template class LSTMCell<float>;
template class LSTMCell<double>;
template class GRUCell<float>;
template class GRUCell<double>;

}  // namespace tapegrad::nn
