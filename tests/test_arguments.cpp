// Bad arguments to the public entry points: every size, id, length, probability, rate and
// option out of range is an exception of the documented kind whose message names the bad value.
// One table per component; each row is a call that must throw and a part of its message. A few
// good edge values (lr 0, dropout 0, eta_min 0, ...) are checked to be accepted. This file has
// autograd's (losses, random numbers, gradcheck); test_arguments_nn.cpp, _optim.cpp and
// _data.cpp the other parts', examples/tests/test_arguments.cpp the examples' (the tables:
// arguments.hpp).
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"

using namespace tapegrad_test::arguments;  // Bad, expect_rejected, Array, Var, ...

TEST_CASE("arguments: losses reject targets out of range, batch mismatches and bad smoothing") {
  const Var<double> logits = random_var({2, 3}, 5);
  const IndexArray good_targets{0, 2};
  const auto smoothing = [](double eps) {
    tapegrad::LossOptions o;
    o.label_smoothing = eps;
    return o;
  };
  expect_rejected<tapegrad::value_error>({
      {"cross_entropy target 3 of 3 classes",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{0, 3});
       },
       "target 3 (at position 1) is out of range for 3 classes"},
      {"cross_entropy target -1",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{-1, 0});
       },
       "target -1"},
      {"cross_entropy label_smoothing 1.5",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(1.5)); },
       "label_smoothing 1.5"},
      {"cross_entropy label_smoothing -0.1",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(-0.1)); },
       "label_smoothing -0.1"},
      {"cross_entropy label_smoothing nan",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(not_a_number)); },
       "label_smoothing nan"},
      {"nll_loss target 7",
       [&] {
         tapegrad::nll_loss(logits, IndexArray{7, 0});
       },
       "target 7"},
      {"nll_loss label_smoothing 0.1",
       [&] { tapegrad::nll_loss(logits, good_targets, smoothing(0.1)); }, "label_smoothing 0.1"},
  });
  expect_rejected<tapegrad::shape_error>({
      {"cross_entropy 2 rows, 3 targets",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{0, 1, 2});
       },
       "got [2,3] and [3]"},
      {"nll_loss 2-D targets",
       [&] {
         IndexArray column = IndexArray::from_shape({2, 1});
         column.fill(0);
         tapegrad::nll_loss(logits, column);
       },
       "got [2,3] and [2,1]"},
      {"mse_loss [2,3] vs [3,2]",
       [&] {
         tapegrad::mse_loss(logits, random_var({3, 2}, 6));
       },
       "input [2,3] and target [3,2]"},
      {"bce_with_logits [2,3] vs [2]",
       [&] { tapegrad::bce_with_logits(logits, random_var({2}, 7)); },
       "logits [2,3] and targets [2]"},
  });
  expect_accepted({
      {"cross_entropy label_smoothing 0",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(0)); }},
      {"cross_entropy label_smoothing 1",
       [&] { tapegrad::cross_entropy(logits, good_targets, smoothing(1)); }},
      {"cross_entropy ignore_index target -100",
       [&] {
         tapegrad::cross_entropy(logits, IndexArray{-100, 1});
       }},
  });
}

TEST_CASE("arguments: random generators and gradcheck options reject bad values") {
  tapegrad::Generator g(1);
  const auto fn = [](const std::vector<Var<double>>& in) { return tapegrad::exp(in[0]); };
  const Var<double> x = random_var({2}, 8, true);
  const auto grad_options = [](double eps, double atol, double rtol) {
    tapegrad::GradcheckOptions o;
    o.eps = eps;
    o.atol = atol;
    o.rtol = rtol;
    return o;
  };
  expect_rejected<tapegrad::value_error>({
      {"uniform lo 1 > hi 0", [&] { g.uniform<double>(make_shape({2}), 1.0, 0.0); },
       "lo 1 is greater than hi 0"},
      {"uniform lo -inf", [&] { g.uniform<double>(make_shape({2}), -infinity, 0.0); }, "lo -inf"},
      {"uniform shape [2, -1]",
       [&] {
         g.uniform<double>(make_shape({2, minus_one}), 0.0, 1.0);
       },
       "[2,18446744073709551615]"},
      {"normal stddev -1", [&] { g.normal<double>(make_shape({2}), 0.0, -1.0); }, "stddev -1"},
      {"normal mean nan", [&] { g.normal<double>(make_shape({2}), not_a_number, 1.0); },
       "mean nan"},
      {"bernoulli p 1.5", [&] { g.bernoulli<double>(make_shape({2}), 1.5); }, "p = 1.5"},
      {"gradcheck eps 0", [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(0, 1e-5, 1e-3)); },
       "eps = 0"},
      {"gradcheck eps inf",
       [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(infinity, 1e-5, 1e-3)); }, "eps = inf"},
      {"gradcheck atol -1", [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(1e-6, -1, 1e-3)); },
       "atol = -1"},
      {"gradcheck rtol nan",
       [&] { tapegrad::gradcheck(fn, {x}, {}, grad_options(1e-6, 1e-5, not_a_number)); },
       "rtol = nan"},
  });
  expect_accepted({
      {"uniform lo == hi", [&] { g.uniform<double>(make_shape({2}), 0.5, 0.5); }},
      {"uniform shape [0, -1] (no elements)",
       [&] {
         g.uniform<double>(make_shape({0, minus_one}), 0.0, 1.0);
       }},
      {"normal stddev 0", [&] { g.normal<double>(make_shape({2}), 0.0, 0.0); }},
      {"bernoulli p 0 and 1",
       [&] {
         g.bernoulli<double>(make_shape({2}), 0.0);
         g.bernoulli<double>(make_shape({2}), 1.0);
       }},
  });
}
