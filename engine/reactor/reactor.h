// Reactor: one thread, one io_uring, one buffer pool, one SO_REUSEPORT listener. A connection
// is accepted by one reactor and lives there for its whole life; nothing it owns is touched by
// another thread. Reactors talk to each other only through IORING_OP_MSG_RING messages posted
// into a connection's mailbox (see mailbox.h).
//
// The http layer plugs in as the ReactorClient: it gets accepted sockets and the shutdown call.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "engine/base/config.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/io_ring.h"
#include "engine/reactor/mailbox.h"

namespace ringest {

class ReactorClient {
 public:
  virtual void on_accept(int fd) = 0;
  // Stop taking new requests; finish or cut off (and commit) the ones in flight.
  virtual void begin_shutdown() = 0;
  virtual bool drained() const = 0;

 protected:
  ~ReactorClient() = default;
};

// Work of the node's own that runs on a reactor beside its connections (the expiry collector):
// told when the reactor begins to stop, and waited for like the connections.
class ReactorService {
 public:
  virtual void begin_shutdown() = 0;
  virtual bool drained() const = 0;

 protected:
  ~ReactorService() = default;
};

// Counters one reactor writes and anyone may read (relaxed).
struct ReactorStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> connections_shed{0};  // closed to make room for a new one
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> body_bytes_received{0};
  std::atomic<uint64_t> body_bytes_written{0};
  std::atomic<uint64_t> body_bytes_direct{0};   // of those, written O_DIRECT from a registered slot
  std::atomic<uint64_t> body_bytes_spliced{0};  // --io-mode splice: socket -> pipe, no buffer
  std::atomic<uint64_t> commits{0};
  std::atomic<uint64_t> uploads_created{0};
  std::atomic<uint64_t> uploads_completed{0};
  std::atomic<uint64_t> uploads_expired{0};  // removed by the expiry collector
  std::atomic<uint64_t> timeouts{0};  // 408s for slow heads, idle connections, slow bodies
  std::atomic<uint64_t> heap_allocations{0};  // on this reactor's thread, see alloc_counter.h
};

class Reactor final : public CompletionHandler {
 public:
  Reactor(int index, const Config& config);
  Reactor(const Reactor&) = delete;
  Reactor& operator=(const Reactor&) = delete;
  ~Reactor();

  // Called on the thread that will run the reactor (the ring is single-issuer).
  Status init(int listen_fd);
  void set_client(ReactorClient* client) { client_ = client; }
  // At most one; set on the reactor's thread before run().
  void set_service(ReactorService* service) { service_ = service; }
  // Runs until a stop was requested and the client has drained.
  void run();

  // Thread-safe.
  void request_stop();

  // Posts `payload` into the mailbox of `target`. Call on this reactor's thread only.
  void post_message(const MailboxAddress& target, uint32_t payload);

  IoRing& ring() { return ring_; }
  BufferPool& pool() { return pool_; }
  int index() const { return index_; }
  const Config& config() const { return config_; }
  ReactorStats& stats() { return stats_; }
  bool stopping() const { return stopping_; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;

 private:
  void arm_accept();
  void arm_stop_read();

  int index_;
  const Config& config_;
  IoRing ring_;
  BufferPool pool_;
  ReactorClient* client_ = nullptr;
  ReactorService* service_ = nullptr;
  ReactorStats stats_;

  int listen_fd_ = -1;
  int stop_fd_ = -1;  // eventfd written by request_stop()
  uint64_t stop_value_ = 0;
  Completion accept_{this, 1};
  Completion stop_{this, 2};
  // Out of descriptors (EMFILE/ENFILE) or memory: accepting again at once would spin on the
  // same error, so the listener rests for a moment (as nginx does) and warnings are limited
  // to one a second.
  Completion accept_retry_{this, 3};
  __kernel_timespec accept_backoff_{0, 100 * 1000 * 1000};
  bool accept_backing_off_ = false;
  uint64_t accept_warned_ms_ = 0;
  uint64_t accept_errors_unlogged_ = 0;
  bool accept_armed_ = false;
  bool stop_read_armed_ = false;
  bool stopping_ = false;
};

}  // namespace ringest
