// The main of the distributed tests, run under mpirun (tests/CMakeLists.txt): MPI for the whole
// run, then tests/main.cpp's run, every rank running every test case in the same order. A
// rank's failure is its exit status, which mpirun passes on.
#include "tapegrad/distributed.hpp"

int tapegrad_test_run(int argc, char** argv);

int main(int argc, char** argv) {
  tapegrad::distributed::Environment env(argc, argv);
  return tapegrad_test_run(argc, argv);
}
