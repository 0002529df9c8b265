// A thin synchronous HTTP/1.1 client over one libcurl easy handle. One handle for the whole run
// keeps the connection alive between HEAD and PATCH requests; curl reconnects on its own when
// the server has closed it. Request bodies are streamed from a file descriptor with pread, so
// memory does not grow with the chunk size.
#pragma once

#include <curl/curl.h>

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace ringest::client {

// A byte range of an open file to send as the request body.
struct FileBody {
  int fd = -1;
  uint64_t offset = 0;
  uint64_t length = 0;
};

struct HttpRequest {
  std::string method;  // HEAD, POST (empty body), PATCH, DELETE
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::optional<FileBody> body;      // sent with Content-Length = body->length
  // Called with the number of body bytes handed to the socket so far (for progress).
  std::function<void(uint64_t)> on_body_progress;
};

struct HttpResponse {
  // Local trouble with the body's file, found while sending; the request was aborted.
  enum class BodyError { kNone, kFileShrunk, kReadFailed };

  CURLcode curl_code = CURLE_OK;
  std::string error;                           // curl's message when curl_code != CURLE_OK
  long status = 0;                             // 0 when no answer arrived
  std::map<std::string, std::string> headers;  // names lowercased, of the final answer
  std::string body;                            // the first few KiB, for error messages
  BodyError body_error = BodyError::kNone;
  int body_errno = 0;  // for kReadFailed

  bool answered() const { return curl_code == CURLE_OK && status != 0; }
  std::string header(const std::string& lowercase_name) const;
};

class HttpClient {
 public:
  // `timeout_s`: connect timeout, and the time a request may move no byte before it fails.
  explicit HttpClient(uint32_t timeout_s);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  HttpResponse perform(const HttpRequest& request);
  // Every later request carries "Authorization: Bearer <token>" (empty: none).
  void set_bearer_token(const std::string& token);

 private:
  CURL* curl_;
  uint32_t timeout_s_;
  std::string authorization_;  // the whole header line, or empty
};

// `reference` (absolute, or relative such as "/files/<id>") resolved against `base`, as a
// browser would (RFC 3986). std::nullopt if either cannot be parsed.
std::optional<std::string> resolve_url(const std::string& base, const std::string& reference);

}  // namespace ringest::client
