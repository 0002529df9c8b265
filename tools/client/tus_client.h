// tus 1.0.0 requests (creation, HEAD, PATCH, termination) and what their answers mean for the
// caller. It sends one request per call and never retries: the retry policy lives with the
// upload loop, which knows what to re-check between attempts.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "tools/client/http_client.h"
#include "tools/client/offset_log.h"

namespace ringest::client {

enum class Outcome {
  kOk,           // the expected answer, with the headers tus requires of it
  kRetryable,    // connection error, timeout, 5xx, 408, 423, 429: try again after a backoff
  kConflict,     // 409: the offsets disagree; ask the server (HEAD) and go on from its offset
  kGone,         // 404 or 410: no such upload (any more)
  kRefused,      // any other answer: another 4xx, or a success without what tus requires
  kFileChanged,  // the file ended early while its bytes were being sent
  kLocalError,   // the file could not be read, or the request cannot be made at all
};

struct TusReply {
  Outcome outcome = Outcome::kLocalError;
  long status = 0;
  uint64_t offset = 0;             // Upload-Offset (kOk of POST, PATCH, HEAD)
  std::optional<uint64_t> length;  // Upload-Length (HEAD; absent for a deferred length)
  std::string location;            // POST: the new upload's absolute URL
  std::string message;             // for a human: "PATCH <url>: 503 storage error"
};

class TusClient {
 public:
  // `log` may be disabled; it must outlive the client.
  TusClient(HttpClient* http, OffsetLog* log) : http_(http), log_(log) {}

  // POST to the collection URL; `metadata` is the encoded Upload-Metadata value (may be empty).
  TusReply create(const std::string& collection_url, uint64_t length, const std::string& metadata);
  TusReply head(const std::string& url);
  // PATCH `body.length` bytes read from `body.fd` at `body.offset` (== the upload offset).
  TusReply patch(const std::string& url, const FileBody& body,
                 const std::function<void(uint64_t)>& on_body_progress);
  TusReply terminate(const std::string& url);

 private:
  // Fills outcome/status/message for everything but the method-specific success checks.
  TusReply classify(const std::string& method, const std::string& url, const HttpResponse& response,
                    long success_status);

  HttpClient* http_;
  OffsetLog* log_;
};

// Strict non-negative decimal, as tus requires of Upload-Offset and Upload-Length.
std::optional<uint64_t> parse_tus_number(const std::string& text);

}  // namespace ringest::client
