// ringest-crowd: holds thousands of connections open against a server from one epoll thread —
// idle keep-alive connections, tus uploads whose body trickles in a few bytes at a time, and
// (optionally) request heads that trickle — for a bounded time, then resets them all and
// reports what the server did to them (refusals, 408/503 answers, closes, and when). With
// --busy it also drives a closed loop of small requests (e.g. HEAD) and reports requests/s.
// --slow-readers, --lingerers and --silent are the attacks of issue #10; they reconnect when
// the server closes or refuses them, so an attack stays on for the whole run.
// Benchmark tool for bench/load/run; talks only to the URL it is given. Exit 0 when it ran to
// the end (whatever the server answered), 1 when it could not run, 2 on bad usage.
#include <signal.h>

#include <cstdio>
#include <string>

#include "tools/crowd/crowd.h"
#include "tools/crowd/options.h"
#include "tools/crowd/report.h"

int main(int argc, char** argv) {
  using namespace ringest::crowd;
  ParseResult parsed = parse_options(argc, argv);
  if (parsed.kind == ParseResult::Kind::kHelp) {
    std::fputs(usage_text(), stdout);
    return 0;
  }
  if (parsed.kind == ParseResult::Kind::kError) {
    std::fprintf(stderr, "ringest-crowd: %s\n%s", parsed.error.c_str(), usage_text());
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);  // sends use MSG_NOSIGNAL; this covers anything else
  CrowdStats stats;
  std::string error;
  if (!run_crowd(parsed.options, &stats, &error)) {
    std::fprintf(stderr, "ringest-crowd: %s\n", error.c_str());
    return 1;
  }
  std::string text = parsed.options.json ? format_json(stats) : format_table(stats);
  std::fputs(text.c_str(), stdout);
  std::fflush(stdout);
  return 0;
}
