#include "engine/upload/upload_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "engine/base/log.h"

namespace ringest {

UploadReader::~UploadReader() {
  if (pipe_read_ >= 0) ::close(pipe_read_);
  if (pipe_write_ >= 0) ::close(pipe_write_);
}

void UploadReader::init(IoRing* ring, UploadStore* store, uint32_t pipe_bytes) {
  ring_ = ring;
  store_ = store;
  pipe_bytes_ = pipe_bytes;
}

void UploadReader::start(Upload& upload, uint64_t from, uint64_t to, int socket_fd,
                         ReaderListener* listener) {
  RINGEST_CHECK(!busy() && listener_ == nullptr && from < to);
  listener_ = listener;
  stopped_ = streaming_ = socket_full_ = false;
  failure_ = Status::Ok();
  socket_fd_ = socket_fd;
  pos_ = from;
  end_ = to;
  in_pipe_ = 0;
  store_->open_for_read(op_, *ring_, upload, this);
}

void UploadReader::on_store_done(StoreOp* op, Status status) {
  UploadFiles files = op->take_files();
  fd_ = files.data_fd;
  if (stopped_) {
    end(Status::Ok());
  } else if (!status.ok()) {
    end(status);
  } else if (!open_pipe()) {
    end(Status::FromErrno(errno));
  } else {
    fill_first();
  }
}

bool UploadReader::open_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return false;
  // A larger pipe means fewer steps; the kernel may refuse (pipe-max-size, or the user's pipe
  // pages past pipe-user-pages-soft): the default size then serves, only in smaller steps.
  int size = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(pipe_bytes_));
  if (size <= 0) size = fcntl(fds[1], F_GETPIPE_SZ);
  pipe_read_ = fds[0];
  pipe_write_ = fds[1];
  pipe_capacity_ = size > 0 ? static_cast<uint32_t>(size) : 4096;
  return true;
}

void UploadReader::fill_first() {
  uint64_t left = end_ - pos_;
  uint32_t n = left < pipe_capacity_ ? static_cast<uint32_t>(left) : pipe_capacity_;
  pending_ = 1;
  ring_->splice(&fill_, fd_, static_cast<int64_t>(pos_), pipe_write_, -1, n, FaultOp::kDataRead);
}

void UploadReader::send_body() {
  RINGEST_CHECK(listener_ != nullptr && !streaming_);
  streaming_ = true;
  step();
}

// One step: top the pipe up from the file (when there is room and file left) and, hard-linked
// behind it, move what the pipe holds into the socket. A short fill does not cut the drain.
void UploadReader::step() {
  if (stopped_) {
    end(Status::Ok());
    return;
  }
  if (in_pipe_ == 0 && pos_ == end_) {
    end(Status::Ok());
    return;
  }
  if (socket_full_) {
    pending_ = 1;
    ring_->poll_out(&poll_, socket_fd_);
    return;
  }
  uint64_t left = end_ - pos_;
  uint32_t room = pipe_capacity_ - in_pipe_;
  uint32_t fill = left < room ? static_cast<uint32_t>(left) : room;
  if (fill > 0) {
    ring_->reserve(2);
    pending_ = 2;
    ring_->splice(&fill_, fd_, static_cast<int64_t>(pos_), pipe_write_, -1, fill,
                  FaultOp::kDataRead)->flags |= IOSQE_IO_HARDLINK;
  } else {
    pending_ = 1;
  }
  ring_->splice(&drain_, pipe_read_, -1, socket_fd_, -1, in_pipe_ + fill);
}

void UploadReader::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  --pending_;
  if (completion == &fill_) {
    if (res > 0) {
      pos_ += static_cast<uint64_t>(res);
      in_pipe_ += static_cast<uint32_t>(res);
    } else if (res == -EAGAIN && in_pipe_ > 0) {
      // The pipe counts buffers, not bytes: partly sent pages fill it before its byte size is
      // reached. The drain behind this makes room.
    } else if (failure_.ok()) {
      failure_ = Status::FromErrno(res < 0 ? -res : EIO);  // 0: the file is shorter than it says
    }
  } else if (completion == &drain_) {
    if (res > 0) {
      in_pipe_ -= static_cast<uint32_t>(res);
      if (!stopped_) listener_->on_reader_progress();
    } else if (res == -EAGAIN) {
      socket_full_ = true;
    } else if (failure_.ok()) {
      failure_ = Status{Code::kConnectionReset, res < 0 ? -res : EPIPE};  // 0: never, but final
    }
  } else if (completion == &poll_) {
    socket_full_ = false;
    if (res < 0 && res != -ECANCELED && failure_.ok()) failure_ = Status::FromErrno(-res);
  }
  if (pending_ == 0) after_ops();
}

void UploadReader::after_ops() {
  if (stopped_ || !failure_.ok()) {
    end(failure_);
  } else if (!streaming_) {
    listener_->on_reader_ready();  // the first bytes are in the pipe
  } else {
    step();
  }
}

void UploadReader::stop() {
  if (listener_ == nullptr) return;
  stopped_ = true;
  if (pending_ > 0) {
    ring_->cancel(&poll_);
    ring_->cancel(&drain_);
    ring_->cancel(&fill_);
  } else if (!op_.busy()) {
    end(Status::Ok());
  }
}

void UploadReader::end(Status status) {
  if (fd_ >= 0) ring_->close(nullptr, fd_);
  fd_ = -1;
  // The pipe goes too: it may still hold pages of this file.
  if (pipe_read_ >= 0) ring_->close(nullptr, pipe_read_);
  if (pipe_write_ >= 0) ring_->close(nullptr, pipe_write_);
  pipe_read_ = pipe_write_ = -1;
  ReaderListener* listener = listener_;
  listener_ = nullptr;
  // Also after stop(): the connection waits for this to free itself.
  listener->on_reader_end(stopped_ ? Status::FromErrno(ECANCELED) : status);
}

}  // namespace ringest
