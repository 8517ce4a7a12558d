/// @file
/// Umbrella header of the engine, tapegrad::autograd: Var, the tape, the ops, gradcheck, arrays,
/// random numbers, .npz files and input limits. Depends on nothing else of tapegrad.
#pragma once

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/autograd/blas.hpp"
#include "tapegrad/autograd/custom_op.hpp"
#include "tapegrad/autograd/errors.hpp"
#include "tapegrad/autograd/files.hpp"
#include "tapegrad/autograd/grad.hpp"
#include "tapegrad/autograd/gradcheck.hpp"
#include "tapegrad/autograd/limits.hpp"
#include "tapegrad/autograd/modes.hpp"
#include "tapegrad/autograd/nn_ops.hpp"
#include "tapegrad/autograd/npz.hpp"
#include "tapegrad/autograd/op_registration.hpp"
#include "tapegrad/autograd/ops.hpp"
#include "tapegrad/autograd/random.hpp"
#include "tapegrad/autograd/tape.hpp"
#include "tapegrad/autograd/var.hpp"
