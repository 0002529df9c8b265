// ringest-sink: the physical-limit yardstick for the upload benchmark. It answers the same
// requests the load generator sends (tus POST/PATCH, PUT) and throws every body byte away
// without copying it (recv with MSG_TRUNC), so "load generator -> sink" measures what loopback
// and the client side can move at all. Stores nothing: run the load generator with --no-verify.
// Benchmark tool only. One thread per connection; loopback only.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

namespace {

std::atomic<uint64_t> g_next_id{1};

bool send_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return false;
    off += static_cast<size_t>(n);
  }
  return true;
}

std::string header_value(const std::string& head, const char* name) {
  std::string lower_head = head;
  for (char& c : lower_head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = std::string("\r\n") + name + ":";
  size_t pos = lower_head.find(key);
  if (pos == std::string::npos) return {};
  size_t start = pos + key.size();
  size_t end = head.find("\r\n", start);
  std::string v = head.substr(start, end - start);
  while (!v.empty() && v.front() == ' ') v.erase(0, 1);
  return v;
}

void serve(int fd) {
  std::string buffer;
  char chunk[16384];
  for (;;) {
    size_t end;
    while ((end = buffer.find("\r\n\r\n")) == std::string::npos) {
      if (buffer.size() > 65536) return void(close(fd));
      ssize_t n = recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return void(close(fd));
      buffer.append(chunk, static_cast<size_t>(n));
    }
    std::string head = buffer.substr(0, end + 2);
    buffer.erase(0, end + 4);
    std::string cl = header_value(head, "content-length");
    uint64_t remaining = cl.empty() ? 0 : std::strtoull(cl.c_str(), nullptr, 10);
    uint64_t total = remaining;
    uint64_t from_buffer = std::min<uint64_t>(remaining, buffer.size());
    buffer.erase(0, from_buffer);
    remaining -= from_buffer;
    while (remaining > 0) {
      size_t want = remaining < (64u << 20) ? static_cast<size_t>(remaining) : (64u << 20);
      ssize_t n = recv(fd, nullptr, want, MSG_TRUNC);  // discarded in the kernel, no copy
      if (n <= 0) return void(close(fd));
      remaining -= static_cast<uint64_t>(n);
    }
    std::string response;
    if (head.rfind("POST ", 0) == 0) {
      response = "HTTP/1.1 201 Created\r\nTus-Resumable: 1.0.0\r\nLocation: /files/" +
                 std::to_string(g_next_id++) + "\r\nUpload-Offset: 0\r\nContent-Length: 0\r\n\r\n";
    } else if (head.rfind("PATCH ", 0) == 0) {
      std::string offset = header_value(head, "upload-offset");
      uint64_t new_offset = std::strtoull(offset.c_str(), nullptr, 10) + total;
      response = "HTTP/1.1 204 No Content\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " +
                 std::to_string(new_offset) + "\r\n\r\n";
    } else if (head.rfind("PUT ", 0) == 0) {
      response = "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    } else {
      response = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    }
    if (!send_all(fd, response)) return void(close(fd));
  }
}

}  // namespace

int main(int argc, char** argv) {
  std::string address = "127.0.0.1:0";
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--listen") == 0) address = argv[i + 1];
  }
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) {
    std::fprintf(stderr, "usage: ringest-sink --listen HOST:PORT\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(address.c_str() + colon + 1)));
  if (inet_pton(AF_INET, address.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    std::fprintf(stderr, "ringest-sink: bad address %s\n", address.c_str());
    return 2;
  }
  int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(lfd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0 || listen(lfd, 512) < 0) {
    std::perror("ringest-sink: listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(lfd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::printf("listening on http://%s:%u\n", address.substr(0, colon).c_str(), ntohs(addr.sin_port));
  std::fflush(stdout);
  for (;;) {
    int fd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::thread(serve, fd).detach();
  }
}
