#include "http/connection_pool.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <new>

#include "engine/base/clock.h"

namespace ringest::http {

ConnectionPool::ConnectionPool(Reactor* reactor, ServerContext* context)
    : reactor_(reactor) {
  const Config& config = *context->config;
  limit_ = config.max_connections;
  // Room for new connections while shed ones finish closing (one ring round trip each).
  count_ = limit_ + kShedHeadroom;
  // Per connection: head arena, header array, response, DirectIngest's stash, the handler's
  // scratch (a record header with metadata as large as a request head may carry, and room to
  // decode it), an interim response, the pipelined-bytes carry, a small body
  // (read_small_body(): touched, so resident, only by connections that read one).
  uint32_t response_bytes = config.max_head_bytes + 4096;
  uint32_t scratch_bytes = 3 * (config.max_head_bytes + 1024);
  uint32_t interim_bytes = 1024;
  size_t per_connection = config.max_head_bytes + config.max_headers * sizeof(Header) +
                          response_bytes + kDirectBlock + scratch_bytes + interim_bytes +
                          HttpConnection::kCarryBytes + kSmallBodyBytes;
  per_connection = (per_connection + 63) & ~size_t{63};
  memory_bytes_ = per_connection * count_;
  // Untouched pages of this mapping cost no memory: only connections in use are resident.
  void* p = mmap(nullptr, memory_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
  RINGEST_CHECK(p != MAP_FAILED);
  memory_ = static_cast<char*>(p);
  per_connection_ = per_connection;
  layout_ = {config.max_head_bytes, config.max_headers, response_bytes, scratch_bytes,
             interim_bytes};
  context_ = context;
  // The connection objects too: constructed in place the first time each is needed, so a
  // reactor's resident memory follows the most connections it has held, not the maximum.
  objects_bytes_ = sizeof(HttpConnection) * size_t{count_};
  p = mmap(nullptr, objects_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  RINGEST_CHECK(p != MAP_FAILED);
  connections_ = static_cast<HttpConnection*>(p);
  // Timers tick at a quarter of the shortest timeout, between 10 ms and 1 s.
  uint64_t shortest = 1000 * 4;
  for (uint32_t t : {config.head_timeout_ms, config.idle_timeout_ms,
                     config.min_body_rate > 0 ? config.body_rate_window_ms : 0u}) {
    if (t > 0 && t < shortest) shortest = t;
  }
  uint64_t tick_ms = std::max<uint64_t>(shortest / 4, 10);
  tick_interval_.tv_sec = static_cast<int64_t>(tick_ms / 1000);
  tick_interval_.tv_nsec = static_cast<int64_t>(tick_ms % 1000) * 1000000;
}

HttpConnection* ConnectionPool::take() {
  if (free_ != nullptr) {
    HttpConnection* c = free_;
    free_ = c->next_free;
    return c;
  }
  if (constructed_ == count_) return nullptr;
  uint32_t i = constructed_++;
  char* base = memory_ + per_connection_ * i;
  HttpConnection::Memory m;
  m.head_arena = base;
  m.headers = reinterpret_cast<Header*>(base + layout_.head_bytes);
  m.response = base + layout_.head_bytes + layout_.headers * sizeof(Header);
  m.response_bytes = layout_.response_bytes;
  m.stash = m.response + layout_.response_bytes;
  m.scratch = reinterpret_cast<uint8_t*>(m.stash + kDirectBlock);
  m.scratch_bytes = layout_.scratch_bytes;
  m.interim = m.stash + kDirectBlock + layout_.scratch_bytes;
  m.interim_bytes = layout_.interim_bytes;
  m.carry = m.interim + layout_.interim_bytes;
  m.small_body = m.carry + HttpConnection::kCarryBytes;
  HttpConnection* c = new (&connections_[i]) HttpConnection();  // placement: no allocation
  c->init(this, reactor_, context_, m);
  return c;
}

void ConnectionPool::arm_timer(HttpConnection* c, HttpConnection::Timer which,
                               uint64_t deadline_ms) {
  disarm_timer(c);
  TimerList& list = timers_[static_cast<int>(which)];
  c->timer_ = which;
  c->deadline_ms_ = deadline_ms;
  c->timer_next_ = nullptr;
  c->timer_prev_ = list.tail;
  if (list.tail != nullptr) {
    list.tail->timer_next_ = c;
  } else {
    list.head = c;
  }
  list.tail = c;
  if (!tick_armed_) arm_tick();
}

void ConnectionPool::disarm_timer(HttpConnection* c) {
  if (c->timer_ == HttpConnection::Timer::kNone) return;
  TimerList& list = timers_[static_cast<int>(c->timer_)];
  (c->timer_prev_ ? c->timer_prev_->timer_next_ : list.head) = c->timer_next_;
  (c->timer_next_ ? c->timer_next_->timer_prev_ : list.tail) = c->timer_prev_;
  c->timer_prev_ = c->timer_next_ = nullptr;
  c->timer_ = HttpConnection::Timer::kNone;
}

void ConnectionPool::arm_tick() {
  reactor_->ring().timeout(&tick_, &tick_interval_);
  tick_armed_ = true;
}

void ConnectionPool::on_completion(Completion* /*completion*/, int /*res*/, uint32_t /*flags*/) {
  tick_armed_ = false;
  uint64_t now = monotonic_ms_now();
  bool any = false;
  for (int kind = 1; kind < static_cast<int>(HttpConnection::Timer::kCount); ++kind) {
    TimerList& list = timers_[kind];
    while (list.head != nullptr && list.head->deadline_ms_ <= now) {
      HttpConnection* c = list.head;
      disarm_timer(c);
      c->on_timer(static_cast<HttpConnection::Timer>(kind));
    }
    any = any || list.head != nullptr;
  }
  if (any && !tick_armed_) arm_tick();  // a timer armed during the loop may have armed it
}

ConnectionPool::~ConnectionPool() {
  for (uint32_t i = 0; i < constructed_; ++i) connections_[i].~HttpConnection();
  munmap(connections_, objects_bytes_);
  munmap(memory_, memory_bytes_);
}

HttpConnection* ConnectionPool::shed_victim() {
  // Oldest first within each kind (a timer list is in arming order): lingering after an answer,
  // then a connection whose head has not arrived yet (silent, or sending it slowly: not yet
  // authenticated), then one idle between requests (it has been served before, and a client
  // that just got an answer is about to send its next request). A waiting request sits in the
  // head list too but is not sheddable: the walk skips a bounded number.
  using Timer = HttpConnection::Timer;
  for (Timer kind : {Timer::kLinger, Timer::kHead, Timer::kIdle}) {
    int looked = 0;
    for (HttpConnection* c = timers_[static_cast<int>(kind)].head; c != nullptr && looked < 64;
         c = c->timer_next_, ++looked) {
      if (c->sheddable() && !c->shed_pending) return c;
    }
  }
  return nullptr;
}

void ConnectionPool::on_accept(int fd) {
  HttpConnection* c = nullptr;
  if (!reactor_->stopping()) {
    HttpConnection* victim = live_ - shedding_ >= limit_ ? shed_victim() : nullptr;
    if (victim != nullptr) {
      victim->shed_pending = true;
      ++shedding_;
      victim->shed();  // closes; its object comes back through release()
    }
    if (live_ - shedding_ < limit_) c = take();
  }
  if (c == nullptr) {
    static constexpr char kBusy[] =
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 21\r\nConnection: close\r\n"
        "Retry-After: 1\r\n\r\ntoo many connections\n";
    ssize_t ignored = ::send(fd, kBusy, sizeof kBusy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)ignored;
    ::close(fd);
    reactor_->stats().connections_refused.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ++live_;
  c->start(fd);
}

void ConnectionPool::begin_shutdown() {
  for (uint32_t i = 0; i < constructed_; ++i) {
    if (connections_[i].in_use()) connections_[i].shutdown();
  }
}

void ConnectionPool::release(HttpConnection* connection) {
  if (connection->shed_pending) {
    connection->shed_pending = false;
    --shedding_;
  }
  connection->next_free = free_;
  free_ = connection;
  --live_;
}

}  // namespace ringest::http
