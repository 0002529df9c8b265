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
  final_ = false;
}

void StoreOp::name_files(std::string_view id, const char* data_suffix) {
  RINGEST_CHECK(id.size() == kUploadIdChars && std::strlen(data_suffix) < 7);
  std::memcpy(data_name_, id.data(), id.size());
  std::memcpy(data_name_ + id.size(), data_suffix, std::strlen(data_suffix) + 1);
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
  manifest_.clear();
  manifest_.shrink_to_fit();
  if (kind_ == Kind::kCreate && charged_ && !status.ok()) {
    store_->budget_->creation_failed(charge_);
  }
  charged_ = false;
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
  if (kind_ == Kind::kCreate && phase_ == Phase::kChain && slot == kStep0 && !final_ &&
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
    // A final's record and manifest are written and synced: it needs no descriptor again.
    if (final_) close_files();
    if (charged_) {
      store_->budget_->bind(*upload_, charge_, preallocate_);
      charged_ = false;
    }
    store_->registry_.insert(upload_.get());  // durable: now visible
    if (g_fault_plan != nullptr) {
      g_fault_plan->log_commit(upload_->id(), 1, final_ ? upload_->length : 0);
    }
  }
  if (kind_ == Kind::kRemove && upload_->parts != nullptr) {
    upload_->parts->unpin();  // the final is gone for good: its partials may go too
  }
  emit_events();
  if (kind_ == Kind::kRemove && store_->budget_ != nullptr) store_->budget_->removed(*upload_);
  if (kind_ == Kind::kReadHeader && phase_ == Phase::kOpen) {
    submit_read();
    return;
  }
  finish(Status::Ok());
}

void StoreOp::emit_events() {
  UploadEvents* events = store_->events_;
  if (events == nullptr) return;
  if (kind_ == Kind::kCreate) {
    events->on_created(*upload_);
    if (final_) events->on_finished(*upload_);  // complete at once
  } else if (kind_ == Kind::kRemove) {
    events->on_removed(*upload_, reason_);
  }
}

void StoreOp::submit_create_chain() {
  // [fallocate ->] write record -> fsync record -> fsync uploads/, and in direct mode the
  // O_DIRECT descriptor beside it (it needs the file to exist).
  phase_ = Phase::kChain;
  int dir_fd = store_->uploads_dir_fd();
  if (final_) {
    // write record -> fsync record -> write manifest -> fsync uploads/: the record says what
    // the final is and is durable before anything is answered. The manifest (for operators) is
    // derived from it and needs no fsync of its own: recovery rewrites it when a crash left it
    // missing or torn, so a power loss cannot leave a wrong one behind a served final.
    ring_->reserve(4);
    ring_->write(&ops_[kStep0], fds_[kRecord], record_.data(), record_.size(), 0,
                 FaultOp::kNone)
        ->flags |= IOSQE_IO_LINK;
    ring_->fsync(&ops_[kStep1], fds_[kRecord], false, FaultOp::kNone)->flags |= IOSQE_IO_LINK;
    ring_->write(&ops_[kStep2], fds_[kData], manifest_.data(), manifest_.size(), 0,
                 FaultOp::kNone)
        ->flags |= IOSQE_IO_LINK;
    ring_->fsync(&ops_[kStep3], dir_fd, false, FaultOp::kNone);
    pending_ += 4;
    return;
  }
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
  std::shared_ptr<const FinalParts> parts;
  if (r.final) {
    // Recovery checked the parts (there, sound, complete partials of these lengths) and lists
    // finals after them, so they are known here; no maximum applies to what was accepted.
    std::vector<Upload*> found;
    found.reserve(r.parts.size());
    for (const storage::RecoveredPart& part : r.parts) {
      found.push_back(registry_.find(std::string_view(part.id, sizeof part.id)));
    }
    PartsCheck check = FinalParts::make(found, UINT64_MAX, &parts);
    if (check.outcome != PartsOutcome::kOk) {
      RINGEST_LOG_ERROR("final upload %.*s not served: its part %zu: %s",
                        static_cast<int>(sizeof r.id), r.id, check.index,
                        parts_outcome_name(check.outcome));
      return;
    }
  }
  auto* upload = new Upload();
  std::memcpy(upload->id_chars, r.id, sizeof upload->id_chars);
  upload->kind = r.final     ? UploadKind::kFinal
                 : r.partial ? UploadKind::kPartial
                             : UploadKind::kPlain;
  upload->parts = std::move(parts);
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
  uint32_t parts_crc = 0;
  if (upload->parts != nullptr && upload->parts->content_crc32c(&parts_crc)) {
    upload->flags |= storage::kFlagContentCrc;  // (a final's slot may predate its parts' CRCs)
    upload->content_crc32c = parts_crc;
  }
  if (budget_ != nullptr) budget_->adopt(*upload, r.data_file_bytes);
  registry_.insert(upload);
  upload_unref(upload);
}

void UploadStore::create(StoreOp& op, IoRing& ring, const CreateSpec& spec,
                         StoreListener* listener) {
  const bool final = spec.parts != nullptr;
  const uint64_t length = final ? spec.parts->length() : spec.length;
  auto* upload = new Upload();
  std::string id = new_upload_id();
  std::memcpy(upload->id_chars, id.data(), sizeof upload->id_chars);
  upload->created_unix_ms = unix_ms_now();
  upload->metadata_bytes = static_cast<uint32_t>(spec.metadata_block.size());
  upload->record_version =
      final || spec.partial ? storage::kHeaderVersionV3 : storage::kHeaderVersionV2;
  upload->protocol = spec.protocol;
  upload->kind = final          ? UploadKind::kFinal
                 : spec.partial ? UploadKind::kPartial
                                : UploadKind::kPlain;
  upload->parts = spec.parts;
  upload->length = length;
  upload->committed_offset = final ? length : 0;  // a final is complete at once
  upload->sequence = 1;
  upload->updated_unix_ms = upload->created_unix_ms;
  upload->expires_unix_ms = spec.expires_unix_ms;
  // The CRC-32C of no bytes is 0: every new upload's digest is known from its first byte; a
  // final's is combined from its parts' when all of theirs are known.
  upload->flags = length == upload->committed_offset ? storage::kFlagComplete : 0;
  if (!final || spec.parts->content_crc32c(&upload->content_crc32c)) {
    upload->flags |= storage::kFlagContentCrc;
  }

  op.begin(StoreOp::Kind::kCreate, this, &ring, upload, listener);
  upload_unref(upload);  // the op holds it now
  op.final_ = final;
  op.charged_ = spec.charge != nullptr && budget_ != nullptr;
  if (op.charged_) op.charge_ = *spec.charge;
  op.name_files(upload->id(), final ? ".parts" : ".bin");
  storage::NewRecord record;
  record.id = upload->id();
  record.created_unix_ms = upload->created_unix_ms;
  record.declared_length = length;
  record.protocol = static_cast<storage::Protocol>(spec.protocol);
  record.metadata_block = spec.metadata_block;
  storage::NewRecordConcat concat;
  concat.partial = spec.partial;
  std::vector<storage::PartEntry> entries;
  std::vector<std::string_view> part_ids;
  if (final) {
    entries.reserve(spec.parts->count());
    part_ids.reserve(spec.parts->count());
    for (size_t i = 0; i < spec.parts->count(); ++i) {
      const FinalPart& part = spec.parts->part(i);
      entries.push_back({part.upload->id(), part.length});
      part_ids.push_back(part.upload->id());
    }
    concat.parts = entries;
    op.manifest_ = storage::parts_file_text(uploads_path(), part_ids);
  }
  storage::CommitSlot first;
  first.sequence = 1;
  first.committed_offset = upload->committed_offset;
  first.upload_length = length;
  first.flags = upload->flags;
  first.updated_unix_ms = upload->created_unix_ms;
  first.expires_unix_ms = spec.expires_unix_ms;
  first.content_crc32c = upload->content_crc32c;
  op.record_ = storage::encode_new_record(record, first, concat);
  op.length_ = length;
  op.preallocate_ = !final && length != kUnknownLength && length > 0;
  if (final) {
    // No data file: the record and the operator's manifest, both new (O_EXCL).
    op.open_file(StoreOp::kData, op.data_name_, O_WRONLY | O_CREAT | O_EXCL, FaultOp::kCreate);
    op.open_file(StoreOp::kRecord, op.record_name_, O_RDWR | O_CREAT | O_EXCL, FaultOp::kNone);
    return;
  }
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

bool UploadStore::remove(StoreOp& op, IoRing& ring, Upload& upload, StoreListener* listener,
                         RemoveReason reason) {
  {
    // Under the lock FinalParts::make() pins with: a partial is either pinned (and stays) or
    // deleted (and no final can pin it any more), never both.
    std::lock_guard lock(upload.mu);
    if (upload.final_refs > 0) return false;
    upload.deleted = true;
  }
  registry_.remove(&upload);
  UploadFiles cached;
  if (cache_.take(upload, &cached)) close_on_ring(ring, cached);  // its descriptors go too
  op.begin(StoreOp::Kind::kRemove, this, &ring, &upload, listener);
  op.reason_ = reason;
  // A final has a manifest where others have a data file.
  op.name_files(upload.id(), upload.kind == UploadKind::kFinal ? ".parts" : ".bin");
  if (events_ != nullptr) {
    submit_tombstone_chain(op, ring, upload.id(), reason);
    return true;
  }
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
  return true;
}

void UploadStore::submit_tombstone_chain(StoreOp& op, IoRing& ring, std::string_view id,
                                         RemoveReason reason) {
  // With hook sinks the record is the removal event's durable outbox entry: it moves to
  // events/<id>.<reason> (the hook outbox delivers the event from it, then unlinks it), in the
  // same place in the chain where it would be unlinked, and both directories are synced.
  const char* suffix = reason == RemoveReason::kExpired ? ".expired" : ".terminated";
  std::memcpy(op.tombstone_name_, id.data(), id.size());
  std::memcpy(op.tombstone_name_ + id.size(), suffix, std::strlen(suffix) + 1);
  int dir_fd = uploads_dir_fd();
  ring.reserve(4);
  ring.renameat(&op.ops_[StoreOp::kStep0], dir_fd, op.record_name_, data_dir_->events_dir_fd(),
                op.tombstone_name_, FaultOp::kRemove)
      ->flags |= IOSQE_IO_LINK;
  ring.unlinkat(&op.ops_[StoreOp::kStep1], dir_fd, op.data_name_, FaultOp::kNone)->flags |=
      IOSQE_IO_HARDLINK;
  ring.fsync(&op.ops_[StoreOp::kStep2], dir_fd, false, FaultOp::kNone)->flags |=
      IOSQE_IO_HARDLINK;
  ring.fsync(&op.ops_[StoreOp::kStep3], data_dir_->events_dir_fd(), false, FaultOp::kNone);
  op.pending_ = 4;
}

Upload* UploadStore::find_live(std::string_view id, uint64_t now_unix_ms) {
  Upload* upload = registry_.find(id);
  if (upload != nullptr && upload_expired(*upload, expiry_, now_unix_ms)) {
    upload_unref(upload);
    return nullptr;
  }
  return upload;
}

bool UploadStore::remembers_expired(std::string_view id, uint64_t now_unix_ms) {
  if (expired_ids_.contains(id)) return true;
  UploadRef upload(registry_.find(id));  // expired, not yet collected
  return upload && upload_expired(*upload, expiry_, now_unix_ms);
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
