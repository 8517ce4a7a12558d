// The fused recurrent steps (tapegrad/autograd/rnn_ops.hpp) and the engine's gathered outer
// gradients: gradcheck of each op, and equality with the composed ops of the textbook equations.
#include <string>
#include <vector>

#include "helpers.hpp"
#include "tapegrad/autograd/rnn_ops.hpp"

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
            return tapegrad::fused_rnn_step(v[0], t, v[1], v[2], relu);
          },
          {leaf(gen, gx_shape(1)), leaf(gen, make_shape({batch, hidden})),
           leaf(gen, make_shape({hidden, hidden}))});
    }
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) {
          return tapegrad::fused_lstm_step(v[0], t, v[1], v[2]);
        },
        {leaf(gen, gx_shape(4)), leaf(gen, make_shape({2, batch, hidden})),
         leaf(gen, make_shape({4 * hidden, hidden}))});
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) {
          return tapegrad::fused_gru_step(v[0], t, v[1], v[2], v[3]);
        },
        {leaf(gen, gx_shape(3)), leaf(gen, make_shape({batch, hidden})),
         leaf(gen, make_shape({3 * hidden, hidden})), leaf(gen, make_shape({3 * hidden}))});
    check_gradcheck(
        [&](const std::vector<Var<double>>& v) {
          return tapegrad::fused_gru_step(v[0], t, v[1], v[2], Var<double>());
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
            h = gates == 4
                    ? tapegrad::fused_lstm_step(gx, t, h, v[3], tapegrad::GateInput::overwrite)
                    : tapegrad::fused_gru_step(gx, t, h, v[3], v[4],
                                               tapegrad::GateInput::overwrite);
          }
          return h;
        },
        {x, leaf(gen, make_shape({gates * hidden, in})),
         leaf(gen, gates == 4 ? make_shape({2, batch, hidden}) : make_shape({batch, hidden})),
         leaf(gen, make_shape({gates * hidden, hidden})), leaf(gen, make_shape({gates * hidden}))});
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
          s = tapegrad::fused_lstm_step(v[0], t, s, v[2]);
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
                        [&] { tapegrad::fused_lstm_step(gx, 5, state, w); }),
                    "fused_lstm_step: step 5 is outside gx [5,2,12]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      tapegrad::fused_lstm_step(gx, 0, leaf(gen, make_shape({2, 3})), w);
                    }),
                    "got gx [5,2,12], state [2,3], weight_hh [12,3]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      tapegrad::fused_gru_step(leaf(gen, make_shape({2, 9})), 0,
                                               leaf(gen, make_shape({2, 3})), w, Var<double>());
                    }),
                    "fused_gru_step: expected gx [T, B, 3H]");
  TG_CHECK_CONTAINS(tapegrad_test::message_of<tapegrad::shape_error>([&] {
                      tapegrad::fused_gru_step(
                          leaf(gen, make_shape({2, 9})), 0, leaf(gen, make_shape({2, 3})),
                          leaf(gen, make_shape({9, 3})), leaf(gen, make_shape({8})));
                    }),
                    "expected bias_hh [9], got [8]");
}

TEST_CASE("fused layers equal the composed textbook ops in values and gradients") {
  const std::size_t steps = 6, batch = 3, in = 4, hidden = 5;
  for (const nn::CellKind kind :
       {nn::CellKind::rnn_tanh, nn::CellKind::rnn_relu, nn::CellKind::lstm, nn::CellKind::gru}) {
    for (const bool padded : {false, true}) {
      for (const bool bias : {true, false}) {
        CAPTURE(static_cast<int>(kind));
        CAPTURE(padded);
        CAPTURE(bias);
        tapegrad::Generator gen(11);
        const std::size_t gates = nn::gate_count(kind);
        std::vector<nn::functional::RecurrentWeights<double>> weights;
        for (std::size_t k = 0; k < 4; ++k) {  // 2 layers x 2 directions
          const std::size_t width = k < 2 ? in : 2 * hidden;
          nn::functional::RecurrentWeights<double> w;
          w.w_ih = leaf(gen, make_shape({gates * hidden, width}));
          w.w_hh = leaf(gen, make_shape({gates * hidden, hidden}));
          if (bias) {
            w.b_ih = leaf(gen, make_shape({gates * hidden}));
            w.b_hh = leaf(gen, make_shape({gates * hidden}));
          }
          weights.push_back(w);
        }
        const Var<double> x = leaf(gen, make_shape({steps, batch, in}), 1.0);
        nn::RecurrentState<double> initial;
        initial.h = leaf(gen, make_shape({4, batch, hidden}));
        if (kind == nn::CellKind::lstm) initial.c = leaf(gen, make_shape({4, batch, hidden}));
        const std::vector<std::size_t> lengths =
            padded ? std::vector<std::size_t>{6, 2, 4} : std::vector<std::size_t>{};
        const Array<double> r = gen.normal<double>(make_shape({steps, batch, 2 * hidden}));
        std::vector<Var<double>> all;
        all.push_back(x);
        all.push_back(initial.h);
        if (initial.c.defined()) all.push_back(initial.c);
        for (const auto& w : weights) {
          for (const auto& v : {w.w_ih, w.w_hh, w.b_ih, w.b_hh}) {
            if (v.defined()) all.push_back(v);
          }
        }
        std::vector<Array<double>> outputs, grads;
        for (const bool fused : {true, false}) {
          nn::functional::RecurrentOptions o;
          o.kind = kind;
          o.num_layers = 2;
          o.bidirectional = true;
          o.fused = fused;
          for (auto& v : all) v.zero_grad();
          const nn::RecurrentOutput<double> y =
              nn::functional::recurrent(x, weights, o, initial, lengths);
          Var<double> loss = tapegrad::sum(y.output * Var<double>(r)) + tapegrad::sum(y.h_n);
          if (y.c_n.defined()) loss = loss + tapegrad::sum(y.c_n * y.c_n);
          loss.backward();
          outputs.push_back(y.output.value());
          outputs.push_back(y.h_n.value());
          if (y.c_n.defined()) outputs.push_back(y.c_n.value());
          for (const auto& v : all) grads.push_back(v.grad());
        }
        const std::size_t n_out = outputs.size() / 2, n_grad = grads.size() / 2;
        for (std::size_t i = 0; i < n_out; ++i)
          TG_CHECK_CLOSE(outputs[i], outputs[n_out + i], 1e-12);
        for (std::size_t i = 0; i < n_grad; ++i) TG_CHECK_CLOSE(grads[i], grads[n_grad + i], 1e-12);
      }
    }
  }
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
