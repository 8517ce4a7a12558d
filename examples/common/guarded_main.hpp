// The examples' main(): runs the program's body and turns an exception that escapes it (one the
// body does not report itself, such as std::bad_alloc) into a message and exit status 1, where
// it would otherwise end the program through std::terminate without saying why.
#pragma once

#include <cstdio>
#include <exception>

namespace examples {

/// `body(argc, argv)`'s exit status; 1, with "<program>: error: <what>" on stderr, when it
/// throws.
template <class Body>
int guarded_main(int argc, char** argv, Body&& body) noexcept {
  const char* program = argc > 0 ? argv[0] : "example";
  try {
    return body(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", program, e.what());
  } catch (...) {
    std::fprintf(stderr, "%s: error: an unknown exception\n", program);
  }
  return 1;
}

}  // namespace examples
