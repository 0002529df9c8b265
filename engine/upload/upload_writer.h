// UploadWriter: bytes at file offsets -> fdatasync -> record commit. The protocol-neutral end of
// every append: body ingest strategies (engine/upload/ingest/) hand it bytes; AppendSession
// begins and finishes it. One per connection, used by one request at a time, on the
// connection's reactor thread; its upload must be owned (acquire_upload) while a request writes.
//
// Contract (a two-call backpressure contract):
//  - write() only while can_write(); writes go to consecutive file offsets from next_offset().
//    Bytes in a pool slot are written with WRITE_FIXED and the writer holds a reference on the
//    slot until that write completes; other memory (slot -1) must stay valid until then.
//  - When a write or a commit completes, listener->on_writer_progress() is called.
//  - finish() says "no more bytes for this request": once every write has completed the writer
//    commits what landed (if anything new, or a newly declared length) and calls
//    listener->on_writer_finished().
//  - Checkpoints: after every `checkpoint_bytes` landed since the last commit, a commit runs
//    while bytes keep flowing.
//
// Commit protocol (one linked SQE chain): fdatasync(data) -> write commit slot -> fdatasync
// (record). Only when all three succeed does the upload's committed offset move, so an offset
// the server reports is always durable. The committed offset is the contiguous prefix of
// completed writes: a failed write stops it, bytes past a failure are never acknowledged.
//
// Digests: write() hashes the bytes where they lie (the slot), just before the write is
// submitted: the upload's running CRC-32C (committed with every slot, so the whole-file digest
// survives resumes and crashes) and, when the request carries a checksum, the request's digest.
// A request with a checksum is all or nothing: begin_digest() turns checkpoints off, and the
// caller ends it with finish() after a match, or discard() (a mismatch, or a body that did not
// arrive whole), which commits nothing of it. Splice mode moves bytes that never enter memory:
// the upload's CRC then becomes unknown (kFlagContentCrc cleared), and a request with a
// checksum never splices.
#pragma once

#include <cstdint>

#include "engine/base/digest.h"
#include "engine/base/status.h"
#include "engine/io/buffer_pool.h"
#include "engine/io/io_ring.h"
#include "engine/upload/upload.h"

namespace ringest {

class DiskBudget;

class UploadWriterListener {
 public:
  virtual void on_writer_progress() = 0;
  virtual void on_writer_finished(Status status) = 0;

 protected:
  ~UploadWriterListener() = default;
};

// O_DIRECT alignment of file offsets, lengths and buffer addresses.
inline constexpr uint32_t kDirectBlock = 4096;

// Which descriptor a write goes through: the page cache, or O_DIRECT (whole aligned blocks).
enum class Placement : uint8_t { kBuffered, kDirect };

class UploadWriter final : public CompletionHandler {
 public:
  static constexpr int kMaxWrites = 17;  // buffers_per_connection (<= 16) + one for the last bytes

  UploadWriter() = default;
  UploadWriter(const UploadWriter&) = delete;
  UploadWriter& operator=(const UploadWriter&) = delete;

  void init(IoRing* ring, BufferPool* pool, UploadWriterListener* listener,
            uint64_t checkpoint_bytes, int max_writes, std::atomic<uint64_t>* bytes_written,
            std::atomic<uint64_t>* direct_bytes, std::atomic<uint64_t>* commits);
  // Tells `budget` (null: none) of every commit (DiskBudget::committed).
  void set_budget(DiskBudget* budget) { budget_ = budget; }

  // Starts a request appending at `offset` (== the upload's committed offset) through `files`.
  // Bytes must stay below `limit` (the upload's length, or the largest size allowed while it is
  // deferred). `declared_length` is kUnknownLength, or the length this request declares: it is
  // written with the request's first commit (and finish() commits it even without bytes).
  void begin(Upload* upload, const UploadFiles& files, uint64_t offset, uint64_t limit,
             uint64_t declared_length);
  bool can_write() const { return !finishing_ && !failed_ && in_flight_ < max_writes_; }
  bool direct_available() const { return files_.direct_fd >= 0; }
  // Writes [data, data + len) at next_offset(). kDirect needs a block-aligned offset, length
  // and address. `slot` is the pool slot holding the bytes, or -1 (see the contract above).
  void write(int slot, const char* data, uint32_t len, Placement placement);
  // The request's last bytes (an O_DIRECT tail block): allowed once beyond the in-flight limit.
  void write_last(int slot, const char* data, uint32_t len);
  // Splice mode, file side: up to `max_len` bytes move from `pipe_read` to the file at
  // next_offset(). The caller submits the socket -> pipe side hard-linked just before, in the
  // same submission (reserve(2)), and reports its result with spliced_into_pipe(). One at a
  // time: the next file side must not take this one's bytes from the pipe.
  void splice_from_pipe(int pipe_read, uint32_t max_len);
  void spliced_into_pipe(int res);
  bool splice_in_flight() const { return splice_op_ != nullptr; }
  // A file-side splice failed with bytes still in the pipe: the caller must not reuse the pipe.
  bool pipe_dirty() const { return pipe_dirty_; }
  void clear_pipe_dirty() { pipe_dirty_ = false; }

  // This request carries a checksum, of one of `algorithms` (Digester bits; several when a
  // trailer will name it): hash its bytes, no checkpoint commits.
  void begin_digest(uint8_t algorithms);
  // The digest of the request's bytes in `algorithm` (once, after the last write()).
  DigestValue finish_digest(DigestAlgorithm algorithm) { return request_digest_.finish(algorithm); }

  // This request counts whole or not at all: no checkpoint commits, and finish() commits nothing
  // when a write failed (the body did not land whole; the caller discard()s a body cut short).
  void hold_commits();

  // The request's bytes are being hashed (a checksum): they must pass through memory.
  bool digesting() const { return request_digest_.active(); }

  // Before finish(): the upload's length is what this request reached (a body whose end is the
  // upload's end); committed with the last bytes.
  void declare_length_at_end();
  void finish();
  // Like finish(), but commits nothing of this request (its bytes past the committed offset stay
  // in the file, never reported, and the next append overwrites them).
  void discard();
  bool busy() const { return in_flight_ > 0 || commit_in_flight_ > 0; }
  bool active() const { return upload_ != nullptr; }
  // A write or a commit failed: no more bytes are taken; finish() commits what landed before a
  // failed write (after a failed commit, nothing more).
  bool failed() const { return failed_; }
  void end();  // after on_writer_finished: forget the upload

  uint64_t next_offset() const { return next_offset_; }
  uint64_t limit() const { return limit_; }
  uint64_t committed_offset() const { return committed_; }
  Status first_error() const { return error_; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;

 private:
  struct WriteOp {
    Completion completion;
    int slot = -1;
    const char* data = nullptr;
    uint32_t len = 0;
    uint64_t offset = 0;   // where the rest goes (advances on a short write)
    uint64_t start = 0;    // where the op began
    uint32_t crc_before = 0;  // the upload's CRC-32C of [0, start)
    Placement placement = Placement::kBuffered;
    bool done = false;
    bool splice = false;  // file side of a splice: `data` unused, bytes come from the pipe
  };

  WriteOp& push(int slot, const char* data, uint32_t len, Placement placement);
  uint64_t landed_prefix(uint32_t* crc) const;
  void hash(const char* data, uint32_t len);
  void submit_write(WriteOp& op);
  void on_write_done(WriteOp* op, int res);
  void on_splice_done(WriteOp* op, int res);
  void resubmit_short(WriteOp* op, int res);
  void complete_op(WriteOp* op, int res);
  void submit_commit(uint64_t offset, uint32_t crc);
  void on_commit_result(int index, int res);
  void on_commit_done(bool ok);
  void progress();

  IoRing* ring_ = nullptr;
  BufferPool* pool_ = nullptr;
  UploadWriterListener* listener_ = nullptr;
  uint64_t checkpoint_bytes_ = 0;
  int max_writes_ = 0;
  std::atomic<uint64_t>* bytes_written_ = nullptr;
  std::atomic<uint64_t>* direct_bytes_ = nullptr;
  std::atomic<uint64_t>* commits_ = nullptr;

  Upload* upload_ = nullptr;
  UploadFiles files_;
  uint64_t limit_ = 0;
  uint64_t declared_length_ = kUnknownLength;
  bool length_committed_ = true;
  WriteOp ops_[kMaxWrites];
  int head_ = 0;  // oldest op in submission order
  int in_flight_ = 0;
  uint64_t next_offset_ = 0;  // where the next write goes
  uint64_t committed_ = 0;    // durable offset as of the last commit this writer saw
  uint64_t failed_at_ = UINT64_MAX;
  bool failed_ = false;
  bool finishing_ = false;
  bool discard_ = false;
  bool finished_reported_ = false;
  Status error_;

  // The upload's CRC-32C: of [0, next_offset_) while crc_known_; at failed_at_; as committed.
  bool crc_known_ = false;
  uint32_t running_crc_ = 0;
  uint32_t failed_crc_ = 0;
  uint32_t committed_crc_ = 0;
  Digester request_digest_;
  bool hold_commits_ = false;  // a request with a checksum: commit only at its end
  uint32_t commit_crc_ = 0;

  // The splice in flight (at most one), and where its bytes wait.
  WriteOp* splice_op_ = nullptr;
  bool splice_receiving_ = false;
  int pipe_read_ = -1;
  bool pipe_dirty_ = false;

  Completion commit_ops_[3];
  int commit_in_flight_ = 0;
  bool commit_ok_ = true;
  uint64_t commit_offset_ = 0;
  uint64_t commit_length_ = 0;
  DiskBudget* budget_ = nullptr;
  uint64_t commit_sequence_ = 0;
  uint32_t commit_flags_ = 0;
  bool commit_failed_ = false;
  alignas(64) uint8_t slot_buf_[512];  // the commit slot being written
};

}  // namespace ringest
