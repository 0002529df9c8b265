// DirectIngest (--io-mode direct, the default): a body is received into a slot at addresses
// congruent to its file offsets modulo 4 KiB, so whole blocks are written O_DIRECT straight
// from the slot they arrived in (WRITE_FIXED, no copy). The partial blocks at either end of a
// request go through the page cache at their exact length: nothing is read back, nothing is
// written padded, and the file never grows past the bytes it holds. When a slot fills, or the
// client turns slow, the last partial block (under 4 KiB) waits in the connection's 4 KiB stash
// and the slot is let go, so a connection never holds one slot while waiting for another.
#pragma once

#include "engine/upload/ingest/body_ingest.h"

namespace ringest {

class DirectIngest final : public BodyIngest {
 protected:
  void start(const Leftover& leftover) override;
  void step() override;
  void on_received(uint32_t bytes) override;
  bool drain() override;
  void release() override;

 private:
  bool flush();  // hands whole blocks (and a request's first partial block) to the writer
  void park();   // the partial block goes to the stash; the slot is let go
  bool unpark(); // into a new slot; false when none is free
  uint64_t file_end() const { return acc_slot_ >= 0 ? acc_base_ + acc_end_ : stash_to_; }

  // Accumulator: slot position p holds file offset acc_base_ + p (acc_base_ block-aligned).
  int acc_slot_ = -1;
  uint64_t acc_base_ = 0;
  uint32_t acc_written_ = 0;  // positions below this were handed to the writer
  uint32_t acc_end_ = 0;      // positions below this were received
  // The stash holds file offsets [stash_from_, stash_to_) of one block, at index offset % 4 KiB.
  uint64_t stash_from_ = 0;
  uint64_t stash_to_ = 0;
};

}  // namespace ringest
