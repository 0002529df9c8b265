#include "engine/upload/upload.h"

#include <unistd.h>

#include "engine/base/check.h"

namespace ringest {

Upload::~Upload() {
  if (data_fd >= 0) ::close(data_fd);
  if (direct_fd >= 0) ::close(direct_fd);
  if (record_fd >= 0) ::close(record_fd);
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

UploadRegistry::~UploadRegistry() {
  for (auto& [id, upload] : uploads_) upload_unref(upload);
}

Upload* UploadRegistry::find(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = uploads_.find(id);
  if (it == uploads_.end()) return nullptr;
  upload_ref(it->second);
  return it->second;
}

void UploadRegistry::insert(Upload* upload) {
  upload_ref(upload);
  std::lock_guard lock(mu_);
  auto [it, inserted] = uploads_.emplace(std::string_view(upload->id), upload);
  RINGEST_CHECK(inserted);
}

void UploadRegistry::remove(Upload* upload) {
  {
    std::lock_guard lock(mu_);
    auto it = uploads_.find(std::string_view(upload->id));
    if (it == uploads_.end() || it->second != upload) return;
    uploads_.erase(it);
  }
  upload_unref(upload);
}

size_t UploadRegistry::size() {
  std::lock_guard lock(mu_);
  return uploads_.size();
}

}  // namespace ringest
