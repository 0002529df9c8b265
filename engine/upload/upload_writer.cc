#include "engine/upload/upload_writer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/crc32c.h"
#include "engine/base/log.h"
#include "engine/io/fault_plan.h"
#include "engine/upload/disk_budget.h"
#include "engine/storage/upload_record.h"

namespace ringest {
namespace {
constexpr uint32_t kTagWrite = 1;
constexpr uint32_t kTagCommit = 2;
}  // namespace

void UploadWriter::init(IoRing* ring, BufferPool* pool, UploadWriterListener* listener,
                        uint64_t checkpoint_bytes, int max_writes,
                        std::atomic<uint64_t>* bytes_written, std::atomic<uint64_t>* direct_bytes,
                        std::atomic<uint64_t>* commits) {
  ring_ = ring;
  pool_ = pool;
  listener_ = listener;
  checkpoint_bytes_ = checkpoint_bytes;
  // One op stays spare for write_last().
  max_writes_ = std::min(max_writes, kMaxWrites - 1);
  bytes_written_ = bytes_written;
  direct_bytes_ = direct_bytes;
  commits_ = commits;
  for (auto& op : ops_) op.completion = {this, kTagWrite};
  for (uint32_t i = 0; i < 3; ++i) commit_ops_[i] = {this, kTagCommit | (i << 8)};
}

void UploadWriter::begin(Upload* upload, const UploadFiles& files, uint64_t offset,
                         uint64_t limit, uint64_t declared_length) {
  RINGEST_CHECK(!busy() && upload_ == nullptr && files.open() && offset <= limit);
  upload_ = upload;
  files_ = files;
  limit_ = limit;
  declared_length_ = declared_length;
  length_committed_ = declared_length == kUnknownLength;
  head_ = 0;
  in_flight_ = 0;
  next_offset_ = offset;
  committed_ = offset;
  failed_at_ = UINT64_MAX;
  failed_ = false;
  finishing_ = false;
  discard_ = false;
  finished_reported_ = false;
  commit_failed_ = false;
  error_ = Status::Ok();
  {
    std::lock_guard lock(upload->mu);
    crc_known_ = (upload->flags & storage::kFlagContentCrc) != 0;
    running_crc_ = crc_known_ ? upload->content_crc32c : 0;
  }
  committed_crc_ = running_crc_;
  failed_crc_ = 0;
  request_digest_.reset();
  hold_commits_ = false;
  splice_op_ = nullptr;
  splice_receiving_ = false;
}

void UploadWriter::begin_digest(uint8_t algorithms) {
  RINGEST_CHECK(active() && next_offset_ == committed_ && in_flight_ == 0);
  request_digest_.begin_set(algorithms);
  hold_commits_ = true;
}

void UploadWriter::hold_commits() {
  RINGEST_CHECK(active() && next_offset_ == committed_ && in_flight_ == 0);
  hold_commits_ = true;
}

void UploadWriter::hash(const char* data, uint32_t len) {
  if (crc_known_) running_crc_ = crc32c(data, len, running_crc_);
  request_digest_.update(data, len);
}

void UploadWriter::end() {
  RINGEST_CHECK(!busy());
  upload_ = nullptr;
  files_ = UploadFiles{};
}

UploadWriter::WriteOp& UploadWriter::push(int slot, const char* data, uint32_t len,
                                          Placement placement) {
  RINGEST_CHECK(in_flight_ < kMaxWrites);
  WriteOp& op = ops_[(head_ + in_flight_) % kMaxWrites];
  if (slot >= 0) pool_->ref(slot);
  op.slot = slot;
  op.data = data;
  op.len = len;
  op.offset = next_offset_;
  op.start = next_offset_;
  op.crc_before = running_crc_;
  op.placement = placement;
  op.done = false;
  op.splice = false;
  ++in_flight_;
  return op;
}

void UploadWriter::write(int slot, const char* data, uint32_t len, Placement placement) {
  RINGEST_CHECK(can_write() && len > 0 && next_offset_ + len <= limit_);
  if (placement == Placement::kDirect) {
    RINGEST_CHECK(files_.direct_fd >= 0 && slot >= 0);
    RINGEST_CHECK(len % kDirectBlock == 0 && next_offset_ % kDirectBlock == 0);
    RINGEST_CHECK(reinterpret_cast<uintptr_t>(data) % kDirectBlock == 0);
  }
  WriteOp& op = push(slot, data, len, placement);
  hash(data, len);
  next_offset_ += len;
  submit_write(op);
}

void UploadWriter::write_last(int slot, const char* data, uint32_t len) {
  RINGEST_CHECK(!finishing_ && !failed_ && len > 0 && next_offset_ + len <= limit_);
  WriteOp& op = push(slot, data, len, Placement::kBuffered);
  hash(data, len);
  next_offset_ += len;
  submit_write(op);
}

void UploadWriter::submit_write(WriteOp& op) {
  int fd = op.placement == Placement::kDirect ? files_.direct_fd : files_.data_fd;
  if (op.slot >= 0) {
    ring_->write_fixed(&op.completion, fd, op.data, op.len, op.offset, FaultOp::kDataWrite);
  } else {
    ring_->write(&op.completion, fd, op.data, op.len, op.offset, FaultOp::kDataWrite);
  }
}

void UploadWriter::splice_from_pipe(int pipe_read, uint32_t max_len) {
  RINGEST_CHECK(can_write() && splice_op_ == nullptr && max_len > 0);
  RINGEST_CHECK(next_offset_ + max_len <= limit_ && !request_digest_.active());
  crc_known_ = false;  // these bytes never enter memory: the upload's CRC is unknown from here
  WriteOp& op = push(-1, nullptr, max_len, Placement::kBuffered);  // len: known at the socket side
  op.splice = true;
  splice_op_ = &op;
  splice_receiving_ = true;
  pipe_read_ = pipe_read;
  // A hard link (set by the caller on the socket side) runs this even when the socket side
  // moved less than asked, or nothing: it then takes what the pipe holds, or fails with EAGAIN
  // on an empty pipe.
  ring_->splice(&op.completion, pipe_read_, -1, files_.data_fd, static_cast<int64_t>(op.offset),
                op.len, FaultOp::kDataWrite);
}

void UploadWriter::spliced_into_pipe(int res) {
  RINGEST_CHECK(splice_op_ != nullptr && splice_receiving_);
  WriteOp& op = *splice_op_;
  splice_receiving_ = false;
  op.len = res > 0 ? static_cast<uint32_t>(res) : 0;  // 0: the file side finds an empty pipe
  next_offset_ += op.len;
}

uint64_t UploadWriter::landed_prefix(uint32_t* crc) const {
  uint64_t prefix = next_offset_;
  *crc = running_crc_;
  if (in_flight_ > 0) {
    prefix = ops_[head_].start;
    *crc = ops_[head_].crc_before;
  }
  if (failed_at_ < prefix) {
    prefix = failed_at_;
    *crc = failed_crc_;
  }
  return prefix;
}

void UploadWriter::declare_length_at_end() {
  RINGEST_CHECK(upload_ != nullptr && !finishing_);
  declared_length_ = next_offset_;
  length_committed_ = false;
}

void UploadWriter::finish() {
  finishing_ = true;
  progress();
}

void UploadWriter::discard() {
  discard_ = true;
  finishing_ = true;
  progress();
}

void UploadWriter::complete_op(WriteOp* op, int res) {
  // A write, or the file side of a splice, is over (res > 0: all of it landed).
  if (res <= 0) {
    int err = res == 0 ? EIO : -res;
    if (!failed_) error_ = Status::FromErrno(err);
    failed_ = true;
    if (op->start < failed_at_) {
      failed_at_ = op->start;
      failed_crc_ = op->crc_before;
    }
  } else {
    bytes_written_->fetch_add(op->len, std::memory_order_relaxed);
    if (op->placement == Placement::kDirect) {
      direct_bytes_->fetch_add(op->len, std::memory_order_relaxed);
    }
  }
  op->done = true;
  while (in_flight_ > 0 && ops_[head_].done) {
    ops_[head_].done = false;
    head_ = (head_ + 1) % kMaxWrites;
    --in_flight_;
  }
  progress();
  listener_->on_writer_progress();
}

void UploadWriter::resubmit_short(WriteOp* op, int res) {
  // A short write is completed, never silently truncated. O_DIRECT resumes at a block boundary.
  if (op->placement == Placement::kDirect) res &= ~static_cast<int>(kDirectBlock - 1);
  bytes_written_->fetch_add(static_cast<uint64_t>(res), std::memory_order_relaxed);
  if (op->placement == Placement::kDirect) {
    direct_bytes_->fetch_add(static_cast<uint64_t>(res), std::memory_order_relaxed);
  }
  if (op->data != nullptr) op->data += res;
  op->offset += static_cast<uint64_t>(res);
  op->len -= static_cast<uint32_t>(res);
  if (op->splice) {
    ring_->splice(&op->completion, pipe_read_, -1, files_.data_fd,
                  static_cast<int64_t>(op->offset), op->len, FaultOp::kDataWrite);
  } else {
    submit_write(*op);
  }
}

void UploadWriter::on_splice_done(WriteOp* op, int res) {
  RINGEST_CHECK(!splice_receiving_);  // a hard link completes the socket side first
  if (op->len == 0) {
    res = 1;  // the socket gave nothing: no bytes, no failure
  } else if (res > 0 && static_cast<uint32_t>(res) < op->len) {
    resubmit_short(op, res);  // the rest is still in the pipe
    return;
  } else if (res <= 0) {
    pipe_dirty_ = true;  // the bytes may still sit in the pipe
  }
  op->splice = false;
  splice_op_ = nullptr;
  complete_op(op, res);
}

void UploadWriter::on_write_done(WriteOp* op, int res) {
  if (g_fault_plan && res > 1 && static_cast<uint32_t>(res) == op->len &&
      g_fault_plan->shorten(FaultOp::kDataWrite)) {
    // The kernel wrote it all; reporting less makes the writer rewrite the rest (harmless).
    int shortened = res / 2;
    if (op->placement == Placement::kDirect) shortened &= ~static_cast<int>(kDirectBlock - 1);
    if (shortened > 0) res = shortened;
  }
  if (res > 0 && static_cast<uint32_t>(res) < op->len) {
    resubmit_short(op, res);
    return;
  }
  if (op->slot >= 0) pool_->unref(op->slot);
  op->slot = -1;
  complete_op(op, res);
}

void UploadWriter::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  if ((completion->tag & 0xFF) == kTagCommit) {
    on_commit_result(static_cast<int>(completion->tag >> 8), res);
    return;
  }
  auto* op = reinterpret_cast<WriteOp*>(completion);
  if (op->splice) {
    on_splice_done(op, res);
  } else {
    on_write_done(op, res);
  }
}

void UploadWriter::progress() {
  if (commit_in_flight_ > 0 || upload_ == nullptr) return;
  uint32_t crc = 0;
  uint64_t prefix = landed_prefix(&crc);
  bool pending_length = !length_committed_;
  if (finishing_) {
    if (in_flight_ > 0) return;
    // A request held whole commits nothing once a write failed: its bytes did not all land.
    bool whole = !hold_commits_ || failed_at_ == UINT64_MAX;
    if ((prefix > committed_ || pending_length) && !commit_failed_ && !discard_ && whole) {
      submit_commit(prefix, crc);
      return;
    }
    if (!finished_reported_) {
      finished_reported_ = true;
      listener_->on_writer_finished(error_);
    }
    return;
  }
  // (A request with a checksum commits only at its end, once the digest matched.)
  if (!commit_failed_ && !hold_commits_ && prefix > committed_ &&
      prefix - committed_ >= checkpoint_bytes_) {
    submit_commit(prefix, crc);
  }
}

void UploadWriter::submit_commit(uint64_t offset, uint32_t crc) {
  storage::CommitSlot slot;
  {
    std::lock_guard lock(upload_->mu);
    slot.sequence = upload_->sequence + 1;
    slot.upload_length = declared_length_ != kUnknownLength ? declared_length_ : upload_->length;
    slot.flags = upload_->flags & ~(storage::kFlagComplete | storage::kFlagContentCrc);
    slot.expires_unix_ms = upload_->expires_unix_ms;
  }
  slot.committed_offset = offset;
  // (crc_known_ only ever turns false during a request, and then stays so for the upload.)
  if (crc_known_) {
    slot.flags |= storage::kFlagContentCrc;
    slot.content_crc32c = crc;
  }
  if (slot.upload_length != kUnknownLength && offset == slot.upload_length) {
    slot.flags |= storage::kFlagComplete;
  }
  slot.updated_unix_ms = unix_ms_now();
  storage::encode_slot(slot, slot_buf_);
  commit_offset_ = offset;
  commit_length_ = slot.upload_length;
  commit_sequence_ = slot.sequence;
  commit_flags_ = slot.flags;
  commit_crc_ = slot.content_crc32c;
  commit_ok_ = true;
  commit_in_flight_ = 3;
  ring_->reserve(3);
  ring_->fsync(&commit_ops_[0], files_.data_fd, true, FaultOp::kDataSync)->flags |=
      IOSQE_IO_LINK;
  ring_->write(&commit_ops_[1], files_.record_fd, slot_buf_, storage::kSlotBytes,
               storage::slot_file_offset(slot.sequence), FaultOp::kRecordWrite)
      ->flags |= IOSQE_IO_LINK;
  ring_->fsync(&commit_ops_[2], files_.record_fd, true, FaultOp::kRecordSync);
}

void UploadWriter::on_commit_result(int index, int res) {
  if (res < 0 && commit_ok_) {
    commit_ok_ = false;
    RINGEST_LOG_ERROR("upload %.*s: commit failed: %s", 32, upload_->id_chars, strerror(-res));
    if (error_.ok()) error_ = Status::FromErrno(-res);
  }
  if (index == 1 && res >= 0 && res != static_cast<int>(storage::kSlotBytes)) {
    if (commit_ok_ && error_.ok()) error_ = Status::FromErrno(EIO);
    commit_ok_ = false;
  }
  if (--commit_in_flight_ == 0) on_commit_done(commit_ok_);
}

void UploadWriter::on_commit_done(bool ok) {
  if (ok) {
    uint64_t from = 0;
    {
      std::lock_guard lock(upload_->mu);
      from = upload_->committed_offset;
      upload_->sequence = commit_sequence_;
      upload_->committed_offset = commit_offset_;
      upload_->length = commit_length_;
      upload_->flags = commit_flags_;
      upload_->content_crc32c = commit_crc_;
      upload_->updated_unix_ms = unix_ms_now();
    }
    committed_ = commit_offset_;
    committed_crc_ = commit_crc_;
    length_committed_ = true;
    commits_->fetch_add(1, std::memory_order_relaxed);
    if (budget_ != nullptr) {
      bool complete = commit_length_ != kUnknownLength && commit_offset_ == commit_length_;
      budget_->committed(*upload_, from, commit_offset_, complete);
    }
    if (g_fault_plan) g_fault_plan->log_commit(upload_->id(), commit_sequence_, commit_offset_);
  } else {
    // Nothing past the last commit can be acknowledged any more: take no more bytes.
    commit_failed_ = true;
    failed_ = true;
    if (committed_ < failed_at_) {
      failed_at_ = committed_;
      failed_crc_ = committed_crc_;
    }
  }
  progress();
  listener_->on_writer_progress();
}

}  // namespace ringest
