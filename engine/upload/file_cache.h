// FileCache: descriptors of uploads that nobody is writing right now, kept open for a while so
// that a client sending its upload in many requests (tus clients PATCH chunk after chunk) does
// not pay three opens per request, and bounded so that known uploads never hold descriptors in
// proportion to their number. Everything else about an upload needs no descriptor.
//
// Life of an upload's descriptors: opened by the request that appends (AppendSession, through
// UploadStore, on the ring), given back here when it ends; closed when evicted (least recently
// used first: when more than `max_idle` are kept, or, checked whenever descriptors are given
// back, when one has been idle for `idle_ms`), when the upload completes, or when it is
// deleted. While an owner holds them they are not here, so an
// eviction can never close a descriptor that is in use.
//
// Threads: any reactor; one mutex. Descriptors the cache gives back for closing are closed by
// the caller (through its ring), never under the lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>

#include "engine/upload/upload.h"

namespace ringest {

class FileCache {
 public:
  // At most this many descriptor sets are evicted by one put().
  static constexpr int kMaxEvictions = 4;

  FileCache(uint32_t max_idle, uint64_t idle_ms) : max_idle_(max_idle), idle_ms_(idle_ms) {}
  FileCache(const FileCache&) = delete;
  FileCache& operator=(const FileCache&) = delete;
  ~FileCache();

  // The new owner of `upload` (or its deletion) takes its descriptors out of the cache: true
  // with `*files` filled when they were still open, false when there were none.
  bool take(Upload& upload, UploadFiles* files);
  // The owner is done and the descriptors stay useful: keep them. Returns how many sets were
  // evicted into `evicted` (the caller closes them).
  int put(Upload& upload, const UploadFiles& files, uint64_t now_ms,
          UploadFiles (&evicted)[kMaxEvictions]);

  size_t idle_count();
  uint32_t max_idle() const { return max_idle_; }

 private:
  void unlink(Upload& upload);  // with mu_ held

  std::mutex mu_;
  const uint32_t max_idle_;
  const uint64_t idle_ms_;
  Upload* newest_ = nullptr;  // most recently put
  Upload* oldest_ = nullptr;
  size_t count_ = 0;
};

// Closes each open descriptor of `files` with plain close(2) (start-up, shutdown, tests).
void close_upload_files(UploadFiles& files);

}  // namespace ringest
