// BufferPool: a per-reactor slab of equal slots, allocated once at start-up with mmap and
// registered with the reactor's ring as fixed buffer 0, so body bytes can be written with
// IORING_OP_WRITE_FIXED straight from the slot they were received into.
//
// Ownership: a slot is reference counted. The connection that receives into it holds one
// reference; every write op that points into it holds one more. The last unref returns it to
// the free list. Only the reactor thread touches a pool.
//
// Backpressure: when no slot is free, a connection parks itself on the waiter list (intrusive,
// no allocation) and is woken by wake_waiters() after slots come back. Waiters are served in
// the order they came: while any is waiting, acquire() fails for everyone else, so a slot that
// comes back goes to the oldest waiter rather than to whoever asks first.
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/base/status.h"

namespace ringest {

class PoolWaiter {
 public:
  virtual void on_slot_available() = 0;
  PoolWaiter* next_waiter = nullptr;
  PoolWaiter* prev_waiter = nullptr;
  bool waiting = false;

 protected:
  ~PoolWaiter() = default;
};

class BufferPool {
 public:
  BufferPool() = default;
  BufferPool(const BufferPool&) = delete;
  BufferPool& operator=(const BufferPool&) = delete;
  ~BufferPool();

  Status init(uint32_t slot_count, uint32_t slot_bytes);

  // Returns a slot index with refcount 1, or -1 when the pool is empty or others wait for a
  // slot (the caller then waits too, behind them).
  int acquire();
  void ref(int slot);
  void unref(int slot);

  char* data(int slot) const { return base_ + static_cast<size_t>(slot) * slot_bytes_; }
  uint32_t slot_bytes() const { return slot_bytes_; }
  uint32_t slot_count() const { return slot_count_; }
  uint32_t free_count() const { return free_count_; }
  bool has_waiters() const { return waiters_head_ != nullptr; }
  void* base() const { return base_; }
  size_t total_bytes() const { return static_cast<size_t>(slot_count_) * slot_bytes_; }

  void add_waiter(PoolWaiter* waiter);
  void remove_waiter(PoolWaiter* waiter);
  // Wakes waiters while slots are free. Called by the reactor between completion batches,
  // never from inside unref(), so handlers are not re-entered.
  void wake_waiters();

 private:
  char* base_ = nullptr;
  uint32_t slot_bytes_ = 0;
  uint32_t slot_count_ = 0;
  uint16_t* refs_ = nullptr;        // refcount per slot
  uint32_t* free_list_ = nullptr;   // stack of free slot indices
  uint32_t free_count_ = 0;
  PoolWaiter* waiters_head_ = nullptr;
  PoolWaiter* waiters_tail_ = nullptr;
  uint32_t waiter_count_ = 0;
  bool serving_waiter_ = false;  // inside wake_waiters(): the woken waiter may acquire
};

}  // namespace ringest
