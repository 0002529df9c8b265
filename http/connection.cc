// HttpConnection: start, reading and parsing request heads, completions, timers. Routing is in
// connection_routing.cc, bodies in connection_body.cc, responses and closing in
// connection_send.cc.
#include "http/connection.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "http/connection_pool.h"

namespace ringest::http {
namespace {
constexpr uint32_t kMaxTargetBytes = 2048;
}  // namespace

void HttpConnection::init(ConnectionPool* pool, Reactor* reactor, ServerContext* context,
                          Memory memory) {
  pool_ = pool;
  reactor_ = reactor;
  context_ = context;
  memory_ = memory;
  const Config& config = *context->config;
  parser_.init(memory.head_arena, config.max_head_bytes, memory.headers, config.max_headers,
               kMaxTargetBytes);
  session_.init(reactor, context->store, config.checkpoint_bytes,
                static_cast<int>(config.buffers_per_connection));
  IngestContext ingest;
  ingest.ring = &reactor->ring();
  ingest.pool = &reactor->pool();
  ingest.session = &session_;
  ingest.host = this;
  ingest.stash = memory.stash;
  uint64_t pipe = uint64_t{config.buffer_bytes} * config.buffers_per_connection;
  ingest.pipe_bytes = static_cast<uint32_t>(std::min<uint64_t>(pipe, 1u << 20));
  ingest.spliced_bytes = &reactor->stats().body_bytes_spliced;
  buffered_.init(ingest);
  direct_.init(ingest);
  splice_.init(ingest);
  reader_.init(&reactor->ring(), &reactor->pool(), context->store);
}

void HttpConnection::start(int fd) {
  fd_ = fd;
  ++generation_;
  state_ = State::kReadHead;
  parser_.reset();
  read_slot_ = -1;
  parse_pos_ = data_end_ = carry_len_ = 0;
  shutting_down_ = false;
  keep_alive_ = true;
  close_after_response_ = false;
  slow_reader_ = false;
  timed_out_ = false;
  set_timer(Timer::kHead, context_->config->head_timeout_ms);  // from the accept
  arm_read();
}

void HttpConnection::set_timer(Timer which, uint32_t timeout_ms) {
  if (which == Timer::kNone || timeout_ms == 0) {
    pool_->disarm_timer(this);
  } else {
    pool_->arm_timer(this, which, monotonic_ms_now() + timeout_ms);
  }
}

void HttpConnection::start_body_window() {
  const Config& config = *context_->config;
  window_start_ms_ = monotonic_ms_now();
  window_bytes_ = 0;
  held_ms_ = 0;
  if (held_since_ms_ != 0) held_since_ms_ = window_start_ms_;
  set_timer(Timer::kBody, config.min_body_rate > 0 ? config.body_rate_window_ms : 0);
}

void HttpConnection::on_timer(Timer which) {
  // The pool has already unlinked this connection from its timer list.
  const Config& config = *context_->config;
  switch (which) {
    case Timer::kNone:
      return;
    case Timer::kIdle:
    case Timer::kHead:
      if (state_ == State::kHandling && session_.waiting()) {
        session_.give_up_waiting();  // answered 503 by the handler (on_append_ready)
        return;
      }
      // A head, or a small body (bounded like a head), took too long.
      if (state_ != State::kReadHead && state_ != State::kReadSmallBody) return;
      timed_out_ = true;
      reactor_->stats().timeouts.fetch_add(1, std::memory_order_relaxed);
      if (poll_pending_ || recv_pending_) {
        reactor_->ring().cancel_fd(fd_);  // its completion sends the 408
        return;
      }
      if (waiting) reactor_->pool().remove_waiter(this);
      respond_timeout();
      return;
    case Timer::kBody: {
      if (state_ != State::kReadBody) return;
      // Only the time the server was waiting on the client counts: time in which it held the
      // body back itself (writes at their limit, no free slot) is taken out of the window.
      uint64_t now = monotonic_ms_now();
      uint64_t elapsed = now - window_start_ms_;
      uint64_t held = held_ms_ + (held_since_ms_ != 0 ? now - held_since_ms_ : 0);
      uint64_t client_ms = elapsed > held ? elapsed - held : 0;
      uint64_t needed = uint64_t{config.min_body_rate} * client_ms / 1000;
      bool waiting_on_client =
          ingest_ != nullptr ? ingest_->waiting_on_client() : (poll_pending_ || recv_pending_);
      if (window_bytes_ >= needed || !waiting_on_client) {
        start_body_window();
        return;
      }
      timed_out_ = true;
      reactor_->stats().timeouts.fetch_add(1, std::memory_order_relaxed);
      stop_body();  // what arrived is committed, then 408
      return;
    }
    case Timer::kSend:
      // The client stopped reading its response.
      reactor_->stats().timeouts.fetch_add(1, std::memory_order_relaxed);
      close();
      return;
    case Timer::kLinger:
      if (state_ == State::kLinger) close();  // lingered long enough
      return;
    case Timer::kCount:
      return;
  }
}

void HttpConnection::hold_body() {
  if (held_since_ms_ == 0) held_since_ms_ = monotonic_ms_now();
}

void HttpConnection::wait_on_client() {
  if (held_since_ms_ == 0) return;
  held_ms_ += monotonic_ms_now() - held_since_ms_;
  held_since_ms_ = 0;
}

void HttpConnection::respond_timeout() {
  set_timer(Timer::kNone, 0);
  release_read_slot();  // a partial head is discarded
  head_request_ = false;
  keep_alive_ = false;
  respond_error(408, "request timeout", true);
}

bool HttpConnection::ops_pending() const {
  return poll_pending_ || recv_pending_ || send_pending_ || continue_pending_ ||
         interim_pending_ || pre_create_pending_ || session_.busy() ||
         buffered_.active() || direct_.active() || splice_.active() || store_op_.busy() ||
         reader_.busy();
}

void HttpConnection::release_read_slot() {
  if (read_slot_ >= 0) reactor_->pool().unref(read_slot_);
  read_slot_ = -1;
  parse_pos_ = data_end_ = 0;
}

void HttpConnection::arm_read() {
  // Heads, and chunked bodies (the parser must see their framing). Everything before parse_pos_
  // has been parsed (head bytes are copied into the arena), so no slot is needed to wait.
  if (state_ == State::kClosing || recv_pending_ || poll_pending_ || waiting) return;
  if (carry_len_ > 0 && read_slot_ < 0) {
    acquire_slot_and_recv();  // a pipelined request's first bytes are here already
    return;
  }
  BufferPool& pool = reactor_->pool();
  bool body = state_ == State::kReadBody;
  if (body && !slow_reader_ && read_slot_ >= 0 && parse_pos_ == data_end_ &&
      pool.slot_bytes() - data_end_ >= kMinReceiveBytes) {
    post_recv();  // a body streams in: receive into the rest of this slot
    return;
  }
  release_read_slot();
  if (!body || slow_reader_) {
    // Idle between requests, a head still coming, or a slow body: wait for readability without
    // holding a buffer, so slow or silent clients cannot take the pool from the others.
    wait_on_client();
    poll_pending_ = true;
    reactor_->ring().poll_in(&poll_, fd_);
    return;
  }
  acquire_slot_and_recv();
}

void HttpConnection::acquire_slot_and_recv() {
  int slot = reactor_->pool().acquire();
  if (slot < 0) {
    reactor_->pool().add_waiter(this);  // backpressure: the pool is empty
    hold_body();
    return;
  }
  read_slot_ = slot;
  parse_pos_ = data_end_ = 0;
  if (carry_len_ > 0) {
    std::memcpy(reactor_->pool().data(slot), memory_.carry, carry_len_);
    data_end_ = carry_len_;
    carry_len_ = 0;
    process_input();
    return;
  }
  post_recv();
}

void HttpConnection::park_pipelined() {
  // The request's message is read whole; what follows it in the slot is the next request's. It
  // moves to the carry (or, when there is more than that holds, is dropped and the connection
  // closes after this response: the client sends it again) so the slot is not held while the
  // request is handled and answered, however long the client takes to read the answer.
  if (read_slot_ < 0) return;
  uint32_t avail = data_end_ - parse_pos_;
  if (avail > kCarryBytes) {
    close_after_response_ = true;
  } else if (avail > 0) {
    std::memcpy(memory_.carry, reactor_->pool().data(read_slot_) + parse_pos_, avail);
    carry_len_ = avail;
  }
  release_read_slot();
}

void HttpConnection::post_recv() {
  wait_on_client();
  BufferPool& pool = reactor_->pool();
  recv_pending_ = true;  // (before taking the SQE: see BodyIngest::post_recv)
  reactor_->ring().recv(&recv_, fd_, pool.data(read_slot_) + data_end_,
                        pool.slot_bytes() - data_end_);
}

void HttpConnection::on_slot_available() {
  if ((state_ == State::kReadHead || state_ == State::kReadBody ||
       state_ == State::kReadSmallBody) &&
      !recv_pending_ &&
      read_slot_ < 0) {
    acquire_slot_and_recv();
  }
}

void HttpConnection::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  if (completion == &poll_) poll_pending_ = false;
  if (completion == &recv_) recv_pending_ = false;
  if (completion == &send_) send_pending_ = false;
  if (completion == &continue_) continue_pending_ = false;
  if (completion == &interim_) interim_pending_ = false;
  if (completion == &pre_create_) pre_create_pending_ = false;
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  if (completion == &poll_ || completion == &recv_) {
    on_read_completion(completion == &recv_, res);
  } else if (completion == &send_ || completion == &continue_ || completion == &interim_) {
    on_send_completion(completion, res);
  } else if (completion == &pre_create_) {
    on_pre_create_answer();
  }
}

void HttpConnection::on_read_completion(bool received, int res) {
  if (state_ == State::kLinger) {
    if (res > 0) {
      linger_recv();  // (the kLinger timer ends it however the client trickles)
    } else {
      close();  // the client closed too, or the socket failed
    }
    return;
  }
  if (state_ != State::kReadHead && state_ != State::kReadBody &&
      state_ != State::kReadSmallBody) {
    return;  // ended meanwhile
  }
  bool body = state_ == State::kReadBody;
  if (!body && timed_out_) {
    respond_timeout();
  } else if (res < 0 || (received && res == 0)) {
    peer_gone();  // closed, failed, or cancelled (takeover, shutdown, timeout)
  } else if (!received) {
    slow_reader_ = false;  // bytes are waiting: receive them
    acquire_slot_and_recv();
  } else {
    if (!body && timer_ == Timer::kIdle) {
      set_timer(Timer::kHead, context_->config->head_timeout_ms);  // a request begins
    }
    if (body) window_bytes_ += static_cast<uint32_t>(res);
    slow_reader_ = static_cast<uint32_t>(res) < kMinReceiveBytes;
    data_end_ += static_cast<uint32_t>(res);
    process_input();
  }
}

void HttpConnection::process_input() {
  if (state_ == State::kReadHead) {
    process_head();
  } else if (state_ == State::kReadBody) {
    process_chunked_body();
  } else if (state_ == State::kReadSmallBody) {
    process_small_body();
  }
}

void HttpConnection::process_head() {
  uint32_t avail = data_end_ - parse_pos_;
  if (read_slot_ < 0 || avail == 0) {
    arm_read();
    return;
  }
  const char* data = reactor_->pool().data(read_slot_) + parse_pos_;
  HttpParser::Step step = parser_.feed(data, avail, nullptr);
  parse_pos_ += static_cast<uint32_t>(step.consumed);
  switch (step.event) {
    case HttpParser::Event::kNeedMore:
      arm_read();
      return;
    case HttpParser::Event::kHeadComplete:
      reactor_->stats().requests.fetch_add(1, std::memory_order_relaxed);
      set_timer(Timer::kNone, 0);  // from here on the connection waits on the server
      handle_request();
      return;
    case HttpParser::Event::kError:
    case HttpParser::Event::kMessageComplete:
      keep_alive_ = false;
      respond_error(status_for(parser_.error()), parser_.error_reason(), true);
      return;
  }
}

void HttpConnection::peer_gone() {
  peer_gone_ = true;
  if (state_ == State::kReadBody) {
    // A receive cancelled to answer a failed write at once is not a vanished client.
    end_body(session_.writer().failed() ? BodyEnd::kStorageError
             : timed_out_              ? BodyEnd::kTimedOut
             : cut_off_                ? BodyEnd::kCutOff
                                       : BodyEnd::kPeerGone);
  } else {
    close();
  }
}

}  // namespace ringest::http
