#include "engine/upload/upload_writer.h"

#include <cerrno>
#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/io/fault_plan.h"
#include "engine/storage/upload_record.h"

namespace ringest {
namespace {
constexpr uint32_t kTagWrite = 1;
constexpr uint32_t kTagCommit = 2;
constexpr uint32_t kTagCreate = 3;
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

void UploadWriter::begin(Upload* upload, uint64_t offset) {
  RINGEST_CHECK(!busy() && upload_ == nullptr);
  upload_ = upload;
  head_ = 0;
  in_flight_ = 0;
  next_offset_ = offset;
  committed_ = offset;
  failed_at_ = UINT64_MAX;
  failed_ = false;
  finishing_ = false;
  finished_reported_ = false;
  commit_failed_ = false;
  error_ = Status::Ok();
}

void UploadWriter::end() {
  RINGEST_CHECK(!busy());
  upload_ = nullptr;
}

void UploadWriter::write(int slot, const char* data, uint32_t len) {
  RINGEST_CHECK(can_write() && len > 0);
  RINGEST_CHECK(next_offset_ + len <= upload_->length);
  WriteOp& op = ops_[(head_ + in_flight_) % kMaxWrites];
  pool_->ref(slot);
  op.slot = slot;
  op.data = data;
  op.len = len;
  op.offset = next_offset_;
  op.done = false;
  ++in_flight_;
  next_offset_ += len;
  submit_write(op);
}

void UploadWriter::submit_injected(Completion* c, int err, int* slot) {
  // The operation is not performed; a NOP completes in its place and its result is replaced
  // with `err` when it arrives (see FaultPlan).
  *slot = err;
  io_uring_sqe* sqe = ring_->get_sqe();
  io_uring_prep_nop(sqe);
  io_uring_sqe_set_data64(sqe, to_user_data(c));
}

void UploadWriter::submit_write(WriteOp& op) {
  if (g_fault_plan) {
    if (int err = g_fault_plan->fail_at_submit(FaultOp::kDataWrite)) {
      submit_injected(&op.completion, err, &op.injected);
      return;
    }
  }
  ring_->prep_write_fixed(&op.completion, upload_->data_fd, op.data, op.len, op.offset);
}

uint64_t UploadWriter::landed_prefix() const {
  uint64_t prefix = in_flight_ > 0 ? ops_[head_].offset : next_offset_;
  return prefix < failed_at_ ? prefix : failed_at_;
}

void UploadWriter::finish() {
  finishing_ = true;
  progress();
}

void UploadWriter::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  if (completion->tag == kTagWrite) {
    auto* op = reinterpret_cast<WriteOp*>(completion);
    if (op->injected) {
      res = op->injected;
      op->injected = 0;
    } else if (g_fault_plan && res > 1 && static_cast<uint32_t>(res) == op->len &&
               g_fault_plan->shorten(FaultOp::kDataWrite)) {
      res /= 2;  // the kernel wrote it all; rewriting the rest is harmless and must happen
    }
    if (res > 0 && static_cast<uint32_t>(res) < op->len) {
      // A short write is completed, never silently truncated.
      bytes_written_->fetch_add(static_cast<uint64_t>(res), std::memory_order_relaxed);
      op->data += res;
      op->offset += static_cast<uint64_t>(res);
      op->len -= static_cast<uint32_t>(res);
      submit_write(*op);
      return;
    }
    if (res <= 0) {
      int err = res == 0 ? EIO : -res;
      if (!failed_) error_ = Status::FromErrno(err);
      failed_ = true;
      if (op->offset < failed_at_) failed_at_ = op->offset;
    } else {
      bytes_written_->fetch_add(static_cast<uint64_t>(res), std::memory_order_relaxed);
    }
    op->done = true;
    pool_->unref(op->slot);
    op->slot = -1;
    while (in_flight_ > 0 && ops_[head_].done) {
      ops_[head_].done = false;
      head_ = (head_ + 1) % kMaxWrites;
      --in_flight_;
    }
    progress();
    listener_->on_writer_progress();
    return;
  }
  if (completion->tag == kTagCommit) {
    int index = static_cast<int>(completion - commit_ops_);
    if (commit_injected_[index] != 0) {
      if (res >= 0) res = commit_injected_[index];
      commit_injected_[index] = 0;
    }
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
  if (!commit_failed_ && prefix - committed_ >= checkpoint_bytes_) submit_commit(prefix);
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
  commit_offset_ = offset;
  commit_ok_ = true;
  commit_in_flight_ = 3;

  ring_->reserve(3);
  FaultPlan* plan = g_fault_plan;
  if (int err = plan ? plan->fail_at_submit(FaultOp::kDataSync) : 0) {
    commit_in_flight_ = 1;
    submit_injected(&commit_ops_[0], err, &commit_injected_[0]);
    return;
  }
  io_uring_sqe* sqe = ring_->get_sqe();
  io_uring_prep_fsync(sqe, upload_->data_fd, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sqe, to_user_data(&commit_ops_[0]));
  sqe->flags |= IOSQE_IO_LINK;
  if (int err = plan ? plan->fail_at_submit(FaultOp::kRecordWrite) : 0) {
    commit_in_flight_ = 2;
    submit_injected(&commit_ops_[1], err, &commit_injected_[1]);
    return;
  }
  sqe = ring_->get_sqe();
  io_uring_prep_write(sqe, upload_->record_fd, upload_->slot_buf, storage::kSlotBytes,
                      storage::slot_file_offset(slot.sequence));
  io_uring_sqe_set_data64(sqe, to_user_data(&commit_ops_[1]));
  sqe->flags |= IOSQE_IO_LINK;
  if (int err = plan ? plan->fail_at_submit(FaultOp::kRecordSync) : 0) {
    submit_injected(&commit_ops_[2], err, &commit_injected_[2]);
    return;
  }
  sqe = ring_->get_sqe();
  io_uring_prep_fsync(sqe, upload_->record_fd, IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data64(sqe, to_user_data(&commit_ops_[2]));
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
  io_uring_sqe* sqe = ring_->get_sqe();
  io_uring_prep_write(sqe, upload->record_fd, upload->initial_record.data(),
                      static_cast<unsigned>(upload->initial_record.size()), 0);
  io_uring_sqe_set_data64(sqe, to_user_data(&create_ops_[0]));
  sqe->flags |= IOSQE_IO_LINK;
  sqe = ring_->get_sqe();
  io_uring_prep_fsync(sqe, upload->record_fd, 0);
  io_uring_sqe_set_data64(sqe, to_user_data(&create_ops_[1]));
  sqe->flags |= IOSQE_IO_LINK;
  sqe = ring_->get_sqe();
  io_uring_prep_fsync(sqe, uploads_dir_fd, 0);
  io_uring_sqe_set_data64(sqe, to_user_data(&create_ops_[2]));
}

}  // namespace ringest
