#include "engine/upload/upload_reader.h"

#include <sys/socket.h>

#include <cerrno>

#include "engine/base/log.h"

namespace ringest {

void UploadReader::init(IoRing* ring, BufferPool* pool, UploadStore* store) {
  ring_ = ring;
  pool_ = pool;
  store_ = store;
}

void UploadReader::start(Upload& upload, uint64_t from, uint64_t to, int socket_fd,
                         ReaderListener* listener) {
  RINGEST_CHECK(!busy() && listener_ == nullptr && from < to);
  listener_ = listener;
  stopped_ = streaming_ = socket_full_ = false;
  socket_fd_ = socket_fd;
  sent_ = from;
  end_ = to;
  chunk_len_ = chunk_sent_ = 0;
  if (upload.kind == UploadKind::kFinal) {
    parts_ = upload.parts;  // immutable once published; a reference, no allocation
    RINGEST_CHECK(parts_ != nullptr && to <= parts_->length());
    open_part(parts_->part_holding(from));
    return;
  }
  file_start_ = 0;
  file_end_ = to;
  store_->open_for_read(op_, *ring_, upload, this);
}

// Moves to part `index` of a final: its data file is opened on the ring (on_store_done()).
void UploadReader::open_part(size_t index) {
  const FinalPart& part = parts_->part(index);
  part_ = index;
  file_start_ = part.start;
  file_end_ = part.start + part.length;
  store_->open_for_read(op_, *ring_, *part.upload, this);
}

void UploadReader::on_store_done(StoreOp* op, Status status) {
  UploadFiles files = op->take_files();
  fd_ = files.data_fd;
  if (stopped_) {
    end(Status::Ok());
  } else if (!status.ok()) {
    end(status);
  } else if (streaming_) {
    step();  // the next part of a final: go on where the previous one ended
  } else {
    pending_ = true;  // one byte into the reader itself: no slot is held before the head is out
    ring_->read(&probe_, fd_, &probe_byte_, 1, sent_ - file_start_, FaultOp::kDataRead);
  }
}

void UploadReader::send_body() {
  RINGEST_CHECK(listener_ != nullptr && !streaming_);
  streaming_ = true;
  step();
}

// Reads the next chunk into a slot (taking one in turn), or sends what the slot holds without
// waiting for room, or waits for room holding nothing.
void UploadReader::step() {
  if (listener_ == nullptr || pending_) return;
  if (stopped_ || sent_ == end_) {
    end(Status::Ok());
    return;
  }
  if (sent_ == file_end_) {
    // A final's part is done (everything read from it is in the socket): on to the next one
    // that holds a byte, holding no slot while its file opens.
    release_slot();
    ring_->close(nullptr, fd_);
    fd_ = -1;
    size_t next = part_ + 1;
    while (parts_->part(next).length == 0) ++next;  // sent_ < end_: a later part holds a byte
    open_part(next);
    return;
  }
  if (!socket_full_ && slot_ < 0) {
    slot_ = pool_->acquire();
    if (slot_ < 0) {
      pool_->add_waiter(this);  // on_slot_available() comes back here
      return;
    }
  }
  pending_ = true;  // (before taking the SQE: see BodyIngest::post_recv)
  if (socket_full_) {
    ring_->poll_out(&poll_, socket_fd_);
    return;
  }
  char* data = pool_->data(slot_);
  if (chunk_sent_ == chunk_len_) {
    uint64_t left = (end_ < file_end_ ? end_ : file_end_) - sent_;  // never past this file
    uint32_t n = left < pool_->slot_bytes() ? static_cast<uint32_t>(left) : pool_->slot_bytes();
    ring_->read_fixed(&read_, fd_, data, n, sent_ - file_start_, FaultOp::kDataRead);
    return;
  }
  ring_->send(&send_, socket_fd_, data + chunk_sent_, chunk_len_ - chunk_sent_, MSG_DONTWAIT);
}

void UploadReader::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  pending_ = false;
  if (stopped_) {
    end(Status::Ok());
    return;
  }
  if (completion == &probe_ || completion == &read_) {
    if (res <= 0) {
      end(Status::FromErrno(res < 0 ? -res : EIO));  // 0: the file is shorter than it says
      return;
    }
    if (completion == &probe_) {
      listener_->on_reader_ready();  // the head goes out; send_body() follows
      return;
    }
    chunk_len_ = static_cast<uint32_t>(res);
    chunk_sent_ = 0;
  } else if (completion == &send_) {
    on_sent(res);
    if (listener_ == nullptr) return;  // ended
  } else if (completion == &poll_) {
    socket_full_ = false;  // writable (or failed: the next send says how)
  }
  step();
}

void UploadReader::on_sent(int res) {
  if (res < 0 && res != -EAGAIN) {
    end(Status{Code::kConnectionReset, -res});
    return;
  }
  uint32_t asked = chunk_len_ - chunk_sent_;
  if (res > 0) {
    chunk_sent_ += static_cast<uint32_t>(res);
    sent_ += static_cast<uint64_t>(res);
    listener_->on_reader_progress();
  }
  if (res < 0 || static_cast<uint32_t>(res) < asked) {
    // The socket is full: the rest of the chunk is still in the file. Let the slot go while
    // the client catches up.
    release_slot();
    socket_full_ = true;
  }
}

void UploadReader::release_slot() {
  if (slot_ >= 0) pool_->unref(slot_);
  slot_ = -1;
  chunk_len_ = chunk_sent_ = 0;
}

void UploadReader::stop() {
  if (listener_ == nullptr) return;
  stopped_ = true;
  if (waiting) pool_->remove_waiter(this);
  if (pending_) {
    ring_->cancel(&poll_);
    ring_->cancel(&send_);
    ring_->cancel(&read_);
    ring_->cancel(&probe_);
  } else if (!op_.busy()) {
    end(Status::Ok());
  }
}

void UploadReader::end(Status status) {
  release_slot();
  if (waiting) pool_->remove_waiter(this);
  if (fd_ >= 0) ring_->close(nullptr, fd_);
  fd_ = -1;
  parts_.reset();
  ReaderListener* listener = listener_;
  listener_ = nullptr;
  // Also after stop(): the connection waits for this to free itself.
  listener->on_reader_end(stopped_ ? Status::FromErrno(ECANCELED) : status);
}

}  // namespace ringest
