// Calling a hook: an HTTP POST of a JSON body to a URL (libcurl), or running a program with the
// JSON on its stdin (posix_spawn). Both are blocking and bounded by a timeout: they run on the
// hook threads (the outbox's delivery thread, the pre-create workers), never on a reactor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringest::hooks {

struct HookReply {
  enum class Kind : uint8_t {
    kAccepted,  // HTTP 2xx, or the program exited 0
    kRefused,   // HTTP 4xx, or the program exited 1: `status` and `message` say why
    kFailed,    // anything else: unreachable, timed out, 5xx, a crash; `message` says what
  };
  Kind kind = Kind::kFailed;
  int status = 0;       // the HTTP status (kRefused: 400..499)
  std::string message;  // kRefused: the receiver's reason (at most 512 bytes); kFailed: ours
};

// What is sent: the event's (or the pre-create request's) name and id, and its JSON.
struct HookCall {
  std::string_view event;     // "created", "finished", ..., "pre-create"
  std::string_view event_id;  // Ringest-Event-Id / RINGEST_EVENT_ID
  std::string_view json;
};

class HttpHook {
 public:
  // `secret` non-empty: each POST carries Ringest-Signature: sha256=<hex HMAC-SHA256 of the
  // body keyed with it>.
  HttpHook(std::string url, std::string secret, uint32_t timeout_ms);
  ~HttpHook();
  HttpHook(const HttpHook&) = delete;
  HttpHook& operator=(const HttpHook&) = delete;

  HookReply call(const HookCall& call);
  const std::string& url() const { return url_; }

 private:
  std::string url_;
  std::string secret_;
  uint32_t timeout_ms_;
  void* curl_ = nullptr;  // CURL*, reused: keeps the connection alive between calls
};

class ExecHook {
 public:
  ExecHook(std::string program, uint32_t timeout_ms);
  // Runs the program with the JSON on stdin and RINGEST_EVENT, RINGEST_EVENT_ID in its
  // environment; its stderr is ringestd's. Exit 0: accepted. Exit 1: refused; the first line of
  // its stdout may be "STATUS message" (STATUS 400..499; default 403). Else, or past the
  // timeout (then it is killed): failed.
  HookReply call(const HookCall& call) const;
  const std::string& program() const { return program_; }

 private:
  std::string program_;
  uint32_t timeout_ms_;
};

// The hex HMAC-SHA256 of `body` keyed with `secret` (what Ringest-Signature carries).
std::string hook_signature(std::string_view secret, std::string_view body);

}  // namespace ringest::hooks
