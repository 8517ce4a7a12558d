/// @file
/// Umbrella header of tapegrad::distributed (data-parallel training over MPI): Environment,
/// Communicator, DataParallel and DistributedSampler. Not part of <tapegrad/tapegrad.hpp>: the
/// part exists only where MPI was found (link tapegrad::distributed).
#pragma once

#include "tapegrad/distributed/communicator.hpp"
#include "tapegrad/distributed/data_parallel.hpp"
#include "tapegrad/distributed/sampler.hpp"
