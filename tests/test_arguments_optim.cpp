// Bad arguments to tapegrad::optim's optimizers, schedules and clipping (the tables:
// arguments.hpp).
#include <cmath>
#include <cstddef>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "arguments.hpp"
#include "tapegrad/nn.hpp"
#include "tapegrad/optim.hpp"

namespace nn = tapegrad::nn;
namespace optim = tapegrad::optim;
using namespace tapegrad_test::arguments;  // Bad, expect_rejected, Array, Var, ...

TEST_CASE("arguments: optimizers reject bad learning rates, betas, eps, momentum, decay") {
  Var<float> w = parameter_with_grad();
  using SGDo = optim::SGDOptions;
  using Adamo = optim::AdamOptions;
  using RMSo = optim::RMSpropOptions;
  using Adagrado = optim::AdagradOptions;
  expect_rejected<tapegrad::value_error>({
      {"SGD lr -0.1", [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.lr = -0.1; })); },
       "SGD: learning rate -0.1"},
      {"SGD lr nan",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.lr = not_a_number; })); },
       "SGD: learning rate nan"},
      {"SGD momentum -0.5",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.momentum = -0.5; })); },
       "momentum = -0.5"},
      {"SGD weight_decay -1",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.weight_decay = -1; })); },
       "weight_decay = -1"},
      {"SGD dampening nan",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.dampening = not_a_number; })); },
       "dampening = nan"},
      {"SGD nesterov without momentum",
       [&] { optim::SGD<float> o({w}, with<SGDo>([](auto& s) { s.nesterov = true; })); },
       "got momentum 0, dampening 0"},
      {"SGD group lr -1",
       [&] {
         optim::SGD<float> o(std::vector<optim::ParamGroup<float>>{{{w}, -1.0}}, SGDo{});
       },
       "learning rate -1"},
      {"SGD groups with default lr -2",
       [&] {
         optim::SGD<float> o(std::vector<optim::ParamGroup<float>>{{{w}, 0.1}},
                             with<SGDo>([](auto& s) { s.lr = -2; }));
       },
       "learning rate -2"},
      {"SGD no parameters", [] { optim::SGD<float> o(std::vector<Var<float>>{}, SGDo{}); },
       "no parameters"},
      {"Adam lr -0.1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.lr = -0.1; })); },
       "Adam: learning rate -0.1"},
      {"Adam lr inf",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.lr = infinity; })); },
       "learning rate inf"},
      {"Adam beta1 1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.beta1 = 1.0; })); },
       "beta1 = 1 must be in [0, 1)"},
      {"Adam beta2 -0.1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.beta2 = -0.1; })); },
       "beta2 = -0.1"},
      {"Adam beta1 nan",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.beta1 = not_a_number; })); },
       "beta1 = nan"},
      {"Adam eps -1e-08",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.eps = -1e-8; })); },
       "eps = -1e-08"},
      {"Adam weight_decay -0.1",
       [&] { optim::Adam<float> o({w}, with<Adamo>([](auto& s) { s.weight_decay = -0.1; })); },
       "weight_decay = -0.1"},
      {"AdamW weight_decay -0.01",
       [&] {
         optim::AdamWOptions a;
         a.weight_decay = -0.01;
         optim::AdamW<float> o({w}, a);
       },
       "AdamW: weight_decay = -0.01"},
      {"AdamW lr -3",
       [&] {
         optim::AdamWOptions a;
         a.lr = -3;
         optim::AdamW<float> o({w}, a);
       },
       "AdamW: learning rate -3"},
      {"RMSprop lr -1",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.lr = -1; })); },
       "RMSprop: learning rate -1"},
      {"RMSprop alpha 1.5",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.alpha = 1.5; })); },
       "alpha = 1.5"},
      {"RMSprop eps -1",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.eps = -1; })); }, "eps = -1"},
      {"RMSprop momentum -0.9",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.momentum = -0.9; })); },
       "momentum = -0.9"},
      {"RMSprop weight_decay nan",
       [&] {
         optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.weight_decay = not_a_number; }));
       },
       "weight_decay = nan"},
      {"Adagrad lr -0.01",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.lr = -0.01; })); },
       "Adagrad: learning rate -0.01"},
      {"Adagrad lr_decay -1",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.lr_decay = -1; })); },
       "lr_decay = -1"},
      {"Adagrad initial_accumulator_value -0.1",
       [&] {
         optim::Adagrad<float> o(
             {w}, with<Adagrado>([](auto& s) { s.initial_accumulator_value = -0.1; }));
       },
       "initial_accumulator_value = -0.1"},
      {"Adagrad eps -1",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.eps = -1; })); },
       "eps = -1"},
      {"Adagrad weight_decay -2",
       [&] { optim::Adagrad<float> o({w}, with<Adagrado>([](auto& s) { s.weight_decay = -2; })); },
       "weight_decay = -2"},
      {"step() after a group's lr became -0.5",
       [&] {
         optim::SGD<float> o({w}, SGDo{});
         o.param_groups()[0].lr = -0.5;
         o.step();
       },
       "learning rate -0.5"},
  });
  expect_rejected<tapegrad::usage_error>({
      {"SGD with an empty Var", [] { optim::SGD<float> o({Var<float>()}, SGDo{}); },
       "parameter 0 of group 0 is an empty Var"},
  });
  expect_accepted({
      {"Adam beta1 0, beta2 0, eps 0, weight_decay 0",
       [&] {
         optim::Adam<float> o({w}, with<Adamo>([](auto& s) {
                                s.beta1 = 0;
                                s.beta2 = 0;
                                s.eps = 0;
                              }));
       }},
      {"RMSprop alpha 0, momentum 0",
       [&] { optim::RMSprop<float> o({w}, with<RMSo>([](auto& s) { s.alpha = 0; })); }},
      {"SGD nesterov with momentum 0.9",
       [&] {
         optim::SGD<float> o({w}, with<SGDo>([](auto& s) {
                               s.momentum = 0.9;
                               s.nesterov = true;
                             }));
       }},
  });
  // lr 0 is accepted, as in PyTorch, and a step then changes nothing.
  optim::SGD<float> frozen({w}, with<SGDo>([](auto& s) { s.lr = 0.0; }));
  frozen.step();
  for (float v : w.value()) CHECK(v == 0.5f);
  optim::Adam<float> frozen_adam({w}, with<Adamo>([](auto& s) { s.lr = 0.0; }));
  frozen_adam.step();
  for (float v : w.value()) CHECK(v == 0.5f);
}

TEST_CASE("arguments: learning-rate schedules reject bad step sizes, factors and periods") {
  Var<float> w = parameter_with_grad();
  optim::SGD<float> sgd({w}, optim::SGDOptions{});
  using Plateau = optim::PlateauOptions;
  expect_rejected<tapegrad::value_error>({
      {"StepLR step_size 0", [&] { optim::StepLR<float> s(sgd, 0); }, "step_size 0"},
      {"StepLR step_size -2", [&] { optim::StepLR<float> s(sgd, -2); }, "step_size -2"},
      {"StepLR gamma -0.5", [&] { optim::StepLR<float> s(sgd, 3, -0.5); }, "gamma -0.5"},
      {"StepLR gamma nan", [&] { optim::StepLR<float> s(sgd, 3, not_a_number); }, "gamma nan"},
      {"MultiStepLR milestone 0",
       [&] {
         optim::MultiStepLR<float> s(sgd, {0, 5});
       },
       "milestone 0 (at position 0)"},
      {"MultiStepLR milestone -3",
       [&] {
         optim::MultiStepLR<float> s(sgd, {2, -3});
       },
       "milestone -3 (at position 1)"},
      {"MultiStepLR gamma -1", [&] { optim::MultiStepLR<float> s(sgd, {2}, -1.0); }, "gamma -1"},
      {"ExponentialLR gamma -0.1", [&] { optim::ExponentialLR<float> s(sgd, -0.1); }, "gamma -0.1"},
      {"ExponentialLR gamma inf", [&] { optim::ExponentialLR<float> s(sgd, infinity); },
       "gamma inf"},
      {"CosineAnnealingLR t_max 0", [&] { optim::CosineAnnealingLR<float> s(sgd, 0); }, "t_max 0"},
      {"CosineAnnealingLR t_max -5", [&] { optim::CosineAnnealingLR<float> s(sgd, -5); },
       "t_max -5"},
      {"CosineAnnealingLR eta_min -0.001",
       [&] { optim::CosineAnnealingLR<float> s(sgd, 10, -0.001); }, "eta_min -0.001"},
      {"LinearLR start_factor 0", [&] { optim::LinearLR<float> s(sgd, 0.0); }, "start_factor 0"},
      {"LinearLR start_factor 1.5", [&] { optim::LinearLR<float> s(sgd, 1.5); },
       "start_factor 1.5"},
      {"LinearLR end_factor -0.1", [&] { optim::LinearLR<float> s(sgd, 0.5, -0.1); },
       "end_factor -0.1"},
      {"LinearLR total_iters 0", [&] { optim::LinearLR<float> s(sgd, 0.5, 1.0, 0); },
       "total_iters 0"},
      {"ReduceLROnPlateau factor 1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.factor = 1.0; }));
       },
       "factor 1"},
      {"ReduceLROnPlateau factor -0.1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.factor = -0.1; }));
       },
       "factor -0.1"},
      {"ReduceLROnPlateau patience -1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.patience = -1; }));
       },
       "patience -1"},
      {"ReduceLROnPlateau cooldown -2",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.cooldown = -2; }));
       },
       "cooldown -2"},
      {"ReduceLROnPlateau threshold -1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.threshold = -1; }));
       },
       "threshold -1"},
      {"ReduceLROnPlateau min_lr -0.1",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) { p.min_lr = -0.1; }));
       },
       "min_lr -0.1"},
      {"ReduceLROnPlateau eps nan",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd,
                                           with<Plateau>([](auto& p) { p.eps = not_a_number; }));
       },
       "eps nan"},
  });
  expect_rejected<tapegrad::usage_error>({
      {"ReduceLROnPlateau::step() without a metric",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd);
         s.step();
       },
       "step(metric)"},
  });
  // A rejected schedule leaves the optimizer's learning rate as it was.
  CHECK(sgd.param_groups()[0].lr == optim::SGDOptions{}.lr);
  expect_accepted({
      {"StepLR gamma 0 and 1",
       [&] {
         optim::StepLR<float> a(sgd, 1, 0.0);
         optim::StepLR<float> b(sgd, 1, 1.0);
       }},
      {"MultiStepLR milestones {1, 1}",
       [&] {
         optim::MultiStepLR<float> s(sgd, {1, 1});
       }},
      {"CosineAnnealingLR t_max 1, eta_min 0",
       [&] { optim::CosineAnnealingLR<float> s(sgd, 1, 0.0); }},
      {"ReduceLROnPlateau patience 0, factor 0",
       [&] {
         optim::ReduceLROnPlateau<float> s(sgd, with<Plateau>([](auto& p) {
                                             p.patience = 0;
                                             p.factor = 0.0;
                                           }));
       }},
  });
}

TEST_CASE("arguments: gradient clipping rejects bad norms and norm types") {
  Var<float> w = parameter_with_grad();
  const std::vector<Var<float>> params{w};
  expect_rejected<tapegrad::value_error>({
      {"clip_grad_norm max_norm -1", [&] { optim::clip_grad_norm(params, -1.0); }, "max_norm -1"},
      {"clip_grad_norm max_norm nan", [&] { optim::clip_grad_norm(params, not_a_number); },
       "max_norm nan"},
      {"clip_grad_norm norm_type 1", [&] { optim::clip_grad_norm(params, 1.0, 1.0); },
       "norm_type 1"},
      {"clip_grad_norm norm_type -inf", [&] { optim::clip_grad_norm(params, 1.0, -infinity); },
       "norm_type -inf"},
      {"clip_grad_norm norm_type nan", [&] { optim::clip_grad_norm(params, 1.0, not_a_number); },
       "norm_type nan"},
      {"clip_grad_value clip -0.5", [&] { optim::clip_grad_value(params, -0.5); }, "clip -0.5"},
      {"clip_grad_value clip nan", [&] { optim::clip_grad_value(params, not_a_number); },
       "clip nan"},
  });
  // Rejected calls leave the gradient alone.
  for (float g : w.grad()) CHECK(g == 1.0f);
  expect_accepted({
      {"clip_grad_norm norm_type inf", [&] { optim::clip_grad_norm(params, 10.0, infinity); }},
      {"clip_grad_value clip 0", [&] { optim::clip_grad_value(params, 0.0); }},
  });
  for (float g : w.grad()) CHECK(g == 0.0f);
}
