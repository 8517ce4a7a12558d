// Anomaly detection: the first NaN or infinity, forward or backward, is a numerical_error that
// names the op, where it ran (scopes, layer, direction, time step) and the element.
#include <cmath>
#include <limits>
#include <string>

#include "helpers.hpp"

using tapegrad::Array;
using tapegrad::make_shape;
using tapegrad::Var;

TEST_CASE("anomaly: a forward NaN names the op, its scope, the element and the inputs") {
  const tapegrad::DetectAnomaly on;
  Var<double> x = tapegrad::parameter(Array<double>({1.0, -2.0, 3.0}));
  x.set_name("x");
  const tapegrad::Scope scope("my model");
  const std::string message =
      tapegrad_test::message_of<tapegrad::numerical_error>([&] { tapegrad::log(x); });
  TG_CHECK_CONTAINS(message, "anomaly: 'log' in my model computed NaN at [1] of shape [3]");
  TG_CHECK_CONTAINS(message, "inputs: 'x' [3]");
}

TEST_CASE("anomaly: a backward infinity names the op, the input and its output's gradient") {
  const tapegrad::DetectAnomaly on;
  Var<double> x = tapegrad::parameter(Array<double>({4.0, 0.0}));
  x.set_name("x");
  Var<double> y;
  {
    const tapegrad::Scope scope("norms");
    y = tapegrad::sqrt(x);  // d sqrt(x)/dx = 1 / (2 sqrt(x)): inf at 0
  }
  y.set_name("root");
  const std::string message =
      tapegrad_test::message_of<tapegrad::numerical_error>([&] { tapegrad::sum(y).backward(); });
  TG_CHECK_CONTAINS(message,
                    "anomaly: backward of 'sqrt' in norms returned inf at [1] of shape "
                    "[2] in the gradient for input 0 ('x' [2])");
  TG_CHECK_CONTAINS(message, "the gradient of its output is finite");
  TG_CHECK_CONTAINS(message, "output 'root'");
}

TEST_CASE("anomaly detection is off by default and DetectAnomaly restores the setting") {
  CHECK_FALSE(tapegrad::detect_anomaly());
  {
    const tapegrad::DetectAnomaly on;
    CHECK(tapegrad::detect_anomaly());
  }
  CHECK_FALSE(tapegrad::detect_anomaly());
  const Var<double> x = tapegrad::parameter(Array<double>({-1.0}));
  CHECK(std::isnan(tapegrad::log(x).value()(0)));  // no error when off
  CHECK(tapegrad::scope_path().empty());
  {
    const tapegrad::Scope a("a");
    const tapegrad::Scope b("b");
    CHECK(tapegrad::scope_path() == "a / b");
  }
  CHECK(tapegrad::scope_path().empty());
}
