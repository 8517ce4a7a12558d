// The .npy format: parse and check a header, read the data it describes, write an array.
#include <algorithm>
#include <cstring>

#include "detail.hpp"
#include "npy.hpp"

namespace tapegrad::detail {

namespace {

// Little-endian integers of `bytes` bytes.
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

// Widens n little-endian values of type S at `src` into `out`.
template <class T, class S>
void convert_into(T* out, const char* src, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    S v;
    std::memcpy(&v, src + i * sizeof(S), sizeof(S));
    // An int8 entry is signed by its dtype: widening keeps its sign, as numpy does.
    out[i] = static_cast<T>(v);  // NOLINT(bugprone-signed-char-misuse)
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

// numpy writes headers of a few hundred bytes (and refuses to read those over 10,000 bytes by
// default); this bound keeps a crafted length from sizing an allocation.
constexpr std::size_t kMaxNpyHeader = 1 << 16;

// The value of `key` in a header's dict text: a quoted string, a tuple, or a bare word.
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

// The .npy bytes of an array of dtype `descr`.
template <class A>
std::string npy_bytes_of(const A& a, const char* descr) {
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

}  // namespace

void npz_fail(const std::string& path, const std::string& what) {
  throw value_error(fmt::format("npz '{}': {}", path, what));
}

std::string data_printable(const std::string& s) {
  std::string out;
  for (const char ch : s.substr(0, 200)) {
    const auto c = static_cast<unsigned char>(ch);
    out += c < 0x20 || c >= 0x7f ? fmt::format("\\x{:02x}", c) : std::string(1, ch);
  }
  return s.size() > 200 ? out + "..." : out;
}

NpyHeader read_npy_header(const NpyRead& read, const std::string& path, const std::string& name) {
  const auto bad = [&](const std::string& why) {
    npz_fail(path, fmt::format("entry '{}': {}", name, why));
  };
  std::string b(10, '\0');
  read(b.data(), b.size());
  if (b.compare(0, 6, "\x93NUMPY") != 0) bad("not an .npy array (bad magic)");
  const int major = static_cast<unsigned char>(b[6]);
  NpyHeader h;
  std::size_t header_len = 0;
  if (major == 1) {
    header_len = read_le(b, 8, 2);
    h.header_bytes = 10;
  } else if (major == 2 || major == 3) {
    b.resize(12);
    read(b.data() + 10, 2);
    header_len = read_le(b, 8, 4);
    h.header_bytes = 12;
  } else {
    bad(fmt::format("unsupported .npy version {}", major));
  }
  if (header_len > kMaxNpyHeader) {
    bad(fmt::format("the .npy header states {} bytes, more than the {} an .npy header may have",
                    header_len, kMaxNpyHeader));
  }
  std::string header(header_len, '\0');
  read(header.data(), header.size());
  h.header_bytes += header_len;
  h.descr = header_value(header, "descr");
  const std::string fortran = header_value(header, "fortran_order");
  const std::string shape_text = header_value(header, "shape");
  if (h.descr.size() < 3 || shape_text.empty() || (fortran != "True" && fortran != "False")) {
    bad("malformed header: " + data_printable(header));
  }
  h.fortran = fortran == "True";
  if (h.descr[0] == '>') bad("big-endian data (" + h.descr + ") is not supported");
  h.dtype.kind = h.descr[1];
  const std::string size_text = h.descr.substr(2);
  if (size_text.empty() || size_text.size() > 2 ||
      size_text.find_first_not_of("0123456789") != std::string::npos) {
    bad("unsupported dtype '" + data_printable(h.descr) + "'");
  }
  h.dtype.size = std::stoul(size_text);
  if (h.dtype.size == 0 || h.dtype.size > 16) bad("unsupported dtype '" + h.descr + "'");
  {
    std::string digits;
    for (char ch : shape_text.substr(1)) {
      if (ch >= '0' && ch <= '9') {
        digits += ch;
      } else if (ch == ',' || ch == ')') {
        if (digits.size() > 15) bad("shape too large: " + shape_text);
        if (!digits.empty()) h.shape.push_back(std::stoul(digits));
        digits.clear();
      } else if (ch != ' ' && ch != 'L') {
        bad("malformed shape " + data_printable(shape_text));
      }
    }
    if (h.shape.size() > 32) bad(fmt::format("{} dimensions (at most 32)", h.shape.size()));
  }
  for (std::size_t s : h.shape) {
    if (s != 0 && h.count > (std::uint64_t{1} << 50) / s) bad("shape too large");
    h.count *= s;
  }
  h.data_bytes = h.count * h.dtype.size;
  return h;
}

Npz::Entry read_npy_data(const NpyHeader& h, const NpyRead& read, const std::string& path,
                         const std::string& name) {
  const auto bad = [&](const std::string& why) {
    npz_fail(path, fmt::format("entry '{}': {}", name, why));
  };
  const NpyDType dt = h.dtype;
  Npz::Entry entry;
  if (dt.kind == 'f' && (dt.size == 4 || dt.size == 8)) {
    if (dt.size == 4) {
      Array<float> a = Array<float>::from_shape(h.shape);
      read(reinterpret_cast<char*>(a.data()), h.data_bytes);
      entry = std::move(a);
    } else {
      Array<double> a = Array<double>::from_shape(h.shape);
      read(reinterpret_cast<char*>(a.data()), h.data_bytes);
      entry = std::move(a);
    }
  } else if ((dt.kind == 'i' && (dt.size == 1 || dt.size == 2 || dt.size == 4 || dt.size == 8)) ||
             ((dt.kind == 'u' || dt.kind == 'b') && dt.size == 1)) {
    IndexArray a = IndexArray::from_shape(h.shape);
    // In chunks: the integers are widened to Index as they arrive.
    constexpr std::size_t kChunk = 1 << 16;
    std::string chunk;
    for (std::uint64_t done = 0; done < h.count;) {
      const std::size_t n =
          static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, h.count - done));
      chunk.resize(n * dt.size);
      read(chunk.data(), chunk.size());
      Index* out = a.data() + done;
      const char* src = chunk.data();
      if (dt.kind == 'i' && dt.size == 8) {
        convert_into<Index, std::int64_t>(out, src, n);
      } else if (dt.kind == 'i' && dt.size == 4) {
        convert_into<Index, std::int32_t>(out, src, n);
      } else if (dt.kind == 'i' && dt.size == 2) {
        convert_into<Index, std::int16_t>(out, src, n);
      } else if (dt.kind == 'i') {
        convert_into<Index, std::int8_t>(out, src, n);
      } else {
        convert_into<Index, std::uint8_t>(out, src, n);
      }
      done += n;
    }
    entry = std::move(a);
  } else {
    bad("unsupported dtype '" + h.descr + "'");
  }
  if (h.fortran && h.shape.size() > 1) {
    std::visit([&](auto& a) { a = from_fortran(a, h.shape); }, entry);
  }
  return entry;
}

std::string npy_bytes(const Npz::Entry& entry) {
  return std::visit(
      [](const auto& a) {
        using A = std::decay_t<decltype(a)>;
        if constexpr (std::is_same_v<A, Array<float>>)
          return npy_bytes_of(a, "<f4");
        else if constexpr (std::is_same_v<A, Array<double>>)
          return npy_bytes_of(a, "<f8");
        else
          return npy_bytes_of(a, "<i8");
      },
      entry);
}

}  // namespace tapegrad::detail
