// BufferedIngest: receive into pool slots and write each receive through the page cache, from
// the slot it arrived in. Also takes the decoded spans of chunked bodies. The strategy of
// --io-mode buffered, of chunked bodies in every mode, and of filesystems without O_DIRECT.
#pragma once

#include "engine/upload/ingest/body_ingest.h"

namespace ringest {

class BufferedIngest final : public BodyIngest {
 public:
  // Chunked bodies: the connection parses, then hands decoded spans lying in its receive slot.
  // Spans of one parse are coalesced in place (closing the gaps the chunk framing leaves) into
  // one write by flush_spans().
  void begin_spans();
  bool can_take_spans() { return writer().can_write(); }
  void take_span(int slot, char* data, uint32_t len);
  void flush_spans();
  uint32_t span_bytes() const { return span_len_; }  // taken, not yet written

 protected:
  void start(const Leftover& leftover) override;
  void step() override;
  void on_received(uint32_t bytes) override;
  void release() override;

 private:
  int slot_ = -1;        // the slot being received into (our reference)
  uint32_t slot_end_ = 0;
  int span_slot_ = -1;
  char* span_ptr_ = nullptr;
  uint32_t span_len_ = 0;
};

}  // namespace ringest
