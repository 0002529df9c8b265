// FaultPlan: the one seam where tests turn chosen disk operations into failures or delays. Off
// unless ringestd is started with --fault-plan SPEC (a test-only switch). The real data path
// always asks the plan (a null-pointer check when off), through IoRing, so the code a fault test
// exercises is the code that runs in production.
//
// SPEC is a comma-separated list of rules:
//   OP:KIND@N     the N-th operation of that kind (1-based, counted process-wide) is affected
//   OP:KIND@N+    the N-th and every later one
//   synclog=PATH  append "commit <id> <sequence> <offset>" to PATH whenever a commit becomes
//                 durable (for power-loss simulations: anything not logged may be lost)
// OP:   write (data writes) | sync (fdatasync of data) | record-write | record-sync |
//       create (creating a new upload's files) | open (opening an existing upload's files) |
//       remove (unlinking an upload's files) | read (reading an upload's bytes for a download)
// KIND: eio | enospc | emfile  (the operation is not performed; it completes with that error)
//       short         (data writes only: the completion reports half the bytes, so the writer
//                      must finish the rest itself)
//       delayMS       (the operation starts MS milliseconds late, e.g. delay2000: a slow disk)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringest {

enum class FaultOp : uint8_t {
  kNone,
  kDataWrite,
  kDataSync,
  kRecordWrite,
  kRecordSync,
  kCreate,
  kOpen,
  kRemove,
  kDataRead,
  kCount
};

class FaultPlan {
 public:
  static bool parse(const std::string& spec, FaultPlan* out, std::string* error);

  // Counts one submission of `op`. Returns a negative errno if it must fail (else 0) and sets
  // `*delay_ms` when it must start late.
  int at_submit(FaultOp op, uint32_t* delay_ms);
  // For a data write that completed in full: true if it must be reported as short.
  bool shorten(FaultOp op);
  // Test-only log of durable commits (no-op without synclog=).
  void log_commit(std::string_view id, uint64_t sequence, uint64_t offset);

 private:
  enum class Kind : uint8_t { kFail, kShort, kDelay };
  struct Rule {
    FaultOp op;
    Kind kind;
    int err;            // kFail: fail with -err
    uint32_t delay_ms;  // kDelay
    uint64_t nth;       // 1-based
    bool and_later;
  };
  bool matches(const Rule& rule, uint64_t count) const {
    return rule.and_later ? count >= rule.nth : count == rule.nth;
  }
  std::vector<Rule> rules_;
  std::atomic<uint64_t> submitted_[static_cast<int>(FaultOp::kCount)]{};
  std::atomic<uint64_t> completed_[static_cast<int>(FaultOp::kCount)]{};
  int synclog_fd_ = -1;
};

// Null unless --fault-plan was given. Set once in main() before reactors start.
extern FaultPlan* g_fault_plan;

}  // namespace ringest
