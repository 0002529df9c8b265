#include "engine/base/config.h"

#include <charconv>
#include <cstring>
#include <limits>
#include <string_view>

namespace ringest {

const char* usage_text() {
  return R"(usage: ringestd --listen HOST:PORT --data-dir DIR [options]

A resumable-upload (tus 1.0.0) ingest server: one io_uring reactor per core, request
bodies written straight from registered buffers to files at their offsets, every reported
offset fdatasync'd first.

  --listen HOST:PORT          address to listen on (IPv4); port 0 picks a free port.
                              The first stdout line is "listening on http://HOST:PORT".
  --data-dir DIR              where uploads live (created if missing); nothing is written
                              outside it
  --threads N                 reactor threads, one io_uring each (default: online cores)
  --max-upload-bytes N        largest Upload-Length accepted (default 1T)
  --max-append-bytes N        largest body of one append request, for a proxy in front that
                              caps bodies (IETF uploads announce it in Upload-Limit as
                              max-append-size and get 413 above it; default 0: no limit)
  --min-free-bytes N          keep at least N bytes free on the data directory's filesystem:
                              a creation that would cross the reserve (counting the space
                              promised to unfinished uploads) and an append that would need
                              new space below it get 507 (default 256M; the larger of this
                              and --min-free-percent applies)
  --min-free-percent P        the reserve as P % of the filesystem's size (default 2; 0 off)
  --max-uploads-per-client N  unfinished uploads one anonymous client (remote address; no
                              token or signed URL) may hold; more gets 429 (default 64; 0 off)
  --max-bytes-per-client N    sum of the lengths of one anonymous client's unfinished uploads;
                              more gets 507 (default: a quarter of the filesystem less the
                              reserve; 0 off). The largest upload announced (Tus-Max-Size,
                              Upload-Limit) is at most this, and at most the filesystem's
                              size less the reserve
  --checkpoint-bytes N        commit (fdatasync + record) at least every N body bytes
                              (default 64M)
  --buffer-bytes N            size of one receive buffer slot (default 256K; multiple of 4K)
  --buffers N                 slots per reactor, registered with its ring (default 64)
  --buffers-per-connection N  slots one connection may hold in flight (default 4)
  --max-connections N         connections per reactor (default 1024)
  --max-open-uploads N        uploads whose files stay open between requests (a bounded cache:
                              an upload nobody writes holds no descriptor beyond it; default
                              1024, 0 closes them at the end of every request)
  --max-head-bytes N          request line plus headers; larger gets 431 (default 8K)
  --max-headers N             header count; more gets 431 (default 64)
  --io-mode MODE              direct (default): data files opened O_DIRECT, 4 KiB-aligned
                              writes straight from the registered buffers; falls back to
                              buffered per upload where the filesystem refuses O_DIRECT.
                              buffered: page-cache writes.
                              splice: socket -> pipe -> file with linked splice operations
                              (page cache, no copy through user space).
  --shutdown-timeout S        SIGTERM/SIGINT: seconds to drain before exiting (default 10)
  --shutdown-timeout-ms N     the same in milliseconds
  --head-timeout D            a request head must be complete this long after its first
                              byte (after the accept for a new connection); else 408 and
                              close (default 30s; 0 disables)
  --idle-timeout D            a keep-alive connection idle this long between requests gets
                              408 and is closed (default 60s; 0 disables)
  --min-body-rate N           bytes/s a request body must average over each window in which
                              the server waits on the client; slower gets 408, the bytes
                              received are committed (default 1K; 0 disables)
  --body-rate-window D        the window of --min-body-rate (default 30s)
  --auth-token-file PATH      require a bearer token (Authorization: Bearer T) on every
                              request but /healthz and CORS preflights; PATH holds one
                              token per line (# comments, blank lines skipped); re-read on
                              SIGHUP. Missing credentials get 401, wrong ones 403
  --signing-key-file PATH     accept signed URLs (?expires=E&signature=S, HMAC-SHA256 of
                              "METHOD\nPATH\nE" with the key in PATH) instead of a token;
                              `ringest sign` makes them. See docs/access-control.md
  --signed-url-max-lifetime D a signed URL whose expiry lies further ahead than this is
                              refused (403), so no URL is valid for ever (default 7d)
  --cors-origin ORIGIN        answer CORS preflights from, and expose the tus headers to,
                              ORIGIN (e.g. https://app.example.com); repeatable; * for any
  --no-ui                     do not serve the upload page (/ and /ui/...)
  --ui-dir DIR                the upload page's files: DIR/assets.txt lists them (default:
                              the source tree's ui/, after `npm ci` there); when they are
                              missing ringestd runs without the page and says so
  --hook-url URL              POST every upload event (created, finished, terminated,
                              expired) as JSON to URL; 2xx means delivered. Events are
                              durable and retried until delivered (at least once, in order
                              per upload; receivers drop duplicates by the event id). See
                              docs/operations.md
  --hook-exec PROGRAM         run PROGRAM for every event, the JSON on its stdin; exit 0
                              means delivered (with --hook-url: both must take it)
  --hook-secret-file PATH     sign each POST: Ringest-Signature: sha256=<hex HMAC-SHA256 of
                              the body keyed with the file's contents>
  --hook-timeout D            one delivery attempt's limit (default 10s)
  --hook-retry-max D          the longest wait between attempts; the backoff doubles from
                              250ms up to it (default 60s)
  --hook-outbox-max N         events owed before new uploads get 503 (default 100000)
  --pre-create-url URL        ask URL before creating an upload (POST of its JSON): 2xx
                              accepts, 4xx refuses with that status and the body's first line
  --pre-create-exec PROGRAM   ask PROGRAM (JSON on stdin): exit 0 accepts, exit 1 refuses
                              (stdout "STATUS message", default 403)
  --pre-create-timeout D      how long the pre-create hook may take (default 5s)
  --pre-create-failure P      when it fails (unreachable, timeout, 5xx, other exit codes):
                              reject (default: 503) or accept
  --expire-after D            an unfinished upload that has received no byte for this long
                              expires: requests for it get 410 Gone, and its files and
                              record are deleted (tus `expiration`, Upload-Expires; default
                              7d; 0: never). See docs/operations.md
  --finished-retention D      a finished upload is deleted this long after it completed
                              (default 0: kept for ever)
  --fault-plan SPEC           TEST ONLY: make chosen disk operations fail (see
                              engine/io/fault_plan.h); never use in production
  --help                      this text

Sizes take a K, M, G or T suffix (powers of 1024). Durations (D) are seconds, or take an
ms, s, m, h or d suffix: 500ms, 30s, 2m, 6h, 7d.
)";
}

bool parse_size(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return false;
  int shift = 0;
  if (ptr != end) {
    if (ptr + 1 != end) return false;
    switch (*ptr) {
      case 'k': case 'K': shift = 10; break;
      case 'm': case 'M': shift = 20; break;
      case 'g': case 'G': shift = 30; break;
      case 't': case 'T': shift = 40; break;
      default: return false;
    }
  }
  if (shift && value > (std::numeric_limits<uint64_t>::max() >> shift)) return false;
  *out = value << shift;
  return true;
}

bool parse_duration_ms(const std::string& text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t value = 0;
  const char* begin = text.data();
  const char* end = begin + text.size();
  auto [ptr, ec] = std::from_chars(begin, end, value);
  if (ec != std::errc() || ptr == begin) return false;
  std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  uint64_t scale = 0;
  if (unit.empty() || unit == "s") {
    scale = 1000;
  } else if (unit == "ms") {
    scale = 1;
  } else if (unit == "m") {
    scale = 60000;
  } else if (unit == "h") {
    scale = 3600000;
  } else if (unit == "d") {
    scale = 86400000;
  } else {
    return false;
  }
  if (value > std::numeric_limits<uint64_t>::max() / scale) return false;
  *out = value * scale;
  return true;
}

namespace {

constexpr uint64_t kTenYearsMs = uint64_t{10} * 365 * 86400 * 1000;

bool parse_u32(const std::string& text, uint64_t min, uint64_t max, uint32_t* out) {
  uint64_t v = 0;
  if (!parse_size(text, &v) || v < min || v > max) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

// "*", or scheme://host[:port] as browsers send Origin: http or https, no path, no slash.
bool valid_cors_origin(const std::string& text) {
  if (text == "*") return true;
  size_t start = text.rfind("http://", 0) == 0    ? 7
                 : text.rfind("https://", 0) == 0 ? 8
                                                   : 0;
  if (start == 0 || start == text.size()) return false;
  for (size_t i = start; i < text.size(); ++i) {
    char c = text[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

bool parse_listen(const std::string& text, Config* config) {
  size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  std::string host = text.substr(0, colon);
  std::string port = text.substr(colon + 1);
  unsigned value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || port.empty() || value > 65535) {
    return false;
  }
  config->listen_host = host;
  config->listen_port = static_cast<uint16_t>(value);
  return true;
}

// The hook flags. Returns false when `flag` is not one of them; else sets *error when the value
// is bad.
bool parse_hook_flag(const std::string& flag, const std::string& value, Config* c,
                     std::string* error) {
  auto duration = [&](uint32_t* out, uint64_t min_ms, uint64_t max_ms) {
    uint64_t ms = 0;
    if (!parse_duration_ms(value, &ms) || ms < min_ms || ms > max_ms) {
      *error = flag + " wants a duration of " + std::to_string(min_ms) + "ms.." +
               std::to_string(max_ms / 1000) + "s, got '" + value + "'";
      return;
    }
    *out = static_cast<uint32_t>(ms);
  };
  if (flag == "--hook-url" || flag == "--pre-create-url") {
    if (value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) {
      *error = flag + " wants an http:// or https:// URL, got '" + value + "'";
    }
    (flag == "--hook-url" ? c->hook_url : c->pre_create_url) = value;
  } else if (flag == "--hook-exec" || flag == "--pre-create-exec" ||
             flag == "--hook-secret-file") {
    if (value.empty()) *error = flag + " must not be empty";
    if (flag == "--hook-exec") c->hook_exec = value;
    if (flag == "--pre-create-exec") c->pre_create_exec = value;
    if (flag == "--hook-secret-file") c->hook_secret_file = value;
  } else if (flag == "--hook-timeout") {
    duration(&c->hook_timeout_ms, 100, 600000);
  } else if (flag == "--hook-retry-max") {
    duration(&c->hook_retry_max_ms, 10, 86400000);
  } else if (flag == "--pre-create-timeout") {
    duration(&c->pre_create_timeout_ms, 100, 600000);
  } else if (flag == "--hook-outbox-max") {
    if (!parse_u32(value, 16, 100000000, &c->hook_outbox_max)) {
      *error = "--hook-outbox-max wants 16..100000000, got '" + value + "'";
    }
  } else if (flag == "--pre-create-failure") {
    if (value != "accept" && value != "reject") {
      *error = "--pre-create-failure wants accept or reject, got '" + value + "'";
    }
    c->pre_create_accept_on_failure = value == "accept";
  } else {
    return false;
  }
  return true;
}

}  // namespace

ParseOutcome parse_args(int argc, const char* const* argv) {
  ParseOutcome out;
  Config& c = out.config;
  auto fail = [&](std::string message) {
    out.kind = ParseOutcome::Kind::kError;
    out.error = std::move(message);
    return out;
  };
  bool have_listen = false;
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      out.kind = ParseOutcome::Kind::kHelp;
      return out;
    }
    if (flag == "--no-ui") {  // the one flag without a value
      c.ui_enabled = false;
      continue;
    }
    std::string value;
    size_t eq = flag.find('=');
    if (flag.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = flag.substr(eq + 1);
      flag = flag.substr(0, eq);
    } else {
      if (i + 1 >= argc) return fail("missing value for " + flag);
      value = argv[++i];
    }
    uint64_t size = 0;
    std::string hook_error;
    if (parse_hook_flag(flag, value, &c, &hook_error)) {
      if (!hook_error.empty()) return fail(hook_error);
    } else if (flag == "--listen") {
      if (!parse_listen(value, &c)) return fail("--listen wants HOST:PORT, got '" + value + "'");
      have_listen = true;
    } else if (flag == "--data-dir") {
      if (value.empty()) return fail("--data-dir must not be empty");
      c.data_dir = value;
    } else if (flag == "--threads") {
      uint32_t n = 0;
      if (!parse_u32(value, 1, 256, &n)) return fail("--threads wants 1..256, got '" + value + "'");
      c.threads = static_cast<int>(n);
    } else if (flag == "--max-upload-bytes") {
      if (!parse_size(value, &size) || size > (uint64_t{1} << 62)) {
        return fail("--max-upload-bytes wants a size, got '" + value + "'");
      }
      c.max_upload_bytes = size;
    } else if (flag == "--max-append-bytes") {
      if (!parse_size(value, &size) || size > (uint64_t{1} << 62)) {
        return fail("--max-append-bytes wants a size, got '" + value + "'");
      }
      c.max_append_bytes = size;
    } else if (flag == "--min-free-bytes" || flag == "--max-bytes-per-client") {
      if (!parse_size(value, &size) || size > (uint64_t{1} << 62)) {
        return fail(flag + " wants a size, got '" + value + "'");
      }
      (flag == "--min-free-bytes" ? c.min_free_bytes : c.max_bytes_per_client) = size;
    } else if (flag == "--min-free-percent") {
      if (!parse_u32(value, 0, 90, &c.min_free_percent)) {
        return fail("--min-free-percent wants 0..90, got '" + value + "'");
      }
    } else if (flag == "--max-uploads-per-client") {
      if (!parse_u32(value, 0, 1 << 20, &c.max_uploads_per_client)) {
        return fail("--max-uploads-per-client wants 0..1048576, got '" + value + "'");
      }
    } else if (flag == "--checkpoint-bytes") {
      if (!parse_size(value, &size) || size < 4096) {
        return fail("--checkpoint-bytes wants a size of at least 4K, got '" + value + "'");
      }
      c.checkpoint_bytes = size;
    } else if (flag == "--buffer-bytes") {
      if (!parse_u32(value, 16 << 10, 64 << 20, &c.buffer_bytes) || c.buffer_bytes % 4096) {
        return fail("--buffer-bytes wants a multiple of 4K between 16K and 64M, got '" + value +
                    "'");
      }
    } else if (flag == "--buffers") {
      if (!parse_u32(value, 4, 65536, &c.buffers_per_reactor)) {
        return fail("--buffers wants 4..65536, got '" + value + "'");
      }
    } else if (flag == "--buffers-per-connection") {
      if (!parse_u32(value, 1, 16, &c.buffers_per_connection)) {
        return fail("--buffers-per-connection wants 1..16, got '" + value + "'");
      }
    } else if (flag == "--max-connections") {
      if (!parse_u32(value, 1, 1 << 20, &c.max_connections)) {
        return fail("--max-connections wants 1..1048576, got '" + value + "'");
      }
    } else if (flag == "--signed-url-max-lifetime") {
      uint64_t ms = 0;
      if (!parse_duration_ms(value, &ms) || ms < 1000 || ms > uint64_t{10} * 365 * 86400 * 1000) {
        return fail("--signed-url-max-lifetime wants a duration of 1s .. 10 years, got '" +
                    value + "'");
      }
      c.signed_url_max_lifetime_s = ms / 1000;
    } else if (flag == "--max-open-uploads") {
      if (!parse_u32(value, 0, 1 << 20, &c.max_open_uploads)) {
        return fail("--max-open-uploads wants 0..1048576, got '" + value + "'");
      }
    } else if (flag == "--max-head-bytes") {
      if (!parse_u32(value, 1024, 1 << 20, &c.max_head_bytes)) {
        return fail("--max-head-bytes wants 1K..1M, got '" + value + "'");
      }
    } else if (flag == "--max-headers") {
      if (!parse_u32(value, 8, 1024, &c.max_headers)) {
        return fail("--max-headers wants 8..1024, got '" + value + "'");
      }
    } else if (flag == "--shutdown-timeout") {
      // Seconds, as an operator writes it: "10" or "10s".
      std::string seconds = value;
      if (!seconds.empty() && seconds.back() == 's') seconds.pop_back();
      uint32_t s = 0;
      if (!parse_u32(seconds, 0, 3600, &s)) {
        return fail("--shutdown-timeout wants seconds (0..3600), got '" + value + "'");
      }
      c.shutdown_timeout_ms = s * 1000;
    } else if (flag == "--shutdown-timeout-ms") {
      if (!parse_u32(value, 0, 3600000, &c.shutdown_timeout_ms)) {
        return fail("--shutdown-timeout-ms wants 0..3600000, got '" + value + "'");
      }
    } else if (flag == "--io-mode") {
      if (value == "direct") {
        c.io_mode = IoMode::kDirect;
      } else if (value == "buffered") {
        c.io_mode = IoMode::kBuffered;
      } else if (value == "splice") {
        c.io_mode = IoMode::kSplice;
      } else {
        return fail("--io-mode wants direct, buffered or splice, got '" + value + "'");
      }
    } else if (flag == "--head-timeout" || flag == "--idle-timeout" ||
               flag == "--body-rate-window") {
      uint64_t ms = 0;
      if (!parse_duration_ms(value, &ms) || ms > 86400000) {
        return fail(flag + " wants a duration up to 24h (30s, 500ms, 2m), got '" + value + "'");
      }
      if (flag == "--head-timeout") c.head_timeout_ms = static_cast<uint32_t>(ms);
      if (flag == "--idle-timeout") c.idle_timeout_ms = static_cast<uint32_t>(ms);
      if (flag == "--body-rate-window") c.body_rate_window_ms = static_cast<uint32_t>(ms);
    } else if (flag == "--min-body-rate") {
      if (!parse_u32(value, 0, uint64_t{1} << 30, &c.min_body_rate)) {
        return fail("--min-body-rate wants bytes/s up to 1G, got '" + value + "'");
      }
    } else if (flag == "--auth-token-file" || flag == "--signing-key-file") {
      if (value.empty()) return fail(flag + " must not be empty");
      (flag == "--auth-token-file" ? c.auth_token_file : c.signing_key_file) = value;
    } else if (flag == "--cors-origin") {
      if (!valid_cors_origin(value)) {
        return fail("--cors-origin wants * or scheme://host[:port] (no path, no trailing "
                    "slash), got '" + value + "'");
      }
      c.cors_origins.push_back(value);
    } else if (flag == "--ui-dir") {
      if (value.empty()) return fail("--ui-dir must not be empty");
      c.ui_dir = value;
    } else if (flag == "--expire-after" || flag == "--finished-retention") {
      uint64_t ms = 0;
      if (!parse_duration_ms(value, &ms) || ms > kTenYearsMs) {
        return fail(flag + " wants a duration up to 10 years (500ms, 6h, 7d; 0: never), got '" +
                    value + "'");
      }
      (flag == "--expire-after" ? c.expire_after_ms : c.finished_retention_ms) = ms;
    } else if (flag == "--fault-plan") {
      c.fault_plan = value;
    } else {
      return fail("unknown flag '" + flag + "'");
    }
  }
  if (!have_listen) return fail("--listen HOST:PORT is required");
  if (!c.pre_create_url.empty() && !c.pre_create_exec.empty()) {
    return fail("--pre-create-url and --pre-create-exec: choose one");
  }
  if (c.data_dir.empty()) return fail("--data-dir DIR is required");
  if (c.max_head_bytes > c.buffer_bytes / 2) {
    return fail("--max-head-bytes must be at most half of --buffer-bytes");
  }
  if (c.min_body_rate > 0 && c.body_rate_window_ms < 100) {
    return fail("--body-rate-window must be at least 100ms");
  }
  if (c.buffers_per_connection > c.buffers_per_reactor) {
    return fail("--buffers-per-connection must not exceed --buffers");
  }
  return out;
}

}  // namespace ringest
