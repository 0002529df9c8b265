// ResponseBuilder: formats an HTTP/1.1 response head (and a short body) into a fixed buffer
// owned by the connection. No allocation; an overflow is a bug in the caller's sizing and is
// reported by ok() so the connection can fall back to a bare 500.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringest::http {

const char* reason_phrase(int status);

class ResponseBuilder {
 public:
  ResponseBuilder(char* buffer, size_t capacity) : buf_(buffer), cap_(capacity) {}

  void status(int code);
  void header(std::string_view name, std::string_view value);
  void header(std::string_view name, uint64_t value);
  // Ends the head with Content-Length: body.size() and appends the body (short texts only).
  void finish(std::string_view body);
  // Ends the head with the given Content-Length and no body bytes (HEAD, or a streamed body).
  void finish_head(uint64_t content_length);
  // Ends the head of a response that has no content (1xx, 204, 304).
  void finish_no_content();

  bool ok() const { return !overflow_; }
  size_t size() const { return len_; }

 private:
  void append(std::string_view text);
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool overflow_ = false;
};

}  // namespace ringest::http
