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
      c->handler->on_completion(c, reaped[i].res, reaped[i].flags);
    }
    total += static_cast<int>(n);
    if (n < kBatch) break;
  }
  return total;
}

void IoRing::prep_recv(Completion* c, int fd, void* buf, size_t len) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_recv(sqe, fd, buf, len, 0);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
}

void IoRing::prep_send(Completion* c, int fd, const void* buf, size_t len) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
}

void IoRing::prep_poll_in(Completion* c, int fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_poll_add(sqe, fd, POLLIN | POLLRDHUP);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
}

void IoRing::prep_timeout(Completion* c, __kernel_timespec* ts) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_timeout(sqe, ts, 0, 0);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
}

void IoRing::prep_write_fixed(Completion* c, int fd, const void* buf, size_t len, uint64_t offset,
                              io_uring_sqe** out) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_write_fixed(sqe, fd, buf, static_cast<unsigned>(len), offset, 0);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
  if (out) *out = sqe;
}

void IoRing::prep_read_fixed(Completion* c, int fd, void* buf, size_t len, uint64_t offset) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_read_fixed(sqe, fd, buf, static_cast<unsigned>(len), offset, 0);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
}

void IoRing::cancel_fd(int fd) {
  io_uring_sqe* sqe = get_sqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
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
