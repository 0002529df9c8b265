// ringest: resumable upload client for tus 1.0.0 servers (ringestd and others).
// `ringest --help` documents the commands, flags and exit codes; cli.h holds the exit codes.
#include <curl/curl.h>
#include <signal.h>

#include <cstdio>
#include <exception>

#include "tools/client/cli.h"
#include "tools/client/commands.h"

int main(int argc, char** argv) {
  using namespace ringest::client;
  // A closed stdout or socket must be an error return, not a silent death by SIGPIPE.
  ::signal(SIGPIPE, SIG_IGN);
  ParseResult parsed = parse_command_line(argc, argv);
  switch (parsed.kind) {
    case ParseResult::Kind::kHelp:
      std::fputs(help_text(), stdout);
      return kExitOk;
    case ParseResult::Kind::kError:
      std::fprintf(stderr, "ringest: %s\nTry 'ringest --help'.\n", parsed.error.c_str());
      return kExitUsage;
    case ParseResult::Kind::kRun:
      break;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
    std::fprintf(stderr, "ringest: cannot initialise libcurl\n");
    return kExitOther;
  }
  int rc;
  try {
    rc = run_command(parsed.options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "ringest: %s\n", e.what());
    rc = kExitOther;
  }
  curl_global_cleanup();
  return rc;
}
