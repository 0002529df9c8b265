#include "http/http_parser.h"

#include "engine/base/check.h"

#include <cstring>

namespace ringest::http {
namespace {

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-':
    case '.': case '^': case '_': case '`': case '|': case '~': return true;
    default: return false;
  }
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// RFC 9110 9.1: a request line that is well-formed except that its method is unknown here
// deserves 501, not 400. llhttp stops at the first byte that no method it knows starts with, so
// the whole line is checked here: token SP request-target SP HTTP/d.d CRLF, all within `line`
// (a line split across receives is simply 400).
bool is_unknown_method_line(std::string_view line) {
  size_t i = 0;
  while (i < line.size() && (line[i] == '\r' || line[i] == '\n')) ++i;  // RFC 9112 2.2
  size_t start = i;
  while (i < line.size() && is_token_char(line[i])) ++i;
  if (i == start || i >= line.size() || line[i] != ' ') return false;
  start = ++i;
  while (i < line.size() && line[i] > 0x20 && line[i] < 0x7f) ++i;
  if (i == start || i >= line.size() || line[i] != ' ') return false;
  std::string_view version = line.substr(i + 1);
  return version.size() >= 10 && version.substr(0, 5) == "HTTP/" && is_digit(version[5]) &&
         version[6] == '.' && is_digit(version[7]) && version[8] == '\r' && version[9] == '\n';
}

}  // namespace

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view RequestHead::get(std::string_view name) const {
  for (uint32_t i = 0; i < header_count; ++i) {
    if (equals_ignore_case(headers[i].name, name)) return headers[i].value;
  }
  return {};
}

bool RequestHead::has(std::string_view name) const {
  for (uint32_t i = 0; i < header_count; ++i) {
    if (equals_ignore_case(headers[i].name, name)) return true;
  }
  return false;
}

int status_for(ParseError error) {
  switch (error) {
    case ParseError::kNone: return 200;
    case ParseError::kMalformed: return 400;
    case ParseError::kHeadTooLarge:
    case ParseError::kTooManyHeaders: return 431;
    case ParseError::kUriTooLong: return 414;
    case ParseError::kBodyRefused: return 400;
    case ParseError::kUnknownMethod: return 501;
  }
  return 400;
}

HttpParser::HttpParser() = default;

void HttpParser::init(char* arena, uint32_t max_head_bytes, Header* headers, uint32_t max_headers,
                      uint32_t max_target_bytes) {
  arena_ = arena;
  arena_bytes_ = max_head_bytes;
  headers_ = headers;
  max_headers_ = max_headers;
  max_target_bytes_ = max_target_bytes;
  // llhttp_settings_t callbacks, filled once. The static settings object is shared by every
  // parser; per-parser state lives in `this` (parser_.data).
  static const llhttp_settings_t kCallbacks = [] {
    llhttp_settings_t s;
    llhttp_settings_init(&s);
    s.on_message_begin = &HttpParser::on_message_begin;
    s.on_method_complete = &HttpParser::on_method_complete;
    s.on_url = &HttpParser::on_url;
    s.on_url_complete = &HttpParser::on_url_complete;
    s.on_version_complete = &HttpParser::on_version_complete;
    s.on_header_field = &HttpParser::on_header_field;
    s.on_header_field_complete = &HttpParser::on_header_field_complete;
    s.on_header_value = &HttpParser::on_header_value;
    s.on_header_value_complete = &HttpParser::on_header_value_complete;
    s.on_headers_complete = &HttpParser::on_headers_complete;
    s.on_body = &HttpParser::on_body;
    s.on_message_complete = &HttpParser::on_message_complete;
    return s;
  }();
  llhttp_init(&parser_, HTTP_REQUEST, &kCallbacks);
  // Any single-digit HTTP-version parses (llhttp 8.1 has no setter for this flag; reset keeps
  // it): RFC 9110 2.5 wants HTTP/1.2 served as 1.1, and an unsupported major version is the
  // router's 505 rather than a 400.
  parser_.lenient_flags |= LENIENT_VERSION;
  parser_.data = this;
  reset();
}

void HttpParser::reset() {
  llhttp_reset(&parser_);
  parser_.data = this;
  body_skipped_to_end_ = false;
  error_ = ParseError::kNone;
  error_reason_ = "";
  start_head();
}

void HttpParser::start_head() {
  in_head_ = true;
  head_bytes_ = 0;
  version_seen_ = false;
  method_seen_ = kNoMethod;
  trailer_bytes_ = 0;
  trailer_fields_ = 0;
  trailer_name_bytes_ = 0;
  crlf_pending_ = 0;
  arena_used_ = 0;
  token_start_ = nullptr;
  head_ = RequestHead{};
  head_.headers = headers_;
}

HttpParser::Step HttpParser::fail(ParseError error, const char* reason, size_t consumed) {
  error_ = error;
  error_reason_ = reason;
  return {Event::kError, consumed};
}

HttpParser::Step HttpParser::feed(const char* data, size_t len, BodySink* sink) {
  if (error_ != ParseError::kNone) return {Event::kError, 0};
  sink_ = sink;
  if (in_head_) {
    uint32_t budget = arena_bytes_ - head_bytes_;
    size_t n = len < budget ? len : budget;
    llhttp_errno_t rc = llhttp_execute(&parser_, data, n);
    if (rc == HPE_PAUSED) {
      size_t consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
      head_bytes_ += static_cast<uint32_t>(consumed);
      llhttp_resume(&parser_);
      in_head_ = false;
      return {Event::kHeadComplete, consumed};
    }
    if (rc == HPE_OK) {
      head_bytes_ += static_cast<uint32_t>(n);
      if (n < len || head_bytes_ >= arena_bytes_) {
        return fail(ParseError::kHeadTooLarge, "request head too large", n);
      }
      return {Event::kNeedMore, n};
    }
    size_t consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    if (error_ != ParseError::kNone) return {Event::kError, consumed};
    if (rc == HPE_INVALID_METHOD && head_bytes_ == 0 &&
        is_unknown_method_line(std::string_view(data, n))) {
      return fail(ParseError::kUnknownMethod, "method not implemented", consumed);
    }
    return fail(ParseError::kMalformed, llhttp_get_error_reason(&parser_), consumed);
  }
  feed_end_ = data + len;
  if (!check_chunk_crlf(data)) {
    return fail(ParseError::kMalformed, "chunk data not followed by CRLF", 0);
  }
  if (body_skipped_to_end_) {
    body_skipped_to_end_ = false;
    llhttp_reset(&parser_);  // keeps type, settings and lenient flags
    parser_.data = this;
    start_head();
    return {Event::kMessageComplete, 0};
  }
  llhttp_errno_t rc = llhttp_execute(&parser_, data, len);
  if (rc == HPE_PAUSED || rc == HPE_PAUSED_UPGRADE) {
    size_t consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
    if (rc == HPE_PAUSED) llhttp_resume(&parser_);
    start_head();
    return {Event::kMessageComplete, consumed};
  }
  if (rc == HPE_OK) return {Event::kNeedMore, len};
  size_t consumed = static_cast<size_t>(llhttp_get_error_pos(&parser_) - data);
  if (error_ != ParseError::kNone) return {Event::kError, consumed};
  return fail(ParseError::kMalformed, llhttp_get_error_reason(&parser_), consumed);
}

void HttpParser::skip_body(uint64_t n) {
  RINGEST_CHECK(n <= body_remaining());
  parser_.content_length -= n;
  // llhttp only notices the end of a body when it is handed a byte past it, so a body that
  // ended outside the parser ends here: the next feed() reports the message complete.
  if (parser_.content_length == 0) body_skipped_to_end_ = true;
}

// Checks the part of the CRLF after chunk data that lies in [at, feed_end_).
bool HttpParser::check_chunk_crlf(const char* at) {
  for (; crlf_pending_ > 0 && at < feed_end_; ++at, --crlf_pending_) {
    if (*at != (crlf_pending_ == 2 ? '\r' : '\n')) return false;
  }
  return true;
}

int HttpParser::fail_in_callback(const char* reason) {
  error_ = ParseError::kMalformed;
  error_reason_ = reason;
  return -1;
}

// A header name or value may arrive in several pieces; they are contiguous in the arena.
int HttpParser::append_token(const char* at, size_t len) {
  if (token_start_ == nullptr) token_start_ = arena_ + arena_used_;
  if (!append(at, len)) {
    error_ = ParseError::kHeadTooLarge;
    error_reason_ = "request head too large";
    return -1;
  }
  return 0;
}

bool HttpParser::append(const char* at, size_t len) {
  if (len > arena_bytes_ - arena_used_) return false;
  std::memcpy(arena_ + arena_used_, at, len);
  arena_used_ += static_cast<uint32_t>(len);
  return true;
}

int HttpParser::on_message_begin(llhttp_t* p) {
  auto* self = static_cast<HttpParser*>(p->data);
  self->token_start_ = nullptr;
  return 0;
}

int HttpParser::on_url(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<HttpParser*>(p->data);
  if (self->head_.target.empty()) self->token_start_ = self->arena_ + self->arena_used_;
  if (!self->append(at, len)) {
    self->error_ = ParseError::kHeadTooLarge;
    self->error_reason_ = "request head too large";
    return -1;
  }
  size_t size = static_cast<size_t>(self->arena_ + self->arena_used_ - self->token_start_);
  if (size > self->max_target_bytes_) {
    self->error_ = ParseError::kUriTooLong;
    self->error_reason_ = "request target too long";
    return -1;
  }
  self->head_.target = std::string_view(self->token_start_, size);
  return 0;
}

int HttpParser::on_method_complete(llhttp_t* p) {
  static_cast<HttpParser*>(p->data)->method_seen_ = llhttp_get_method(p);
  return 0;
}

int HttpParser::on_url_complete(llhttp_t* p) {
  static_cast<HttpParser*>(p->data)->token_start_ = nullptr;
  return 0;
}

int HttpParser::on_version_complete(llhttp_t* p) {
  static_cast<HttpParser*>(p->data)->version_seen_ = true;
  return 0;
}

int HttpParser::count_trailer_bytes(size_t len) {
  if (len > arena_bytes_ - trailer_bytes_) {
    error_ = ParseError::kHeadTooLarge;
    error_reason_ = "trailer section too large";
    return -1;
  }
  trailer_bytes_ += static_cast<uint32_t>(len);
  return 0;
}

void HttpParser::capture_trailer(std::string_view name) {
  capture_name_ = name;
  captured_ = Captured::kNone;
  capture_len_ = 0;
  capturing_ = false;
}

int HttpParser::on_header_field(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<HttpParser*>(p->data);
  if (!self->in_head_) {  // a trailer field
    if (self->trailer_fields_ >= self->max_headers_) {
      self->error_ = ParseError::kTooManyHeaders;
      self->error_reason_ = "too many trailer fields";
      return -1;
    }
    for (size_t i = 0; i < len; ++i) {
      if (!is_token_char(at[i])) return self->fail_in_callback("invalid character in header name");
    }
    uint32_t pos = self->trailer_name_bytes_;
    if (pos == 0) self->capture_name_matches_ = !self->capture_name_.empty();
    self->capture_name_matches_ =
        self->capture_name_matches_ && pos + len <= self->capture_name_.size() &&
        equals_ignore_case(std::string_view(at, len), self->capture_name_.substr(pos, len));
    self->trailer_name_bytes_ += static_cast<uint32_t>(len);
    return self->count_trailer_bytes(len);
  }
  if (self->head_.header_count >= self->max_headers_) {
    self->error_ = ParseError::kTooManyHeaders;
    self->error_reason_ = "too many headers";
    return -1;
  }
  return self->append_token(at, len);
}

int HttpParser::on_header_field_complete(llhttp_t* p) {
  auto* self = static_cast<HttpParser*>(p->data);
  if (!self->in_head_) {
    if (self->trailer_name_bytes_ == 0) return self->fail_in_callback("empty header name");
    self->capturing_ =
        self->capture_name_matches_ && self->trailer_name_bytes_ == self->capture_name_.size();
    if (self->capturing_ && self->captured_ != Captured::kNone) {
      self->captured_ = Captured::kInvalid;  // the field twice: neither value is trusted
      self->capturing_ = false;
    }
    self->trailer_name_bytes_ = 0;
    self->trailer_fields_++;
    return 0;
  }
  const char* start = self->token_start_ ? self->token_start_ : self->arena_ + self->arena_used_;
  Header& h = self->headers_[self->head_.header_count];
  h.name = std::string_view(start, static_cast<size_t>(self->arena_ + self->arena_used_ - start));
  // llhttp 8.1 lets "Name : v" and "Bad Name: v" through; RFC 9112 section 5.1 says 400.
  if (h.name.empty()) return self->fail_in_callback("empty header name");
  for (char c : h.name) {
    if (!is_token_char(c)) return self->fail_in_callback("invalid character in header name");
  }
  h.value = {};
  self->token_start_ = nullptr;
  return 0;
}

int HttpParser::on_header_value(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<HttpParser*>(p->data);
  if (!self->in_head_) {
    if (self->capturing_) {
      if (len > kTrailerCaptureBytes - self->capture_len_) {
        self->captured_ = Captured::kInvalid;
        self->capturing_ = false;
      } else {
        std::memcpy(self->capture_buf_ + self->capture_len_, at, len);
        self->capture_len_ += static_cast<uint32_t>(len);
      }
    }
    return self->count_trailer_bytes(len);
  }
  return self->append_token(at, len);
}

int HttpParser::on_header_value_complete(llhttp_t* p) {
  auto* self = static_cast<HttpParser*>(p->data);
  if (!self->in_head_) {
    if (self->capturing_) {
      while (self->capture_len_ > 0 && (self->capture_buf_[self->capture_len_ - 1] == ' ' ||
                                        self->capture_buf_[self->capture_len_ - 1] == '\t')) {
        --self->capture_len_;
      }
      self->captured_ = Captured::kValue;
      self->capturing_ = false;
    }
    return 0;
  }
  const char* start = self->token_start_ ? self->token_start_ : self->arena_ + self->arena_used_;
  size_t size = static_cast<size_t>(self->arena_ + self->arena_used_ - start);
  while (size > 0 && (start[size - 1] == ' ' || start[size - 1] == '\t')) --size;
  self->headers_[self->head_.header_count].value = std::string_view(start, size);
  self->head_.header_count++;
  self->token_start_ = nullptr;
  return 0;
}

int HttpParser::on_headers_complete(llhttp_t* p) {
  auto* self = static_cast<HttpParser*>(p->data);
  // "GET /path" alone is an HTTP/0.9 request line; RFC 9112 3 requires the version.
  if (!self->version_seen_) return self->fail_in_callback("request line without HTTP version");
  self->capture_trailer({});  // a new message: nothing to keep until the caller asks
  RequestHead& h = self->head_;
  h.method = llhttp_get_method(p);
  h.version_major = llhttp_get_http_major(p);
  h.version_minor = llhttp_get_http_minor(p);
  h.keep_alive = llhttp_should_keep_alive(p) != 0;
  h.chunked = (p->flags & F_CHUNKED) != 0;
  h.has_content_length = (p->flags & F_CONTENT_LENGTH) != 0;
  h.content_length = h.has_content_length ? p->content_length : 0;
  h.upgrade = llhttp_get_upgrade(p) != 0;
  if (h.upgrade) h.keep_alive = false;
  return HPE_PAUSED;
}

int HttpParser::on_body(llhttp_t* p, const char* at, size_t len) {
  auto* self = static_cast<HttpParser*>(p->data);
  if (self->sink_ == nullptr || !self->sink_->on_body(at, len)) {
    self->error_ = ParseError::kBodyRefused;
    self->error_reason_ = "body refused";
    return -1;
  }
  if (self->head_.chunked && p->content_length == 0) {  // this chunk's data ends here
    self->crlf_pending_ = 2;
    if (!self->check_chunk_crlf(at + len)) {
      return self->fail_in_callback("chunk data not followed by CRLF");
    }
  }
  return 0;
}

int HttpParser::on_message_complete(llhttp_t* p) {
  (void)p;
  return HPE_PAUSED;
}

}  // namespace ringest::http
