// The caching allocator of Array storage: alignment, reuse of freed blocks by size, per-thread
// caches, release, and that arrays behave as before.
#include <doctest/doctest.h>

#include <cstdint>
#include <thread>

#include "helpers.hpp"

namespace {

using tapegrad::Array;

std::uintptr_t address(const Array<float>& a) {
  return reinterpret_cast<std::uintptr_t>(a.data());
}

}  // namespace

TEST_CASE("allocator: blocks are 64-byte aligned, small and large") {
  for (std::size_t n : {1, 3, 17, 1000, 100000}) {
    const Array<float> a = Array<float>::from_shape({n});
    CHECK(address(a) % 64 == 0);
  }
  const tapegrad::IndexArray ids = tapegrad::IndexArray::from_shape({5});
  CHECK(reinterpret_cast<std::uintptr_t>(ids.data()) % 64 == 0);
}

#if defined(__SANITIZE_ADDRESS__)
TEST_CASE("allocator: under AddressSanitizer nothing is cached") {
  { const Array<float> a = Array<float>::from_shape({512, 512}); }
  CHECK(tapegrad::cached_bytes() == 0);
}
#else
TEST_CASE("allocator: a freed block is cached and handed out again for the same size") {
  tapegrad::release_cache();
  CHECK(tapegrad::cached_bytes() == 0);
  std::uintptr_t first = 0;
  {
    const Array<float> a = Array<float>::from_shape({512, 512});
    first = address(a);
  }
  CHECK(tapegrad::cached_bytes() == 512 * 512 * sizeof(float));
  const Array<float> b = Array<float>::from_shape({256, 1024});  // same byte count
  CHECK(address(b) == first);
  CHECK(tapegrad::cached_bytes() == 0);
  {
    const Array<float> c = Array<float>::from_shape({3, 5});
    const Array<float> d = Array<float>::from_shape({7});
  }
  CHECK(tapegrad::cached_bytes() == 2 * 64);  // 60 and 28 bytes, each rounded to 64
  tapegrad::release_cache();
  CHECK(tapegrad::cached_bytes() == 0);
}

TEST_CASE("allocator: each thread has its own cache, and a block may be freed on another thread") {
  tapegrad::release_cache();
  Array<float> made_here = Array<float>::from_shape({1000});
  std::size_t cached_there = 0;
  std::thread worker([&] {
    Array<float> moved = std::move(made_here);
    moved = Array<float>::from_shape({2});  // frees the 4000-byte block on this thread
    cached_there = tapegrad::cached_bytes();
  });
  worker.join();
  CHECK(cached_there >= 4032);
  CHECK(tapegrad::cached_bytes() == 0);  // nothing came back to this thread's cache
}

#endif

TEST_CASE("allocator: arrays copy, move, resize and compute as before") {
  Array<double> a = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
  Array<double> b = a;
  b(0, 0) = 10.0;
  CHECK(a(0, 0) == 1.0);
  Array<double> c = std::move(b);
  CHECK(c(0, 0) == 10.0);
  c.resize({3, 4});
  CHECK(c.size() == 12);
  const Array<double> s = a + a * 2.0;
  CHECK(s(1, 2) == 18.0);
  const xt::xarray<double> plain = a;  // to and from xtensor's default allocator
  const Array<double> back = plain;
  CHECK(back == a);
}
