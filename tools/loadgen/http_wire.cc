#include "tools/loadgen/http_wire.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <vector>

namespace ringest::loadgen {
namespace {

constexpr size_t kMaxHeadBytes = 64 * 1024;
constexpr size_t kRecvBytes = 1 << 20;  // large receives keep GET verification cheap in syscalls
// sendfile(2) moves at most 0x7ffff000 bytes per call; ask for a little less.
constexpr uint64_t kSendfileMax = uint64_t{1} << 30;

std::string errno_text(const char* what) {
  if (errno == EAGAIN || errno == EWOULDBLOCK) return std::string(what) + ": timed out";
  return std::string(what) + ": " + std::strerror(errno);
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view s, uint64_t* out) {
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && !s.empty();
}

// Parses "HTTP/1.x SSS reason\r\nName: value\r\n..." (without the final blank line).
bool parse_head(std::string_view text, ResponseHead* head, std::string* error) {
  size_t eol = text.find("\r\n");
  std::string_view status_line = text.substr(0, eol);
  if (status_line.size() < 12 || status_line.compare(0, 7, "HTTP/1.") != 0 ||
      status_line[8] != ' ') {
    *error = "bad status line: '" + std::string(status_line.substr(0, 80)) + "'";
    return false;
  }
  uint64_t status = 0;
  if (!parse_u64(status_line.substr(9, 3), &status) || status < 100 || status > 999) {
    *error = "bad status code in '" + std::string(status_line.substr(0, 80)) + "'";
    return false;
  }
  *head = ResponseHead{};
  head->status = static_cast<int>(status);
  head->close = status_line[7] == '0';  // HTTP/1.0 closes unless told otherwise
  while (eol != std::string_view::npos) {
    text.remove_prefix(eol + 2);
    eol = text.find("\r\n");
    std::string_view line = text.substr(0, eol);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    uint64_t n = 0;
    if (iequals(name, "Content-Length")) {
      if (!parse_u64(value, &n)) {
        *error = "bad Content-Length '" + std::string(value) + "'";
        return false;
      }
      head->content_length = n;
    } else if (iequals(name, "Upload-Offset")) {
      if (parse_u64(value, &n)) head->upload_offset = n;
    } else if (iequals(name, "Location")) {
      head->location = std::string(value);
    } else if (iequals(name, "Connection")) {
      head->close = iequals(value, "close");
    } else if (iequals(name, "Transfer-Encoding")) {
      // Not needed by any server measured here; refusing is clearer than misframing.
      *error = "chunked responses are not supported";
      return false;
    }
  }
  // These never carry a body whatever the headers say.
  if (head->status == 204 || head->status == 304 || head->status < 200) head->content_length = 0;
  return true;
}

}  // namespace

bool resolve(const Url& url, Endpoint* out, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(url.host.c_str(), url.port.c_str(), &hints, &result);
  if (rc != 0 || !result) {
    *error = "cannot resolve " + url.host + ": " + gai_strerror(rc);
    return false;
  }
  std::memcpy(&out->addr, result->ai_addr, result->ai_addrlen);
  out->addr_len = result->ai_addrlen;
  out->host_header = url.host_header;
  out->base_path = url.base_path;
  freeaddrinfo(result);
  return true;
}

bool Connection::connect(std::string* error) {
  close();
  fd_ = ::socket(endpoint_.addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd_ < 0) {
    *error = errno_text("socket");
    return false;
  }
  // Non-blocking connect + poll: connect(2) itself has no timeout.
  if (::connect(fd_, reinterpret_cast<const sockaddr*>(&endpoint_.addr), endpoint_.addr_len) < 0) {
    if (errno != EINPROGRESS) {
      *error = errno_text("connect");
      close();
      return false;
    }
    pollfd p{fd_, POLLOUT, 0};
    int n = ::poll(&p, 1, timeout_s_ * 1000);
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (n <= 0) {
      *error = n == 0 ? "connect: timed out" : errno_text("connect poll");
      close();
      return false;
    }
    ::getsockopt(fd_, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) {
      *error = std::string("connect: ") + std::strerror(so_error);
      close();
      return false;
    }
  }
  // From here on plain blocking calls, each bounded by the socket timeouts.
  int flags = ::fcntl(fd_, F_GETFL);
  ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK);
  timeval tv{timeout_s_, 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  buffer_.clear();
  return true;
}

void Connection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

bool Connection::send_request(std::string_view head, int file_fd, uint64_t file_offset,
                              uint64_t length, std::string* error) {
  // MSG_MORE: the head waits for the first body segment instead of leaving as its own packet.
  int flags = MSG_NOSIGNAL | (length > 0 ? MSG_MORE : 0);
  for (size_t sent = 0; sent < head.size();) {
    ssize_t n = ::send(fd_, head.data() + sent, head.size() - sent, flags);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = errno_text("send head");
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  off_t offset = static_cast<off_t>(file_offset);
  for (uint64_t left = length; left > 0;) {
    ssize_t n = ::sendfile(fd_, file_fd, &offset, std::min(left, kSendfileMax));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = errno_text("sendfile body");
      return false;
    }
    if (n == 0) {
      *error = "sendfile body: source file ended early";
      return false;
    }
    left -= static_cast<uint64_t>(n);
  }
  return true;
}

bool Connection::fill(std::string* error) {
  size_t old = buffer_.size();
  buffer_.resize(old + 64 * 1024);
  ssize_t n;
  do {
    n = ::recv(fd_, buffer_.data() + old, buffer_.size() - old, 0);
  } while (n < 0 && errno == EINTR);
  buffer_.resize(old + (n > 0 ? static_cast<size_t>(n) : 0));
  if (n < 0) *error = errno_text("recv");
  if (n == 0) *error = "connection closed by server";
  return n > 0;
}

bool Connection::read_head(ResponseHead* head, std::string* error) {
  for (;;) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (buffer_.size() > kMaxHeadBytes) {
        *error = "response head too large";
        return false;
      }
      if (!fill(error)) return false;
    }
    bool ok = parse_head(std::string_view(buffer_).substr(0, end + 2), head, error);
    buffer_.erase(0, end + 4);
    if (!ok) return false;
    if (head->status >= 200) return true;  // 100 Continue and friends precede the real answer
  }
}

bool Connection::read_body(const ResponseHead& head,
                           const std::function<void(const unsigned char*, size_t)>& sink,
                           std::string* error) {
  bool until_close = !head.content_length.has_value();
  uint64_t left = head.content_length.value_or(UINT64_MAX);
  // Bytes that arrived with the head come first.
  size_t take = static_cast<size_t>(std::min<uint64_t>(left, buffer_.size()));
  if (take > 0 && sink) sink(reinterpret_cast<const unsigned char*>(buffer_.data()), take);
  buffer_.erase(0, take);
  left -= take;
  if (left == 0) return true;
  // The rest goes straight from the socket into one large buffer, without the head buffer.
  std::vector<unsigned char> chunk(static_cast<size_t>(std::min<uint64_t>(left, kRecvBytes)));
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    ssize_t n = ::recv(fd_, chunk.data(), want, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 && until_close) {
      close();
      return true;
    }
    if (n <= 0) {
      *error = n == 0 ? "connection closed mid-body" : errno_text("recv body");
      return false;
    }
    if (sink) sink(chunk.data(), static_cast<size_t>(n));
    left -= static_cast<uint64_t>(n);
  }
  return true;
}

std::string location_path(const std::string& location, const std::string& base_path) {
  for (std::string_view scheme : {"http://", "https://"}) {
    if (location.compare(0, scheme.size(), scheme) == 0) {
      size_t slash = location.find('/', scheme.size());
      return slash == std::string::npos ? "/" : location.substr(slash);
    }
  }
  if (!location.empty() && location.front() == '/') return location;
  return base_path + "/files/" + location;  // a bare id, relative to the creation URL
}

}  // namespace ringest::loadgen
