#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "engine/io/io_ring.h"

#include "engine/base/log.h"

#include <cerrno>
#include <poll.h>

#include <cstring>

namespace ringest {

IoRing::~IoRing() {
  if (initialized_) io_uring_queue_exit(&ring_);
}

Status IoRing::init(unsigned entries) {
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE;
  params.cq_entries = entries * 4;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {
    // Older kernel: fall back to a plain ring.
    std::memset(&params, 0, sizeof params);
    params.flags = IORING_SETUP_CQSIZE;
    params.cq_entries = entries * 4;
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  } else if (rc == 0) {
    defer_taskrun_ = true;
  }
  if (rc < 0) return Status::FromErrno(-rc);
  initialized_ = true;
  return Status::Ok();
}

Status IoRing::register_buffer(void* base, size_t bytes) {
  iovec iov{base, bytes};
  int rc = io_uring_register_buffers(&ring_, &iov, 1);
  if (rc < 0) return Status::FromErrno(-rc);
  return Status::Ok();
}

io_uring_sqe* IoRing::get_sqe() {
  for (;;) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe) return sqe;
    int rc = io_uring_submit(&ring_);
    RINGEST_CHECK(rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY);
    if (rc == -EBUSY || rc == -EAGAIN) {
      // The CQ is full: reap without dispatching is not allowed, so dispatch now.
      run_once(false);
    }
  }
}

void IoRing::reserve(unsigned count) {
  if (g_fault_plan != nullptr) count *= 2;  // room for injected delays
  while (io_uring_sq_space_left(&ring_) < count) {
    int rc = io_uring_submit(&ring_);
    RINGEST_CHECK(rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY);
    if (rc == -EBUSY || rc == -EAGAIN) run_once(false);
  }
}

int IoRing::run_once(bool wait) {
  int rc = wait ? io_uring_submit_and_wait(&ring_, 1) : io_uring_submit_and_get_events(&ring_);
  RINGEST_CHECK(rc >= 0 || rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc == -ETIME);
  constexpr unsigned kBatch = 256;
  io_uring_cqe* cqes[kBatch];
  struct Reaped {
    uint64_t user_data;
    int res;
    uint32_t flags;
  } reaped[kBatch];
  int total = 0;
  for (;;) {
    unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kBatch);
    if (n == 0) break;
    for (unsigned i = 0; i < n; ++i) {
      reaped[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
    }
    io_uring_cq_advance(&ring_, n);
    for (unsigned i = 0; i < n; ++i) {
      if (reaped[i].user_data == 0) continue;
      auto* c = reinterpret_cast<Completion*>(static_cast<uintptr_t>(reaped[i].user_data));
      int res = reaped[i].res;
      if (c->injected != 0) {  // the fault seam replaced this operation
        res = c->injected;
        c->injected = 0;
      }
      c->handler->on_completion(c, res, reaped[i].flags);
    }
    total += static_cast<int>(n);
    if (n < kBatch) break;
  }
  return total;
}

io_uring_sqe* IoRing::faultable_sqe(Completion* c, FaultOp fault) {
  if (g_fault_plan == nullptr || fault == FaultOp::kNone) return get_sqe();
  uint32_t delay_ms = 0;
  int err = g_fault_plan->at_submit(fault, &delay_ms);
  if (delay_ms > 0) {
    // A slow disk: the operation waits behind a timeout. A hard link runs it whatever the
    // timeout's result (-ETIME).
    __kernel_timespec& ts = delays_[next_delay_++ % (sizeof delays_ / sizeof delays_[0])];
    ts.tv_sec = delay_ms / 1000;
    ts.tv_nsec = static_cast<long long>(delay_ms % 1000) * 1000000;
    io_uring_sqe* sqe = get_sqe();
    io_uring_prep_timeout(sqe, &ts, 0, 0);
    io_uring_sqe_set_data64(sqe, 0);
    sqe->flags |= IOSQE_IO_HARDLINK;
  }
  if (err == 0) return get_sqe();
  // The operation is not performed. A read from an invalid descriptor fails in its place, so a
  // chain linked behind it is cut as a real failure would cut it; dispatch then reports `err`.
  replaced_ = get_sqe();
  io_uring_prep_read(replaced_, -1, nullptr, 0, 0);
  io_uring_sqe_set_data64(replaced_, to_user_data(c));
  c->injected = err;
  return nullptr;
}

namespace {
io_uring_sqe* bound(io_uring_sqe* sqe, Completion* c) {
  io_uring_sqe_set_data64(sqe, to_user_data(c));
  return sqe;
}
}  // namespace

io_uring_sqe* IoRing::recv(Completion* c, int fd, void* buf, size_t len, int flags) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv(sqe, fd, buf, len, flags);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::send(Completion* c, int fd, const void* buf, size_t len, int flags) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL | flags);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::poll_in(Completion* c, int fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, fd, POLLIN | POLLRDHUP);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::poll_out(Completion* c, int fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, fd, POLLOUT);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::timeout(Completion* c, __kernel_timespec* ts) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_timeout(sqe, ts, 0, 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::link_timeout(Completion* c, __kernel_timespec* ts) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_link_timeout(sqe, ts, 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::accept_multishot(Completion* c, int listen_fd, int flags) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_multishot_accept(sqe, listen_fd, nullptr, nullptr, flags);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::splice(Completion* c, int fd_in, int64_t off_in, int fd_out,
                             int64_t off_out, unsigned len, FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_splice(sqe, fd_in, off_in, fd_out, off_out, len,
                       SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::write_fixed(Completion* c, int fd, const void* buf, size_t len,
                                  uint64_t offset, FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_write_fixed(sqe, fd, buf, static_cast<unsigned>(len), offset, 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::write(Completion* c, int fd, const void* buf, size_t len, uint64_t offset,
                            FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_write(sqe, fd, buf, static_cast<unsigned>(len), offset);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::read_fixed(Completion* c, int fd, void* buf, size_t len, uint64_t offset,
                                 FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_read_fixed(sqe, fd, buf, static_cast<unsigned>(len), offset, 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::read(Completion* c, int fd, void* buf, size_t len, uint64_t offset,
                           FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_read(sqe, fd, buf, static_cast<unsigned>(len), offset);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::fsync(Completion* c, int fd, bool datasync, FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_fsync(sqe, fd, datasync ? IORING_FSYNC_DATASYNC : 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::openat2(Completion* c, int dir_fd, const char* path, open_how* how,
                              FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_openat2(sqe, dir_fd, path, how);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::fallocate(Completion* c, int fd, uint64_t offset, uint64_t len,
                                FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_fallocate(sqe, fd, 0, static_cast<off_t>(offset), static_cast<off_t>(len));
  return bound(sqe, c);
}

io_uring_sqe* IoRing::unlinkat(Completion* c, int dir_fd, const char* path, FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;  // the caller's link flags apply to it
  io_uring_prep_unlinkat(sqe, dir_fd, path, 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::renameat(Completion* c, int old_dir_fd, const char* old_path,
                               int new_dir_fd, const char* new_path, FaultOp fault) {
  io_uring_sqe* sqe = faultable_sqe(c, fault);
  if (sqe == nullptr) return replaced_;
  io_uring_prep_renameat(sqe, old_dir_fd, old_path, new_dir_fd, new_path, 0);
  return bound(sqe, c);
}

io_uring_sqe* IoRing::close(Completion* c, int fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_close(sqe, fd);
  return bound(sqe, c);
}

void IoRing::cancel_fd(int fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  io_uring_sqe_set_data64(sqe, 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

void IoRing::cancel(Completion* target) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel64(sqe, to_user_data(target), 0);
  io_uring_sqe_set_data64(sqe, 0);
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

namespace {
// Successful messages post no CQE on the sender (CQE_SKIP_SUCCESS); a failed one lands here.
class MessageFailureLog final : public CompletionHandler {
 public:
  void on_completion(Completion*, int res, uint32_t) override {
    RINGEST_LOG_ERROR("cross-reactor message failed: %s", std::strerror(-res));
  }
};
MessageFailureLog g_message_failure_log;
Completion g_message_failed{&g_message_failure_log, 0};
}  // namespace

void IoRing::send_message(int target_ring_fd, Completion* target, uint32_t payload) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_msg_ring(sqe, target_ring_fd, payload, to_user_data(target), 0);
  io_uring_sqe_set_data64(sqe, to_user_data(&g_message_failed));
  sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
}

}  // namespace ringest
