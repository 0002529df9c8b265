// Framing of the small responses the crowd gets back (OPTIONS, POST, 408/503 and other early
// answers): a head, then a Content-Length body, which the crowd skips. Pure: bytes in, one
// response or "need more" out.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace ringest::crowd {

struct Response {
  int status = 0;
  std::string location;  // the tus Location of a 201, as sent
  bool close = false;    // "Connection: close", or HTTP/1.0
};

enum class Framing { kComplete, kNeedMore, kMalformed };

// Looks for one whole response (head and body) at the start of `bytes`. On kComplete fills
// `out` and sets `consumed` to its length. Bodies are bounded by Content-Length (none: empty).
Framing frame_response(std::string_view bytes, Response* out, size_t* consumed);

}  // namespace ringest::crowd
