/// @file
/// NumPy's .npy / .npz files: read what numpy.savez writes, write what numpy.load reads.
#pragma once

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "tapegrad/autograd/array.hpp"
#include "tapegrad/autograd/files.hpp"

namespace tapegrad {

/// An ordered set of named arrays, as in a NumPy .npz archive. Holds float32, float64 and
/// int64 arrays (int32, int16, int8, uint8 and bool entries load as int64).
///
/// ```
///   Npz weights = Npz::load("model.npz");
///   Array<float> w = weights.get<float>("rnn.weight_ih_l0");
/// ```
class Npz {
 public:
  /// One array of the archive, as one of the three types it can hold.
  using Entry = std::variant<Array<float>, Array<double>, IndexArray>;

  /// Reads an archive (stored or deflated members, zip64 as numpy writes it). A missing,
  /// empty, truncated or corrupt file, a folder, or an entry in another format, is a
  /// value_error naming the file and the entry.
  static Npz load(const std::string& path);

  /// Writes the archive atomically: a temporary file in the same folder, flushed, then renamed
  /// over `path`. If anything fails, an existing file at `path` is left untouched.
  void save(const std::string& path) const;

  /// Whether an entry of this name exists (the name numpy.savez was given, without ".npy").
  bool contains(const std::string& name) const { return entries_.count(name) != 0; }
  /// Names in archive order.
  const std::vector<std::string>& names() const { return order_; }
  /// The number of entries.
  std::size_t size() const { return order_.size(); }
  /// "float32", "float64" or "int64". A missing entry is a value_error listing the names.
  std::string dtype(const std::string& name) const;
  /// The entry's shape, without reading it as an array. A missing entry is a value_error
  /// listing the names.
  Shape shape(const std::string& name) const;

  /// The entry as an array of T. The stored dtype must be T's (no silent conversion); a
  /// missing entry or another dtype is a value_error naming the entry.
  template <class T>
  Array<T> get(const std::string& name) const;
  /// A floating-point entry converted to T (float64 fixtures into float tests).
  template <class T>
  Array<T> get_as(const std::string& name) const;
  /// An integer entry (ids, lengths, labels) as int64, whatever integer type numpy wrote:
  /// int64 as it is; int32, int16, int8, uint8 and bool entries were widened to int64 when
  /// loaded (bool: 0 and 1). A float32 or float64 entry, or a missing one, is a value_error
  /// naming the entry ("npz 'f.npz': entry 'x' is float32, expected an integer array"): no
  /// silent rounding.
  ///
  /// ```
  ///   IndexArray ids = Npz::load("batch.npz").get_index("ids");
  /// ```
  IndexArray get_index(const std::string& name) const;

  /// Adds or replaces an entry (kept in first-insertion order).
  void put(const std::string& name, Entry value);

  /// Where this archive was read from ("" when built in memory), for messages.
  const std::string& path() const { return path_; }

 private:
  const Entry& find(const std::string& name) const;
  std::map<std::string, Entry> entries_;
  std::vector<std::string> order_;
  std::string path_;
};

extern template Array<float> Npz::get<float>(const std::string&) const;
extern template Array<double> Npz::get<double>(const std::string&) const;
extern template Array<float> Npz::get_as<float>(const std::string&) const;
extern template Array<double> Npz::get_as<double>(const std::string&) const;

}  // namespace tapegrad
