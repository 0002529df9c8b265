// Body ingest: how a request body's bytes get from the socket to the upload's file. Three
// strategies, chosen when a body starts (choose_ingest()), each a separate object embedded in
// the connection and driven the same way:
//
//   BufferedIngest  receive into pool slots, write each receive through the page cache.
//   DirectIngest    receive into a slot at addresses congruent to the bytes' file offsets, so
//                   whole 4 KiB blocks go O_DIRECT straight from the slot they arrived in.
//   SpliceIngest    socket -> pipe -> file with linked IORING_OP_SPLICE, no user-space copy.
//
// A Content-Length body is handed over whole with take_socket(): the ingest owns the socket's
// receive side until it reports on_ingest_end(); the HTTP parser only learns afterwards how many
// body bytes went by. A chunked body (its framing is in the stream) is parsed by the connection,
// which hands the decoded spans to BufferedIngest::take_span().
//
// Backpressure (h2o's two-call contract): an ingest posts a receive only while the writer can
// take more and a slot is free; otherwise it waits for the writer's progress (AppendSession
// forwards it through WriteProgress) or the pool (PoolWaiter), and the socket buffer fills.
// A slow client (a receive that brought little) is awaited with a poll and no slot held.
//
// Threads: the connection's reactor. Lifetime: an ingest never ends (on_ingest_end) while an
// operation of its own on the socket is in flight; writes it started belong to the writer.
#pragma once

#include <cstdint>

#include <atomic>

#include "engine/base/config.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/io_ring.h"
#include "engine/upload/append_session.h"
#include "engine/upload/upload_writer.h"

namespace ringest {

// How the socket side of a body ended.
enum class IngestEnd : uint8_t {
  kComplete,      // every body byte was received and handed to the writer
  kPeerGone,      // the client closed or reset the connection
  kCut,           // cut() was called (takeover, timeout, shutdown)
  kStorageError,  // the writer failed: nothing more is taken
};

class IngestHost {
 public:
  // `bytes` body bytes arrived from the client.
  virtual void on_ingest_received(uint64_t bytes) = 0;
  // The ingest waits: on the server (writer at its limit, no free slot) or on the client.
  virtual void on_ingest_waiting(bool on_server) = 0;
  // The socket side is over; every byte received has been handed to the writer.
  virtual void on_ingest_end(IngestEnd end) = 0;

 protected:
  ~IngestHost() = default;
};

// Body bytes that arrived together with the request head, in the connection's receive slot.
struct Leftover {
  int slot = -1;
  char* data = nullptr;
  uint32_t len = 0;
  // True: the connection hands its reference on `slot` over and needs nothing else in it, so the
  // ingest may move bytes within the slot and receive into the rest of it.
  bool slot_handed_over = false;
};

// What every ingest needs from its connection: set once.
struct IngestContext {
  IoRing* ring = nullptr;
  BufferPool* pool = nullptr;
  AppendSession* session = nullptr;
  IngestHost* host = nullptr;
  char* stash = nullptr;  // kDirectBlock bytes of the connection's memory (DirectIngest)
  uint32_t pipe_bytes = 1u << 20;                   // SpliceIngest's pipe size
  std::atomic<uint64_t>* spliced_bytes = nullptr;  // counter of bytes moved by splice
};

// Smaller receives are not worth a slot: the client is slow, so wait for readability instead.
inline constexpr uint32_t kMinReceiveBytes = 16 * 1024;

class BodyIngest : public CompletionHandler, public PoolWaiter, public WriteProgress {
 public:
  void init(const IngestContext& context) { context_ = context; }
  // A Content-Length body: `body_bytes` in all, `leftover` of which are already here.
  // `client_slow`: the receive that brought the head was small, so the body is first awaited
  // with a poll and no slot.
  void take_socket(int fd, uint64_t body_bytes, const Leftover& leftover, bool client_slow);
  // Stop now (what arrived is handed to the writer); ends with kCut once no receive is pending.
  void cut();
  bool active() const { return active_; }
  // A receive or poll on the socket is outstanding: the server is waiting on the client.
  bool waiting_on_client() const { return socket_op_pending_; }
  bool socket_op_pending() const { return socket_op_pending_; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_slot_available() override { pump(); }
  void on_write_progress() override;

 protected:
  BodyIngest() = default;
  ~BodyIngest() = default;

  UploadWriter& writer() { return context_.session->writer(); }
  // Strategy hooks.
  virtual void start(const Leftover& leftover) = 0;
  // Posts the next receive (or poll, or splice), or waits; called while nothing is pending.
  virtual void step() = 0;
  virtual void on_received(uint32_t bytes) = 0;
  // Hands what is left to the writer at the end; false while it must wait for the writer.
  virtual bool drain() { return true; }
  virtual void release() = 0;  // give back slots at the end
  // A completion of the strategy's own (splice), and cancelling it.
  virtual void on_other_completion(Completion* /*completion*/, int /*res*/) {}
  virtual void cancel_other() {}

  void pump();
  void wait_for_slot();
  void wait_for_writer();
  void post_recv(char* into, uint32_t len);
  void post_poll();

  IngestContext context_;
  int fd_ = -1;
  uint64_t remaining_ = 0;  // body bytes not yet received
  bool slow_ = false;       // the last receive was small: wait for readability, slot-free
  bool socket_op_pending_ = false;
  Completion recv_{this, 1};
  Completion poll_{this, 2};

  bool cut_ = false;        // cut() was called
  bool peer_gone_ = false;  // the client closed or reset

 private:
  void end(IngestEnd how);
  bool active_ = false;
  bool ending_ = false;
  IngestEnd end_how_ = IngestEnd::kComplete;
};

// Which strategy takes a body: `chunked` bodies are always buffered (their framing is in the
// stream, so bytes never lie where their blocks would be written from).
enum class IngestKind : uint8_t { kBuffered, kDirect, kSplice };
IngestKind choose_ingest(IoMode mode, bool chunked, bool direct_available);

}  // namespace ringest
