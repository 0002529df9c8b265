// HttpConnection: one accepted socket on one reactor, from accept to close. It owns the socket,
// the parser, the timers, the responses (final and interim) and the lingering close, and knows
// nothing about any protocol: a Router picks the Handler of the request's path, and the handler
// works through the RequestContext this class implements.
//
// Life of a request:
//   head:   POLL for readability (no buffer held while idle) -> lease a pool slot -> RECV ->
//           llhttp parses; target and headers are copied into the connection's arena. Generic
//           checks (request_checks), routing, access control, then the handler.
//   body:   a Content-Length body is handed whole to an ingest strategy (engine/upload/ingest)
//           chosen when it starts; a chunked body is parsed here and its decoded spans handed to
//           BufferedIngest. Either way the bytes reach the AppendSession's writer.
//   end:    the session commits (fdatasync + record) and only then does the handler answer
//           with the committed offset. A client that vanishes mid-body gets its received bytes
//           committed too.
//
// Threads: everything here runs on the owning reactor's thread. Lifetime: connections live in a
// per-reactor pool for the whole run; `generation_` tells a request's leftovers apart.
#pragma once

#include <cstdint>

#include "engine/base/clock.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/completion.h"
#include "engine/reactor/reactor.h"
#include "engine/upload/append_session.h"
#include "engine/upload/ingest/buffered_ingest.h"
#include "engine/upload/ingest/direct_ingest.h"
#include "engine/upload/ingest/splice_ingest.h"
#include "engine/upload/upload_reader.h"
#include "engine/upload/upload_store.h"
#include "http/access/access_policy.h"
#include "http/handler.h"
#include "http/http_parser.h"
#include "http/response.h"
#include "http/router.h"
#include "http/server_context.h"

namespace ringest::http {

class ConnectionPool;

class HttpConnection final : public CompletionHandler,
                             public PoolWaiter,
                             public BodySink,
                             public RequestContext,
                             public AppendListener,
                             public IngestHost,
                             public WriteProgress,
                             public StoreListener,
                             public ReaderListener {
 public:
  struct Memory {
    char* head_arena;
    Header* headers;
    char* response;
    uint32_t response_bytes;
    char* stash;       // kDirectBlock bytes: DirectIngest's partial block while no slot is held
    uint8_t* scratch;  // the handler's scratch (and the record header it asked for)
    uint32_t scratch_bytes;
    char* interim;     // an interim (1xx) response head
    uint32_t interim_bytes;
    char* carry;       // kCarryBytes: a pipelined request's first bytes while no slot is held
    char* small_body;  // kSmallBodyBytes: a body read with read_small_body()
  };
  // Pipelined bytes kept across a response without holding a pool slot; more than this closes
  // the connection after the response (the client sends them again on a new one).
  static constexpr uint32_t kCarryBytes = 4096;

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
  enum class Timer : uint8_t { kNone, kIdle, kHead, kBody, kSend, kLinger, kCount };
  void on_timer(Timer which);

  // Completions, pool, parser.
  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_slot_available() override;
  bool on_body(const char* data, size_t len) override;

  // RequestContext (for the handler).
  const RequestHead& head() const override { return request_head_; }
  uint8_t method() const override { return method_; }
  bool head_request() const override { return head_request_; }
  std::string_view path() const override { return path_; }
  std::string_view route_rest() const override { return route_rest_; }
  const Config& config() const override { return *context_->config; }
  Upload* find_upload(std::string_view id) override {
    return context_->store->find_live(id, unix_ms_now());
  }
  int missing_upload_status(std::string_view id) override {
    return context_->store->remembers_expired(id, unix_ms_now()) ? 410 : 404;
  }
  ResponseBuilder begin_response(int status) override;
  void send(ResponseBuilder& response) override;
  void send_with_upload_bytes(ResponseBuilder& response, uint64_t from, uint64_t to) override;
  void send_with_static_bytes(ResponseBuilder& response, std::span<const char> body) override;
  void send_interim(ResponseBuilder& response) override;
  Upload* upload() const override { return upload_.get(); }
  void set_upload(Upload* adopted_reference) override { upload_.reset(adopted_reference); }
  void create_upload(const CreateSpec& spec) override;
  Admission creation_refusal() const override { return refusal_; }
  void begin_append(const AppendRequest& request) override;
  void receive_body() override;
  void remove_upload() override;
  void load_header() override;
  void capture_trailer(std::string_view name) override { parser_.capture_trailer(name); }
  void set_trailer_checksum(DigestAlgorithm algorithm, const DigestValue& expected) override {
    session_.set_trailer_checksum(algorithm, expected);
  }
  void reject_trailer_checksum() override { session_.reject_trailer_checksum(); }
  void read_small_body(size_t max_bytes) override;
  std::string_view upload_location(std::string_view prefix, std::string_view id, char* out,
                                   size_t capacity) override;
  bool draining() const override { return shutting_down_; }
  uint8_t route_choice() const override { return route_choice_; }
  void set_route_choice(uint8_t choice) override { route_choice_ = choice; }
  std::span<uint8_t> scratch() override { return {memory_.scratch, memory_.scratch_bytes}; }

  // The upload core's callbacks.
  void on_append_ready(AppendOutcome outcome, const UploadView& view) override;
  void on_append_cut() override;
  void on_append_done(AppendOutcome outcome, const UploadView& view) override;
  void on_ingest_received(uint64_t bytes) override;
  void on_ingest_waiting(bool on_server) override;
  void on_ingest_end(IngestEnd end) override;
  void on_write_progress() override;
  void on_store_done(StoreOp* op, Status status) override;
  void on_reader_ready() override;
  void on_reader_progress() override;
  void on_reader_end(Status status) override;

  // Sheds the connection to make room for a new one (the table is full): only a connection that
  // waits on its client before a request has been accepted (idle, a head in progress) or that
  // lingers after its answer can be shed. It closes at once, without an answer.
  bool sheddable() const { return state_ == State::kReadHead || state_ == State::kLinger; }
  void shed();

  HttpConnection* next_free = nullptr;
  bool shed_pending = false;  // shed by the ConnectionPool, not yet released
  // Timer list links, owned by the ConnectionPool.
  Timer timer_ = Timer::kNone;
  uint64_t deadline_ms_ = 0;
  HttpConnection* timer_prev_ = nullptr;
  HttpConnection* timer_next_ = nullptr;

 private:
  enum class State : uint8_t {
    kFree,
    kReadHead,
    kHandling,    // the handler has the request (it may wait on the upload core)
    kReadBody,    // a body flows to the writer
    kReadSmallBody,  // a short body is copied into memory_.small_body (read_small_body())
    kFinishing,   // body over: writes draining, final commit
    kSending,
    kStreaming,   // a response body from an UploadReader
    kLinger,      // answered early and closing: read and discard what the client still sends
    kClosing,
  };

  // Reading and parsing (connection.cc).
  void arm_read();
  void acquire_slot_and_recv();
  void post_recv();
  void process_input();
  void process_head();
  void on_read_completion(bool received, int res);
  void on_send_completion(Completion* completion, int res);
  void release_read_slot();
  void park_pipelined();
  // Routing and access control (connection_routing.cc).
  void handle_request();
  bool admit_request(const RouteFacts& facts);
  void on_upload_created(StoreOp* op, Status status);
  void ask_pre_create(const CreateSpec& spec);
  void on_pre_create_answer();
  void admit_and_create(const CreateSpec& spec);
  bool anonymous_client(ClientKey* key) const;
  void respond_error(int status, std::string_view message, bool close_after = false);
  // Bodies (connection_body.cc).
  void start_socket_body(uint64_t body_bytes);
  void process_chunked_body();
  void end_body(BodyEnd end);
  void stop_body();
  void finish_message();
  BodyIngest* ingest();
  // Small bodies (connection_small_body.cc).
  void process_small_body();
  bool take_small_body(const char* data, size_t len);
  // Timers (connection.cc).
  void set_timer(Timer which, uint32_t timeout_ms);
  void start_body_window();
  void respond_timeout();
  void hold_body();
  void wait_on_client();
  // Responses and closing (connection_send.cc).
  bool ready_for_early_response();
  void send_response(bool close_after);
  void continue_send();
  bool start_static_body();
  void after_response();
  void next_request();
  void close();
  void start_linger();
  void linger_recv();
  void maybe_free();
  bool ops_pending() const;
  void send_continue_if_expected();
  void peer_gone();

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
  Completion continue_{this, 4};
  Completion interim_{this, 6};
  // The pre-create hook's answer (http/connection_pre_create.cc): a worker posts it here.
  Completion pre_create_{this, 7};
  bool pre_create_pending_ = false;
  hooks::PreCreateTicket pre_create_ticket_;
  CreateSpec pending_spec_;                // the creation waiting for the answer
  std::vector<uint8_t> pending_metadata_;  // its metadata block (capacity kept between uses)
  bool poll_pending_ = false;
  bool recv_pending_ = false;
  bool send_pending_ = false;
  bool continue_pending_ = false;
  bool interim_pending_ = false;
  bool response_waiting_ = false;  // the final answer waits for an interim one to be sent
  bool shutting_down_ = false;
  // The last receive brought little: the client is slow, so wait for readability without
  // holding a pool slot.
  bool slow_reader_ = false;
  bool timed_out_ = false;
  bool cut_off_ = false;  // a newer request for the upload stopped this body
  bool peer_gone_ = false;
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
  uint32_t carry_len_ = 0;  // bytes in memory_.carry, the next request's (see park_pipelined)

  HttpParser parser_;
  AppendSession session_;
  BufferedIngest buffered_;
  DirectIngest direct_;
  SpliceIngest splice_;
  BodyIngest* ingest_ = nullptr;  // the strategy of the body in flight; null for chunked
  bool chunked_body_ = false;
  StoreOp store_op_;
  UploadReader reader_;
  // Access control's facts about the current request (CORS origin, signed creation); valid
  // while access_.generation == generation_.
  RequestAccess access_;

  // A small body being read: bytes so far, and the most the handler takes.
  uint32_t small_len_ = 0;
  uint32_t small_max_ = 0;

  // The current request.
  // Its head, kept for the handler until the response is sent: the parser forgets it when the
  // message ends (a small body is read whole before the handler sees it), while the bytes it
  // points to (arena, header array) stay until the next request's head is parsed.
  RequestHead request_head_;
  Handler* handler_ = nullptr;
  uint8_t method_ = 0;
  std::string_view path_;
  std::string_view route_rest_;
  uint8_t route_choice_ = 0;  // RequestContext::route_choice(), per request
  UploadRef upload_;
  Admission refusal_ = Admission::kOk;  // the disk budget's answer to this request's creation
  bool close_after_response_ = false;
  bool keep_alive_ = true;
  bool head_request_ = false;

  // The response being sent.
  uint32_t send_len_ = 0;
  uint32_t send_pos_ = 0;
  const char* send_ptr_ = nullptr;
  // A body sent from memory that outlives the connection (send_with_static_bytes), after the head.
  std::span<const char> static_body_;
  // A response body from an UploadReader: its head goes out once the first bytes are in hand.
  bool head_sent_ = false;
};

}  // namespace ringest::http
