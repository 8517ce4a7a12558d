// The recurrent cells (tapegrad/nn/cells.hpp): the fused steps equal the composed textbook steps
// in values and gradients, in layers of every cell, shape, length and direction; the sequence
// ops equal their steps run in a loop; gradcheck of each fused op and of the composed steps;
// their argument checks. Also the engine's gathered
// outer gradients (Grad::outer, which the fused steps return for W_hh) and stack_index (which
// the layers use for LSTM outputs).
#include <algorithm>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tapegrad/nn/cells.hpp"
#include "tapegrad/nn/rnn.hpp"

namespace nn = tapegrad::nn;
using tapegrad::Array;
using tapegrad::make_shape;
using tapegrad::Var;

namespace {

Var<double> leaf(tapegrad::Generator& gen, tapegrad::Shape shape, double stddev = 0.5) {
  return tapegrad::parameter(gen.normal<double>(shape, 0.0, stddev));
}

void check_gradcheck(const tapegrad::GradcheckFn& fn, const std::vector<Var<double>>& inputs) {
  const tapegrad::GradcheckReport report = tapegrad::gradcheck(fn, inputs);
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(report.elements_checked > 0);
}

}  // namespace

TEST_CASE(
    "fused_rnn_step, fused_lstm_step and fused_gru_step pass gradcheck at a middle step and as one "
    "step") {
  tapegrad::Generator gen(3);
  const std::size_t steps = 3, batch = 2, hidden = 3;
  for (const bool sequence : {true, false}) {
    CAPTURE(sequence);
    const auto gx_shape = [&](std::size_t gates) {
      return sequence ? make_shape({steps, batch, gates * hidden})
                      : make_shape({batch, gates * hidden});
    };
    const std::size_t t = sequence ? 1 : 0;
    for (const bool relu : {false, true}) {
      CAPTURE(relu);
      check_gradcheck(
          [&](const std::vector<Var<double>>& v) {
            return nn::fused_rnn_step(v[0], t, v[1], v[2], relu);
          },
          {leaf(gen, gx_shape(1)), leaf(gen, make_shape({batch, hidden})),
           leaf(gen, make_shape({hidden, hidden}))});
    }
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) { return nn::fused_lstm_step(v[0], t, v[1], v[2]); },
        {leaf(gen, gx_shape(4)), leaf(gen, make_shape({2, batch, hidden})),
         leaf(gen, make_shape({4 * hidden, hidden}))});
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) {
          return nn::fused_gru_step(v[0], t, v[1], v[2], v[3]);
        },
        {leaf(gen, gx_shape(3)), leaf(gen, make_shape({batch, hidden})),
         leaf(gen, make_shape({3 * hidden, hidden})), leaf(gen, make_shape({3 * hidden}))});
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) {
          return nn::fused_gru_step(v[0], t, v[1], v[2], Var<double>());
        },
        {leaf(gen, gx_shape(3)), leaf(gen, make_shape({batch, hidden})),
         leaf(gen, make_shape({3 * hidden, hidden}))});
  }
}

TEST_CASE(
    "fused_lstm_step and fused_gru_step pass gradcheck when they keep their activations in gx") {
  // gx from a linear op, whose backward does not read its output: what the layers do.
  tapegrad::Generator gen(4);
  const std::size_t steps = 3, batch = 2, in = 2, hidden = 3;
  const auto x = leaf(gen, make_shape({steps, batch, in}));
  for (const std::size_t gates : {3, 4}) {
    CAPTURE(gates);
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) {
          const Var<double> gx = tapegrad::linear(v[0], v[1]);
          Var<double> h = v[2];
          for (std::size_t t = 0; t < steps; ++t) {
            h = gates == 4 ? nn::fused_lstm_step(gx, t, h, v[3], nn::GateInput::overwrite)
                           : nn::fused_gru_step(gx, t, h, v[3], v[4], nn::GateInput::overwrite);
          }
          return h;
        },
        {x, leaf(gen, make_shape({gates * hidden, in})),
         leaf(gen, gates == 4 ? make_shape({2, batch, hidden}) : make_shape({batch, hidden})),
         leaf(gen, make_shape({gates * hidden, hidden})), leaf(gen, make_shape({gates * hidden}))});
  }
}

TEST_CASE("gate slabs: a backward that would read gx after a step overwrote it is a usage_error") {
  tapegrad::Generator gen(8);
  const std::size_t steps = 3, batch = 2, in = 2, hidden = 3;
  for (const std::size_t gates : {3, 4}) {
    CAPTURE(gates);
    const Var<double> x = leaf(gen, make_shape({steps, batch, in}));
    const Var<double> w_ih = leaf(gen, make_shape({gates * hidden, in}));
    const Var<double> w_hh = leaf(gen, make_shape({gates * hidden, hidden}));
    const Var<double> b_hh = leaf(gen, make_shape({gates * hidden}));
    const Var<double> s0 =
        leaf(gen, gates == 4 ? make_shape({2, batch, hidden}) : make_shape({batch, hidden}));
    const auto step = [&](const Var<double>& gx, std::size_t t, const Var<double>& s,
                          nn::GateInput mode) {
      return gates == 4 ? nn::fused_lstm_step(gx, t, s, w_hh, mode)
                        : nn::fused_gru_step(gx, t, s, w_hh, b_hh, mode);
    };
    const char* op = gates == 4 ? "'fused_lstm_step'" : "'fused_gru_step'";
    for (const nn::GateInput mode : {nn::GateInput::keep, nn::GateInput::overwrite}) {
      const bool overwrite = mode == nn::GateInput::overwrite;
      CAPTURE(overwrite);
      {  // an op that read all of gx before the steps wrote their rows
        const Var<double> gx = tapegrad::linear(x, w_ih);
        const Var<double> squares = tapegrad::sum(gx * gx);
        Var<double> s = s0;
        for (std::size_t t = 0; t < steps; ++t) s = step(gx, t, s, mode);
        const Var<double> loss = squares + tapegrad::sum(s);
        if (overwrite) {
          const std::string msg =
              tapegrad_test::message_of<tapegrad::usage_error>([&] { tapegrad::backward(loss); });
          TG_CHECK_CONTAINS(msg, "'mul'");
          TG_CHECK_CONTAINS(msg, "changed in place");
        } else {
          CHECK_NOTHROW(tapegrad::backward(loss));
        }
      }
      {  // a second step on the same row overwrites the activations the first one reads
        const Var<double> gx = tapegrad::linear(x, w_ih);
        const Var<double> s1 = step(gx, 1, s0, mode);
        const Var<double> s2 = step(gx, 1, s1, mode);
        const Var<double> loss = tapegrad::sum(s2);
        if (overwrite) {
          const std::string msg =
              tapegrad_test::message_of<tapegrad::usage_error>([&] { tapegrad::backward(loss); });
          TG_CHECK_CONTAINS(msg, op);
          TG_CHECK_CONTAINS(msg, "row 1");
          TG_CHECK_CONTAINS(msg, "changed in place");
        } else {
          CHECK_NOTHROW(tapegrad::backward(loss));
        }
      }
      {  // each step on its own row, as the layers run them: no error in either mode
        const Var<double> gx = tapegrad::linear(x, w_ih);
        Var<double> s = s0;
        for (std::size_t t = 0; t < steps; ++t) s = step(gx, t, s, mode);
        CHECK_NOTHROW(tapegrad::backward(tapegrad::sum(s)));
      }
    }
  }
}

TEST_CASE("a chain of fused steps sharing W_hh passes gradcheck (W_hh's gathered gradient)") {
  tapegrad::Generator gen(5);
  const std::size_t steps = 4, batch = 2, hidden = 3;
  check_gradcheck(
      [&](const std::vector<Var<double>>& v) {
        Var<double> s = v[1];
        std::vector<Var<double>> states;
        for (std::size_t t = 0; t < steps; ++t) {
          s = nn::fused_lstm_step(v[0], t, s, v[2]);
          states.push_back(s);
        }
        return tapegrad::stack_index(states, 0);
      },
      {leaf(gen, make_shape({steps, batch, 4 * hidden})), leaf(gen, make_shape({2, batch, hidden})),
       leaf(gen, make_shape({4 * hidden, hidden}))});
}

TEST_CASE("stack_index passes gradcheck and checks its inputs") {
  tapegrad::Generator gen(7);
  check_gradcheck([](const std::vector<Var<double>>& v) { return tapegrad::stack_index(v, 1); },
                  {leaf(gen, make_shape({2, 3, 2})), leaf(gen, make_shape({2, 3, 2})),
                   leaf(gen, make_shape({2, 3, 2}))});
  const Var<double> a = leaf(gen, make_shape({2, 3}));
  const Var<double> b = leaf(gen, make_shape({3, 3}));
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      tapegrad::stack_index<double>({a, b}, 0);
                    }),
                    "input 1 has shape [3,3]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::value_error>(
                        [&] { tapegrad::stack_index<double>({a}, 2); }),
                    "index 2");
}

TEST_CASE("fused steps reject wrong shapes and steps with messages naming them") {
  tapegrad::Generator gen(9);
  const Var<double> gx = leaf(gen, make_shape({5, 2, 12}));
  const Var<double> state = leaf(gen, make_shape({2, 2, 3}));
  const Var<double> w = leaf(gen, make_shape({12, 3}));
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::value_error>(
                        [&] { nn::fused_lstm_step(gx, 5, state, w); }),
                    "fused_lstm_step: step 5 is outside gx [5,2,12]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      nn::fused_lstm_step(gx, 0, leaf(gen, make_shape({2, 3})), w);
                    }),
                    "got gx [5,2,12], state [2,3], weight_hh [12,3]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      nn::fused_gru_step(leaf(gen, make_shape({2, 9})), 0,
                                         leaf(gen, make_shape({2, 3})), w, Var<double>());
                    }),
                    "fused_gru_step: expected gx [T, B, 3H]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      nn::fused_gru_step(leaf(gen, make_shape({2, 9})), 0,
                                         leaf(gen, make_shape({2, 3})),
                                         leaf(gen, make_shape({9, 3})), leaf(gen, make_shape({8})));
                    }),
                    "expected bias_hh [9], got [8]");
}

namespace {

// Draws n in [lo, hi].
std::size_t draw(std::mt19937_64& rng, std::size_t lo, std::size_t hi) {
  return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
}

// Lengths in [1, steps] in no order, with 1 and `steps` among them when batch > 1.
std::vector<std::size_t> draw_lengths(std::mt19937_64& rng, std::size_t batch, std::size_t steps) {
  std::vector<std::size_t> lengths(batch);
  for (auto& n : lengths) n = draw(rng, 1, steps);
  lengths[0] = steps;
  if (batch > 1) lengths[1] = 1;
  std::shuffle(lengths.begin(), lengths.end(), rng);
  return lengths;
}

// What one run of a layer gives, by name: output, h_n, c_n (an LSTM's), then the gradients of a
// random scalar loss with respect to x, h_0, c_0 and every parameter.
using Run = std::vector<std::pair<std::string, Array<double>>>;

Run run_layer(nn::CellKind kind, const nn::RNNOptions& options, std::uint64_t seed,
              const Var<double>& x, const nn::RecurrentState<double>& initial,
              const std::vector<std::size_t>& lengths, const std::vector<Array<double>>& r) {
  tapegrad::Generator gen(seed);  // the same seed: the same weights, fused or not
  const std::shared_ptr<nn::RNNBase<double>> layer = nn::make_recurrent<double>(kind, options, gen);
  for (Var<double> v : {x, initial.h, initial.c}) {  // handles: the same leaves
    if (v.defined()) v.zero_grad();
  }
  const nn::RecurrentOutput<double> y = layer->forward(x, initial, lengths);
  Var<double> loss =
      tapegrad::sum(y.output * Var<double>(r[0])) + tapegrad::sum(y.h_n * Var<double>(r[1]));
  if (y.c_n.defined()) loss = loss + tapegrad::sum(y.c_n * Var<double>(r[2]));
  loss.backward();
  Run run;
  run.emplace_back("output", y.output.value());
  run.emplace_back("h_n", y.h_n.value());
  if (y.c_n.defined()) run.emplace_back("c_n", y.c_n.value());
  run.emplace_back("d x", x.grad());
  run.emplace_back("d h_0", initial.h.grad());
  if (initial.c.defined()) run.emplace_back("d c_0", initial.c.grad());
  for (const auto& [name, p] : layer->named_parameters()) run.emplace_back("d " + name, p.grad());
  return run;
}

}  // namespace

TEST_CASE("fused cells equal the composed textbook cells") {
  // For every cell, random shapes, lengths and layouts: the layer run with the fused steps
  // (fused_rnn_step, ...) and with the composed ones (rnn_step, ...) gives the same outputs, final
  // states and gradients of a random scalar loss with respect to the input, the initial state
  // and every weight. Under anomaly detection the fused LSTM and GRU steps keep their gate
  // activations in arrays of their own (GateInput::keep), otherwise in the input projection
  // (GateInput::overwrite): both are run.
  std::size_t compared = 0;
  for (const nn::CellKind kind :
       {nn::CellKind::rnn_tanh, nn::CellKind::rnn_relu, nn::CellKind::lstm, nn::CellKind::gru}) {
    for (const std::uint64_t seed : {1u, 2u, 3u, 4u}) {
      std::mt19937_64 rng(seed * 977 + static_cast<std::uint64_t>(kind));
      const std::size_t steps = draw(rng, 1, 7), batch = draw(rng, 1, 5);
      const std::size_t in = draw(rng, 1, 5), hidden = draw(rng, 1, 6);
      const std::size_t layers = draw(rng, 1, 2);
      const bool batch_first = draw(rng, 0, 1) == 1, bias = seed != 2;
      for (const bool bidirectional : {false, true}) {
        for (const bool padded : {false, true}) {
          for (const bool anomaly : {false, true}) {
            CAPTURE(static_cast<int>(kind));
            CAPTURE(seed);
            CAPTURE(steps);
            CAPTURE(batch);
            CAPTURE(in);
            CAPTURE(hidden);
            CAPTURE(layers);
            CAPTURE(bidirectional);
            CAPTURE(padded);
            CAPTURE(anomaly);
            tapegrad::Generator gen(seed + 100);
            const std::size_t states = layers * (bidirectional ? 2 : 1);
            const Var<double> x = leaf(
                gen, batch_first ? make_shape({batch, steps, in}) : make_shape({steps, batch, in}),
                1.0);
            nn::RecurrentState<double> initial;
            initial.h = leaf(gen, make_shape({states, batch, hidden}));
            if (kind == nn::CellKind::lstm)
              initial.c = leaf(gen, make_shape({states, batch, hidden}));
            const std::vector<std::size_t> lengths =
                padded ? draw_lengths(rng, batch, steps) : std::vector<std::size_t>{};
            std::string lengths_text;
            for (const std::size_t n : lengths) lengths_text += std::to_string(n) + " ";
            CAPTURE(lengths_text);
            const std::size_t width = (bidirectional ? 2 : 1) * hidden;
            const std::vector<Array<double>> r{
                gen.normal<double>(batch_first ? make_shape({batch, steps, width})
                                               : make_shape({steps, batch, width})),
                gen.normal<double>(make_shape({states, batch, hidden})),
                gen.normal<double>(make_shape({states, batch, hidden}))};
            const auto options = nn::RNNOptions(in, hidden)
                                     .num_layers(layers)
                                     .bias(bias)
                                     .batch_first(batch_first)
                                     .bidirectional(bidirectional);
            std::optional<tapegrad::DetectAnomaly> detect;
            if (anomaly) detect.emplace();
            const Run fused =
                run_layer(kind, nn::RNNOptions(options).fused(true), seed, x, initial, lengths, r);
            const Run composed =
                run_layer(kind, nn::RNNOptions(options).fused(false), seed, x, initial, lengths, r);
            REQUIRE(fused.size() == composed.size());
            for (std::size_t i = 0; i < fused.size(); ++i) {
              CAPTURE(fused[i].first);
              CHECK(fused[i].first == composed[i].first);
              TG_CHECK_CLOSE(fused[i].second, composed[i].second, 1e-12);
              ++compared;
            }
          }
        }
      }
    }
  }
  CHECK(compared > 500);
}

namespace {

// A loss of every step's output and of the last state, each element weighted differently.
Var<double> weighted(const Var<double>& out, const Var<double>& last, const Var<double>& last_c,
                     tapegrad::Generator& gen) {
  Var<double> loss = tapegrad::sum(out * Var<double>(gen.normal<double>(out.shape())));
  loss = loss + tapegrad::sum(last * Var<double>(gen.normal<double>(last.shape())));
  if (last_c.defined()) {
    loss = loss + tapegrad::sum(last_c * Var<double>(gen.normal<double>(last_c.shape())));
  }
  return loss;
}

// Calls f(kind, reverse, bias) for every cell kind, direction and bias, each captured.
template <class F>
void for_each_direction_case(F&& f) {
  for (const nn::CellKind kind :
       {nn::CellKind::rnn_tanh, nn::CellKind::rnn_relu, nn::CellKind::lstm, nn::CellKind::gru}) {
    for (const bool reverse : {false, true}) {
      for (const bool bias : {true, false}) {
        CAPTURE(static_cast<int>(kind));
        CAPTURE(reverse);
        CAPTURE(bias);
        f(kind, reverse, bias);
      }
    }
  }
}

}  // namespace

TEST_CASE("the sequence ops equal their fused steps run in a loop: values bit for bit, gradients") {
  const std::size_t steps = 5, batch = 3, hidden = 4;
  std::size_t compared = 0;
  for_each_direction_case([&](nn::CellKind kind, bool reverse, bool bias) {
    const bool lstm = kind == nn::CellKind::lstm, gru = kind == nn::CellKind::gru;
    const std::size_t gates = nn::gate_count(kind);
    tapegrad::Generator gen(7);
    const Array<double> gx = gen.normal<double>(make_shape({steps, batch, gates * hidden}));
    const std::vector<Var<double>> v{
        leaf(gen, make_shape({batch, hidden})), leaf(gen, make_shape({batch, hidden})),
        leaf(gen, make_shape({gates * hidden, hidden})), leaf(gen, make_shape({gates * hidden}))};
    const Var<double> b = gru && bias ? v[3] : Var<double>();
    // Both runs: the outputs and every gradient (gx's, h0's, c0's, W_hh's, b_hh's).
    const auto run = [&](bool sequence) {
      for (Var<double> p : v) p.zero_grad();
      const Var<double> x = tapegrad::parameter<double>(gx, "gx");
      Var<double> out, last, last_c;
      if (sequence) {
        const bool relu = kind == nn::CellKind::rnn_relu;
        out = lstm  ? nn::fused_lstm_sequence(x, v[0], v[1], v[2], reverse)
              : gru ? nn::fused_gru_sequence(x, v[0], v[2], b, reverse)
                    : nn::fused_rnn_sequence(x, v[0], v[2], relu, reverse);
        const std::size_t end = reverse ? 0 : steps - 1;
        if (lstm) {
          last_c = tapegrad::select(tapegrad::select(out, 0, 1), 0, end);
          out = tapegrad::select(out, 0, 0);
        }
        last = tapegrad::select(out, 0, end);
      } else {
        Var<double> s = lstm ? tapegrad::stack({v[0], v[1]}, 0) : v[0];
        std::vector<Var<double>> outs(steps);
        for (std::size_t i = 0; i < steps; ++i) {
          const std::size_t t = reverse ? steps - 1 - i : i;
          s = lstm  ? nn::fused_lstm_step(x, t, s, v[2])
              : gru ? nn::fused_gru_step(x, t, s, v[2], b)
                    : nn::fused_rnn_step(x, t, s, v[2], kind == nn::CellKind::rnn_relu);
          outs[t] = lstm ? tapegrad::select(s, 0, 0) : s;
        }
        out = tapegrad::stack(outs, 0);
        last = lstm ? tapegrad::select(s, 0, 0) : s;
        if (lstm) last_c = tapegrad::select(s, 0, 1);
      }
      tapegrad::Generator weights(11);
      weighted(out, last, last_c, weights).backward();
      std::vector<Array<double>> values{out.value(), last.value(), x.grad(), v[0].grad(),
                                        v[2].grad()};
      if (lstm) values.push_back(v[1].grad());
      if (gru && bias) values.push_back(v[3].grad());
      return values;
    };
    const std::vector<Array<double>> whole = run(true), steps_run = run(false);
    REQUIRE(whole.size() == steps_run.size());
    CHECK(whole[0] == steps_run[0]);
    CHECK(whole[1] == steps_run[1]);
    for (std::size_t i = 2; i < whole.size(); ++i) {
      CAPTURE(i);
      TG_CHECK_CLOSE(whole[i], steps_run[i], 1e-12);
      ++compared;
    }
  });
  CHECK(compared == 16 * 3 + 4 + 2);  // gx, h0, W_hh in every run; c0 (LSTM); b_hh (GRU, biased)
}

TEST_CASE("the layer ops equal linear then the sequence op: values and every gradient") {
  // fused_*_layer computes gx = x W_ih^T + bias itself, a chunk of steps ahead (here all 7 steps
  // in one product), and adds the projection's gradients to the sequence op's.
  const std::size_t steps = 7, batch = 3, in = 5, hidden = 4;
  std::size_t compared = 0;
  for_each_direction_case([&](nn::CellKind kind, bool reverse, bool bias) {
    const bool lstm = kind == nn::CellKind::lstm, gru = kind == nn::CellKind::gru;
    const bool relu = kind == nn::CellKind::rnn_relu;
    const std::size_t width = nn::gate_count(kind) * hidden;
    tapegrad::Generator gen(9);
    // x, W_ih, b (b_ih for the GRU), h0, c0, W_hh, b_hh
    const std::vector<Var<double>> v{leaf(gen, make_shape({steps, batch, in})),
                                     leaf(gen, make_shape({width, in})),
                                     leaf(gen, make_shape({width})),
                                     leaf(gen, make_shape({batch, hidden})),
                                     leaf(gen, make_shape({batch, hidden})),
                                     leaf(gen, make_shape({width, hidden})),
                                     leaf(gen, make_shape({width}))};
    const Var<double> b = bias ? v[2] : Var<double>();
    const Var<double> b_hh = gru && bias ? v[6] : Var<double>();
    const auto run = [&](bool layer) {
      for (Var<double> p : v) p.zero_grad();
      Var<double> out;
      if (layer) {
        out = lstm  ? nn::fused_lstm_layer(v[0], v[1], b, v[3], v[4], v[5], reverse)
              : gru ? nn::fused_gru_layer(v[0], v[1], b, v[3], v[5], b_hh, reverse)
                    : nn::fused_rnn_layer(v[0], v[1], b, v[3], v[5], relu, reverse);
      } else {
        const Var<double> gx = tapegrad::linear(v[0], v[1], b);
        out = lstm  ? nn::fused_lstm_sequence(gx, v[3], v[4], v[5], reverse)
              : gru ? nn::fused_gru_sequence(gx, v[3], v[5], b_hh, reverse)
                    : nn::fused_rnn_sequence(gx, v[3], v[5], relu, reverse);
      }
      const std::size_t end = reverse ? 0 : steps - 1;
      Var<double> last_c;
      if (lstm) {
        last_c = tapegrad::select(tapegrad::select(out, 0, 1), 0, end);
        out = tapegrad::select(out, 0, 0);
      }
      const Var<double> last = tapegrad::select(out, 0, end);
      tapegrad::Generator weights(13);
      weighted(out, last, last_c, weights).backward();
      std::vector<Array<double>> values{out.value(), v[0].grad(), v[1].grad(), v[3].grad(),
                                        v[5].grad()};
      if (bias) values.push_back(v[2].grad());
      if (lstm) values.push_back(v[4].grad());
      if (gru && bias) values.push_back(v[6].grad());
      return values;
    };
    const std::vector<Array<double>> layer = run(true), separate = run(false);
    REQUIRE(layer.size() == separate.size());
    for (std::size_t i = 0; i < layer.size(); ++i) {
      CAPTURE(i);
      TG_CHECK_CLOSE(layer[i], separate[i], 1e-12);
      ++compared;
    }
  });
  CHECK(compared == 16 * 5 + 8 + 4 + 2);  // out, x, W_ih, h0, W_hh; b (biased); c0; b_hh
}

TEST_CASE("the layer ops check their operands") {
  tapegrad::Generator gen(4);
  const Var<float> x(gen.normal<float>(make_shape({3, 2, 5}))),
      w_ih(gen.normal<float>(make_shape({12, 5}))), h0(gen.normal<float>(make_shape({2, 3}))),
      w_hh(gen.normal<float>(make_shape({12, 3})));
  CHECK_THROWS_WITH_AS(nn::fused_lstm_layer(x, w_ih, {}, h0, {}, w_hh),
                       "fused_lstm_layer: x, weight_ih, h0, c0 and weight_hh must be given",
                       tapegrad::usage_error);
  const Var<float> x_wrong(gen.normal<float>(make_shape({3, 2, 4})));
  CHECK_THROWS_WITH_AS(
      nn::fused_lstm_layer(x_wrong, w_ih, {}, h0, h0, w_hh),
      "fused_lstm_layer: expected x [T, B, in] with T >= 1, weight_ih [4H, in], bias [4H], h0 "
      "[B, H], weight_hh [4H, H]; got x [3,2,4], weight_ih [12,5], bias none, h0 [2,3], "
      "weight_hh [12,3]",
      tapegrad::shape_error);
  CHECK_THROWS_AS(nn::fused_gru_layer(x, w_ih, {}, h0, w_hh, {}), tapegrad::shape_error);
  // An empty batch: empty outputs of the right shape, and empty gradients.
  const Var<float> x0 = tapegrad::parameter<float>(Array<float>::from_shape({3, 0, 5}), "x0");
  const Var<float> h00(Array<float>::from_shape({0, 3}));
  const Var<float> y = nn::fused_lstm_layer(x0, w_ih, {}, h00, h00, w_hh, true);
  CHECK(tapegrad::shape_str(y.shape()) == "[2,3,0,3]");
  tapegrad::sum(y).backward();
  CHECK(tapegrad::shape_str(x0.grad().shape()) == "[3,0,5]");
}

TEST_CASE("the composed steps pass gradcheck, and check their arguments") {
  tapegrad::Generator gen(21);
  const std::size_t batch = 2, hidden = 3;
  check_gradcheck(
      [](const std::vector<Var<double>>& v) {
        const nn::RecurrentState<double> next = nn::lstm_step(v[0], {v[1], v[2]}, v[3], v[4]);
        return tapegrad::concat({next.h, next.c}, 1);
      },
      {leaf(gen, make_shape({batch, 4 * hidden})), leaf(gen, make_shape({batch, hidden})),
       leaf(gen, make_shape({batch, hidden})), leaf(gen, make_shape({4 * hidden, hidden})),
       leaf(gen, make_shape({4 * hidden}))});
  check_gradcheck(
      [](const std::vector<Var<double>>& v) {
        return nn::rnn_step(v[0], v[1], v[2], Var<double>(), nn::Nonlinearity::tanh);
      },
      {leaf(gen, make_shape({batch, hidden})), leaf(gen, make_shape({batch, hidden})),
       leaf(gen, make_shape({hidden, hidden}))});
  const Var<double> w = leaf(gen, make_shape({9, 3}));
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      nn::gru_step(leaf(gen, make_shape({2, 8})), leaf(gen, make_shape({2, 3})), w,
                                   Var<double>());
                    }),
                    "gru_step: expected gx [B, 3H], h [B, H], weight_hh [3H, H], bias_hh [3H]; "
                    "got gx [2,8], h [2,3], weight_hh [9,3], bias_hh none");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      nn::lstm_step(leaf(gen, make_shape({2, 12})),
                                    {leaf(gen, make_shape({2, 3})), leaf(gen, make_shape({2, 4}))},
                                    leaf(gen, make_shape({12, 3})), Var<double>());
                    }),
                    "lstm_step: expected gx [B, 4H], h and c [B, H]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      nn::rnn_step(leaf(gen, make_shape({2, 3})), leaf(gen, make_shape({2, 3})),
                                   leaf(gen, make_shape({3, 3})), leaf(gen, make_shape({4})));
                    }),
                    "got gx [2,3], h [2,3], weight_hh [3,3], bias_hh [4]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::usage_error>([&] {
                      nn::rnn_step(Var<double>(), leaf(gen, make_shape({2, 3})),
                                   leaf(gen, make_shape({3, 3})), Var<double>());
                    }),
                    "rnn_step: gx, h and weight_hh must be given");
}

TEST_CASE(
    "Grad::outer: gathered products equal the sum of the products and wrong shapes are named") {
  tapegrad::Generator gen(13);
  Var<double> w = leaf(gen, make_shape({3, 2}));
  const Array<double> a1 = gen.normal<double>(make_shape({4, 3}));
  const Array<double> b1 = gen.normal<double>(make_shape({4, 2}));
  const Array<double> a2 = gen.normal<double>(make_shape({1, 3}));
  const Array<double> b2 = gen.normal<double>(make_shape({1, 2}));
  // An op y = sum(w) whose rule returns its gradient (ones) plus a^T b as outer factors, used
  // twice: the gradient of w is 2 + a1^T b1 + a2^T b2.
  const auto op = [&](const Array<double>& a, const Array<double>& b) {
    Array<double> y = Array<double>::from_shape({});
    y() = 0.0;
    return tapegrad::record<double>(
        "outer_test", {w}, std::move(y), [a, b](const tapegrad::Context<double>&) {
          return tapegrad::Grads<double>{tapegrad::Grad<double>::outer(a, b)};
        });
  };
  w.zero_grad();
  (op(a1, b1) + op(a2, b2) + tapegrad::sum(w)).backward();
  Array<double> expected = Array<double>::from_shape({3, 2});
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 2; ++j) {
      double s = 1.0;
      for (std::size_t k = 0; k < 4; ++k) s += a1(k, i) * b1(k, j);
      s += a2(0, i) * b2(0, j);
      expected(i, j) = s;
    }
  }
  TG_CHECK_CLOSE(w.grad(), expected, 1e-12);

  // 150 uses of 4 rows: past the engine's 512 gathered rows, it adds what it has mid-backward.
  w.zero_grad();
  Var<double> total = tapegrad::sum(w);
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < 2; ++j) expected(i, j) = 1.0;
  }
  for (int use = 0; use < 150; ++use) {
    const Array<double> a = gen.normal<double>(make_shape({4, 3}));
    const Array<double> b = gen.normal<double>(make_shape({4, 2}));
    total = total + op(a, b);
    for (std::size_t i = 0; i < 3; ++i) {
      for (std::size_t j = 0; j < 2; ++j) {
        for (std::size_t k = 0; k < 4; ++k) expected(i, j) += a(k, i) * b(k, j);
      }
    }
  }
  total.backward();
  TG_CHECK_CLOSE(w.grad(), expected, 1e-12);

  w.zero_grad();
  const std::string message = tapegrad_test::message_of<tapegrad::shape_error>([&] {
    op(gen.normal<double>(make_shape({4, 2})), b1).backward();
  });
  TG_CHECK_CONTAINS(message, "backward of 'outer_test': the outer gradient a^T b for input 0");
  TG_CHECK_CONTAINS(message, "a [4,2] and b [4,2]");
  CHECK_FALSE(w.has_grad());
}
