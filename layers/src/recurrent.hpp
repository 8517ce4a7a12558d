// What recurrent.cpp (the functional form of the layers) and rnn.cpp (the modules) share (not
// installed).
#pragma once

#include <cstddef>

#include "tapegrad/nn/rnn.hpp"

namespace tapegrad::nn::detail {

/// "RNN", "LSTM" or "GRU", for messages.
const char* kind_name(CellKind kind);

/// A constant [rows, cols] of zeros (a default initial state).
template <class T>
Var<T> zeros(std::size_t rows, std::size_t cols) {
  Array<T> a = Array<T>::from_shape({rows, cols});
  a.fill(T(0));
  return constant(std::move(a));
}

}  // namespace tapegrad::nn::detail
