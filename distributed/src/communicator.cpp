// MPI's start and end, the communicator, and the bounded wait behind every collective.
#include <fmt/format.h>
#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <thread>

#include "comm_detail.hpp"
#include "tapegrad/autograd/errors.hpp"

namespace tapegrad::distributed {

namespace {

// The Environment alive (at most one), and whether a fault was reported since.
std::atomic<bool> environment_alive{false};
std::atomic<bool> any_fault{false};

// The heartbeats' tag (the data goes by MPI's collectives, which have no tags).
constexpr int kHeartbeatTag = 7001;

std::string mpi_error(int code) {
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  return std::string(text, static_cast<std::size_t>(length));
}

std::string rank_list(const std::vector<int>& ranks) {
  std::string out = ranks.size() == 1 ? "rank " : "ranks ";
  for (std::size_t i = 0; i < ranks.size(); ++i) {
    out += (i == 0 ? "" : ", ") + std::to_string(ranks[i]);
  }
  return out;
}

std::string seconds(std::chrono::milliseconds t) {
  return fmt::format("{:g} s", static_cast<double>(t.count()) / 1000.0);
}

// Raises `code`'s fault unless it is MPI_SUCCESS.
void check_mpi(detail::CommState& state, int code, const std::string& what) {
  if (code != MPI_SUCCESS) {
    detail::fault(state, fmt::format("{}: MPI failed: {}", what, mpi_error(code)));
  }
}

// MPI_Init_thread, funneled, unless MPI runs already; one Environment at a time.
void start_mpi(int* argc, char*** argv) {
  if (environment_alive.exchange(true)) {
    throw usage_error("distributed::Environment: one is alive already (make one, in main)");
  }
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    int provided = 0;
    MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
  }
}

template <class T>
void broadcast_values(Communicator& comm, T* data, std::size_t n, int root) {
  auto& state = *comm.state();
  detail::check_usable(state, "broadcast");
  if (root < 0 || root >= state.size) {
    throw value_error(
        fmt::format("broadcast: root {} is not a rank of {} processes", root, state.size));
  }
  std::vector<MPI_Request> requests;
  // MPI counts are ints: long arrays go in pieces of at most 2^30 values.
  constexpr std::size_t kPiece = std::size_t(1) << 30;
  for (std::size_t at = 0; at < n; at += kPiece) {
    MPI_Request r = MPI_REQUEST_NULL;
    check_mpi(state,
              MPI_Ibcast(data + at, static_cast<int>(std::min(kPiece, n - at)),
                         detail::mpi_type<T>(), root, state.comm, &r),
              "broadcast");
    requests.push_back(r);
  }
  detail::wait_all(state, requests, fmt::format("broadcast from rank {}", root));
}

}  // namespace

namespace detail {

template <>
MPI_Datatype mpi_type<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype mpi_type<double>() {
  return MPI_DOUBLE;
}

CommState::~CommState() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized && comm != MPI_COMM_NULL && !faulted) MPI_Comm_free(&comm);
}

void check_usable(const CommState& state, const char* what) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized || !environment_alive) {
    throw usage_error(
        fmt::format("{}: MPI is not running (make a distributed::Environment "
                    "first, and keep it alive while communicating)",
                    what));
  }
  if (state.faulted) {
    throw usage_error(fmt::format(
        "{}: the communicator failed before (a communication_error); it cannot be used again",
        what));
  }
}

void fault(CommState& state, const std::string& message) {
  state.faulted = true;
  any_fault = true;
  const std::string text = fmt::format("rank {}: {}", state.rank, message);
  std::fprintf(stderr, "tapegrad::distributed: %s\n", text.c_str());
  std::fflush(stderr);
  throw communication_error(text);
}

bool test_all(CommState& state, std::vector<MPI_Request>& requests, const std::string& what) {
  if (requests.empty()) return true;
  int done = 0;
  check_mpi(
      state,
      MPI_Testall(static_cast<int>(requests.size()), requests.data(), &done, MPI_STATUSES_IGNORE),
      what);
  return done != 0;
}

void wait_all(CommState& state, std::vector<MPI_Request>& requests, const std::string& what) {
  const auto n = static_cast<std::size_t>(state.size);
  // The heartbeat: this rank's sequence number to every other rank, theirs from each. On the
  // heap, and left there after a fault: MPI may still write into it until the job ends.
  struct Heartbeat {
    std::uint64_t sequence = 0;
    std::vector<std::uint64_t> theirs;
  };
  auto beat = std::make_unique<Heartbeat>();
  beat->sequence = ++state.sequence;
  beat->theirs.assign(n, 0);
  const std::uint64_t sequence = beat->sequence;
  std::vector<std::uint64_t>& theirs = beat->theirs;
  std::vector<MPI_Request> received(n, MPI_REQUEST_NULL);
  std::vector<MPI_Request> sent;
  sent.reserve(n);
  for (int r = 0; r < state.size; ++r) {
    if (r == state.rank) continue;
    const auto at = static_cast<std::size_t>(r);
    check_mpi(state,
              MPI_Irecv(&theirs[at], 1, MPI_UINT64_T, r, kHeartbeatTag, state.comm, &received[at]),
              what);
    MPI_Request s = MPI_REQUEST_NULL;
    check_mpi(state, MPI_Isend(&beat->sequence, 1, MPI_UINT64_T, r, kHeartbeatTag, state.comm, &s),
              what);
    sent.push_back(s);
  }
  const auto deadline = std::chrono::steady_clock::now() + state.timeout;
  // Poll; sleep between polls once the first ones failed (ranks may share cores), at most 1 ms.
  auto pause = std::chrono::microseconds(0);
  for (;;) {
    const bool data = test_all(state, requests, what);
    const bool beats = test_all(state, received, what);
    if (data && beats && test_all(state, sent, what)) break;
    if (std::chrono::steady_clock::now() > deadline) {
      // MPI_Testall completes none unless all are complete: test each heartbeat on its own.
      std::vector<int> missing;
      for (int r = 0; r < state.size; ++r) {
        int arrived = 1;
        MPI_Request& theirs_beat = received[static_cast<std::size_t>(r)];
        if (theirs_beat != MPI_REQUEST_NULL) MPI_Test(&theirs_beat, &arrived, MPI_STATUS_IGNORE);
        if (arrived == 0) missing.push_back(r);
      }
      beat.release();  // NOLINT(bugprone-unused-return-value): MPI may still write into it
      if (missing.empty()) {
        fault(state, fmt::format("{} (collective #{}) did not complete within {}, though every "
                                 "rank arrived: a rank may have died during it",
                                 what, sequence, seconds(state.timeout)));
      }
      fault(state, fmt::format("{} (collective #{}): {} did not arrive within {} (a process "
                               "that died or hangs; Communicator::set_timeout sets the wait)",
                               what, sequence, rank_list(missing), seconds(state.timeout)));
    }
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
    pause = std::min(std::chrono::microseconds(1000), pause * 2 + std::chrono::microseconds(1));
  }
  std::vector<int> elsewhere;
  for (int r = 0; r < state.size; ++r) {
    if (r != state.rank && theirs[static_cast<std::size_t>(r)] != sequence) elsewhere.push_back(r);
  }
  if (!elsewhere.empty()) {
    fault(state, fmt::format("{} is collective #{} of this rank, but {} sent the heartbeat of "
                             "#{}: the ranks called different collectives",
                             what, sequence, rank_list(elsewhere),
                             theirs[static_cast<std::size_t>(elsewhere.front())]));
  }
}

}  // namespace detail

Communicator Communicator::world() {
  if (!environment_alive) {
    throw usage_error(
        "Communicator::world: MPI is not running; make a distributed::Environment first");
  }
  auto state = std::make_shared<detail::CommState>();
  MPI_Comm_dup(MPI_COMM_WORLD, &state->comm);
  // Errors come back as codes, which wait_all turns into communication_errors.
  MPI_Comm_set_errhandler(state->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(state->comm, &state->rank);
  MPI_Comm_size(state->comm, &state->size);
  return Communicator(std::move(state));
}

int Communicator::rank() const {
  return state_->rank;
}
int Communicator::size() const {
  return state_->size;
}
std::chrono::milliseconds Communicator::timeout() const {
  return state_->timeout;
}

void Communicator::set_timeout(std::chrono::milliseconds timeout) {
  if (timeout.count() <= 0) {
    throw value_error(
        fmt::format("Communicator::set_timeout: the timeout must be positive, got "
                    "{} ms",
                    timeout.count()));
  }
  state_->timeout = timeout;
}

void Communicator::barrier() {
  detail::check_usable(*state_, "barrier");
  std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
  check_mpi(*state_, MPI_Ibarrier(state_->comm, &requests[0]), "barrier");
  detail::wait_all(*state_, requests, "barrier");
}

void Communicator::broadcast(double* data, std::size_t n, int root) {
  broadcast_values(*this, data, n, root);
}

void Communicator::broadcast(float* data, std::size_t n, int root) {
  broadcast_values(*this, data, n, root);
}

std::vector<std::string> Communicator::all_gather(const std::string& text) {
  auto& state = *state_;
  detail::check_usable(state, "all_gather");
  const auto n = static_cast<std::size_t>(state.size);
  // The lengths first, then the texts.
  std::vector<int> lengths(n, 0);
  const int mine = static_cast<int>(text.size());
  std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
  check_mpi(state,
            MPI_Iallgather(&mine, 1, MPI_INT, lengths.data(), 1, MPI_INT, state.comm, &requests[0]),
            "all_gather");
  detail::wait_all(state, requests, "all_gather (lengths)");
  std::vector<int> offsets(n, 0);
  for (std::size_t r = 1; r < n; ++r) offsets[r] = offsets[r - 1] + lengths[r - 1];
  std::string all(static_cast<std::size_t>(offsets[n - 1] + lengths[n - 1]), '\0');
  requests.assign(1, MPI_REQUEST_NULL);
  check_mpi(state,
            MPI_Iallgatherv(text.data(), mine, MPI_CHAR, all.data(), lengths.data(), offsets.data(),
                            MPI_CHAR, state.comm, &requests[0]),
            "all_gather");
  detail::wait_all(state, requests, "all_gather");
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t r = 0; r < n; ++r) {
    out.push_back(
        all.substr(static_cast<std::size_t>(offsets[r]), static_cast<std::size_t>(lengths[r])));
  }
  return out;
}

std::vector<double> Communicator::sum(const std::vector<double>& values) {
  auto& state = *state_;
  detail::check_usable(state, "sum");
  const auto n = static_cast<std::size_t>(state.size);
  // The counts must agree before the values can be gathered.
  std::vector<std::uint64_t> counts(n, 0);
  const std::uint64_t count = values.size();
  std::vector<MPI_Request> requests(1, MPI_REQUEST_NULL);
  check_mpi(state,
            MPI_Iallgather(&count, 1, MPI_UINT64_T, counts.data(), 1, MPI_UINT64_T, state.comm,
                           &requests[0]),
            "sum");
  detail::wait_all(state, requests, "sum (counts)");
  for (std::size_t r = 1; r < n; ++r) {
    if (counts[r] != counts[0]) {
      throw value_error(
          fmt::format("sum: rank 0 gives {} values, rank {} gives {}; every rank "
                      "must give the same number",
                      counts[0], r, counts[r]));
    }
  }
  // Gathered, then added in rank order: the same sum on every rank.
  std::vector<double> all(n * values.size());
  requests.assign(1, MPI_REQUEST_NULL);
  check_mpi(state,
            MPI_Iallgather(values.data(), static_cast<int>(values.size()), MPI_DOUBLE, all.data(),
                           static_cast<int>(values.size()), MPI_DOUBLE, state.comm, &requests[0]),
            "sum");
  detail::wait_all(state, requests, "sum");
  std::vector<double> out(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(values.size()));
  for (std::size_t r = 1; r < n; ++r) {
    for (std::size_t i = 0; i < values.size(); ++i) out[i] += all[r * values.size() + i];
  }
  return out;
}

std::vector<double> mean(Communicator& comm, const std::vector<double>& values) {
  std::vector<double> out = comm.sum(values);
  for (double& v : out) v /= comm.size();
  return out;
}

Environment::Environment(int& argc, char**& argv) {
  start_mpi(&argc, &argv);
}

Environment::Environment() {
  start_mpi(nullptr, nullptr);
}

Environment::~Environment() {
  environment_alive = false;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (finalized) return;
  if (any_fault || std::uncaught_exceptions() > 0) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  MPI_Finalize();
}

bool Environment::active() {
  return environment_alive;
}

void Environment::abort(int status) {
  std::fflush(stdout);
  std::fflush(stderr);
  MPI_Abort(MPI_COMM_WORLD, status);
  std::_Exit(status);  // MPI_Abort does not return; this is for the compiler
}

}  // namespace tapegrad::distributed
