#include "engine/base/alloc_counter.h"

namespace ringest {

constinit thread_local std::atomic<uint64_t>* t_alloc_counter = nullptr;
std::atomic<bool> g_alloc_counting_enabled{false};

}  // namespace ringest
