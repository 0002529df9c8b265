#include "engine/upload/ingest/splice_ingest.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/base/log.h"

namespace ringest {

SpliceIngest::~SpliceIngest() { close_pipe(); }

void SpliceIngest::close_pipe() {
  if (pipe_read_ < 0) return;
  ::close(pipe_read_);
  ::close(pipe_write_);
  pipe_read_ = pipe_write_ = -1;
}

bool SpliceIngest::ready() {
  if (writer().pipe_dirty()) {
    close_pipe();  // bytes of a failed write may still be in it
    writer().clear_pipe_dirty();
  }
  if (pipe_read_ >= 0) return true;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    RINGEST_LOG_WARN("splice: no pipe (%s); this body is received into buffers",
                     std::strerror(errno));
    return false;
  }
  // The pipe is the connection's window, as large as the buffers it may hold in other modes
  // (at most the kernel's pipe-max-size, 1 MiB by default).
  int size = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(context_.pipe_bytes));
  if (size < 0) size = fcntl(fds[1], F_GETPIPE_SZ);
  pipe_read_ = fds[0];
  pipe_write_ = fds[1];
  pipe_bytes_ = size > 0 ? static_cast<uint32_t>(size) : 65536;
  return true;
}

void SpliceIngest::start(const Leftover& leftover) {
  // Bytes that came with the head are written from the slot they arrived in.
  if (leftover.len > 0) {
    writer().write(leftover.slot, leftover.data, leftover.len, Placement::kBuffered);
  }
  if (leftover.slot_handed_over) context_.pool->unref(leftover.slot);
}

void SpliceIngest::step() {
  if (writer().splice_in_flight()) return;  // its file side's progress calls back
  if (!writer().can_write()) {
    wait_for_writer();
    return;
  }
  if (slow_) {
    post_poll();  // wait for bytes holding nothing
    return;
  }
  uint32_t len = remaining_ < pipe_bytes_ ? static_cast<uint32_t>(remaining_) : pipe_bytes_;
  context_.host->on_ingest_waiting(false);
  IoRing& ring = *context_.ring;
  socket_op_pending_ = true;  // (before taking SQEs: see BodyIngest::post_recv)
  ring.reserve(2);  // one submission: the hard link is never split
  ring.splice(&splice_in_, fd_, -1, pipe_write_, -1, len)->flags |= IOSQE_IO_HARDLINK;
  writer().splice_from_pipe(pipe_read_, len);
}

void SpliceIngest::on_received(uint32_t /*bytes*/) {}

void SpliceIngest::on_other_completion(Completion* /*completion*/, int res) {
  // The socket side: `res` bytes are in the pipe (the file side takes them), or nothing.
  socket_op_pending_ = false;
  writer().spliced_into_pipe(res);
  if (res > 0) {
    remaining_ -= static_cast<uint64_t>(res);
    context_.host->on_ingest_received(static_cast<uint64_t>(res));
    if (context_.spliced_bytes != nullptr) {
      context_.spliced_bytes->fetch_add(static_cast<uint64_t>(res), std::memory_order_relaxed);
    }
    slow_ = static_cast<uint32_t>(res) < kMinReceiveBytes;
  } else if (code_of(res) == Code::kBusy) {
    slow_ = true;  // nothing to read yet: poll once the (empty) file side is back
  } else if (!(cut_ && code_of(res) == Code::kCancelled)) {
    peer_gone_ = true;  // 0: the client closed; or the socket failed
  }
  pump();
}

}  // namespace ringest
