#include "tests/support/hook_receiver.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace ringest::test {
namespace {

std::string header_value(const std::string& head, const std::string& lowercase_name) {
  std::string lower = head;
  std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
  size_t at = lower.find("\r\n" + lowercase_name + ":");
  if (at == std::string::npos) return {};
  size_t start = at + 2 + lowercase_name.size() + 1;
  size_t end = head.find("\r\n", start);
  std::string value = head.substr(start, end - start);
  size_t first = value.find_first_not_of(' ');
  return first == std::string::npos ? std::string() : value.substr(first);
}

}  // namespace

void HookReceiver::start(uint16_t port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(listen_fd_, 64) != 0) {
    throw std::runtime_error(std::string("hook receiver: ") + std::strerror(errno));
  }
  socklen_t len = sizeof addr;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  thread_ = std::thread([this] { serve(); });
}

void HookReceiver::stop() {
  if (!thread_.joinable()) return;
  char c = 0;
  (void)!write(stop_pipe_[1], &c, 1);
  thread_.join();
  close(listen_fd_);
  close(stop_pipe_[0]);
  close(stop_pipe_[1]);
  listen_fd_ = -1;
}

void HookReceiver::set_reply(std::string reply) {
  std::lock_guard lock(mu_);
  reply_ = std::move(reply);
}

std::vector<ReceivedHook> HookReceiver::received() {
  std::lock_guard lock(mu_);
  return received_;
}

size_t HookReceiver::count() {
  std::lock_guard lock(mu_);
  return received_.size();
}

std::map<std::string, int> HookReceiver::counts() {
  std::lock_guard lock(mu_);
  std::map<std::string, int> out;
  for (const ReceivedHook& r : received_) ++out[r.event_id];
  return out;
}

// One thread polls the listener and every open connection (ringestd keeps one alive).
void HookReceiver::serve() {
  std::vector<int> conns;
  for (;;) {
    std::vector<pollfd> fds = {{stop_pipe_[0], POLLIN, 0}, {listen_fd_, POLLIN, 0}};
    for (int fd : conns) fds.push_back({fd, POLLIN, 0});
    if (poll(fds.data(), fds.size(), 1000) < 0 && errno != EINTR) break;
    if (fds[0].revents) break;
    std::vector<int> open;
    for (size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents == 0 || serve_connection(fds[i].fd)) open.push_back(fds[i].fd);
    }
    if (fds[1].revents & POLLIN) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd >= 0) open.push_back(fd);
    }
    conns = std::move(open);
  }
  for (int fd : conns) close(fd);
}

// Reads one request from `fd` (blocking, bounded by a receive timeout) and answers it. At EOF
// or on anything unexpected the connection is closed and false returned.
bool HookReceiver::serve_connection(int fd) {
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string data;
  char buf[16384];
  size_t head_end = std::string::npos;
  while ((head_end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd);
      return false;
    }
    data.append(buf, static_cast<size_t>(n));
  }
  std::string head = data.substr(0, head_end + 2);
  size_t length = std::stoul("0" + header_value(head, "content-length"));
  std::string body = data.substr(head_end + 4);
  while (body.size() < length) {
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      close(fd);
      return false;
    }
    body.append(buf, static_cast<size_t>(n));
  }
  int status = status_.load();
  std::string reply;
  {
    std::lock_guard lock(mu_);
    received_.push_back({header_value(head, "ringest-event"), header_value(head, "ringest-event-id"),
                         header_value(head, "ringest-signature"), body});
    reply = reply_;
  }
  std::string response = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
                         std::to_string(reply.size()) + "\r\n\r\n" + reply;
  (void)!send(fd, response.data(), response.size(), MSG_NOSIGNAL);
  return true;
}

}  // namespace ringest::test
