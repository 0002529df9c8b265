#include "tools/client/cli.h"

#include <charconv>
#include <set>

#include "engine/base/config.h"
#include "http/access/credential_files.h"

namespace ringest::client {
namespace {

bool parse_uint(const std::string& text, uint64_t min, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return false;
  if (v < min || v > max) return false;
  *out = v;
  return true;
}

// tus: a metadata key is ASCII without spaces and commas (it is followed by a space and the
// value, and pairs are comma separated). Checked here so a bad key is a usage error (2) and not
// a 400 from the server after the file has been opened.
bool valid_metadata_key(const std::string& key) {
  if (key.empty()) return false;
  for (char c : key) {
    if (c <= 0x20 || c >= 0x7f || c == ',') return false;
  }
  return true;
}

bool is_http_url(const std::string& url) {
  return url.rfind("http://", 0) == 0 || url.rfind("https://", 0) == 0;
}

bool is_sign_method(const std::string& m) {
  for (const char* known : {"POST", "GET", "HEAD", "PATCH", "DELETE", "OPTIONS", "*"}) {
    if (m == known) return true;
  }
  return false;
}

}  // namespace

ParseResult parse_command_line(int argc, const char* const* argv) {
  ParseResult out;
  Options& o = out.options;
  auto fail = [&](std::string message) {
    out.kind = ParseResult::Kind::kError;
    out.error = std::move(message);
    return out;
  };
  std::vector<std::string> positional;
  std::set<std::string> metadata_keys;
  bool flags_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (flags_done || arg.empty() || arg[0] != '-' || arg == "-") {
      positional.push_back(arg);
      continue;
    }
    if (arg == "--") {
      flags_done = true;
      continue;
    }
    if (arg == "--help" || arg == "-h") {
      out.kind = ParseResult::Kind::kHelp;
      return out;
    }
    if (arg == "--quiet" || arg == "-q") {
      o.quiet = true;
      continue;
    }
    std::string flag = arg;
    std::string value;
    size_t eq = arg.find('=');
    if (arg.rfind("--", 0) == 0 && eq != std::string::npos) {
      flag = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= argc) return fail("missing value for " + flag);
      value = argv[++i];
    }
    uint64_t n = 0;
    if (flag == "--chunk-bytes") {
      if (!parse_size(value, &n) || n == 0) {
        return fail("--chunk-bytes wants a size > 0 (e.g. 4M), got '" + value + "'");
      }
      o.chunk_bytes = n;
    } else if (flag == "--retries") {
      if (!parse_uint(value, 0, 1000, &n)) {
        return fail("--retries wants 0..1000, got '" + value + "'");
      }
      o.retries = static_cast<int>(n);
    } else if (flag == "--retry-delay-ms") {
      if (!parse_uint(value, 0, 3600000, &n)) {
        return fail("--retry-delay-ms wants 0..3600000, got '" + value + "'");
      }
      o.retry_delay_ms = static_cast<uint32_t>(n);
    } else if (flag == "--max-retry-delay-ms") {
      if (!parse_uint(value, 0, 3600000, &n)) {
        return fail("--max-retry-delay-ms wants 0..3600000, got '" + value + "'");
      }
      o.max_retry_delay_ms = static_cast<uint32_t>(n);
    } else if (flag == "--timeout") {
      if (!parse_uint(value, 1, 86400, &n)) {
        return fail("--timeout wants 1..86400 seconds, got '" + value + "'");
      }
      o.timeout_s = static_cast<uint32_t>(n);
    } else if (flag == "--state-file") {
      if (value.empty()) return fail("--state-file must not be empty");
      o.state_file = value;
    } else if (flag == "--metadata") {
      size_t sep = value.find('=');
      if (sep == std::string::npos) return fail("--metadata wants KEY=VALUE, got '" + value + "'");
      std::string key = value.substr(0, sep);
      if (!valid_metadata_key(key)) {
        return fail("--metadata key '" + key +
                    "' must be non-empty ASCII without spaces or commas");
      }
      if (!metadata_keys.insert(key).second) {
        return fail("--metadata key '" + key + "' given twice");
      }
      o.metadata.emplace_back(key, value.substr(sep + 1));
    } else if (flag == "--log-offsets") {
      if (value.empty()) return fail("--log-offsets must not be empty");
      o.log_offsets = value;
    } else if (flag == "--token") {
      if (!access::is_b64token(value)) {
        return fail("--token wants a bearer token (A-Z a-z 0-9 - . _ ~ + / and trailing =)");
      }
      o.token = value;
    } else if (flag == "--token-file") {
      if (value.empty()) return fail("--token-file must not be empty");
      o.token_file = value;
    } else if (flag == "--signing-key-file") {
      if (value.empty()) return fail("--signing-key-file must not be empty");
      o.signing_key_file = value;
    } else if (flag == "--method") {
      if (!is_sign_method(value)) {
        return fail("--method wants POST, GET, HEAD, PATCH, DELETE, OPTIONS or *, got '" +
                    value + "'");
      }
      o.sign_method = value;
    } else if (flag == "--expires-in") {
      if (!parse_uint(value, 1, uint64_t{10} * 365 * 86400, &n)) {
        return fail("--expires-in wants seconds (1 .. 10 years), got '" + value + "'");
      }
      o.expires_in_s = n;
      o.expires_at = 0;
    } else if (flag == "--expires") {
      if (!parse_uint(value, 0, uint64_t{1} << 62, &n)) {
        return fail("--expires wants unix seconds, got '" + value + "'");
      }
      o.expires_at = n;
    } else {
      return fail("unknown flag '" + flag + "'");
    }
  }

  if (positional.empty()) return fail("missing command (upload, status, delete or sign)");
  const std::string& command = positional[0];
  if (command == "upload") {
    if (positional.size() != 3) return fail("upload wants FILE URL");
    o.command = Command::kUpload;
    o.file = positional[1];
    o.url = positional[2];
  } else if (command == "status" || command == "delete") {
    if (positional.size() != 2) return fail(command + " wants URL");
    o.command = command == "status" ? Command::kStatus : Command::kDelete;
    o.url = positional[1];
  } else if (command == "sign") {
    if (positional.size() != 2) return fail("sign wants URL");
    o.command = Command::kSign;
    o.url = positional[1];
  } else {
    return fail("unknown command '" + command + "'");
  }
  if (o.command == Command::kSign) {
    if (o.signing_key_file.empty()) return fail("sign needs --signing-key-file");
    if (!is_http_url(o.url) && o.url.rfind('/', 0) != 0) {
      return fail("sign wants an http(s):// URL or a path starting with /, got '" + o.url + "'");
    }
    if (!o.token.empty() || !o.token_file.empty()) return fail("--token applies to requests only");
    if (!o.metadata.empty()) return fail("--metadata applies to upload only");
    return out;
  }
  if (!o.signing_key_file.empty()) return fail("--signing-key-file applies to sign only");
  if (!o.token.empty() && !o.token_file.empty()) {
    return fail("--token and --token-file exclude each other");
  }
  if (!is_http_url(o.url)) {
    return fail("URL must start with http:// or https://, got '" + o.url + "'");
  }
  // --log-offsets stays allowed for status: it logs the HEAD's offset like any other.
  if (o.command != Command::kUpload && !o.metadata.empty()) {
    return fail("--metadata applies to upload only");
  }
  return out;
}

const char* help_text() {
  return R"(ringest: resumable upload client for tus 1.0.0 servers such as ringestd.

Usage:
  ringest upload FILE URL [flags]   upload FILE to the tus collection URL
                                    (e.g. http://127.0.0.1:8080/files/); prints the upload's
                                    absolute URL on stdout when the server has every byte
  ringest status URL [flags]        print "offset N length M" for an upload URL
  ringest delete URL [flags]        terminate (DELETE) an upload
  ringest sign URL --signing-key-file PATH [--method M] [--expires-in S | --expires T]
                                    print URL signed for ringestd's --signing-key-file:
                                    URL?expires=T&signature=S (docs/access-control.md)
  ringest --help

Upload: POST (creation) with Upload-Length and Upload-Metadata, then PATCH the file in chunks
streamed from disk. After a failure the client asks the server for its offset (HEAD) and goes on
from there, so nothing the server has committed is sent twice.

Flags:
  --chunk-bytes SIZE        bytes per PATCH (default 64M; suffixes K, M, G, T = powers of 1024)
  --retries N               consecutive failed attempts allowed before giving up (default 10;
                            any progress starts the count again; 0 = no retries)
  --retry-delay-ms MS       first retry delay (default 500); doubles on each consecutive failure
  --max-retry-delay-ms MS   cap on the retry delay (default 30000). Each delay is drawn at random
                            between half and all of the capped value (jitter).
  --timeout SECONDS         connect timeout, and a request that moves no byte for this long
                            fails and is retried (default 30)
  --state-file PATH         where unfinished uploads are remembered (default
                            $XDG_STATE_HOME/ringest/uploads, else ~/.local/state/ringest/uploads)
  --metadata KEY=VALUE      Upload-Metadata pair, repeatable; the value is sent base64-encoded.
                            "filename" (the file's base name) is added unless given.
  --log-offsets FILE        append "<unix_ms> <status> <method> <url> <offset>" for every
                            Upload-Offset the server reports (201/204 and HEAD); for POST the url
                            is the new upload's
  -q, --quiet               no progress and no notes on stderr (errors are still printed)
  --token TOKEN             send "Authorization: Bearer TOKEN" on every request (visible in
                            the process list: prefer --token-file)
  --token-file PATH         the same, with the token read from PATH (its first token; blank
                            lines and # comments are skipped, as in ringestd's token file)

Signing (sign only):
  --signing-key-file PATH   the key ringestd was given (trailing newline ignored)
  --method M                the method the URL allows (default POST, for creating uploads at
                            a collection URL); * allows HEAD, GET, PATCH and DELETE on an
                            upload URL
  --expires-in SECONDS      valid for this long from now (default 3600)
  --expires UNIX_SECONDS    valid until this moment instead
  A signed creation URL is all an uploader needs: ringestd signs the Location of the upload
  it creates (same expiry), and tus clients follow Location.
  -h, --help                this text

Progress: a bar with rate and ETA when stderr is a terminal, otherwise one line every 2 s.

Retries: connection errors, timeouts, 5xx, 408, 423, 429 and, for PATCH, 409 (offset mismatch)
are retried with exponential backoff and jitter; before each retry of a PATCH the client asks
the server for its offset (HEAD) and sends from there.

Resume across restarts: the upload URL is remembered in the state file, keyed by the file's
absolute path (symlinks resolved) + size + modification time (nanoseconds). Running the same
upload again resumes from the server's offset if the server still has that upload with the same
Upload-Length; if the server answers 404/410 a new upload is created. A file whose size or mtime
changed no longer matches its entry, so it is uploaded anew (one entry per path: the stale one is
replaced; its partial upload stays on the server until deleted). The entry is removed when the
upload completes, and by `ringest delete` of that URL. A state file that cannot be read or
written is a warning, not an error: the upload goes on, it just cannot resume after a restart.

Exit codes:
  0  done
  1  other error (file cannot be read, unexpected failure)
  2  usage error
  3  gave up: retries exhausted (connection errors, timeouts, 5xx, 408/423/429, 409)
  4  server refused: a 4xx (other than 409, and other than 404/410 for a remembered upload, which
     starts a new one), or an answer that breaks the protocol
  5  the file changed (size or mtime) during the upload; checked before each chunk and after
     the last one, and a file that shrinks under a chunk being sent aborts it
)";
}

}  // namespace ringest::client
