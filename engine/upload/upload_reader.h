// UploadReader: streams a stored upload's bytes [from, to) into a connection's socket as a
// response body, without a byte of the buffer pool: the file's pages go through a pipe of the
// reader's own (IORING_OP_SPLICE file -> pipe, hard-linked to pipe -> socket), so a client that
// stops reading holds page references in its pipe and socket, never a registered slot. While
// the socket is full the reader waits for it to become writable (IORING_OP_POLL_ADD POLLOUT).
//
// The file is opened and its first bytes moved into the pipe before the listener is told it may
// send the response head: a file that cannot be read gets an error answer, not a 200 cut short.
// The socket must be non-blocking (a splice into a full blocking socket would park a kernel
// worker until the client reads).
//
// Threads: the connection's reactor. Lifetime: busy() while an operation is in flight.
#pragma once

#include <cstdint>

#include "engine/base/status.h"
#include "engine/io/io_ring.h"
#include "engine/upload/upload_store.h"

namespace ringest {

class ReaderListener {
 public:
  // The first bytes are ready: send the response head, then call send_body().
  virtual void on_reader_ready() = 0;
  // Bytes reached the socket (the client is reading).
  virtual void on_reader_progress() = 0;
  // Everything was sent (ok), the file could not be read, the socket failed (kPeerGone), or
  // stop() was called (kCancelled); always the reader's last call.
  virtual void on_reader_end(Status status) = 0;

 protected:
  ~ReaderListener() = default;
};

class UploadReader final : public CompletionHandler, public StoreListener {
 public:
  ~UploadReader();
  // `pipe_bytes`: the pipe's size (the most one response has in flight between file and socket).
  void init(IoRing* ring, UploadStore* store, uint32_t pipe_bytes);
  void start(Upload& upload, uint64_t from, uint64_t to, int socket_fd, ReaderListener* listener);
  // After on_reader_ready(): the head is out, stream the body.
  void send_body();
  // The connection goes away: stop after what is in flight; busy() until then.
  void stop();
  bool busy() const { return op_.busy() || pending_ > 0; }
  bool active() const { return listener_ != nullptr; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_store_done(StoreOp* op, Status status) override;

 private:
  bool open_pipe();
  void fill_first();
  void step();
  void after_ops();
  void end(Status status);

  IoRing* ring_ = nullptr;
  UploadStore* store_ = nullptr;
  ReaderListener* listener_ = nullptr;
  StoreOp op_;
  Completion fill_{this, 1};   // file -> pipe
  Completion drain_{this, 2};  // pipe -> socket
  Completion poll_{this, 3};   // the socket became writable
  int pending_ = 0;
  bool stopped_ = false;
  bool streaming_ = false;   // send_body() was called
  bool socket_full_ = false;  // the last drain found no room: wait for POLLOUT
  Status failure_;            // the first failure of the ops in flight
  int fd_ = -1;
  int socket_fd_ = -1;
  int pipe_read_ = -1;
  int pipe_write_ = -1;
  uint32_t pipe_bytes_ = 0;     // asked for
  uint32_t pipe_capacity_ = 0;  // granted
  uint32_t in_pipe_ = 0;
  uint64_t pos_ = 0;
  uint64_t end_ = 0;
};

}  // namespace ringest
