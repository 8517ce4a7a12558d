/// @file
/// Umbrella header of the training toolkit: tapegrad::optim.
#pragma once

#include "tapegrad/optim/checkpoint.hpp"
#include "tapegrad/optim/optimizer.hpp"
#include "tapegrad/optim/schedule.hpp"
