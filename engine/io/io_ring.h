// IoRing: one io_uring, owned and used by exactly one reactor thread (SINGLE_ISSUER).
//
// Contract:
//  - get_sqe() never fails: a full submission queue is submitted and retried.
//  - run_once() submits what handlers queued, waits for at least one completion, reaps a batch,
//    advances the CQ once, then dispatches ("drain, then dispatch").
//  - CQEs with user_data 0 belong to fire-and-forget operations (cancels, messages) and are
//    dropped.
#pragma once

#include <liburing.h>

#include <cstddef>
#include <cstdint>

#include "engine/base/status.h"
#include "engine/io/completion.h"

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
  // never split across io_uring_enter calls (a split chain would lose its ordering).
  void reserve(unsigned count);
  // Submits pending SQEs, waits for >= 1 CQE (unless `wait` is false), dispatches all available.
  // Returns the number of completions dispatched.
  int run_once(bool wait = true);

  int fd() const { return ring_.ring_fd; }
  bool defer_taskrun() const { return defer_taskrun_; }

  // Helpers that fill an SQE and bind it to `c` (c may be null for fire-and-forget).
  void prep_recv(Completion* c, int fd, void* buf, size_t len);
  void prep_send(Completion* c, int fd, const void* buf, size_t len);
  void prep_poll_in(Completion* c, int fd);
  // A relative timeout; `ts` must stay valid until it completes (-ETIME when it fires).
  void prep_timeout(Completion* c, __kernel_timespec* ts);
  void prep_write_fixed(Completion* c, int fd, const void* buf, size_t len, uint64_t offset,
                        io_uring_sqe** out = nullptr);
  void prep_read_fixed(Completion* c, int fd, void* buf, size_t len, uint64_t offset);
  // Cancels every in-flight request on `fd` (no completion of its own).
  void cancel_fd(int fd);
  // Posts a CQE into another ring: its user_data is `target`, its res is `payload`.
  void send_message(int target_ring_fd, Completion* target, uint32_t payload);

 private:
  io_uring ring_{};
  bool initialized_ = false;
  bool defer_taskrun_ = false;
};

inline uint64_t to_user_data(Completion* c) { return reinterpret_cast<uintptr_t>(c); }

}  // namespace ringest
