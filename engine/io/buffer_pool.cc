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
  if (free_count_ == 0) return -1;
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
  if (waiters_tail_) {
    waiters_tail_->next_waiter = waiter;
  } else {
    waiters_head_ = waiter;
  }
  waiters_tail_ = waiter;
}

void BufferPool::remove_waiter(PoolWaiter* waiter) {
  if (!waiter->waiting) return;
  PoolWaiter* prev = nullptr;
  for (PoolWaiter* w = waiters_head_; w; prev = w, w = w->next_waiter) {
    if (w != waiter) continue;
    if (prev) {
      prev->next_waiter = w->next_waiter;
    } else {
      waiters_head_ = w->next_waiter;
    }
    if (waiters_tail_ == w) waiters_tail_ = prev;
    break;
  }
  waiter->waiting = false;
  waiter->next_waiter = nullptr;
}

void BufferPool::wake_waiters() {
  while (free_count_ > 0 && waiters_head_) {
    PoolWaiter* w = waiters_head_;
    waiters_head_ = w->next_waiter;
    if (!waiters_head_) waiters_tail_ = nullptr;
    w->waiting = false;
    w->next_waiter = nullptr;
    w->on_slot_available();
  }
}

}  // namespace ringest
