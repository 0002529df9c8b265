#include "engine/upload/registry.h"

#include "engine/base/check.h"

namespace ringest {

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
  auto [it, inserted] = uploads_.emplace(upload->id(), upload);
  RINGEST_CHECK(inserted);
}

void UploadRegistry::remove(Upload* upload) {
  {
    std::lock_guard lock(mu_);
    auto it = uploads_.find(upload->id());
    if (it == uploads_.end() || it->second != upload) return;
    uploads_.erase(it);
  }
  upload_unref(upload);
}

size_t UploadRegistry::size() {
  std::lock_guard lock(mu_);
  return uploads_.size();
}

void UploadRegistry::reserve(size_t count) {
  std::lock_guard lock(mu_);
  uploads_.reserve(count);
}

}  // namespace ringest
