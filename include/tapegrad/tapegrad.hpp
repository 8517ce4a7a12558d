// Umbrella header: everything public in tapegrad (the target tapegrad::tapegrad). Each part has
// its own: <tapegrad/autograd.hpp>, <tapegrad/nn.hpp>, <tapegrad/optim.hpp>, <tapegrad/data.hpp>.
#pragma once

#include "tapegrad/autograd.hpp"
#include "tapegrad/data.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"
