// A seeded random driver over the op registry: every op is called with shapes drawn at random
// (often invalid: other ranks, other sizes, empty axes, broadcasts that cannot work), forward
// and backward. Each call must end in one of two ways: a result whose gradients pass
// gradcheck, or a typed tapegrad exception (shape_error, value_error, usage_error) with a
// message. Anything else (another exception type, an internal_error, a crash or a sanitizer
// report in the ASan build) fails the test.
#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "op_registry.hpp"

namespace {

using tapegrad::Shape;
using tapegrad_test::OpCase;

// A shape near `shape`: the same, one size changed, an axis added or dropped, or a new random
// shape of rank 0-3 with sizes 0-4.
Shape mutate(const Shape& shape, std::mt19937_64& rng) {
  std::uniform_int_distribution<int> kind(0, 5);
  std::uniform_int_distribution<std::size_t> size(0, 4);
  std::vector<std::size_t> dims(shape.begin(), shape.end());
  switch (kind(rng)) {
    case 0:
    case 1:
      break;  // unchanged: most calls should be valid, so gradcheck runs often
    case 2:
      if (!dims.empty()) dims[rng() % dims.size()] = size(rng);
      break;
    case 3:
      dims.insert(dims.begin() + static_cast<std::ptrdiff_t>(rng() % (dims.size() + 1)),
                  1 + size(rng) % 3);
      break;
    case 4:
      if (!dims.empty())
        dims.erase(dims.begin() + static_cast<std::ptrdiff_t>(rng() % dims.size()));
      break;
    default: {
      dims.assign(rng() % 4, 0);
      for (std::size_t& d : dims) d = size(rng);
    }
  }
  return tapegrad::make_shape(dims);
}

struct Tally {
  std::size_t calls = 0;
  std::size_t passed_gradcheck = 0;
  std::size_t typed_errors = 0;
};

}  // namespace

TEST_CASE("fuzz: random shapes give a gradient that passes gradcheck or a typed error") {
  const std::vector<OpCase>& registry = tapegrad_test::op_registry();
  std::mt19937_64 rng(20261123);
  Tally tally;
  const std::size_t trials = 20000;
  for (std::size_t trial = 0; trial < trials; ++trial) {
    OpCase c = registry[rng() % registry.size()];
    for (Shape& s : c.shapes) s = mutate(s, rng);
    std::string shapes;
    for (const Shape& s : c.shapes) shapes += tapegrad::shape_str(s) + " ";
    INFO("trial ", trial, ": ", c.label(), " called with ", shapes);
    tapegrad::tape<double>().clear();
    ++tally.calls;
    try {
      const std::vector<tapegrad::Var<double>> inputs = tapegrad_test::make_inputs(c, trial);
      const tapegrad::Var<double> out = c.fn(inputs);
      CHECK(out.defined());
      const tapegrad::GradcheckReport report = tapegrad::gradcheck(c.fn, inputs);
      CHECK_MESSAGE(report.passed, report.message());
      tally.passed_gradcheck += report.passed;
    } catch (const tapegrad::shape_error& e) {
      CHECK(std::string(e.what()).size() > 10);
      ++tally.typed_errors;
    } catch (const tapegrad::value_error& e) {
      CHECK(std::string(e.what()).size() > 10);
      ++tally.typed_errors;
    } catch (const tapegrad::usage_error& e) {
      CHECK(std::string(e.what()).size() > 10);
      ++tally.typed_errors;
    } catch (const std::exception& e) {
      FAIL_CHECK("an exception that is not a tapegrad error: ", e.what());
    }
  }
  tapegrad::tape<double>().clear();
  MESSAGE("fuzz: ", tally.calls, " calls: ", tally.passed_gradcheck, " passed gradcheck, ",
          tally.typed_errors, " typed errors");
  CHECK(tally.passed_gradcheck + tally.typed_errors == tally.calls);
  // Both outcomes are common, or the driver is not exploring.
  CHECK(tally.passed_gradcheck > trials / 5);
  CHECK(tally.typed_errors > trials / 5);
}
