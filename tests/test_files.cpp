// OutputFiles and write_file_atomic (tapegrad/autograd/files.hpp): nothing at a final path changes
// before commit; every mistake is a value_error naming the file and the cause; and each failure a
// run can meet while it writes (a read-only folder, a full disk, a file size limit, a kill, another
// run committing to the same folder) leaves the earlier outputs byte for byte.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "helpers.hpp"
#include "tapegrad/autograd/files.hpp"
#include "tapegrad/autograd/npz.hpp"

namespace {

namespace fs = std::filesystem;
using tapegrad::OutputFiles;
using tapegrad::usage_error;
using tapegrad::value_error;
using tapegrad_test::contains;
using tapegrad_test::message_of;
using tapegrad_test::read_bytes;
using tapegrad_test::TempDir;
using tapegrad_test::write_bytes;

// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) {
      files[fs::relative(entry.path(), dir).string()] = read_bytes(entry.path().string());
    }
  }
  return files;
}

// The names of the files under `dir` that are temporaries of OutputFiles or write_file_atomic.
std::vector<std::string> temporaries(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (contains(entry.path().filename().string(), ".tmp-")) {
      names.push_back(entry.path().filename().string());
    }
  }
  return names;
}

// Two outputs of an earlier run, "a.csv" and "b.npz", in `dir`.
void earlier_run(const TempDir& dir) {
  dir.write("a.csv", "epoch,loss\n1,0.5\n");
  dir.write("b.npz", std::string(3000, 'b'));
}

// What a child process reports: its exit status (77: skipped, the setting could not be made),
// and the lines it wrote.
struct Child {
  int status = -1;
  std::string output;
};

// Runs `scenario` in a child process and returns what it reported. The child may call
// unshare(CLONE_NEWNS) and mount file systems: they vanish with it. `scenario` returns the
// exit status and appends its findings to its argument.
Child in_child(const std::function<int(std::string&)>& scenario) {
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::close(pipe_fds[0]);
    std::string log;
    int status = 1;
    try {
      status = scenario(log);
    } catch (const std::exception& e) {
      log += std::string("threw: ") + e.what() + "\n";
    }
    const ssize_t ignored = ::write(pipe_fds[1], log.data(), log.size());
    (void)ignored;
    ::_exit(status);
  }
  ::close(pipe_fds[1]);
  Child child;
  char buffer[4096];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) {
    child.output.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  child.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return child;
}

// In a child: a mount namespace of its own, so that what it mounts is gone when it exits.
bool private_mounts(std::string& log) {
  if (::unshare(CLONE_NEWNS) != 0 ||
      ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    log += std::string("no mount namespace (") + std::strerror(errno) + ")\n";
    return false;
  }
  return true;
}

// The checks of a child, as lines of its report; false when one failed.
struct Checks {
  std::string& log;
  bool ok = true;
  void operator()(bool condition, const std::string& what) {
    if (!condition) {
      log += "FAILED: " + what + "\n";
      ok = false;
    }
  }
};

// Records `what` thrown by `fn` as a value_error, "" (and a failed check) otherwise.
std::string value_error_of(Checks& check, const std::function<void()>& fn) {
  try {
    fn();
  } catch (const value_error& e) {
    return e.what();
  } catch (const std::exception& e) {
    check(false, std::string("the wrong exception type: ") + e.what());
    return {};
  }
  check(false, "no exception");
  return {};
}

}  // namespace

TEST_CASE("OutputFiles: nothing at the final paths changes before commit, then all of them") {
  TempDir dir;
  earlier_run(dir);
  const auto before = snapshot(dir.path);
  OutputFiles out;
  out.write(dir.file("a.csv"), "epoch,loss\n1,0.4\n2,0.3\n");
  const std::string b = out.stage(dir.file("b.npz"));
  CHECK(b.rfind(dir.file("b.npz.tmp-"), 0) == 0);  // next to its final path
  tapegrad::Npz npz;
  npz.put("w", tapegrad::Array<float>(tapegrad::make_shape({2, 3}), 1.5f));
  npz.save(b);  // a writer that replaces the temporary (write_file_atomic) is fine too
  out.write(dir.file("c.txt"), "a new output\n");
  CHECK(out.paths() ==
        std::vector<std::string>{dir.file("a.csv"), dir.file("b.npz"), dir.file("c.txt")});

  // Before commit: the earlier files as they were, the new ones only as temporaries.
  for (const auto& [name, bytes] : before) CHECK(read_bytes(dir.file(name)) == bytes);
  CHECK_FALSE(fs::exists(dir.file("c.txt")));
  CHECK(temporaries(dir.path).size() == 3);

  out.commit();
  CHECK(out.committed());
  CHECK(read_bytes(dir.file("a.csv")) == "epoch,loss\n1,0.4\n2,0.3\n");
  CHECK(tapegrad::Npz::load(dir.file("b.npz")).get<float>("w")(1, 2) == 1.5f);
  CHECK(read_bytes(dir.file("c.txt")) == "a new output\n");
  CHECK(temporaries(dir.path).empty());
  struct stat st {};
  REQUIRE(::stat(dir.file("c.txt").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0644);  // not mkstemp's 0600

  TG_CHECK_CONTAINS(message_of<usage_error>([&] { out.commit(); }), "called twice");
  TG_CHECK_CONTAINS(message_of<usage_error>([&] { out.stage(dir.file("d.txt")); }),
                    "committed already");
}

TEST_CASE("OutputFiles: a run that does not commit leaves every earlier file, and no temporary") {
  TempDir dir;
  earlier_run(dir);
  const auto before = snapshot(dir.path);
  SUBCASE("it throws") {
    CHECK_THROWS_AS(
        [&] {
          OutputFiles out;
          out.write(dir.file("a.csv"), "new");
          tapegrad::write_file_atomic(out.stage(dir.file("b.npz")), "new");
          out.write(dir.file("c.txt"), "new");
          throw std::runtime_error("the run failed");
        }(),
        std::runtime_error);
  }
  SUBCASE("an optional output is discarded") {
    OutputFiles out;
    out.write(dir.file("c.txt"), "kept");
    out.stage(dir.file("a.csv"));
    CHECK(out.discard(dir.file("a.csv")));
    CHECK_FALSE(out.discard(dir.file("a.csv")));
    CHECK_FALSE(out.discard(dir.file("never.txt")));
    out.commit();
    CHECK(read_bytes(dir.file("c.txt")) == "kept");
    fs::remove(dir.file("c.txt"));
  }
  CHECK(snapshot(dir.path) == before);
}

TEST_CASE("OutputFiles: mistakes are value_errors naming the file, and nothing is replaced") {
  TempDir dir;
  earlier_run(dir);
  const auto before = snapshot(dir.path);
  OutputFiles out;
  out.write(dir.file("a.csv"), "new a");
  SUBCASE("the same path twice, in any spelling") {
    const std::string m = message_of<value_error>([&] { out.stage(dir.file("./a.csv")); });
    TG_CHECK_CONTAINS(m, "an output of this run already");
    TG_CHECK_CONTAINS(m, dir.file("a.csv"));
    out.write(dir.file("a.csv"), "written again");  // write fills what is staged
  }
  SUBCASE("a folder at the path") {
    fs::create_directories(dir.path / "folder" / "inside");
    TG_CHECK_CONTAINS(message_of<value_error>([&] { out.stage(dir.file("folder")); }),
                      "a folder is in its place");
  }
  SUBCASE("a folder that does not exist") {
    const std::string m = message_of<value_error>([&] { out.stage(dir.file("none/x.csv")); });
    TG_CHECK_CONTAINS(m, dir.file("none/x.csv"));
    TG_CHECK_CONTAINS(m, "No such file or directory");
    CHECK_FALSE(fs::exists(dir.path / "none"));
  }
  SUBCASE("an empty path") {
    TG_CHECK_CONTAINS(message_of<value_error>([&] { out.stage(""); }), "empty path");
  }
  SUBCASE("a staged file that disappears before commit") {
    const std::string b = out.stage(dir.file("b.npz"));
    fs::remove(b);
    const std::string m = message_of<value_error>([&] { out.commit(); });
    TG_CHECK_CONTAINS(m, dir.file("b.npz"));
    TG_CHECK_CONTAINS(m, "is gone");
    TG_CHECK_CONTAINS(m, "no output of this run replaced an earlier one");
    CHECK_FALSE(out.committed());
  }
  SUBCASE("a folder that appears at a target before commit") {
    out.stage(dir.file("c.txt"));
    fs::create_directories(dir.path / "c.txt");
    const std::string m = message_of<value_error>([&] { out.commit(); });
    TG_CHECK_CONTAINS(m, dir.file("c.txt"));
    TG_CHECK_CONTAINS(m, "a folder is in its place");
    fs::remove(dir.path / "c.txt");
  }
  for (const auto& [name, bytes] : before) CHECK(read_bytes(dir.file(name)) == bytes);
}

TEST_CASE("OutputFiles: a write that fails (a file size limit) names the file and the cause") {
  // RLIMIT_FSIZE makes write() fail with EFBIG past 4000 bytes: the small file is written, the
  // large ones fail, in OutputFiles::write and in a writer filling a staged file.
  TempDir dir;
  earlier_run(dir);
  const auto before = snapshot(dir.path);
  {
    OutputFiles out;
    const tapegrad_test::FileSizeLimit limit(4000);
    out.write(dir.file("a.csv"), "epoch,loss\n1,0.1\n");
    std::string m =
        message_of<value_error>([&] { out.write(dir.file("b.npz"), std::string(5000, 'x')); });
    TG_CHECK_CONTAINS(m, dir.file("b.npz"));
    TG_CHECK_CONTAINS(m, "File too large");
    CHECK(out.paths() == std::vector<std::string>{dir.file("a.csv")});  // b is not staged
    tapegrad::Npz npz;
    npz.put("w", tapegrad::Array<float>(tapegrad::make_shape({40, 40}), 0.5f));
    m = message_of<value_error>([&] { npz.save(out.stage(dir.file("c.npz"))); });
    TG_CHECK_CONTAINS(m, "c.npz");
    TG_CHECK_CONTAINS(m, "File too large");
    m = message_of<value_error>(
        [&] { tapegrad::write_file_atomic(dir.file("a.csv"), std::string(5000, 'x')); });
    TG_CHECK_CONTAINS(m, "File too large");
    // The run fails here: out is destroyed without a commit.
  }
  CHECK(snapshot(dir.path) == before);
}

TEST_CASE("OutputFiles: a full disk (a 64 KiB tmpfs) leaves the earlier outputs") {
  TempDir dir;
  const Child child = in_child([&](std::string& log) {
    if (!private_mounts(log)) return 77;
    if (::mount("tmpfs", dir.path.c_str(), "tmpfs", 0, "size=64k") != 0) {
      log += std::string("cannot mount a tmpfs (") + std::strerror(errno) + ")\n";
      return 77;
    }
    Checks check{log};
    {  // The earlier run: 30 KiB in two files.
      OutputFiles out;
      out.write(dir.file("a.csv"), std::string(10000, 'a'));
      out.write(dir.file("b.npz"), std::string(20000, 'b'));
      out.commit();
    }
    const auto before = snapshot(dir.path);
    {  // This run's second file does not fit beside the first and the earlier files.
      OutputFiles out;
      out.write(dir.file("a.csv"), std::string(10000, 'A'));
      const std::string m =
          value_error_of(check, [&] { out.write(dir.file("b.npz"), std::string(40000, 'B')); });
      check(contains(m, "No space left on device"), "the message names the cause: " + m);
      check(contains(m, dir.file("b.npz")), "the message names the file: " + m);
    }
    check(snapshot(dir.path) == before, "the earlier outputs are byte for byte as they were");
    check(temporaries(dir.path).empty(), "no temporary is left");
    return check.ok ? 0 : 1;
  });
  if (child.status == 77) {
    MESSAGE("skipped (", child.output,
            "); the file size limit test injects the same kind of failure");
    return;
  }
  CHECK_MESSAGE(child.status == 0, child.output);
}

TEST_CASE("OutputFiles: a read-only output folder fails at stage, before the run's work") {
  TempDir dir;
  earlier_run(dir);
  const auto before = snapshot(dir.path);
  const auto scenario = [&](std::string& log) {
    Checks check{log};
    OutputFiles out;
    const std::string m = value_error_of(check, [&] { out.stage(dir.file("a.csv")); });
    check(contains(m, dir.file("a.csv")), "the message names the file: " + m);
    check(contains(m, "Read-only file system") || contains(m, "Permission denied"),
          "the message names the cause: " + m);
    check(snapshot(dir.path) == before, "the earlier outputs are as they were");
    return check.ok ? 0 : 1;
  };
  if (::geteuid() != 0) {
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
    std::string log;
    const int status = scenario(log);
    fs::permissions(dir.path, fs::perms::owner_all);
    CHECK_MESSAGE(status == 0, log);
    return;
  }
  // root writes into a folder without write permission: a read-only bind mount instead.
  const Child child = in_child([&](std::string& log) {
    if (!private_mounts(log)) return 77;
    const char* path = dir.path.c_str();
    if (::mount(path, path, nullptr, MS_BIND, nullptr) != 0 ||
        ::mount(nullptr, path, nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) {
      log += std::string("cannot bind-mount the folder read-only (") + std::strerror(errno) + ")\n";
      return 77;
    }
    return scenario(log);
  });
  if (child.status == 77) {
    MESSAGE("skipped (", child.output, ")");
    return;
  }
  CHECK_MESSAGE(child.status == 0, child.output);
}

namespace {

// The bytes of save `n` of file `tag`: a header naming both, then 300 KB of one letter.
std::string generation(char tag, long n) {
  return std::string(1, tag) + " " + std::to_string(n) + "\n" +
         std::string(300000, static_cast<char>('a' + n % 26));
}

// The save a file holds, or -1 when it is not one whole save of `tag`.
long generation_of(const std::string& bytes, char tag) {
  const std::size_t newline = bytes.find('\n');
  if (bytes.empty() || bytes[0] != tag || newline == std::string::npos) return -1;
  const long n = std::stol(bytes.substr(2, newline - 2));
  return bytes == generation(tag, n) ? n : -1;
}

}  // namespace

TEST_CASE("OutputFiles: a process killed while it writes or commits leaves whole files") {
  // A child saves two outputs in a loop, each run committing a.bin then b.bin; the parent kills
  // it (SIGKILL) at a random moment, 20 times. After each kill each file holds one whole save,
  // b.bin the same as a.bin or an earlier one (a kill between the two renames).
  TempDir dir;
  const std::string a = dir.file("a.bin"), b = dir.file("b.bin");
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> delay_us(1000, 30000);
  long previous_b = 0;
  for (int trial = 0; trial < 20; ++trial) {
    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      for (long n = trial * 100000L + 1;; ++n) {
        OutputFiles out;
        out.write(a, generation('a', n));
        tapegrad::write_file_atomic(out.stage(b), generation('b', n));
        out.commit();
      }
    }
    for (int waited = 0; waited < 10000 && !fs::exists(b); ++waited) ::usleep(1000);
    ::usleep(static_cast<useconds_t>(delay_us(rng)));
    ::kill(child, SIGKILL);
    int status = 0;
    ::waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status));
    CAPTURE(trial);
    const long in_a = generation_of(read_bytes(a), 'a');
    const long in_b = generation_of(read_bytes(b), 'b');
    CHECK(in_a > 0);
    CHECK(in_b > 0);
    // b.bin is a's save, or an earlier one when the kill fell between the two renames.
    CHECK(in_b <= in_a);
    CHECK(in_b >= previous_b);
    previous_b = in_b;
  }
  const std::size_t left = temporaries(dir.path).size();
  MESSAGE("kills that left temporaries behind: ", left, " files after 20 kills");
}

TEST_CASE("OutputFiles: two runs committing to one folder at once leave one complete pair") {
  // Two threads commit pairs (a.txt, b.txt) to one folder, 150 times each, each pair tagged
  // with its writer and round; a third reads the pair under a shared lock of the folder, as
  // a careful reader would. Each commit holds the folder's exclusive lock while it renames, so
  // no read sees a.txt of one commit with b.txt of another, and the end state is one pair.
  TempDir dir;
  const std::string a = dir.file("a.txt"), b = dir.file("b.txt");
  {
    OutputFiles out;
    out.write(a, "start\n" + std::string(2000, '.'));
    out.write(b, "start\n" + std::string(2000, '.'));
    out.commit();
  }
  std::atomic<int> running{2};
  std::atomic<int> failures{0};
  const auto writer = [&](int id) {
    for (int round = 0; round < 150; ++round) {
      const std::string tag = "writer " + std::to_string(id) + " round " + std::to_string(round);
      try {
        OutputFiles out;
        out.write(a, tag + "\n" + std::string(2000, 'a'));
        out.write(b, tag + "\n" + std::string(2000, 'b'));
        out.commit();
      } catch (const std::exception&) {
        ++failures;
      }
    }
    --running;
  };
  std::size_t reads = 0, torn = 0;
  const auto first_line = [](const std::string& bytes) {
    return bytes.substr(0, bytes.find('\n'));
  };
  std::thread w1(writer, 1), w2(writer, 2);
  while (running > 0) {
    const int fd = ::open(dir.path.c_str(), O_RDONLY | O_DIRECTORY);
    REQUIRE(fd >= 0);
    ::flock(fd, LOCK_SH);
    const std::string in_a = first_line(read_bytes(a));
    const std::string in_b = first_line(read_bytes(b));
    ::close(fd);
    ++reads;
    torn += in_a != in_b;
  }
  w1.join();
  w2.join();
  MESSAGE(reads, " reads of the pair while two runs committed, ", torn, " torn");
  CHECK(failures == 0);
  CHECK(reads > 0);
  CHECK(torn == 0);
  CHECK(first_line(read_bytes(a)) == first_line(read_bytes(b)));
  CHECK(temporaries(dir.path).empty());
}
