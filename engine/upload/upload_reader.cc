#include "engine/upload/upload_reader.h"

#include <cstring>

#include "engine/base/log.h"

namespace ringest {

void UploadReader::init(IoRing* ring, BufferPool* pool, UploadStore* store) {
  ring_ = ring;
  pool_ = pool;
  store_ = store;
}

void UploadReader::start(Upload& upload, uint64_t from, uint64_t to, ReaderListener* listener) {
  RINGEST_CHECK(!busy() && listener_ == nullptr && from <= to);
  listener_ = listener;
  stopped_ = false;
  pos_ = from;
  end_ = to;
  store_->open_for_read(op_, *ring_, upload, this);
}

void UploadReader::on_store_done(StoreOp* op, Status status) {
  UploadFiles files = op->take_files();
  fd_ = files.data_fd;
  if (stopped_) {
    end(Status::Ok());
    return;
  }
  if (!status.ok()) {
    end(status);
    return;
  }
  next();
}

void UploadReader::next() {
  if (listener_ == nullptr || read_pending_ || op_.busy()) return;
  if (stopped_ || pos_ >= end_) {
    end(Status::Ok());
    return;
  }
  if (slot_ < 0) {
    slot_ = pool_->acquire();
    if (slot_ < 0) {
      pool_->add_waiter(this);
      return;
    }
  }
  uint64_t left = end_ - pos_;
  uint32_t n = left < pool_->slot_bytes() ? static_cast<uint32_t>(left) : pool_->slot_bytes();
  read_pending_ = true;
  ring_->read_fixed(&read_, fd_, pool_->data(slot_), n, pos_, FaultOp::kDataRead);
}

void UploadReader::on_completion(Completion* /*completion*/, int res, uint32_t /*flags*/) {
  read_pending_ = false;
  if (stopped_) {
    end(Status::Ok());
    return;
  }
  if (res <= 0) {
    end(Status::FromErrno(res < 0 ? -res : EIO));  // 0: the file is shorter than it should be
    return;
  }
  pos_ += static_cast<uint64_t>(res);
  listener_->on_reader_data(pool_->data(slot_), static_cast<uint32_t>(res));
}

void UploadReader::stop() {
  if (listener_ == nullptr) return;
  stopped_ = true;
  if (waiting) pool_->remove_waiter(this);
  if (!busy()) end(Status::Ok());
}

void UploadReader::end(Status status) {
  if (slot_ >= 0) pool_->unref(slot_);
  slot_ = -1;
  if (waiting) pool_->remove_waiter(this);
  if (fd_ >= 0) ring_->close(nullptr, fd_);
  fd_ = -1;
  ReaderListener* listener = listener_;
  listener_ = nullptr;
  // Also after stop(): the connection waits for this to free itself.
  listener->on_reader_end(stopped_ ? Status::FromErrno(ECANCELED) : status);
}

}  // namespace ringest
