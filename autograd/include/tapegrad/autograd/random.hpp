/// @file
/// Seeded random numbers: parameter initialisation, dropout masks, shuffling.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <random>
#include <type_traits>

#include "tapegrad/autograd/array.hpp"

namespace tapegrad {

/// A seeded random generator (64-bit Mersenne Twister). Same seed, same numbers. Bad arguments
/// are value_errors naming them: a bound or a mean that is not finite, lo > hi, a negative
/// stddev, p outside [0, 1], a shape with more elements than memory can address (a negative
/// size converted to std::size_t).
class Generator {
 public:
  /// A generator seeded with `seed`.
  explicit Generator(std::uint64_t seed = 0) : engine_(seed) {}
  /// Restarts the sequence: afterwards it draws what a new Generator(seed) draws.
  void seed(std::uint64_t seed) { engine_.seed(seed); }
  /// The underlying engine, for std:: distributions and std::shuffle; drawing from it
  /// advances this generator.
  std::mt19937_64& engine() { return engine_; }

  /// Uniform in [lo, hi).
  template <class T>
  Array<T> uniform(const Shape& shape, T lo, T hi);
  /// Normal with the given mean and standard deviation.
  template <class T>
  Array<T> normal(const Shape& shape, T mean = T(0), T stddev = T(1));
  /// 1 with probability `p`, else 0.
  template <class T>
  Array<T> bernoulli(const Shape& shape, double p);

 private:
  std::mt19937_64 engine_;
};

extern template Array<float> Generator::uniform<float>(const Shape&, float, float);
extern template Array<double> Generator::uniform<double>(const Shape&, double, double);
extern template Array<float> Generator::normal<float>(const Shape&, float, float);
extern template Array<double> Generator::normal<double>(const Shape&, double, double);
extern template Array<float> Generator::bernoulli<float>(const Shape&, double);
extern template Array<double> Generator::bernoulli<double>(const Shape&, double);

/// This thread's default generator.
Generator& default_generator();
/// Seeds this thread's default generator.
void manual_seed(std::uint64_t seed);

/// @{
/// Uniform in [0, 1), of `shape` (a braced list or a Shape), from `generator` (this thread's
/// default generator unless given: manual_seed makes it repeatable). T is float or double.
template <class T = float>
Array<T> rand(const Shape& shape, Generator& generator = default_generator()) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "rand: float or double");
  return generator.uniform<T>(shape, T(0), T(1));
}
template <class T = float>
Array<T> rand(std::initializer_list<std::size_t> shape,
              Generator& generator = default_generator()) {
  return rand<T>(make_shape(shape), generator);
}
/// @}

/// @{
/// Standard normal (mean 0, standard deviation 1), of `shape`, from `generator` (this thread's
/// default generator unless given). T is float or double.
template <class T = float>
Array<T> randn(const Shape& shape, Generator& generator = default_generator()) {
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>, "randn: float or double");
  return generator.normal<T>(shape, T(0), T(1));
}
template <class T = float>
Array<T> randn(std::initializer_list<std::size_t> shape,
               Generator& generator = default_generator()) {
  return randn<T>(make_shape(shape), generator);
}
/// @}

}  // namespace tapegrad
