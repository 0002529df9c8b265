// FaultPlan: the one seam where tests turn chosen disk operations into failures. Off unless
// ringestd is started with --fault-plan SPEC (a test-only switch). The real data path always
// asks the plan (a null-pointer check when off), so the code a fault test exercises is the code
// that runs in production.
//
// SPEC is a comma-separated list of rules:
//   OP:KIND@N     the N-th operation of that kind (1-based, counted process-wide) fails
//   OP:KIND@N+    the N-th and every later one fails
//   synclog=PATH  append "commit <id> <sequence> <offset>" to PATH whenever a commit becomes
//                 durable (for power-loss simulations: anything not logged may be lost)
// OP:   write (data WRITE_FIXED) | sync (fdatasync of data) | record-write | record-sync
// KIND: eio | enospc  (the operation is not performed; it completes with that error)
//       short         (data writes only: the completion reports half the bytes, so the writer
//                      must finish the rest itself)
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

namespace ringest {

enum class FaultOp : uint8_t { kDataWrite, kDataSync, kRecordWrite, kRecordSync, kCount };

class FaultPlan {
 public:
  static bool parse(const std::string& spec, FaultPlan* out, std::string* error);

  // Counts one submission of `op`; returns a negative errno if it must fail, else 0.
  int fail_at_submit(FaultOp op);
  // For a data write that completed in full: true if it must be reported as short.
  bool shorten(FaultOp op);
  // Test-only log of durable commits (no-op without synclog=).
  void log_commit(const std::string& id, uint64_t sequence, uint64_t offset);

 private:
  struct Rule {
    FaultOp op;
    int err;       // > 0: fail with -err; 0: short
    uint64_t nth;  // 1-based
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
