// ringestd's allocator: every malloc-family call (and so every operator new) goes to mimalloc,
// and calls made on a reactor thread are counted (engine/base/alloc_counter.h). The count is
// exported as ringest_reactor_heap_allocations_total and a test asserts it stays flat during
// a large upload. Linked into ringestd only, and only in builds without sanitizers (they
// interpose malloc themselves).
#include <mimalloc.h>

#include <cerrno>
#include <cstddef>

#include "engine/base/alloc_counter.h"

namespace {
inline void count_allocation() {
  std::atomic<uint64_t>* counter = ringest::t_alloc_counter;
  if (counter) counter->fetch_add(1, std::memory_order_relaxed);
}
struct EnableCounting {
  EnableCounting() { ringest::g_alloc_counting_enabled.store(true); }
} enable_counting;
}  // namespace

extern "C" {

void* malloc(size_t size) noexcept {
  count_allocation();
  return mi_malloc(size);
}
void* calloc(size_t count, size_t size) noexcept {
  count_allocation();
  return mi_calloc(count, size);
}
void* realloc(void* p, size_t size) noexcept {
  count_allocation();
  return mi_realloc(p, size);
}
void free(void* p) noexcept { mi_free(p); }
void* aligned_alloc(size_t alignment, size_t size) noexcept {
  count_allocation();
  return mi_aligned_alloc(alignment, size);
}
void* memalign(size_t alignment, size_t size) noexcept {
  count_allocation();
  return mi_memalign(alignment, size);
}
int posix_memalign(void** out, size_t alignment, size_t size) noexcept {
  count_allocation();
  return mi_posix_memalign(out, alignment, size);
}
void* valloc(size_t size) noexcept {
  count_allocation();
  return mi_valloc(size);
}
void* pvalloc(size_t size) noexcept {
  count_allocation();
  return mi_pvalloc(size);
}
size_t malloc_usable_size(void* p) noexcept { return mi_usable_size(p); }
void* reallocarray(void* p, size_t count, size_t size) noexcept {
  count_allocation();
  return mi_reallocarray(p, count, size);
}

}  // extern "C"

// libmimalloc.so exports operator new/delete itself (they would bypass malloc above), so the
// executable defines them too; its definitions win symbol resolution.
#include <new>

void* operator new(size_t size) {
  count_allocation();
  return mi_new(size);
}
void* operator new[](size_t size) {
  count_allocation();
  return mi_new(size);
}
void* operator new(size_t size, const std::nothrow_t&) noexcept {
  count_allocation();
  return mi_new_nothrow(size);
}
void* operator new[](size_t size, const std::nothrow_t&) noexcept {
  count_allocation();
  return mi_new_nothrow(size);
}
void* operator new(size_t size, std::align_val_t align) {
  count_allocation();
  return mi_new_aligned(size, static_cast<size_t>(align));
}
void* operator new[](size_t size, std::align_val_t align) {
  count_allocation();
  return mi_new_aligned(size, static_cast<size_t>(align));
}
void* operator new(size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  count_allocation();
  return mi_new_aligned_nothrow(size, static_cast<size_t>(align));
}
void* operator new[](size_t size, std::align_val_t align, const std::nothrow_t&) noexcept {
  count_allocation();
  return mi_new_aligned_nothrow(size, static_cast<size_t>(align));
}
void operator delete(void* p) noexcept { mi_free(p); }
void operator delete[](void* p) noexcept { mi_free(p); }
void operator delete(void* p, size_t) noexcept { mi_free(p); }
void operator delete[](void* p, size_t) noexcept { mi_free(p); }
void operator delete(void* p, std::align_val_t) noexcept { mi_free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { mi_free(p); }
void operator delete(void* p, size_t, std::align_val_t) noexcept { mi_free(p); }
void operator delete[](void* p, size_t, std::align_val_t) noexcept { mi_free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { mi_free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { mi_free(p); }
