// .npy / .npz reading and writing on zlib. Every read is bounds-checked: a truncated or corrupt
// file is a value_error naming the file and the entry, never a crash or garbage.
#include "tapegrad/npz.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <sstream>

#include "detail.hpp"

namespace tapegrad {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw value_error(fmt::format("npz '{}': {}", path, what));
}

// ---- little-endian helpers ----

std::uint64_t read_le(const std::string& b, std::size_t pos, std::size_t bytes) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < bytes; ++i) {
    v |= static_cast<std::uint64_t>(static_cast<unsigned char>(b[pos + i])) << (8 * i);
  }
  return v;
}

void write_le(std::string& out, std::uint64_t v, std::size_t bytes) {
  for (std::size_t i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

// ---- .npy ----

struct DType {
  char kind;  // 'f', 'i', 'u', 'b'
  std::size_t size;
};

std::string header_value(const std::string& header, const std::string& key) {
  const std::string quoted = "'" + key + "'";
  const auto k = header.find(quoted);
  if (k == std::string::npos) return {};
  auto p = header.find(':', k + quoted.size());
  if (p == std::string::npos) return {};
  ++p;
  while (p < header.size() && header[p] == ' ') ++p;
  if (p >= header.size()) return {};
  if (header[p] == '\'') {
    const auto e = header.find('\'', p + 1);
    return e == std::string::npos ? std::string() : header.substr(p + 1, e - p - 1);
  }
  if (header[p] == '(') {
    const auto e = header.find(')', p);
    return e == std::string::npos ? std::string() : header.substr(p, e - p + 1);
  }
  auto e = p;
  while (e < header.size() && header[e] != ',' && header[e] != '}') ++e;
  return header.substr(p, e - p);
}

template <class T, class S>
void convert_into(Array<T>& out, const char* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * sizeof(S), sizeof(S));
    out.data()[i] = static_cast<T>(v);
  }
}

// Reorders Fortran-order elements (of `shape`) into C order.
template <class A>
A from_fortran(const A& f, const Shape& shape) {
  A c = A::from_shape(shape);
  std::vector<std::size_t> idx(shape.size(), 0), fstride(shape.size(), 1);
  for (std::size_t d = 1; d < shape.size(); ++d) fstride[d] = fstride[d - 1] * shape[d - 1];
  for (std::size_t flat = 0; flat < c.size(); ++flat) {
    std::size_t off = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) off += idx[d] * fstride[d];
    c.data()[flat] = f.data()[off];
    for (std::size_t d = shape.size(); d-- > 0;) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
  return c;
}

Npz::Entry parse_npy(const std::string& b, const std::string& path, const std::string& name) {
  const auto bad = [&](const std::string& why) {
    fail(path, fmt::format("entry '{}': {}", name, why));
  };
  if (b.size() < 10 || b.compare(0, 6, "\x93NUMPY") != 0) bad("not an .npy array (bad magic)");
  const int major = static_cast<unsigned char>(b[6]);
  std::size_t header_len = 0, start = 0;
  if (major == 1) {
    header_len = read_le(b, 8, 2), start = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) bad("truncated header");
    header_len = read_le(b, 8, 4), start = 12;
  } else {
    bad(fmt::format("unsupported .npy version {}", major));
  }
  if (start + header_len > b.size()) bad("truncated header");
  const std::string header = b.substr(start, header_len);
  const std::string descr = header_value(header, "descr");
  const std::string fortran = header_value(header, "fortran_order");
  const std::string shape_text = header_value(header, "shape");
  if (descr.size() < 3 || shape_text.empty() || (fortran != "True" && fortran != "False")) {
    bad("malformed header: " + header);
  }
  if (descr[0] == '>') bad("big-endian data (" + descr + ") is not supported");
  DType dt{descr[1], 0};
  try {
    dt.size = std::stoul(descr.substr(2));
  } catch (const std::exception&) {
    bad("malformed dtype '" + descr + "'");
  }
  if (dt.size == 0 || dt.size > 16) bad("unsupported dtype '" + descr + "'");
  Shape shape;
  {
    std::string digits;
    for (char ch : shape_text.substr(1)) {
      if (ch >= '0' && ch <= '9') {
        digits += ch;
      } else if (ch == ',' || ch == ')') {
        if (digits.size() > 15) bad("shape too large: " + shape_text);
        if (!digits.empty()) shape.push_back(std::stoul(digits));
        digits.clear();
      } else if (ch != ' ' && ch != 'L') {
        bad("malformed shape " + shape_text);
      }
    }
  }
  std::size_t count = 1;
  for (std::size_t s : shape) {
    if (s != 0 && count > (std::size_t{1} << 40) / s) bad("shape too large");
    count *= s;
  }
  const std::size_t data = start + header_len;
  if (b.size() - data != count * dt.size) {
    bad(fmt::format("shape {} of {} needs {} bytes of data, the entry has {}", shape_str(shape),
                    descr, count * dt.size, b.size() - data));
  }
  const char* src = b.data() + data;
  Npz::Entry entry;
  if (dt.kind == 'f' && dt.size == 4) {
    Array<float> a = Array<float>::from_shape(shape);
    convert_into<float, float>(a, src, count);
    entry = std::move(a);
  } else if (dt.kind == 'f' && dt.size == 8) {
    Array<double> a = Array<double>::from_shape(shape);
    convert_into<double, double>(a, src, count);
    entry = std::move(a);
  } else if (dt.kind == 'i' || dt.kind == 'u' || dt.kind == 'b') {
    IndexArray a = IndexArray::from_shape(shape);
    if (dt.kind == 'i' && dt.size == 8)
      convert_into<Index, std::int64_t>(a, src, count);
    else if (dt.kind == 'i' && dt.size == 4)
      convert_into<Index, std::int32_t>(a, src, count);
    else if (dt.kind == 'i' && dt.size == 2)
      convert_into<Index, std::int16_t>(a, src, count);
    else if (dt.kind == 'i' && dt.size == 1)
      convert_into<Index, std::int8_t>(a, src, count);
    else if (dt.kind == 'u' && dt.size == 1)
      convert_into<Index, std::uint8_t>(a, src, count);
    else if (dt.kind == 'b' && dt.size == 1)
      convert_into<Index, std::uint8_t>(a, src, count);
    else
      bad("unsupported dtype '" + descr + "'");
    entry = std::move(a);
  } else {
    bad("unsupported dtype '" + descr + "'");
  }
  if (fortran == "True" && shape.size() > 1) {
    std::visit([&](auto& a) { a = from_fortran(a, shape); }, entry);
  }
  return entry;
}

template <class A>
std::string npy_bytes(const A& a, const char* descr) {
  std::string shape = "(";
  for (std::size_t d = 0; d < a.dimension(); ++d) {
    shape += std::to_string(a.shape()[d]) + (a.dimension() == 1      ? ","
                                             : d + 1 < a.dimension() ? ", "
                                                                     : "");
  }
  shape += ")";
  std::string header =
      fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr, shape);
  const std::size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string out = "\x93NUMPY";
  out.push_back(1);
  out.push_back(0);
  write_le(out, header.size(), 2);
  out += header;
  out.append(reinterpret_cast<const char*>(a.data()), a.size() * sizeof(typename A::value_type));
  return out;
}

// ---- zip ----

constexpr std::uint32_t kLocal = 0x04034b50, kCentral = 0x02014b50, kEnd = 0x06054b50;
constexpr std::uint32_t kEnd64 = 0x06064b50, kLocator64 = 0x07064b50;

std::string inflate_raw(const std::string& in, std::size_t out_size, const std::string& path,
                        const std::string& name) {
  std::string out(out_size, '\0');
  z_stream z{};
  if (inflateInit2(&z, -MAX_WBITS) != Z_OK) fail(path, "zlib inflateInit2 failed");
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(&z, Z_FINISH);
  const auto produced = z.total_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END || produced != out_size) {
    fail(path, fmt::format("entry '{}': corrupt deflate data", name));
  }
  return out;
}

}  // namespace

Npz Npz::load(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    fail(path, "is a folder, not an .npz file");
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) fail(path, fmt::format("cannot open ({})", std::strerror(errno)));
  std::string b;
  try {
    b.assign(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
  } catch (const std::exception& e) {  // libstdc++'s filebuf throws on a failed read()
    fail(path, fmt::format("read error ({})", e.what()));
  }
  if (file.bad()) fail(path, "read error");
  if (b.empty()) fail(path, "the file is empty");
  if (b.size() < 22) fail(path, "too short to be an .npz archive (truncated?)");

  // End of central directory: the last record with its signature.
  std::size_t end = std::string::npos;
  const std::size_t lowest = b.size() > 22 + 65535 ? b.size() - 22 - 65535 : 0;
  for (std::size_t p = b.size() - 22 + 1; p-- > lowest;) {
    if (read_le(b, p, 4) == kEnd) {
      end = p;
      break;
    }
  }
  if (end == std::string::npos)
    fail(path, "not a zip archive, or truncated (no end of central directory)");
  std::uint64_t count = read_le(b, end + 10, 2);
  std::uint64_t cd_size = read_le(b, end + 12, 4);
  std::uint64_t cd_offset = read_le(b, end + 16, 4);
  if (count == 0xffff || cd_size == 0xffffffff || cd_offset == 0xffffffff) {
    if (end < 20 || read_le(b, end - 20, 4) != kLocator64) fail(path, "zip64 locator missing");
    const std::uint64_t e64 = read_le(b, end - 20 + 8, 8);
    if (e64 > b.size() || b.size() - e64 < 56 || read_le(b, e64, 4) != kEnd64) {
      fail(path, "zip64 end record corrupt");
    }
    count = read_le(b, e64 + 32, 8);
    cd_size = read_le(b, e64 + 40, 8);
    cd_offset = read_le(b, e64 + 48, 8);
  }
  if (cd_offset > b.size() || cd_size > b.size() - cd_offset) {
    fail(path, "central directory outside the file (truncated?)");
  }

  Npz npz;
  npz.path_ = path;
  std::size_t p = cd_offset;
  for (std::uint64_t i = 0; i < count; ++i) {
    if (p + 46 > b.size() || read_le(b, p, 4) != kCentral) fail(path, "corrupt central directory");
    const auto method = read_le(b, p + 10, 2);
    const auto crc = static_cast<std::uint32_t>(read_le(b, p + 16, 4));
    std::uint64_t csize = read_le(b, p + 20, 4), usize = read_le(b, p + 24, 4);
    const std::size_t nlen = read_le(b, p + 28, 2), elen = read_le(b, p + 30, 2),
                      clen = read_le(b, p + 32, 2);
    std::uint64_t offset = read_le(b, p + 42, 4);
    if (p + 46 + nlen + elen + clen > b.size()) fail(path, "corrupt central directory");
    std::string member = b.substr(p + 46, nlen);
    // zip64 extra field: the sizes and offset that did not fit in 32 bits, in this order.
    for (std::size_t x = p + 46 + nlen; x + 4 <= p + 46 + nlen + elen;) {
      const auto id = read_le(b, x, 2), len = read_le(b, x + 2, 2);
      if (x + 4 + len > p + 46 + nlen + elen) fail(path, "corrupt extra field of " + member);
      if (id == 1) {
        std::size_t f = x + 4;
        const std::size_t f_end = x + 4 + len;
        if (usize == 0xffffffff && f + 8 <= f_end) usize = read_le(b, f, 8), f += 8;
        if (csize == 0xffffffff && f + 8 <= f_end) csize = read_le(b, f, 8), f += 8;
        if (offset == 0xffffffff && f + 8 <= f_end) offset = read_le(b, f, 8), f += 8;
      }
      x += 4 + len;
    }
    p += 46 + nlen + elen + clen;

    if (member.size() <= 4 || member.compare(member.size() - 4, 4, ".npy") != 0) {
      fail(path, fmt::format("member '{}' is not an .npy array (corrupt archive?)", member));
    }
    const std::string name = member.substr(0, member.size() - 4);
    if (npz.contains(name)) fail(path, fmt::format("entry '{}' appears twice", name));
    if (offset > b.size() || b.size() - offset < 30 || read_le(b, offset, 4) != kLocal) {
      fail(path, fmt::format("entry '{}': local header missing (truncated?)", name));
    }
    const std::size_t local_nlen = read_le(b, offset + 26, 2);
    if (offset + 30 + local_nlen > b.size() || b.compare(offset + 30, local_nlen, member) != 0) {
      fail(path,
           fmt::format("entry '{}': the local and central names differ (corrupt archive)", name));
    }
    const std::size_t data = offset + 30 + read_le(b, offset + 26, 2) + read_le(b, offset + 28, 2);
    if (data > b.size() || csize > b.size() - data) {
      fail(path, fmt::format("entry '{}': data runs past the end of the file (truncated?)", name));
    }
    if (usize > (std::uint64_t{1} << 40)) fail(path, fmt::format("entry '{}': too large", name));
    std::string raw = b.substr(data, csize);
    if (method == 8) {
      raw = inflate_raw(raw, usize, path, name);
    } else if (method != 0) {
      fail(path, fmt::format("entry '{}': unsupported compression method {}", name, method));
    } else if (csize != usize) {
      fail(path, fmt::format("entry '{}': stored sizes disagree", name));
    }
    const auto actual = static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(raw.data()), static_cast<uInt>(raw.size())));
    if (actual != crc) fail(path, fmt::format("entry '{}': CRC mismatch (corrupt data)", name));
    npz.put(name, parse_npy(raw, path, name));
  }
  return npz;
}

void Npz::save(const std::string& path) const {
  std::string out;
  std::string central;
  for (const auto& name : order_) {
    const Entry& e = entries_.at(name);
    const std::string bytes = std::visit(
        [](const auto& a) {
          using A = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<A, Array<float>>)
            return npy_bytes(a, "<f4");
          else if constexpr (std::is_same_v<A, Array<double>>)
            return npy_bytes(a, "<f8");
          else
            return npy_bytes(a, "<i8");
        },
        e);
    const std::string member = name + ".npy";
    const auto crc = static_cast<std::uint32_t>(
        crc32(0L, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(bytes.size())));
    if (out.size() > 0xffffffffULL - bytes.size() - 1024 || member.size() > 0xffff) {
      throw value_error(
          fmt::format("npz '{}': entry '{}' makes the archive too large", path, name));
    }
    const std::uint64_t offset = out.size();
    auto header = [&](std::string& h, bool is_central) {
      write_le(h, is_central ? kCentral : kLocal, 4);
      if (is_central) write_le(h, 20, 2);  // made by
      write_le(h, 20, 2);                  // version needed
      write_le(h, 0, 2);                   // flags
      write_le(h, 0, 2);                   // method: stored
      write_le(h, 0, 2);                   // time
      write_le(h, 0x21, 2);                // date: 1980-01-01
      write_le(h, crc, 4);
      write_le(h, bytes.size(), 4);
      write_le(h, bytes.size(), 4);
      write_le(h, member.size(), 2);
      write_le(h, 0, 2);  // extra
      if (is_central) {
        write_le(h, 0, 2);  // comment
        write_le(h, 0, 2);  // disk
        write_le(h, 0, 2);  // internal attributes
        write_le(h, 0, 4);  // external attributes
        write_le(h, offset, 4);
      }
      h += member;
    };
    header(out, false);
    out += bytes;
    header(central, true);
  }
  const std::uint64_t cd_offset = out.size();
  out += central;
  write_le(out, kEnd, 4);
  write_le(out, 0, 2);
  write_le(out, 0, 2);
  write_le(out, order_.size(), 2);
  write_le(out, order_.size(), 2);
  write_le(out, central.size(), 4);
  write_le(out, cd_offset, 4);
  write_le(out, 0, 2);
  write_file_atomic(path, out);
}

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
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      cleanup_fail("write failed");
    }
    done += static_cast<std::size_t>(n);
  }
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
