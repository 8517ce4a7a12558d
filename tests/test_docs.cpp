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
std::string definition_of(const std::string& text, const std::string& name,
                          const std::string& scope = {}) {
  // `scope` given: only a definition qualified by it, `Scope<T>::name(` or `Scope::name(`
  const std::string qualifier = scope.empty() ? "(?:[\\w:]+::)?" : scope + "(?:<[\\w, ]*>)?::";
  const std::regex head("(^|\\n)[ \\t]*(?!return\\b)(?:[\\w:<>,*&]+[ \\t]+)+" + qualifier + name +
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

// The `///` lines right above the first line of `text` that contains `declaration` (and its
// `template <...>` line), without their slashes; empty when there is no such line or comment.
std::string doc_comment_of(const std::string& text, const std::string& declaration) {
  const std::size_t at = text.find(declaration);
  if (at == std::string::npos) return {};
  std::vector<std::string> lines;
  std::size_t end = text.rfind('\n', at);
  while (end != std::string::npos && end > 0) {
    const std::size_t start = text.rfind('\n', end - 1);
    const std::size_t from = start == std::string::npos ? 0 : start + 1;
    const std::string line = text.substr(from, end - from);
    const std::size_t slashes = line.find_first_not_of(" \t");
    const bool template_line =
        slashes != std::string::npos && lines.empty() && line.compare(slashes, 9, "template ") == 0;
    if (!template_line) {
      if (slashes == std::string::npos || line.compare(slashes, 3, "///") != 0) break;
      lines.insert(lines.begin(), line.substr(slashes + 3));
    }
    if (start == std::string::npos) break;
    end = start;
  }
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

}  // namespace

TEST_CASE("what a user looks for is in the header's comment and in the docs") {
  const std::string root = tapegrad_test::source_dir();
  struct Claim {
    const char* file;         // a header, or a page of docs/
    const char* declaration;  // in a header: the declaration whose `///` comment is read
    const char* text;         // what the comment, or the page, must say
  };
  const Claim claims[] = {
      // Nonlinearity::relu, an RNN option
      {"layers/include/tapegrad/nn/cells.hpp", "enum class Nonlinearity", "relu(a)"},
      {"layers/include/tapegrad/nn/cells.hpp", "enum class Nonlinearity",
       "nonlinearity(Nonlinearity::relu)"},
      {"layers/include/tapegrad/nn/rnn.hpp", "TAPEGRAD_OPTION(Nonlinearity", "relu"},
      {"docs/rnn.md", nullptr, ".nonlinearity(nn::Nonlinearity::relu)"},
      // RNNOptions' fluent setters
      {"layers/include/tapegrad/nn/rnn.hpp", "class RNNOptions {", "returns the options"},
      {"layers/include/tapegrad/nn/rnn.hpp", "TAPEGRAD_OPTION(std::size_t, num_layers", "Default"},
      {"layers/include/tapegrad/nn/rnn.hpp", "TAPEGRAD_OPTION(bool, batch_first", "[B, T"},
      {"docs/rnn.md", nullptr, "`.bidirectional(b)`"},
      {"docs/rnn.md", nullptr, "`.dropout(p)`"},
      // Npz::get_index
      {"autograd/include/tapegrad/autograd/npz.hpp", "IndexArray get_index(", "int32"},
      {"autograd/include/tapegrad/autograd/npz.hpp", "IndexArray get_index(", "value_error"},
      {"docs/usage.md", nullptr, "get_index(name)"},
      // where broadcasts all three operands
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> where(",
       "condition, a and b may each have any shape"},
      {"docs/usage.md", nullptr, "three broadcast together: `condition`"},
      // negative axes, for every op with an axis
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> sum(const Var<T>& x, int axis",
       "Every `axis`"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> mean(const Var<T>& x, int axis",
       "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> max(const Var<T>& x, int axis",
       "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> logsumexp(", "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> narrow(", "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> select(", "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "std::vector<Var<T>> chunk(", "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> concat(const std::vector", "negative"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> stack(const std::vector",
       "[-(rank + 1), rank]"},
      {"autograd/include/tapegrad/autograd/ops.hpp", "Var<T> transpose(const Var<T>& x, int",
       "negative"},
      {"autograd/include/tapegrad/autograd/nn_ops.hpp", "Var<T> softmax(", "negative"},
      {"autograd/include/tapegrad/autograd/nn_ops.hpp", "Var<T> log_softmax(", "negative"},
      {"docs/usage.md", nullptr, "**Negative axes.** Every `axis` parameter may be negative"},
  };
  for (const Claim& claim : claims) {
    const std::string file = claim.file, wanted = claim.text;
    CAPTURE(file);
    CAPTURE(wanted);
    const std::string text = read_text(root + "/" + claim.file);
    REQUIRE_MESSAGE(!text.empty(), claim.file, " is missing or empty");
    if (claim.declaration == nullptr) {
      CHECK(text.find(claim.text) != std::string::npos);
    } else {
      const std::string declaration = claim.declaration;
      CAPTURE(declaration);
      const std::string comment = doc_comment_of(text, claim.declaration);
      CHECK_MESSAGE(comment.find(claim.text) != std::string::npos, "the comment is: ", comment);
    }
  }
}

TEST_CASE("docs quote the code they point to") {
  const std::string root = tapegrad_test::source_dir();
  // `function` in [`path`](...): `quoted code`
  const std::regex ref(R"(`([A-Za-z_][\w:]*)` in \[`([A-Za-z0-9_./-]+)`\]\([^)]*\): `([^`]+)`)");
  // [`path:LINE`](...): a quote by line number, which the next move of code would break.
  const std::regex by_line(R"(\[`[A-Za-z0-9_./-]+:[0-9]+`\])");
  std::size_t checked = 0;
  for (const char* doc : {"docs/rnn.md", "docs/seq2seq.md"}) {
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
      // Direction::composed: the member composed of the type Direction, which the file defines;
      // AttentionDecoder::step: a member defined out of its class, `AttentionDecoder<T>::step(`.
      const std::size_t colons = function.rfind("::");
      const std::string name = colons == std::string::npos ? function : function.substr(colons + 2);
      std::string body;
      if (colons != std::string::npos) {
        const std::string scope = function.substr(0, colons);
        body = definition_of(source, name, scope);
        const std::regex defined("(struct|class|namespace)[ \\t]+" + scope + "\\b");
        CHECK_MESSAGE((!body.empty() || std::regex_search(source, defined)), file, " defines no ",
                      scope);
      }
      if (body.empty()) body = definition_of(source, name);
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
