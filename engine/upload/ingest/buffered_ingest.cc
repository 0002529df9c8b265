#include "engine/upload/ingest/buffered_ingest.h"

#include <cstring>

namespace ringest {

void BufferedIngest::start(const Leftover& leftover) {
  slot_ = -1;
  slot_end_ = 0;
  if (leftover.len > 0) {
    writer().write(leftover.slot, leftover.data, leftover.len, Placement::kBuffered);
  }
  if (leftover.slot_handed_over) {
    // Receive into the rest of that slot while it has room.
    slot_ = leftover.slot;
    slot_end_ = static_cast<uint32_t>(leftover.data + leftover.len - context_.pool->data(slot_));
  }
}

void BufferedIngest::step() {
  BufferPool& pool = *context_.pool;
  if (!writer().can_write()) {
    wait_for_writer();
    return;
  }
  if (slot_ >= 0 && (slow_ || pool.slot_bytes() - slot_end_ < kMinReceiveBytes)) {
    pool.unref(slot_);  // every byte in it belongs to a write, which holds its own reference
    slot_ = -1;
  }
  if (slow_) {
    post_poll();  // a slow client is awaited without a slot
    return;
  }
  if (slot_ < 0) {
    slot_ = pool.acquire();
    if (slot_ < 0) {
      wait_for_slot();
      return;
    }
    slot_end_ = 0;
  }
  uint64_t room = pool.slot_bytes() - slot_end_;
  post_recv(pool.data(slot_) + slot_end_,
            static_cast<uint32_t>(remaining_ < room ? remaining_ : room));
}

void BufferedIngest::on_received(uint32_t bytes) {
  if (writer().failed()) return;  // nothing more is taken; the ingest ends next
  writer().write(slot_, context_.pool->data(slot_) + slot_end_, bytes, Placement::kBuffered);
  slot_end_ += bytes;
}

void BufferedIngest::release() {
  if (slot_ >= 0) context_.pool->unref(slot_);
  slot_ = -1;
}

void BufferedIngest::begin_spans() { span_len_ = 0; }

void BufferedIngest::take_span(int slot, char* data, uint32_t len) {
  if (span_len_ == 0) {
    span_slot_ = slot;
    span_ptr_ = data;
  } else if (span_ptr_ + span_len_ != data) {
    // Chunk framing sits between the spans of one receive: close the gap in place (the bytes
    // before `data` are already parsed), so one receive still becomes one write.
    RINGEST_CHECK(slot == span_slot_ && data > span_ptr_ + span_len_);
    std::memmove(span_ptr_ + span_len_, data, len);
  }
  span_len_ += len;
}

void BufferedIngest::flush_spans() {
  if (span_len_ == 0) return;
  writer().write(span_slot_, span_ptr_, span_len_, Placement::kBuffered);
  span_len_ = 0;
}

}  // namespace ringest
