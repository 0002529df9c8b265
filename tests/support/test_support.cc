#include "tests/support/test_support.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#ifndef RINGESTD_PATH
#error "RINGESTD_PATH must name the ringestd binary"
#endif

namespace ringest::test {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

int remove_entry(const char* path, const struct stat*, int, struct FTW*) { return ::remove(path); }

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base && *base ? base : "/tmp") + "/ringest-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) throw std::runtime_error("mkdtemp failed");
  path_ = buf.data();
}

TempDir::~TempDir() { nftw(path_.c_str(), remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

Server::Server(std::string data_dir, std::vector<std::string> extra_args, uint16_t port,
               std::string binary)
    : data_dir_(std::move(data_dir)),
      extra_args_(std::move(extra_args)),
      fixed_port_(port),
      is_ringestd_(binary.empty()),
      binary_(binary.empty() ? ringestd_binary() : std::move(binary)) {}

Server::~Server() {
  if (pid_ > 0) kill9();
}

void Server::start() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) < 0) throw std::runtime_error("pipe failed");
  std::vector<std::string> args = {binary_, "--listen",
                                   "127.0.0.1:" + std::to_string(fixed_port_), "--data-dir",
                                   data_dir_};
  // RINGEST_TEST_IO_MODE=buffered runs every black-box test against the other data path.
  const char* mode = std::getenv("RINGEST_TEST_IO_MODE");
  if (is_ringestd_ && mode && *mode) {
    args.push_back("--io-mode");
    args.push_back(mode);
  }
  args.insert(args.end(), extra_args_.begin(), extra_args_.end());
  std::string err_path = stderr_path();
  pid_ = fork();
  if (pid_ == 0) {
    dup2(pipe_fds[1], STDOUT_FILENO);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err >= 0) dup2(err, STDERR_FILENO);
    if (fd_limit_ > 0) {
      rlimit limit{fd_limit_, fd_limit_};
      setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (address_space_limit_ > 0) {
      rlimit limit{address_space_limit_, address_space_limit_};
      setrlimit(RLIMIT_AS, &limit);
    }
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(pipe_fds[1]);
  std::string line;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (line.find('\n') == std::string::npos) {
    pollfd p{pipe_fds[0], POLLIN, 0};
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0 || poll(&p, 1, left) <= 0) break;
    char c[256];
    ssize_t n = read(pipe_fds[0], c, sizeof c);
    if (n <= 0) break;
    line.append(c, static_cast<size_t>(n));
  }
  ::close(pipe_fds[0]);
  first_line_ = line.substr(0, line.find('\n'));
  size_t colon = first_line_.rfind(':');
  if (first_line_.rfind("listening on http://127.0.0.1:", 0) != 0 || colon == std::string::npos) {
    throw std::runtime_error("ringestd did not start; first line: '" + first_line_ + "'");
  }
  port_ = static_cast<uint16_t>(std::stoi(first_line_.substr(colon + 1)));
}

int Server::stop(int timeout_ms) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill9();
  return -1;
}

bool Server::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == 0) return true;
  pid_ = -1;
  return false;
}

void Server::kill9() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string Response::header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

std::string ringestd_binary() {
  // RINGEST_TEST_RINGESTD runs the black-box tests against another build of ringestd, e.g. the
  // one before a change, to see that a new test fails there.
  const char* other = std::getenv("RINGEST_TEST_RINGESTD");
  return other != nullptr && *other ? std::string(other) : std::string(RINGESTD_PATH);
}

Connection::Connection(uint16_t port, int timeout_ms, int receive_buffer_bytes,
                       const char* source_address) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  for (int attempt = 0;; ++attempt) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (receive_buffer_bytes > 0) {  // before connect, so the window is small from the start
      setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer_bytes, sizeof receive_buffer_bytes);
    }
    if (source_address != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      if (inet_pton(AF_INET, source_address, &from.sin_addr) != 1 ||
          bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof from) != 0) {
        int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error(std::string("cannot bind ") + source_address + ": " +
                                 std::strerror(err));
      }
    }
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) return;
    int err = errno;
    ::close(fd_);
    fd_ = -1;
    // A signal (a child of the test exiting) can interrupt connect: try again, a few times.
    if (err != EINTR || attempt == 5) {
      throw std::runtime_error(std::string("connect failed: ") + std::strerror(err));
    }
  }
}

Connection::~Connection() { close_now(); }

void Connection::close_now() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void Connection::shutdown_write() { ::shutdown(fd_, SHUT_WR); }

bool Connection::send_all(std::string_view bytes) { return send_all(bytes.data(), bytes.size()); }

bool Connection::send_all(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd_, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

std::optional<Response> Connection::read_response(bool head_request) {
  for (;;) {
    size_t end = buffer_.find("\r\n\r\n");
    if (end != std::string::npos) {
      Response r;
      std::string head = buffer_.substr(0, end);
      size_t line_end = head.find("\r\n");
      std::string status_line = head.substr(0, line_end);
      if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) return std::nullopt;
      r.status = std::stoi(status_line.substr(9, 3));
      size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
      while (pos < head.size()) {
        size_t next = head.find("\r\n", pos);
        if (next == std::string::npos) next = head.size();
        std::string line = head.substr(pos, next - pos);
        size_t colon = line.find(':');
        if (colon != std::string::npos) {
          std::string value = line.substr(colon + 1);
          while (!value.empty() && value.front() == ' ') value.erase(0, 1);
          r.headers[lower(line.substr(0, colon))] = value;
        }
        pos = next + 2;
      }
      size_t body_len = 0;
      bool no_body = head_request || r.status == 204 || r.status == 304 || r.status < 200;
      if (!no_body && !r.header("content-length").empty()) {
        body_len = std::stoull(r.header("content-length"));
      }
      while (buffer_.size() < end + 4 + body_len) {
        char chunk[65536];
        ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
        if (n <= 0) return std::nullopt;
        buffer_.append(chunk, static_cast<size_t>(n));
      }
      r.body = buffer_.substr(end + 4, body_len);
      buffer_.erase(0, end + 4 + body_len);
      return r;
    }
    char chunk[65536];
    ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

bool Connection::closed_by_peer(int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) > 0) {
      char c[4096];
      ssize_t n = recv(fd_, c, sizeof c, MSG_DONTWAIT);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return true;
      if (n > 0) buffer_.append(c, static_cast<size_t>(n));
    }
  }
  return false;
}

std::optional<Response> request(uint16_t port, std::string_view raw, bool head_request) {
  Connection c(port);
  if (!c.send_all(raw)) return std::nullopt;
  return c.read_response(head_request);
}

std::optional<Response> request_from(const char* source_address, uint16_t port,
                                     std::string_view raw) {
  Connection c(port, 30000, 0, source_address);
  if (!c.send_all(raw)) return std::nullopt;
  return c.read_response();
}

std::string tus_create_request(uint64_t length, std::string_view metadata) {
  std::string req = "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: " +
                    std::to_string(length) + "\r\n";
  if (!metadata.empty()) req += "Upload-Metadata: " + std::string(metadata) + "\r\n";
  return req + "Content-Length: 0\r\n\r\n";
}

std::string tus_create(uint16_t port, uint64_t length, std::string_view metadata) {
  auto r = request(port, tus_create_request(length, metadata));
  if (!r || r->status != 201) return {};
  return r->header("location");
}

std::string patch_head(const std::string& location, uint64_t offset, uint64_t length) {
  return "PATCH " + location +
         " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
         "Content-Type: application/offset+octet-stream\r\nUpload-Offset: " +
         std::to_string(offset) + "\r\nContent-Length: " + std::to_string(length) + "\r\n\r\n";
}

std::optional<Response> tus_patch(uint16_t port, const std::string& location, uint64_t offset,
                                  std::string_view data) {
  Connection c(port);
  // An early answer (409, 413, ...) may come while the body is still being sent: read it anyway.
  if (c.send_all(patch_head(location, offset, data.size()))) c.send_all(data);
  return c.read_response();
}

std::optional<Response> tus_head(uint16_t port, const std::string& location) {
  return request(port, "HEAD " + location + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n",
                 true);
}

std::optional<uint64_t> head_offset(uint16_t port, const std::string& location) {
  auto r = tus_head(port, location);
  if (!r || r->status != 200 || r->header("upload-offset").empty()) return std::nullopt;
  return std::stoull(r->header("upload-offset"));
}

int status_of(const std::optional<Response>& response) { return response ? response->status : -1; }

int exit_code_of(int wait_status) {
  return wait_status != -1 && WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

uint64_t metric(uint16_t port, const std::string& name) {
  auto r = request(port, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
  if (!r || r->status != 200) throw std::runtime_error("GET /metrics failed");
  size_t pos = r->body.find("\n" + name + " ");
  if (pos == std::string::npos) throw std::runtime_error("no metric " + name);
  return std::stoull(r->body.substr(pos + name.size() + 2));
}

namespace {
std::string hex(const unsigned char* digest, unsigned len) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}
}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();  // block reads, not a byte at a time (slow in the sanitizer build)
  return out.str();
}

void write_file(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint32_t bitwise_crc32c(std::string_view data) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char byte : data) {
    c ^= byte;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  return ~c;
}

std::string repr_digest_crc32c(uint32_t crc) {
  unsigned char be[4] = {static_cast<unsigned char>(crc >> 24),
                         static_cast<unsigned char>(crc >> 16),
                         static_cast<unsigned char>(crc >> 8), static_cast<unsigned char>(crc)};
  unsigned char out[16];
  int n = EVP_EncodeBlock(out, be, 4);
  return "crc32c=:" + std::string(reinterpret_cast<char*>(out), static_cast<size_t>(n)) + ":";
}

bool test_io_mode_is(std::string_view mode) {
  const char* env = std::getenv("RINGEST_TEST_IO_MODE");
  std::string_view current = env != nullptr && *env != '\0' ? env : "direct";
  return current == mode;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr);
  return hex(digest, len);
}

std::string sha256_file(const std::string& path) {
  // Streamed in 1 MiB reads: a byte-at-a-time stream iterator took minutes per campaign in
  // the unoptimised sanitizer build. A missing file hashes like an empty one.
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    std::vector<char> buf(1 << 20);
    for (;;) {
      ssize_t n = ::read(fd, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      EVP_DigestUpdate(ctx, buf.data(), static_cast<size_t>(n));
    }
    ::close(fd);
  }
  unsigned char digest[32];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, digest, &len);
  EVP_MD_CTX_free(ctx);
  return hex(digest, len);
}

std::string random_bytes(size_t size, uint64_t seed) {
  std::string out(size, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  size_t i = 0;
  for (; i + 8 <= size; i += 8) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    std::memcpy(&out[i], &x, 8);
  }
  for (; i < size; ++i) out[i] = static_cast<char>(x >> (8 * (i % 8)));
  return out;
}

uint16_t free_port() {
  // Below the kernel's ephemeral range (32768 and up by default): a client connecting to a
  // dead port from the ephemeral range can be given that very port as its source and connect
  // to itself, and a server restarted on that port would then fail to bind.
  static std::mt19937 rng(static_cast<unsigned>(getpid()) * 7919u);
  for (int attempt = 0; attempt < 200; ++attempt) {
    uint16_t port = static_cast<uint16_t>(20000 + rng() % 12000);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool free = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    if (free) return port;
  }
  throw std::runtime_error("no free port below the ephemeral range");
}

int count_dir_entries(const std::string& dir, std::string_view suffix) {
  int n = 0;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string_view name = e->d_name;
      if (name.empty() || name[0] == '.') continue;
      n += suffix.empty() || (name.size() > suffix.size() && name.ends_with(suffix));
    }
    closedir(d);
  }
  return n;
}

std::string id_of(const std::string& location) {
  size_t slash = location.rfind('/');
  return slash == std::string::npos ? location : location.substr(slash + 1);
}

}  // namespace ringest::test
