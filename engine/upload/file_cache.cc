#include "engine/upload/file_cache.h"

#include <unistd.h>

#include "engine/base/check.h"

namespace ringest {

FileCache::~FileCache() {
  while (oldest_ != nullptr) {
    Upload* u = oldest_;
    unlink(*u);
    close_upload_files(u->cached_files);
    upload_unref(u);
  }
}

void FileCache::unlink(Upload& upload) {
  (upload.lru_prev ? upload.lru_prev->lru_next : newest_) = upload.lru_next;
  (upload.lru_next ? upload.lru_next->lru_prev : oldest_) = upload.lru_prev;
  upload.lru_prev = upload.lru_next = nullptr;
  upload.in_cache = false;
  --count_;
}

bool FileCache::take(Upload& upload, UploadFiles* files) {
  {
    std::lock_guard lock(mu_);
    if (!upload.in_cache) return false;
    unlink(upload);
    *files = upload.cached_files;
    upload.cached_files = UploadFiles{};
  }
  upload_unref(&upload);  // the cache's reference; the caller holds its own
  return true;
}

int FileCache::put(Upload& upload, const UploadFiles& files, uint64_t now_ms,
                   UploadFiles (&evicted)[kMaxEvictions]) {
  int n = 0;
  Upload* unref[kMaxEvictions + 1];
  int unrefs = 0;
  {
    std::lock_guard lock(mu_);
    RINGEST_CHECK(!upload.in_cache);
    upload_ref(&upload);
    upload.cached_files = files;
    upload.idle_since_ms = now_ms;
    upload.in_cache = true;
    upload.lru_prev = nullptr;
    upload.lru_next = newest_;
    (newest_ ? newest_->lru_prev : oldest_) = &upload;
    newest_ = &upload;
    ++count_;
    while (oldest_ != nullptr && n < kMaxEvictions &&
           (count_ > max_idle_ || now_ms >= oldest_->idle_since_ms + idle_ms_)) {
      Upload* old = oldest_;
      unlink(*old);
      evicted[n++] = old->cached_files;
      old->cached_files = UploadFiles{};
      unref[unrefs++] = old;
    }
  }
  for (int i = 0; i < unrefs; ++i) upload_unref(unref[i]);
  return n;
}

size_t FileCache::idle_count() {
  std::lock_guard lock(mu_);
  return count_;
}

void close_upload_files(UploadFiles& files) {
  for (int* fd : {&files.data_fd, &files.direct_fd, &files.record_fd}) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
}

}  // namespace ringest
