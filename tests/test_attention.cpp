// nn::Attention: each score gradchecked in double against query, keys, values and parameters,
// padding left out (weights 0 and no gradient past each length), the memory made once equal to
// attention called directly, padding_mask, and the argument errors. PyTorch parity is in
// test_layers_parity.cpp (attention_*.npz).
#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xview.hpp>

#include "helpers.hpp"
#include "tapegrad/nn/attention.hpp"

namespace nn = tapegrad::nn;
using tapegrad::Array;
using tapegrad::shape_error;
using tapegrad::value_error;
using tapegrad_test::message_of;
using V = tapegrad::Var<double>;
using Vs = std::vector<V>;

namespace {

const nn::AttentionScore kScores[] = {nn::AttentionScore::dot, nn::AttentionScore::general,
                                      nn::AttentionScore::additive, nn::AttentionScore::scaled_dot};

V input(std::initializer_list<std::size_t> shape, std::uint64_t seed) {
  tapegrad::Generator g(seed);
  return V(g.normal<double>(tapegrad::make_shape(shape), 0.0, 0.8), true);
}

std::size_t query_size(nn::AttentionScore score) {
  return score == nn::AttentionScore::dot || score == nn::AttentionScore::scaled_dot ? 4 : 6;
}

}  // namespace

TEST_CASE("Attention: every score gradchecks with padding, for one step and for all steps") {
  const std::vector<std::size_t> lengths = {3, 5, 1};
  for (const nn::AttentionScore score : kScores) {
    INFO("score ", nn::to_string(score));
    tapegrad::Generator g(11);
    nn::Attention<double> attention(score, query_size(score), 4, 5, g);
    for (const bool one_step : {true, false}) {
      INFO("one step: ", one_step);
      const V query =
          one_step ? input({3, query_size(score)}, 1) : input({3, 2, query_size(score)}, 1);
      const auto fn = [&](const Vs& x) {
        const auto out = attention(x[0], x[1], x[2], lengths);
        return tapegrad::sum(out.context * out.context) + tapegrad::sum(out.weights * x[3]);
      };
      const V w = V(one_step ? input({3, 5}, 9).value() : input({3, 2, 5}, 9).value());
      const tapegrad::GradcheckReport report = tapegrad::gradcheck(
          fn, {query, input({3, 5, 4}, 2), input({3, 5, 3}, 3), w}, attention.parameters());
      CHECK_MESSAGE(report.passed, report.message());
    }
  }
}

TEST_CASE("Attention with the projections' biases: named as PyTorch's Linear, gradchecked") {
  const std::vector<std::size_t> lengths = {3, 5, 1};
  const std::pair<nn::AttentionScore, std::vector<std::string>> cases[] = {
      {nn::AttentionScore::general, {"key_proj.bias", "key_proj.weight"}},
      {nn::AttentionScore::additive,
       {"key_proj.bias", "key_proj.weight", "query_proj.bias", "query_proj.weight", "v.bias",
        "v.weight"}},
      {nn::AttentionScore::dot, {}}};
  for (const auto& [score, names] : cases) {
    INFO("score ", nn::to_string(score));
    tapegrad::Generator g(12);
    nn::AttentionOptions options;
    options.score = score;
    options.query_size = options.key_size = 4;
    options.hidden_size = 5;
    options.bias = true;
    nn::Attention<double> attention(options, g);
    std::vector<std::string> got;
    for (const auto& [name, p] : attention.named_parameters()) got.push_back(name);
    std::sort(got.begin(), got.end());
    CHECK(got == names);
    if (names.empty()) continue;
    const auto fn = [&](const Vs& x) {
      const auto out = attention(x[0], x[1], x[2], lengths);
      return tapegrad::sum(out.context * out.context) + tapegrad::sum(out.weights * x[3]);
    };
    const tapegrad::GradcheckReport report =
        tapegrad::gradcheck(fn,
                            {input({3, 2, 4}, 1), input({3, 5, 4}, 2), input({3, 5, 3}, 3),
                             V(input({3, 2, 5}, 9).value())},
                            attention.parameters());
    CHECK_MESSAGE(report.passed, report.message());
  }
}

TEST_CASE("Attention: padded positions get weight 0 and no gradient, and the rows sum to 1") {
  for (const nn::AttentionScore score : kScores) {
    INFO("score ", nn::to_string(score));
    nn::Attention<double> attention(score, query_size(score), 4);
    V keys = input({2, 4, 4}, 5);
    V values = input({2, 4, 3}, 6);
    const auto out = attention(input({2, query_size(score)}, 4), keys, values, {2, 4});
    CHECK(out.context.shape() == tapegrad::make_shape({2, 3}));
    CHECK(out.weights.shape() == tapegrad::make_shape({2, 4}));
    CHECK(out.weights.value()(0, 2) == 0.0);
    CHECK(out.weights.value()(0, 3) == 0.0);
    CHECK(xt::sum(xt::view(out.weights.value(), 0, xt::all()))() == doctest::Approx(1.0));
    CHECK(xt::sum(xt::view(out.weights.value(), 1, xt::all()))() == doctest::Approx(1.0));
    tapegrad::sum(out.context).backward();
    CHECK(xt::all(xt::equal(xt::view(keys.grad(), 0, xt::range(2, 4), xt::all()), 0.0)));
    CHECK(xt::all(xt::equal(xt::view(values.grad(), 0, xt::range(2, 4), xt::all()), 0.0)));
    CHECK(xt::any(xt::not_equal(xt::view(keys.grad(), 1, 3, xt::all()), 0.0)));
  }
}

TEST_CASE("Attention: a memory made once gives what a direct call gives, at every step") {
  nn::Attention<double> attention(nn::AttentionScore::additive, 6, 4, 5);
  const V keys = input({2, 3, 4}, 1);
  const V values = input({2, 3, 2}, 2);
  const auto memory = attention.memory(keys, values, {3, 2});
  xt::xarray<bool> mask = {{false, false, false}, {false, false, true}};
  const auto masked_memory = attention.memory(keys, values, mask);
  for (std::uint64_t step = 0; step < 3; ++step) {
    const V q = input({2, 6}, 10 + step);
    const auto a = attention(q, memory);
    const auto b = attention(q, keys, values, {3, 2});
    const auto c = attention(q, masked_memory);
    TG_CHECK_CLOSE(a.context.value(), b.context.value(), 0.0);
    TG_CHECK_CLOSE(a.weights.value(), c.weights.value(), 0.0);
  }
  // all steps at once: row t is step t
  const V steps = input({2, 2, 6}, 20);
  const auto all = attention(steps, memory);
  const auto second = attention(tapegrad::select(steps, 1, 1), memory);
  TG_CHECK_CLOSE(Array<double>(xt::view(all.weights.value(), xt::all(), 1, xt::all())),
                 second.weights.value(), 1e-15);
}

TEST_CASE("Attention: the scores as the papers define them") {
  // one key per batch: the weight is 1 and the context is the value, whatever the score
  nn::Attention<double> dot(nn::AttentionScore::dot, 2, 2);
  const V q = V(Array<double>{{1.0, 2.0}});
  const V k = V(Array<double>{{{3.0, -1.0}, {0.5, 0.5}}});
  Array<double> vv = {1.0, 0.0};
  vv.reshape({1, 2, 1});
  const V v = V(vv);
  // dot: q.k = 1 and 1.5; scaled_dot divides by sqrt(2)
  const double e = std::exp(1.0 - 1.5);
  CHECK(dot(q, k, v).weights.value()(0, 0) == doctest::Approx(e / (1.0 + e)).epsilon(1e-14));
  nn::Attention<double> scaled(nn::AttentionScore::scaled_dot, 2, 2);
  const double es = std::exp(-0.5 / std::sqrt(2.0));
  CHECK(scaled(q, k, v).weights.value()(0, 0) == doctest::Approx(es / (1.0 + es)).epsilon(1e-14));
  // general with W = I is dot
  nn::Attention<double> general(nn::AttentionScore::general, 2, 2);
  general.parameter("key_proj.weight").mutable_value() = Array<double>{{1.0, 0.0}, {0.0, 1.0}};
  TG_CHECK_CLOSE(general(q, k, v).weights.value(), dot(q, k, v).weights.value(), 1e-15);
  // additive: v . tanh(W_q q + W_k k), by hand
  nn::Attention<double> additive(nn::AttentionScore::additive, 2, 2, 1);
  additive.parameter("query_proj.weight").mutable_value() = Array<double>{{0.5, -0.25}};
  additive.parameter("key_proj.weight").mutable_value() = Array<double>{{1.0, 2.0}};
  additive.parameter("v.weight").mutable_value() = tapegrad::full<double>({1, 1}, 2.0);
  const double s0 = 2.0 * std::tanh(0.0 + 1.0), s1 = 2.0 * std::tanh(0.0 + 1.5);
  const double ea = std::exp(s0 - s1);
  CHECK(additive(q, k, v).weights.value()(0, 0) == doctest::Approx(ea / (1.0 + ea)).epsilon(1e-14));
}

TEST_CASE("a score's name parses back to it, and an unknown name lists the known ones") {
  for (const auto score : {nn::AttentionScore::dot, nn::AttentionScore::general,
                           nn::AttentionScore::additive, nn::AttentionScore::scaled_dot}) {
    CAPTURE(nn::to_string(score));
    CHECK(nn::parse_attention_score(nn::to_string(score)) == score);
  }
  TG_CHECK_CONTAINS(
      message_of<tapegrad::value_error>([] { nn::parse_attention_score("bahdanau"); }),
      "unknown attention score \"bahdanau\" (expected dot, general, additive or "
      "scaled_dot)");
}

TEST_CASE("padding_mask marks the positions past each length") {
  const xt::xarray<bool> expected = {
      {false, false, true}, {false, false, false}, {false, true, true}};
  CHECK(nn::padding_mask({2, 3, 1}, 3) == expected);
  CHECK(message_of<value_error>([] {
          (void)nn::padding_mask({2, 0}, 3);
        }) == "padding_mask: length 0 (sequence 1) is outside [1, 3]");
  CHECK(message_of<value_error>([] { (void)nn::padding_mask({4}, 3); }) ==
        "padding_mask: length 4 (sequence 0) is outside [1, 3]");
}

TEST_CASE("Attention: argument errors name what was wrong") {
  CHECK(message_of<value_error>([] { nn::Attention<double>(nn::AttentionScore::dot, 3, 4); }) ==
        "Attention: the dot score needs equal query and key sizes, got 3 and 4 (the general or "
        "additive score projects them)");
  CHECK(message_of<value_error>([] { nn::Attention<double>(nn::AttentionScore::general, 0, 4); }) ==
        "Attention: sizes must be positive, got query_size 0, key_size 4, hidden_size 0");
  nn::Attention<double> attention(nn::AttentionScore::general, 6, 4);
  const V keys = input({2, 3, 4}, 1);
  CHECK(message_of<shape_error>([&] {
          (void)attention.memory(keys, input({2, 2, 5}, 2));
        }) ==
        "Attention: expected keys [B, S, 4] and values [B, S, Dv], got keys [2,3,4] and values "
        "[2,2,5]");
  CHECK(message_of<shape_error>([&] { (void)attention.memory(keys, keys, {3}); }) ==
        "Attention: 1 lengths for a batch of 2 (keys [2,3,4])");
  xt::xarray<bool> mask = {{false, true}};
  CHECK(message_of<shape_error>([&] { (void)attention.memory(keys, keys, mask); }) ==
        "Attention: the key padding mask is [1,2], expected [2, 3]");
  const auto memory = attention.memory(keys, keys);
  CHECK(message_of<shape_error>([&] {
          (void)attention(input({2, 4}, 3), memory);
        }) == "Attention: expected a query [2, 6] or [2, Tq, 6] for this memory, got [2,4]");
  CHECK(message_of<shape_error>([&] {
          (void)attention(input({3, 6}, 3), memory);
        }) == "Attention: expected a query [2, 6] or [2, Tq, 6] for this memory, got [3,6]");
}
