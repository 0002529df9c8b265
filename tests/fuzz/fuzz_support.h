// Shared by the fuzz targets. A broken property is a RINGEST_CHECK failure: it prints and
// aborts, and libFuzzer saves the input that did it. AllocationFreeScope proves a claim of the
// code under test ("never allocates") on every input: the sanitizer's malloc hook counts this
// thread's allocations while a scope is open.
#pragma once

#include <sanitizer/allocator_interface.h>

#include <cstddef>
#include <cstdint>

#include "engine/base/check.h"

namespace ringest::fuzz {

inline thread_local bool t_counting_allocations = false;
inline thread_local uint64_t t_allocations = 0;

inline void count_malloc(const volatile void*, size_t) {
  if (t_counting_allocations) ++t_allocations;
}
inline void ignore_free(const volatile void*) {}

// Call once from LLVMFuzzerInitialize.
inline void install_allocation_hooks() {
  RINGEST_CHECK(__sanitizer_install_malloc_and_free_hooks(count_malloc, ignore_free) != 0);
}

// Checks on destruction that nothing was allocated on this thread since construction.
class AllocationFreeScope {
 public:
  AllocationFreeScope() : before_(t_allocations) { t_counting_allocations = true; }
  ~AllocationFreeScope() {
    t_counting_allocations = false;
    RINGEST_CHECK(t_allocations == before_);
  }
  AllocationFreeScope(const AllocationFreeScope&) = delete;
  AllocationFreeScope& operator=(const AllocationFreeScope&) = delete;

 private:
  uint64_t before_;
};

// A small deterministic generator for choices derived from a few fuzzer-controlled bytes
// (splitmix64).
class Choices {
 public:
  explicit Choices(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, bound) for bound > 0.
  uint64_t below(uint64_t bound) { return next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace ringest::fuzz
