#include "tools/crowd/options.h"

#include <charconv>
#include <string_view>

#include "engine/base/config.h"

namespace ringest::crowd {
namespace {

// Bounds that keep a typo from becoming a denial of service against the machine itself.
constexpr uint64_t kMaxConnections = 60000;  // about the loopback ephemeral port range
constexpr uint64_t kMaxDurationS = 3600;

bool parse_uint(std::string_view text, uint64_t max, uint64_t* out) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v > max) return false;
  *out = v;
  return true;
}

}  // namespace

const char* usage_text() {
  return "usage: ringest-crowd URL [options]\n"
         "  URL                     server base, e.g. http://127.0.0.1:8080\n"
         "  --idle N                idle keep-alive connections (default 0)\n"
         "  --idle-request R        what an idle connection sends first: options (default;\n"
         "                          one OPTIONS /files/, then idle), none (connect only),\n"
         "                          mixed (every other one)\n"
         "  --trickle M             slow tus uploads: POST with Upload-Length, then one PATCH\n"
         "                          whose body arrives at --trickle-rate (default 0)\n"
         "  --slow-heads K          connections whose request head arrives at --trickle-rate\n"
         "                          (default 0)\n"
         "  --busy N                connections sending requests back to back (closed loop;\n"
         "                          requests/s and latency reported) (default 0)\n"
         "  --busy-method M         their method (default HEAD)\n"
         "  --busy-path P           their path under the URL (default /files/)\n"
         "attacks (issue #10); these reconnect when the server closes or refuses them:\n"
         "  --slow-readers N        connections that send one keep-alive GET --read-path with a\n"
         "                          4 KiB receive buffer and never read the answer (default 0)\n"
         "  --read-path P           what slow readers GET, under the URL (e.g. /files/ID)\n"
         "  --lingerers N           connections that send a request the server answers early\n"
         "                          (PATCH --linger-path, Content-Length 100000000), then trickle\n"
         "                          its body 1 byte every --linger-interval-ms (default 0)\n"
         "  --linger-path P         (default /files/doesnotexist)\n"
         "  --linger-interval-ms T  (default 400)\n"
         "  --silent N              connections that never send a byte, reconnecting (unlike\n"
         "                          --idle-request none) (default 0)\n"
         "  --reconnect-delay-ms D  wait before reconnecting (default 100)\n"
         "  --trickle-rate B        bytes per second per connection (default 1; K/M suffixes)\n"
         "  --trickle-interval-ms T one chunk every T ms (default 1000)\n"
         "  --duration S            hold everything S seconds from the start, then close all\n"
         "                          with a reset (default 60); SIGINT/SIGTERM end it early\n"
         "  --setup-concurrency C   connections connecting or in set-up at once (default 256)\n"
         "  --json                  print one JSON object instead of a table\n"
         "stderr gets one line 'ringest-crowd: ready ...' once every connection is set up or\n"
         "has failed. exit: 0 ran to the end (whatever the server answered), 1 could not run,\n"
         "2 bad usage\n";
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
    if (arg.rfind("--", 0) == 0) {
      if (i + 1 >= argc) return fail(std::string(arg) + " needs a value");
      std::string value = argv[++i];
      uint64_t n = 0;
      if (arg == "--idle" || arg == "--trickle" || arg == "--slow-heads" || arg == "--busy" ||
          arg == "--slow-readers" || arg == "--lingerers" || arg == "--silent") {
        if (!parse_uint(value, kMaxConnections, &n))
          return fail(std::string(arg) + " must be 0.." + std::to_string(kMaxConnections));
        (arg == "--idle"           ? o.idle
         : arg == "--trickle"      ? o.trickle
         : arg == "--busy"         ? o.busy
         : arg == "--slow-readers" ? o.slow_readers
         : arg == "--lingerers"    ? o.lingerers
         : arg == "--silent"       ? o.silent
                                   : o.slow_heads) = n;
      } else if (arg == "--busy-path" || arg == "--read-path" || arg == "--linger-path") {
        if (value.empty() || value.front() != '/' ||
            value.find_first_of(" \r\n") != std::string::npos)
          return fail(std::string(arg) + " wants a path starting with /");
        (arg == "--busy-path"   ? o.busy_path
         : arg == "--read-path" ? o.read_path
                                : o.linger_path) = value;
      } else if (arg == "--linger-interval-ms") {
        if (!parse_uint(value, 60000, &n) || n < 10)
          return fail("--linger-interval-ms must be 10..60000");
        o.linger_interval_ms = n;
      } else if (arg == "--reconnect-delay-ms") {
        if (!parse_uint(value, 60000, &n)) return fail("--reconnect-delay-ms must be 0..60000");
        o.reconnect_delay_ms = n;
      } else if (arg == "--busy-method") {
        if (value.empty() ||
            value.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ") != std::string::npos)
          return fail("--busy-method wants an upper-case method name, e.g. HEAD");
        o.busy_method = value;
      } else if (arg == "--idle-request") {
        if (value == "options") {
          o.idle_request = IdleRequest::kOptions;
        } else if (value == "none") {
          o.idle_request = IdleRequest::kNone;
        } else if (value == "mixed") {
          o.idle_request = IdleRequest::kMixed;
        } else {
          return fail("--idle-request must be options, none or mixed");
        }
      } else if (arg == "--trickle-rate") {
        if (!ringest::parse_size(value, &n) || n == 0 || n > (uint64_t{1} << 30))
          return fail("--trickle-rate: bad rate '" + value + "' (1..1G bytes per second)");
        o.trickle_rate_bytes_per_s = n;
      } else if (arg == "--trickle-interval-ms") {
        if (!parse_uint(value, 60000, &n) || n < 10)
          return fail("--trickle-interval-ms must be 10..60000");
        o.trickle_interval_ms = n;
      } else if (arg == "--duration") {
        if (!parse_uint(value, kMaxDurationS, &n) || n == 0)
          return fail("--duration must be 1.." + std::to_string(kMaxDurationS) + " seconds");
        o.duration_s = n;
      } else if (arg == "--setup-concurrency") {
        if (!parse_uint(value, 65536, &n) || n == 0)
          return fail("--setup-concurrency must be 1..65536");
        o.setup_concurrency = n;
      } else {
        return fail("unknown flag " + std::string(arg));
      }
      continue;
    }
    if (have_url) return fail("more than one URL: '" + std::string(arg) + "'");
    std::string error;
    if (!loadgen::parse_url(std::string(arg), &o.url, &error)) return fail(error);
    have_url = true;
  }
  if (!have_url) return fail("URL required");
  if (o.total() == 0) {
    return fail(
        "nothing to do: give --idle, --trickle, --slow-heads, --busy, --slow-readers, "
        "--lingerers or --silent");
  }
  if (o.slow_readers > 0 && o.read_path.empty()) return fail("--slow-readers needs --read-path");
  if (o.total() > kMaxConnections)
    return fail("at most " + std::to_string(kMaxConnections) + " connections in all");
  return r;
}

}  // namespace ringest::crowd
