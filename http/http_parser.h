// HttpParser: llhttp wrapped into a pure, allocation-free request parser. Bytes in; events out:
// head complete, body spans (to a BodySink), message complete, or an error with its status.
// No sockets, no files, so unit tests and fuzzers drive it directly.
//
// Memory: the caller provides the arena that keeps the request target and header bytes
// (`max_head_bytes`) and the header array; the parser never allocates.
//
// Limits are checked while the head arrives, before any body byte is accepted: more than
// `max_head_bytes` of head -> 431, more than `max_headers` headers -> 431, a target longer
// than `max_target_bytes` -> 414. Trailer fields after a chunked body get the same byte and
// field budgets and are then dropped: head() is the head, unchanged until the message ends.
#pragma once

#include <llhttp.h>

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringest::http {

struct Header {
  std::string_view name;
  std::string_view value;
};

struct RequestHead {
  uint8_t method = 0;  // llhttp_method_t
  std::string_view target;
  uint8_t version_major = 1;
  uint8_t version_minor = 1;
  const Header* headers = nullptr;
  uint32_t header_count = 0;
  bool keep_alive = false;
  bool chunked = false;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool upgrade = false;

  // First header with this name (case-insensitive); empty view if absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  bool has_body() const { return chunked || content_length > 0; }
};

bool equals_ignore_case(std::string_view a, std::string_view b);

// Receives body bytes as they are parsed (chunked framing already removed). A span points into
// the buffer given to feed(). Return false to stop parsing with ParseError::kBodyRefused.
class BodySink {
 public:
  virtual bool on_body(const char* data, size_t len) = 0;

 protected:
  ~BodySink() = default;
};

enum class ParseError : uint8_t {
  kNone,
  kMalformed,       // 400
  kHeadTooLarge,    // 431
  kTooManyHeaders,  // 431
  kUriTooLong,      // 414
  kBodyRefused,     // the sink said stop; the caller knows why
  kUnknownMethod,   // 501: a well-formed request line whose method llhttp does not know
};

int status_for(ParseError error);

class HttpParser {
 public:
  enum class Event : uint8_t { kNeedMore, kHeadComplete, kMessageComplete, kError };
  struct Step {
    Event event;
    size_t consumed;  // bytes of the input that were used
  };

  HttpParser();
  HttpParser(const HttpParser&) = delete;
  HttpParser& operator=(const HttpParser&) = delete;

  void init(char* arena, uint32_t max_head_bytes, Header* headers, uint32_t max_headers,
            uint32_t max_target_bytes);
  // Forget everything: a new connection.
  void reset();

  // Parses from `data`. In the head phase, stops after the head (kHeadComplete); in the body
  // phase, stops after the message (kMessageComplete), and the next feed() starts a new head.
  // After kHeadComplete, call feed() again (even with len 0) to receive the body and the end of
  // the message; a request without a body completes on that call.
  Step feed(const char* data, size_t len, BodySink* sink);

  // Body bytes of a Content-Length request not yet seen (0 in the head phase or when chunked).
  uint64_t body_remaining() const {
    return in_head_ || head_.chunked ? 0 : parser_.content_length;
  }
  // Trailer fields are dropped, except one the caller names here (after the head, before the
  // body; `name` must outlive the message): its value is kept, up to kTrailerCaptureBytes.
  static constexpr size_t kTrailerCaptureBytes = 192;
  void capture_trailer(std::string_view name);
  enum class Captured : uint8_t { kNone, kValue, kInvalid };  // kInvalid: too long, or twice
  Captured trailer_captured() const { return captured_; }
  std::string_view captured_trailer() const { return {capture_buf_, capture_len_}; }

  // Splice mode: `n` (<= body_remaining()) body bytes went from the socket to the file without
  // passing through here. A feed() (even of 0 bytes) then ends the message once none remain.
  void skip_body(uint64_t n);

  bool in_head() const { return in_head_; }
  // The method of the request line being parsed, as soon as it is known (even when the head
  // later fails: an error answer to HEAD must carry no content); kNoMethod before.
  static constexpr uint8_t kNoMethod = 0xFF;
  uint8_t method_seen() const { return method_seen_; }
  // True while no byte of the next request has been seen.
  bool between_messages() const { return in_head_ && head_bytes_ == 0; }
  const RequestHead& head() const { return head_; }
  ParseError error() const { return error_; }
  const char* error_reason() const { return error_reason_; }

 private:
  static int on_message_begin(llhttp_t* p);
  static int on_method_complete(llhttp_t* p);
  static int on_url(llhttp_t* p, const char* at, size_t len);
  static int on_url_complete(llhttp_t* p);
  static int on_version_complete(llhttp_t* p);
  static int on_header_field(llhttp_t* p, const char* at, size_t len);
  static int on_header_field_complete(llhttp_t* p);
  static int on_header_value(llhttp_t* p, const char* at, size_t len);
  static int on_header_value_complete(llhttp_t* p);
  static int on_headers_complete(llhttp_t* p);
  static int on_body(llhttp_t* p, const char* at, size_t len);
  static int on_message_complete(llhttp_t* p);

  bool append(const char* at, size_t len);
  int append_token(const char* at, size_t len);
  int fail_in_callback(const char* reason);
  int count_trailer_bytes(size_t len);
  bool check_chunk_crlf(const char* at);
  Step fail(ParseError error, const char* reason, size_t consumed);
  void start_head();

  llhttp_t parser_{};
  char* arena_ = nullptr;
  uint32_t arena_bytes_ = 0;
  uint32_t arena_used_ = 0;
  Header* headers_ = nullptr;
  uint32_t max_headers_ = 0;
  uint32_t max_target_bytes_ = 0;
  uint32_t head_bytes_ = 0;
  bool version_seen_ = false;  // the request line carried an HTTP-version (0.9 form has none)
  uint8_t method_seen_ = kNoMethod;
  // Trailer fields (after a chunked body) are checked and dropped, never merged into head_
  // (RFC 9110 6.5.1), within the head's budgets: max_head_bytes of names and values, and
  // max_headers fields.
  uint32_t trailer_bytes_ = 0;
  uint32_t trailer_fields_ = 0;
  uint32_t trailer_name_bytes_ = 0;  // of the field being parsed
  std::string_view capture_name_;    // the trailer field to keep
  bool capture_name_matches_ = false;  // the name so far is a prefix of capture_name_
  bool capturing_ = false;             // the value being parsed is the one to keep
  Captured captured_ = Captured::kNone;
  uint32_t capture_len_ = 0;
  char capture_buf_[kTrailerCaptureBytes] = {};
  // llhttp 8.1 skips the two bytes after chunk data without looking at them; RFC 9112 7.1 wants
  // CRLF there, so they are checked here: `crlf_pending_` of them are still to come (at the
  // start of the next feed), `feed_end_` bounds the input being parsed.
  uint8_t crlf_pending_ = 0;
  const char* feed_end_ = nullptr;
  const char* token_start_ = nullptr;
  RequestHead head_;
  BodySink* sink_ = nullptr;
  bool in_head_ = true;
  bool body_skipped_to_end_ = false;
  ParseError error_ = ParseError::kNone;
  const char* error_reason_ = "";
};

}  // namespace ringest::http
