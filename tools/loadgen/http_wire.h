// The HTTP/1.1 wire for the load generator: one blocking socket with a timeout on every
// operation, request heads sent with one send(2), bodies sent from a file with sendfile(2) so
// they never pass through user space, and responses framed by Content-Length (or by close).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "tools/loadgen/options.h"

namespace ringest::loadgen {

// Where to connect, resolved once so N uploads do not each ask the resolver.
struct Endpoint {
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string host_header;
  std::string base_path;
};

bool resolve(const Url& url, Endpoint* out, std::string* error);

struct ResponseHead {
  int status = 0;
  std::optional<uint64_t> content_length;  // none: the body ends when the server closes
  std::optional<uint64_t> upload_offset;
  std::string location;
  bool close = false;  // "Connection: close": the next request needs a new connection
};

class Connection {
 public:
  Connection(const Endpoint& endpoint, int timeout_s) : endpoint_(endpoint), timeout_s_(timeout_s) {}
  ~Connection() { close(); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool is_open() const { return fd_ >= 0; }
  bool connect(std::string* error);
  void close();

  // Sends `head`, then `length` bytes of `file_fd` from `file_offset` (none when length is 0).
  bool send_request(std::string_view head, int file_fd, uint64_t file_offset, uint64_t length,
                    std::string* error);
  // Reads one final response head (1xx interim responses are skipped).
  bool read_head(ResponseHead* head, std::string* error);
  // Reads the body `head` announces, handing every received span to `sink` (may be empty).
  // A close-delimited body leaves the connection closed.
  bool read_body(const ResponseHead& head,
                 const std::function<void(const unsigned char*, size_t)>& sink,
                 std::string* error);

 private:
  bool fill(std::string* error);  // one recv into buffer_; false on EOF, timeout or error

  const Endpoint& endpoint_;
  int timeout_s_;
  int fd_ = -1;
  std::string buffer_;  // received, not yet consumed (head bytes, then the start of the body)
};

// "/files/<id>" from a tus Location, which may be absolute ("http://h:p/files/<id>") or a path.
std::string location_path(const std::string& location, const std::string& base_path);

}  // namespace ringest::loadgen
