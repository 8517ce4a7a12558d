/// @file
/// Umbrella header of the training toolkit: tapegrad::data.
#pragma once

#include "tapegrad/data/batching.hpp"
#include "tapegrad/data/labelled_text.hpp"
#include "tapegrad/data/metrics.hpp"
#include "tapegrad/data/progress.hpp"
#include "tapegrad/data/split.hpp"
#include "tapegrad/data/text.hpp"
#include "tapegrad/data/translation_metrics.hpp"
#include "tapegrad/data/utf8.hpp"
