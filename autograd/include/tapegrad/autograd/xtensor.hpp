/// @file
/// xtensor for a user's everyday array work, which the umbrella <tapegrad/tapegrad.hpp> includes:
/// views and slices (xt::view, xt::range, xt::all, xt::newaxis; without xview.hpp, xt::flatten
/// fails with an incomplete type), builders, math and reductions (xt::mean, xt::amax, xt::stddev,
/// xt::keep_dims), xt::flatten, and xt::adapt (an array from a std::vector: `IndexArray ids =
/// xt::adapt(v)`, as torch.tensor(list)). Printing (xio.hpp) and sorting (xsort.hpp: xt::argmax,
/// xt::sort) stay out: to_string prints, and a program that sorts includes xsort.hpp.
///
/// Not included by the part headers (<tapegrad/autograd.hpp>, ...): xview.hpp adds functions that
/// lookup in namespace xt finds for any array argument (xt::row, xt::col, ...), so a program's own
/// function of such a name taking an Array becomes ambiguous when called unqualified. A program
/// on one part includes this header when it wants them.
#pragma once

#include <xtensor/xadapt.hpp>
#include <xtensor/xarray.hpp>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "tapegrad/autograd/array.hpp"
