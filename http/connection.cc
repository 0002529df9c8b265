// Socket plumbing of HttpConnection: reading, parsing, body hand-off, responses, closing.
// The request handlers live in tus_routes.cc.
#include "http/connection.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/log.h"

namespace ringest::http {
namespace {
constexpr uint32_t kMinRecvBytes = 16 * 1024;  // smaller tails are not worth a receive
constexpr uint32_t kMaxTargetBytes = 2048;
// Lingering close (as nginx does): after an early answer, keep reading and discarding for a
// while so the client is not reset before it reads the answer.
constexpr uint64_t kLingerTotalMs = 5000;
constexpr int64_t kLingerStepMs = 1000;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
const char kEmpty[1] = {0};
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
  writer_.init(&reactor->ring(), &reactor->pool(), this, config.checkpoint_bytes,
               static_cast<int>(config.buffers_per_connection), &reactor->stats().body_bytes_written,
               &reactor->stats().commits);
}

void HttpConnection::start(int fd) {
  fd_ = fd;
  ++generation_;
  state_ = State::kReadHead;
  parser_.reset();
  read_slot_ = -1;
  parse_pos_ = data_end_ = 0;
  span_len_ = 0;
  shutting_down_ = false;
  keep_alive_ = true;
  close_after_response_ = false;
  slow_reader_ = false;
  timed_out_ = false;
  op_ = Op::kNone;
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
      if (state_ != State::kReadHead) return;
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
      bool waiting_on_client = poll_pending_ || recv_pending_;
      if (window_bytes_ >= needed || !waiting_on_client) {
        start_body_window();
        return;
      }
      timed_out_ = true;
      reactor_->stats().timeouts.fetch_add(1, std::memory_order_relaxed);
      reactor_->ring().cancel_fd(fd_);  // the receive ends; what arrived is committed, then 408
      return;
    }
    case Timer::kSend:
      // The client stopped reading its response.
      reactor_->stats().timeouts.fetch_add(1, std::memory_order_relaxed);
      close();
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

UploadOwner HttpConnection::self_owner() { return {reactor_, &mailbox_, generation_}; }

bool HttpConnection::ops_pending() const {
  return poll_pending_ || recv_pending_ || send_pending_ || file_read_pending_ ||
         continue_pending_ || linger_timeouts_pending_ > 0 || writer_.busy();
}

void HttpConnection::release_read_slot() {
  if (read_slot_ >= 0) reactor_->pool().unref(read_slot_);
  read_slot_ = -1;
  parse_pos_ = data_end_ = 0;
}

void HttpConnection::arm_read() {
  if (state_ == State::kClosing || recv_pending_ || poll_pending_ || waiting) return;
  if (state_ == State::kReadBody && direct_) {
    direct_arm_read();
    return;
  }
  BufferPool& pool = reactor_->pool();
  bool body = state_ == State::kReadBody;
  if (body && !slow_reader_ && read_slot_ >= 0 && parse_pos_ == data_end_ &&
      pool.slot_bytes() - data_end_ >= kMinRecvBytes) {
    post_recv();  // a body streams in: receive into the rest of this slot
    return;
  }
  release_read_slot();
  if (!body || slow_reader_) {
    // Idle between requests, a head still coming (its bytes are already copied into the
    // arena), or a slow body: wait for readability without holding a buffer, so slow or
    // silent clients cannot take the pool from the others.
    wait_on_client();
    reactor_->ring().poll_in(&poll_, fd_);
    poll_pending_ = true;
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
  post_recv();
}

void HttpConnection::post_recv() {
  wait_on_client();
  BufferPool& pool = reactor_->pool();
  reactor_->ring().recv(&recv_, fd_, pool.data(read_slot_) + data_end_,
                             pool.slot_bytes() - data_end_);
  recv_pending_ = true;
}

void HttpConnection::on_slot_available() {
  if (state_ == State::kReadBody && abort_requested_) {
    end_body(BodyEnd::kAborted);
  } else if (state_ == State::kStreamFile) {
    stream_next_chunk();
  } else if (state_ == State::kReadBody && direct_) {
    process_body();
  } else if ((state_ == State::kReadHead || state_ == State::kReadBody) && !recv_pending_ &&
             read_slot_ < 0) {
    acquire_slot_and_recv();
  }
}

void HttpConnection::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  if (completion == &mailbox_) {
    on_mailbox(static_cast<uint32_t>(res));
    return;
  }
  if (completion == &poll_) poll_pending_ = false;
  if (completion == &recv_) recv_pending_ = false;
  if (completion == &send_) send_pending_ = false;
  if (completion == &file_read_) file_read_pending_ = false;
  if (completion == &continue_) continue_pending_ = false;
  if (completion == &linger_timeout_) {
    --linger_timeouts_pending_;
    if (state_ == State::kClosing) maybe_free();
    return;
  }
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  if (completion == &poll_) {
    if (state_ == State::kReadHead && timed_out_) {
      respond_timeout();
    } else if (state_ != State::kReadHead && state_ != State::kReadBody) {
      return;  // the request ended (abort, shutdown) while waiting
    } else if (res < 0) {
      peer_gone();  // cancelled (takeover, shutdown, timeout) or failed
    } else if (state_ == State::kReadBody && (timed_out_ || abort_requested_)) {
      end_body(abort_requested_ ? BodyEnd::kAborted : BodyEnd::kTimedOut);
    } else {
      slow_reader_ = false;  // bytes are waiting: receive them
      if (state_ == State::kReadBody && direct_) {
        direct_arm_read();
      } else if (state_ == State::kReadBody && splice_) {
        process_body();
      } else {
        acquire_slot_and_recv();
      }
    }
  } else if (completion == &recv_ && state_ == State::kLinger) {
    if (res > 0 && monotonic_ms_now() < linger_deadline_ms_) {
      linger_recv();
    } else {
      close();
    }
  } else if (completion == &recv_) {
    if (res > 0 && state_ == State::kReadHead && timed_out_) {
      respond_timeout();
    } else if (res > 0) {
      if (state_ == State::kReadHead && timer_ == Timer::kIdle) {
        set_timer(Timer::kHead, context_->config->head_timeout_ms);  // a request begins
      }
      if (state_ == State::kReadBody) window_bytes_ += static_cast<uint32_t>(res);
      slow_reader_ = static_cast<uint32_t>(res) < kMinRecvBytes;
      data_end_ += static_cast<uint32_t>(res);
      process_input();
    } else {
      peer_gone();
    }
  } else if (completion == &send_) {
    if (res < 0) {
      close();
      return;
    }
    send_pos_ += static_cast<uint32_t>(res);
    set_timer(Timer::kSend, context_->config->idle_timeout_ms);  // progress
    if (send_pos_ < send_len_) {
      continue_send();
    } else {
      after_response();
    }
  } else if (completion == &continue_) {
    if (response_waiting_for_continue_) {
      response_waiting_for_continue_ = false;
      continue_send();
    }
  } else if (completion == &file_read_) {
    if (res <= 0) {
      RINGEST_LOG_ERROR("GET %s: read failed: %s", upload_->id.c_str(),
                        res < 0 ? std::strerror(-res) : "unexpected end of file");
      close();
      return;
    }
    send_ptr_ = reactor_->pool().data(file_slot_);
    send_len_ = static_cast<uint32_t>(res);
    send_pos_ = 0;
    file_pos_ += static_cast<uint64_t>(res);
    continue_send();
  }
}

void HttpConnection::process_input() {
  if (state_ == State::kReadHead) {
    process_head();
  } else if (state_ == State::kReadBody) {
    if (writer_.failed() && recv_pending_) {
      reactor_->ring().cancel_fd(fd_);  // stop waiting for the client: answer the failure now
    } else {
      process_body();
    }
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

void HttpConnection::process_body() {
  if (state_ != State::kReadBody || recv_pending_ || waiting) return;
  if (abort_requested_) {
    end_body(BodyEnd::kAborted);
    return;
  }
  if (writer_.failed()) {
    end_body(BodyEnd::kStorageError);  // the writer's status says which (507, 500)
    return;
  }
  if (splice_ && (writer_.splice_in_flight() || poll_pending_)) return;  // it calls back
  if (!writer_.can_write()) {
    hold_body();  // the disk, not the client, holds the body back
    return;                    // on_writer_progress() calls back
  }
  if (direct_ && !direct_ensure_accumulator()) return;  // waits for a slot
  uint32_t avail = read_slot_ >= 0 ? data_end_ - parse_pos_ : 0;
  const char* data = read_slot_ >= 0 ? reactor_->pool().data(read_slot_) + parse_pos_ : kEmpty;
  if (direct_) {
    if (read_slot_ != acc_slot_) {
      // Bytes received elsewhere (with the head) are copied into the accumulator: never more
      // than it can take in one go.
      uint32_t room = reactor_->pool().slot_bytes() - acc_end_;
      if (room < kMinRecvBytes && avail > 0) {
        if (!direct_roll()) return;
        room = reactor_->pool().slot_bytes() - acc_end_;
      }
      if (avail > room) avail = room;
    }
  }
  HttpParser::Step step = parser_.feed(data, avail, this);
  parse_pos_ += static_cast<uint32_t>(step.consumed);
  if (direct_) {
    direct_flush();
  } else {
    flush_body_span();
  }
  if (splice_ && read_slot_ >= 0 && parse_pos_ == data_end_) {
    release_read_slot();  // its writes hold their own references; the rest is spliced
  }
  if (step.event == HttpParser::Event::kNeedMore && read_slot_ >= 0 && parse_pos_ < data_end_) {
    process_body();  // the accumulator limited this feed: more of this receive is waiting
    return;
  }
  switch (step.event) {
    case HttpParser::Event::kNeedMore:
      if (timed_out_) {
        end_body(BodyEnd::kTimedOut);  // too slow: commit what arrived and answer 408
      } else if (splice_ && read_slot_ < 0) {
        splice_next();
      } else if (writer_.can_write()) {
        arm_read();
      }
      return;
    case HttpParser::Event::kMessageComplete:
      end_body(BodyEnd::kComplete);
      return;
    case HttpParser::Event::kError:
    case HttpParser::Event::kHeadComplete:
      end_body(parser_.error() == ParseError::kBodyRefused ? BodyEnd::kOverrun
                                                            : BodyEnd::kMalformed);
      return;
  }
}

uint64_t HttpConnection::body_file_end() const {
  return direct_ ? acc_file_base_ + acc_end_ : writer_.next_offset() + span_len_;
}

bool HttpConnection::on_body(const char* data, size_t len) {
  uint64_t used = body_file_end();
  if (len > upload_->length - used) return false;  // would pass Upload-Length
  reactor_->stats().body_bytes_received.fetch_add(len, std::memory_order_relaxed);
  if (direct_) {
    char* dst = reactor_->pool().data(acc_slot_) + acc_end_;
    RINGEST_CHECK(acc_end_ + len <= reactor_->pool().slot_bytes());
    if (dst != data) std::memmove(dst, data, len);  // in the same slot dst < data; else a copy
    acc_end_ += static_cast<uint32_t>(len);
    return true;
  }
  char* at = const_cast<char*>(data);  // points into our own slot
  if (span_len_ == 0) {
    span_ptr_ = at;
  } else if (span_ptr_ + span_len_ != at) {
    // Chunked framing sits between spans: close the gap in place (the bytes before `at` are
    // already parsed) so one receive still becomes one write.
    std::memmove(span_ptr_ + span_len_, at, len);
  }
  span_len_ += static_cast<uint32_t>(len);
  return true;
}

bool HttpConnection::ensure_pipe() {
  if (pipe_read_ >= 0) return true;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    RINGEST_LOG_WARN("splice: no pipe (%s); this body is received into buffers",
                     std::strerror(errno));
    return false;
  }
  // The pipe is the connection's window, as large as the buffers it may hold in other modes
  // (at most the kernel's pipe-max-size, 1 MiB by default).
  const Config& config = *context_->config;
  uint64_t want = uint64_t{config.buffer_bytes} * config.buffers_per_connection;
  if (want > (1u << 20)) want = 1u << 20;
  int size = fcntl(fds[1], F_SETPIPE_SZ, static_cast<int>(want));
  if (size < 0) size = fcntl(fds[1], F_GETPIPE_SZ);
  pipe_read_ = fds[0];
  pipe_write_ = fds[1];
  pipe_bytes_ = size > 0 ? static_cast<uint32_t>(size) : 65536;
  return true;
}

void HttpConnection::close_pipe() {
  if (pipe_read_ < 0) return;
  ::close(pipe_read_);
  ::close(pipe_write_);
  pipe_read_ = pipe_write_ = -1;
}

void HttpConnection::splice_next() {
  // Called when the parser needs more body and nothing of it is buffered here.
  uint64_t left = parser_.body_remaining();
  if (left == 0 || writer_.splice_in_flight()) return;
  if (slow_reader_) {
    wait_on_client();
    reactor_->ring().poll_in(&poll_, fd_);  // wait for bytes holding nothing
    poll_pending_ = true;
    return;
  }
  if (!writer_.can_write()) {
    hold_body();
    return;
  }
  uint32_t len = left < pipe_bytes_ ? static_cast<uint32_t>(left) : pipe_bytes_;
  wait_on_client();
  writer_.splice_from(fd_, pipe_read_, pipe_write_, len);
}

void HttpConnection::on_splice_received(int res) {
  if (state_ != State::kReadBody) return;  // ended meanwhile: the writer settles the file side
  if (res > 0) {
    parser_.skip_body(static_cast<uint64_t>(res));
    reactor_->stats().body_bytes_received.fetch_add(static_cast<uint64_t>(res),
                                                    std::memory_order_relaxed);
    reactor_->stats().body_bytes_spliced.fetch_add(static_cast<uint64_t>(res),
                                                   std::memory_order_relaxed);
    window_bytes_ += static_cast<uint64_t>(res);
    slow_reader_ = static_cast<uint32_t>(res) < kMinRecvBytes;
    return;  // the file side's completion (on_writer_progress) continues the body
  }
  if (res == -EAGAIN) {
    slow_reader_ = true;  // nothing to read yet: poll once the (empty) file side is back
    return;
  }
  peer_gone();  // 0: the client closed; or the socket failed
}

void HttpConnection::flush_body_span() {
  if (span_len_ == 0) return;
  writer_.write(read_slot_, span_ptr_, span_len_);
  span_len_ = 0;
}

void HttpConnection::end_body(BodyEnd how) {
  body_end_ = how;
  state_ = State::kFinishing;
  set_timer(Timer::kNone, 0);
  if (waiting) reactor_->pool().remove_waiter(this);
  if (direct_ && acc_slot_ < 0 && stash_len_ > 0) {
    // Ended while the partial block waited in the stash (a slow client, or no free slot):
    // it is written from a slot like any tail. Only when the pool is empty right now are the
    // bytes past the committed offset left uncommitted; the client sends them again after
    // asking for the offset.
    BufferPool& pool = reactor_->pool();
    int slot = writer_.failed() || acc_file_base_ + stash_len_ <= request_offset_
                   ? -1
                   : pool.acquire();
    if (slot >= 0) {
      std::memcpy(pool.data(slot), memory_.stash, stash_len_);
      acc_slot_ = slot;
      acc_end_ = stash_len_;
      acc_written_ = 0;
    }
    stash_len_ = 0;
  }
  if (direct_ && acc_slot_ >= 0) {
    if (acc_end_ > acc_written_ && body_file_end() > request_offset_ && !writer_.failed()) {
      // The partial last block: written padded, committed at its exact length.
      writer_.set_tail(acc_slot_, reactor_->pool().data(acc_slot_) + acc_written_,
                       acc_end_ - acc_written_);
    }
    reactor_->pool().unref(acc_slot_);
    acc_slot_ = -1;
  }
  writer_.finish();  // may call on_writer_finished() right away
}

bool HttpConnection::direct_begin() {
  // The accumulator starts at the block that holds the request's first byte; that block's
  // committed head is read back from the file so the first write can be a whole block. It
  // lives in the slot that already holds the start of the body when that fits (the consumed
  // request head before the body makes room); otherwise the head bytes wait in the
  // connection's 4 KiB stash until a slot is free. A connection never holds one slot while
  // waiting for another, so a small pool cannot deadlock.
  BufferPool& pool = reactor_->pool();
  uint32_t head = static_cast<uint32_t>(request_offset_ % kDirectBlock);
  uint64_t block_start = request_offset_ - head;
  char* dst = nullptr;
  uint32_t base = 0;
  if (read_slot_ >= 0 && parse_pos_ == data_end_) {
    parse_pos_ = data_end_ = head;  // nothing unparsed: the whole slot is ours
    dst = pool.data(read_slot_);
  } else if (read_slot_ >= 0 && parse_pos_ >= head) {
    base = (parse_pos_ - head) & ~(kDirectBlock - 1);
    dst = pool.data(read_slot_) + base;
  } else if (read_slot_ >= 0 && data_end_ + (head - parse_pos_) <= pool.slot_bytes()) {
    uint32_t shift = head - parse_pos_;  // too little in front: move the unparsed bytes right
    char* d = pool.data(read_slot_);
    std::memmove(d + parse_pos_ + shift, d + parse_pos_, data_end_ - parse_pos_);
    parse_pos_ += shift;
    data_end_ += shift;
    dst = d;
  } else if (read_slot_ >= 0) {
    return false;  // a nearly full slot with a tiny head in front: this request stays buffered
  } else {
    dst = memory_.stash;
  }
  if (head > 0) {
    ssize_t n = pread(upload_->data_fd, dst, head, static_cast<off_t>(block_start));
    if (n != static_cast<ssize_t>(head)) {
      RINGEST_LOG_ERROR("upload %s: cannot read back the partial block at %llu",
                        upload_->id.c_str(), static_cast<unsigned long long>(block_start));
      return false;  // buffered writes need no read-back
    }
  }
  if (dst == memory_.stash) {
    acc_slot_ = -1;
    stash_len_ = head;
    acc_file_base_ = block_start;
  } else {
    pool.ref(read_slot_);
    acc_slot_ = read_slot_;
    acc_file_base_ = block_start - base;
    acc_written_ = base;
    acc_end_ = base + head;
  }
  return true;
}

bool HttpConnection::direct_ensure_accumulator() {
  if (acc_slot_ >= 0) return true;
  BufferPool& pool = reactor_->pool();
  int slot = pool.acquire();
  if (slot < 0) {
    pool.add_waiter(this);  // holding only the stash
    hold_body();
    return false;
  }
  acc_slot_ = slot;
  std::memcpy(pool.data(slot), memory_.stash, stash_len_);
  acc_end_ = stash_len_;
  acc_written_ = 0;
  stash_len_ = 0;
  return true;
}

void HttpConnection::direct_park() {
  // Park the partial block (under 4 KiB once whole blocks are flushed) in the stash and let
  // the slot go; its writes keep their own references.
  RINGEST_CHECK(acc_end_ - acc_written_ < kDirectBlock && acc_written_ % kDirectBlock == 0);
  BufferPool& pool = reactor_->pool();
  stash_len_ = acc_end_ - acc_written_;
  std::memcpy(memory_.stash, pool.data(acc_slot_) + acc_written_, stash_len_);
  acc_file_base_ += acc_written_;
  if (read_slot_ == acc_slot_ && parse_pos_ == data_end_) release_read_slot();
  pool.unref(acc_slot_);
  acc_slot_ = -1;
}

bool HttpConnection::direct_roll() {
  // The accumulator slot is full: continue in a new one.
  direct_park();
  return direct_ensure_accumulator();
}

void HttpConnection::direct_flush() {
  uint32_t whole = acc_end_ & ~(kDirectBlock - 1);
  if (whole <= acc_written_) return;
  writer_.write(acc_slot_, reactor_->pool().data(acc_slot_) + acc_written_, whole - acc_written_);
  acc_written_ = whole;
}

void HttpConnection::direct_arm_read() {
  // Receive straight into the accumulator, right after the last body byte, so a
  // Content-Length body lands where its blocks will be written from.
  BufferPool& pool = reactor_->pool();
  if (slow_reader_) {
    // A slow client: wait for readability holding only the stash.
    if (acc_slot_ >= 0) direct_park();
    if (read_slot_ >= 0 && parse_pos_ == data_end_) release_read_slot();
    wait_on_client();
    reactor_->ring().poll_in(&poll_, fd_);
    poll_pending_ = true;
    return;
  }
  if (!direct_ensure_accumulator()) return;
  if (pool.slot_bytes() - acc_end_ < kMinRecvBytes && !direct_roll()) return;
  if (read_slot_ != acc_slot_) {
    release_read_slot();
    pool.ref(acc_slot_);
    read_slot_ = acc_slot_;
  }
  parse_pos_ = data_end_ = acc_end_;
  post_recv();
}

void HttpConnection::peer_gone() {
  peer_gone_ = true;
  if (state_ == State::kReadBody) {
    end_body(abort_requested_    ? BodyEnd::kAborted
             : writer_.failed() ? BodyEnd::kStorageError
             : timed_out_       ? BodyEnd::kTimedOut
                                : BodyEnd::kPeerGone);
  } else {
    close();
  }
}

void HttpConnection::on_writer_progress() {
  if (state_ == State::kClosing) {
    maybe_free();
  } else if (state_ == State::kReadBody) {
    if (writer_.failed() && recv_pending_) {
      reactor_->ring().cancel_fd(fd_);  // stop waiting for the client: answer the failure now
    } else {
      process_body();
    }
  }
}

void HttpConnection::on_writer_finished(Status status) {
  if (writer_.pipe_dirty()) {
    close_pipe();  // bytes of a failed write may still be in it
    writer_.clear_pipe_dirty();
  }
  writer_.end();
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  finish_request_response(status);
}

void HttpConnection::send_continue_if_expected() {
  const RequestHead& head = parser_.head();
  if (head.version_minor < 1 || !equals_ignore_case(head.get("Expect"), "100-continue")) return;
  reactor_->ring().send(&continue_, fd_, kContinue, sizeof kContinue - 1);
  continue_pending_ = true;
}

void HttpConnection::send_response(bool close_after) {
  close_after_response_ = close_after_response_ || close_after;
  set_timer(Timer::kSend, context_->config->idle_timeout_ms);
  send_ptr_ = memory_.response;
  send_pos_ = 0;
  if (state_ != State::kStreamFile) state_ = State::kSending;
  if (continue_pending_) {
    response_waiting_for_continue_ = true;  // keep 100 Continue and the final answer in order
    return;
  }
  continue_send();
}

void HttpConnection::continue_send() {
  reactor_->ring().send(&send_, fd_, send_ptr_ + send_pos_, send_len_ - send_pos_);
  send_pending_ = true;
}

void HttpConnection::after_response() {
  if (state_ == State::kStreamFile) {
    stream_next_chunk();
    return;
  }
  if (close_after_response_ && !shutting_down_ && !timed_out_) {
    start_linger();  // (a client that timed out is not worth five more seconds)
    return;
  }
  if (close_after_response_ || !keep_alive_ || shutting_down_) {
    close();
    return;
  }
  next_request();
}

void HttpConnection::start_linger() {
  set_timer(Timer::kNone, 0);  // bounded by its own deadline
  ::shutdown(fd_, SHUT_WR);
  state_ = State::kLinger;
  linger_deadline_ms_ = monotonic_ms_now() + kLingerTotalMs;
  linger_recv();
}

void HttpConnection::linger_recv() {
  if (read_slot_ < 0) {
    read_slot_ = reactor_->pool().acquire();
    if (read_slot_ < 0) {
      close();  // no buffer to spare for discarding: just close
      return;
    }
  }
  BufferPool& pool = reactor_->pool();
  reactor_->ring().reserve(2);
  reactor_->ring().recv(&recv_, fd_, pool.data(read_slot_), pool.slot_bytes())->flags |=
      IOSQE_IO_LINK;
  recv_pending_ = true;
  linger_step_.tv_sec = kLingerStepMs / 1000;
  linger_step_.tv_nsec = 0;
  reactor_->ring().link_timeout(&linger_timeout_, &linger_step_);
  ++linger_timeouts_pending_;
}

void HttpConnection::next_request() {
  drop_upload();
  ++generation_;  // messages meant for the previous request must not touch the next one
  op_ = Op::kNone;
  state_ = State::kReadHead;
  if (read_slot_ >= 0 && parse_pos_ < data_end_) {
    set_timer(Timer::kHead, context_->config->head_timeout_ms);
    process_input();  // a pipelined request is already here
  } else {
    set_timer(Timer::kIdle, context_->config->idle_timeout_ms);
    arm_read();
  }
}

void HttpConnection::close() {
  if (state_ == State::kClosing || state_ == State::kFree) return;
  state_ = State::kClosing;
  set_timer(Timer::kNone, 0);
  if (waiting) reactor_->pool().remove_waiter(this);
  if (poll_pending_ || recv_pending_ || send_pending_ || file_read_pending_ || continue_pending_) {
    reactor_->ring().cancel_fd(fd_);
  }
  maybe_free();
}

void HttpConnection::maybe_free() {
  if (state_ != State::kClosing || ops_pending()) return;
  if (writer_.active()) writer_.end();
  release_read_slot();
  if (file_slot_ >= 0) {
    reactor_->pool().unref(file_slot_);
    file_slot_ = -1;
  }
  drop_upload();
  close_pipe();
  ::close(fd_);
  fd_ = -1;
  state_ = State::kFree;
  pool_->release(this);
}

void HttpConnection::release_upload_ownership() {
  if (!owns_upload_) return;
  owns_upload_ = false;
  ReleaseOutcome out = release_upload(*upload_, self_owner());
  if (out.send_handoff) {
    reactor_->post_message(out.handoff_to,
                           encode_message(UploadMessage::kHandoff, out.handoff_to.generation));
  }
}

void HttpConnection::drop_upload() {
  if (upload_ == nullptr) return;
  if (owns_upload_ || state_ == State::kWaitUpload || state_ == State::kClosing) {
    owns_upload_ = false;
    ReleaseOutcome out = abandon_upload(*upload_, self_owner());
    if (out.send_handoff) {
      reactor_->post_message(out.handoff_to,
                             encode_message(UploadMessage::kHandoff, out.handoff_to.generation));
    }
  }
  upload_unref(upload_);
  upload_ = nullptr;
  abort_requested_ = false;
  peer_gone_ = false;
  body_end_ = BodyEnd::kComplete;
}

void HttpConnection::on_mailbox(uint32_t payload) {
  if (state_ == State::kFree || !generation_matches(payload, generation_)) return;
  switch (message_kind(payload)) {
    case UploadMessage::kAbort:
      if (state_ != State::kReadBody || !owns_upload_) return;  // already finishing
      abort_requested_ = true;
      if (recv_pending_ || poll_pending_) {
        reactor_->ring().cancel_fd(fd_);  // the receive completes with -ECANCELED
      } else {
        end_body(BodyEnd::kAborted);
      }
      return;
    case UploadMessage::kHandoff:
      if (state_ != State::kWaitUpload) return;
      owns_upload_ = true;
      on_upload_owned();
      return;
    case UploadMessage::kSuperseded:
      if (state_ != State::kWaitUpload) return;
      respond_error(409, "a newer request for this upload replaced this one");
      return;
  }
}

void HttpConnection::shutdown() {
  shutting_down_ = true;
  switch (state_) {
    case State::kReadHead:
    case State::kWaitUpload:
    case State::kLinger:
      close();
      return;
    case State::kReadBody:
      abort_requested_ = true;
      if (recv_pending_ || poll_pending_) {
        reactor_->ring().cancel_fd(fd_);
      } else {
        end_body(BodyEnd::kAborted);
      }
      return;
    default:
      return;  // finishes its current step, then closes (shutting_down_)
  }
}

ConnectionPool::ConnectionPool(Reactor* reactor, ServerContext* context)
    : reactor_(reactor) {
  const Config& config = *context->config;
  count_ = config.max_connections;
  uint32_t response_bytes = config.max_head_bytes + 4096;
  size_t per_connection = config.max_head_bytes + config.max_headers * sizeof(Header) +
                          response_bytes + kDirectBlock;
  per_connection = (per_connection + 63) & ~size_t{63};
  memory_bytes_ = per_connection * count_;
  // Untouched pages of this mapping cost no memory: only connections in use are resident.
  void* p = mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  RINGEST_CHECK(p != MAP_FAILED);
  memory_ = static_cast<char*>(p);
  connections_ = new HttpConnection[count_];
  for (uint32_t i = 0; i < count_; ++i) {
    char* base = memory_ + per_connection * i;
    HttpConnection::Memory m;
    m.head_arena = base;
    m.headers = reinterpret_cast<Header*>(base + config.max_head_bytes);
    m.response = base + config.max_head_bytes + config.max_headers * sizeof(Header);
    m.response_bytes = response_bytes;
    m.stash = m.response + response_bytes;
    connections_[i].init(this, reactor, context, m);
  }
  // Timers tick at a quarter of the shortest timeout, between 10 ms and 1 s.
  uint64_t shortest = 1000 * 4;
  for (uint32_t t : {config.head_timeout_ms, config.idle_timeout_ms,
                     config.min_body_rate > 0 ? config.body_rate_window_ms : 0u}) {
    if (t > 0 && t < shortest) shortest = t;
  }
  uint64_t tick_ms = std::max<uint64_t>(shortest / 4, 10);
  tick_interval_.tv_sec = static_cast<int64_t>(tick_ms / 1000);
  tick_interval_.tv_nsec = static_cast<int64_t>(tick_ms % 1000) * 1000000;
  for (uint32_t i = count_; i-- > 0;) {
    connections_[i].next_free = free_;
    free_ = &connections_[i];
  }
}

void ConnectionPool::arm_timer(HttpConnection* c, HttpConnection::Timer which,
                               uint64_t deadline_ms) {
  disarm_timer(c);
  TimerList& list = timers_[static_cast<int>(which)];
  c->timer_ = which;
  c->deadline_ms_ = deadline_ms;
  c->timer_next_ = nullptr;
  c->timer_prev_ = list.tail;
  if (list.tail != nullptr) {
    list.tail->timer_next_ = c;
  } else {
    list.head = c;
  }
  list.tail = c;
  if (!tick_armed_) arm_tick();
}

void ConnectionPool::disarm_timer(HttpConnection* c) {
  if (c->timer_ == HttpConnection::Timer::kNone) return;
  TimerList& list = timers_[static_cast<int>(c->timer_)];
  (c->timer_prev_ ? c->timer_prev_->timer_next_ : list.head) = c->timer_next_;
  (c->timer_next_ ? c->timer_next_->timer_prev_ : list.tail) = c->timer_prev_;
  c->timer_prev_ = c->timer_next_ = nullptr;
  c->timer_ = HttpConnection::Timer::kNone;
}

void ConnectionPool::arm_tick() {
  reactor_->ring().timeout(&tick_, &tick_interval_);
  tick_armed_ = true;
}

void ConnectionPool::on_completion(Completion* /*completion*/, int /*res*/, uint32_t /*flags*/) {
  tick_armed_ = false;
  uint64_t now = monotonic_ms_now();
  bool any = false;
  for (int kind = 1; kind < 5; ++kind) {
    TimerList& list = timers_[kind];
    while (list.head != nullptr && list.head->deadline_ms_ <= now) {
      HttpConnection* c = list.head;
      disarm_timer(c);
      c->on_timer(static_cast<HttpConnection::Timer>(kind));
    }
    any = any || list.head != nullptr;
  }
  if (any) arm_tick();
}

ConnectionPool::~ConnectionPool() {
  delete[] connections_;
  munmap(memory_, memory_bytes_);
}

void ConnectionPool::on_accept(int fd) {
  if (free_ == nullptr || reactor_->stopping()) {
    static constexpr char kBusy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 21\r\nConnection: close\r\n"
        "Retry-After: 1\r\n\r\ntoo many connections\n";
    ssize_t ignored = ::send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)ignored;
    ::close(fd);
    reactor_->stats().connections_refused.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  HttpConnection* c = free_;
  free_ = c->next_free;
  ++live_;
  c->start(fd);
}

void ConnectionPool::begin_shutdown() {
  for (uint32_t i = 0; i < count_; ++i) {
    if (connections_[i].in_use()) connections_[i].shutdown();
  }
}

void ConnectionPool::release(HttpConnection* connection) {
  connection->next_free = free_;
  free_ = connection;
  --live_;
}

}  // namespace ringest::http
