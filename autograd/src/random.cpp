#include "tapegrad/autograd/random.hpp"

#include <cmath>

#include <fmt/format.h>

#include "tapegrad/autograd/errors.hpp"

namespace tapegrad {

template <class T>
Array<T> Generator::uniform(const Shape& shape, T lo, T hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) {
    throw value_error(fmt::format("uniform: lo {} and hi {} must be finite", lo, hi));
  }
  if (!(lo <= hi)) throw value_error(fmt::format("uniform: lo {} is greater than hi {}", lo, hi));
  detail::check_shape("uniform", shape);
  Array<T> a = Array<T>::from_shape(shape);
  std::uniform_real_distribution<T> dist(lo, hi);
  for (auto& x : a) x = lo == hi ? lo : dist(engine_);
  return a;
}

template <class T>
Array<T> Generator::normal(const Shape& shape, T mean, T stddev) {
  if (!std::isfinite(mean) || !std::isfinite(stddev)) {
    throw value_error(fmt::format("normal: mean {} and stddev {} must be finite", mean, stddev));
  }
  if (!(stddev >= T(0))) throw value_error(fmt::format("normal: stddev {} is negative", stddev));
  detail::check_shape("normal", shape);
  Array<T> a = Array<T>::from_shape(shape);
  // z * stddev + mean from standard normals z: std::normal_distribution's own formula, which
  // also holds for stddev = 0 (the distribution itself requires stddev > 0).
  std::normal_distribution<T> dist(T(0), T(1));
  for (auto& x : a) x = dist(engine_) * stddev + mean;
  return a;
}

template <class T>
Array<T> Generator::bernoulli(const Shape& shape, double p) {
  if (!(p >= 0.0 && p <= 1.0))
    throw value_error(fmt::format("bernoulli: p = {} is outside [0, 1]", p));
  detail::check_shape("bernoulli", shape);
  Array<T> a = Array<T>::from_shape(shape);
  std::uniform_real_distribution<double> dist(0.0, 1.0);
  for (auto& x : a) x = dist(engine_) < p ? T(1) : T(0);
  return a;
}

template Array<float> Generator::uniform<float>(const Shape&, float, float);
template Array<double> Generator::uniform<double>(const Shape&, double, double);
template Array<float> Generator::normal<float>(const Shape&, float, float);
template Array<double> Generator::normal<double>(const Shape&, double, double);
template Array<float> Generator::bernoulli<float>(const Shape&, double);
template Array<double> Generator::bernoulli<double>(const Shape&, double);

Generator& default_generator() {
  thread_local Generator generator(0);
  return generator;
}

void manual_seed(std::uint64_t seed) {
  default_generator().seed(seed);
}

}  // namespace tapegrad
