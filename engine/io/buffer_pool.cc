#include "engine/io/buffer_pool.h"

#include <sys/mman.h>

#include <cerrno>
#include <new>

#include "engine/base/check.h"

namespace ringest {

BufferPool::~BufferPool() {
  if (base_) munmap(base_, total_bytes());
  delete[] refs_;
  delete[] free_list_;
}

Status BufferPool::init(uint32_t slot_count, uint32_t slot_bytes) {
  RINGEST_CHECK(base_ == nullptr && slot_count > 0 && slot_bytes % 4096 == 0);
  size_t bytes = static_cast<size_t>(slot_count) * slot_bytes;
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return Status::FromErrno(errno);
  base_ = static_cast<char*>(p);
  slot_bytes_ = slot_bytes;
  slot_count_ = slot_count;
  refs_ = new uint16_t[slot_count]();
  free_list_ = new uint32_t[slot_count];
  for (uint32_t i = 0; i < slot_count; ++i) free_list_[i] = slot_count - 1 - i;
  free_count_ = slot_count;
  return Status::Ok();
}

int BufferPool::acquire() {
  if (free_count_ == 0 || (waiters_head_ != nullptr && !serving_waiter_)) return -1;
  uint32_t slot = free_list_[--free_count_];
  RINGEST_CHECK(refs_[slot] == 0);
  refs_[slot] = 1;
  return static_cast<int>(slot);
}

void BufferPool::ref(int slot) {
  RINGEST_CHECK(slot >= 0 && static_cast<uint32_t>(slot) < slot_count_ && refs_[slot] > 0);
  ++refs_[slot];
}

void BufferPool::unref(int slot) {
  RINGEST_CHECK(slot >= 0 && static_cast<uint32_t>(slot) < slot_count_ && refs_[slot] > 0);
  if (--refs_[slot] == 0) free_list_[free_count_++] = static_cast<uint32_t>(slot);
}

void BufferPool::add_waiter(PoolWaiter* waiter) {
  if (waiter->waiting) return;
  waiter->waiting = true;
  waiter->next_waiter = nullptr;
  waiter->prev_waiter = waiters_tail_;
  (waiters_tail_ ? waiters_tail_->next_waiter : waiters_head_) = waiter;
  waiters_tail_ = waiter;
  ++waiter_count_;
}

void BufferPool::remove_waiter(PoolWaiter* waiter) {
  if (!waiter->waiting) return;
  (waiter->prev_waiter ? waiter->prev_waiter->next_waiter : waiters_head_) = waiter->next_waiter;
  (waiter->next_waiter ? waiter->next_waiter->prev_waiter : waiters_tail_) = waiter->prev_waiter;
  waiter->waiting = false;
  waiter->next_waiter = waiter->prev_waiter = nullptr;
  --waiter_count_;
}

void BufferPool::wake_waiters() {
  // Each waiter at most once per call: one that queues again goes behind the others.
  for (uint32_t turns = waiter_count_; turns > 0 && free_count_ > 0 && waiters_head_; --turns) {
    PoolWaiter* w = waiters_head_;
    remove_waiter(w);
    serving_waiter_ = true;
    w->on_slot_available();
    serving_waiter_ = false;
  }
}

}  // namespace ringest
