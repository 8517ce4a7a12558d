// What the part's files share (not installed): the communicator's MPI state and the one wait
// every collective goes through, bounded by the timeout.
#pragma once

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tapegrad/distributed/communicator.hpp"

namespace tapegrad::distributed::detail {

/// A communicator's state, shared by its copies.
struct CommState {
  MPI_Comm comm = MPI_COMM_NULL;
  int rank = 0;
  int size = 1;
  std::chrono::milliseconds timeout = default_timeout;
  std::uint64_t sequence = 0;  // collectives called so far (the heartbeats carry it)
  bool faulted = false;

  CommState() = default;
  ~CommState();
  CommState(const CommState&) = delete;
  CommState& operator=(const CommState&) = delete;
};

/// Throws a usage_error when `state` is unusable (after a fault, or with MPI finalized).
void check_usable(const CommState& state, const char* what);

/// Waits for `requests` (completed ones are MPI_REQUEST_NULL afterwards) and for a heartbeat of
/// every other rank for this collective, polling until the communicator's timeout. On timeout,
/// on a heartbeat of another collective and on an MPI error: writes the message to stderr,
/// marks the communicator (and the Environment) faulted and throws a communication_error that
/// names `what`, this rank and the missing ranks.
void wait_all(CommState& state, std::vector<MPI_Request>& requests, const std::string& what);

/// Tests `requests` once (drives MPI's progress of non-blocking collectives); true when all
/// are complete. An MPI error faults as wait_all does.
bool test_all(CommState& state, std::vector<MPI_Request>& requests, const std::string& what);

/// Throws the communication_error of a fault (see wait_all) with `message`.
[[noreturn]] void fault(CommState& state, const std::string& message);

/// The MPI datatype of T (float or double).
template <class T>
MPI_Datatype mpi_type();

}  // namespace tapegrad::distributed::detail
