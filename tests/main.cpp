// The doctest main of every test binary (tests/CMakeLists.txt, and the examples'). A run that
// executes no test case fails: a filter that matches nothing (a typo, or a ctest name split at
// ';') must not look like a passing run.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

namespace {

int executed_test_cases = 0;
bool was_query = false;  // --list-test-cases, --count, --help, --no-run, ...

// Counts the test cases that start; notes queries, which run no test case on purpose.
class CountingListener : public doctest::IReporter {
 public:
  explicit CountingListener(const doctest::ContextOptions& /*options*/) {}

  void report_query(const doctest::QueryData& /*data*/) override { was_query = true; }
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& /*stats*/) override {}
  void test_case_start(const doctest::TestCaseData& /*data*/) override { ++executed_test_cases; }
  void test_case_reenter(const doctest::TestCaseData& /*data*/) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& /*stats*/) override {}
  void test_case_exception(const doctest::TestCaseException& /*e*/) override {}
  void subcase_start(const doctest::SubcaseSignature& /*signature*/) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& /*data*/) override {}
  void log_message(const doctest::MessageData& /*data*/) override {}
  void test_case_skipped(const doctest::TestCaseData& /*data*/) override {}
};

}  // namespace

REGISTER_LISTENER("tapegrad_counting", 1, CountingListener);

// The run; main() unless TAPEGRAD_TEST_NO_MAIN, for a binary whose main must do more first
// (the distributed tests start MPI).
int tapegrad_test_run(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (result != 0 || was_query || context.shouldExit()) return result;
  if (executed_test_cases == 0) {
    std::fprintf(stderr,
                 "%s: no test case was executed (the filters matched nothing); failing the run "
                 "so that a mistyped filter cannot pass\n",
                 argc > 0 ? argv[0] : "tests");
    return 2;
  }
  return 0;
}

#ifndef TAPEGRAD_TEST_NO_MAIN
int main(int argc, char** argv) {
  return tapegrad_test_run(argc, argv);
}
#endif
