/// @file
/// Umbrella header: everything public in tapegrad (the target tapegrad::tapegrad). Each part has
/// its own: <tapegrad/autograd.hpp>, <tapegrad/nn.hpp>, <tapegrad/optim.hpp>, <tapegrad/data.hpp>.
/// Beyond them, it brings xtensor's everyday functions for arrays (tapegrad/autograd/xtensor.hpp:
/// views and slices, reductions, xt::flatten).
#pragma once

#include "tapegrad/autograd.hpp"
#include "tapegrad/autograd/xtensor.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"
