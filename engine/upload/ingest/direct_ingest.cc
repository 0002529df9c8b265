#include "engine/upload/ingest/direct_ingest.h"

#include <cstring>

namespace ringest {
namespace {
constexpr uint32_t kBlockMask = kDirectBlock - 1;
}  // namespace

void DirectIngest::start(const Leftover& leftover) {
  BufferPool& pool = *context_.pool;
  uint64_t offset = writer().next_offset();
  acc_slot_ = -1;
  stash_from_ = stash_to_ = offset;
  if (!leftover.slot_handed_over || leftover.len == 0) {
    // The connection keeps its slot (a pipelined request follows, so the whole body is already
    // here) or nothing came with the head: what there is goes through the page cache as it is.
    if (leftover.len > 0) {
      writer().write(leftover.slot, leftover.data, leftover.len, Placement::kBuffered);
      stash_from_ = stash_to_ = offset + leftover.len;
    }
    if (leftover.slot_handed_over) pool.unref(leftover.slot);
    return;
  }
  // The slot is ours: move the bytes to the position congruent to their file offset (the
  // consumed head before them is free room), so the blocks after them are received in place.
  char* base = pool.data(leftover.slot);
  uint32_t p = static_cast<uint32_t>(leftover.data - base);
  uint32_t want = static_cast<uint32_t>(offset & kBlockMask);
  uint32_t q = p >= want ? p - ((p - want) & kBlockMask) : want;
  if (q > offset) q = static_cast<uint32_t>(offset);  // congruent too: offset < 4 KiB here
  if (q + leftover.len > pool.slot_bytes()) {
    writer().write(leftover.slot, leftover.data, leftover.len, Placement::kBuffered);
    pool.unref(leftover.slot);
    stash_from_ = stash_to_ = offset + leftover.len;
    return;
  }
  if (q != p) std::memmove(base + q, base + p, leftover.len);
  acc_slot_ = leftover.slot;
  acc_base_ = offset - q;
  acc_written_ = q;
  acc_end_ = q + leftover.len;
}

bool DirectIngest::flush() {
  if (acc_slot_ < 0) return true;
  char* base = context_.pool->data(acc_slot_);
  uint64_t at = acc_base_ + acc_written_;
  if ((at & kBlockMask) != 0) {
    // The request's first bytes end a block someone else began: through the page cache, once
    // the rest of that block is here.
    uint32_t boundary = acc_written_ + (kDirectBlock - static_cast<uint32_t>(at & kBlockMask));
    if (acc_end_ < boundary) return true;
    if (!writer().can_write()) return false;
    writer().write(acc_slot_, base + acc_written_, boundary - acc_written_, Placement::kBuffered);
    acc_written_ = boundary;
  }
  uint32_t whole = acc_end_ & ~kBlockMask;
  if (whole > acc_written_) {
    if (!writer().can_write()) return false;
    writer().write(acc_slot_, base + acc_written_, whole - acc_written_, Placement::kDirect);
    acc_written_ = whole;
  }
  return true;
}

void DirectIngest::park() {
  // After a complete flush, what is left lies within one block.
  RINGEST_CHECK(acc_end_ - acc_written_ < kDirectBlock);
  stash_from_ = acc_base_ + acc_written_;
  stash_to_ = acc_base_ + acc_end_;
  std::memcpy(context_.stash + (stash_from_ & kBlockMask),
              context_.pool->data(acc_slot_) + acc_written_, stash_to_ - stash_from_);
  context_.pool->unref(acc_slot_);  // its writes hold their own references
  acc_slot_ = -1;
}

bool DirectIngest::unpark() {
  int slot = context_.pool->acquire();
  if (slot < 0) return false;
  uint32_t pos = static_cast<uint32_t>(stash_from_ & kBlockMask);
  uint32_t len = static_cast<uint32_t>(stash_to_ - stash_from_);
  std::memcpy(context_.pool->data(slot) + pos, context_.stash + pos, len);
  acc_slot_ = slot;
  acc_base_ = stash_from_ - pos;
  acc_written_ = pos;
  acc_end_ = pos + len;
  return true;
}

void DirectIngest::step() {
  BufferPool& pool = *context_.pool;
  if (!flush()) {
    wait_for_writer();
    return;
  }
  if (acc_slot_ >= 0 && (slow_ || pool.slot_bytes() - acc_end_ < kMinReceiveBytes)) park();
  if (slow_) {
    post_poll();  // a slow client is awaited holding only the stash
    return;
  }
  if (acc_slot_ < 0 && !unpark()) {
    wait_for_slot();
    return;
  }
  if (!writer().can_write()) {
    wait_for_writer();
    return;
  }
  uint64_t room = pool.slot_bytes() - acc_end_;
  post_recv(pool.data(acc_slot_) + acc_end_,
            static_cast<uint32_t>(remaining_ < room ? remaining_ : room));
}

void DirectIngest::on_received(uint32_t bytes) { acc_end_ += bytes; }

bool DirectIngest::drain() {
  if (!flush()) return false;
  // The last partial block, at its exact length through the page cache.
  if (acc_slot_ >= 0 && acc_end_ > acc_written_) {
    writer().write_last(acc_slot_, context_.pool->data(acc_slot_) + acc_written_,
                        acc_end_ - acc_written_);
    acc_written_ = acc_end_;
  } else if (acc_slot_ < 0 && stash_to_ > stash_from_) {
    writer().write_last(-1, context_.stash + (stash_from_ & kBlockMask),
                        static_cast<uint32_t>(stash_to_ - stash_from_));
    stash_from_ = stash_to_;
  }
  return true;
}

void DirectIngest::release() {
  if (acc_slot_ >= 0) context_.pool->unref(acc_slot_);
  acc_slot_ = -1;
}

}  // namespace ringest
