/// @file
/// MPI for tapegrad: Environment (MPI's start and end), Communicator (rank, size, and the
/// collectives training needs, each bounded by a timeout that names the ranks that did not come).
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "tapegrad/autograd/array.hpp"

/// Data-parallel training over MPI (target tapegrad::distributed, on nn, optim and data; built
/// when CMake finds MPI): Environment and Communicator, DataParallel (a model's gradients
/// averaged over processes while backward runs), DistributedSampler (each process's share of an
/// epoch) and the reduction of metrics. docs/distributed.md says how to run it.
namespace tapegrad::distributed {

namespace detail {
struct CommState;
}  // namespace detail

/// The timeout of a communicator unless set: how long a collective waits for the other ranks
/// before it gives up and names the ones that did not arrive.
inline constexpr std::chrono::milliseconds default_timeout{60000};

/// A group of processes (MPI ranks) that train together, with its own MPI communicator (a
/// duplicate of the world's, so tapegrad's messages never mix with a program's own). Copies
/// share it. Every collective (barrier, broadcast, sums, gathers, DataParallel's gradient
/// exchange) must be called by every rank in the same order. None waits forever: each first
/// sends every other rank a small heartbeat with its sequence number and then polls; when the
/// timeout passes before every rank's heartbeat and data arrived, it throws a
/// communication_error naming the ranks that did not arrive (a rank that died or hangs), and a
/// heartbeat with another sequence number names the rank that called a different collective.
/// After a fault the communicator is unusable and Environment's destructor aborts the job.
class Communicator {
 public:
  /// The processes of MPI_COMM_WORLD (all that mpirun started); a usage_error without a live
  /// Environment.
  static Communicator world();

  /// This process's rank, 0 to size() - 1.
  int rank() const;
  /// The number of processes.
  int size() const;
  /// How long a collective waits for the other ranks (default_timeout unless set).
  std::chrono::milliseconds timeout() const;
  /// Sets the timeout for every copy of this communicator; zero or negative is a value_error.
  void set_timeout(std::chrono::milliseconds timeout);

  /// Waits until every rank has called it.
  void barrier();
  /// Rank `root`'s `data` (n values) copied into every rank's `data`.
  void broadcast(double* data, std::size_t n, int root);
  /// The same for floats.
  void broadcast(float* data, std::size_t n, int root);
  /// The sums over ranks of `values`, element by element, added in rank order (the same
  /// result on every rank, whatever MPI's algorithm). Every rank gives the same count, or it is
  /// a value_error on every rank.
  std::vector<double> sum(const std::vector<double>& values);
  /// Every rank's `text`, by rank.
  std::vector<std::string> all_gather(const std::string& text);

  /// The shared state; for the part's own code.
  const std::shared_ptr<detail::CommState>& state() const { return state_; }

 private:
  explicit Communicator(std::shared_ptr<detail::CommState> state) : state_(std::move(state)) {}
  std::shared_ptr<detail::CommState> state_;
};

/// MPI for the life of this object: MPI_Init_thread (funneled: only the thread that made it
/// calls MPI) at construction, MPI_Finalize at destruction. Make one at the start of main, before
/// any Communicator. When a communication_error was thrown (a peer died or hung), or when it is
/// destroyed by an exception, the destructor calls MPI_Abort instead, so that mpirun stops
/// every rank rather than waiting in MPI_Finalize for a peer that will not come; the error was
/// already written to stderr with this rank's number. A second Environment alive at once is a
/// usage_error.
class Environment {
 public:
  /// Starts MPI with the program's arguments (MPI may read and remove its own).
  Environment(int& argc, char**& argv);
  /// Starts MPI without arguments.
  Environment();
  /// Finalizes MPI, or aborts the job after a fault (see the class).
  ~Environment();
  Environment(const Environment&) = delete;
  Environment& operator=(const Environment&) = delete;

  /// True while an Environment is alive.
  static bool active();
  /// Ends every process of the job now with exit status `status` (MPI_Abort): for a rank that
  /// failed on its own (a file it could not write) while the others would wait for it.
  [[noreturn]] static void abort(int status);
  /// The world's communicator: Communicator::world().
  Communicator world() const { return Communicator::world(); }
};

/// The sums over ranks of `values` divided by the number of ranks: a validation loss, an
/// accuracy, counts; the same on every rank (see Communicator::sum).
std::vector<double> mean(Communicator& comm, const std::vector<double>& values);

}  // namespace tapegrad::distributed
