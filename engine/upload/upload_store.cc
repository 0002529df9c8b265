#include "engine/upload/upload_store.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/storage/upload_id.h"
#include "engine/storage/upload_record.h"

namespace ringest {
namespace {

// Every upload file is opened beneath the uploads directory, never through a symlink (not even
// as the last component), so nothing planted under uploads/ can redirect a write elsewhere.
constexpr uint64_t kResolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
constexpr uint64_t kOpenFlags = O_CLOEXEC | O_NOFOLLOW;

}  // namespace

void close_on_ring(IoRing& ring, UploadFiles& files) {
  for (int* fd : {&files.data_fd, &files.direct_fd, &files.record_fd}) {
    if (*fd >= 0) ring.close(nullptr, *fd);
    *fd = -1;
  }
}

StoreOp::StoreOp() {
  for (uint32_t i = 0; i < kSlots; ++i) ops_[i] = {this, i};
}

UploadFiles StoreOp::take_files() {
  UploadFiles files{fds_[kData], fds_[kDirect], fds_[kRecord]};
  fds_[kData] = fds_[kDirect] = fds_[kRecord] = -1;
  return files;
}

void StoreOp::begin(Kind kind, UploadStore* store, IoRing* ring, Upload* upload,
                    StoreListener* listener) {
  RINGEST_CHECK(!busy() && pending_ == 0);
  kind_ = kind;
  phase_ = Phase::kOpen;
  store_ = store;
  ring_ = ring;
  listener_ = listener;
  if (upload != nullptr) upload_ref(upload);
  upload_.reset(upload);
  error_ = Status::Ok();
  fds_[kData] = fds_[kDirect] = fds_[kRecord] = -1;
  bytes_read_ = 0;
}

void StoreOp::name_files(std::string_view id) {
  RINGEST_CHECK(id.size() == kUploadIdChars);
  std::memcpy(data_name_, id.data(), id.size());
  std::memcpy(data_name_ + id.size(), ".bin", 5);
  std::memcpy(record_name_, id.data(), id.size());
  std::memcpy(record_name_ + id.size(), ".rec", 5);
}

void StoreOp::open_file(Slot slot, const char* name, uint64_t flags, FaultOp fault) {
  open_how& how = how_[slot];
  how = open_how{};
  how.flags = flags | kOpenFlags;
  how.mode = (flags & O_CREAT) ? 0640 : 0;
  how.resolve = kResolve;
  ring_->openat2(&ops_[slot], store_->uploads_dir_fd(), name, &how, fault);
  ++pending_;
}

void StoreOp::close_files() {
  for (int& fd : fds_) {
    if (fd >= 0) ring_->close(nullptr, fd);
    fd = -1;
  }
}

void StoreOp::finish(Status status) {
  RINGEST_CHECK(pending_ == 0);
  if (!status.ok()) close_files();
  if (!status.ok() || kind_ != Kind::kCreate) upload_.reset();  // a creation hands it over
  record_.clear();
  record_.shrink_to_fit();
  StoreListener* listener = listener_;
  listener_ = nullptr;
  listener->on_store_done(this, status);
}

void StoreOp::on_completion(Completion* completion, int res, uint32_t /*flags*/) {
  --pending_;
  on_result(static_cast<Slot>(completion->tag), res);
  if (pending_ == 0) next_phase();
}

void StoreOp::on_result(Slot slot, int res) {
  Code code = code_of(res);
  if (slot <= kRecord) {  // an open
    if (res >= 0) {
      fds_[slot] = res;
    } else if (!(slot == kDirect && code == Code::kInvalid)) {  // tmpfs refuses O_DIRECT: fine
      if (error_.ok()) error_ = Status::FromErrno(-res);
    }
    return;
  }
  if (res >= 0) {
    if (kind_ == Kind::kReadHeader && slot == kStep0) bytes_read_ = static_cast<size_t>(res);
    return;
  }
  if (kind_ == Kind::kCreate && phase_ == Phase::kChain && slot == kStep0 &&
      (code == Code::kNotSupported || code == Code::kInvalid)) {
    // No preallocation on this filesystem: the rest of the chain was cut; it runs again without
    // (the file then grows as bytes arrive).
    phase_ = Phase::kRetryChain;
    preallocate_ = false;
    return;
  }
  if (phase_ == Phase::kRetryChain && code == Code::kCancelled) return;
  if (phase_ == Phase::kUndo) return;  // best effort
  if (kind_ == Kind::kRemove && code == Code::kNotFound) return;  // already gone
  if (kind_ == Kind::kRemove && slot != kStep0 && code == Code::kCancelled) return;
  if (error_.ok()) error_ = Status::FromErrno(-res);
}

void StoreOp::next_phase() {
  if (!error_.ok() && kind_ == Kind::kCreate && phase_ != Phase::kUndo) {
    submit_undo();
    return;
  }
  if (!error_.ok() && kind_ == Kind::kRemove) {
    // The record is still there: so is the upload (it was not deleted, the answer says so).
    {
      std::lock_guard lock(upload_->mu);
      upload_->deleted = false;
    }
    store_->registry_.insert(upload_.get());
  }
  if (!error_.ok() || phase_ == Phase::kUndo) {
    finish(error_);
    return;
  }
  if (kind_ == Kind::kCreate && (phase_ == Phase::kOpen || phase_ == Phase::kRetryChain)) {
    submit_create_chain();
    return;
  }
  if (kind_ == Kind::kCreate) {
    store_->registry_.insert(upload_.get());  // durable: now visible
    if (g_fault_plan != nullptr) g_fault_plan->log_commit(upload_->id(), 1, 0);
  }
  if (kind_ == Kind::kReadHeader && phase_ == Phase::kOpen) {
    submit_read();
    return;
  }
  finish(Status::Ok());
}

void StoreOp::submit_create_chain() {
  // [fallocate ->] write record -> fsync record -> fsync uploads/, and in direct mode the
  // O_DIRECT descriptor beside it (it needs the file to exist).
  phase_ = Phase::kChain;
  int dir_fd = store_->uploads_dir_fd();
  ring_->reserve(4);
  if (preallocate_) {
    // Reserve the space now: a full disk is an answer at creation, not halfway through.
    ring_->fallocate(&ops_[kStep0], fds_[kData], 0, length_, FaultOp::kNone)->flags |=
        IOSQE_IO_LINK;
    ++pending_;
  }
  ring_->write(&ops_[kStep1], fds_[kRecord], record_.data(), record_.size(), 0, FaultOp::kNone)
      ->flags |= IOSQE_IO_LINK;
  ring_->fsync(&ops_[kStep2], fds_[kRecord], false, FaultOp::kNone)->flags |= IOSQE_IO_LINK;
  ring_->fsync(&ops_[kStep3], dir_fd, false, FaultOp::kNone);
  pending_ += 3;
  if (store_->direct_io_ && fds_[kDirect] < 0) {
    open_file(kDirect, data_name_, O_RDWR | O_DIRECT, FaultOp::kNone);
  }
}

void StoreOp::submit_undo() {
  // Nothing was acknowledged: take back what was made, then report the first error.
  RINGEST_LOG_ERROR("create %.*s: %s", static_cast<int>(kUploadIdChars), upload_->id_chars,
                    std::strerror(error_.err));
  phase_ = Phase::kUndo;
  close_files();
  int dir_fd = store_->uploads_dir_fd();
  ring_->reserve(3);
  ring_->unlinkat(&ops_[kStep1], dir_fd, record_name_, FaultOp::kNone)->flags |=
      IOSQE_IO_HARDLINK;
  ring_->unlinkat(&ops_[kStep2], dir_fd, data_name_, FaultOp::kNone)->flags |=
      IOSQE_IO_HARDLINK;
  ring_->fsync(&ops_[kStep3], dir_fd, false, FaultOp::kNone);
  pending_ = 3;
}

void StoreOp::submit_read() {
  phase_ = Phase::kRead;
  ring_->reserve(2);
  ring_->read(&ops_[kStep0], fds_[kRecord], read_into_, read_bytes_, storage::kHeaderOffset)
      ->flags |= IOSQE_IO_HARDLINK;
  ring_->close(&ops_[kStep1], fds_[kRecord]);
  fds_[kRecord] = -1;
  pending_ = 2;
}

UploadStore::UploadStore(storage::DataDir* data_dir, bool direct_io, uint32_t max_idle_files,
                         uint64_t idle_files_ms)
    : data_dir_(data_dir), direct_io_(direct_io), cache_(max_idle_files, idle_files_ms) {}

void UploadStore::adopt(const storage::RecoveredUpload& r) {
  auto* upload = new Upload();
  std::memcpy(upload->id_chars, r.id, sizeof upload->id_chars);
  upload->created_unix_ms = r.created_unix_ms;
  upload->metadata_bytes = r.metadata_bytes;
  upload->record_version = r.record_version;
  upload->protocol = r.protocol;
  upload->committed_offset = r.state.committed_offset;
  upload->length = r.state.upload_length;
  upload->sequence = r.state.sequence;
  upload->updated_unix_ms = r.state.updated_unix_ms;
  upload->expires_unix_ms = r.state.expires_unix_ms;
  upload->flags = r.state.flags;
  upload->content_crc32c = r.state.content_crc32c;
  registry_.insert(upload);
  upload_unref(upload);
}

void UploadStore::create(StoreOp& op, IoRing& ring, const CreateSpec& spec,
                         StoreListener* listener) {
  auto* upload = new Upload();
  std::string id = new_upload_id();
  std::memcpy(upload->id_chars, id.data(), sizeof upload->id_chars);
  upload->created_unix_ms = unix_ms_now();
  upload->metadata_bytes = static_cast<uint32_t>(spec.metadata_block.size());
  upload->record_version = storage::kFormatVersion;
  upload->protocol = spec.protocol;
  upload->length = spec.length;
  upload->sequence = 1;
  upload->updated_unix_ms = upload->created_unix_ms;
  upload->expires_unix_ms = spec.expires_unix_ms;
  // The CRC-32C of no bytes is 0: every new upload's digest is known from its first byte.
  upload->flags = (spec.length == 0 ? storage::kFlagComplete : 0) | storage::kFlagContentCrc;

  op.begin(StoreOp::Kind::kCreate, this, &ring, upload, listener);
  upload_unref(upload);  // the op holds it now
  op.name_files(upload->id());
  storage::NewRecord record;
  record.id = upload->id();
  record.created_unix_ms = upload->created_unix_ms;
  record.declared_length = spec.length;
  record.protocol = static_cast<storage::Protocol>(spec.protocol);
  record.metadata_block = spec.metadata_block;
  storage::CommitSlot first;
  first.sequence = 1;
  first.committed_offset = 0;
  first.upload_length = spec.length;
  first.flags = upload->flags;
  first.updated_unix_ms = upload->created_unix_ms;
  first.expires_unix_ms = spec.expires_unix_ms;
  op.record_ = storage::encode_new_record(record, first);
  op.length_ = spec.length;
  op.preallocate_ = spec.length != kUnknownLength && spec.length > 0;
  // Both files at once, O_EXCL: a name that exists (it never should: ids are random) fails.
  op.open_file(StoreOp::kData, op.data_name_, O_RDWR | O_CREAT | O_EXCL, FaultOp::kCreate);
  op.open_file(StoreOp::kRecord, op.record_name_, O_RDWR | O_CREAT | O_EXCL, FaultOp::kNone);
}

void UploadStore::open_for_append(StoreOp& op, IoRing& ring, Upload& upload,
                                  StoreListener* listener) {
  op.begin(StoreOp::Kind::kOpenForAppend, this, &ring, &upload, listener);
  op.name_files(upload.id());
  op.open_file(StoreOp::kData, op.data_name_, O_RDWR, FaultOp::kOpen);
  if (direct_io_) op.open_file(StoreOp::kDirect, op.data_name_, O_RDWR | O_DIRECT, FaultOp::kNone);
  op.open_file(StoreOp::kRecord, op.record_name_, O_RDWR, FaultOp::kNone);
}

void UploadStore::open_for_read(StoreOp& op, IoRing& ring, Upload& upload,
                                StoreListener* listener) {
  op.begin(StoreOp::Kind::kOpenForRead, this, &ring, &upload, listener);
  op.name_files(upload.id());
  op.open_file(StoreOp::kData, op.data_name_, O_RDONLY, FaultOp::kOpen);
}

void UploadStore::read_header(StoreOp& op, IoRing& ring, Upload& upload, uint8_t* dst,
                              size_t capacity, StoreListener* listener) {
  op.begin(StoreOp::Kind::kReadHeader, this, &ring, &upload, listener);
  op.name_files(upload.id());
  size_t want = storage::kHeaderFixedBytes + upload.metadata_bytes;
  op.read_into_ = dst;
  op.read_bytes_ = want < capacity ? want : capacity;
  op.open_file(StoreOp::kRecord, op.record_name_, O_RDONLY, FaultOp::kOpen);
}

void UploadStore::remove(StoreOp& op, IoRing& ring, Upload& upload, StoreListener* listener) {
  {
    std::lock_guard lock(upload.mu);
    upload.deleted = true;
  }
  registry_.remove(&upload);
  UploadFiles cached;
  if (cache_.take(upload, &cached)) close_on_ring(ring, cached);  // its descriptors go too
  op.begin(StoreOp::Kind::kRemove, this, &ring, &upload, listener);
  op.name_files(upload.id());
  // The record goes first: a crash in between leaves an orphan .bin, which recovery removes.
  // If the record cannot be unlinked the data file stays too (a plain link cuts the chain), and
  // the upload comes back (StoreOp::next_phase). The directory sync makes the answer to the
  // delete stick across a crash.
  int dir_fd = uploads_dir_fd();
  ring.reserve(3);
  ring.unlinkat(&op.ops_[StoreOp::kStep0], dir_fd, op.record_name_, FaultOp::kRemove)->flags |=
      IOSQE_IO_LINK;
  ring.unlinkat(&op.ops_[StoreOp::kStep1], dir_fd, op.data_name_, FaultOp::kNone)->flags |=
      IOSQE_IO_HARDLINK;
  ring.fsync(&op.ops_[StoreOp::kStep2], dir_fd, false, FaultOp::kNone);
  op.pending_ = 3;
}

void UploadStore::release_files(IoRing& ring, Upload& upload, UploadFiles& files, bool keep,
                                uint64_t now_ms) {
  if (!files.open()) {
    close_on_ring(ring, files);
    return;
  }
  if (!keep) {
    close_on_ring(ring, files);
    return;
  }
  UploadFiles evicted[FileCache::kMaxEvictions];
  int n = cache_.put(upload, files, now_ms, evicted);
  files = UploadFiles{};
  for (int i = 0; i < n; ++i) close_on_ring(ring, evicted[i]);
}

}  // namespace ringest
