// The ringest command line: commands, flags and exit codes. Parsing is pure (argv in, Options or
// one line of error out) so main() alone decides what is printed and how the process exits.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace ringest::client {

// Exit codes are part of the interface (scripts and the crash-campaign test branch on them);
// help_text() documents them. Keep the two in step.
enum ExitCode : int {
  kExitOk = 0,
  kExitOther = 1,        // local I/O errors, unexpected failures
  kExitUsage = 2,        // bad command line
  kExitGaveUp = 3,       // retries exhausted (connection errors, timeouts, 5xx, 409)
  kExitRefused = 4,      // server refused (4xx) or answered something unusable
  kExitFileChanged = 5,  // the local file changed size or mtime while being uploaded
};

enum class Command { kUpload, kStatus, kDelete, kSign };

struct Options {
  Command command = Command::kUpload;
  std::string file;  // upload only
  std::string url;   // collection URL for upload, upload URL for status/delete, URL to sign

  uint64_t chunk_bytes = uint64_t{64} << 20;
  int retries = 10;               // consecutive failed attempts allowed, reset by progress
  uint32_t retry_delay_ms = 500;  // first backoff; doubles per consecutive failure
  uint32_t max_retry_delay_ms = 30000;
  uint32_t timeout_s = 30;  // connect timeout, and abort a request stalled this long
  std::string state_file;   // empty: the default under $XDG_STATE_HOME or ~/.local/state
  std::vector<std::pair<std::string, std::string>> metadata;  // in command-line order
  std::string log_offsets;                                    // empty: no offset log
  bool quiet = false;

  // Bearer token sent on every request (upload, status, delete): given, or read from a file.
  std::string token;
  std::string token_file;

  // sign: a signed URL for ringestd's --signing-key-file (docs/access-control.md).
  std::string signing_key_file;
  std::string sign_method = "POST";  // or GET, HEAD, PATCH, DELETE, OPTIONS, * (upload methods)
  uint64_t expires_in_s = 3600;      // from now
  uint64_t expires_at = 0;           // unix seconds; 0: use expires_in_s
};

struct ParseResult {
  enum class Kind { kRun, kHelp, kError } kind = Kind::kRun;
  Options options;
  std::string error;  // for kError: one line
};

ParseResult parse_command_line(int argc, const char* const* argv);

const char* help_text();

}  // namespace ringest::client
