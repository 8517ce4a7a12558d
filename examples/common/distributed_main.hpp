// --distributed for the examples' command lines (sentiment, char_lm): MPI for the run, one
// writer. Without tapegrad::distributed (MPI not found when configuring) the flag is an error
// saying so; the examples build either way.
#pragma once

#include <cstdio>
#include <cstring>
#include <iostream>

#include "guarded_main.hpp"

#ifdef TAPEGRAD_HAVE_DISTRIBUTED
#include <tapegrad/distributed.hpp>
#endif

namespace examples {

/// True when the flag `flag` is among the arguments.
inline bool has_flag(int argc, char** argv, const char* flag) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], flag) == 0) return true;
  }
  return false;
}

/// guarded_main(argc, argv, body), inside MPI when `--distributed` is given: an Environment
/// for the run, and standard output (stdio and std::cout) sent to /dev/null on every rank but 0
/// (one writer of progress and results; errors still go to stderr). A rank whose body fails ends
/// the whole job (the others would wait for it until their timeout). Without MPI, `--distributed`
/// is an error (status 2).
template <class Body>
int distributed_main(int argc, char** argv, Body&& body) {
  if (!has_flag(argc, argv, "--distributed")) return guarded_main(argc, argv, body);
#ifndef TAPEGRAD_HAVE_DISTRIBUTED
  std::fprintf(stderr,
               "%s: --distributed: this build has no MPI (CMake did not find it, so "
               "tapegrad::distributed was not built; scripts/setup.sh installs libopenmpi-dev)\n",
               argc > 0 ? argv[0] : "example");
  return 2;
#else
  tapegrad::distributed::Environment env(argc, argv);
  const tapegrad::distributed::Communicator world = env.world();
  if (world.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr) {
    std::cout.rdbuf(nullptr);  // no /dev/null: std::cout at least
  }
  const int status = guarded_main(argc, argv, body);
  if (status != 0 && world.size() > 1) tapegrad::distributed::Environment::abort(status);
  return status;
#endif
}

}  // namespace examples
