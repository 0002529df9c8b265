// ringestd's configuration, parsed from the command line. Parsing is pure (argv in, Config or
// an error message out) so tests can drive it; main() decides what to print and the exit code.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringest {

// How body bytes reach the data file.
enum class IoMode { kBuffered, kDirect, kSplice };

struct Config {
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 8080;
  std::string data_dir;
  int threads = 0;                                    // 0: one reactor per online core
  uint64_t max_upload_bytes = uint64_t{1} << 40;      // largest Upload-Length accepted (1 TiB)
  uint64_t checkpoint_bytes = uint64_t{64} << 20;     // commit at least this often in a body
  // The largest body one append request may carry (0: no limit beyond the upload's length), for
  // a proxy in front that caps request bodies; announced in IETF Upload-Limit max-append-size.
  uint64_t max_append_bytes = 0;
  uint32_t buffer_bytes = 256u << 10;                 // one slot of the per-reactor pool
  uint32_t buffers_per_reactor = 64;                  // slots in each reactor's pool
  uint32_t buffers_per_connection = 4;                // slots one connection may hold at once
  uint32_t max_connections = 1024;                    // per reactor
  uint32_t max_open_uploads = 1024;                   // idle uploads whose files stay open
  uint32_t max_head_bytes = 8192;                     // request line + headers
  uint32_t max_headers = 64;
  uint32_t shutdown_timeout_ms = 10000;
  // Slow or silent clients (0 disables each): the whole request head must arrive within
  // head_timeout_ms of its first byte (of the accept for a new connection); a keep-alive
  // connection may sit idle between requests for idle_timeout_ms; a body must average at least
  // min_body_rate bytes/s over every body_rate_window_ms in which the server was waiting on the
  // client (windows where the disk held it back do not count). Each ends in 408 and close.
  uint32_t head_timeout_ms = 30000;
  uint32_t idle_timeout_ms = 60000;
  uint32_t min_body_rate = 1024;
  uint32_t body_rate_window_ms = 30000;
  IoMode io_mode = IoMode::kDirect;                   // O_DIRECT where the filesystem has it
  std::string fault_plan;                             // test-only, see engine/io/fault_plan.h
  // Expiry (engine/upload/expiry.h; 0 disables each): an unfinished upload is deleted this long
  // after its last byte, a finished one this long after it completed.
  uint64_t expire_after_ms = uint64_t{7} * 86400 * 1000;  // --expire-after (7d)
  uint64_t finished_retention_ms = 0;                     // --finished-retention (keep)
  // Access control (docs/access-control.md), each off while empty.
  std::string auth_token_file;        // bearer tokens, one per line; re-read on SIGHUP
  std::string signing_key_file;       // HMAC-SHA256 key for signed upload URLs
  uint64_t signed_url_max_lifetime_s = 7 * 24 * 3600;  // a signature expiring later is refused
  std::vector<std::string> cors_origins;  // allowed browser origins; "*" allows any
  // The upload page at / (docs/architecture.md, "The upload page").
  bool ui_enabled = true;  // --no-ui turns it off
  std::string ui_dir;      // empty: the source tree's ui/ (ringestd's compile-time default)
  // Hooks (docs/operations.md, "Hooks"): event sinks, each off while empty.
  std::string hook_url;          // POST each event's JSON here
  std::string hook_exec;         // run this with each event's JSON on stdin
  std::string hook_secret_file;  // HMAC-SHA256 key: Ringest-Signature on each POST
  uint32_t hook_timeout_ms = 10000;
  uint32_t hook_retry_max_ms = 60000;  // the cap of the exponential backoff between attempts
  uint32_t hook_outbox_max = 100000;   // events owed before new uploads get 503
  // The blocking pre-create hook: may refuse an upload before it exists.
  std::string pre_create_url;
  std::string pre_create_exec;
  uint32_t pre_create_timeout_ms = 5000;
  bool pre_create_accept_on_failure = false;  // --pre-create-failure accept|reject
  bool hooks_enabled() const { return !hook_url.empty() || !hook_exec.empty(); }
  bool pre_create_enabled() const { return !pre_create_url.empty() || !pre_create_exec.empty(); }
  // The disk budget (docs/operations.md, "Disk budget"). The free-space reserve is the larger of
  // min_free_bytes and min_free_percent of the data directory's filesystem. Per anonymous client
  // (remote address): unfinished uploads, and the sum of their lengths (kAutoClientBytes: a
  // quarter of the filesystem less the reserve); 0 disables a per-client bound.
  static constexpr uint64_t kAutoClientBytes = UINT64_MAX;
  uint64_t min_free_bytes = uint64_t{256} << 20;
  uint32_t min_free_percent = 2;
  uint32_t max_uploads_per_client = 64;
  uint64_t max_bytes_per_client = kAutoClientBytes;
};

struct ParseOutcome {
  enum class Kind { kRun, kHelp, kError } kind = Kind::kRun;
  Config config;
  std::string error;  // for kError: one line saying what is wrong
};

ParseOutcome parse_args(int argc, const char* const* argv);

// Sizes accept a plain byte count or a K/M/G/T suffix (powers of 1024), e.g. "64M".
bool parse_size(const std::string& text, uint64_t* out);

// Durations: "30" or "30s" (seconds), "500ms", "2m", "6h", "7d". Out: milliseconds.
bool parse_duration_ms(const std::string& text, uint64_t* out);

const char* usage_text();

}  // namespace ringest
