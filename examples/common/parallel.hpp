// How an example's training runs on several processes at once (data parallelism). The command
// lines fill it from tapegrad::distributed under --distributed (distributed_main.hpp); the
// examples' library parts take it as plain functions and use no MPI. The default is one
// process.
#pragma once

#include <functional>
#include <vector>

namespace examples {

/// This process's place among the processes, and the two collective steps training needs.
struct Parallel {
  int rank = 0;  ///< this process, 0 to size - 1
  int size = 1;  ///< the number of processes
  /// Called after each backward, before clipping: replaces every gradient by its mean over the
  /// processes (DataParallel::finish).
  std::function<void()> average_gradients;
  /// Sums over the processes, the same on every one (Communicator::sum).
  std::function<std::vector<double>(const std::vector<double>&)> sum;

  /// More than one process.
  bool several() const { return size > 1; }
  /// A description of what is missing ("" when usable): a rank outside [0, size), or several
  /// processes without the two functions.
  const char* problem() const {
    if (rank < 0 || rank >= size) return "a rank outside [0, size)";
    if (several() && (!average_gradients || !sum)) return "no average_gradients or sum function";
    return "";
  }
};

}  // namespace examples
