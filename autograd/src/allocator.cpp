// The caching allocator of Array storage (see CachingAllocator in array.hpp).
#include <cstdlib>
#include <new>
#include <unordered_map>
#include <vector>

#include "tapegrad/autograd/array.hpp"

namespace tapegrad {

namespace {

// Every block is 64-byte aligned (a cache line), as xsimd's allocator aligned them to 32 before:
// SIMD and BLAS loops can then take the same path on every run, so results stay bit for bit
// repeatable from run to run.
constexpr std::size_t alignment = 64;
// Blocks up to this size are found by direct index (size / alignment), larger ones by a hash.
constexpr std::size_t small_limit = 4096;
constexpr std::size_t small_classes = small_limit / alignment + 1;
// A thread keeps at most this much freed memory for reuse; beyond it, blocks are freed.
constexpr std::size_t max_cached = std::size_t(1) << 30;

std::size_t rounded(std::size_t bytes) {
  return bytes == 0 ? alignment : (bytes + alignment - 1) / alignment * alignment;
}

struct Cache {
  std::vector<void*> small[small_classes];
  std::unordered_map<std::size_t, std::vector<void*>> large;  // by rounded size
  std::size_t bytes = 0;

  std::vector<void*>& list(std::size_t size) {
    return size <= small_limit ? small[size / alignment] : large[size];
  }
  void release() {
    for (auto& blocks : small) {
      for (void* p : blocks) std::free(p);
      blocks.clear();
    }
    for (auto& entry : large) {
      for (void* p : entry.second) std::free(p);
    }
    large.clear();
    bytes = 0;
  }
};

// The cache lives as long as its thread. Plain pointers and flags (trivially destructible)
// tell blocks freed after the cache's destruction (by other thread-local or static objects)
// to go to free() directly.
thread_local Cache* cache = nullptr;
thread_local bool cache_gone = false;

struct CacheOwner {
  Cache cache_;
  CacheOwner() { cache = &cache_; }
  ~CacheOwner() {
    cache_.release();
    cache = nullptr;
    cache_gone = true;
  }
};

Cache* this_thread_cache() {
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer every block goes back to free() at once, so that a use after free
  // is reported instead of landing in a cached block.
  return nullptr;
#else
  if (cache == nullptr && !cache_gone) {
    thread_local CacheOwner owner;
  }
  return cache;
#endif
}

}  // namespace

namespace detail {

void* cached_allocate(std::size_t bytes) {
  const std::size_t size = rounded(bytes);
  if (Cache* c = this_thread_cache()) {
    std::vector<void*>& blocks = c->list(size);
    if (!blocks.empty()) {
      void* p = blocks.back();
      blocks.pop_back();
      c->bytes -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(alignment, size);
  if (!p) throw std::bad_alloc();
  return p;
}

void cached_deallocate(void* p, std::size_t bytes) noexcept {
  if (p == nullptr) return;
  const std::size_t size = rounded(bytes);
  Cache* c = this_thread_cache();
  if (c && c->bytes + size <= max_cached) {
    try {
      c->list(size).push_back(p);
      c->bytes += size;
      return;
    } catch (const std::bad_alloc&) {
      // no room to remember it: free it below
    }
  }
  std::free(p);
}

}  // namespace detail

std::size_t cached_bytes() {
  const Cache* c = this_thread_cache();
  return c ? c->bytes : 0;
}

void release_cache() {
  if (Cache* c = this_thread_cache()) c->release();
}

}  // namespace tapegrad
