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
#include <charconv>
#include <cstdio>
#include <cstring>
#include <deque>
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
// A slow reader's receive buffer, set before connect so the window it offers stays this small
// (the kernel doubles it for bookkeeping): the server's send stalls after a few KiB.
constexpr int kSlowReaderReceiveBytes = 4096;
// What a lingerer declares: far more than it ever trickles in a run.
constexpr uint64_t kLingerBodyBytes = 100000000;

enum class Kind : uint8_t {
  kIdle,
  kSilent,
  kTrickle,
  kSlowHead,
  kBusy,
  kSlowReader,    // attack: GET never read
  kLingerer,      // attack: early answer, then a trickled body
  kSilentAttack,  // attack: never sends a byte, reconnects
};

// The attack kinds stay on for the whole run: closed or refused, they connect again.
bool reconnects(Kind kind) {
  return kind == Kind::kSlowReader || kind == Kind::kLingerer || kind == Kind::kSilentAttack;
}

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
  bool opened = false;       // opened at least once (the next open is a reconnect)
  bool settled = false;      // its first set-up ended, ready or failed (for the ready line)
  bool answered = false;     // attack kinds: the server answered on this connection
  bool peeked = false;       // slow readers: the answer's status line was peeked at
  bool half_closed = false;  // lingerers: the server shut down its side (it still reads)
  uint32_t head_sent = 0;    // slow heads: bytes of the current head sent
  uint64_t sent_us = 0;      // busy: when the request in flight was sent
  std::string in;            // received, not yet framed into a response
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
      case Kind::kSlowReader:
        return stats_->slow_reader;
      case Kind::kLingerer:
        return stats_->lingerer;
      case Kind::kSilentAttack:
        return stats_->silent_attack;
      case Kind::kSlowHead:
        break;
    }
    return stats_->slow_head;
  }
  double at_s() const { return static_cast<double>(now_ms() - start_ms_) / 1000.0; }

  // One trickle clock: bucket b holds the peers that send at every (b + k * buckets) x kTickMs.
  struct Wheel {
    std::vector<std::vector<uint32_t>> buckets;
    uint64_t ran_to_ms = 0;  // relative time up to which buckets ran
  };

  void plan();
  void open(uint32_t index);
  // A connect that failed at once or later; reconnecting kinds try again.
  void connect_failed(uint32_t index, int err);
  void settle(Peer& p);
  void schedule_reopen(uint32_t index);
  void reopen_due(uint64_t now_rel_ms);
  void on_event(uint32_t index, uint32_t events);
  void on_slow_reader_event(uint32_t index, uint32_t events);
  void on_connected(uint32_t index);
  void on_readable(uint32_t index);
  void on_response(uint32_t index, const Response& r);
  void become_ready(uint32_t index);
  // Closes a peer the server is done with; `in_setup` peers count as set-up failures.
  void drop(uint32_t index);
  void record_close(uint32_t index, bool reset);
  // Sends all of `bytes` or reports the peer as closed by the server; false if it was dropped.
  bool send_all(uint32_t index, std::string_view bytes);
  void tick(Wheel& wheel, uint64_t now_rel_ms);
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
  uint64_t unsettled_ = 0;  // peers whose first set-up has not ended
  bool ready_reported_ = false;
  // Closed attack peers waiting to reconnect: (relative due time, index), due times in order.
  std::deque<std::pair<uint64_t, uint32_t>> reopen_;

  Wheel trickle_wheel_;  // trickling bodies and heads
  Wheel linger_wheel_;   // lingerers' bytes, one every linger_interval_ms
  uint64_t chunk_bytes_ = 1;
  uint64_t upload_length_ = 0;
  std::string options_request_;
  std::string slow_head_;
  std::string busy_request_;
  std::string read_request_;    // slow readers
  std::string linger_request_;  // lingerers
  std::string filler_;          // chunk_bytes_ of body
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
  stats_->linger_interval_ms = o_.linger_interval_ms;
  stats_->reconnect_delay_ms = o_.reconnect_delay_ms;
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
  read_request_ = "GET " + endpoint_.base_path + o_.read_path + " HTTP/1.1\r\n" + host +
                  "Tus-Resumable: 1.0.0\r\n\r\n";
  linger_request_ = "PATCH " + endpoint_.base_path + o_.linger_path + " HTTP/1.1\r\n" + host +
                    "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                    "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
                    std::to_string(kLingerBodyBytes) + "\r\n\r\n";
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
  for (uint64_t k = 0; k < o_.slow_readers; ++k, ++i) peers_[i].kind = Kind::kSlowReader;
  for (uint64_t k = 0; k < o_.lingerers; ++k, ++i) peers_[i].kind = Kind::kLingerer;
  for (uint64_t k = 0; k < o_.silent; ++k, ++i) peers_[i].kind = Kind::kSilentAttack;
  unsettled_ = peers_.size();
  // Kinds interleaved (fixed seed: the same order every run), so set-up load and the server's
  // per-reactor split see a mix from the first second on.
  std::mt19937 rng(20261124);
  std::shuffle(peers_.begin(), peers_.end(), rng);
  stats_->trickle.planned = o_.trickle;
  stats_->slow_head.planned = o_.slow_heads;
  stats_->busy.planned = o_.busy;
  stats_->slow_reader.planned = o_.slow_readers;
  stats_->lingerer.planned = o_.lingerers;
  stats_->silent_attack.planned = o_.silent;

  trickle_wheel_.buckets.resize(std::max<uint64_t>(1, interval_ms / kTickMs));
  linger_wheel_.buckets.resize(std::max<uint64_t>(1, o_.linger_interval_ms / kTickMs));
  size_t trickle_slot = 0;
  size_t linger_slot = 0;
  for (uint32_t index = 0; index < peers_.size(); ++index) {
    Kind kind = peers_[index].kind;
    if (kind == Kind::kTrickle || kind == Kind::kSlowHead) {
      std::vector<std::vector<uint32_t>>& b = trickle_wheel_.buckets;
      b[trickle_slot++ % b.size()].push_back(index);
    } else if (kind == Kind::kLingerer) {
      std::vector<std::vector<uint32_t>>& b = linger_wheel_.buckets;
      b[linger_slot++ % b.size()].push_back(index);
    }
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
  const bool trickling = o_.trickle + o_.slow_heads > 0;
  const bool lingering = o_.lingerers > 0;
  std::vector<epoll_event> events(kMaxEvents);
  for (;;) {
    while (next_open_ < peers_.size() && in_setup_ < o_.setup_concurrency) open(next_open_++);
    reopen_due(now_ms() - start_ms_);
    report_ready_once();
    uint64_t now_rel = now_ms() - start_ms_;
    if (now_rel >= end_rel_ms) break;
    uint64_t wait_ms = end_rel_ms - now_rel;
    auto wake_at = [&wait_ms, now_rel](uint64_t at_ms) {
      wait_ms = std::min(wait_ms, at_ms > now_rel ? at_ms - now_rel : 0);
    };
    if (trickling) wake_at(trickle_wheel_.ran_to_ms + kTickMs);
    if (lingering) wake_at(linger_wheel_.ran_to_ms + kTickMs);
    // A reconnect waiting only for a set-up slot is woken by the event that frees one.
    if (!reopen_.empty() && in_setup_ < o_.setup_concurrency) wake_at(reopen_.front().first);
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
    if (trickling) tick(trickle_wheel_, now_ms() - start_ms_);
    if (lingering) tick(linger_wheel_, now_ms() - start_ms_);
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
  if (p.opened) ++stats_of(p).reconnects;
  p.opened = true;
  p.answered = false;
  p.peeked = false;
  p.half_closed = false;
  p.head_sent = 0;
  int fd = ::socket(endpoint_.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return connect_failed(index, errno);
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a trickled chunk goes now
  if (p.kind == Kind::kSlowReader) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &kSlowReaderReceiveBytes, sizeof kSlowReaderReceiveBytes);
  }
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&endpoint_.addr), endpoint_.addr_len) != 0 &&
      errno != EINPROGRESS) {
    int err = errno;
    ::close(fd);
    return connect_failed(index, err);
  }
  epoll_event ev{};
  ev.events = EPOLLOUT | EPOLLIN | EPOLLRDHUP;
  ev.data.u64 = index;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
    int err = errno;
    ::close(fd);
    return connect_failed(index, err);
  }
  p.fd = fd;
  p.phase = Phase::kConnecting;
  ++in_setup_;
  ++open_;
  stats_->peak_open = std::max(stats_->peak_open, open_);
}

void Crowd::connect_failed(uint32_t index, int err) {
  Peer& p = peers_[index];
  ++stats_of(p).connect_failed;
  ++stats_->connect_errors[errno_name(err)];
  p.fd = -1;
  p.phase = Phase::kClosed;
  settle(p);
  schedule_reopen(index);
}

void Crowd::settle(Peer& p) {
  if (p.settled) return;
  p.settled = true;
  --unsettled_;
}

void Crowd::schedule_reopen(uint32_t index) {
  if (!reconnects(peers_[index].kind)) return;
  reopen_.emplace_back(now_ms() - start_ms_ + o_.reconnect_delay_ms, index);
}

void Crowd::reopen_due(uint64_t now_rel_ms) {
  // Only the peers queued before this call: one whose connect fails at once is queued again
  // and must not be retried in the same pass (a loop with --reconnect-delay-ms 0).
  for (size_t n = reopen_.size(); n > 0 && in_setup_ < o_.setup_concurrency; --n) {
    auto [due_ms, index] = reopen_.front();
    if (due_ms > now_rel_ms) break;
    reopen_.pop_front();
    open(index);
  }
}

void Crowd::on_event(uint32_t index, uint32_t events) {
  Peer& p = peers_[index];
  if (p.fd < 0) return;  // dropped earlier in this batch
  if (p.phase == Phase::kConnecting) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ::close(p.fd);
      --in_setup_;
      --open_;
      connect_failed(index, err);
      return;
    }
    if (!(events & EPOLLOUT)) return;
    on_connected(index);
    if (p.fd < 0 || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP))) return;
  }
  if (p.kind == Kind::kSlowReader) return on_slow_reader_event(index, events);
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(index);
}

// A slow reader never reads: it peeks at the status line once (that leaves the window closed),
// then listens only for the server's close. A FIN queued behind unread data never arrives, so a
// server that closes without a reset is seen only if its answer fit into the buffers.
void Crowd::on_slow_reader_event(uint32_t index, uint32_t events) {
  Peer& p = peers_[index];
  if (!p.peeked && (events & EPOLLIN)) {
    char head[16];
    ssize_t n = ::recv(p.fd, head, sizeof head, MSG_PEEK);
    if (n >= 12) {
      int status = 0;
      std::from_chars(head + 9, head + 12, status);  // "HTTP/1.1 200"; 0: not a status line
      stats_of(p).answers[std::string_view(head, 7) == "HTTP/1." ? status : 0].add(at_s());
      p.answered = true;
      p.peeked = true;
      epoll_event ev{};
      ev.events = EPOLLRDHUP;  // level-triggered EPOLLIN would fire for as long as it is unread
      ev.data.u64 = index;
      epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, p.fd, &ev);
    } else if (n > 0 && !(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
      return;  // a status line cut short: wait for the rest
    }
  }
  if (!(events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) return;
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(p.fd, SOL_SOCKET, SO_ERROR, &err, &len);
  record_close(index, err == ECONNRESET || err == EPIPE);
  drop(index);
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
    case Kind::kSilentAttack:
      become_ready(index);
      return;
    case Kind::kSlowReader:
      if (send_all(index, read_request_)) become_ready(index);
      return;
    case Kind::kLingerer:
      if (send_all(index, linger_request_)) become_ready(index);  // its body goes with the clock
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
  settle(p);
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
  if (p.fd >= 0 && eof && p.kind == Kind::kLingerer && !reset && !p.half_closed) {
    // A lingering close: the server shut down its side and still reads (and discards). Go on
    // trickling; the full close shows as a reset (EPOLLHUP/EPOLLERR, or a failed send).
    p.half_closed = true;
    epoll_event ev{};
    ev.events = 0;  // EPOLLIN and EPOLLRDHUP would fire for as long as the FIN is there
    ev.data.u64 = index;
    epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, p.fd, &ev);
    return;
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
  if (p.kind == Kind::kLingerer) {
    ks.answers[r.status].add(at_s());  // the early answer; it goes on trickling until closed
    p.answered = true;
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
  const Peer& p = peers_[index];
  KindStats& ks = stats_of(p);
  ks.closed_by_server.add(at_s());
  if (!p.answered) ks.closed_without_answer.add(at_s());
  if (reset) ++ks.resets;
}

void Crowd::drop(uint32_t index) {
  Peer& p = peers_[index];
  if (p.phase == Phase::kAwaitSetup || p.phase == Phase::kConnecting) {
    ++stats_of(p).setup_failed;
    --in_setup_;
    settle(p);
  } else if (p.phase == Phase::kHeld) {
    --held_now_;
  }
  if (reconnects(p.kind)) {
    // Closed with a reset: thousands of reconnects must not leave as many TIME_WAIT sockets.
    linger lin{1, 0};
    setsockopt(p.fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
  }
  ::close(p.fd);
  p.fd = -1;
  p.phase = Phase::kClosed;
  p.in.clear();
  p.in.shrink_to_fit();
  --open_;
  schedule_reopen(index);
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
  if (p.kind == Kind::kTrickle || p.kind == Kind::kLingerer) {
    size_t len = p.kind == Kind::kLingerer ? 1 : filler_.size();
    ssize_t n = ::send(p.fd, filler_.data(), len, MSG_NOSIGNAL);
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

void Crowd::tick(Wheel& wheel, uint64_t now_rel_ms) {
  const size_t buckets = wheel.buckets.size();
  uint64_t rotation_ms = buckets * kTickMs;
  if (now_rel_ms > wheel.ran_to_ms + rotation_ms) wheel.ran_to_ms = now_rel_ms - rotation_ms;
  while (wheel.ran_to_ms + kTickMs <= now_rel_ms) {
    wheel.ran_to_ms += kTickMs;
    for (uint32_t index : wheel.buckets[(wheel.ran_to_ms / kTickMs) % buckets]) {
      trickle_one(index);
    }
  }
}

void Crowd::report_ready_once() {
  if (ready_reported_ || next_open_ < peers_.size() || unsettled_ > 0) return;
  ready_reported_ = true;
  stats_->setup_s = at_s();
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.1f", stats_->setup_s);
  std::string line = "ringest-crowd: ready after " + std::string(seconds) +
                     " s: " + std::to_string(held_now_) + " held (";
  uint64_t failed = 0;
  const std::pair<const char*, const KindStats*> kinds[] = {
      {"idle", &stats_->idle},          {"silent", &stats_->silent},
      {"trickle", &stats_->trickle},    {"slow heads", &stats_->slow_head},
      {"busy", &stats_->busy},          {"slow readers", &stats_->slow_reader},
      {"lingerers", &stats_->lingerer}, {"silent (reconnecting)", &stats_->silent_attack}};
  bool first = true;
  for (const auto& [name, k] : kinds) {
    bool attack =
        k == &stats_->slow_reader || k == &stats_->lingerer || k == &stats_->silent_attack;
    if (attack && k->planned == 0) continue;  // the line reads as before without attacks
    line += std::string(first ? "" : ", ") + name + " " + std::to_string(k->ready) + "/" +
            std::to_string(k->planned);
    first = false;
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
