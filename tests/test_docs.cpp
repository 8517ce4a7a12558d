// The docs point at lines of code and quote them; these checks keep the pointers true.
#include <fstream>
#include <regex>
#include <sstream>
#include <vector>

#include "helpers.hpp"

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream f(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(f, line);) lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("docs quote the code they point to") {
  const std::string root = tapegrad_test::source_dir();
  // [`path:LINE`](...) `quoted code`
  const std::regex ref(R"(\[`([A-Za-z0-9_./-]+):([0-9]+)`\]\([^)]*\) `([^`]+)`)");
  std::size_t checked = 0;
  for (const char* doc : {"docs/rnn.md"}) {
    const auto lines = read_lines(root + "/" + doc);
    REQUIRE_MESSAGE(!lines.empty(), doc);
    for (const auto& line : lines) {
      for (std::sregex_iterator it(line.begin(), line.end(), ref), end; it != end; ++it) {
        const std::string file = (*it)[1];
        const std::size_t number = std::stoul((*it)[2]);
        const std::string quoted = (*it)[3];
        const auto source = read_lines(root + "/" + file);
        CAPTURE(file);
        CAPTURE(number);
        REQUIRE(number >= 1);
        REQUIRE(number <= source.size());
        CHECK_MESSAGE(source[number - 1].find(quoted) != std::string::npos, "line ", number,
                      " is \"", source[number - 1], "\", the doc quotes \"", quoted, "\"");
        ++checked;
      }
    }
  }
  CHECK(checked >= 20);
}
