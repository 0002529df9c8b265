#include "tools/client/tus_client.h"

#include <charconv>
#include <cstring>

namespace ringest::client {
namespace {

constexpr const char* kTusResumable = "Tus-Resumable: 1.0.0";

// The first line of an error body ("no such upload"), short enough for a message.
std::string first_line(const std::string& body) {
  std::string line = body.substr(0, body.find('\n'));
  if (line.size() > 200) line.resize(200);
  return line;
}

// Failures that no retry can fix: the URL or the TLS set-up is wrong.
bool curl_error_is_permanent(CURLcode code) {
  switch (code) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_FAILED_INIT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
      return true;
    default:
      return false;
  }
}

}  // namespace

std::optional<uint64_t> parse_tus_number(const std::string& text) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return v;
}

TusReply TusClient::classify(const std::string& method, const std::string& url,
                             const HttpResponse& response, long success_status) {
  TusReply reply;
  reply.status = response.status;
  std::string what = method + " " + url + ": ";
  if (response.body_error == HttpResponse::BodyError::kFileShrunk) {
    reply.outcome = Outcome::kFileChanged;
    reply.message = what + "the file ended before the chunk did (truncated?)";
    return reply;
  }
  if (response.body_error == HttpResponse::BodyError::kReadFailed) {
    reply.outcome = Outcome::kLocalError;
    reply.message = what + "reading the file: " + std::strerror(response.body_errno);
    return reply;
  }
  if (response.curl_code != CURLE_OK) {
    reply.outcome =
        curl_error_is_permanent(response.curl_code) ? Outcome::kLocalError : Outcome::kRetryable;
    reply.message = what + response.error;
    return reply;
  }
  long s = response.status;
  reply.message = what + std::to_string(s);
  std::string detail = first_line(response.body);
  if (!detail.empty()) reply.message += " " + detail;
  if (s == success_status) {
    reply.outcome = Outcome::kOk;
  } else if (s >= 500 || s == 408 || s == 423 || s == 429) {
    // 423 Locked and 429 Too Many Requests say "not now", like a 5xx.
    reply.outcome = Outcome::kRetryable;
  } else if (s == 409) {
    reply.outcome = Outcome::kConflict;
  } else if (s == 404 || s == 410) {
    reply.outcome = Outcome::kGone;
  } else {
    reply.outcome = Outcome::kRefused;
  }
  return reply;
}

TusReply TusClient::create(const std::string& collection_url, uint64_t length,
                           const std::string& metadata) {
  HttpRequest request;
  request.method = "POST";
  request.url = collection_url;
  request.headers = {kTusResumable, "Upload-Length: " + std::to_string(length)};
  if (!metadata.empty()) request.headers.push_back("Upload-Metadata: " + metadata);
  HttpResponse response = http_->perform(request);
  TusReply reply = classify("POST", collection_url, response, 201);
  if (reply.outcome != Outcome::kOk) return reply;
  std::string location = response.header("location");
  std::optional<std::string> absolute =
      location.empty() ? std::nullopt : resolve_url(collection_url, location);
  if (!absolute) {
    reply.outcome = Outcome::kRefused;
    reply.message +=
        location.empty() ? ": no Location header" : ": bad Location '" + location + "'";
    return reply;
  }
  reply.location = *absolute;
  // creation does not require Upload-Offset on the 201; ringestd sends it, so log it when there.
  if (auto offset = parse_tus_number(response.header("upload-offset"))) {
    reply.offset = *offset;
    log_->record(response.status, "POST", reply.location, *offset);
  }
  return reply;
}

TusReply TusClient::head(const std::string& url) {
  HttpRequest request;
  request.method = "HEAD";
  request.url = url;
  request.headers = {kTusResumable};
  HttpResponse response = http_->perform(request);
  TusReply reply = classify("HEAD", url, response, 200);
  if (reply.outcome != Outcome::kOk) return reply;
  std::optional<uint64_t> offset = parse_tus_number(response.header("upload-offset"));
  if (!offset) {
    reply.outcome = Outcome::kRefused;
    reply.message += ": no valid Upload-Offset";
    return reply;
  }
  reply.offset = *offset;
  reply.length = parse_tus_number(response.header("upload-length"));
  log_->record(response.status, "HEAD", url, *offset);
  return reply;
}

TusReply TusClient::patch(const std::string& url, const FileBody& body,
                          const std::function<void(uint64_t)>& on_body_progress) {
  HttpRequest request;
  request.method = "PATCH";
  request.url = url;
  request.headers = {kTusResumable, "Content-Type: application/offset+octet-stream",
                     "Upload-Offset: " + std::to_string(body.offset)};
  request.body = body;
  request.on_body_progress = on_body_progress;
  HttpResponse response = http_->perform(request);
  TusReply reply = classify("PATCH", url, response, 204);
  if (reply.outcome != Outcome::kOk) return reply;
  std::optional<uint64_t> offset = parse_tus_number(response.header("upload-offset"));
  if (!offset) {
    reply.outcome = Outcome::kRefused;
    reply.message += ": no valid Upload-Offset";
    return reply;
  }
  reply.offset = *offset;
  log_->record(response.status, "PATCH", url, *offset);
  return reply;
}

TusReply TusClient::terminate(const std::string& url) {
  HttpRequest request;
  request.method = "DELETE";
  request.url = url;
  request.headers = {kTusResumable};
  return classify("DELETE", url, http_->perform(request), 204);
}

}  // namespace ringest::client
