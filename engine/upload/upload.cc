#include "engine/upload/upload.h"

#include "engine/base/check.h"
#include "engine/storage/upload_record.h"
#include "engine/upload/final_parts.h"

namespace ringest {

Upload::~Upload() {
  // The file cache holds a reference while it keeps descriptors, so none can be left here.
  RINGEST_CHECK(!in_cache && cached_files.data_fd < 0 && cached_files.record_fd < 0);
}

UploadView Upload::view() {
  UploadView v;
  v.created_unix_ms = created_unix_ms;
  v.metadata_bytes = metadata_bytes;
  v.record_version = record_version;
  v.protocol = protocol;
  v.kind = kind;
  std::lock_guard lock(mu);
  v.offset = committed_offset;
  v.length = length;
  v.updated_unix_ms = updated_unix_ms;
  v.expires_unix_ms = expires_unix_ms;
  v.flags = flags;
  v.deleted = deleted;
  v.final_refs = final_refs;
  v.crc32c_known = (flags & storage::kFlagContentCrc) != 0;
  v.crc32c = content_crc32c;
  return v;
}

void upload_ref(Upload* upload) { upload->refs.fetch_add(1, std::memory_order_relaxed); }

void upload_unref(Upload* upload) {
  if (upload->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete upload;
}

AcquireOutcome acquire_upload(Upload& upload, const UploadOwner& me) {
  AcquireOutcome out;
  std::lock_guard lock(upload.mu);
  if (upload.deleted) {
    out.result = AcquireOutcome::Result::kDeleted;
    return out;
  }
  if (!upload.has_owner) {
    upload.has_owner = true;
    upload.owner = me;
    return out;
  }
  RINGEST_CHECK(!upload.owner.same_as(me));
  out.result = AcquireOutcome::Result::kWait;
  if (upload.has_waiter) {
    out.send_superseded = true;
    out.superseded = upload.waiter;
  }
  upload.has_waiter = true;
  upload.waiter = me;
  out.send_abort = true;
  out.abort_target = upload.owner;
  return out;
}

ReleaseOutcome release_upload(Upload& upload, const UploadOwner& me) {
  ReleaseOutcome out;
  std::lock_guard lock(upload.mu);
  RINGEST_CHECK(upload.has_owner && upload.owner.same_as(me));
  if (upload.has_waiter) {
    upload.owner = upload.waiter;
    upload.has_waiter = false;
    out.send_handoff = true;
    out.handoff_to = upload.owner;
  } else {
    upload.has_owner = false;
  }
  return out;
}

ReleaseOutcome abandon_upload(Upload& upload, const UploadOwner& me) {
  {
    std::lock_guard lock(upload.mu);
    if (upload.has_waiter && upload.waiter.same_as(me)) {
      upload.has_waiter = false;
      return {};
    }
    if (!(upload.has_owner && upload.owner.same_as(me))) return {};
  }
  return release_upload(upload, me);
}

}  // namespace ringest
