// IoRing: one io_uring, owned and used by exactly one reactor thread (SINGLE_ISSUER).
//
// Contract:
//  - Every operation kind becomes an SQE in exactly one function below; callers never call
//    io_uring_prep_* themselves. Each returns the SQE so a caller can add IOSQE_* link flags.
//  - get_sqe() never fails: a full submission queue is submitted and retried.
//  - run_once() submits what handlers queued, waits for at least one completion, reaps a batch,
//    advances the CQ once, then dispatches ("drain, then dispatch").
//  - CQEs with user_data 0 belong to fire-and-forget operations (cancels, closes) and are
//    dropped.
//  - Disk operations name their FaultOp: this is the one seam where a test's --fault-plan turns
//    a chosen operation into a failure (the operation is replaced by one that fails, so a
//    linked chain behind it is cut exactly as a real failure would cut it, and its completion
//    carries the injected errno) or delays it (a timeout hard-linked in front of it).
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "engine/base/status.h"
#include "engine/io/completion.h"
#include "engine/io/fault_plan.h"

struct open_how;

namespace ringest {

class IoRing {
 public:
  IoRing() = default;
  IoRing(const IoRing&) = delete;
  IoRing& operator=(const IoRing&) = delete;
  ~IoRing();

  Status init(unsigned entries);
  // Registers one contiguous region as fixed buffer index 0.
  Status register_buffer(void* base, size_t bytes);

  io_uring_sqe* get_sqe();
  // Makes sure the next `count` get_sqe() calls come from one submission, so a linked chain is
  // never split across io_uring_enter calls (a split chain would lose its ordering). An
  // injected delay adds one SQE per delayed operation: reserve() accounts for it.
  void reserve(unsigned count);
  // Submits pending SQEs, waits for >= 1 CQE (unless `wait` is false), dispatches all available.
  // Returns the number of completions dispatched.
  int run_once(bool wait = true);

  int fd() const { return ring_.ring_fd; }
  bool defer_taskrun() const { return defer_taskrun_; }

  // Sockets and timers. `c` may be null for fire-and-forget.
  // `flags` as for recv(2): MSG_TRUNC discards a TCP socket's bytes without copying them.
  io_uring_sqe* recv(Completion* c, int fd, void* buf, size_t len, int flags = 0);
  // `flags` as for send(2) (MSG_NOSIGNAL always): MSG_DONTWAIT completes with what the socket
  // took now (-EAGAIN for nothing) instead of waiting for room.
  io_uring_sqe* send(Completion* c, int fd, const void* buf, size_t len, int flags = 0);
  io_uring_sqe* poll_in(Completion* c, int fd);
  io_uring_sqe* poll_out(Completion* c, int fd);
  // A relative timeout; `ts` must stay valid until it completes (-ETIME when it fires).
  io_uring_sqe* timeout(Completion* c, __kernel_timespec* ts);
  // Bounds the operation linked just before it (IOSQE_IO_LINK on that one).
  io_uring_sqe* link_timeout(Completion* c, __kernel_timespec* ts);
  io_uring_sqe* accept_multishot(Completion* c, int listen_fd, int flags);
  // Non-blocking splice (SPLICE_F_NONBLOCK | SPLICE_F_MOVE); offset -1 for a pipe or socket.
  io_uring_sqe* splice(Completion* c, int fd_in, int64_t off_in, int fd_out, int64_t off_out,
                       unsigned len, FaultOp fault = FaultOp::kNone);

  // Files. `buf` of the *_fixed variants lies in the registered buffer.
  io_uring_sqe* write_fixed(Completion* c, int fd, const void* buf, size_t len, uint64_t offset,
                            FaultOp fault);
  io_uring_sqe* write(Completion* c, int fd, const void* buf, size_t len, uint64_t offset,
                      FaultOp fault);
  io_uring_sqe* read_fixed(Completion* c, int fd, void* buf, size_t len, uint64_t offset,
                           FaultOp fault = FaultOp::kNone);
  io_uring_sqe* read(Completion* c, int fd, void* buf, size_t len, uint64_t offset,
                     FaultOp fault = FaultOp::kNone);
  io_uring_sqe* fsync(Completion* c, int fd, bool datasync, FaultOp fault);
  // `how` (flags, mode, resolve) and `path` must stay valid until the SQE is submitted.
  io_uring_sqe* openat2(Completion* c, int dir_fd, const char* path, open_how* how,
                        FaultOp fault = FaultOp::kNone);
  io_uring_sqe* fallocate(Completion* c, int fd, uint64_t offset, uint64_t len, FaultOp fault);
  io_uring_sqe* unlinkat(Completion* c, int dir_fd, const char* path, FaultOp fault);
  // Paths must stay valid until the SQE is submitted.
  io_uring_sqe* renameat(Completion* c, int old_dir_fd, const char* old_path, int new_dir_fd,
                         const char* new_path, FaultOp fault);
  io_uring_sqe* close(Completion* c, int fd);

  // Cancels every in-flight request on `fd` (no completion of its own).
  void cancel_fd(int fd);
  // Cancels the one in-flight operation bound to `target` (no completion of its own).
  void cancel(Completion* target);
  // Posts a CQE into another ring: its user_data is `target`, its res is `payload`.
  void send_message(int target_ring_fd, Completion* target, uint32_t payload);

 private:
  // The fault seam: returns the SQE to fill for `fault`, or null when the plan replaced the
  // operation by a failing one (already bound to `c`, in replaced_: the caller returns that one
  // so its link flags still apply).
  io_uring_sqe* faultable_sqe(Completion* c, FaultOp fault);
  io_uring_sqe* replaced_ = nullptr;

  io_uring ring_{};
  bool initialized_ = false;
  bool defer_taskrun_ = false;
  // Injected delays: the kernel reads a timeout's timespec when the SQE is submitted, so a small
  // ring of them is enough (never more than this many delays between two submissions).
  __kernel_timespec delays_[16]{};
  unsigned next_delay_ = 0;
};

inline uint64_t to_user_data(Completion* c) { return reinterpret_cast<uintptr_t>(c); }

}  // namespace ringest
