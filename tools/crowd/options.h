// Command line of ringest-crowd. Parsing is pure (argv in, Options or one error line out) so
// main() alone decides what to print and which exit code to use, as in the load generator.
#pragma once

#include <cstdint>
#include <string>

#include "tools/loadgen/options.h"

namespace ringest::crowd {

// What an idle connection sends before it sits idle.
enum class IdleRequest {
  kNone,     // nothing: the server waits for the first byte of a request head
  kOptions,  // one OPTIONS /files/, then nothing: an idle keep-alive connection
  kMixed,    // every other connection of each kind
};

struct Options {
  loadgen::Url url;
  uint64_t idle = 0;        // connections that send at most one small request, then sit idle
  uint64_t trickle = 0;     // tus uploads whose one PATCH body arrives at trickle_rate
  uint64_t slow_heads = 0;  // connections whose request head arrives at trickle_rate
  // Closed-loop load: connections that send the next request as soon as the answer is in,
  // e.g. HEAD of an upload (which wrk cannot frame: the answer has no Content-Length).
  uint64_t busy = 0;
  std::string busy_method = "HEAD";
  std::string busy_path = "/files/";  // appended to the URL's base path

  // Attacks (issue #10). Each of these connections reconnects, after reconnect_delay_ms, when
  // the server closes or refuses it, so the attack stays on for the whole run.
  // Slow readers: one keep-alive `GET read_path` with a tiny receive buffer, never read.
  uint64_t slow_readers = 0;
  std::string read_path;  // appended to the URL's base path; required with slow_readers
  // Lingerers: a request the server answers early (404 for a PATCH to an unknown upload) that
  // declares a large body, whose bytes then trickle in one every linger_interval_ms.
  uint64_t lingerers = 0;
  std::string linger_path = "/files/doesnotexist";
  uint64_t linger_interval_ms = 400;
  // Silent: connect and never send a byte (the head timeout, the connection cap).
  uint64_t silent = 0;
  uint64_t reconnect_delay_ms = 100;

  uint64_t trickle_rate_bytes_per_s = 1;  // per connection
  uint64_t trickle_interval_ms = 1000;    // one chunk per interval (rate x interval bytes)
  uint64_t duration_s = 60;               // held this long from the start, then all closed
  uint64_t setup_concurrency = 256;       // connections connecting or in set-up at once
  IdleRequest idle_request = IdleRequest::kOptions;
  bool json = false;

  uint64_t total() const {
    return idle + trickle + slow_heads + busy + slow_readers + lingerers + silent;
  }
};

struct ParseResult {
  enum class Kind { kRun, kHelp, kError } kind = Kind::kRun;
  Options options;
  std::string error;
};

ParseResult parse_options(int argc, const char* const* argv);
const char* usage_text();

}  // namespace ringest::crowd
