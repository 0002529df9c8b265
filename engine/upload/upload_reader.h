// UploadReader: streams a stored upload's bytes [from, to) for a response body. It opens the
// data file through the store (on the ring), reads one pool slot at a time with READ_FIXED, and
// hands each chunk to its listener, which sends it and asks for the next; the descriptor is
// closed at the end. The HTTP connection sends; it never touches the file.
//
// Threads: the connection's reactor. Lifetime: busy() while an operation is in flight.
#pragma once

#include <cstdint>

#include "engine/base/status.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/io_ring.h"
#include "engine/upload/upload_store.h"

namespace ringest {

class ReaderListener {
 public:
  // `len` bytes at `data` are the next part of the body: send them, then call next().
  virtual void on_reader_data(const char* data, uint32_t len) = 0;
  // Everything was handed over (ok), the file could not be read, or stop() was called
  // (kCancelled); always the reader's last call.
  virtual void on_reader_end(Status status) = 0;

 protected:
  ~ReaderListener() = default;
};

class UploadReader final : public CompletionHandler, public StoreListener, public PoolWaiter {
 public:
  void init(IoRing* ring, BufferPool* pool, UploadStore* store);
  void start(Upload& upload, uint64_t from, uint64_t to, ReaderListener* listener);
  void next();
  // The connection goes away: stop after what is in flight; busy() until then.
  void stop();
  bool busy() const { return op_.busy() || read_pending_; }
  bool active() const { return listener_ != nullptr; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_store_done(StoreOp* op, Status status) override;
  void on_slot_available() override { next(); }

 private:
  void end(Status status);
  void close_file();

  IoRing* ring_ = nullptr;
  BufferPool* pool_ = nullptr;
  UploadStore* store_ = nullptr;
  ReaderListener* listener_ = nullptr;
  StoreOp op_;
  Completion read_{this, 1};
  bool read_pending_ = false;
  bool stopped_ = false;
  int fd_ = -1;
  int slot_ = -1;
  uint64_t pos_ = 0;
  uint64_t end_ = 0;
};

}  // namespace ringest
