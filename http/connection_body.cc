// HttpConnection: request bodies. A Content-Length body goes to the ingest strategy chosen when
// it starts (the socket is the ingest's until it ends); a chunked body is parsed here and its
// decoded spans go to BufferedIngest. Either way the AppendSession commits at the end and the
// handler answers with what is durable.
#include <cstring>

#include "engine/base/log.h"
#include "http/connection.h"

namespace ringest::http {
namespace {
const char kEmpty[1] = {0};
}  // namespace

void HttpConnection::begin_append(const AppendRequest& request) {
  RINGEST_CHECK(state_ == State::kHandling);
  session_.open(request, this);
  // Waiting for another request to let go of the upload is bounded like a head.
  if (session_.waiting()) set_timer(Timer::kHead, context_->config->head_timeout_ms);
}

void HttpConnection::on_append_ready(AppendOutcome outcome, const UploadView& view) {
  if (state_ != State::kClosing) set_timer(Timer::kNone, 0);
  if (state_ == State::kClosing) {
    // The client left while the request waited: nothing to write.
    if (outcome == AppendOutcome::kOk) session_.abandon();
    maybe_free();
    return;
  }
  handler_->on_append_ready(*this, outcome, view);
}

void HttpConnection::remove_upload() {
  RINGEST_CHECK(state_ == State::kHandling);
  session_.remove();
}

void HttpConnection::receive_body() {
  RINGEST_CHECK(state_ == State::kHandling);
  const RequestHead& head = parser_.head();
  state_ = State::kReadBody;
  timed_out_ = cut_off_ = peer_gone_ = false;
  if (shutting_down_) {
    // Accepted just as the server began to drain: no body is read any more.
    cut_off_ = true;
    end_body(BodyEnd::kCutOff);
    return;
  }
  send_continue_if_expected();
  held_since_ms_ = 0;
  start_body_window();
  if (head.chunked) {
    chunked_body_ = true;
    ingest_ = nullptr;
    session_.set_progress(this);
    process_chunked_body();
    return;
  }
  chunked_body_ = false;
  if (head.content_length == 0) {
    end_body(BodyEnd::kComplete);
    return;
  }
  start_socket_body(head.content_length);
}

void HttpConnection::start_socket_body(uint64_t body_bytes) {
  IngestKind kind = choose_ingest(context_->config->io_mode, false,
                                  session_.writer().direct_available());
  if (kind == IngestKind::kSplice && !splice_.ready()) kind = IngestKind::kBuffered;
  // A checksum needs the bytes in memory; splicing never brings them there.
  if (kind == IngestKind::kSplice && session_.writer().digesting()) kind = IngestKind::kBuffered;
  ingest_ = kind == IngestKind::kDirect   ? static_cast<BodyIngest*>(&direct_)
            : kind == IngestKind::kSplice ? static_cast<BodyIngest*>(&splice_)
                                          : static_cast<BodyIngest*>(&buffered_);
  // Body bytes that came with the head. When nothing else is left in the receive slot (no
  // pipelined request after the body), the slot goes with them.
  Leftover leftover;
  uint32_t avail = read_slot_ >= 0 ? data_end_ - parse_pos_ : 0;
  leftover.len = static_cast<uint32_t>(avail < body_bytes ? avail : body_bytes);
  if (read_slot_ >= 0) {
    leftover.slot = read_slot_;
    leftover.data = reactor_->pool().data(read_slot_) + parse_pos_;
    parse_pos_ += leftover.len;
    if (parse_pos_ == data_end_) {
      leftover.slot_handed_over = true;
      read_slot_ = -1;
      parse_pos_ = data_end_ = 0;
    }
  }
  ingest_->take_socket(fd_, body_bytes, leftover, slow_reader_);
}

void HttpConnection::on_ingest_received(uint64_t bytes) {
  window_bytes_ += bytes;
  reactor_->stats().body_bytes_received.fetch_add(bytes, std::memory_order_relaxed);
}

void HttpConnection::on_ingest_waiting(bool on_server) {
  if (on_server) {
    hold_body();
  } else {
    wait_on_client();
  }
}

void HttpConnection::on_ingest_end(IngestEnd end) {
  ingest_ = nullptr;
  if (state_ == State::kClosing) {
    session_.finish(BodyEnd::kPeerGone);
    return;
  }
  switch (end) {
    case IngestEnd::kComplete: end_body(BodyEnd::kComplete); return;
    case IngestEnd::kPeerGone: end_body(BodyEnd::kPeerGone); return;
    case IngestEnd::kStorageError: end_body(BodyEnd::kStorageError); return;
    case IngestEnd::kCut:
      end_body(timed_out_ ? BodyEnd::kTimedOut : BodyEnd::kCutOff);
      return;
  }
}

void HttpConnection::stop_body() {
  // A timeout, a takeover or shutdown: the receive ends, what arrived is committed.
  if (ingest_ != nullptr) {
    ingest_->cut();
  } else if (recv_pending_ || poll_pending_) {
    reactor_->ring().cancel(&recv_);  // its completion ends the body
    reactor_->ring().cancel(&poll_);
  } else if (state_ == State::kReadBody) {
    end_body(timed_out_ ? BodyEnd::kTimedOut : BodyEnd::kCutOff);
  }
}

void HttpConnection::on_append_cut() {
  if (state_ != State::kReadBody) return;  // already finishing
  cut_off_ = true;
  stop_body();
}

void HttpConnection::process_chunked_body() {
  if (state_ != State::kReadBody || recv_pending_ || poll_pending_ || waiting) return;
  if (cut_off_ || timed_out_) {
    end_body(timed_out_ ? BodyEnd::kTimedOut : BodyEnd::kCutOff);
    return;
  }
  if (session_.writer().failed()) {
    end_body(BodyEnd::kStorageError);  // the session's outcome says which (507, 500)
    return;
  }
  if (!buffered_.can_take_spans()) {
    hold_body();  // the disk, not the client, holds the body back: on_write_progress() resumes
    return;
  }
  uint32_t avail = read_slot_ >= 0 ? data_end_ - parse_pos_ : 0;
  const char* data = avail > 0 ? reactor_->pool().data(read_slot_) + parse_pos_ : kEmpty;
  buffered_.begin_spans();
  HttpParser::Step step = parser_.feed(data, avail, this);
  parse_pos_ += static_cast<uint32_t>(step.consumed);
  buffered_.flush_spans();
  switch (step.event) {
    case HttpParser::Event::kNeedMore:
      arm_read();
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

bool HttpConnection::on_body(const char* data, size_t len) {
  if (state_ == State::kReadSmallBody) return take_small_body(data, len);
  UploadWriter& writer = session_.writer();
  if (len > writer.limit() - writer.next_offset() - buffered_.span_bytes()) {
    return false;  // would pass the upload's length
  }
  reactor_->stats().body_bytes_received.fetch_add(len, std::memory_order_relaxed);
  buffered_.take_span(read_slot_, const_cast<char*>(data), static_cast<uint32_t>(len));
  return true;
}

void HttpConnection::on_write_progress() {
  // Chunked bodies only (an ingest gets its own progress calls).
  if (state_ != State::kReadBody || !chunked_body_) return;
  if (session_.writer().failed() && (recv_pending_ || poll_pending_)) {
    reactor_->ring().cancel(&recv_);  // stop waiting for the client: answer the failure now
    reactor_->ring().cancel(&poll_);
    return;
  }
  process_chunked_body();
}

void HttpConnection::end_body(BodyEnd end) {
  state_ = State::kFinishing;
  set_timer(Timer::kNone, 0);
  if (waiting) reactor_->pool().remove_waiter(this);
  if (end == BodyEnd::kComplete) {
    finish_message();
    park_pipelined();
    HttpParser::Captured trailer = parser_.trailer_captured();
    if (chunked_body_ && trailer != HttpParser::Captured::kNone) {
      handler_->on_trailer(*this, parser_.captured_trailer(),
                           trailer == HttpParser::Captured::kValue);
    }
  }
  session_.finish(end);  // may call on_append_done() right away
}

void HttpConnection::finish_message() {
  // A Content-Length body went past the parser: tell it, so it ends the message and the next
  // request on this connection parses.
  if (parser_.in_head()) return;
  if (parser_.body_remaining() > 0) parser_.skip_body(parser_.body_remaining());
  HttpParser::Step step = parser_.feed(kEmpty, 0, nullptr);
  RINGEST_CHECK(step.event == HttpParser::Event::kMessageComplete);
}

void HttpConnection::on_append_done(AppendOutcome outcome, const UploadView& view) {
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  state_ = State::kHandling;
  if (outcome == AppendOutcome::kPeerGone || outcome == AppendOutcome::kCutOff) {
    close();  // nobody to answer, or a newer request took over: the bytes are committed
    return;
  }
  // A body that did not end cleanly (storage failure, too slow, malformed, too long) ends the
  // connection after its answer.
  // (A checksum that did not match came with a whole body: the connection goes on.)
  if (outcome != AppendOutcome::kOk && outcome != AppendOutcome::kChecksumMismatch &&
      outcome != AppendOutcome::kChecksumInvalid) {
    close_after_response_ = true;
  }
  handler_->on_append_done(*this, outcome, view);
}

}  // namespace ringest::http
