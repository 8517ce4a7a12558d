// The docs point at code by function and file, and quote it; these checks keep the pointers
// true. A quote names no line number, so code can move within its file, or to another file with
// the doc, without breaking the doc.
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "helpers.hpp"

namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream out;
  out << f.rdbuf();
  return out.str();
}

// The body of the definition of `name` in C++ source `text`, from the line that defines it (a
// return type, then the name and its parameters) to its closing brace; empty when there is no
// such definition. A declaration (`;` before any `{`) is not a definition.
std::string definition_of(const std::string& text, const std::string& name) {
  const std::regex head("(^|\\n)[ \\t]*(?!return\\b)(?:[\\w:<>,*&]+[ \\t]+)+(?:[\\w:]+::)?" + name +
                        "[ \\t]*\\(");
  for (std::sregex_iterator it(text.begin(), text.end(), head), end; it != end; ++it) {
    const std::size_t start = static_cast<std::size_t>(it->position(0));
    const std::size_t open = text.find_first_of("{;", start + it->length(0));
    if (open == std::string::npos || text[open] == ';') continue;
    int depth = 0;
    for (std::size_t i = open; i < text.size(); ++i) {
      if (text[i] == '{') ++depth;
      if (text[i] == '}' && --depth == 0) return text.substr(start, i + 1 - start);
    }
  }
  return {};
}

}  // namespace

TEST_CASE("docs quote the code they point to") {
  const std::string root = tapegrad_test::source_dir();
  // `function` in [`path`](...): `quoted code`
  const std::regex ref(R"(`([A-Za-z_][\w:]*)` in \[`([A-Za-z0-9_./-]+)`\]\([^)]*\): `([^`]+)`)");
  // [`path:LINE`](...): a quote by line number, which the next move of code would break.
  const std::regex by_line(R"(\[`[A-Za-z0-9_./-]+:[0-9]+`\])");
  std::size_t checked = 0;
  for (const char* doc : {"docs/rnn.md"}) {
    CAPTURE(doc);
    const std::string text = read_text(root + "/" + doc);
    REQUIRE_MESSAGE(!text.empty(), doc);
    std::smatch old;
    CHECK_MESSAGE(!std::regex_search(text, old, by_line),
                  "quote by function, not by line: ", old.str(0));
    for (std::sregex_iterator it(text.begin(), text.end(), ref), end; it != end; ++it) {
      const std::string function = (*it)[1];
      const std::string file = (*it)[2];
      const std::string quoted = (*it)[3];
      CAPTURE(function);
      CAPTURE(file);
      const std::string source = read_text(root + "/" + file);
      REQUIRE_MESSAGE(!source.empty(), file, " is missing or empty");
      // Direction::composed: the member composed of the type Direction, which the file defines.
      const std::size_t colons = function.rfind("::");
      const std::string name = colons == std::string::npos ? function : function.substr(colons + 2);
      if (colons != std::string::npos) {
        const std::string scope = function.substr(0, colons);
        const std::regex defined("(struct|class|namespace)[ \\t]+" + scope + "\\b");
        CHECK_MESSAGE(std::regex_search(source, defined), file, " defines no ", scope);
      }
      const std::string body = definition_of(source, name);
      CHECK_MESSAGE(!body.empty(), file, " defines no function ", name);
      CHECK_MESSAGE(body.find(quoted) != std::string::npos, "the doc quotes \"", quoted, "\" from ",
                    function, ", which does not contain it");
      ++checked;
    }
  }
  CHECK(checked >= 20);
}

TEST_CASE("the docs' quote finder finds definitions and only definitions") {
  const std::string text =
      "template <class T>\n"
      "Var<T> gru_step(const Var<T>& gx, const Var<T>& h);\n"  // a declaration
      "Var<T> caller() {\n"
      "  return gru_step(a, b);\n"  // a call
      "}\n"
      "template <class T>\n"
      "Var<T> gru_step(const Var<T>& gx,\n"
      "                const Var<T>& h) {\n"
      "  if (x) { y(); }\n"
      "  return z;\n"
      "}\n"
      "struct Direction {\n"
      "  std::size_t time(std::size_t i) const { return i; }\n"
      "};\n";
  const std::string body = definition_of(text, "gru_step");
  CHECK(body.find("const Var<T>& h) {") != std::string::npos);
  CHECK(body.find("return z;") != std::string::npos);
  CHECK(body.find("return gru_step") == std::string::npos);
  CHECK(definition_of(text, "time").find("return i;") != std::string::npos);
  CHECK(definition_of(text, "caller").find("gru_step(a, b)") != std::string::npos);
  CHECK(definition_of(text, "missing").empty());
}
