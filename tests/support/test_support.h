// Support for black-box tests: start the real ringestd on 127.0.0.1:0 in a temporary data
// directory, talk HTTP/1.1 to it over real sockets, and hash what it stored.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::test {

// A fresh directory under $TMPDIR (or /tmp), removed recursively on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The ringestd the black-box tests run: this build's, or RINGEST_TEST_RINGESTD's.
std::string ringestd_binary();

// The real binary as a child process. start() waits for the "listening on" line.
class Server {
 public:
  // `port` 0 lets the server pick one; a fixed port lets a restarted server keep its address.
  // `binary`: another server that speaks the same command line (the naive baseline).
  explicit Server(std::string data_dir, std::vector<std::string> extra_args = {},
                  uint16_t port = 0, std::string binary = {});
  ~Server();  // SIGKILLs the child if it still runs
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Applied in the child before exec (RLIMIT_AS), 0 for none: the naive baseline's OOM test.
  void set_address_space_limit(uint64_t bytes) { address_space_limit_ = bytes; }
  // RLIMIT_NOFILE for the child, 0 for unchanged: descriptor exhaustion tests.
  void set_fd_limit(uint64_t fds) { fd_limit_ = fds; }
  void start();
  // True while the child has not exited (an exited child is reaped and never signalled again).
  bool running();
  // SIGTERM and wait; returns the exit status (as from waitpid) or -1 on timeout.
  int stop(int timeout_ms = 15000);
  void kill9();
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  const std::string& data_dir() const { return data_dir_; }
  std::string stderr_path() const { return data_dir_ + ".stderr"; }

 private:
  std::string data_dir_;
  std::vector<std::string> extra_args_;
  uint16_t fixed_port_ = 0;
  bool is_ringestd_;
  std::string binary_;
  uint64_t address_space_limit_ = 0;
  uint64_t fd_limit_ = 0;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  std::string first_line_;
};

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string body;
  std::string header(const std::string& lowercase_name) const;
};

// One HTTP/1.1 connection. Reads responses framed by Content-Length (no body for HEAD, 1xx,
// 204). Timeouts make a hung server fail the test instead of hanging it.
class Connection {
 public:
  // `receive_buffer_bytes` > 0 sets SO_RCVBUF: a client that reads slowly (or not at all)
  // holds less in flight.
  // `source_address` (an IPv4 loopback address such as "127.0.0.2"; null: the kernel's choice)
  // makes the connection come from another client as the server sees it.
  explicit Connection(uint16_t port, int timeout_ms = 30000, int receive_buffer_bytes = 0,
                      const char* source_address = nullptr);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool send_all(std::string_view bytes);
  bool send_all(const char* data, size_t size);
  // Reads one response; std::nullopt on EOF/timeout/garbage.
  std::optional<Response> read_response(bool head_request = false);
  // True when the server closed the connection (read returns 0 / reset) within timeout_ms.
  bool closed_by_peer(int timeout_ms);
  void close_now();                // close(2)
  void shutdown_write();
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buffer_;
};

// One request on a fresh connection.
std::optional<Response> request(uint16_t port, std::string_view raw, bool head_request = false);
// The same from another loopback address (Connection's `source_address`).
std::optional<Response> request_from(const char* source_address, uint16_t port,
                                     std::string_view raw);

// tus helpers (fresh connection each).
// The raw POST that creates an upload of `length` bytes (no body).
std::string tus_create_request(uint64_t length, std::string_view metadata = {});
std::string tus_create(uint16_t port, uint64_t length, std::string_view metadata = {});
std::optional<Response> tus_patch(uint16_t port, const std::string& location, uint64_t offset,
                                  std::string_view data);
std::optional<Response> tus_head(uint16_t port, const std::string& location);
std::string patch_head(const std::string& location, uint64_t offset, uint64_t length);
std::optional<uint64_t> head_offset(uint16_t port, const std::string& location);

// A response's status, -1 when there was none: for assertions on a request made in place
// (`ASSERT_EQ(status_of(tus_patch(...)), 204)`), where `->status` on an empty optional would
// read whatever its storage held before.
int status_of(const std::optional<Response>& response);

// The exit code of a process from a wait status (std::system, waitpid), -1 when it did not exit
// normally: WEXITSTATUS alone reads 0 for a process killed by a signal.
int exit_code_of(int wait_status);

// True in the AddressSanitizer build (tools/build.sh asan), where ringestd's allocation counter
// is off because the sanitizer owns malloc. Tests of that counter check it against this.
// (RINGEST_SANITIZE compiles everything, the tests too, with -fsanitize=address.)
#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizerBuild = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kSanitizerBuild = true;
#else
inline constexpr bool kSanitizerBuild = false;
#endif
#else
inline constexpr bool kSanitizerBuild = false;
#endif

// Reads a counter from /metrics.
uint64_t metric(uint16_t port, const std::string& name);

// A whole file's bytes (read in blocks), "" when it cannot be read; and a file written whole.
std::string read_file(const std::string& path);
void write_file(const std::string& path, std::string_view bytes);

std::string sha256_hex(std::string_view data);
// CRC-32C from its bitwise definition (shares nothing with the server's ISA-L code), and the
// RFC 9530 Repr-Digest value ringestd sends for it: `crc32c=:<base64 of the 4 bytes, BE>:`.
uint32_t bitwise_crc32c(std::string_view data);
std::string repr_digest_crc32c(uint32_t crc);
// The --io-mode the black-box tests run against (RINGEST_TEST_IO_MODE; "direct" when unset).
bool test_io_mode_is(std::string_view mode);
std::string sha256_file(const std::string& path);
// Deterministic pseudo-random bytes (different seed, different content).
std::string random_bytes(size_t size, uint64_t seed);
// A loopback port that was free a moment ago.
uint16_t free_port();
std::string id_of(const std::string& location);  // "/files/<id>" -> "<id>"
// Entries of `dir` whose names do not start with '.' and end with `suffix` (any, when empty).
int count_dir_entries(const std::string& dir, std::string_view suffix = {});

}  // namespace ringest::test
