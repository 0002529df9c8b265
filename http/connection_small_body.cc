// HttpConnection: small bodies held in memory (RequestContext::read_small_body()), for a
// protocol's control requests (a form with metadata, an id to delete). The parser frames the
// body (Content-Length or chunked) and its bytes are copied into the connection's small-body
// area; like a head, the connection holds no pool slot while it waits on the client, and the
// whole body must arrive within --head-timeout.
#include <algorithm>
#include <cstring>

#include "engine/base/log.h"
#include "http/connection.h"

namespace ringest::http {
namespace {
const char kEmpty[1] = {0};
}  // namespace

void HttpConnection::read_small_body(size_t max_bytes) {
  RINGEST_CHECK(state_ == State::kHandling);
  const RequestHead& head = parser_.head();
  small_len_ = 0;
  small_max_ = static_cast<uint32_t>(std::min(max_bytes, kSmallBodyBytes));
  if (!head.chunked && head.content_length > small_max_) {
    respond_error(413, "request body too large", true);  // refused before a byte is read
    return;
  }
  state_ = State::kReadSmallBody;
  timed_out_ = false;
  send_continue_if_expected();
  set_timer(Timer::kHead, context_->config->head_timeout_ms);
  process_small_body();
}

bool HttpConnection::take_small_body(const char* data, size_t len) {
  if (len > small_max_ - small_len_) return false;  // ParseError::kBodyRefused
  std::memcpy(memory_.small_body + small_len_, data, len);
  small_len_ += static_cast<uint32_t>(len);
  return true;
}

void HttpConnection::process_small_body() {
  if (state_ != State::kReadSmallBody || recv_pending_ || poll_pending_ || waiting) return;
  uint32_t avail = read_slot_ >= 0 ? data_end_ - parse_pos_ : 0;
  const char* data = avail > 0 ? reactor_->pool().data(read_slot_) + parse_pos_ : kEmpty;
  HttpParser::Step step = parser_.feed(data, avail, this);
  parse_pos_ += static_cast<uint32_t>(step.consumed);
  switch (step.event) {
    case HttpParser::Event::kNeedMore:
      arm_read();  // (every byte was taken: no slot is held while the client is slow)
      return;
    case HttpParser::Event::kMessageComplete:
      set_timer(Timer::kNone, 0);
      state_ = State::kHandling;
      park_pipelined();
      handler_->on_small_body(*this, std::string_view(memory_.small_body, small_len_));
      return;
    case HttpParser::Event::kError:
    case HttpParser::Event::kHeadComplete:
      set_timer(Timer::kNone, 0);
      state_ = State::kHandling;
      if (parser_.error() == ParseError::kBodyRefused) {
        respond_error(413, "request body too large", true);
      } else {
        respond_error(400, "malformed request body", true);
      }
      return;
  }
}

}  // namespace ringest::http
