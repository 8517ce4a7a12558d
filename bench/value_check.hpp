// The value check of the benchmarks against LibTorch (seq2seq, sentiment): the file that carries
// it from the tapegrad binary to the LibTorch one, and the error measure. The tapegrad binary
// writes its initial weights, the loss, the gradient norm before clipping of each of a few
// training steps, the first step's gradients and the weights after the steps
// (value_check_tapegrad.hpp); the LibTorch binary loads those weights into its modules by name,
// runs the same steps and compares (value_check_torch.hpp). Standard library only: both sides
// include this.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace value_check {

/// A named float array, the unit of the value check's file.
struct Tensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::vector<float> data;
};

inline void write_tensors(const std::string& path, const std::vector<Tensor>& tensors) {
  std::ofstream f(path, std::ios::binary);
  auto put = [&f](std::uint64_t n) { f.write(reinterpret_cast<const char*>(&n), sizeof n); };
  put(tensors.size());
  for (const Tensor& t : tensors) {
    put(t.name.size());
    f.write(t.name.data(), static_cast<std::streamsize>(t.name.size()));
    put(t.shape.size());
    for (std::int64_t d : t.shape) put(static_cast<std::uint64_t>(d));
    put(t.data.size());
    f.write(reinterpret_cast<const char*>(t.data.data()),
            static_cast<std::streamsize>(t.data.size() * sizeof(float)));
  }
  if (!f) throw std::runtime_error("cannot write " + path);
}

inline std::vector<Tensor> read_tensors(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  auto get = [&f]() {
    std::uint64_t n = 0;
    f.read(reinterpret_cast<char*>(&n), sizeof n);
    return n;
  };
  std::vector<Tensor> tensors(f ? get() : 0);
  for (Tensor& t : tensors) {
    t.name.resize(get());
    f.read(t.name.data(), static_cast<std::streamsize>(t.name.size()));
    t.shape.resize(get());
    for (std::int64_t& d : t.shape) d = static_cast<std::int64_t>(get());
    t.data.resize(get());
    f.read(reinterpret_cast<char*>(t.data.data()),
           static_cast<std::streamsize>(t.data.size() * sizeof(float)));
  }
  if (!f || tensors.empty()) throw std::runtime_error("cannot read " + path);
  return tensors;
}

/// max |a - b| / max(max |b|, tiny): an error relative to the reference's scale, so that the
/// near-zero elements of a gradient are not compared relative to themselves.
inline double scaled_error(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0.0, scale = 1e-30;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    diff = std::max(diff, std::abs(static_cast<double>(a[i]) - b[i]));
    scale = std::max(scale, std::abs(static_cast<double>(b[i])));
  }
  return a.size() == b.size() ? diff / scale : std::numeric_limits<double>::infinity();
}

}  // namespace value_check
