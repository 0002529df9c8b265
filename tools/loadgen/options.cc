#include "tools/loadgen/options.h"

#include <algorithm>
#include <charconv>
#include <string_view>

#include "engine/base/config.h"

namespace ringest::loadgen {
namespace {

// One thread per upload: a bound keeps a typo from asking for a million threads.
constexpr uint64_t kMaxUploads = 4096;

bool parse_uint(std::string_view text, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

const char* usage_text() {
  return "usage: ringest-loadgen URL [options]\n"
         "  URL                 server base, e.g. http://127.0.0.1:8080\n"
         "  --uploads N         concurrent uploads (default 1)\n"
         "  --bytes SIZE        bytes per upload, K/M/G/T suffixes (default 1G)\n"
         "  --protocol tus|put  tus: POST URL/files/ (+ PATCHes); put: PUT URL/files/<name>\n"
         "  --chunk-bytes C     tus only: POST, then PATCHes of C bytes (default: one request)\n"
         "  --checksum ALGO     tus only: each request carries Upload-Checksum with the digest\n"
         "                      of its own bytes (sha1|sha256|md5|crc32|crc32c), computed once\n"
         "                      before the uploads start\n"
         "  --source FILE       send the first SIZE bytes of FILE (default: temporary random file)\n"
         "  --json              print one JSON object instead of a table\n"
         "  --no-verify         skip the SHA-256 check (a sink that stores nothing)\n"
         "  --server-pid PID    report the server's CPU seconds and peak RSS from /proc\n"
         "  --timeout-s T       timeout of every socket operation in seconds (default 600)\n"
         "exit: 0 all uploads stored and verified, 1 any error, 2 bad usage\n";
}

bool parse_url(const std::string& text, Url* out, std::string* error) {
  constexpr std::string_view kScheme = "http://";
  if (text.compare(0, kScheme.size(), kScheme) != 0) {
    *error = "URL must start with http:// (got '" + text + "')";
    return false;
  }
  std::string_view rest = std::string_view(text).substr(kScheme.size());
  size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (authority.empty() || authority.find('@') != std::string_view::npos) {
    *error = "URL needs a host (and no user info): '" + text + "'";
    return false;
  }
  Url url;
  url.text = text;
  url.host_header = std::string(authority);
  std::string_view port;
  if (authority.front() == '[') {  // IPv6 literal: [::1]:8080
    size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      *error = "unterminated IPv6 literal in URL";
      return false;
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        *error = "junk after IPv6 literal in URL";
        return false;
      }
      port = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (!port.empty()) {
    uint64_t p = 0;
    if (!parse_uint(port, 65535, &p) || p == 0) {
      *error = "bad port in URL: '" + std::string(port) + "'";
      return false;
    }
    url.port = std::string(port);
  }
  if (url.host.empty()) {
    *error = "URL needs a host: '" + text + "'";
    return false;
  }
  url.base_path = std::string(path);
  *out = std::move(url);
  return true;
}

ParseResult parse_options(int argc, const char* const* argv) {
  ParseResult r;
  Options& o = r.options;
  auto fail = [&r](std::string message) {
    r.kind = ParseResult::Kind::kError;
    r.error = std::move(message);
    return r;
  };
  bool have_url = false;
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      r.kind = ParseResult::Kind::kHelp;
      return r;
    }
    if (arg == "--json") {
      o.json = true;
      continue;
    }
    if (arg == "--no-verify") {
      o.no_verify = true;
      continue;
    }
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return fail(std::string(arg) + " needs a value");
      std::string value = argv[++i];
      uint64_t n = 0;
      if (arg == "--uploads") {
        if (!parse_uint(value, kMaxUploads, &n) || n == 0)
          return fail("--uploads must be 1.." + std::to_string(kMaxUploads));
        o.uploads = n;
      } else if (arg == "--bytes") {
        if (!ringest::parse_size(value, &n) || n == 0) return fail("--bytes: bad size '" + value + "'");
        o.bytes = n;
      } else if (arg == "--chunk-bytes") {
        if (!ringest::parse_size(value, &n) || n == 0)
          return fail("--chunk-bytes: bad size '" + value + "'");
        o.chunk_bytes = n;
      } else if (arg == "--protocol") {
        if (value == "tus") {
          o.protocol = Protocol::kTus;
        } else if (value == "put") {
          o.protocol = Protocol::kPut;
        } else {
          return fail("--protocol must be tus or put");
        }
      } else if (arg == "--checksum") {
        if (std::find(std::begin(kChecksumAlgorithms), std::end(kChecksumAlgorithms), value) ==
            std::end(kChecksumAlgorithms))
          return fail("--checksum must be sha1, sha256, md5, crc32 or crc32c");
        o.checksum = value;
      } else if (arg == "--source") {
        o.source_path = value;
      } else if (arg == "--server-pid") {
        if (!parse_uint(value, 0x7fffffff, &n) || n == 0) return fail("--server-pid: bad pid");
        o.server_pid = static_cast<int>(n);
      } else if (arg == "--timeout-s") {
        if (!parse_uint(value, 86400, &n) || n == 0) return fail("--timeout-s must be 1..86400");
        o.timeout_s = static_cast<int>(n);
      } else {
        return fail("unknown flag " + std::string(arg));
      }
      continue;
    }
    if (have_url) return fail("more than one URL: '" + std::string(arg) + "'");
    std::string error;
    if (!parse_url(std::string(arg), &o.url, &error)) return fail(error);
    have_url = true;
  }
  if (!have_url) return fail("URL required");
  if (o.protocol == Protocol::kPut && o.chunk_bytes != 0)
    return fail("--chunk-bytes applies to tus only: put sends one request per upload");
  if (o.protocol == Protocol::kPut && !o.checksum.empty())
    return fail("--checksum applies to tus only (Upload-Checksum is a tus header)");
  return r;
}

}  // namespace ringest::loadgen
