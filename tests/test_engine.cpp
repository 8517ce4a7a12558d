// The engine: Var, Tape, record, backward, NoGrad, detach, DOT, per-thread tapes.
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>
#if defined(__SSE__)
#include <xmmintrin.h>
#endif

#include "helpers.hpp"

namespace {

using tapegrad::Array;
using tapegrad::Context;
using tapegrad::Grads;
using tapegrad::make_shape;
using tapegrad::shape_error;
using tapegrad::usage_error;
using tapegrad::value_error;
using tapegrad_test::message_of;
using V = tapegrad::Var<double>;

// Each test starts from an empty tape, whatever an earlier test left recorded.
tapegrad::Tape<double>& fresh_tape() {
  tapegrad::tape<double>().clear();
  return tapegrad::tape<double>();
}

}  // namespace

TEST_CASE("Var handles share state and report their value") {
  fresh_tape();
  const Array<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  V x(a, true, "x");
  CHECK(x.defined());
  CHECK(x.is_leaf());
  CHECK(x.requires_grad());
  CHECK(x.name() == "x");
  CHECK(x.shape() == make_shape({2, 3}));
  CHECK(x.ndim() == 2);
  CHECK(x.size() == 6);
  CHECK(x.size(0) == 2);
  CHECK(x.size(-1) == 3);
  CHECK(x.version() == 0);
  V copy = x;
  copy.set_name("renamed");
  CHECK(x.name() == "renamed");
  CHECK(copy.same(x));
  CHECK_FALSE(V(a).same(x));
  copy.mutable_value()(0, 0) = 10.0;
  CHECK(x.value()(0, 0) == 10.0);
  CHECK(x.version() == 1);

  const V s = V::scalar(2.5, true, "s");
  CHECK(s.ndim() == 0);
  CHECK(s.item() == 2.5);
  CHECK(tapegrad::constant(a).requires_grad() == false);
  CHECK(tapegrad::parameter(a).requires_grad() == true);

  const std::string item_msg = message_of<shape_error>([&] { (void)x.item(); });
  TG_CHECK_CONTAINS(item_msg, "[2,3]");
  CHECK_THROWS_AS((void)x.size(2), shape_error);
}

TEST_CASE("an empty Var is a usage_error when used") {
  fresh_tape();
  const V empty;
  CHECK_FALSE(empty.defined());
  CHECK_THROWS_AS((void)empty.value(), usage_error);
  const V x(Array<double>{1.0, 2.0}, true);
  const std::string msg = message_of<usage_error>([&] { (void)tapegrad::add(x, empty); });
  TG_CHECK_CONTAINS(msg, "add");
  TG_CHECK_CONTAINS(msg, "empty");
}

TEST_CASE("gradients accumulate across backward calls until zero_grad") {
  fresh_tape();
  const Array<double> a = {{1.0, -2.0, 3.0}, {0.5, 4.0, -1.0}};
  V x(a, true, "x");
  const auto run = [&] { tapegrad::backward(tapegrad::sum(x * x)); };  // d/dx = 2x
  CHECK_FALSE(x.has_grad());
  run();
  TG_CHECK_CLOSE(x.grad(), Array<double>(2.0 * a), 1e-12);
  run();
  TG_CHECK_CLOSE(x.grad(), Array<double>(4.0 * a), 1e-12);
  x.zero_grad();
  CHECK_FALSE(x.has_grad());
  CHECK_THROWS_AS((void)x.grad(), usage_error);
  run();
  TG_CHECK_CLOSE(x.grad(), Array<double>(2.0 * a), 1e-12);
}

TEST_CASE("a value used twice gets both gradients in one backward") {
  fresh_tape();
  const Array<double> a = {1.0, -2.0, 3.0};
  V x(a, true);
  tapegrad::sum(x * x + x * 3.0).backward();  // d/dx = 2x + 3
  TG_CHECK_CLOSE(x.grad(), Array<double>(2.0 * a + 3.0), 1e-12);
}

TEST_CASE("broadcast gradients are summed back to the input's shape") {
  fresh_tape();
  const Array<double> w = {{1.0, 2.0, 3.0, 4.0}, {5.0, 6.0, 7.0, 8.0}, {9.0, 10.0, 11.0, 12.0}};
  const V weights = tapegrad::constant(w);

  SUBCASE("bias [4] added to [3,4]") {
    V x(xt::zeros<double>({3, 4}), true);
    V b(Array<double>{0.1, 0.2, 0.3, 0.4}, true);
    tapegrad::backward(tapegrad::sum((x + b) * weights));
    REQUIRE(b.grad().shape() == make_shape({4}));
    TG_CHECK_CLOSE(b.grad(), (Array<double>{15.0, 18.0, 21.0, 24.0}), 1e-12);
    TG_CHECK_CLOSE(x.grad(), w, 1e-12);
  }
  SUBCASE("[3,1] times [1,4]") {
    V col(tapegrad_test::column({1.0, 2.0, 3.0}), true);
    V row(Array<double>{{1.0, -1.0, 2.0, 0.5}}, true);
    tapegrad::backward(tapegrad::sum(col * row * weights));
    // d/dcol_i = sum_j row_j w_ij; d/drow_j = sum_i col_i w_ij
    TG_CHECK_CLOSE(col.grad(),
                   tapegrad_test::column(
                       {1.0 - 2.0 + 6.0 + 2.0, 5.0 - 6.0 + 14.0 + 4.0, 9.0 - 10.0 + 22.0 + 6.0}),
                   1e-12);
    TG_CHECK_CLOSE(row.grad(), (Array<double>{{38.0, 44.0, 50.0, 56.0}}), 1e-12);
  }
  SUBCASE("a 0-d scalar times [3,4]") {
    V s = V::scalar(2.0, true);
    tapegrad::backward(tapegrad::sum(weights * s));
    CHECK(s.grad().dimension() == 0);
    CHECK(s.grad()() == doctest::Approx(78.0));
  }
}

TEST_CASE("NoGrad records nothing and restores the previous mode") {
  auto& tape = fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  CHECK(tapegrad::is_grad_enabled());
  {
    tapegrad::NoGrad no_grad;
    CHECK_FALSE(tapegrad::is_grad_enabled());
    const V y = tapegrad::exp(x) * 2.0;
    CHECK(tape.size() == 0);
    CHECK_FALSE(y.requires_grad());
    CHECK(y.is_leaf());
    CHECK(y.value()(1) == doctest::Approx(2.0 * std::exp(2.0)));
    {
      tapegrad::NoGrad nested;
      CHECK_FALSE(tapegrad::is_grad_enabled());
    }
    CHECK_FALSE(tapegrad::is_grad_enabled());
    const std::string msg = message_of<usage_error>([&] { tapegrad::backward(tapegrad::sum(y)); });
    TG_CHECK_CONTAINS(msg, "require");
  }
  CHECK(tapegrad::is_grad_enabled());
  const V z = tapegrad::exp(x);
  CHECK(tape.size() == 1);
  CHECK(z.requires_grad());
}

TEST_CASE("ops on values that need no gradient record nothing") {
  auto& tape = fresh_tape();
  const V c = tapegrad::constant(Array<double>{1.0, 2.0});
  const V y = tapegrad::tanh(c * c);
  CHECK(tape.size() == 0);
  CHECK_FALSE(y.requires_grad());
  V x(Array<double>{3.0, 4.0}, true);
  tapegrad::backward(tapegrad::sum(x * c));
  CHECK_FALSE(c.has_grad());
  TG_CHECK_CLOSE(x.grad(), (Array<double>{1.0, 2.0}), 1e-12);
}

TEST_CASE("detach cuts history") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0, 3.0}, true, "x");
  const V y = x * x;
  const V d = y.detach();
  CHECK(d.is_leaf());
  CHECK_FALSE(d.requires_grad());
  CHECK_FALSE(d.same(y));
  TG_CHECK_CLOSE(d.value(), y.value(), 0.0);
  // Only the direct use of x contributes: the path through d is cut.
  tapegrad::backward(tapegrad::sum(d * 5.0 + x));
  TG_CHECK_CLOSE(x.grad(), (Array<double>{1.0, 1.0, 1.0}), 1e-12);
  CHECK_FALSE(d.has_grad());
}

TEST_CASE("tape size and bytes grow with ops and drop to zero after backward") {
  auto& tape = fresh_tape();
  CHECK(tape.size() == 0);
  CHECK(tape.empty());
  CHECK(tape.bytes() == 0);
  V x(xt::ones<double>({3, 4}), true);
  const V y1 = x * 2.0;
  CHECK(tape.size() == 1);
  const std::size_t b1 = tape.bytes();
  CHECK(b1 >= 12 * sizeof(double));  // at least the output
  const V y2 = tapegrad::exp(y1);
  CHECK(tape.size() == 2);
  const std::size_t b2 = tape.bytes();
  CHECK(b2 > b1);
  const V loss = tapegrad::sum(y2);
  CHECK(tape.size() == 3);
  CHECK(tape.bytes() > b2);
  CHECK(tape.entries().size() == 3);
  CHECK(tape.entries()[0].op == "mul_scalar");
  CHECK(tape.entries()[1].op == "exp");
  tapegrad::backward(loss);
  CHECK(tape.size() == 0);
  CHECK(tape.bytes() == 0);
  CHECK(x.has_grad());

  const V again = tapegrad::sum(x * x);
  CHECK(tape.size() == 2);
  tape.clear();
  CHECK(tape.size() == 0);
  CHECK(tape.bytes() == 0);
}

// ---- values released from the tape (record's Reads) ----

namespace {
// The node of entry i's output, as the tape holds it.
const V::node_type& output_node(std::size_t i) {
  return *tapegrad::tape<double>().entries()[i].output.node();
}
}  // namespace

TEST_CASE("a value no rule reads is released when its last handle goes, its shape kept") {
  auto& tape = fresh_tape();
  V x(xt::ones<double>({3, 4}), true, "x");
  V loss;
  {
    const V a = x * 2.0;                       // mul_scalar: its rule reads nothing
    const V b = tapegrad::reshape(a, {4, 3});  // reshape reads nothing either
    loss = tapegrad::sum(b);
    CHECK_FALSE(output_node(0).released);  // still held here
    CHECK(tape.bytes() == (12 + 12 + 1) * sizeof(double));
  }
  CHECK(output_node(0).released);
  CHECK(output_node(1).released);
  CHECK_FALSE(output_node(2).released);   // loss: held
  CHECK(tape.bytes() == sizeof(double));  // only the loss; x is a parameter
  // The shape is kept: DOT, messages and an inspecting handle see it; the value is gone.
  const V gone = V::from_node(tape.entries()[0].output.node());
  CHECK(gone.shape() == make_shape({3, 4}));
  CHECK(gone.size() == 12);
  TG_CHECK_CONTAINS(message_of<usage_error>([&] { (void)gone.value(); }), "released");
  CHECK_THROWS_AS(tapegrad::exp(gone), usage_error);
  TG_CHECK_CONTAINS(tape.dot(), "[4,3]");
  tapegrad::backward(loss);
  TG_CHECK_CLOSE(x.grad(), Array<double>(xt::ones<double>({3, 4}) * 2.0), 0.0);
}

TEST_CASE("values a user holds, or a rule reads, are never released") {
  auto& tape = fresh_tape();
  V x(xt::ones<double>({2, 3}) * 0.5, true);
  std::vector<V> kept;
  V loss;
  {
    const V a = x * 3.0;  // read by nobody, but a copy is kept below
    kept.push_back(a);
    const V t = tapegrad::tanh(a + 1.0);  // tanh reads its output
    const V m = t * a;                    // mul reads both inputs
    loss = tapegrad::sum(m);
  }
  // mul_scalar (read by mul), add_scalar (read by nobody: tanh reads its output), tanh (read by
  // its own rule), mul (read by nobody: sum reads shapes only), sum (held)
  REQUIRE(tape.size() == 5);
  const bool released[] = {false, true, false, true, false};
  for (std::size_t i = 0; i < 5; ++i) CHECK(output_node(i).released == released[i]);
  CHECK(kept[0].value()(0, 0) == 1.5);
  // Dropping the last user handle of a value mul reads releases nothing either.
  kept.clear();
  CHECK_FALSE(output_node(0).released);
  tapegrad::backward(loss);
  // d/dx sum(tanh(3x + 1) * 3x) = 3 (1 - tanh^2) 3x + 3 tanh
  const double th = std::tanh(2.5);
  TG_CHECK_CLOSE(x.grad(),
                 Array<double>(xt::ones<double>({2, 3}) * (9.0 * 0.5 * (1 - th * th) + 3 * th)),
                 1e-12);
}

TEST_CASE("an assignment drops the old value as a destructor does") {
  auto& tape = fresh_tape();
  V x(xt::ones<double>({5}), true);
  V s = x;
  for (int i = 0; i < 4; ++i) s = s + 1.0;  // each step's output is read by nobody
  const V loss = tapegrad::sum(s);
  for (std::size_t i = 0; i < 3; ++i) CHECK(output_node(i).released);
  CHECK_FALSE(output_node(3).released);  // s
  CHECK(tape.bytes() == (5 + 1) * sizeof(double));
  s = s;  // a self-assignment keeps it
  CHECK_FALSE(output_node(3).released);
  tapegrad::backward(loss);
  TG_CHECK_CLOSE(x.grad(), Array<double>(xt::ones<double>({5})), 0.0);
}

TEST_CASE("a rule reading a value its op said it does not read is an internal_error") {
  fresh_tape();
  V x(Array<double>{0.5, -1.0, 2.0}, true);
  // Says it reads nothing, then reads its input: caught even while the input is held.
  tapegrad::CustomOp<double> liar(
      "liar_square",
      [](const std::vector<Array<double>>& in) { return Array<double>(in[0] * in[0]); },
      [](const Context<double>& c) {
        return Grads<double>{Array<double>(2.0 * c.input(0) * c.grad_output())};
      },
      tapegrad::Reads::none());
  const V held = liar({x});
  TG_CHECK_CONTAINS(
      message_of<tapegrad::internal_error>([&] { tapegrad::backward(tapegrad::sum(held)); }),
      "liar_square");
  // ... and when its input was released: no read of freed memory.
  fresh_tape();
  V y;
  {
    const V a = x * 2.0;
    y = liar({a});
  }
  CHECK(output_node(0).released);
  TG_CHECK_CONTAINS(
      message_of<tapegrad::internal_error>([&] { tapegrad::backward(tapegrad::sum(y)); }),
      "input 0");
  // The output, declared unread, likewise.
  fresh_tape();
  tapegrad::CustomOp<double> out_liar(
      "liar_exp",
      [](const std::vector<Array<double>>& in) { return Array<double>(xt::exp(in[0])); },
      [](const Context<double>& c) {
        return Grads<double>{Array<double>(c.output() * c.grad_output())};
      },
      tapegrad::Reads::all_inputs_only());
  const V e = out_liar({x});
  TG_CHECK_CONTAINS(
      message_of<tapegrad::internal_error>([&] { tapegrad::backward(tapegrad::sum(e)); }),
      "liar_exp");
  // Shapes are always there.
  fresh_tape();
  tapegrad::CustomOp<double> shapes(
      "shapes_only",
      [](const std::vector<Array<double>>& in) { return Array<double>(in[0] + 1.0); },
      [](const Context<double>& c) {
        CHECK(c.input_shape(0) == make_shape({3}));
        CHECK(c.output_shape() == make_shape({3}));
        return Grads<double>{c.grad_output()};
      },
      tapegrad::Reads::none());
  V z;
  {
    const V a = x * 2.0;
    z = shapes({a});
  }
  CHECK(output_node(0).released);
  tapegrad::backward(tapegrad::sum(z));
}

TEST_CASE("anomaly detection keeps every value") {
  auto& tape = fresh_tape();
  const tapegrad::DetectAnomaly on;
  V x(xt::ones<double>({3}), true);
  V loss;
  {
    const V a = x * 2.0;
    loss = tapegrad::sum(a);
  }
  CHECK_FALSE(output_node(0).released);
  CHECK(tape.bytes() == (3 + 1) * sizeof(double));
  tapegrad::backward(loss);
}

namespace {
// y = x^2 whose rule reads x and tries to take its storage for the gradient 2 x dy: `taken`
// tells whether it could, `seen` what the taken storage held.
tapegrad::CustomOp<double> taking_square(bool& taken, Array<double>& seen) {
  return tapegrad::CustomOp<double>(
      "taking_square",
      [](const std::vector<Array<double>>& in) { return Array<double>(in[0] * in[0]); },
      [&taken, &seen](const Context<double>& c) {
        std::optional<Array<double>> own = c.take_input(0);
        taken = own.has_value();
        if (!own) return Grads<double>{Array<double>(2.0 * c.input(0) * c.grad_output())};
        seen = *own;
        *own = 2.0 * *own * c.grad_output();  // the gradient in the input's storage
        return Grads<double>{std::move(*own)};
      },
      tapegrad::Reads::all_inputs_only());
}
}  // namespace

TEST_CASE("take_input hands a rule its input's storage only when nothing else can read it") {
  V x(Array<double>{0.5, -1.0, 2.0}, true, "x");
  const Array<double> expected{12.0, -24.0, 48.0};  // d/dx of 3 sum((2x)^2) = 24 x
  const Array<double> doubled{1.0, -2.0, 4.0};      // 2 x
  bool taken = false;
  Array<double> seen;
  const auto op = taking_square(taken, seen);
  SUBCASE("a computed value only this rule reads, no handle outside: taken, then released") {
    fresh_tape();
    V loss;
    {
      const V a = x * 2.0;
      loss = tapegrad::sum(op({a})) * 3.0;
    }
    tapegrad::backward(loss);
    CHECK(taken);
    TG_CHECK_CLOSE(seen, doubled, 0.0);
    TG_CHECK_CLOSE(x.grad(), expected, 1e-15);
  }
  SUBCASE("an op that holds the value but reads only its shape, walked first: still taken") {
    fresh_tape();
    V loss;
    {
      const V a = x * 2.0;
      const V y = tapegrad::sum(op({a}));                       // recorded first: walked last
      const V z = tapegrad::sum(tapegrad::reshape(a, {3, 1}));  // reshape reads no value
      loss = (y + z) * 3.0;
    }
    tapegrad::backward(loss);
    CHECK(taken);
    TG_CHECK_CLOSE(x.grad(), Array<double>(expected + 6.0), 1e-15);
  }
  SUBCASE("a handle held outside the tape: not taken, and the value stays") {
    fresh_tape();
    const V a = x * 2.0;
    tapegrad::backward(tapegrad::sum(op({a})) * 3.0);
    CHECK_FALSE(taken);
    TG_CHECK_CLOSE(a.value(), doubled, 0.0);
    TG_CHECK_CLOSE(x.grad(), expected, 1e-15);
  }
  SUBCASE("a leaf: not taken") {
    fresh_tape();
    V y(doubled, true);
    tapegrad::backward(tapegrad::sum(op({y})) * 3.0);
    CHECK_FALSE(taken);
    TG_CHECK_CLOSE(y.value(), doubled, 0.0);
  }
  SUBCASE("another rule reads the value too: not taken") {
    fresh_tape();
    V loss;
    {
      const V a = x * 2.0;
      const V z = tapegrad::sum(a * a);  // mul reads a, and its rule runs after this op's
      const V y = tapegrad::sum(op({a}));
      loss = (z + y) * 3.0;
    }
    tapegrad::backward(loss);
    CHECK_FALSE(taken);
    TG_CHECK_CLOSE(x.grad(), Array<double>(expected * 2.0), 1e-15);
  }
  SUBCASE("under anomaly detection: not taken") {
    fresh_tape();
    const tapegrad::DetectAnomaly on;
    V loss;
    {
      const V a = x * 2.0;
      loss = tapegrad::sum(op({a})) * 3.0;
    }
    tapegrad::backward(loss);
    CHECK_FALSE(taken);
    TG_CHECK_CLOSE(x.grad(), expected, 1e-15);
  }
}

TEST_CASE("a freed tape releases nothing: handles left from it keep their values") {
  auto& tape = fresh_tape();
  V x(xt::ones<double>({3}), true);
  V a = x * 2.0;
  const V b = a + 1.0;  // a: the output of entry 0 and an input of entry 1
  V a2 = a;
  const V a3 = a;
  tape.clear();
  // Three handles left, as many as the tape's two plus one: had the freed tape's count been
  // trusted, dropping one would free the value under the other two.
  a2 = V();
  CHECK(a.value()(0) == 2.0);
  CHECK(a3.value()(2) == 2.0);
  CHECK(b.value()(1) == 3.0);
}

TEST_CASE("backward twice through the same output is a usage_error") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  const V loss = tapegrad::sum(tapegrad::exp(x));
  tapegrad::backward(loss);
  const Array<double> first = x.grad();
  const std::string msg = message_of<usage_error>([&] { tapegrad::backward(loss); });
  TG_CHECK_CONTAINS(msg, "backward");
  TG_CHECK_CONTAINS(msg, "freed");
  TG_CHECK_CONTAINS(msg, "forward");
  // The failed call changed no gradient.
  TG_CHECK_CLOSE(x.grad(), first, 0.0);
}

TEST_CASE("backward through a cleared tape is a usage_error") {
  auto& tape = fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  const V loss = tapegrad::sum(x * x);
  tape.clear();
  const std::string msg = message_of<usage_error>([&] { loss.backward(); });
  TG_CHECK_CONTAINS(msg, "freed");
  CHECK_FALSE(x.has_grad());
}

TEST_CASE("a value from a freed tape used in a new op is a usage_error") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  const V h = tapegrad::tanh(x);
  tapegrad::backward(tapegrad::sum(h));
  const std::string msg = message_of<usage_error>([&] { (void)(h * 3.0); });
  TG_CHECK_CONTAINS(msg, "mul_scalar");
  TG_CHECK_CONTAINS(msg, "freed");
  TG_CHECK_CONTAINS(msg, "detach");
  // detach() is the way to carry a value over (truncated BPTT).
  x.zero_grad();
  const V carried = h.detach();
  tapegrad::backward(tapegrad::sum(carried * x));
  TG_CHECK_CLOSE(x.grad(), h.value(), 1e-12);
}

TEST_CASE("changing a saved input in place before backward is a usage_error") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0, 3.0}, true, "x");
  V w(Array<double>{4.0, 5.0, 6.0}, true, "w");
  const V loss = tapegrad::sum(x * w);
  w.mutable_value()(0) = 100.0;
  CHECK(w.version() == 1);
  const std::string msg = message_of<usage_error>([&] { tapegrad::backward(loss); });
  TG_CHECK_CONTAINS(msg, "mul");
  TG_CHECK_CONTAINS(msg, "in place");
  TG_CHECK_CONTAINS(msg, "w");
  // The tape is freed after the failure; a fresh forward pass works.
  CHECK(tapegrad::tape<double>().empty());
  tapegrad::backward(tapegrad::sum(x * w));
  TG_CHECK_CLOSE(x.grad(), w.value(), 1e-12);
}

TEST_CASE("updating a parameter in place between steps is fine") {
  fresh_tape();
  V w(Array<double>{1.0, -1.0}, true, "w");
  const Array<double> x = {2.0, 3.0};
  for (int step = 0; step < 3; ++step) {
    w.zero_grad();
    tapegrad::backward(tapegrad::sum(w * w * tapegrad::constant(x)));  // d/dw = 2 w x
    const Array<double> expected = 2.0 * w.value() * x;
    TG_CHECK_CLOSE(w.grad(), expected, 1e-12);
    tapegrad::NoGrad no_grad;
    w.mutable_value() -= 0.1 * w.grad();  // an SGD step
  }
  CHECK(w.version() == 3);
}

// An op that doubles row `r` of `g` and says its rule reads only that row, as a fused
// recurrent step reads its own time step of the gate input.
V double_row(const V& g, std::size_t r) {
  const Array<double> row = xt::view(g.value(), r, xt::all()) * 2.0;
  return tapegrad::record<double>(
      "double_row", {g}, row,
      [r](const Context<double>& c) {
        return Grads<double>{tapegrad::Grad<double>::at(2.0 * c.grad_output(), 0, r)};
      },
      {}, {tapegrad::RowRead{0, r}});
}

TEST_CASE("in-place row writes: a rule that reads one row survives writes to the others only") {
  fresh_tape();
  V x(Array<double>{{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, true, "x");
  SUBCASE("writes to other rows leave it valid") {
    V g = x * 1.0;
    const V y0 = double_row(g, 0);
    g.mutable_row(1)[0] = 7.0;  // what the next fused step does to its own row
    const V y1 = double_row(g, 1);
    CHECK(g.row_version(1) == 1);
    CHECK(g.row_version(0) == 0);
    tapegrad::backward(tapegrad::sum(y0) + tapegrad::sum(y1));
    TG_CHECK_CLOSE(x.grad(), (Array<double>{{2.0, 2.0}, {2.0, 2.0}, {0.0, 0.0}}), 1e-15);
  }
  SUBCASE("a write to its own row is a usage_error naming the op, the input and the row") {
    V g = x * 1.0;
    const V y0 = double_row(g, 0);
    g.mutable_row(0)[1] = 7.0;
    const std::string msg = message_of<usage_error>([&] { tapegrad::backward(tapegrad::sum(y0)); });
    TG_CHECK_CONTAINS(msg, "double_row");
    TG_CHECK_CONTAINS(msg, "row 0");
    TG_CHECK_CONTAINS(msg, "in place");
  }
  SUBCASE("a write to the whole value is a usage_error") {
    V g = x * 1.0;
    const V y2 = double_row(g, 2);
    g.mutable_value()(0, 0) = 7.0;
    const std::string msg = message_of<usage_error>([&] { tapegrad::backward(tapegrad::sum(y2)); });
    TG_CHECK_CONTAINS(msg, "double_row");
    TG_CHECK_CONTAINS(msg, "row 2");
  }
  SUBCASE("an op that read the whole value before a row write fails as any in-place misuse") {
    V g = x * 1.0;
    const V squares = g * g;  // mul's backward reads both inputs whole
    g.mutable_row(2)[0] = 7.0;
    const std::string msg =
        message_of<usage_error>([&] { tapegrad::backward(tapegrad::sum(squares)); });
    TG_CHECK_CONTAINS(msg, "'mul'");
    TG_CHECK_CONTAINS(msg, "in place");
  }
  SUBCASE("a rule that reads its own output fails when a row of it was written") {
    const V t = tapegrad::tanh(x);  // tanh's backward reads its output: 1 - tanh^2
    V written = t;
    written.mutable_row(1)[0] = 0.5;
    const std::string msg = message_of<usage_error>([&] { tapegrad::backward(tapegrad::sum(t)); });
    TG_CHECK_CONTAINS(msg, "'tanh'");
    TG_CHECK_CONTAINS(msg, "output");
  }
  SUBCASE("a row write to an op's output that its rule does not read is fine") {
    V g = x * 2.0;  // mul_scalar's backward reads no value
    g.mutable_row(0)[0] = 100.0;
    tapegrad::backward(tapegrad::sum(g));
    TG_CHECK_CLOSE(x.grad(), xt::full_like(x.value(), 2.0), 1e-15);
  }
  SUBCASE("bad rows are errors") {
    V g = x * 1.0;
    CHECK_THROWS_AS(g.mutable_row(3), value_error);
    CHECK_THROWS_AS(V::scalar(1.0, true).mutable_row(0), shape_error);
    CHECK_THROWS_AS(
        tapegrad::record<double>("bad_row", {g}, g.value(),
                                 [](const Context<double>&) { return Grads<double>(1); }, {},
                                 {tapegrad::RowRead{0, 3}}),
        usage_error);
  }
}

TEST_CASE("a backward rule returning a wrong-shaped gradient fails naming the op") {
  fresh_tape();
  V x(xt::ones<double>({2, 3}), true);
  const V y = tapegrad::record<double>(
      "bad_shape_op", {x}, Array<double>(x.value() * 2.0),
      [](const Context<double>&) { return Grads<double>{Array<double>(xt::ones<double>({5}))}; });
  const std::string msg = message_of<shape_error>([&] { tapegrad::backward(tapegrad::sum(y)); });
  TG_CHECK_CONTAINS(msg, "bad_shape_op");
  TG_CHECK_CONTAINS(msg, "[5]");
  TG_CHECK_CONTAINS(msg, "[2,3]");
}

TEST_CASE("a backward rule returning the wrong number of gradients fails naming the op") {
  fresh_tape();
  V x(xt::ones<double>({2, 3}), true);
  const V y = tapegrad::record<double>("wrong_count_op", {x}, Array<double>(x.value() * 2.0),
                                       [](const Context<double>& c) {
                                         return Grads<double>{c.grad_output(), c.grad_output()};
                                       });
  const std::string msg = message_of<usage_error>([&] { tapegrad::backward(tapegrad::sum(y)); });
  TG_CHECK_CONTAINS(msg, "wrong_count_op");
  TG_CHECK_CONTAINS(msg, "2 gradients");
  TG_CHECK_CONTAINS(msg, "1 input");
}

TEST_CASE("backward on a non-scalar needs a gradient of its shape") {
  fresh_tape();
  V x(Array<double>{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}}, true);
  const V y = x * 2.0;
  const std::string msg = message_of<usage_error>([&] { tapegrad::backward(y); });
  TG_CHECK_CONTAINS(msg, "[2,3]");
  const std::string shape_msg = message_of<shape_error>([&] {
    tapegrad::backward(y, Array<double>(xt::ones<double>({3, 2})));
  });
  TG_CHECK_CONTAINS(shape_msg, "[3,2]");
  TG_CHECK_CONTAINS(shape_msg, "[2,3]");
  const Array<double> g = {{1.0, 0.0, -1.0}, {0.5, 2.0, 3.0}};
  y.backward(g);
  TG_CHECK_CLOSE(x.grad(), Array<double>(2.0 * g), 1e-12);
}

TEST_CASE("backward on a leaf seeds its gradient with one") {
  fresh_tape();
  V s = V::scalar(3.0, true);
  s.backward();
  CHECK(s.grad()() == 1.0);
  const V c = V::scalar(3.0, false);
  CHECK_THROWS_AS(c.backward(), usage_error);
}

TEST_CASE("retain_grad keeps a non-leaf's gradient") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  V h = x * 3.0;
  V kept = x * 2.0;
  kept.retain_grad();
  CHECK_FALSE(h.is_leaf());
  tapegrad::backward(tapegrad::sum(h * kept));
  TG_CHECK_CLOSE(kept.grad(), h.value(), 1e-12);
  const std::string msg = message_of<usage_error>([&] { (void)h.grad(); });
  TG_CHECK_CONTAINS(msg, "retain_grad");
}

TEST_CASE("set_requires_grad and set_grad check their use") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  V y = x * 2.0;
  const std::string msg = message_of<usage_error>([&] { y.set_requires_grad(false); });
  TG_CHECK_CONTAINS(msg, "detach");
  const std::string grad_msg =
      message_of<shape_error>([&] { x.set_grad(Array<double>(xt::ones<double>({3}))); });
  TG_CHECK_CONTAINS(grad_msg, "[3]");
  TG_CHECK_CONTAINS(grad_msg, "[2]");
  x.set_grad(Array<double>{5.0, 6.0});
  TG_CHECK_CLOSE(x.grad(), (Array<double>{5.0, 6.0}), 0.0);
  V leaf(Array<double>{1.0});
  leaf.set_requires_grad();
  CHECK(leaf.requires_grad());
  tapegrad::tape<double>().clear();
}

TEST_CASE("DOT export names the ops and the shapes") {
  auto& tape = fresh_tape();
  V x(xt::ones<double>({2, 3}), true, "x");
  V w(xt::ones<double>({3, 4}), true, "w");
  const V loss = tapegrad::sum(tapegrad::tanh(tapegrad::matmul(x, w)));
  const std::string dot = tape.dot();
  TG_CHECK_CONTAINS(dot, "digraph");
  TG_CHECK_CONTAINS(dot, "matmul");
  TG_CHECK_CONTAINS(dot, "tanh");
  TG_CHECK_CONTAINS(dot, "sum");
  TG_CHECK_CONTAINS(dot, "[2,3]");
  TG_CHECK_CONTAINS(dot, "[3,4]");
  TG_CHECK_CONTAINS(dot, "[2,4]");
  TG_CHECK_CONTAINS(dot, "x");
  std::ostringstream out;
  tape.write_dot(out);
  CHECK(out.str() == dot);
  tapegrad::backward(loss);
  CHECK_FALSE(tapegrad_test::contains(tape.dot(), "matmul"));
}

TEST_CASE("float and double values record on separate tapes") {
  fresh_tape();
  tapegrad::tape<float>().clear();
  tapegrad::Var<float> xf(Array<float>{1.0f, 2.0f}, true);
  const auto yf = tapegrad::sum(xf * xf);
  CHECK(tapegrad::tape<float>().size() == 2);
  CHECK(tapegrad::tape<double>().size() == 0);
  tapegrad::backward(yf);
  TG_CHECK_CLOSE(xf.grad(), (Array<float>{2.0f, 4.0f}), 1e-6);
  CHECK(tapegrad::tape<float>().size() == 0);
}

TEST_CASE("each thread records on its own tape") {
  auto& main_tape = fresh_tape();
  V main_x(Array<double>{1.0, 2.0}, true);
  const V main_loss = tapegrad::sum(main_x * main_x);
  REQUIRE(main_tape.size() == 2);

  struct Result {
    bool ok = true;
    std::string error;
    Array<double> grad;
    std::size_t recorded = 0;
    std::size_t after_backward = 1;
  };
  const auto worker = [](double k, Result& out) {
    try {
      V x(Array<double>{{1.0, -2.0, 3.0}, {0.5, 1.5, -1.0}}, true);
      for (int step = 0; step < 50; ++step) {
        const V loss = tapegrad::sum(x * x * k);  // d/dx = 2 k x
        out.recorded = tapegrad::tape<double>().size();
        tapegrad::backward(loss);
        out.after_backward = tapegrad::tape<double>().size();
      }
      out.grad = x.grad();  // 50 steps accumulated
    } catch (const std::exception& e) {
      out.ok = false;
      out.error = e.what();
    }
  };
  Result r1, r2;
  std::thread t1(worker, 1.0, std::ref(r1));
  std::thread t2(worker, 3.0, std::ref(r2));
  t1.join();
  t2.join();
  const Array<double> x0 = {{1.0, -2.0, 3.0}, {0.5, 1.5, -1.0}};
  const std::vector<std::pair<double, const Result*>> results = {{1.0, &r1}, {3.0, &r2}};
  for (const auto& kr : results) {
    const double k = kr.first;
    const Result* r = kr.second;
    INFO("thread with k = ", k);
    CHECK_MESSAGE(r->ok, r->error);
    CHECK(r->recorded == 3);
    CHECK(r->after_backward == 0);
    TG_CHECK_CLOSE(r->grad, Array<double>(50.0 * 2.0 * k * x0), 1e-12);
  }
  // The main thread's tape was not touched.
  CHECK(main_tape.size() == 2);
  tapegrad::backward(main_loss);
  TG_CHECK_CLOSE(main_x.grad(), (Array<double>{2.0, 4.0}), 1e-12);
}

TEST_CASE("a value recorded on another thread is a usage_error as an op input") {
  fresh_tape();
  V x(Array<double>{1.0, 2.0}, true);
  V recorded_elsewhere;
  std::thread t([&] { recorded_elsewhere = tapegrad::exp(x); });
  t.join();
  REQUIRE(recorded_elsewhere.defined());
  const std::string msg = message_of<usage_error>([&] { (void)(recorded_elsewhere * 2.0); });
  TG_CHECK_CONTAINS(msg, "thread");
}

TEST_CASE("generator: seeded draws, and a normal with stddev 0 is its mean") {
  tapegrad::Generator a(5), b(5);
  const Array<double> x = a.normal<double>(tapegrad::make_shape({4, 3}), 1.0, 2.0);
  CHECK(x == b.normal<double>(tapegrad::make_shape({4, 3}), 1.0, 2.0));
  CHECK(x != a.normal<double>(tapegrad::make_shape({4, 3}), 1.0, 2.0));
  for (double v : a.normal<double>(tapegrad::make_shape({5}), 3.5, 0.0)) CHECK(v == 3.5);
  const std::string m = tapegrad_test::message_of<tapegrad::value_error>(
      [&] { a.normal<float>(tapegrad::make_shape({2}), 0.0f, -1.0f); });
  CHECK(tapegrad_test::contains(m, "stddev -1 is negative"));
  for (float v : a.uniform<float>(tapegrad::make_shape({100}), -2.0f, 3.0f)) {
    CHECK(v >= -2.0f);
    CHECK(v < 3.0f);
  }
}

TEST_CASE("backward flushes subnormal gradients to zero unless told not to, and restores MXCSR") {
  // y = x * 1e-30 seeded with 1e-10: dy/dx = 1e-40, below float's smallest normal 1.2e-38.
  const auto grad_of_x = [] {
    tapegrad::Var<float> x = tapegrad::parameter(tapegrad::Array<float>({1.0f}));
    const tapegrad::Var<float> y = x * tapegrad::Var<float>::scalar(1e-30f);
    y.backward(tapegrad::Array<float>({1e-10f}));
    return x.grad()(0);
  };
#if defined(__SSE__)
  const unsigned control = 0xFFC0;  // MXCSR's mode bits (the low six are sticky status flags)
  const unsigned before = _mm_getcsr() & control;
#endif
  REQUIRE(tapegrad::flush_denormals());
  CHECK(grad_of_x() == 0.0f);
  tapegrad::set_flush_denormals(false);
  const float subnormal = grad_of_x();
  tapegrad::set_flush_denormals(true);
  CHECK(subnormal > 0.0f);
  CHECK(subnormal < 1.2e-38f);
#if defined(__SSE__)
  CHECK((_mm_getcsr() & control) == before);
#endif
}

TEST_CASE("a LeafGradHook sees each leaf once, when its gradient is final, in reverse use order") {
  // Forward: a feeds the first op, b the second, c the last; a also feeds the last op, so
  // a's gradient is final only at the end. w gets no gradient: what reads it is not on the
  // root's path. k requires none and is never reported.
  V a = tapegrad::parameter(Array<double>({{0.5, -1.0}, {2.0, 0.25}}), "a");
  V b = tapegrad::parameter(Array<double>({{1.5, 0.5}, {-0.5, 1.0}}), "b");
  V c = tapegrad::parameter(Array<double>({0.3, -0.7}), "c");
  V w = tapegrad::parameter(Array<double>({1.0, 2.0}), "w");
  V k = tapegrad::constant(Array<double>({3.0, 4.0}), "k");
  std::vector<std::string> order;
  std::vector<std::pair<std::string, Array<double>>> seen;
  std::vector<bool> had_grad;
  std::vector<std::string> announced;
  {
    const tapegrad::LeafGradHook<double> hook(
        [&](const V& leaf) {
          order.push_back(leaf.name());
          had_grad.push_back(leaf.has_grad());
          if (leaf.has_grad()) seen.emplace_back(leaf.name(), leaf.grad());
        },
        [&](const std::vector<V>& leaves) {
          CHECK(order.empty());  // before any leaf is reported
          for (const V& leaf : leaves) announced.push_back(leaf.name());
        });
    V h = tapegrad::tanh(tapegrad::matmul(a, b));  // entries 0 (matmul: a, b), 1 (tanh)
    const V unused = w * k;                        // entry 2: w, off the root's path
    V y = tapegrad::sum((h + c) * a * k);          // c at entry 3; a and k later
    y.backward();
    // Entry 0 reads a and b: both final there, in the reverse of their order as inputs.
    CHECK(order == std::vector<std::string>{"c", "w", "b", "a"});
    CHECK(announced == order);
    // w's entry is walked with no gradient flowing into it: reported without one.
    CHECK(had_grad == std::vector<bool>{true, false, true, true});
  }
  // What each hook saw is the final gradient.
  REQUIRE(seen.size() == 3);
  for (const auto& [name, grad] : seen) {
    const V leaf = name == "a" ? a : name == "b" ? b : c;
    CHECK_MESSAGE(grad == leaf.grad(), name);
  }
  // Destroyed: a later backward calls nothing.
  order.clear();
  a.zero_grad();
  tapegrad::sum(a * a).backward();
  CHECK(order.empty());
  CHECK(a.has_grad());
}

TEST_CASE("a LeafGradHook reports a leaf root, and an empty hook is a usage_error") {
  V x = tapegrad::parameter(Array<double>({2.0}), "x");
  std::vector<double> seen;
  const tapegrad::LeafGradHook<double> hook([&](const V& leaf) {
    CHECK(leaf.same(x));
    seen.push_back(leaf.grad()(0));
  });
  x.backward();
  CHECK(seen == std::vector<double>{1.0});
  CHECK(message_of<usage_error>([] {
          tapegrad::LeafGradHook<double>(std::function<void(const V&)>());
        }) == "LeafGradHook: the ready function is empty");
  // A hook that throws ends backward and frees the tape.
  {
    const tapegrad::LeafGradHook<double> failing([](const V&) { throw usage_error("stop here"); });
    V y = tapegrad::sum(x * x);
    CHECK(message_of<usage_error>([&] { y.backward(); }) == "stop here");
    CHECK(tapegrad::tape<double>().empty());
  }
}
