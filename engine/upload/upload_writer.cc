#include "engine/upload/upload_writer.h"

#include <cerrno>
#include <algorithm>
#include <cstring>

#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/io/fault_plan.h"
#include "engine/storage/upload_record.h"

namespace ringest {
namespace {
constexpr uint32_t kTagWrite = 1;
constexpr uint32_t kTagCommit = 2;
constexpr uint32_t kTagCreate = 3;
constexpr uint32_t kTagSpliceIn = 4;
}  // namespace

void UploadWriter::init(IoRing* ring, BufferPool* pool, UploadWriterListener* listener,
                        uint64_t checkpoint_bytes, int max_writes,
                        std::atomic<uint64_t>* bytes_written, std::atomic<uint64_t>* commits) {
  ring_ = ring;
  pool_ = pool;
  listener_ = listener;
  checkpoint_bytes_ = checkpoint_bytes;
  max_writes_ = max_writes < kMaxWrites ? max_writes : kMaxWrites;
  bytes_written_ = bytes_written;
  commits_ = commits;
  for (auto& op : ops_) op.completion = {this, kTagWrite};
  for (auto& c : commit_ops_) c = {this, kTagCommit};
  for (auto& c : create_ops_) c = {this, kTagCreate};
}

void UploadWriter::begin(Upload* upload, uint64_t offset, uint64_t write_from, bool direct) {
  RINGEST_CHECK(!busy() && upload_ == nullptr && write_from <= offset);
  upload_ = upload;
  direct_ = direct && upload->direct_fd >= 0;
  write_fd_ = direct_ ? upload->direct_fd : upload->data_fd;
  RINGEST_CHECK(direct_ || write_from == offset);
  head_ = 0;
  in_flight_ = 0;
  next_offset_ = write_from;
  committed_ = offset;
  failed_at_ = UINT64_MAX;
  failed_ = false;
  finishing_ = false;
  finished_reported_ = false;
  commit_failed_ = false;
  error_ = Status::Ok();
  splice_op_ = nullptr;
  splice_receiving_ = false;
}

void UploadWriter::end() {
  RINGEST_CHECK(!busy());
  if (tail_slot_ >= 0) pool_->unref(tail_slot_);
  tail_slot_ = -1;
  upload_ = nullptr;
}

void UploadWriter::set_tail(int slot, const char* block, uint32_t logical_len) {
  RINGEST_CHECK(direct_ && tail_slot_ < 0 && logical_len > 0 && logical_len < kDirectBlock);
  RINGEST_CHECK(reinterpret_cast<uintptr_t>(block) % kDirectBlock == 0);
  pool_->ref(slot);
  tail_slot_ = slot;
  tail_block_ = block;
  tail_len_ = logical_len;
}

void UploadWriter::write(int slot, const char* data, uint32_t len, uint32_t logical_len) {
  RINGEST_CHECK(can_write() && len > 0 && logical_len <= len);
  RINGEST_CHECK(next_offset_ + logical_len <= upload_->length);
  if (direct_) {
    RINGEST_CHECK(len % kDirectBlock == 0 && next_offset_ % kDirectBlock == 0);
    RINGEST_CHECK(reinterpret_cast<uintptr_t>(data) % kDirectBlock == 0);
  }
  WriteOp& op = ops_[(head_ + in_flight_) % kMaxWrites];
  pool_->ref(slot);
  op.slot = slot;
  op.data = data;
  op.len = len;
  op.offset = next_offset_;
  op.logical_len = logical_len;
  op.done = false;
  ++in_flight_;
  next_offset_ += logical_len;
  submit_write(op);
}

void UploadWriter::splice_from(int socket_fd, int pipe_read, int pipe_write, uint32_t max_len) {
  RINGEST_CHECK(can_write() && !direct_ && splice_op_ == nullptr && max_len > 0);
  RINGEST_CHECK(next_offset_ + max_len <= upload_->length);
  WriteOp& op = ops_[(head_ + in_flight_) % kMaxWrites];
  op.slot = -1;
  op.data = nullptr;
  op.len = 0;  // known when the socket side completes
  op.logical_len = 0;
  op.offset = next_offset_;
  op.done = false;
  op.splice = true;
  ++in_flight_;
  splice_op_ = &op;
  splice_receiving_ = true;
  pipe_read_ = pipe_read;
  // One submission, so the hard link is never split: socket -> pipe, then pipe -> file. A
  // hard link runs the second even when the first moved less than asked (or nothing): the
  // file side then takes what the pipe holds, or fails with EAGAIN on an empty pipe.
  ring_->reserve(2);
  ring_->splice(&splice_in_, socket_fd, -1, pipe_write, -1, max_len)->flags |= IOSQE_IO_HARDLINK;
  op.len = max_len;
  submit_pipe_to_file(op);
}

void UploadWriter::submit_pipe_to_file(WriteOp& op) {
  ring_->splice(&op.completion, pipe_read_, -1, write_fd_, static_cast<int64_t>(op.offset),
                op.len, FaultOp::kDataWrite);
}

void UploadWriter::on_splice_in(int res) {
  WriteOp& op = *splice_op_;
  splice_receiving_ = false;
  if (res > 0) {
    op.len = op.logical_len = static_cast<uint32_t>(res);
    next_offset_ += static_cast<uint64_t>(res);
  } else {
    op.len = op.logical_len = 0;  // nothing moved: the file side finds an empty pipe
  }
  listener_->on_splice_received(res);
}

void UploadWriter::submit_write(WriteOp& op) {
  ring_->write_fixed(&op.completion, write_fd_, op.data, op.len, op.offset, FaultOp::kDataWrite);
}

uint64_t UploadWriter::landed_prefix() const {
  uint64_t prefix = in_flight_ > 0 ? ops_[head_].offset : next_offset_;
  return prefix < failed_at_ ? prefix : failed_at_;
}

void UploadWriter::finish() {
  finishing_ = true;
  progress();
}

void UploadWriter::complete_op(WriteOp* op, int res) {
  // A write, or the file side of a splice, is over (res > 0: all of it landed).
  if (res <= 0) {
    int err = res == 0 ? EIO : -res;
    if (!failed_) error_ = Status::FromErrno(err);
    failed_ = true;
    if (op->offset < failed_at_) failed_at_ = op->offset;
  } else {
    bytes_written_->fetch_add(op->logical_len, std::memory_order_relaxed);
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

void UploadWriter::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  if (completion->tag == kTagSpliceIn) {
    on_splice_in(res);
    return;
  }
  if (completion->tag == kTagWrite) {
    auto* op = reinterpret_cast<WriteOp*>(completion);
    if (op->splice) {
      RINGEST_CHECK(!splice_receiving_);  // a hard link completes the socket side first
      if (op->len == 0) {
        res = 1;  // the socket gave nothing: no bytes, no failure
      } else if (res > 0 && static_cast<uint32_t>(res) < op->len) {
        // Short: the rest is still in the pipe. Complete it, never truncate.
        bytes_written_->fetch_add(static_cast<uint64_t>(res), std::memory_order_relaxed);
        op->offset += static_cast<uint64_t>(res);
        op->len -= static_cast<uint32_t>(res);
        op->logical_len = op->len;
        submit_pipe_to_file(*op);
        return;
      } else if (res <= 0) {
        pipe_dirty_ = true;  // the bytes may still sit in the pipe
      }
      op->splice = false;
      splice_op_ = nullptr;
      complete_op(op, res);
      return;
    }
    if (g_fault_plan && res > 1 && static_cast<uint32_t>(res) == op->len &&
               g_fault_plan->shorten(FaultOp::kDataWrite)) {
      // The kernel wrote it all; reporting less makes the writer rewrite the rest (harmless),
      // at a block boundary in O_DIRECT mode.
      int shortened = res / 2;
      if (direct_) shortened &= ~static_cast<int>(kDirectBlock - 1);
      if (shortened > 0) res = shortened;
    }
    if (direct_ && res > 0 && static_cast<uint32_t>(res) < op->len) {
      res &= ~static_cast<int>(kDirectBlock - 1);  // O_DIRECT resumes at a block boundary
      if (res == 0) {
        submit_write(*op);
        return;
      }
    }
    if (res > 0 && static_cast<uint32_t>(res) < op->len) {
      // A short write is completed, never silently truncated.
      bytes_written_->fetch_add(std::min<uint64_t>(static_cast<uint64_t>(res), op->logical_len),
                                std::memory_order_relaxed);
      op->data += res;
      op->offset += static_cast<uint64_t>(res);
      op->len -= static_cast<uint32_t>(res);
      op->logical_len = op->logical_len > static_cast<uint32_t>(res)
                            ? op->logical_len - static_cast<uint32_t>(res)
                            : 0;
      submit_write(*op);
      return;
    }
    pool_->unref(op->slot);
    op->slot = -1;
    complete_op(op, res);
    return;
  }
  if (completion->tag == kTagCommit) {
    if (res < 0 && commit_ok_) {
      commit_ok_ = false;
      RINGEST_LOG_ERROR("upload %s: commit failed: %s", upload_->id.c_str(), strerror(-res));
      if (error_.ok()) error_ = Status::FromErrno(-res);
    }
    if (completion == &commit_ops_[1] && res >= 0 && res != static_cast<int>(storage::kSlotBytes)) {
      if (commit_ok_ && error_.ok()) error_ = Status::FromErrno(EIO);
      commit_ok_ = false;
    }
    if (--commit_in_flight_ == 0) on_commit_done(commit_ok_);
    return;
  }
  if (completion->tag == kTagCreate) {
    if (res < 0 && create_ok_) {
      create_ok_ = false;
      create_error_ = -res;
    }
    if (completion == &create_ops_[0] && res >= 0 &&
        static_cast<size_t>(res) != upload_->initial_record.size()) {
      if (create_ok_) create_error_ = EIO;
      create_ok_ = false;
    }
    if (--create_in_flight_ == 0) {
      Upload* upload = upload_;
      upload_ = nullptr;
      upload->initial_record.clear();
      upload->initial_record.shrink_to_fit();
      if (create_ok_ && g_fault_plan) g_fault_plan->log_commit(upload->id, 1, 0);
      listener_->on_record_created(create_ok_ ? Status::Ok() : Status::FromErrno(create_error_));
    }
    return;
  }
}

void UploadWriter::progress() {
  if (commit_in_flight_ > 0 || upload_ == nullptr) return;
  uint64_t prefix = landed_prefix();
  if (finishing_) {
    if (in_flight_ > 0) return;
    if (tail_slot_ >= 0) {
      int slot = tail_slot_;
      tail_slot_ = -1;
      if (!failed_) {
        finishing_ = false;  // write() is allowed once more, for the tail
        write(slot, tail_block_, kDirectBlock, tail_len_);
        finishing_ = true;
      }
      pool_->unref(slot);  // write() took its own reference
      if (in_flight_ > 0) return;
    }
    if (prefix > committed_ && !commit_failed_) {
      submit_commit(prefix);
      return;
    }
    if (!finished_reported_) {
      finished_reported_ = true;
      listener_->on_writer_finished(error_);
    }
    return;
  }
  if (!commit_failed_ && prefix > committed_ && prefix - committed_ >= checkpoint_bytes_) {
    submit_commit(prefix);
  }
}

void UploadWriter::submit_commit(uint64_t offset) {
  storage::CommitSlot slot;
  {
    std::lock_guard lock(upload_->mu);
    slot.sequence = upload_->sequence + 1;
  }
  slot.committed_offset = offset;
  slot.upload_length = upload_->length;
  slot.flags = offset == upload_->length ? storage::kFlagComplete : 0;
  slot.updated_unix_ms = unix_ms_now();
  storage::encode_slot(slot, upload_->slot_buf);
  if (direct_ && offset == upload_->length) {
    // The padded last block may have grown the file past the upload's length; the data sync
    // below makes the exact size durable with the bytes.
    if (ftruncate(upload_->data_fd, static_cast<off_t>(upload_->length)) != 0) {
      RINGEST_LOG_ERROR("upload %s: ftruncate: %s", upload_->id.c_str(), strerror(errno));
    }
  }
  commit_offset_ = offset;
  commit_ok_ = true;
  commit_in_flight_ = 3;
  ring_->reserve(3);
  ring_->fsync(&commit_ops_[0], upload_->data_fd, true, FaultOp::kDataSync)->flags |=
      IOSQE_IO_LINK;
  ring_->write(&commit_ops_[1], upload_->record_fd, upload_->slot_buf, storage::kSlotBytes,
               storage::slot_file_offset(slot.sequence), FaultOp::kRecordWrite)
      ->flags |= IOSQE_IO_LINK;
  ring_->fsync(&commit_ops_[2], upload_->record_fd, true, FaultOp::kRecordSync);
}

void UploadWriter::on_commit_done(bool ok) {
  if (ok) {
    {
      std::lock_guard lock(upload_->mu);
      upload_->sequence += 1;
      upload_->committed_offset = commit_offset_;
      upload_->updated_unix_ms = unix_ms_now();
    }
    committed_ = commit_offset_;
    commits_->fetch_add(1, std::memory_order_relaxed);
    if (g_fault_plan) {
      uint64_t sequence;
      {
        std::lock_guard lock(upload_->mu);
        sequence = upload_->sequence;
      }
      g_fault_plan->log_commit(upload_->id, sequence, commit_offset_);
    }
  } else {
    commit_failed_ = true;
  }
  progress();
  listener_->on_writer_progress();
}

void UploadWriter::create_record(Upload* upload, int uploads_dir_fd) {
  RINGEST_CHECK(!busy() && upload_ == nullptr);
  upload_ = upload;
  create_ok_ = true;
  create_error_ = 0;
  create_in_flight_ = 3;
  ring_->reserve(3);
  ring_->write(&create_ops_[0], upload->record_fd, upload->initial_record.data(),
               upload->initial_record.size(), 0, FaultOp::kNone)
      ->flags |= IOSQE_IO_LINK;
  ring_->fsync(&create_ops_[1], upload->record_fd, false, FaultOp::kNone)->flags |=
      IOSQE_IO_LINK;
  ring_->fsync(&create_ops_[2], uploads_dir_fd, false, FaultOp::kNone);
}

}  // namespace ringest
