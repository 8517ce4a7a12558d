/// @file
/// Umbrella header of the layers: tapegrad::nn.
#pragma once

#include "tapegrad/nn/attention.hpp"
#include "tapegrad/nn/cells.hpp"
#include "tapegrad/nn/decode.hpp"
#include "tapegrad/nn/linear.hpp"
#include "tapegrad/nn/module.hpp"
#include "tapegrad/nn/rnn.hpp"
#include "tapegrad/nn/seq2seq.hpp"
#include "tapegrad/nn/sequential.hpp"
