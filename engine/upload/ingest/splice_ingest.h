// SpliceIngest (--io-mode splice): socket -> pipe -> file, two IORING_OP_SPLICE hard-linked in
// one submission per step (a short first splice must not cut the second: it then moves what the
// pipe holds, or finds it empty). The socket is non-blocking in this mode: tcp_splice_read()
// ignores SPLICE_F_NONBLOCK and would park a kernel worker on a stalled client. One step is in
// flight at a time (the next file side must not take this one's bytes from the shared pipe),
// which is also the backpressure. The pipe is the connection's, made on first use and kept
// unless a failed write may have left bytes in it.
#pragma once

#include "engine/upload/ingest/body_ingest.h"

namespace ringest {

class SpliceIngest final : public BodyIngest {
 public:
  ~SpliceIngest();
  // False when no pipe can be had: the caller uses another strategy.
  bool ready();

 protected:
  void start(const Leftover& leftover) override;
  void step() override;
  void on_received(uint32_t bytes) override;
  void release() override {}
  void on_other_completion(Completion* completion, int res) override;
  void cancel_other() override { context_.ring->cancel(&splice_in_); }

 private:
  void close_pipe();
  Completion splice_in_{this, 3};
  int pipe_read_ = -1;
  int pipe_write_ = -1;
  uint32_t pipe_bytes_ = 0;
};

}  // namespace ringest
