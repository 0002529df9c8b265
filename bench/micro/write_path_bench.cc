// The body write path: 256 KiB from a registered buffer to a preallocated file at sequential
// offsets (wrapping after 256 MiB), as io_uring WRITE_FIXED with 4 writes in flight (the
// server's path: IoRing + BufferPool slot), and as plain pwrite from the same buffer for
// comparison, and WRITE_FIXED to an O_DIRECT descriptor (ringestd's default). No fdatasync: the
// buffered variants measure getting bytes into the page cache (with 256 MiB per file, under the
// default dirty limits, writeback does not start); the O_DIRECT one measures the device.
// One iteration = one completed 256 KiB write.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "bench/micro/bench_dir.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/completion.h"
#include "engine/io/io_ring.h"

namespace ringest {
namespace {

constexpr uint32_t kOpBytes = 256 * 1024;
constexpr int kQueueDepth = 4;
constexpr uint64_t kFileBytes = 256ull << 20;
constexpr unsigned kRingEntries = 64;

void fill_pattern(char* p, size_t n) {
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    p[i] = static_cast<char>(x);
  }
}

// Keeps kQueueDepth WRITE_FIXED ops in flight, each from its own pool slot; a completed op is
// resubmitted at the next offset from its handler (queued, submitted by the next run_once).
class FixedWriter final : public CompletionHandler {
 public:
  FixedWriter(IoRing* ring, BufferPool* pool, int fd) : ring_(ring), pool_(pool), fd_(fd) {}

  void start() {
    for (int i = 0; i < kQueueDepth; ++i) {
      ops_[i].completion = {this, static_cast<uint32_t>(i)};
      ops_[i].slot = pool_->acquire();
      fill_pattern(pool_->data(ops_[i].slot), kOpBytes);
      submit(ops_[i]);
    }
  }

  // Waits until one more write than last time has completed. False on a failed write.
  bool next() {
    while (completed_ == consumed_ && error_ == 0) ring_->run_once();
    ++consumed_;
    return error_ == 0;
  }

  // Stops resubmitting and waits for the writes in flight.
  void drain() {
    stopping_ = true;
    while (in_flight_ > 0) ring_->run_once();
    for (Op& op : ops_) {
      if (op.slot >= 0) pool_->unref(op.slot);
      op.slot = -1;
    }
  }

  int error() const { return error_; }

  void on_completion(Completion* c, int res, uint32_t) override {
    Op& op = ops_[c->tag];
    --in_flight_;
    if (res != static_cast<int>(kOpBytes)) {
      if (error_ == 0) error_ = res < 0 ? -res : EIO;  // a short write counts as an error
      return;
    }
    ++completed_;
    if (!stopping_ && error_ == 0) submit(op);
  }

 private:
  struct Op {
    Completion completion;
    int slot = -1;
  };

  void submit(Op& op) {
    ring_->write_fixed(&op.completion, fd_, pool_->data(op.slot), kOpBytes, next_offset_,
                       FaultOp::kNone);
    next_offset_ = (next_offset_ + kOpBytes) % kFileBytes;
    ++in_flight_;
  }

  IoRing* ring_;
  BufferPool* pool_;
  int fd_;
  Op ops_[kQueueDepth];
  uint64_t next_offset_ = 0;
  int in_flight_ = 0;
  uint64_t completed_ = 0;
  uint64_t consumed_ = 0;
  int error_ = 0;
  bool stopping_ = false;
};

// state.range(0): 0 = buffered descriptor, 1 = the same file opened O_DIRECT (ringestd's
// default data path: no page-cache copy, no kernel worker thread).
void BM_WriteFixed_IoUring_QD4(benchmark::State& state) {
  bench::TempFile file("data.bin");
  if (file.allocate(kFileBytes) != 0) {
    state.SkipWithError("posix_fallocate failed");
    return;
  }
  const bool direct = state.range(0) == 1;
  int fd = file.fd();
  if (direct) {
    fd = ::open(file.path().c_str(), O_WRONLY | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
      state.SkipWithError("O_DIRECT not supported on the scratch filesystem");
      return;
    }
  }
  BufferPool pool;
  IoRing ring;
  if (!pool.init(kQueueDepth, kOpBytes).ok() || !ring.init(kRingEntries).ok() ||
      !ring.register_buffer(pool.base(), pool.total_bytes()).ok()) {
    state.SkipWithError("io_uring or buffer pool set-up failed");
    return;
  }
  FixedWriter writer(&ring, &pool, fd);
  writer.start();
  for (auto _ : state) {
    if (!writer.next()) {
      state.SkipWithError("WRITE_FIXED failed");
      break;
    }
  }
  writer.drain();
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kOpBytes));
  if (direct) ::close(fd);
  state.SetLabel(direct ? "item = 256 KiB write; O_DIRECT" : "item = 256 KiB write; buffered");
}
BENCHMARK(BM_WriteFixed_IoUring_QD4)->ArgName("direct")->Arg(0)->Arg(1)->UseRealTime();

void BM_Write_Pwrite(benchmark::State& state) {
  bench::TempFile file("data.bin");
  if (file.allocate(kFileBytes) != 0) {
    state.SkipWithError("posix_fallocate failed");
    return;
  }
  BufferPool pool;
  if (!pool.init(1, kOpBytes).ok()) {
    state.SkipWithError("buffer pool set-up failed");
    return;
  }
  int slot = pool.acquire();
  char* buf = pool.data(slot);
  fill_pattern(buf, kOpBytes);
  uint64_t offset = 0;
  for (auto _ : state) {
    ssize_t n = pwrite(file.fd(), buf, kOpBytes, static_cast<off_t>(offset));
    if (n != static_cast<ssize_t>(kOpBytes)) {
      state.SkipWithError("pwrite failed");
      break;
    }
    offset = (offset + kOpBytes) % kFileBytes;
  }
  pool.unref(slot);
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kOpBytes));
  state.SetLabel("item = 256 KiB write");
}
BENCHMARK(BM_Write_Pwrite)->UseRealTime();

}  // namespace
}  // namespace ringest
