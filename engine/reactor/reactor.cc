#include "engine/reactor/reactor.h"

#include "engine/base/clock.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/base/alloc_counter.h"
#include "engine/base/log.h"

namespace ringest {

Reactor::Reactor(int index, const Config& config) : index_(index), config_(config) {
  stop_fd_ = eventfd(0, EFD_CLOEXEC);
  RINGEST_CHECK(stop_fd_ >= 0);
}

Reactor::~Reactor() {
  if (stop_fd_ >= 0) ::close(stop_fd_);
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

Status Reactor::init(int listen_fd) {
  listen_fd_ = listen_fd;
  Status s = ring_.init(1024);
  if (!s.ok()) {
    RINGEST_LOG_ERROR("reactor %d: io_uring setup failed: %s", index_, std::strerror(s.err));
    return s;
  }
  s = pool_.init(config_.buffers_per_reactor, config_.buffer_bytes);
  if (!s.ok()) {
    RINGEST_LOG_ERROR("reactor %d: cannot map the buffer pool: %s", index_, std::strerror(s.err));
    return s;
  }
  s = ring_.register_buffer(pool_.base(), pool_.total_bytes());
  if (!s.ok()) {
    RINGEST_LOG_ERROR(
        "reactor %d: cannot register %zu bytes of buffers with io_uring: %s (raise "
        "RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= in the systemd unit, or lower --buffers)",
        index_, pool_.total_bytes(), std::strerror(s.err));
    return s;
  }
  return Status::Ok();
}

void Reactor::run() {
  t_alloc_counter = &stats_.heap_allocations;
  arm_accept();
  arm_stop_read();
  for (;;) {
    ring_.run_once(true);
    pool_.wake_waiters();
    if (stopping_ && !accept_armed_ && client_->drained() &&
        (service_ == nullptr || service_->drained())) {
      break;
    }
  }
  // Let cancels and closes that were just queued reach the kernel.
  ring_.run_once(false);
  t_alloc_counter = nullptr;
}

void Reactor::request_stop() {
  uint64_t one = 1;
  ssize_t ignored = ::write(stop_fd_, &one, sizeof one);
  (void)ignored;
}

void Reactor::post_message(const MailboxAddress& target, uint32_t payload) {
  ring_.send_message(target.reactor->ring_.fd(), target.mailbox, payload);
}

void Reactor::arm_accept() {
  // Non-blocking sockets in every io-mode: a splice from a socket (splice ingest) must not wait
  // for the client in a kernel worker (tcp_splice_read() ignores SPLICE_F_NONBLOCK, which
  // covers only the pipe), and one socket mode for all io-modes is one behaviour to test.
  // Receives and sends on the ring are unaffected: they wait through the ring's poll either way.
  int flags = SOCK_CLOEXEC | SOCK_NONBLOCK;
  ring_.accept_multishot(&accept_, listen_fd_, flags);
  accept_armed_ = true;
}

void Reactor::arm_stop_read() {
  ring_.read(&stop_, stop_fd_, &stop_value_, sizeof stop_value_, 0);
  stop_read_armed_ = true;
}

void Reactor::on_completion(Completion* completion, int res, uint32_t flags) {
  if (completion == &accept_) {
    if (!(flags & IORING_CQE_F_MORE)) accept_armed_ = false;
    if (res >= 0) {
      if (stopping_) {
        ::close(res);
      } else {
        stats_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
        client_->on_accept(res);
      }
    } else if (res != -ECANCELED && res != -EINTR && res != -EAGAIN &&
               res != -ECONNABORTED) {
      uint64_t now = monotonic_ms_now();
      if (now - accept_warned_ms_ >= 1000) {
        RINGEST_LOG_WARN("reactor %d: accept failed: %s (%llu more since the last warning)",
                         index_, std::strerror(-res),
                         static_cast<unsigned long long>(accept_errors_unlogged_));
        accept_warned_ms_ = now;
        accept_errors_unlogged_ = 0;
      } else {
        ++accept_errors_unlogged_;
      }
      Code code = code_of(res);
      bool resource = code == Code::kNoDescriptors || code == Code::kNoMemory;
      if (resource && !stopping_ && !accept_backing_off_) {
        if (accept_armed_) ring_.cancel_fd(listen_fd_);  // the multishot would keep failing
        accept_backing_off_ = true;
        ring_.timeout(&accept_retry_, &accept_backoff_);
      }
    }
    if (!accept_armed_ && !stopping_ && !accept_backing_off_) arm_accept();
    return;
  }
  if (completion == &accept_retry_) {
    accept_backing_off_ = false;
    if (!accept_armed_ && !stopping_) arm_accept();
    return;
  }
  if (completion == &stop_) {
    stop_read_armed_ = false;
    if (stopping_) return;
    stopping_ = true;
    if (accept_armed_) ring_.cancel_fd(listen_fd_);
    client_->begin_shutdown();
    if (service_ != nullptr) service_->begin_shutdown();
    return;
  }
}

}  // namespace ringest
