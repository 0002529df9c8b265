// What the hook outbox counts, for /metrics (read relaxed by any thread).
#pragma once

#include <atomic>
#include <cstdint>

namespace ringest::hooks {

struct OutboxStats {
  std::atomic<uint64_t> delivered{0};        // events every sink accepted
  std::atomic<uint64_t> failures{0};         // failed attempts (each one is retried)
  std::atomic<uint64_t> depth{0};            // events queued, undelivered
  std::atomic<uint64_t> oldest_unix_ms{0};   // when the oldest queued event was queued; 0: none
  std::atomic<uint64_t> refused_uploads{0};  // creations refused while full
};

}  // namespace ringest::hooks
