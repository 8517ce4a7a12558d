// The custom layer and custom op of examples/custom_layer, written as a user would (public
// headers only), pass gradcheck like the library's own.
#include "helpers.hpp"
#include "peephole_lstm.hpp"

using tapegrad::Var;
using V = Var<double>;
using Vs = std::vector<V>;

TEST_CASE("custom op softsign (forward and backward lambdas) passes gradcheck") {
  tapegrad::Generator gen(3);
  const V x(gen.normal<double>(tapegrad::make_shape({3, 5}), 0.0, 2.0), true);
  const auto report =
      tapegrad::gradcheck([](const Vs& in) { return custom::softsign(in[0]); }, {x});
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(custom::softsign(V(tapegrad::Array<double>{-3.0, 1.0})).value()(0) == -0.75);
}

TEST_CASE("custom PeepholeLSTMCell unrolled over 3 steps passes gradcheck") {
  tapegrad::Generator gen(4);
  custom::PeepholeLSTMCell<double> cell(3, 4, gen);
  CHECK(cell.named_parameters().size() == 6);
  const V x(gen.normal<double>(tapegrad::make_shape({3, 2, 3})), true);
  const V h0(gen.normal<double>(tapegrad::make_shape({2, 4}), 0.0, 0.5), true);
  const V c0(gen.normal<double>(tapegrad::make_shape({2, 4}), 0.0, 0.5), true);
  const auto report = tapegrad::gradcheck(
      [&](const Vs& in) {
        custom::PeepholeLSTMCell<double>::State s{in[1], in[2]};
        for (std::size_t t = 0; t < 3; ++t) s = cell(tapegrad::select(in[0], 0, t), s);
        return tapegrad::concat({s.h, s.c}, 1);
      },
      {x, h0, c0}, cell.parameters());
  CHECK_MESSAGE(report.passed, report.message());
  CHECK(report.elements_checked == 18 + 8 + 8 + cell.num_parameters());
}
