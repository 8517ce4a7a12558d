// libFuzzer harness of tapegrad::Npz::load: any file is an archive or a value_error.
//
// The input is the whole .npz file. An archive that loads must be consistent (every entry's
// dtype, shape and element count agree) and, when small, must survive Npz::save followed by
// Npz::load unchanged, bit for bit.
//
// TAPEGRAD_FUZZ_WRITE_SEEDS=FOLDER writes a small archive with Npz::save into FOLDER (the seed
// fuzz/corpus/fuzz_npz/tapegrad_save.npz); fuzz/corpus/make_npz_seeds.py writes NumPy's.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <type_traits>
#include <variant>

#include <tapegrad/autograd/npz.hpp>

#include "fuzz_common.hpp"

namespace {

using tapegrad::Npz;

// The elements of one entry, and its dtype name, checked against what the archive reports.
template <class A>
void check_entry(const Npz& npz, const std::string& name, const A& a, const char* dtype) {
  if (npz.dtype(name) != dtype) fuzz::finding("npz: dtype of '" + name + "' is not " + dtype);
  if (npz.shape(name) != a.shape()) fuzz::finding("npz: shape() of '" + name + "' differs");
  std::size_t count = 1;
  for (std::size_t s : a.shape()) count *= s;
  if (count != a.size()) fuzz::finding("npz: '" + name + "' has a size unlike its shape");
}

std::size_t check_archive(const Npz& npz) {
  std::size_t elements = 0;
  for (const std::string& name : npz.names()) {
    const std::string dtype = npz.dtype(name);
    if (dtype == "float32") {
      const auto a = npz.get<float>(name);
      check_entry(npz, name, a, "float32");
      elements += a.size();
    } else if (dtype == "float64") {
      const auto a = npz.get<double>(name);
      check_entry(npz, name, a, "float64");
      elements += a.size();
    } else if (dtype == "int64") {
      const auto a = npz.get_index(name);
      check_entry(npz, name, a, "int64");
      elements += a.size();
    } else {
      fuzz::finding("npz: entry '" + name + "' has dtype '" + dtype + "'");
    }
  }
  if (npz.names().size() != npz.size()) fuzz::finding("npz: names() and size() disagree");
  return elements;
}

template <class A>
bool same_bits(const A& a, const A& b) {
  // memcmp of no bytes still needs pointers that are not null (an empty array has none).
  return a.shape() == b.shape() &&
         (a.size() == 0 ||
          std::memcmp(a.data(), b.data(), a.size() * sizeof(typename A::value_type)) == 0);
}

// What save writes, load reads back unchanged.
void check_round_trip(const Npz& npz) {
  const std::string path = fuzz::scratch_dir() + "/round_trip.npz";
  npz.save(path);
  const Npz back = Npz::load(path);
  if (back.names() != npz.names()) fuzz::finding("npz: save/load changed the names");
  for (const std::string& name : npz.names()) {
    const std::string dtype = npz.dtype(name);
    if (back.dtype(name) != dtype) fuzz::finding("npz: save/load changed the dtype of " + name);
    const bool same = dtype == "float32" ? same_bits(npz.get<float>(name), back.get<float>(name))
                      : dtype == "float64"
                          ? same_bits(npz.get<double>(name), back.get<double>(name))
                          : same_bits(npz.get_index(name), back.get_index(name));
    if (!same) fuzz::finding("npz: save/load changed the values of " + name);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  fuzz::set_small_input_limits();
  if (const char* seeds = std::getenv("TAPEGRAD_FUZZ_WRITE_SEEDS")) {
    Npz npz;
    npz.put("weight", tapegrad::Array<float>{{0.5f, -1.0f}, {2.0f, 0.25f}});
    npz.put("bias", tapegrad::Array<double>{1.0, -2.0, 3.5});
    npz.put("lengths", tapegrad::IndexArray{{4}, {1}});
    npz.save(std::string(seeds) + "/tapegrad_save.npz");
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = fuzz::write_input("input.npz", data, size);
  Npz npz;
  if (!fuzz::read_or_typed_error([&] { npz = Npz::load(path); })) return 0;
  // Typed errors from here on are findings too: the archive has loaded.
  const std::size_t elements = check_archive(npz);
  if (elements <= (std::size_t{1} << 16)) check_round_trip(npz);
  return 0;
}
