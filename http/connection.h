// HttpConnection: one accepted socket on one reactor, from accept to close.
//
// Life of a request:
//   head:   POLL for readability (no buffer held while idle) -> lease a pool slot -> RECV ->
//           llhttp parses; target and headers are copied into the connection's arena.
//   route:  the tus handlers (tus_routes.cc) validate and either answer at once or start a body.
//   body:   RECV into the slot; llhttp hands body spans (chunk framing removed, spans of one
//           receive coalesced in place) to the UploadWriter, which writes them with WRITE_FIXED
//           at the upload's offset. At most `buffers_per_connection` writes are in flight; past
//           that no RECV is posted, so TCP flow control slows the client (backpressure).
//   end:    the writer commits (fdatasync + record) and only then the response reports the
//           offset. A client that vanishes mid-body gets its received bytes committed too.
//
// Takeover: a newer PATCH/DELETE for an upload this connection is writing arrives as a kAbort
// message in `mailbox_`; the body is cut off, what arrived is committed, ownership moves on.
//
// Threads: everything here runs on the owning reactor's thread. Lifetime: connections live in
// a per-reactor pool for the whole run; `generation_` tells stale mailbox messages apart.
#pragma once

#include <cstdint>

#include "engine/io/buffer_pool.h"
#include "engine/io/completion.h"
#include "engine/reactor/reactor.h"
#include "engine/upload/upload.h"
#include "engine/upload/upload_writer.h"
#include "http/access/access_policy.h"
#include "http/http_parser.h"
#include "http/response.h"
#include "http/server_context.h"

namespace ringest::http {

class ConnectionPool;

class HttpConnection final : public CompletionHandler,
                             public PoolWaiter,
                             public UploadWriterListener,
                             public BodySink {
 public:
  struct Memory {
    char* head_arena;
    Header* headers;
    char* response;
    uint32_t response_bytes;
    char* stash;  // kDirectBlock bytes: the O_DIRECT partial block while no slot is held
  };

  HttpConnection() = default;
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  void init(ConnectionPool* pool, Reactor* reactor, ServerContext* context, Memory memory);
  void start(int fd);
  // Server shutdown: idle connections close; a body in flight is cut off and committed.
  void shutdown();
  bool in_use() const { return state_ != State::kFree; }

  // Slow-client timers, kept by the ConnectionPool in one deadline-ordered list per kind. At
  // most one is armed at a time: the one for what the connection is waiting on.
  enum class Timer : uint8_t { kNone, kIdle, kHead, kBody, kSend };
  void on_timer(Timer which);

  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_slot_available() override;
  void on_writer_progress() override;
  void on_writer_finished(Status status) override;
  void on_record_created(Status status) override;
  bool on_body(const char* data, size_t len) override;
  void on_splice_received(int res) override;

  HttpConnection* next_free = nullptr;
  // Timer list links, owned by the ConnectionPool.
  Timer timer_ = Timer::kNone;
  uint64_t deadline_ms_ = 0;
  HttpConnection* timer_prev_ = nullptr;
  HttpConnection* timer_next_ = nullptr;

 private:
  enum class State : uint8_t {
    kFree,
    kReadHead,
    kWaitUpload,  // parked until the upload's previous writer lets go
    kCreating,    // the new upload's record is being made durable
    kReadBody,
    kFinishing,   // body over: writes draining, final commit
    kSending,
    kStreamFile,  // GET of a complete upload
    kLinger,      // answered early and closing: read and discard what the client still sends
    kClosing,
  };
  enum class Op : uint8_t { kNone, kCreate, kPatch, kDelete };
  enum class BodyEnd : uint8_t {
    kComplete, kPeerGone, kAborted, kOverrun, kMalformed, kStorageError, kTimedOut
  };

  // Socket plumbing (connection.cc).
  void arm_read();
  void acquire_slot_and_recv();
  void post_recv();
  void process_input();
  void process_head();
  void process_body();
  void flush_body_span();
  // O_DIRECT body path: body bytes are gathered in an "accumulator" slot at addresses congruent
  // to their file offsets (mod 4 KiB), so whole blocks are written straight from the slot.
  bool direct_begin();
  bool direct_ensure_accumulator();
  bool direct_roll();
  void direct_arm_read();
  void direct_flush();
  void direct_park();
  // Splice mode (--io-mode splice): a Content-Length body moves socket -> pipe -> file.
  bool ensure_pipe();
  void close_pipe();
  void splice_next();
  void set_timer(Timer which, uint32_t timeout_ms);
  void start_body_window();
  void respond_timeout();
  void hold_body();       // the server (not the client) stops the body for now
  void wait_on_client();  // ... and waits on the client again
  uint64_t body_file_end() const;
  void end_body(BodyEnd how);
  void peer_gone();
  void send_response(bool close_after);
  void continue_send();
  void after_response();
  void next_request();
  void close();
  void start_linger();
  void linger_recv();
  void maybe_free();
  void release_read_slot();
  bool ops_pending() const;
  void on_mailbox(uint32_t payload);
  void send_continue_if_expected();

  // Request handling (tus_routes.cc).
  void handle_request();
  // Access control before routing (access_routes.cc): false when it answered the request
  // itself (401, 403, a CORS preflight). `method` is the effective method.
  bool admit_request(std::string_view path, uint8_t method);
  void handle_files_collection();
  void handle_upload(std::string_view id);
  void handle_options();
  void handle_create();
  void handle_head(Upload* upload);
  void handle_get(Upload* upload);
  void handle_patch_or_delete(Upload* upload, Op op);
  void on_upload_owned();
  void start_patch_body();
  void do_delete();
  void finish_request_response(Status status);
  void handle_metrics();
  void stream_next_chunk();
  // Simple answers: a status, a short text body, tus headers where they belong.
  void respond_error(int status, std::string_view message, bool close_after = false);
  // Before answering without reading a body: completes a bodiless request in the parser and
  // returns true; returns false when an unread body is on the wire (the connection must close).
  bool ready_for_early_response();
  ResponseBuilder begin_response(int status, bool close_after);
  void finish_and_send(ResponseBuilder& rb, bool close_after);
  void release_upload_ownership();
  void drop_upload();
  UploadOwner self_owner();

  ConnectionPool* pool_ = nullptr;
  Reactor* reactor_ = nullptr;
  ServerContext* context_ = nullptr;
  Memory memory_{};

  int fd_ = -1;
  uint32_t generation_ = 0;
  State state_ = State::kFree;

  Completion poll_{this, 1};
  Completion recv_{this, 2};
  Completion send_{this, 3};
  Completion file_read_{this, 4};
  Completion mailbox_{this, 5};
  Completion continue_{this, 6};
  Completion linger_timeout_{this, 7};
  int linger_timeouts_pending_ = 0;
  uint64_t linger_deadline_ms_ = 0;
  __kernel_timespec linger_step_{};
  bool poll_pending_ = false;
  bool recv_pending_ = false;
  bool send_pending_ = false;
  bool file_read_pending_ = false;
  bool continue_pending_ = false;
  bool response_waiting_for_continue_ = false;
  bool shutting_down_ = false;
  // The last receive brought little: the client is slow, so wait for readability without
  // holding a pool slot (and a direct-mode partial block waits in the stash).
  bool slow_reader_ = false;
  bool timed_out_ = false;
  // Splice mode: this request's body goes through the connection's pipe (created on first use,
  // kept for the connection's life unless a failed write left bytes in it).
  bool splice_ = false;
  int pipe_read_ = -1;
  int pipe_write_ = -1;
  uint32_t pipe_bytes_ = 0;
  // Minimum body rate: bytes received in the current window, and whether the server (disk,
  // pool) rather than the client held the body back during it.
  uint64_t window_start_ms_ = 0;
  uint64_t window_bytes_ = 0;
  uint64_t held_since_ms_ = 0;  // 0: not held back by the server right now
  uint64_t held_ms_ = 0;


  // The slot being received into and parsed: bytes [parse_pos_, data_end_) are unparsed.
  int read_slot_ = -1;
  uint32_t parse_pos_ = 0;
  uint32_t data_end_ = 0;
  // Body bytes of the current receive, coalesced in place.
  char* span_ptr_ = nullptr;
  uint32_t span_len_ = 0;
  // O_DIRECT accumulator: slot offset x holds file offset acc_file_base_ + x; bytes
  // [acc_written_, acc_end_) are received but not yet handed to the writer (< 4 KiB after a
  // flush). The slot holds its own pool reference.
  bool direct_ = false;
  int acc_slot_ = -1;
  uint32_t acc_end_ = 0;
  uint32_t acc_written_ = 0;
  uint64_t acc_file_base_ = 0;
  uint32_t stash_len_ = 0;

  HttpParser parser_;
  UploadWriter writer_;
  // Access control's facts about the current request (CORS origin, signed creation); valid
  // while access_.generation == generation_.
  RequestAccess access_;

  // The current request.
  Op op_ = Op::kNone;
  Upload* upload_ = nullptr;  // holds a reference
  bool owns_upload_ = false;
  bool abort_requested_ = false;
  bool peer_gone_ = false;
  bool close_after_response_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;
  BodyEnd body_end_ = BodyEnd::kComplete;
  uint64_t request_offset_ = 0;
  uint64_t committed_before_ = 0;

  // The response being sent.
  uint32_t send_len_ = 0;
  uint32_t send_pos_ = 0;
  // GET streaming.
  int file_slot_ = -1;
  uint64_t file_pos_ = 0;
  uint64_t file_end_ = 0;
  const char* send_ptr_ = nullptr;
};

// The reactor's connections, allocated once at start-up (objects, head arenas, header arrays
// and response buffers) so that no request allocates.
class ConnectionPool final : public ReactorClient, public CompletionHandler {
 public:
  ConnectionPool(Reactor* reactor, ServerContext* context);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  void on_accept(int fd) override;
  void begin_shutdown() override;
  bool drained() const override { return live_ == 0; }
  void release(HttpConnection* connection);

  // Timers: one list per kind, each ordered by deadline because every entry of a kind was
  // armed with the same timeout. One IORING_OP_TIMEOUT per reactor ticks them; a tick pops the
  // expired heads. Arming is O(1) and allocates nothing.
  void arm_timer(HttpConnection* c, HttpConnection::Timer which, uint64_t deadline_ms);
  void disarm_timer(HttpConnection* c);
  void on_completion(Completion* completion, int res, uint32_t flags) override;

 private:
  struct TimerList {
    HttpConnection* head = nullptr;
    HttpConnection* tail = nullptr;
  };
  void arm_tick();

  TimerList timers_[5];
  Completion tick_{this, 1};
  __kernel_timespec tick_interval_{};
  bool tick_armed_ = false;

  Reactor* reactor_;
  HttpConnection* connections_ = nullptr;
  uint32_t count_ = 0;
  char* memory_ = nullptr;
  size_t memory_bytes_ = 0;
  HttpConnection* free_ = nullptr;
  uint32_t live_ = 0;
};

}  // namespace ringest::http
