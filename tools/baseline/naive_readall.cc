// naive-readall: THE ANTI-PATTERN RINGEST EXISTS TO BEAT. Benchmark baseline only, not part of
// ringestd.
//
// For every upload request it reads the WHOLE body into memory first, in a buffer that grows as
// bytes arrive (what Go's io.ReadAll does: start at 512 bytes, grow by appending), and only then
// writes the file in one go (a pwrite loop at the upload's offset) and answers. Its memory
// therefore grows with the size of every upload in flight, and nothing reaches the disk until the
// last body byte has arrived. It is deliberately NOT clever: no streaming to disk, no reserve()
// from Content-Length, no mmap, no splice/sendfile on the upload path. Like most naive handlers
// it does not fsync: an answered offset may still be only in the page cache.
//
// It is otherwise sane, so the benchmark compares designs, not bugs: llhttp parses requests,
// the request head is bounded (431), bad requests get 400, names are checked and opened relative
// to the data directory without following symlinks (nothing is ever written outside DIR), a
// client that disconnects mid-body only loses that request (offsets do not move), and an
// allocation failure (std::bad_alloc, e.g. under RLIMIT_AS) answers 500 and closes instead of
// crashing. One thread per connection; the accept loop runs in the main thread.
//
// Speaks what the load generator sends to ringestd:
//   OPTIONS /files/                 204, Tus-Version / Tus-Extension
//   POST /files/                    tus creation (+ creation-with-upload): 201, Location /files/<id>
//   PATCH /files/<id>               Upload-Offset must equal the current offset (else 409): 204
//   HEAD /files/<id>                Upload-Offset, Upload-Length
//   GET /files/<id>                 the stored bytes of a complete upload (409 while incomplete)
//   PUT /files/NAME                 NAME [A-Za-z0-9._-]{1,64}, stored as DIR/put/NAME: 201 / 204
//   GET /files/NAME                 the stored PUT file
// Bodies need Content-Length (chunked request bodies get 411). Upload state lives in memory
// only (tus files are DIR/tus/<id>): uploads do not survive a restart.
//
// Usage: naive-readall --listen HOST:PORT --data-dir DIR   (port 0 picks a free port; the first
// stdout line is "listening on http://HOST:PORT"). SIGTERM/SIGINT exit at once.
#include <fcntl.h>
#include <llhttp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

namespace {

constexpr size_t kReadChunk = 64 * 1024;           // one recv(2)
constexpr size_t kInitialBody = 512;               // io.ReadAll's first buffer
constexpr size_t kMaxHeadBytes = 64 * 1024;        // request line + headers, else 431
constexpr size_t kMaxHeaders = 100;                // else 431
constexpr uint64_t kDiscardLimit = 256 * 1024;     // early answer: read and drop at most this
constexpr int kMaxConnections = 1024;              // one thread each; beyond: 503
constexpr int kSocketTimeoutSeconds = 120;         // a silent peer is dropped
constexpr int kLingerSeconds = 5;                  // drain after an early answer, then close
constexpr const char* kTusVersion = "1.0.0";

// ---- shared state ------------------------------------------------------------------------------

struct Upload {
  uint64_t length = 0;
  uint64_t offset = 0;  // bytes written (not fsynced: this server never fsyncs)
  bool busy = false;    // a PATCH is reading its body; a second one gets 409
};

std::mutex g_mutex;
std::unordered_map<std::string, Upload> g_uploads;  // guarded by g_mutex
int g_tus_dir = -1;                                 // DIR/tus, O_DIRECTORY
int g_put_dir = -1;                                 // DIR/put, O_DIRECTORY
std::atomic<int> g_connections{0};

// ---- small helpers -----------------------------------------------------------------------------

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Decimal digits only, no sign, at most 2^63 - 1.
std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return v;
}

// [A-Za-z0-9._-]{1,64}, and not "." or "..": a name can only ever mean a file inside its folder.
bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string random_id() {
  unsigned char raw[16];
  size_t got = 0;
  while (got < sizeof raw) {
    ssize_t n = getrandom(raw + got, sizeof raw - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw std::runtime_error("getrandom failed");
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  for (unsigned char b : raw) {
    id += kHex[b >> 4];
    id += kHex[b & 15];
  }
  return id;
}

bool send_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool send_all(int fd, std::string_view s) { return send_all(fd, s.data(), s.size()); }

// The naive write: the whole body, in one go, at the offset. No fsync.
bool pwrite_all(int fd, const char* data, size_t size, uint64_t offset) {
  while (size > 0) {
    ssize_t n = pwrite(fd, data, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
    offset += static_cast<uint64_t>(n);
  }
  return true;
}

const char* reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

using Headers = std::vector<std::pair<std::string, std::string>>;

// A complete response head (+ a short text body for errors). Content-Length is omitted only for
// 204 and for HEAD answers, whose framing has no body.
std::string response(int status, const Headers& extra, std::string_view body = {},
                     bool close = false, bool head_answer = false) {
  std::string r = "HTTP/1.1 " + std::to_string(status) + " " + reason(status) + "\r\n";
  r += "Tus-Resumable: 1.0.0\r\n";
  for (const auto& [name, value] : extra) r += name + ": " + value + "\r\n";
  if (status != 204 && !head_answer) r += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  if (close) r += "Connection: close\r\n";
  r += "\r\n";
  r += body;
  return r;
}

std::string error_response(int status, std::string_view text, bool close = false,
                           Headers extra = {}) {
  if (status == 412) extra.emplace_back("Tus-Version", kTusVersion);
  extra.emplace_back("Content-Type", "text/plain");
  return response(status, extra, std::string(text) + "\n", close);
}

// ---- one connection ----------------------------------------------------------------------------

enum class Action { kReply, kCreate, kPatch, kPut, kGet, kHead, kOptions };

class Connection {
 public:
  explicit Connection(int fd) : fd_(fd) {
    llhttp_settings_init(&settings_);
    settings_.on_message_begin = &Connection::on_message_begin;
    settings_.on_url = &Connection::on_url;
    settings_.on_header_field = &Connection::on_header_field;
    settings_.on_header_value = &Connection::on_header_value;
    settings_.on_headers_complete = &Connection::on_headers_complete;
    settings_.on_body = &Connection::on_body;
    settings_.on_message_complete = &Connection::on_message_complete;
    llhttp_init(&parser_, HTTP_REQUEST, &settings_);
    parser_.data = this;
  }
  ~Connection() {
    release_busy();
    ::close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void serve();

 private:
  enum class Pause { kNone, kHeaders, kMessage };

  static Connection* self(llhttp_t* p) { return static_cast<Connection*>(p->data); }
  // Callbacks run inside llhttp's C frames: no exception may cross them.
  template <typename F>
  static int guarded(llhttp_t* p, F&& f) {
    try {
      return f(self(p));
    } catch (const std::bad_alloc&) {
      self(p)->alloc_failed_ = true;
      return -1;
    } catch (...) {
      return -1;
    }
  }
  static int on_message_begin(llhttp_t* p) {
    return guarded(p, [](Connection* c) {
      c->url_.clear();
      c->headers_.clear();
      c->in_value_ = false;
      c->head_bytes_ = 0;
      return 0;
    });
  }
  static int on_url(llhttp_t* p, const char* at, size_t len) {
    return guarded(p, [&](Connection* c) {
      if (!c->count_head(len)) return -1;
      c->url_.append(at, len);
      return 0;
    });
  }
  static int on_header_field(llhttp_t* p, const char* at, size_t len) {
    return guarded(p, [&](Connection* c) {
      if (!c->count_head(len)) return -1;
      if (c->headers_.empty() || c->in_value_) {
        if (c->headers_.size() >= kMaxHeaders) {
          c->head_too_big_ = true;
          return -1;
        }
        c->headers_.emplace_back();
        c->in_value_ = false;
      }
      c->headers_.back().first.append(at, len);
      return 0;
    });
  }
  static int on_header_value(llhttp_t* p, const char* at, size_t len) {
    return guarded(p, [&](Connection* c) {
      if (!c->count_head(len)) return -1;
      c->in_value_ = true;
      c->headers_.back().second.append(at, len);
      return 0;
    });
  }
  static int on_headers_complete(llhttp_t* p) {
    self(p)->pause_ = Pause::kHeaders;
    return HPE_PAUSED;
  }
  // THE NAIVE PART: every body byte is appended to one in-memory buffer that grows as it fills.
  static int on_body(llhttp_t* p, const char* at, size_t len) {
    return guarded(p, [&](Connection* c) {
      if (c->keep_body_) c->body_.append(at, len);  // may throw std::bad_alloc: answered 500
      return 0;
    });
  }
  static int on_message_complete(llhttp_t* p) {
    self(p)->pause_ = Pause::kMessage;
    return HPE_PAUSED;
  }

  bool count_head(size_t len) {
    head_bytes_ += len;
    if (head_bytes_ > kMaxHeadBytes) head_too_big_ = true;
    return !head_too_big_;
  }

  // The value of a header (case-insensitive name); "duplicate" set when it appears twice.
  std::optional<std::string> header(std::string_view name, bool* duplicate = nullptr) const {
    std::optional<std::string> found;
    for (const auto& [n, v] : headers_) {
      if (lower(n) != name) continue;
      if (found && duplicate) *duplicate = true;
      if (!found) found = std::string(trim(v));
    }
    return found;
  }

  void release_busy() {
    if (busy_id_.empty()) return;
    std::lock_guard lock(g_mutex);
    auto it = g_uploads.find(busy_id_);
    if (it != g_uploads.end()) it->second.busy = false;
    busy_id_.clear();
  }

  bool headers_done();
  bool message_done();
  void plan_request();
  void reply_now_and_close(const std::string& bytes);
  void linger_and_close();
  std::string handle();
  std::string handle_create();
  std::string handle_patch();
  std::string handle_put();
  std::string handle_head();
  bool handle_get();  // streams; false when the connection must close

  int fd_;
  llhttp_settings_t settings_{};
  llhttp_t parser_{};
  Pause pause_ = Pause::kNone;

  // The request being parsed.
  std::string url_;
  Headers headers_;
  bool in_value_ = false;
  size_t head_bytes_ = 0;
  bool head_too_big_ = false;
  bool alloc_failed_ = false;
  bool keep_alive_ = true;

  // What to do with it, decided once the head is complete.
  Action action_ = Action::kReply;
  int reply_status_ = 500;  // kReply: the refusal
  std::string reply_text_;
  Headers reply_extra_;
  std::string target_;  // upload id or PUT name
  uint64_t upload_length_ = 0;
  uint64_t upload_offset_ = 0;
  bool keep_body_ = false;
  std::string body_;      // the whole body, in memory
  std::string busy_id_;   // the upload this connection's PATCH holds
  std::vector<char> in_;  // the recv buffer
};

void Connection::serve() {
  in_.resize(kReadChunk);
  for (;;) {
    ssize_t n = recv(fd_, in_.data(), in_.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    // EOF, reset or timeout: a body that did not arrive in full is dropped, offsets do not move.
    if (n <= 0) return;
    const char* p = in_.data();
    size_t left = static_cast<size_t>(n);
    // Runs again after every pause, even with nothing left: a request without a body completes
    // (on_message_complete) only when llhttp is resumed after the headers pause.
    for (;;) {
      pause_ = Pause::kNone;
      llhttp_errno_t rc = llhttp_execute(&parser_, p, left);
      if (rc == HPE_OK) break;
      // After an Upgrade or CONNECT request (already answered at its message end) llhttp
      // stops parsing HTTP: so does this server, it closes.
      if (rc == HPE_PAUSED_UPGRADE) return;
      if (rc == HPE_PAUSED) {
        const char* stop = llhttp_get_error_pos(&parser_);
        left -= static_cast<size_t>(stop - p);
        p = stop;
        llhttp_resume(&parser_);
        bool go_on = false;
        try {
          go_on = pause_ == Pause::kHeaders ? headers_done() : message_done();
        } catch (const std::bad_alloc&) {
          alloc_failed_ = true;
        }
        if (alloc_failed_) break;
        if (!go_on) return;
        continue;
      }
      if (alloc_failed_) break;  // thrown inside a callback
      if (head_too_big_) {
        return reply_now_and_close(error_response(431, "request head too large", true));
      }
      return reply_now_and_close(error_response(400, llhttp_errno_name(rc), true));
    }
    if (alloc_failed_) {
      // The growing body buffer (or anything else) could not be allocated: give the memory
      // back, answer 500 and close. The upload's offset does not move.
      size_t had = body_.size();
      std::string().swap(body_);
      std::fprintf(stderr, "naive-readall: out of memory after %zu body bytes: 500\n", had);
      return reply_now_and_close(error_response(500, "out of memory", true));
    }
  }
}

// The head is complete: decide, before a body byte is taken, whether the request is acceptable.
bool Connection::headers_done() {
  keep_alive_ = llhttp_should_keep_alive(&parser_) != 0;
  keep_body_ = false;
  std::string().swap(body_);
  plan_request();
  uint64_t content_length = (parser_.flags & F_CONTENT_LENGTH) ? parser_.content_length : 0;
  if (action_ == Action::kReply) {
    // Rejected. A small body is read and dropped (keep-alive); a big one is not waited for.
    if (content_length > kDiscardLimit) {
      reply_now_and_close(error_response(reply_status_, reply_text_, true, reply_extra_));
      return false;
    }
    return true;
  }
  if (action_ == Action::kCreate || action_ == Action::kPatch || action_ == Action::kPut) {
    keep_body_ = true;
    body_.reserve(kInitialBody);  // 512 bytes, like io.ReadAll; never sized from Content-Length
    auto expect = header("expect");
    if (expect && lower(*expect) == "100-continue" && content_length > 0) {
      if (!send_all(fd_, "HTTP/1.1 100 Continue\r\n\r\n")) return false;
    }
  }
  return true;
}

// The whole request (body included) has arrived: act and answer.
bool Connection::message_done() {
  if (action_ == Action::kGet) {
    bool ok = handle_get();
    return ok && keep_alive_;
  }
  std::string answer = handle();
  std::string().swap(body_);  // the body's memory goes back now
  keep_body_ = false;
  if (!send_all(fd_, answer)) return false;
  return keep_alive_;
}

void Connection::plan_request() {
  action_ = Action::kReply;
  target_.clear();
  auto reject = [&](int status, std::string_view text, Headers extra = {}) {
    action_ = Action::kReply;
    reply_status_ = status;
    reply_text_ = std::string(text);
    reply_extra_ = std::move(extra);
  };
  const auto method = static_cast<llhttp_method_t>(llhttp_get_method(&parser_));
  if (parser_.flags & F_CHUNKED) {
    return reject(411, "chunked request bodies are not supported; send Content-Length");
  }
  if (url_.empty() || url_[0] != '/') return reject(400, "bad request target");
  std::string_view path(url_);
  path = path.substr(0, path.find_first_of("?#"));
  constexpr std::string_view kPrefix = "/files/";
  bool collection = path == "/files" || path == kPrefix;
  std::string_view name;
  if (!collection) {
    if (path.substr(0, kPrefix.size()) != kPrefix) return reject(404, "not found");
    name = path.substr(kPrefix.size());
    if (!valid_name(name)) return reject(400, "bad name: want [A-Za-z0-9._-]{1,64}");
  }
  if (method == HTTP_OPTIONS) {
    action_ = Action::kOptions;
    return;
  }
  bool tus_method = method == HTTP_POST || method == HTTP_PATCH || method == HTTP_HEAD;
  if (tus_method) {
    auto version = header("tus-resumable");
    if (!version || *version != kTusVersion) return reject(412, "Tus-Resumable: 1.0.0 required");
  }
  const bool has_length = (parser_.flags & F_CONTENT_LENGTH) != 0;
  const uint64_t content_length = has_length ? parser_.content_length : 0;
  auto offset_octets = [&] {
    auto type = header("content-type");
    if (!type) return false;
    std::string_view t(*type);
    return lower(trim(t.substr(0, t.find(';')))) == "application/offset+octet-stream";
  };

  if (collection) {
    if (method != HTTP_POST) return reject(405, "method not allowed", {{"Allow", "OPTIONS, POST"}});
    bool dup = false;
    auto length = header("upload-length", &dup);
    if (!length) return reject(400, "Upload-Length required (Upload-Defer-Length unsupported)");
    auto parsed = parse_u64(*length);
    if (!parsed || dup) return reject(400, "bad Upload-Length");
    if (content_length > 0) {
      if (!offset_octets()) return reject(415, "Content-Type: application/offset+octet-stream");
      if (content_length > *parsed) return reject(413, "body exceeds Upload-Length");
    }
    upload_length_ = *parsed;
    action_ = Action::kCreate;
    return;
  }

  target_ = std::string(name);
  switch (method) {
    case HTTP_PUT:
      if (!has_length) return reject(411, "Content-Length required");
      action_ = Action::kPut;
      return;
    case HTTP_GET:
      action_ = Action::kGet;
      return;
    case HTTP_HEAD:
      action_ = Action::kHead;
      return;
    case HTTP_PATCH: {
      if (!offset_octets()) return reject(415, "Content-Type: application/offset+octet-stream");
      if (!has_length) return reject(411, "Content-Length required");
      bool dup = false;
      auto offset_text = header("upload-offset", &dup);
      auto offset = offset_text ? parse_u64(*offset_text) : std::nullopt;
      if (!offset || dup) return reject(400, "bad Upload-Offset");
      std::lock_guard lock(g_mutex);
      auto it = g_uploads.find(target_);
      if (it == g_uploads.end()) return reject(404, "no such upload");
      Upload& u = it->second;
      Headers at{{"Upload-Offset", std::to_string(u.offset)}};
      if (u.busy) return reject(409, "another request is writing this upload", at);
      if (*offset != u.offset) return reject(409, "Upload-Offset does not match", at);
      if (content_length > u.length - u.offset) return reject(413, "body exceeds Upload-Length");
      u.busy = true;
      busy_id_ = target_;
      upload_offset_ = *offset;
      action_ = Action::kPatch;
      return;
    }
    default:
      return reject(405, "method not allowed", {{"Allow", "OPTIONS, HEAD, GET, PATCH, PUT"}});
  }
}

std::string Connection::handle() {
  switch (action_) {
    case Action::kReply:
      return error_response(reply_status_, reply_text_, !keep_alive_, reply_extra_);
    case Action::kOptions:
      return response(204, {{"Tus-Version", kTusVersion},
                            {"Tus-Extension", "creation,creation-with-upload"}});
    case Action::kCreate: return handle_create();
    case Action::kPatch: return handle_patch();
    case Action::kPut: return handle_put();
    case Action::kHead: return handle_head();
    case Action::kGet: break;  // streamed by handle_get()
  }
  return error_response(500, "unreachable", true);
}

std::string Connection::handle_create() {
  std::string id = random_id();
  int fd = openat(g_tus_dir, id.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
  if (fd < 0) return error_response(500, std::string("create: ") + std::strerror(errno));
  bool ok = pwrite_all(fd, body_.data(), body_.size(), 0);  // creation-with-upload
  ::close(fd);
  if (!ok) {
    unlinkat(g_tus_dir, id.c_str(), 0);
    return error_response(500, "write failed");
  }
  {
    std::lock_guard lock(g_mutex);
    g_uploads[id] = Upload{upload_length_, body_.size(), false};
  }
  return response(201, {{"Location", "/files/" + id}, {"Upload-Offset", std::to_string(body_.size())}});
}

std::string Connection::handle_patch() {
  // The body is complete in memory; now, and only now, it goes to the file in one go.
  int fd = openat(g_tus_dir, target_.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
  bool ok = fd >= 0 && pwrite_all(fd, body_.data(), body_.size(), upload_offset_);
  int saved = errno;
  if (fd >= 0) ::close(fd);
  uint64_t offset = 0;
  {
    std::lock_guard lock(g_mutex);
    Upload& u = g_uploads.at(target_);
    if (ok) u.offset += body_.size();
    u.busy = false;
    offset = u.offset;
    busy_id_.clear();
  }
  if (!ok) return error_response(500, std::string("write: ") + std::strerror(saved));
  return response(204, {{"Upload-Offset", std::to_string(offset)}});
}

std::string Connection::handle_put() {
  int status = 201;
  int fd = openat(g_put_dir, target_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                  0644);
  if (fd < 0 && errno == EEXIST) {
    status = 204;
    fd = openat(g_put_dir, target_.c_str(), O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
  }
  if (fd < 0) return error_response(500, std::string("open: ") + std::strerror(errno));
  bool ok = pwrite_all(fd, body_.data(), body_.size(), 0);
  int saved = errno;
  ::close(fd);
  if (!ok) return error_response(500, std::string("write: ") + std::strerror(saved));
  return response(status, {});
}

std::string Connection::handle_head() {
  std::lock_guard lock(g_mutex);
  auto it = g_uploads.find(target_);
  if (it == g_uploads.end()) return response(404, {}, {}, false, true);
  return response(200,
                  {{"Upload-Offset", std::to_string(it->second.offset)},
                   {"Upload-Length", std::to_string(it->second.length)},
                   {"Cache-Control", "no-store"}},
                  {}, false, true);
}

// GET streams the file with a bounded buffer: the naive part of this server is the upload path.
bool Connection::handle_get() {
  int fd = -1;
  {
    std::lock_guard lock(g_mutex);
    auto it = g_uploads.find(target_);
    if (it != g_uploads.end()) {
      if (it->second.offset != it->second.length) {
        return send_all(fd_, error_response(409, "upload is not complete"));
      }
      fd = openat(g_tus_dir, target_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    }
  }
  if (fd < 0) fd = openat(g_put_dir, target_.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return send_all(fd_, error_response(404, "not found"));
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return send_all(fd_, error_response(404, "not found"));
  }
  uint64_t size = static_cast<uint64_t>(st.st_size);
  bool ok = send_all(fd_, response(200, {{"Content-Type", "application/octet-stream"},
                                         {"Content-Length", std::to_string(size)}},
                                   {}, false, /*head_answer=*/true));
  std::vector<char> chunk(256 * 1024);
  uint64_t sent = 0;
  while (ok && sent < size) {
    ssize_t n = pread(fd, chunk.data(), chunk.size(), static_cast<off_t>(sent));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ok = false;  // the file shrank: the framing is broken, close the connection
    if (n > 0) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(static_cast<uint64_t>(n), size - sent));
      ok = send_all(fd_, chunk.data(), want);
      sent += want;
    }
  }
  ::close(fd);
  return ok;
}

void Connection::reply_now_and_close(const std::string& bytes) {
  release_busy();  // this request is over: the upload is free before the client hears so
  send_all(fd_, bytes);
  linger_and_close();
}

// After an answer sent before the body was read: stop writing, read and drop what the client
// still sends for a few seconds (until it closes), so it sees the answer rather than a reset.
void Connection::linger_and_close() {
  shutdown(fd_, SHUT_WR);
  timeval tv{1, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(kLingerSeconds);
  char drop[16384];
  while (std::chrono::steady_clock::now() < deadline) {
    ssize_t n = recv(fd_, drop, sizeof drop, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
  }
}

void serve_connection(int fd) {
  try {
    Connection c(fd);
    c.serve();
  } catch (const std::bad_alloc&) {
    // The Connection (and its fd) is gone; nothing else to free. Could not even answer.
  } catch (const std::exception& e) {
    std::fprintf(stderr, "naive-readall: connection: %s\n", e.what());
  }
  g_connections.fetch_sub(1);
}

// ---- main --------------------------------------------------------------------------------------

int usage(FILE* out, int code) {
  std::fprintf(out,
               "usage: naive-readall --listen HOST:PORT --data-dir DIR\n"
               "  The naive upload baseline: reads each body fully into memory, then writes it.\n");
  return code;
}

int open_dir(const std::string& path) {
  if (mkdir(path.c_str(), 0750) != 0 && errno != EEXIST) return -1;
  return open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

}  // namespace

int main(int argc, char** argv) {
  std::string listen_arg;
  std::string data_dir;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    std::string* into = nullptr;
    std::string_view flag = a.substr(0, a.find('='));
    if (flag == "--help" || flag == "-h") return usage(stdout, 0);
    if (flag == "--listen") into = &listen_arg;
    if (flag == "--data-dir") into = &data_dir;
    if (into == nullptr) {
      std::fprintf(stderr, "naive-readall: unknown argument %s\n", argv[i]);
      return usage(stderr, 2);
    }
    if (a.find('=') != std::string_view::npos) {
      *into = std::string(a.substr(a.find('=') + 1));
    } else if (i + 1 < argc) {
      *into = argv[++i];
    } else {
      std::fprintf(stderr, "naive-readall: %s needs a value\n", argv[i]);
      return usage(stderr, 2);
    }
  }
  if (listen_arg.empty() || data_dir.empty()) return usage(stderr, 2);
  size_t colon = listen_arg.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::fprintf(stderr, "naive-readall: --listen wants HOST:PORT\n");
    return 2;
  }
  std::string host = listen_arg.substr(0, colon);
  std::string port = listen_arg.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  auto port_number = parse_u64(port);
  if (!port_number || *port_number > 65535) {
    std::fprintf(stderr, "naive-readall: bad port %s\n", port.c_str());
    return 2;
  }

  if (mkdir(data_dir.c_str(), 0750) != 0 && errno != EEXIST) {
    std::fprintf(stderr, "naive-readall: %s: %s\n", data_dir.c_str(), std::strerror(errno));
    return 1;
  }
  g_tus_dir = open_dir(data_dir + "/tus");
  g_put_dir = open_dir(data_dir + "/put");
  if (g_tus_dir < 0 || g_put_dir < 0) {
    std::fprintf(stderr, "naive-readall: data dir %s: %s\n", data_dir.c_str(),
                 std::strerror(errno));
    return 1;
  }

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    std::fprintf(stderr, "naive-readall: %s: %s\n", host.c_str(), gai_strerror(rc));
    return 2;
  }
  int lfd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  if (lfd >= 0) setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (lfd < 0 || bind(lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(lfd, 512) != 0) {
    std::fprintf(stderr, "naive-readall: listen on %s: %s\n", listen_arg.c_str(),
                 std::strerror(errno));
    return 1;
  }
  freeaddrinfo(res);
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof bound;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&bound), &bound_len);
  unsigned actual_port = bound.ss_family == AF_INET6
                             ? ntohs(reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port)
                             : ntohs(reinterpret_cast<sockaddr_in*>(&bound)->sin_port);

  // SIGTERM/SIGINT are blocked in every thread (threads inherit the mask) and read from a
  // signalfd by the accept loop.
  signal(SIGPIPE, SIG_IGN);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  int sfd = signalfd(-1, &stop_signals, SFD_CLOEXEC);
  if (sfd < 0) {
    std::perror("naive-readall: signalfd");
    return 1;
  }

  bool v6 = host.find(':') != std::string::npos;
  std::printf("listening on http://%s%s%s:%u\n", v6 ? "[" : "", host.c_str(), v6 ? "]" : "",
              actual_port);
  std::fflush(stdout);

  for (;;) {
    pollfd fds[2] = {{lfd, POLLIN, 0}, {sfd, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      std::perror("naive-readall: poll");
      return 1;
    }
    if (fds[1].revents & POLLIN) {
      signalfd_siginfo info{};
      ssize_t got = read(sfd, &info, sizeof info);
      (void)got;
      std::fprintf(stderr, "naive-readall: signal %u, exiting\n", info.ssi_signo);
      std::fflush(stderr);
      // Connection threads are detached and may be mid-request: leave without running
      // destructors under them. Nothing is buffered in memory that a destructor would save.
      std::_Exit(0);
    }
    if (!(fds[0].revents & POLLIN)) continue;
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      continue;
    }
    timeval tv{kSocketTimeoutSeconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (g_connections.fetch_add(1) >= kMaxConnections) {
      g_connections.fetch_sub(1);
      static const char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      send(fd, kBusy, sizeof kBusy - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(fd);
      continue;
    }
    try {
      std::thread(serve_connection, fd).detach();
    } catch (const std::exception& e) {  // std::system_error (no thread) or std::bad_alloc
      std::fprintf(stderr, "naive-readall: no thread for a connection: %s\n", e.what());
      g_connections.fetch_sub(1);
      ::close(fd);
    }
  }
}
