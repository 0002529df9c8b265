// Command line of ringest-loadgen. Parsing is pure (argv in, Options or one error line out) so
// main() alone decides what to print and which exit code to use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ringest::loadgen {

enum class Protocol { kTus, kPut };

// The tus Upload-Checksum algorithms --checksum takes (tools/loadgen/checksums.h computes them).
inline constexpr std::string_view kChecksumAlgorithms[] = {"sha1", "sha256", "md5", "crc32",
                                                           "crc32c"};

// The server base URL split into what a socket and a request line need.
struct Url {
  std::string text;       // the URL as given, for reports
  std::string host;       // as written, without brackets for IPv6 literals
  std::string port = "80";
  std::string host_header;  // "host[:port]" exactly as the URL gave it
  std::string base_path;    // "" or "/prefix" (never a trailing slash)
};

struct Options {
  Url url;
  uint64_t uploads = 1;
  uint64_t bytes = uint64_t{1} << 30;  // per upload
  Protocol protocol = Protocol::kTus;
  uint64_t chunk_bytes = 0;  // 0: each upload is one request
  // tus only: every request with a body carries Upload-Checksum "<checksum> <digest of its
  // bytes>" (sha1, sha256, md5, crc32, crc32c); empty: none.
  std::string checksum;
  std::string source_path;   // empty: a temporary file of random bytes
  bool json = false;
  // Skip the SHA-256 check (only for servers that store nothing, like ringest-sink).
  bool no_verify = false;
  int server_pid = 0;        // 0: no server statistics
  int timeout_s = 600;       // per socket operation (connect, send, receive)
};

struct ParseResult {
  enum class Kind { kRun, kHelp, kError } kind = Kind::kRun;
  Options options;
  std::string error;
};

ParseResult parse_options(int argc, const char* const* argv);
bool parse_url(const std::string& text, Url* out, std::string* error);
const char* usage_text();

}  // namespace ringest::loadgen
