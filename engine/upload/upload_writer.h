// UploadWriter: body spans -> WRITE_FIXED at file offsets -> fdatasync -> record commit.
// The protocol-neutral sink behind every append. One per connection, used by one request at a
// time, on the connection's reactor thread; its upload must be owned (acquire_upload) while a
// request writes.
//
// Contract with the connection (a two-call backpressure contract):
//  - write(slot, ptr, len) only while can_write(); the writer takes a pool reference on `slot`
//    and drops it when that write has completed. Writes go to consecutive file offsets.
//  - When a write or a commit completes, listener->on_writer_progress() is called; the
//    connection then re-arms its receive if it had stopped.
//  - finish() says "no more bytes for this request": once every write has completed the writer
//    commits what landed (if anything new) and calls listener->on_writer_finished().
//  - Checkpoints: after every `checkpoint_bytes` landed since the last commit, a commit runs
//    while bytes keep flowing.
//
// Commit protocol (one linked SQE chain): fdatasync(data) -> write commit slot -> fdatasync
// (record). Only when all three succeed does Upload::committed_offset move, so an offset the
// server reports is always durable. The committed offset is the contiguous prefix of completed
// writes: a failed write stops it, bytes past a failure are never acknowledged.
#pragma once

#include <cstdint>

#include "engine/base/status.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/io_ring.h"
#include "engine/upload/upload.h"

namespace ringest {

class UploadWriterListener {
 public:
  virtual void on_writer_progress() = 0;
  virtual void on_writer_finished(Status status) = 0;
  virtual void on_record_created(Status status) = 0;
  // Splice mode: the socket side of splice_from() moved `res` bytes into the pipe (they are
  // now at next_offset() - res), 0 at end of stream, or -errno (-EAGAIN: nothing to read).
  virtual void on_splice_received(int res) = 0;

 protected:
  ~UploadWriterListener() = default;
};

// O_DIRECT alignment of file offsets, lengths and buffer addresses.
inline constexpr uint32_t kDirectBlock = 4096;

class UploadWriter final : public CompletionHandler {
 public:
  static constexpr int kMaxWrites = 17;  // buffers_per_connection (<= 16) + one pipelined slot

  UploadWriter() = default;
  UploadWriter(const UploadWriter&) = delete;
  UploadWriter& operator=(const UploadWriter&) = delete;

  void init(IoRing* ring, BufferPool* pool, UploadWriterListener* listener,
            uint64_t checkpoint_bytes, int max_writes, std::atomic<uint64_t>* bytes_written,
            std::atomic<uint64_t>* commits);

  // Starts a request appending at `offset` (== the upload's committed offset). In O_DIRECT
  // mode (upload->direct_fd >= 0) writes are whole 4 KiB blocks, so the first one starts at
  // `write_from` = the block boundary at or before `offset` (its head is the committed prefix of
  // that block, re-written unchanged).
  // `direct` false: this request writes through the page cache even if the upload has an
  // O_DIRECT descriptor (mixing is coherent on Linux; both are covered by fdatasync).
  void begin(Upload* upload, uint64_t offset, uint64_t write_from, bool direct);
  bool direct() const { return direct_; }
  bool can_write() const { return !finishing_ && !failed_ && in_flight_ < max_writes_; }
  // `logical_len` (<= len) is how many of the bytes are upload bytes: the O_DIRECT tail block is
  // written padded to 4 KiB but only advances the upload by what the client sent.
  void write(int slot, const char* data, uint32_t len, uint32_t logical_len);
  void write(int slot, const char* data, uint32_t len) { write(slot, data, len, len); }
  // Splice mode: up to `max_len` body bytes move socket -> pipe -> file at next_offset() as
  // two hard-linked IORING_OP_SPLICE (both non-blocking; the pipe must be empty). One at a time:
  // the file side of the next must not take this one's bytes from the pipe. The socket side
  // reports through listener->on_splice_received(); the file side completes like a write.
  void splice_from(int socket_fd, int pipe_read, int pipe_write, uint32_t max_len);
  bool splice_in_flight() const { return splice_op_ != nullptr; }
  // A file-side splice failed with bytes still in the pipe: the caller must not reuse it.
  bool pipe_dirty() const { return pipe_dirty_; }
  void clear_pipe_dirty() { pipe_dirty_ = false; }

  // O_DIRECT: the partial last block, written padded by finish() once the other writes landed.
  void set_tail(int slot, const char* block, uint32_t logical_len);
  void finish();
  bool busy() const { return in_flight_ > 0 || commit_in_flight_ > 0 || create_in_flight_ > 0; }
  bool active() const { return upload_ != nullptr; }
  // A write failed: no more bytes are taken; finish() commits what landed before it.
  bool failed() const { return failed_; }
  void end();  // after on_writer_finished: forget the upload

  // Writes the new upload's whole record (upload->initial_record) and makes it and its
  // directory entry durable; then listener->on_record_created().
  void create_record(Upload* upload, int uploads_dir_fd);

  uint64_t next_offset() const { return next_offset_; }
  uint64_t committed_offset() const { return committed_; }
  Status first_error() const { return error_; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;

 private:
  struct WriteOp {
    Completion completion;
    int slot = -1;
    const char* data = nullptr;
    uint32_t len = 0;
    uint64_t offset = 0;
    uint32_t logical_len = 0;
    bool done = false;
    bool splice = false;  // file side of a splice: `data` unused, bytes come from the pipe
  };

  uint64_t landed_prefix() const;
  void submit_write(WriteOp& op);
  void submit_pipe_to_file(WriteOp& op);
  void on_splice_in(int res);
  void complete_op(WriteOp* op, int res);
  void submit_commit(uint64_t offset);
  void on_commit_done(bool ok);
  void progress();

  IoRing* ring_ = nullptr;
  BufferPool* pool_ = nullptr;
  UploadWriterListener* listener_ = nullptr;
  uint64_t checkpoint_bytes_ = 0;
  int max_writes_ = 0;
  std::atomic<uint64_t>* bytes_written_ = nullptr;
  std::atomic<uint64_t>* commits_ = nullptr;

  Upload* upload_ = nullptr;
  bool direct_ = false;
  int write_fd_ = -1;
  int tail_slot_ = -1;  // holds a pool reference while set
  const char* tail_block_ = nullptr;
  uint32_t tail_len_ = 0;
  WriteOp ops_[kMaxWrites];
  int head_ = 0;  // oldest op in submission order
  int in_flight_ = 0;
  uint64_t next_offset_ = 0;  // where the next write goes
  uint64_t committed_ = 0;    // durable offset as of the last commit this writer saw
  uint64_t failed_at_ = UINT64_MAX;
  bool failed_ = false;
  bool finishing_ = false;
  bool finished_reported_ = false;
  Status error_;

  // The splice in flight (at most one): its socket side, and where the pipe is.
  WriteOp* splice_op_ = nullptr;
  bool splice_receiving_ = false;
  int pipe_read_ = -1;
  bool pipe_dirty_ = false;
  Completion splice_in_{this, 4};

  Completion commit_ops_[3];
  int commit_in_flight_ = 0;
  bool commit_ok_ = true;
  uint64_t commit_offset_ = 0;
  bool commit_failed_ = false;

  Completion create_ops_[3];
  int create_in_flight_ = 0;
  bool create_ok_ = true;
  int create_error_ = 0;
};

}  // namespace ringest
