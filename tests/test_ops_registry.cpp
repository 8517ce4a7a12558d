// The op registry drives the op tests: every op the library registers (TAPEGRAD_OP) has cases in
// tests/op_registry.cpp, every case calls the op it names, and every case is run forward in
// float and double, with an empty Var in each input and with shapes the op must reject.
// (The gradient checks of the same cases are in test_ops_gradcheck.cpp.)
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <xtensor/xoperation.hpp>

#include "helpers.hpp"
#include "op_registry.hpp"

namespace {

using tapegrad::Var;
using tapegrad_test::op_registry;
using tapegrad_test::OpCase;

bool is_registered(const std::string& op) {
  const std::vector<std::string>& ops = tapegrad::registered_ops();
  return std::binary_search(ops.begin(), ops.end(), op);
}

// Clears this thread's tapes when the scope ends, so no test leaves entries behind.
struct ClearTapes {
  ClearTapes() = default;
  ClearTapes(const ClearTapes&) = delete;
  ClearTapes& operator=(const ClearTapes&) = delete;
  ~ClearTapes() {
    tapegrad::tape<double>().clear();
    tapegrad::tape<float>().clear();
  }
};

std::vector<Var<float>> to_float(const std::vector<Var<double>>& xs) {
  std::vector<Var<float>> out;
  for (const auto& x : xs) {
    out.emplace_back(tapegrad::Array<float>(xt::cast<float>(x.value())), x.requires_grad());
  }
  return out;
}

// An error message names the op: "matmul: ...".
bool names_op(const std::string& message, const std::string& op) {
  return message.rfind(op + ":", 0) == 0;
}

}  // namespace

TEST_CASE("registered_ops lists the library's ops, sorted and once each") {
  const std::vector<std::string>& ops = tapegrad::registered_ops();
  CHECK(ops.size() >= 35);
  CHECK(std::is_sorted(ops.begin(), ops.end()));
  CHECK(std::adjacent_find(ops.begin(), ops.end()) == ops.end());
  for (const char* known : {"add", "matmul", "transpose", "chunk", "concat", "index_rows", "sum",
                            "max", "cross_entropy", "dropout"}) {
    CHECK_MESSAGE(is_registered(known), known, " is not registered");
  }
}

TEST_CASE("every registered op has a case in tests/op_registry.cpp") {
  std::set<std::string> with_cases;
  for (const OpCase& c : op_registry()) with_cases.insert(c.op);
  for (const std::string& op : tapegrad::registered_ops()) {
    CHECK_MESSAGE(with_cases.count(op) == 1, "op '", op,
                  "' is registered (TAPEGRAD_OP) but has no case in tests/op_registry.cpp");
  }
}

TEST_CASE("every case names a registered op") {
  for (const OpCase& c : op_registry()) {
    CHECK_MESSAGE(is_registered(c.op), "case '", c.label(),
                  "' names an op that no TAPEGRAD_OP registers");
  }
}

TEST_CASE("registry cases are well formed") {
  CHECK(op_registry().size() >= 100);
  std::set<std::string> multi_input_ops, ops_with_bad_shapes;
  for (const OpCase& c : op_registry()) {
    INFO(c.label());
    CHECK(!c.op.empty());
    CHECK(!c.variant.empty());
    CHECK(!c.shapes.empty());
    CHECK(static_cast<bool>(c.fn));
    for (const auto& bad : c.bad_shapes) CHECK(bad.size() == c.shapes.size());
    for (std::size_t i : c.optional_inputs) CHECK(i < c.shapes.size());
    if (c.shapes.size() > 1) multi_input_ops.insert(c.op);
    if (!c.bad_shapes.empty()) ops_with_bad_shapes.insert(c.op);
  }
  // Inputs whose shapes must agree must be tested disagreeing.
  for (const std::string& op : multi_input_ops) {
    CHECK_MESSAGE(ops_with_bad_shapes.count(op) == 1, op,
                  " takes several inputs but no case of it has bad_shapes");
  }
}

TEST_CASE("every case records a tape entry of the op it names") {
  std::size_t checked = 0;
  for (const OpCase& c : op_registry()) {
    INFO("op case: ", c.label());
    ClearTapes clear;
    const std::vector<Var<double>> inputs = tapegrad_test::make_inputs(c);
    const Var<double> out = c.fn(inputs);
    const auto& entries = tapegrad::tape<double>().entries();
    if (c.returns_input) {
      CHECK(out.same(inputs[0]));
      CHECK(entries.empty());
    } else {
      const std::string expected = c.tape_op.empty() ? c.op : c.tape_op;
      const bool found = std::any_of(entries.begin(), entries.end(),
                                     [&](const auto& e) { return e.op == expected; });
      CHECK_MESSAGE(found, c.label(), ": no tape entry named '", expected, "'");
    }
    ++checked;
  }
  CHECK(checked == op_registry().size());
}

TEST_CASE("every case runs forward in float and double: same shape, finite, close") {
  std::size_t checked = 0;
  for (const OpCase& c : op_registry()) {
    INFO("op case: ", c.label());
    ClearTapes clear;
    const std::vector<Var<double>> inputs = tapegrad_test::make_inputs(c);
    const Var<double> y = c.fn(inputs);
    const Var<float> y32 = c.fn(to_float(inputs));
    CHECK(tapegrad_test::all_finite(y.value()));
    CHECK(tapegrad_test::all_finite(y32.value()));
    CHECK_MESSAGE(tapegrad_test::all_close(y32.value(), y.value(), 1e-5), c.label(), ": float ",
                  tapegrad_test::worst_element(y32.value(), y.value()));
    ++checked;
  }
  CHECK(checked == op_registry().size());
}

TEST_CASE("an empty Var in any input is a usage_error naming the op") {
  std::size_t checked = 0;
  for (const OpCase& c : op_registry()) {
    for (std::size_t i = 0; i < c.shapes.size(); ++i) {
      INFO("op case: ", c.label(), ", input ", i, " empty");
      ClearTapes clear;
      std::vector<Var<double>> inputs = tapegrad_test::make_inputs(c);
      inputs[i] = Var<double>();
      const bool optional = std::count(c.optional_inputs.begin(), c.optional_inputs.end(), i) == 1;
      if (optional) {
        CHECK_NOTHROW(c.fn(inputs));
        continue;
      }
      const std::string message =
          tapegrad_test::message_of<tapegrad::usage_error>([&] { c.fn(inputs); });
      CHECK_MESSAGE(names_op(message, c.op), "message: ", message);
      ++checked;
    }
  }
  CHECK(checked >= op_registry().size());
}

TEST_CASE("bad shapes are a shape_error naming the op") {
  std::size_t checked = 0;
  for (const OpCase& c : op_registry()) {
    for (const std::vector<tapegrad::Shape>& shapes : c.bad_shapes) {
      OpCase bad = c;
      bad.shapes = shapes;
      std::string described;
      for (const auto& s : shapes) described += tapegrad::shape_str(s) + " ";
      INFO("op case: ", c.label(), ", shapes ", described);
      ClearTapes clear;
      const std::vector<Var<double>> inputs = tapegrad_test::make_inputs(bad);
      const std::string message =
          tapegrad_test::message_of<tapegrad::shape_error>([&] { c.fn(inputs); });
      CHECK_MESSAGE(names_op(message, c.op), "message: ", message);
      ++checked;
    }
  }
  CHECK(checked >= 40);
}
