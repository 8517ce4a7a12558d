// .npz archives: the zip container (libzip) around the .npy entries, and the entries by name.
// Every size the file states (entry sizes, the .npy header's shape and dtype) is checked
// against the bytes really there and against tapegrad::input_limits() before anything is
// allocated, so that a truncated, corrupt or crafted file is a value_error naming the file and
// the entry, never a crash, garbage or an allocation the file's bytes cannot back.
#include "tapegrad/autograd/npz.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zip.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <mutex>

#include "detail.hpp"
#include "npy.hpp"
#include "tapegrad/autograd/limits.hpp"

namespace tapegrad {

namespace {

using detail::data_printable;
using detail::npz_fail;

// Deflate cannot expand data more than about 1032 times (258-byte matches in 2 bits); an
// entry that states more than this from its compressed bytes is a lie.
constexpr std::uint64_t kMaxDeflateRatio = 1032;

// libzip 1.7 (Debian's) fills two function-static masks on its first zip_open_from_source
// (zip_open too) without synchronisation: a thread opening an archive at that moment can see the
// first mask set and the second not yet, take its writable source for a read-only one and fail
// with "Read-only archive" (two models saved at once, 1 run in 40). One throwaway open, once per
// process and before any other, fills them.
void prime_libzip() {
  static std::once_flag once;
  std::call_once(once, [] {
    zip_error_t error;
    zip_error_init(&error);
    zip_source_t* source = zip_source_buffer_create(nullptr, 0, 0, &error);
    if (source != nullptr) {
      zip_t* archive = zip_open_from_source(source, ZIP_TRUNCATE, &error);
      if (archive != nullptr) {
        zip_discard(archive);  // frees the source with it
      } else {
        zip_source_free(source);
      }
    }
    zip_error_fini(&error);
  });
}

std::string zip_message(int code) {
  zip_error_t error;
  zip_error_init_with_code(&error, code);
  std::string text = zip_error_strerror(&error);
  zip_error_fini(&error);
  return text;
}

// True when the last 64 KiB of the file hold a zip end-of-central-directory signature.
bool has_end_record(const std::string& path, std::uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  const std::uint64_t tail = std::min<std::uint64_t>(size, 65536 + 22);
  std::string b(static_cast<std::size_t>(tail), '\0');
  in.seekg(static_cast<std::streamoff>(size - tail));
  in.read(b.data(), static_cast<std::streamsize>(b.size()));
  return in && b.find(std::string("PK\x05\x06", 4)) != std::string::npos;
}

// Why libzip could not open an archive, in words for the user.
std::string open_failure(int code, bool end_record) {
  switch (code) {
    case ZIP_ER_NOZIP:
      if (end_record) {
        return "corrupt zip archive: it has an end record, but no central directory that "
               "matches its entries (a damaged central directory or local header, or a "
               "truncated file)";
      }
      return "not a zip archive, or truncated (no end of central directory)";
    case ZIP_ER_INCONS:
      return "corrupt or truncated zip archive (its central directory and local headers "
             "disagree, or point past the end of the file)";
    case ZIP_ER_MULTIDISK:
      return "a multi-disk zip archive (not supported)";
    case ZIP_ER_MEMORY:
      return "out of memory while reading the zip directory";
    default:
      return "cannot read the zip archive (" + zip_message(code) + ")";
  }
}

struct ArchiveCloser {
  void operator()(zip_t* z) const { zip_discard(z); }
};
struct FileCloser {
  void operator()(zip_file_t* f) const { zip_fclose(f); }
};

// One entry's data as a stream of exact reads.
class EntryStream {
 public:
  EntryStream(zip_file_t* file, const std::string& path, const std::string& name,
              std::uint64_t size)
      : file_(file), path_(path), name_(name), size_(size) {}

  // Exactly n bytes, or a value_error naming what went wrong.
  void read(char* out, std::uint64_t n) {
    while (n > 0) {
      const std::uint64_t want = std::min<std::uint64_t>(n, std::uint64_t{1} << 30);
      const zip_int64_t got = zip_fread(file_.get(), out, want);
      if (got < 0) fail_read();
      if (got == 0) {
        npz_fail(path_, fmt::format("entry '{}': its data ends after {} of the {} bytes it states "
                                    "(truncated or corrupt)",
                                    name_, done_, size_));
      }
      done_ += static_cast<std::uint64_t>(got);
      out += got;
      n -= static_cast<std::uint64_t>(got);
    }
  }

  // The data must end here; reading to the end makes libzip check the CRC.
  void finish() {
    char extra = 0;
    const zip_int64_t got = zip_fread(file_.get(), &extra, 1);
    if (got < 0) fail_read();
    if (got > 0) {
      npz_fail(path_,
               fmt::format("entry '{}': data after the {} bytes its .npy header accounts for",
                           name_, done_));
    }
  }

 private:
  [[noreturn]] void fail_read() {
    const zip_error_t* e = zip_file_get_error(file_.get());
    const int code = zip_error_code_zip(e);
    if (code == ZIP_ER_CRC)
      npz_fail(path_, fmt::format("entry '{}': CRC mismatch (corrupt data)", name_));
    if (code == ZIP_ER_ZLIB || code == ZIP_ER_COMPRESSED_DATA) {
      npz_fail(path_, fmt::format("entry '{}': corrupt deflate data", name_));
    }
    npz_fail(path_, fmt::format("entry '{}': cannot read its data ({})", name_,
                                zip_error_strerror(const_cast<zip_error_t*>(e))));
  }

  std::unique_ptr<zip_file_t, FileCloser> file_;
  const std::string& path_;
  const std::string& name_;
  std::uint64_t size_;
  std::uint64_t done_ = 0;
};

}  // namespace

Npz Npz::load(const std::string& path) {
  prime_libzip();
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    npz_fail(path, fmt::format("cannot open ({})", std::strerror(errno)));
  }
  if (S_ISDIR(st.st_mode)) npz_fail(path, "is a folder, not an .npz file");
  if (st.st_size == 0) npz_fail(path, "the file is empty");
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  if (file_size < 22) npz_fail(path, "too short to be an .npz archive (truncated?)");

  int code = 0;
  std::unique_ptr<zip_t, ArchiveCloser> archive(
      zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code));
  if (!archive) {
    if (code == ZIP_ER_OPEN || code == ZIP_ER_READ || code == ZIP_ER_NOENT) {
      npz_fail(path, fmt::format("cannot open ({})", zip_message(code)));
    }
    npz_fail(path, open_failure(code, code == ZIP_ER_NOZIP && has_end_record(path, file_size)));
  }
  const zip_int64_t count = zip_get_num_entries(archive.get(), 0);
  Npz npz;
  npz.path_ = path;
  for (zip_int64_t i = 0; i < count; ++i) {
    const auto index = static_cast<zip_uint64_t>(i);
    zip_stat_t info;
    zip_stat_init(&info);
    if (zip_stat_index(archive.get(), index, 0, &info) != 0) {
      npz_fail(path, fmt::format("entry {}: corrupt central directory ({})", i,
                                 zip_strerror(archive.get())));
    }
    const std::string member = (info.valid & ZIP_STAT_NAME) && info.name ? info.name : "";
    if (member.size() <= 4 || member.compare(member.size() - 4, 4, ".npy") != 0) {
      npz_fail(path, fmt::format("member '{}' is not an .npy array (corrupt archive?)",
                                 data_printable(member)));
    }
    const std::string name = member.substr(0, member.size() - 4);
    if (npz.contains(name)) npz_fail(path, fmt::format("entry '{}' appears twice", name));
    if ((info.valid & ZIP_STAT_ENCRYPTION_METHOD) && info.encryption_method != ZIP_EM_NONE) {
      npz_fail(path, fmt::format("entry '{}' is encrypted (not supported)", name));
    }
    const std::uint64_t size = info.size, compressed = info.comp_size;
    if (compressed > file_size) {
      npz_fail(path,
               fmt::format("entry '{}': data runs past the end of the file (truncated?)", name));
    }
    if (info.comp_method == ZIP_CM_STORE) {
      if (size != compressed)
        npz_fail(path, fmt::format("entry '{}': stored sizes disagree", name));
    } else if (info.comp_method == ZIP_CM_DEFLATE) {
      if (size / kMaxDeflateRatio > compressed + 1) {
        npz_fail(path,
                 fmt::format("entry '{}': states {} bytes from {} compressed bytes, more than "
                             "deflate can produce (corrupt or crafted archive)",
                             name, size, compressed));
      }
    } else {
      npz_fail(path, fmt::format("entry '{}': unsupported compression method {}", name,
                                 info.comp_method));
    }
    zip_file_t* opened = zip_fopen_index(archive.get(), index, 0);
    if (!opened) {
      npz_fail(path, fmt::format("entry '{}': local header missing or corrupt ({})", name,
                                 zip_strerror(archive.get())));
    }
    EntryStream stream(opened, path, name, size);
    const auto read = [&](char* out, std::uint64_t n) { stream.read(out, n); };
    const detail::NpyHeader h = detail::read_npy_header(read, path, name);
    if (h.header_bytes > size || size - h.header_bytes != h.data_bytes) {
      npz_fail(path,
               fmt::format("entry '{}': shape {} of {} needs {} bytes of data, the entry has {}",
                           name, shape_str(h.shape), h.descr, h.data_bytes,
                           size - std::min<std::uint64_t>(size, h.header_bytes)));
    }
    const std::uint64_t memory = h.count * (h.dtype.kind == 'f' ? h.dtype.size : sizeof(Index));
    check_input_size(
        fmt::format("npz '{}': entry '{}' ({}, shape {})", path, name, h.descr, shape_str(h.shape)),
        memory, input_limits().max_array_bytes, "max_array_bytes");
    Npz::Entry entry = detail::read_npy_data(h, read, path, name);
    stream.finish();
    npz.put(name, std::move(entry));
  }
  return npz;
}

void Npz::save(const std::string& path) const {
  // The archive is built in memory by libzip (stored members, as numpy.savez writes them), then
  // written atomically.
  std::vector<std::string> members;
  members.reserve(order_.size());
  for (const auto& name : order_) members.push_back(detail::npy_bytes(entries_.at(name)));
  if (order_.empty()) {
    // libzip deletes an archive without members when it closes it; numpy writes this record.
    write_file_atomic(path, std::string("PK\x05\x06", 4) + std::string(18, '\0'));
    return;
  }
  const auto zip_fail = [&](const std::string& what) {
    throw value_error(fmt::format("npz '{}': cannot build the archive: {}", path, what));
  };
  prime_libzip();
  zip_error_t error;
  zip_error_init(&error);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &error);
  if (!buffer) zip_fail(zip_error_strerror(&error));
  zip_source_keep(buffer);  // outlives the archive: its bytes are the result
  struct SourceFree {
    void operator()(zip_source_t* s) const { zip_source_free(s); }
  };
  std::unique_ptr<zip_source_t, SourceFree> keep(buffer);
  zip_t* archive = zip_open_from_source(buffer, ZIP_TRUNCATE, &error);
  if (!archive) zip_fail(zip_error_strerror(&error));
  for (std::size_t i = 0; i < order_.size(); ++i) {
    const std::string member = order_[i] + ".npy";
    zip_source_t* data = zip_source_buffer(archive, members[i].data(), members[i].size(), 0);
    const zip_int64_t index =
        data ? zip_file_add(archive, member.c_str(), data, ZIP_FL_ENC_UTF_8) : -1;
    if (index < 0) {
      if (data) zip_source_free(data);
      const std::string why = zip_strerror(archive);
      zip_discard(archive);
      zip_fail(fmt::format("entry '{}': {}", order_[i], why));
    }
    const auto at = static_cast<zip_uint64_t>(index);
    if (zip_set_file_compression(archive, at, ZIP_CM_STORE, 0) != 0 ||
        zip_file_set_dostime(archive, at, 0, 0x21, 0) != 0) {  // 1980-01-01: same bytes each time
      const std::string why = zip_strerror(archive);
      zip_discard(archive);
      zip_fail(fmt::format("entry '{}': {}", order_[i], why));
    }
  }
  if (zip_close(archive) != 0) {
    const std::string why = zip_strerror(archive);
    zip_discard(archive);
    zip_fail(why);
  }
  zip_stat_t info;
  zip_stat_init(&info);
  if (zip_source_stat(buffer, &info) != 0 || zip_source_open(buffer) != 0) {
    zip_fail(zip_error_strerror(zip_source_error(buffer)));
  }
  std::string out(static_cast<std::size_t>(info.size), '\0');
  const zip_int64_t got = zip_source_read(buffer, out.data(), out.size());
  zip_source_close(buffer);
  if (got < 0 || static_cast<std::uint64_t>(got) != info.size) zip_fail("reading it back");
  write_file_atomic(path, out);
}

const Npz::Entry& Npz::find(const std::string& name) const {
  const auto it = entries_.find(name);
  if (it == entries_.end()) {
    throw value_error(
        fmt::format("npz '{}': no entry '{}' (entries: {})", path_, name, fmt::join(order_, ", ")));
  }
  return it->second;
}

std::string Npz::dtype(const std::string& name) const {
  static const char* names[] = {"float32", "float64", "int64"};
  return names[find(name).index()];
}

Shape Npz::shape(const std::string& name) const {
  return std::visit([](const auto& a) { return Shape(a.shape().begin(), a.shape().end()); },
                    find(name));
}

template <class T>
Array<T> Npz::get(const std::string& name) const {
  const Entry& e = find(name);
  if (const auto* a = std::get_if<Array<T>>(&e)) return *a;
  throw value_error(fmt::format("npz '{}': entry '{}' is {}, expected {}", path_, name, dtype(name),
                                sizeof(T) == 4 ? "float32" : "float64"));
}

template <class T>
Array<T> Npz::get_as(const std::string& name) const {
  const Entry& e = find(name);
  if (const auto* f = std::get_if<Array<float>>(&e)) return xt::cast<T>(*f);
  if (const auto* d = std::get_if<Array<double>>(&e)) return xt::cast<T>(*d);
  throw value_error(fmt::format("npz '{}': entry '{}' is {}, expected a floating-point array",
                                path_, name, dtype(name)));
}

IndexArray Npz::get_index(const std::string& name) const {
  const Entry& e = find(name);
  if (const auto* a = std::get_if<IndexArray>(&e)) return *a;
  throw value_error(fmt::format("npz '{}': entry '{}' is {}, expected an integer array", path_,
                                name, dtype(name)));
}

void Npz::put(const std::string& name, Entry value) {
  if (entries_.count(name) == 0) order_.push_back(name);
  entries_[name] = std::move(value);
}

template Array<float> Npz::get<float>(const std::string&) const;
template Array<double> Npz::get<double>(const std::string&) const;
template Array<float> Npz::get_as<float>(const std::string&) const;
template Array<double> Npz::get_as<double>(const std::string&) const;

}  // namespace tapegrad