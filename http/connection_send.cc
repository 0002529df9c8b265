// HttpConnection: responses (final, interim, with an upload's bytes as the body), the lingering
// close after an early answer, the next request, shutdown and closing.
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "http/connection.h"
#include "http/connection_pool.h"

namespace ringest::http {
namespace {
// Lingering close (as nginx does): after an early answer, keep reading and discarding for a
// while so the client is not reset before it reads the answer.
constexpr uint32_t kLingerTotalMs = 5000;
constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
const char kEmpty[1] = {0};
}  // namespace

bool HttpConnection::ready_for_early_response() {
  if (parser_.in_head()) return parser_.error() == ParseError::kNone;
  if (parser_.head().has_body()) return false;
  const char* data = read_slot_ >= 0 ? reactor_->pool().data(read_slot_) + parse_pos_ : kEmpty;
  HttpParser::Step step = parser_.feed(data, 0, nullptr);
  // Anything but a clean end (e.g. a transfer coding llhttp cannot frame) means the rest of
  // the stream cannot be trusted: answer, then close.
  return step.event == HttpParser::Event::kMessageComplete;
}

ResponseBuilder HttpConnection::begin_response(int status) {
  if (status < 200) {
    ResponseBuilder rb(memory_.interim, memory_.interim_bytes);
    rb.status(status);
    return rb;
  }
  // A body still on the wire (an answer before it was read) means the connection must close.
  if (!ready_for_early_response()) close_after_response_ = true;
  ResponseBuilder rb(memory_.response, memory_.response_bytes);
  rb.status(status);
  if (context_->access != nullptr && access_.generation == generation_) {
    context_->access->add_response_headers(rb, access_);  // CORS, on errors too
  }
  if (close_after_response_ || !keep_alive_ || shutting_down_) rb.header("Connection", "close");
  if (handler_ != nullptr) handler_->add_request_fields(*this, rb);
  return rb;
}

void HttpConnection::send(ResponseBuilder& rb) {
  if (!rb.ok()) {
    RINGEST_LOG_ERROR("response did not fit its buffer; answering 500");
    rb.status(500);
    rb.header("Connection", "close");
    rb.finish("response too large\n");
    close_after_response_ = true;
  }
  send_len_ = static_cast<uint32_t>(rb.size());
  send_response(close_after_response_);
}

void HttpConnection::send_with_upload_bytes(ResponseBuilder& rb, uint64_t from, uint64_t to) {
  if (head_request_ || from >= to || !rb.ok()) {
    send(rb);
    return;
  }
  // The file is opened (and its first bytes read) before the head goes out, so a file that
  // cannot be read gets an error answer rather than a 200 cut short.
  send_len_ = static_cast<uint32_t>(rb.size());
  state_ = State::kStreaming;
  head_sent_ = false;
  reader_.start(*upload_, from, to, fd_, this);
}

void HttpConnection::send_with_static_bytes(ResponseBuilder& rb, std::span<const char> body) {
  // A body past 4 GiB is no page asset; the send offsets are 32-bit.
  if (!head_request_ && !body.empty() && rb.ok() && body.size() <= UINT32_MAX) static_body_ = body;
  send(rb);
}

// The head went out: the static body follows from its own memory (true), or there is none.
bool HttpConnection::start_static_body() {
  if (static_body_.empty() || send_ptr_ == static_body_.data()) return false;
  send_ptr_ = static_body_.data();
  send_len_ = static_cast<uint32_t>(static_body_.size());
  send_pos_ = 0;
  continue_send();
  return true;
}

void HttpConnection::send_interim(ResponseBuilder& rb) {
  if (!rb.ok() || interim_pending_) return;  // an interim answer is advice: never worth a failure
  interim_pending_ = true;
  reactor_->ring().send(&interim_, fd_, memory_.interim, rb.size());
}

void HttpConnection::send_continue_if_expected() {
  const RequestHead& head = parser_.head();
  if (head.version_minor < 1 || !equals_ignore_case(head.get("Expect"), "100-continue")) return;
  continue_pending_ = true;
  reactor_->ring().send(&continue_, fd_, kContinue, sizeof kContinue - 1);
}

void HttpConnection::send_response(bool close_after) {
  close_after_response_ = close_after_response_ || close_after;
  // A response may wait on its client for long: it holds no pool slot meanwhile. Pipelined bytes
  // were parked when the request ended; a body still unread is not wanted any more.
  release_read_slot();
  set_timer(Timer::kSend, context_->config->idle_timeout_ms);
  send_ptr_ = memory_.response;
  send_pos_ = 0;
  if (state_ != State::kStreaming) state_ = State::kSending;
  if (continue_pending_ || interim_pending_) {
    response_waiting_ = true;  // keep interim answers and the final one in order
    return;
  }
  continue_send();
}

void HttpConnection::continue_send() {
  send_pending_ = true;
  reactor_->ring().send(&send_, fd_, send_ptr_ + send_pos_, send_len_ - send_pos_);
}

void HttpConnection::on_send_completion(Completion* completion, int res) {
  if (completion != &send_) {
    if (response_waiting_ && !continue_pending_ && !interim_pending_) {
      response_waiting_ = false;
      continue_send();
    }
    return;
  }
  if (res < 0) {
    close();
    return;
  }
  send_pos_ += static_cast<uint32_t>(res);
  set_timer(Timer::kSend, context_->config->idle_timeout_ms);  // progress
  if (send_pos_ < send_len_) {
    continue_send();
  } else if (start_static_body()) {
    return;
  } else if (state_ == State::kStreaming) {
    reader_.send_body();  // the head went out: the reader streams the body into the socket
  } else {
    after_response();
  }
}

void HttpConnection::on_reader_ready() {
  if (state_ == State::kClosing) return;
  head_sent_ = true;
  send_response(false);  // the head (still in the response buffer)
}

void HttpConnection::on_reader_progress() {
  set_timer(Timer::kSend, context_->config->idle_timeout_ms);
}

void HttpConnection::on_reader_end(Status status) {
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  if (status.code == Code::kConnectionReset) {
    close();  // the client went away mid-body
    return;
  }
  if (!status.ok()) {
    RINGEST_LOG_ERROR("GET %.*s: read failed: %s", 32, upload_->id_chars, code_name(status.code));
    if (head_sent_) {
      close();  // the length is promised: the client sees a short body
      return;
    }
    state_ = State::kHandling;
    close_after_response_ = true;
    bool gone = status.code == Code::kNotFound;
    respond_error(gone ? 404 : 500, gone ? "no such upload" : "cannot read the upload");
    return;
  }
  state_ = State::kSending;
  after_response();
}

void HttpConnection::after_response() {
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
  set_timer(Timer::kLinger, kLingerTotalMs);  // the whole linger, however the client trickles
  ::shutdown(fd_, SHUT_WR);
  release_read_slot();
  state_ = State::kLinger;
  linger_recv();
}

void HttpConnection::linger_recv() {
  // Discarding needs no buffer of its own: MSG_TRUNC drops a TCP socket's bytes in the kernel,
  // and the reactor's one discard area only satisfies the interface. No pool slot, no waiting.
  recv_pending_ = true;  // (before taking the SQE: see BodyIngest::post_recv)
  reactor_->ring().recv(&recv_, fd_, pool_->discard_area(), ConnectionPool::kDiscardBytes,
                        MSG_TRUNC);
}

void HttpConnection::next_request() {
  static_body_ = {};
  upload_.reset();
  handler_ = nullptr;
  ++generation_;  // leftovers meant for the previous request must not touch the next one
  state_ = State::kReadHead;
  close_after_response_ = false;
  if (carry_len_ > 0) {
    set_timer(Timer::kHead, context_->config->head_timeout_ms);
    arm_read();  // a pipelined request is already here: it goes into a slot and is parsed
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
  bool ingest_on_socket = buffered_.socket_op_pending() || direct_.socket_op_pending() ||
                          splice_.socket_op_pending();
  if (poll_pending_ || recv_pending_ || send_pending_ || continue_pending_ || interim_pending_ ||
      ingest_on_socket) {
    reactor_->ring().cancel_fd(fd_);  // an ingest's receive ends too: it then ends the body
  }
  if (reader_.active()) reader_.stop();
  maybe_free();
}

void HttpConnection::maybe_free() {
  if (state_ != State::kClosing || ops_pending()) return;
  if (session_.writing()) {
    session_.finish(BodyEnd::kPeerGone);  // commit what landed; on_append_done() comes back
    return;
  }
  if (session_.active() && !session_.finishing()) session_.abandon();
  if (session_.active()) return;
  release_read_slot();
  upload_.reset();
  pending_spec_ = CreateSpec{};  // a creation whose pre-create answer came after the close
  static_body_ = {};
  handler_ = nullptr;
  carry_len_ = 0;
  ::close(fd_);
  fd_ = -1;
  state_ = State::kFree;
  pool_->release(this);
}

void HttpConnection::shed() {
  RINGEST_CHECK(sheddable());
  reactor_->stats().connections_shed.fetch_add(1, std::memory_order_relaxed);
  close();
}

void HttpConnection::shutdown() {
  shutting_down_ = true;
  switch (state_) {
    case State::kReadHead:
    case State::kReadSmallBody:  // nothing of it was acted on
    case State::kLinger:
      close();
      return;
    case State::kHandling:
      if (session_.waiting()) close();  // waiting for another request's upload: let go
      return;  // otherwise it finishes its step and answers with Connection: close
    case State::kReadBody:
      cut_off_ = true;
      stop_body();
      return;
    default:
      return;  // finishes its current step, then closes (shutting_down_)
  }
}

}  // namespace ringest::http
