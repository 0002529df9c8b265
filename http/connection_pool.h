// ConnectionPool: a reactor's connections, mapped once at start-up (objects, head arenas, header
// arrays, response and scratch buffers) so that no request allocates, and their slow-client
// timers. A connection object is built in place the first time one is needed: untouched pages
// of the mappings cost no memory, so idle capacity is free.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/io/completion.h"
#include "engine/reactor/reactor.h"
#include "http/connection.h"
#include "http/server_context.h"

namespace ringest::http {

class ConnectionPool final : public ReactorClient, public CompletionHandler {
 public:
  ConnectionPool(Reactor* reactor, ServerContext* context);
  ~ConnectionPool();
  ConnectionPool(const ConnectionPool&) = delete;
  ConnectionPool& operator=(const ConnectionPool&) = delete;

  // A new connection. When the table is full, the oldest connection that is lingering, still
  // without a whole request head, or idle between requests is shed to make room (nginx does the
  // same with its reusable connections); only when none is, the new one is refused with 503.
  void on_accept(int fd) override;
  void begin_shutdown() override;
  bool drained() const override { return live_ == 0; }
  void release(HttpConnection* connection);

  // Timers: one list per kind, each ordered by deadline because every entry of a kind was
  // armed with the same timeout. One IORING_OP_TIMEOUT per reactor ticks them; a tick pops the
  // expired heads. Arming is O(1) and allocates nothing.
  void arm_timer(HttpConnection* c, HttpConnection::Timer which, uint64_t deadline_ms);
  void disarm_timer(HttpConnection* c);
  void on_completion(Completion* completion, int res, uint32_t flags) override;

  // Lingering connections receive into this with MSG_TRUNC: the kernel drops the bytes, so
  // they all share it (nothing reads it).
  static constexpr uint32_t kDiscardBytes = 64 * 1024;
  static constexpr uint32_t kShedHeadroom = 64;
  char* discard_area() { return discard_; }

 private:
  struct TimerList {
    HttpConnection* head = nullptr;
    HttpConnection* tail = nullptr;
  };
  void arm_tick();
  HttpConnection* take();  // a free connection, constructed on first use; null when none is left
  HttpConnection* shed_victim();  // the connection to shed for a new one, or null

  struct Layout {
    uint32_t head_bytes, headers, response_bytes, scratch_bytes, interim_bytes;
  };

  TimerList timers_[static_cast<int>(HttpConnection::Timer::kCount)];
  Completion tick_{this, 1};
  __kernel_timespec tick_interval_{};
  bool tick_armed_ = false;

  Reactor* reactor_;
  ServerContext* context_ = nullptr;
  HttpConnection* connections_ = nullptr;  // count_ slots, the first constructed_ of them built
  size_t objects_bytes_ = 0;
  uint32_t count_ = 0;
  uint32_t constructed_ = 0;
  char* memory_ = nullptr;  // per connection: arena, headers, response, stash, scratch, interim
  size_t memory_bytes_ = 0;
  size_t per_connection_ = 0;
  Layout layout_{};
  HttpConnection* free_ = nullptr;
  uint32_t live_ = 0;
  uint32_t limit_ = 0;     // --max-connections: live_ beyond this only while shed ones close
  uint32_t shedding_ = 0;  // shed, not yet released
  char discard_[kDiscardBytes];
};

}  // namespace ringest::http
