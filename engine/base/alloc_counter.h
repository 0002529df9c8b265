// Heap allocations made on reactor threads, for the "no allocation on the data path" proof.
// ringestd's allocator shim (http/allocator_shim.cc: malloc & co. forwarded to mimalloc) bumps
// the counter a reactor thread points t_alloc_counter at. Builds without the shim (sanitizers
// bring their own malloc) leave alloc_counting_enabled false, and tests say they skipped.
#pragma once

#include <atomic>
#include <cstdint>

namespace ringest {

// constinit: no dynamic TLS initialisation, so no init wrapper (whose flags GCC 12 UBSan
// mistook for a null address on the store at reactor exit).
extern constinit thread_local std::atomic<uint64_t>* t_alloc_counter;
extern std::atomic<bool> g_alloc_counting_enabled;

}  // namespace ringest
