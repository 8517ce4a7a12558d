// Every op of the registry is gradchecked, and every op the public headers declare must be in
// the registry.
#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"
#include "op_registry.hpp"

namespace {

using tapegrad_test::op_registry;
using tapegrad_test::OpCase;

// The names of the ops declared in a header: a `Var<T> name(` or `std::vector<Var<T>> name(`
// line right after a `template <class T>` line. Operator overloads are skipped.
std::vector<std::string> declared_ops(const std::string& header_text) {
  static const std::regex declaration(
      R"(^\s*(?:Var<T>|std::vector<Var<T>>)\s+([A-Za-z_]\w*)\s*\()");
  static const std::regex template_line(R"(^\s*template\s*<\s*class\s+T\s*>\s*$)");
  std::vector<std::string> names;
  std::istringstream in(header_text);
  std::string line;
  bool after_template = false;
  while (std::getline(in, line)) {
    std::smatch m;
    if (after_template && std::regex_search(line, m, declaration)) {
      const std::string name = m[1];
      if (name.rfind("operator", 0) != 0) names.push_back(name);
    }
    after_template = std::regex_match(line, template_line);
  }
  return names;
}

std::string read_text(const std::string& path) {
  std::ifstream file(path);
  REQUIRE_MESSAGE(file.good(), "cannot open ", path);
  std::ostringstream out;
  out << file.rdbuf();
  return out.str();
}

std::set<std::string> declared_in_public_headers() {
  std::set<std::string> names;
  for (const char* header :
       {"autograd/include/tapegrad/autograd/ops.hpp",
        "autograd/include/tapegrad/autograd/nn_ops.hpp", "layers/include/tapegrad/nn/cells.hpp"}) {
    const std::string path = tapegrad_test::source_dir() + "/" + header;
    const auto found = declared_ops(read_text(path));
    CHECK_MESSAGE(!found.empty(), "no op declaration found in ", path);
    names.insert(found.begin(), found.end());
  }
  return names;
}

std::set<std::string> registered_ops() {
  std::set<std::string> names;
  for (const OpCase& c : op_registry()) names.insert(c.op);
  return names;
}

}  // namespace

TEST_CASE("header parser finds declarations after template lines and skips operators") {
  const std::string text =
      "/// doc\n"
      "template <class T>\n"
      "Var<T> first(const Var<T>& a);\n"
      "template <class T>\n"
      "std::vector<Var<T>> second(const Var<T>& x, int n);\n"
      "Var<T> not_after_template(const Var<T>& a);\n"
      "template <class T>\n"
      "Var<T> operator+(const Var<T>& a, const Var<T>& b) {\n"
      "template <class T>\n"
      "struct identity {\n"
      "template <class T, class S>\n"
      "Var<T> two_params(const Var<T>& a, S s);\n";
  const std::vector<std::string> expected = {"first", "second"};
  CHECK(declared_ops(text) == expected);
}

TEST_CASE("every op declared in ops.hpp, nn_ops.hpp and nn/cells.hpp has a registry entry") {
  const std::set<std::string> declared = declared_in_public_headers();
  // A parser that silently finds nothing would make this test pass vacuously.
  CHECK(declared.size() >= 30);
  for (const char* known : {"add", "matmul", "chunk", "index_rows", "cross_entropy", "dropout"}) {
    CHECK_MESSAGE(declared.count(known) == 1, "the parser missed ", known);
  }
  const std::set<std::string> registered = registered_ops();
  for (const std::string& op : declared) {
    CHECK_MESSAGE(registered.count(op) == 1, "op '", op,
                  "' is declared in a public header but has no entry in tests/op_registry.cpp");
  }
}

TEST_CASE("every registry entry names a declared op") {
  const std::set<std::string> declared = declared_in_public_headers();
  for (const std::string& op : registered_ops()) {
    CHECK_MESSAGE(declared.count(op) == 1, "registry entry '", op,
                  "' names no op declared in ops.hpp or nn_ops.hpp");
  }
}

TEST_CASE("registry entries are well formed") {
  CHECK(op_registry().size() >= 100);
  for (const OpCase& c : op_registry()) {
    INFO(c.label());
    CHECK(!c.op.empty());
    CHECK(!c.variant.empty());
    CHECK(!c.shapes.empty());
    CHECK(static_cast<bool>(c.fn));
  }
}

TEST_CASE("gradcheck passes for every registered op") {
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
