// The tables of the bad-argument tests (test_arguments*.cpp, one file per part, and the
// examples' examples/tests/test_arguments.cpp): each row is a call that must throw and a part of
// its message, or a good edge value that must be accepted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "helpers.hpp"

namespace tapegrad_test::arguments {

using tapegrad::Array;
using tapegrad::Index;
using tapegrad::IndexArray;
using tapegrad::make_shape;
using tapegrad::Var;

inline const double not_a_number = std::numeric_limits<double>::quiet_NaN();
inline const double infinity = std::numeric_limits<double>::infinity();
// What a negative size becomes once converted to std::size_t: Linear(-1, 3) compiles.
inline const std::size_t minus_one = static_cast<std::size_t>(-1);

/// A call that must throw, and a part its message must contain.
struct Bad {
  std::string call;
  std::function<void()> fn;
  std::string part;
};

/// Every row throws E with a message containing its part.
template <class E>
void expect_rejected(const std::vector<Bad>& rows) {
  for (const Bad& row : rows) {
    INFO("call: ", row.call);
    REQUIRE_FALSE(row.part.empty());
    const std::string message = tapegrad_test::message_of<E>(row.fn);
    TG_CHECK_CONTAINS(message, row.part);
  }
}

/// A call that must succeed.
struct Good {
  std::string call;
  std::function<void()> fn;
};

inline void expect_accepted(const std::vector<Good>& rows) {
  for (const Good& row : rows) {
    INFO("call: ", row.call);
    CHECK_NOTHROW(row.fn());
  }
}

/// Default options with one change: with<optim::AdamOptions>([](auto& o) { o.eps = -1; }).
template <class Options, class Set>
Options with(Set set) {
  Options o;
  set(o);
  return o;
}

inline Var<double> random_var(std::initializer_list<std::size_t> shape, std::uint64_t seed,
                              bool requires_grad = false) {
  tapegrad::Generator g(seed);
  return Var<double>(g.normal<double>(make_shape(shape)), requires_grad);
}

// A trainable [3] float parameter with gradient 1 everywhere.
inline Var<float> parameter_with_grad() {
  Array<float> value = Array<float>::from_shape({3});
  value.fill(0.5f);
  Var<float> p(value, true);
  Array<float> grad = Array<float>::from_shape({3});
  grad.fill(1.0f);
  p.set_grad(grad);
  return p;
}

}  // namespace tapegrad_test::arguments
