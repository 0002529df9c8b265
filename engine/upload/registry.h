// UploadRegistry: every known upload by id, shared by all reactors (one mutex, touched once per
// request). Lookups take a reference. An upload is inserted only after its record is durable
// (UploadStore), so whatever is found here exists on disk.
#pragma once

#include <cstddef>
#include <mutex>
#include <string_view>
#include <unordered_map>

#include "engine/upload/upload.h"

namespace ringest {

class UploadRegistry {
 public:
  UploadRegistry() = default;
  UploadRegistry(const UploadRegistry&) = delete;
  UploadRegistry& operator=(const UploadRegistry&) = delete;
  ~UploadRegistry();

  Upload* find(std::string_view id);  // nullptr if unknown; else the caller owns a reference
  void insert(Upload* upload);        // the registry takes its own reference
  void remove(Upload* upload);        // drops the registry's reference
  size_t size();
  void reserve(size_t count);
  // Visits every upload under the registry's lock: `visit` must be quick and must not call
  // back into the registry.
  template <typename Visit>
  void for_each(Visit&& visit) {
    std::lock_guard lock(mu_);
    for (auto& [id, upload] : uploads_) visit(*upload);
  }
  // A walk in bounded steps (the expiry collector): visits the uploads of the table's buckets
  // from `cursor` on, under the registry's lock, until about `max_visits` were seen or `visit`
  // returns false (stop: that bucket is visited again next time). Returns the cursor to go on
  // from, or 0 when the walk reached the end of the table. The table may grow between steps
  // (a rehash): an upload may then be missed or seen twice by one walk, and the next walk sees
  // it. `visit` must be quick and must not call back into the registry.
  template <typename Visit>
  size_t sweep(size_t cursor, size_t max_visits, Visit&& visit) {
    std::lock_guard lock(mu_);
    size_t visits = 0;
    for (size_t bucket = cursor; bucket < uploads_.bucket_count(); ++bucket) {
      if (visits >= max_visits) return bucket;
      for (auto it = uploads_.begin(bucket); it != uploads_.end(bucket); ++it, ++visits) {
        if (!visit(*it->second)) return bucket;
      }
    }
    return 0;
  }

 private:
  std::mutex mu_;
  std::unordered_map<std::string_view, Upload*> uploads_;
};

}  // namespace ringest
