// write_file_atomic and OutputFiles (tapegrad/autograd/files.hpp).
#include "tapegrad/autograd/files.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <utility>

#include "detail.hpp"

namespace tapegrad {

namespace {

// Writes all of `data` to `fd`, retrying interrupted and partial writes; false (with errno
// set) on an error.
bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    done += static_cast<std::size_t>(n);
  }
  return true;
}

// The folder a path lives in, as open() takes it: "." for a bare name.
std::string folder_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

// One spelling per file, to find a path staged twice ("out/a.csv" and "./out/a.csv").
std::string canonical_spelling(const std::string& path) {
  std::error_code ec;
  const std::filesystem::path p = std::filesystem::weakly_canonical(path, ec);
  return ec ? path : p.string();
}

bool is_folder(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

// A folder held open with an exclusive flock, released when closed.
class FolderLock {
 public:
  FolderLock(std::string folder, int fd, dev_t dev, ino_t ino)
      : folder_(std::move(folder)), fd_(fd), dev_(dev), ino_(ino) {}
  FolderLock(FolderLock&& other) noexcept
      : folder_(std::move(other.folder_)),
        fd_(std::exchange(other.fd_, -1)),
        dev_(other.dev_),
        ino_(other.ino_) {}
  FolderLock& operator=(FolderLock&& other) noexcept {
    std::swap(folder_, other.folder_);
    std::swap(fd_, other.fd_);
    dev_ = other.dev_;
    ino_ = other.ino_;
    return *this;
  }
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;
  ~FolderLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  const std::string& folder() const { return folder_; }
  int fd() const { return fd_; }
  bool operator<(const FolderLock& other) const {
    return std::make_pair(dev_, ino_) < std::make_pair(other.dev_, other.ino_);
  }
  bool operator==(const FolderLock& other) const {
    return dev_ == other.dev_ && ino_ == other.ino_;
  }

 private:
  std::string folder_;
  int fd_;
  dev_t dev_;
  ino_t ino_;
};

}  // namespace

void write_file_atomic(const std::string& path, const std::string& data) {
  std::string tmpl = path + ".tmp-XXXXXX";
  const int fd = mkstemp(tmpl.data());
  if (fd < 0) {
    throw value_error(
        fmt::format("cannot write '{}': cannot create a temporary file next to it ({})", path,
                    std::strerror(errno)));
  }
  const auto cleanup_fail = [&](const char* what) {
    const int err = errno;
    ::close(fd);
    std::remove(tmpl.c_str());
    throw value_error(fmt::format("cannot write '{}': {} ({}); the existing file is unchanged",
                                  path, what, std::strerror(err)));
  };
  if (!write_all(fd, data)) cleanup_fail("write failed");
  if (::fsync(fd) != 0) cleanup_fail("fsync failed");
  ::fchmod(fd, 0644);
  if (::close(fd) != 0) {
    const int err = errno;
    std::remove(tmpl.c_str());
    throw value_error(
        fmt::format("cannot write '{}': close failed ({})", path, std::strerror(err)));
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int err = errno;
    std::remove(tmpl.c_str());
    throw value_error(
        fmt::format("cannot write '{}': rename failed ({}); the existing file is unchanged", path,
                    std::strerror(err)));
  }
}

// ---- OutputFiles ----

OutputFiles::~OutputFiles() {
  for (const Staged& s : staged_) {
    if (!s.temporary.empty()) ::unlink(s.temporary.c_str());
  }
}

std::string OutputFiles::stage(const std::string& path) {
  if (path.empty()) throw value_error("OutputFiles::stage: an empty path");
  if (committed_) {
    throw usage_error(
        fmt::format("OutputFiles::stage('{}'): the files are committed already", path));
  }
  const std::string spelling = canonical_spelling(path);
  for (const Staged& s : staged_) {
    if (canonical_spelling(s.path) == spelling) {
      throw value_error(fmt::format(
          "cannot write '{}': it is an output of this run already (as '{}')", path, s.path));
    }
  }
  if (is_folder(path)) {
    throw value_error(fmt::format("cannot write '{}': a folder is in its place", path));
  }
  std::string temporary = path + ".tmp-XXXXXX";
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) {
    const int err = errno;
    throw value_error(fmt::format("cannot write '{}': cannot create a file in the folder '{}' ({})",
                                  path, folder_of(path), std::strerror(err)));
  }
  ::fchmod(fd, 0644);  // mkstemp's 0600 would make outputs private
  ::close(fd);
  staged_.push_back({path, temporary});
  return temporary;
}

void OutputFiles::write(const std::string& path, const std::string& data) {
  const auto it =
      std::find_if(staged_.begin(), staged_.end(), [&](const Staged& s) { return s.path == path; });
  const std::string temporary =
      it != staged_.end() && !it->temporary.empty() ? it->temporary : stage(path);
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  int err = 0;
  if (fd < 0) {
    err = errno;
  } else {
    if (!write_all(fd, data)) err = errno;
    if (::close(fd) != 0 && err == 0) err = errno;
  }
  if (err != 0) {
    discard(path);
    throw value_error(fmt::format("cannot write '{}': {}; the existing file is unchanged", path,
                                  std::strerror(err)));
  }
}

bool OutputFiles::discard(const std::string& path) {
  const auto it =
      std::find_if(staged_.begin(), staged_.end(), [&](const Staged& s) { return s.path == path; });
  if (it == staged_.end() || it->temporary.empty()) return false;
  ::unlink(it->temporary.c_str());
  staged_.erase(it);
  return true;
}

void OutputFiles::commit() {
  if (committed_) throw usage_error("OutputFiles::commit: called twice");
  const auto fail = [](const Staged& s, const std::string& why) {
    throw value_error(fmt::format(
        "cannot write '{}': {}; no output of this run replaced an earlier one", s.path, why));
  };
  // Every file on disk before any is renamed: a crash after a rename never leaves a renamed
  // file whose data are still in the page cache only.
  for (const Staged& s : staged_) {
    const int fd = ::open(s.temporary.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      fail(s, fmt::format("its new version '{}' is gone ({})", s.temporary, std::strerror(err)));
    }
    const bool synced = ::fsync(fd) == 0;
    const int err = errno;
    ::close(fd);
    if (!synced) fail(s, fmt::format("flushing it to disk failed ({})", std::strerror(err)));
  }

  // Lock each target folder once, in (device, inode) order, so that two runs locking the
  // same folders cannot deadlock.
  std::vector<FolderLock> locks;
  for (const Staged& s : staged_) {
    const std::string folder = folder_of(s.path);
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      const int err = errno;
      fail(s, fmt::format("cannot open its folder ({})", std::strerror(err)));
    }
    struct stat st {};
    ::fstat(fd, &st);
    FolderLock lock(folder, fd, st.st_dev, st.st_ino);
    if (std::find(locks.begin(), locks.end(), lock) == locks.end())
      locks.push_back(std::move(lock));
  }
  std::sort(locks.begin(), locks.end());
  for (const FolderLock& lock : locks) {
    while (::flock(lock.fd(), LOCK_EX) != 0) {
      const int err = errno;
      if (err != EINTR) {
        throw value_error(fmt::format("cannot lock the folder '{}' to write the outputs ({})",
                                      lock.folder(), std::strerror(err)));
      }
    }
  }

  for (const Staged& s : staged_) {
    if (is_folder(s.path)) fail(s, "a folder is in its place");
  }
  std::vector<std::string> replaced;
  for (Staged& s : staged_) {
    if (std::rename(s.temporary.c_str(), s.path.c_str()) != 0) {
      const int err = errno;
      std::string done = "no other output was replaced";
      if (!replaced.empty()) {
        done = fmt::format("the outputs replaced before it: '{}'", fmt::join(replaced, "', '"));
      }
      throw value_error(fmt::format("cannot write '{}': renaming '{}' over it failed ({}); {}",
                                    s.path, s.temporary, std::strerror(err), done));
    }
    s.temporary.clear();
    replaced.push_back(s.path);
  }
  for (const FolderLock& lock : locks) ::fsync(lock.fd());  // the renames, on disk
  committed_ = true;
}

std::vector<std::string> OutputFiles::paths() const {
  std::vector<std::string> out;
  out.reserve(staged_.size());
  for (const Staged& s : staged_) out.push_back(s.path);
  return out;
}

}  // namespace tapegrad
