#include "tools/crowd/crowd.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "tools/crowd/response.h"
#include "tools/loadgen/http_wire.h"

namespace ringest::crowd {
namespace {

constexpr uint64_t kTickMs = 10;          // granularity of the trickle wheel
constexpr uint64_t kReservedFds = 64;     // stdio, epoll, signalfd and slack
constexpr size_t kMaxSlowHeadPad = 6000;  // a slow head stays below an 8 KiB head limit
constexpr int kMaxEvents = 1024;
constexpr uint64_t kSignalTag = ~uint64_t{0};  // epoll data of the signalfd; peers use indexes
constexpr size_t kMaxLatencySamples = size_t{1} << 24;  // 64 MiB of samples at most

enum class Kind : uint8_t { kIdle, kSilent, kTrickle, kSlowHead, kBusy };

enum class Phase : uint8_t {
  kUnopened,
  kConnecting,
  kAwaitSetup,  // idle: OPTIONS sent; trickle: POST sent; waiting for the answer
  kHeld,        // set up; idle, trickling, or sending its head slowly
  kClosed,
};

struct Peer {
  int fd = -1;
  Kind kind = Kind::kIdle;
  Phase phase = Phase::kUnopened;
  uint32_t head_sent = 0;  // slow heads: bytes of the current head sent
  uint64_t sent_us = 0;    // busy: when the request in flight was sent
  std::string in;          // received, not yet framed into a response
};

uint64_t now_us() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000 + static_cast<uint64_t>(ts.tv_nsec) / 1000;
}

uint64_t now_ms() { return now_us() / 1000; }

std::string errno_name(int err) {
  const char* name = strerrorname_np(err);
  return name ? name : "errno " + std::to_string(err);
}

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force.
uint64_t raise_nofile() {
  rlimit lim{};
  if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? ~uint64_t{0} : lim.rlim_cur;
}

class Crowd {
 public:
  Crowd(const Options& o, const loadgen::Endpoint& endpoint, CrowdStats* stats)
      : o_(o), endpoint_(endpoint), stats_(stats) {}
  ~Crowd() {
    for (Peer& p : peers_) {
      if (p.fd >= 0) ::close(p.fd);
    }
    if (signal_fd_ >= 0) ::close(signal_fd_);
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
  }
  Crowd(const Crowd&) = delete;
  Crowd& operator=(const Crowd&) = delete;

  bool run(std::string* error);

 private:
  KindStats& stats_of(const Peer& p) {
    switch (p.kind) {
      case Kind::kIdle:
        return stats_->idle;
      case Kind::kSilent:
        return stats_->silent;
      case Kind::kTrickle:
        return stats_->trickle;
      case Kind::kBusy:
        return stats_->busy;
      case Kind::kSlowHead:
        break;
    }
    return stats_->slow_head;
  }
  double at_s() const { return static_cast<double>(now_ms() - start_ms_) / 1000.0; }

  void plan();
  void open(uint32_t index);
  void on_event(uint32_t index, uint32_t events);
  void on_connected(uint32_t index);
  void on_readable(uint32_t index);
  void on_response(uint32_t index, const Response& r);
  void become_ready(uint32_t index);
  // Closes a peer the server is done with; `in_setup` peers count as set-up failures.
  void drop(uint32_t index);
  void record_close(uint32_t index, bool reset);
  // Sends all of `bytes` or reports the peer as closed by the server; false if it was dropped.
  bool send_all(uint32_t index, std::string_view bytes);
  void tick(uint64_t now_rel_ms);
  void trickle_one(uint32_t index);
  void report_ready_once();
  void send_busy_request(uint32_t index);

  const Options& o_;
  const loadgen::Endpoint& endpoint_;
  CrowdStats* stats_;
  int epoll_fd_ = -1;
  int signal_fd_ = -1;
  uint64_t start_ms_ = 0;
  std::vector<Peer> peers_;
  uint32_t next_open_ = 0;  // peers_[next_open_..] are not opened yet
  uint64_t in_setup_ = 0;   // connecting or waiting for their set-up answer
  uint64_t open_ = 0;
  uint64_t held_now_ = 0;
  bool ready_reported_ = false;

  // Trickle wheel: bucket b holds the peers that send at every (b + k * buckets) x kTickMs.
  std::vector<std::vector<uint32_t>> wheel_;
  uint64_t wheel_ms_ = 0;  // relative time up to which buckets ran
  uint64_t chunk_bytes_ = 1;
  uint64_t upload_length_ = 0;
  std::string options_request_;
  std::string slow_head_;
  std::string busy_request_;
  std::string filler_;  // chunk_bytes_ of body
};

void Crowd::plan() {
  // Chunk = rate x interval; a rate below one byte per interval stretches the interval instead.
  uint64_t interval_ms = o_.trickle_interval_ms;
  chunk_bytes_ = o_.trickle_rate_bytes_per_s * interval_ms / 1000;
  if (chunk_bytes_ == 0) {
    chunk_bytes_ = 1;
    interval_ms = std::max<uint64_t>(kTickMs, 1000 / o_.trickle_rate_bytes_per_s);
  }
  stats_->trickle_chunk_bytes = chunk_bytes_;
  stats_->trickle_interval_ms = interval_ms;
  stats_->trickle_rate_bytes_per_s = o_.trickle_rate_bytes_per_s;
  filler_.assign(chunk_bytes_, 'x');
  // Never reached within the run: the upload stays open until the crowd closes it.
  upload_length_ = o_.trickle_rate_bytes_per_s * (o_.duration_s + 60) + chunk_bytes_ + 1;

  const std::string host = "Host: " + endpoint_.host_header + "\r\n";
  const std::string files = endpoint_.base_path + "/files/";
  options_request_ = "OPTIONS " + files + " HTTP/1.1\r\n" + host + "Tus-Resumable: 1.0.0\r\n\r\n";
  size_t pad =
      std::clamp<uint64_t>(o_.trickle_rate_bytes_per_s * o_.duration_s, 16, kMaxSlowHeadPad);
  slow_head_ = "OPTIONS " + files + " HTTP/1.1\r\n" + host + "Tus-Resumable: 1.0.0\r\n" +
               "X-Crowd-Pad: " + std::string(pad, 'p') + "\r\n\r\n";

  busy_request_ = o_.busy_method + " " + endpoint_.base_path + o_.busy_path + " HTTP/1.1\r\n" +
                  host + "Tus-Resumable: 1.0.0\r\n\r\n";
  stats_->busy_latency_us.reserve(std::min<uint64_t>(kMaxLatencySamples, o_.busy * 100000));

  peers_.resize(o_.total());
  size_t i = 0;
  for (uint64_t k = 0; k < o_.idle; ++k, ++i) {
    bool options = o_.idle_request == IdleRequest::kOptions ||
                   (o_.idle_request == IdleRequest::kMixed && k % 2 == 0);
    peers_[i].kind = options ? Kind::kIdle : Kind::kSilent;
    ++(options ? stats_->idle : stats_->silent).planned;
  }
  for (uint64_t k = 0; k < o_.trickle; ++k, ++i) peers_[i].kind = Kind::kTrickle;
  for (uint64_t k = 0; k < o_.slow_heads; ++k, ++i) peers_[i].kind = Kind::kSlowHead;
  for (uint64_t k = 0; k < o_.busy; ++k, ++i) peers_[i].kind = Kind::kBusy;
  // Kinds interleaved (fixed seed: the same order every run), so set-up load and the server's
  // per-reactor split see a mix from the first second on.
  std::mt19937 rng(20261124);
  std::shuffle(peers_.begin(), peers_.end(), rng);
  stats_->trickle.planned = o_.trickle;
  stats_->slow_head.planned = o_.slow_heads;
  stats_->busy.planned = o_.busy;

  wheel_.resize(std::max<uint64_t>(1, interval_ms / kTickMs));
  size_t slot = 0;
  for (uint32_t index = 0; index < peers_.size(); ++index) {
    if (peers_[index].kind != Kind::kTrickle && peers_[index].kind != Kind::kSlowHead) continue;
    wheel_[slot++ % wheel_.size()].push_back(index);
  }
}

bool Crowd::run(std::string* error) {
  stats_->url = o_.url.text;
  stats_->duration_s = o_.duration_s;
  stats_->rlimit_nofile = raise_nofile();
  if (o_.total() + kReservedFds > stats_->rlimit_nofile) {
    *error = "needs " + std::to_string(o_.total() + kReservedFds) +
             " file descriptors, the limit is " + std::to_string(stats_->rlimit_nofile) +
             " (raise the hard limit, e.g. prlimit --nofile=N:N ringest-crowd ...)";
    return false;
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) {
    *error = std::string("epoll_create1: ") + std::strerror(errno);
    return false;
  }
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigprocmask(SIG_BLOCK, &mask, nullptr);
  signal_fd_ = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (signal_fd_ < 0) {
    *error = std::string("signalfd: ") + std::strerror(errno);
    return false;
  }
  epoll_event sev{};
  sev.events = EPOLLIN;
  sev.data.u64 = kSignalTag;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, signal_fd_, &sev);

  plan();
  start_ms_ = now_ms();
  const uint64_t end_rel_ms = o_.duration_s * 1000;
  const bool ticking = o_.trickle + o_.slow_heads > 0;
  std::vector<epoll_event> events(kMaxEvents);
  for (;;) {
    while (next_open_ < peers_.size() && in_setup_ < o_.setup_concurrency) open(next_open_++);
    report_ready_once();
    uint64_t now_rel = now_ms() - start_ms_;
    if (now_rel >= end_rel_ms) break;
    uint64_t wait_ms = end_rel_ms - now_rel;
    if (ticking) {
      uint64_t next_tick_ms = wheel_ms_ + kTickMs;
      wait_ms = std::min(wait_ms, next_tick_ms > now_rel ? next_tick_ms - now_rel : 0);
    }
    int n = epoll_wait(epoll_fd_, events.data(), kMaxEvents, static_cast<int>(wait_ms));
    if (n < 0 && errno != EINTR) {
      *error = std::string("epoll_wait: ") + std::strerror(errno);
      return false;
    }
    bool stop = false;
    for (int e = 0; e < n; ++e) {
      if (events[e].data.u64 == kSignalTag) {
        stop = true;
        continue;
      }
      on_event(static_cast<uint32_t>(events[e].data.u64), events[e].events);
    }
    if (stop) {
      stats_->interrupted = true;
      break;
    }
    if (ticking) tick(now_ms() - start_ms_);
  }
  stats_->run_s = at_s();

  // The end: count what is still held, then reset every connection (no TIME_WAIT left behind).
  for (Peer& p : peers_) {
    if (p.fd < 0) continue;
    if (p.phase == Phase::kHeld) ++stats_of(p).held_at_end;
    linger lin{1, 0};
    setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
    ::close(p.fd);
    p.fd = -1;
    p.phase = Phase::kClosed;
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  stats_->cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                  static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  return true;
}

void Crowd::open(uint32_t index) {
  Peer& p = peers_[index];
  KindStats& ks = stats_of(p);
  int fd = ::socket(endpoint_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++ks.connect_failed;
    ++stats_->connect_errors[errno_name(errno)];
    p.phase = Phase::kClosed;
    return;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a trickled chunk goes now
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint_.addr), endpoint_.addr_len) != 0 &&
      errno != EINPROGRESS) {
    ++ks.connect_failed;
    ++stats_->connect_errors[errno_name(errno)];
    ::close(fd);
    p.phase = Phase::kClosed;
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = index;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    ++ks.connect_failed;
    ++stats_->connect_errors[errno_name(errno)];
    ::close(fd);
    p.phase = Phase::kClosed;
    return;
  }
  p.fd = fd;
  p.phase = Phase::kConnecting;
  ++in_setup_;
  ++open_;
  stats_->peak_open = std::max(stats_->peak_open, open_);
}

void Crowd::on_event(uint32_t index, uint32_t events) {
  Peer& p = peers_[index];
  if (p.fd < 0) return;  // dropped earlier in this batch
  if (p.phase == Phase::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      KindStats& ks = stats_of(p);
      ++ks.connect_failed;
      ++stats_->connect_errors[errno_name(err)];
      ::close(p.fd);
      p.fd = -1;
      p.phase = Phase::kClosed;
      --in_setup_;
      --open_;
      return;
    }
    if (!(events & EPOLLOUT)) return;
    on_connected(index);
    if (p.fd < 0 || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) return;
  }
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(index);
}

void Crowd::on_connected(uint32_t index) {
  Peer& p = peers_[index];
  ++stats_of(p).established;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLRDHUP;  // from now on only the server's answers and closes matter
  ev.data.u64 = index;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, p.fd, &ev);
  switch (p.kind) {
    case Kind::kSilent:
      become_ready(index);
      return;
    case Kind::kIdle:
      p.phase = Phase::kAwaitSetup;
      send_all(index, options_request_);
      return;
    case Kind::kTrickle: {
      p.phase = Phase::kAwaitSetup;
      std::string post =
          "POST " + endpoint_.base_path + "/files/ HTTP/1.1\r\nHost: " + endpoint_.host_header +
          "\r\nTus-Resumable: 1.0.0\r\nUpload-Length: " + std::to_string(upload_length_) +
          "\r\nContent-Length: 0\r\n\r\n";
      send_all(index, post);
      return;
    }
    case Kind::kSlowHead:
      become_ready(index);  // its head goes out with the trickle clock
      return;
    case Kind::kBusy:
      become_ready(index);
      if (stats_->busy.ready == 1) stats_->busy_start_s = at_s();
      send_busy_request(index);
      return;
  }
}

void Crowd::become_ready(uint32_t index) {
  Peer& p = peers_[index];
  p.phase = Phase::kHeld;
  ++stats_of(p).ready;
  --in_setup_;
  ++held_now_;
}

void Crowd::on_readable(uint32_t index) {
  Peer& p = peers_[index];
  char buffer[4096];
  bool eof = false;
  bool reset = false;
  for (;;) {
    ssize_t n = ::recv(p.fd, buffer, sizeof buffer, 0);
    if (n > 0) {
      p.in.append(buffer, static_cast<size_t>(n));
      if (p.in.size() > (1u << 20)) break;  // nobody answers the crowd with this much
      continue;
    }
    if (n == 0) {
      eof = true;
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
      eof = true;
      reset = errno == ECONNRESET || errno == EPIPE;
    }
    break;
  }
  while (p.fd >= 0 && !p.in.empty()) {
    Response r;
    size_t used = 0;
    Framing f = frame_response(p.in, &r, &used);
    if (f == Framing::kNeedMore && !eof) break;
    if (f != Framing::kComplete) {  // garbage, or a response cut short by the close
      stats_of(p).answers[0].add(at_s());
      drop(index);
      return;
    }
    p.in.erase(0, used);
    on_response(index, r);
  }
  if (p.fd >= 0 && eof) {
    record_close(index, reset);
    drop(index);
  }
}

void Crowd::on_response(uint32_t index, const Response& r) {
  Peer& p = peers_[index];
  KindStats& ks = stats_of(p);
  if (p.phase == Phase::kAwaitSetup) {
    if (p.kind == Kind::kIdle && r.status >= 200 && r.status < 300) {
      if (r.close) {
        ks.answers[r.status].add(at_s());  // answered, but not kept alive: not an idle peer
        drop(index);
        return;
      }
      become_ready(index);
      return;
    }
    if (p.kind == Kind::kTrickle && r.status == 201 && !r.location.empty() && !r.close) {
      std::string patch = "PATCH " + loadgen::location_path(r.location, endpoint_.base_path) +
                          " HTTP/1.1\r\nHost: " + endpoint_.host_header +
                          "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                          "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                          std::to_string(upload_length_) + "\r\n\r\n";
      if (send_all(index, patch)) become_ready(index);
      return;
    }
    ks.answers[r.status].add(at_s());
    drop(index);
    return;
  }
  if (p.kind == Kind::kBusy) {
    if (stats_->busy_latency_us.size() < kMaxLatencySamples) {
      stats_->busy_latency_us.push_back(static_cast<uint32_t>(
          std::min<uint64_t>(now_us() - p.sent_us, std::numeric_limits<uint32_t>::max())));
    }
    if (r.status >= 200 && r.status < 300) {
      ++ks.expected_responses;
    } else {
      ks.answers[r.status].add(at_s());
    }
    if (r.close) {
      drop(index);
      return;
    }
    send_busy_request(index);
    return;
  }
  if (p.kind == Kind::kSlowHead && p.head_sent == slow_head_.size() && r.status < 300 && !r.close) {
    ++ks.expected_responses;  // the head was complete: start the next one
    p.head_sent = 0;
    return;
  }
  ks.answers[r.status].add(at_s());
  drop(index);
}

void Crowd::record_close(uint32_t index, bool reset) {
  KindStats& ks = stats_of(peers_[index]);
  ks.closed_without_answer.add(at_s());
  if (reset) ++ks.resets;
}

void Crowd::drop(uint32_t index) {
  Peer& p = peers_[index];
  if (p.phase == Phase::kAwaitSetup || p.phase == Phase::kConnecting) {
    ++stats_of(p).setup_failed;
    --in_setup_;
  } else if (p.phase == Phase::kHeld) {
    --held_now_;
  }
  ::close(p.fd);
  p.fd = -1;
  p.phase = Phase::kClosed;
  p.in.clear();
  p.in.shrink_to_fit();
  --open_;
}

bool Crowd::send_all(uint32_t index, std::string_view bytes) {
  Peer& p = peers_[index];
  while (!bytes.empty()) {
    ssize_t n = ::send(p.fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      // A few hundred bytes into an empty socket buffer: only a server that stopped reading
      // for a long time gets here. The rest is dropped; the trickle counts only what left.
      return true;
    }
    // The server closed or reset: an answer may be queued before the close; read it first.
    int err = errno;
    on_readable(index);
    if (p.fd >= 0) {
      record_close(index, err == ECONNRESET || err == EPIPE);
      drop(index);
    }
    return false;
  }
  return true;
}

void Crowd::send_busy_request(uint32_t index) {
  peers_[index].sent_us = now_us();
  send_all(index, busy_request_);
}

void Crowd::trickle_one(uint32_t index) {
  Peer& p = peers_[index];
  if (p.fd < 0 || p.phase != Phase::kHeld) return;
  if (p.kind == Kind::kTrickle) {
    ssize_t n = ::send(p.fd, filler_.data(), filler_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      stats_->bytes_trickled += static_cast<uint64_t>(n);
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      int err = errno;
      on_readable(index);
      if (p.fd >= 0) {
        record_close(index, err == ECONNRESET || err == EPIPE);
        drop(index);
      }
    }
    return;
  }
  if (p.head_sent >= slow_head_.size()) return;  // complete: waiting for its answer
  size_t len = std::min<size_t>(chunk_bytes_, slow_head_.size() - p.head_sent);
  ssize_t n = ::send(p.fd, slow_head_.data() + p.head_sent, len, MSG_NOSIGNAL);
  if (n > 0) {
    p.head_sent += static_cast<uint32_t>(n);
    stats_->bytes_trickled += static_cast<uint64_t>(n);
  } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    int err = errno;
    on_readable(index);
    if (p.fd >= 0) {
      record_close(index, err == ECONNRESET || err == EPIPE);
      drop(index);
    }
  }
}

void Crowd::tick(uint64_t now_rel_ms) {
  uint64_t rotation_ms = wheel_.size() * kTickMs;
  if (now_rel_ms > wheel_ms_ + rotation_ms) wheel_ms_ = now_rel_ms - rotation_ms;  // stalled
  while (wheel_ms_ + kTickMs <= now_rel_ms) {
    wheel_ms_ += kTickMs;
    for (uint32_t index : wheel_[(wheel_ms_ / kTickMs) % wheel_.size()]) trickle_one(index);
  }
}

void Crowd::report_ready_once() {
  if (ready_reported_ || next_open_ < peers_.size() || in_setup_ > 0) return;
  ready_reported_ = true;
  stats_->setup_s = at_s();
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", stats_->setup_s);
  std::string line = "ringest-crowd: ready after " + std::string(seconds) +
                     " s: " + std::to_string(held_now_) + " held (";
  uint64_t failed = 0;
  const std::pair<const char*, const KindStats*> kinds[] = {{"idle", &stats_->idle},
                                                            {"silent", &stats_->silent},
                                                            {"trickle", &stats_->trickle},
                                                            {"slow heads", &stats_->slow_head},
                                                            {"busy", &stats_->busy}};
  for (const auto& [name, k] : kinds) {
    line += std::string(name) + " " + std::to_string(k->ready) + "/" + std::to_string(k->planned) +
            (k == &stats_->busy ? "" : ", ");
    failed += k->connect_failed + k->setup_failed;
  }
  line += "); " + std::to_string(failed) + " failed\n";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace

void Occurrences::add(double at_s) {
  if (count == 0) first_s = at_s;
  last_s = at_s;
  ++count;
  ++per_second[static_cast<uint32_t>(at_s)];
}

bool run_crowd(const Options& o, CrowdStats* stats, std::string* error) {
  loadgen::Endpoint endpoint;
  if (!loadgen::resolve(o.url, &endpoint, error)) return false;
  Crowd crowd(o, endpoint, stats);
  return crowd.run(error);
}

}  // namespace ringest::crowd
