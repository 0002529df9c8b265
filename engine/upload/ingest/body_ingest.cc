#include "engine/upload/ingest/body_ingest.h"

#include <cerrno>

namespace ringest {

IngestKind choose_ingest(IoMode mode, bool chunked, bool direct_available) {
  if (chunked) return IngestKind::kBuffered;
  if (mode == IoMode::kDirect && direct_available) return IngestKind::kDirect;
  if (mode == IoMode::kSplice) return IngestKind::kSplice;
  return IngestKind::kBuffered;
}

void BodyIngest::take_socket(int fd, uint64_t body_bytes, const Leftover& leftover,
                             bool client_slow) {
  RINGEST_CHECK(!active_ && leftover.len <= body_bytes);
  fd_ = fd;
  remaining_ = body_bytes - leftover.len;
  active_ = true;
  cut_ = peer_gone_ = ending_ = false;
  slow_ = client_slow;
  context_.session->set_progress(this);
  if (leftover.len > 0) context_.host->on_ingest_received(leftover.len);
  start(leftover);
  pump();
}

void BodyIngest::cut() {
  if (!active_ || ending_ || cut_) return;
  cut_ = true;
  if (socket_op_pending_) {
    // Whichever is outstanding completes with -ECANCELED (or with bytes, if they won the race).
    context_.ring->cancel(&recv_);
    context_.ring->cancel(&poll_);
    cancel_other();
    return;
  }
  pump();
}

void BodyIngest::on_write_progress() {
  if (writer().failed() && socket_op_pending_ && !ending_) {
    // Stop waiting for the client: the failure is answered now.
    context_.ring->cancel(&recv_);
    context_.ring->cancel(&poll_);
    cancel_other();
    return;
  }
  pump();
}

void BodyIngest::pump() {
  if (!active_ || socket_op_pending_) return;
  if (waiting) context_.pool->remove_waiter(this);
  if (!ending_) {
    if (writer().failed()) {
      end(IngestEnd::kStorageError);
      return;
    }
    if (cut_ || peer_gone_ || remaining_ == 0) {
      end(cut_ ? IngestEnd::kCut : peer_gone_ ? IngestEnd::kPeerGone : IngestEnd::kComplete);
      return;
    }
    step();
    return;
  }
  end(end_how_);
}

void BodyIngest::end(IngestEnd how) {
  ending_ = true;
  end_how_ = how;
  // What arrived goes to the writer (unless it failed: then nothing more is taken).
  if (how != IngestEnd::kStorageError && !writer().failed() && !drain()) {
    wait_for_writer();  // on_write_progress() comes back here
    return;
  }
  release();
  active_ = false;
  ending_ = false;
  context_.session->set_progress(nullptr);
  context_.host->on_ingest_end(how);
}

void BodyIngest::wait_for_slot() {
  context_.pool->add_waiter(this);
  context_.host->on_ingest_waiting(true);
}

void BodyIngest::wait_for_writer() { context_.host->on_ingest_waiting(true); }

// (The flag is set before the SQE is taken: taking one may dispatch completions when the
// completion queue is full, and those must see the receive as posted.)
void BodyIngest::post_recv(char* into, uint32_t len) {
  context_.host->on_ingest_waiting(false);
  socket_op_pending_ = true;
  context_.ring->recv(&recv_, fd_, into, len);
}

void BodyIngest::post_poll() {
  context_.host->on_ingest_waiting(false);
  socket_op_pending_ = true;
  context_.ring->poll_in(&poll_, fd_);
}

void BodyIngest::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  if (completion != &recv_ && completion != &poll_) {
    on_other_completion(completion, res);
    return;
  }
  socket_op_pending_ = false;
  if (completion == &recv_ && res > 0) {
    remaining_ -= static_cast<uint64_t>(res);
    context_.host->on_ingest_received(static_cast<uint64_t>(res));
    slow_ = static_cast<uint32_t>(res) < kMinReceiveBytes;
    on_received(static_cast<uint32_t>(res));
  } else if (completion == &poll_ && res >= 0) {
    slow_ = false;  // readable (or hung up: the receive will say)
  } else if (!(cut_ && code_of(res) == Code::kCancelled)) {
    peer_gone_ = true;  // end of stream, reset, or a failure
  }
  pump();
}

}  // namespace ringest
