#include "tools/client/http_client.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace ringest::client {
namespace {

// Enough of an error body for a message; a misbehaving server cannot make us hold more.
constexpr size_t kMaxBodyKept = 4096;
// curl's upload buffer: larger than its 64 KiB default to cut read/send calls on fast links,
// still a fixed cost independent of chunk and file size.
constexpr long kUploadBufferBytes = 512 * 1024;

std::string lowercase(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return {};
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// State of one request, shared with curl's callbacks through their void* argument.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  uint64_t body_sent = 0;  // bytes of request->body read so far
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string line(data, n);
  // A new status line starts a new header block (after "100 Continue", say): keep only the
  // final answer's headers.
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon != std::string::npos) {
    t->response->headers[lowercase(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  size_t n = size * count;
  std::string& body = t->response->body;
  if (body.size() < kMaxBodyKept) body.append(data, std::min(n, kMaxBodyKept - body.size()));
  return n;
}

// Reads the next piece of the body straight from the file at its offset: only curl's upload
// buffer is ever in memory.
size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const FileBody& body = *t->request->body;
  uint64_t left = body.length - t->body_sent;
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * count));
  if (want == 0) return 0;
  ssize_t got;
  do {
    got = ::pread(body.fd, buffer, want, static_cast<off_t>(body.offset + t->body_sent));
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    t->response->body_error = HttpResponse::BodyError::kReadFailed;
    t->response->body_errno = errno;
    return CURL_READFUNC_ABORT;
  }
  if (got == 0) {
    // End of file before Content-Length bytes: the file was truncated under us. Sending fewer
    // bytes than announced would only make the server wait; stop now.
    t->response->body_error = HttpResponse::BodyError::kFileShrunk;
    return CURL_READFUNC_ABORT;
  }
  t->body_sent += static_cast<uint64_t>(got);
  return static_cast<size_t>(got);
}

// curl rewinds the body when it resends a request on a fresh connection (a kept-alive one the
// server had closed); without this it would fail such a request instead.
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 ||
      static_cast<uint64_t>(offset) > t->request->body->length) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  t->body_sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t uploaded) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->on_body_progress && uploaded >= 0) {
    t->request->on_body_progress(static_cast<uint64_t>(uploaded));
  }
  return 0;
}

}  // namespace

std::string HttpResponse::header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpClient::HttpClient(uint32_t timeout_s) : curl_(curl_easy_init()), timeout_s_(timeout_s) {
  if (curl_ == nullptr) throw std::runtime_error("curl_easy_init failed");
}

HttpClient::~HttpClient() { curl_easy_cleanup(curl_); }

void HttpClient::set_bearer_token(const std::string& token) {
  authorization_ = token.empty() ? std::string() : "Authorization: Bearer " + token;
}

HttpResponse HttpClient::perform(const HttpRequest& request) {
  HttpResponse response;
  Transfer transfer{&request, &response, 0};
  // reset() clears options but keeps the connection cache, so keep-alive survives.
  curl_easy_reset(curl_);
  CURL* c = curl_;
  char error[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM-based timeouts in a CLI
  curl_easy_setopt(c, CURLOPT_USERAGENT, "ringest/1.0");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // 201's Location is data, not a redirect
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, static_cast<long>(timeout_s_));
  // "Moves no byte for timeout_s" rather than a total timeout: a 64 MiB chunk on a slow link
  // may take minutes and is fine as long as it moves.
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, static_cast<long>(timeout_s_));
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);

  curl_slist* headers = nullptr;
  for (const std::string& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  if (!authorization_.empty()) headers = curl_slist_append(headers, authorization_.c_str());
  if (request.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST" && !request.body) {
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t{0});
    headers = curl_slist_append(headers, "Content-Type:");  // no form-urlencoded default
  } else if (request.body) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body->length));
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(c, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, kUploadBufferBytes);
    // No "Expect: 100-continue": the offset was just confirmed, so a rejection is unlikely, and
    // waiting for the interim answer costs a round trip per chunk.
    headers = curl_slist_append(headers, "Expect:");
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
  } else {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);

  response.curl_code = curl_easy_perform(c);
  if (response.curl_code != CURLE_OK) {
    response.error = error[0] ? error : curl_easy_strerror(response.curl_code);
  }
  // Kept even after an error (an early answer can precede a failed send), for messages.
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  // The handle must not keep pointers into this frame.
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  return response;
}

std::optional<std::string> resolve_url(const std::string& base, const std::string& reference) {
  CURLU* u = curl_url();
  if (u == nullptr) return std::nullopt;
  std::optional<std::string> out;
  // Setting a URL on a handle that already holds one resolves it as a relative reference.
  if (curl_url_set(u, CURLUPART_URL, base.c_str(), 0) == CURLUE_OK &&
      curl_url_set(u, CURLUPART_URL, reference.c_str(), 0) == CURLUE_OK) {
    char* text = nullptr;
    if (curl_url_get(u, CURLUPART_URL, &text, 0) == CURLUE_OK) {
      out = text;
      curl_free(text);
    }
  }
  curl_url_cleanup(u);
  return out;
}

}  // namespace ringest::client
