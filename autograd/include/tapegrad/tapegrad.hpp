// Umbrella header: everything public in tapegrad.
#pragma once

#include "tapegrad/array.hpp"
#include "tapegrad/blas.hpp"
#include "tapegrad/custom_op.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/errors.hpp"
#include "tapegrad/gradcheck.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/nn_ops.hpp"
#include "tapegrad/npz.hpp"
#include "tapegrad/ops.hpp"
#include "tapegrad/optim.hpp"
#include "tapegrad/random.hpp"
#include "tapegrad/rnn_ops.hpp"
#include "tapegrad/tape.hpp"
#include "tapegrad/var.hpp"
