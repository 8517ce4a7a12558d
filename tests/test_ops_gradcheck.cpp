// Every case of the op registry is gradchecked in double. That every registered op has cases,
// and the forward and argument checks of the same cases, are in test_ops_registry.cpp.
#include <doctest/doctest.h>

#include <exception>
#include <vector>

#include "helpers.hpp"
#include "op_registry.hpp"

namespace {
using tapegrad_test::op_registry;
using tapegrad_test::OpCase;
}  // namespace

TEST_CASE("gradcheck passes for every case of the op registry") {
  std::size_t checked_cases = 0;
  for (const OpCase& c : op_registry()) {
    INFO("op case: ", c.label());
    try {
      const std::vector<tapegrad::Var<double>> inputs = tapegrad_test::make_inputs(c);
      std::size_t elements = 0;
      for (const auto& v : inputs) elements += v.size();
      const tapegrad::GradcheckReport report = tapegrad::gradcheck(c.fn, inputs);
      CHECK_MESSAGE(report.passed, c.label(), ": ", report.message());
      CHECK_MESSAGE(report.elements_checked == elements, c.label(), ": checked ",
                    report.elements_checked, " of ", elements, " input elements");
      ++checked_cases;
    } catch (const std::exception& e) {
      FAIL_CHECK(c.label(), " threw: ", e.what());
    }
  }
  CHECK(checked_cases == op_registry().size());
}
