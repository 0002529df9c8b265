// UploadReader: streams a stored upload's bytes [from, to) into a connection's socket as a
// response body. It reads a pool slot's worth with READ_FIXED and sends it with MSG_DONTWAIT,
// so a send never waits for room while holding the slot: when the socket takes less than the
// chunk (the client reads slower than the disk), the slot goes back to the pool at once, the
// rest of the chunk is dropped (it is still in the file), and the reader waits for the socket
// to become writable (POLL_ADD POLLOUT) with nothing of the pool; then it reads again from the
// first byte not sent. A client that reads at speed keeps one slot busy; one that stalls holds
// none. Slots are taken through the pool's in-order waiter queue.
//
// The file is opened and its first byte read (into the reader's own byte, no slot) before the
// listener is told it may send the response head: a file that cannot be read gets an error
// answer, not a 200 cut short.
//
// A final upload (concatenation) is read as one stream over its parts' data files in order:
// [from, to) is mapped onto the parts (a range may start and end inside any part and cross any
// number of boundaries), each part's file is opened O_RDONLY on the ring when the stream reaches
// it and closed when it leaves it, and a chunk never spans two files. No byte is copied in user
// space and nothing is allocated per request (the reader shares the final's immutable parts).
//
// Threads: the connection's reactor. Lifetime: busy() while an operation is in flight.
#pragma once

#include <cstdint>
#include <memory>

#include "engine/base/status.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/io_ring.h"
#include "engine/upload/upload_store.h"

namespace ringest {

class ReaderListener {
 public:
  // The file is readable: send the response head, then call send_body().
  virtual void on_reader_ready() = 0;
  // Bytes reached the socket (the client is reading).
  virtual void on_reader_progress() = 0;
  // Everything was sent (ok), the file could not be read, the socket failed (kConnectionReset),
  // or stop() was called (kCancelled); always the reader's last call.
  virtual void on_reader_end(Status status) = 0;

 protected:
  ~ReaderListener() = default;
};

class UploadReader final : public CompletionHandler, public StoreListener, public PoolWaiter {
 public:
  void init(IoRing* ring, BufferPool* pool, UploadStore* store);
  void start(Upload& upload, uint64_t from, uint64_t to, int socket_fd, ReaderListener* listener);
  // After on_reader_ready(): the head is out, stream the body.
  void send_body();
  // The connection goes away: stop after what is in flight; busy() until then.
  void stop();
  bool busy() const { return op_.busy() || pending_; }
  bool active() const { return listener_ != nullptr; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_store_done(StoreOp* op, Status status) override;
  void on_slot_available() override { step(); }

 private:
  void step();
  void open_part(size_t index);
  void on_sent(int res);
  void release_slot();
  void end(Status status);

  IoRing* ring_ = nullptr;
  BufferPool* pool_ = nullptr;
  UploadStore* store_ = nullptr;
  ReaderListener* listener_ = nullptr;
  StoreOp op_;
  Completion probe_{this, 1};  // the first byte, before the head goes out
  Completion read_{this, 2};
  Completion send_{this, 3};
  Completion poll_{this, 4};   // the socket became writable
  bool pending_ = false;       // one of the above is in flight
  bool stopped_ = false;
  bool streaming_ = false;     // send_body() was called
  bool socket_full_ = false;   // the last send found no room: wait for POLLOUT, slot released
  char probe_byte_ = 0;
  int fd_ = -1;
  int socket_fd_ = -1;
  int slot_ = -1;
  uint32_t chunk_len_ = 0;   // bytes in the slot, the file's [sent_, sent_ + chunk_len_)
  uint32_t chunk_sent_ = 0;  // of them, already in the socket
  uint64_t sent_ = 0;        // stream offset of the first byte not yet in the socket
  uint64_t end_ = 0;
  // The file being read holds the stream's [file_start_, file_end_): the whole upload, or one
  // part of a final (parts_ non-null, part_ its index).
  std::shared_ptr<const FinalParts> parts_;
  size_t part_ = 0;
  uint64_t file_start_ = 0;
  uint64_t file_end_ = 0;
};

}  // namespace ringest
