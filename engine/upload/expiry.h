// Expiry: when an upload stops being served and the collector (expiry_collector.h) may delete it.
//
// The rule is computed from the flags, never stored per upload, so an operator who changes
// --expire-after or --finished-retention changes it for every upload at the next start:
//   unfinished: the last durable commit (updated_unix_ms, set by every commit, so "the last byte
//               received") + expire-after
//   finished:   the commit that completed it (updated_unix_ms again: a complete upload takes no
//               more commits; a final's is its creation) + finished-retention
// A zero duration means never. The record slot's `expires_unix_ms` field stays 0 (reserved for a
// per-upload deadline; nothing sets one today).
//
// An upload that a request owns (is writing, or removing) is never expired, whatever its clock
// says: ownership is what "a request is writing it" means (upload.h).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "engine/base/config.h"
#include "engine/upload/upload.h"

namespace ringest {

struct ExpiryPolicy {
  uint64_t unfinished_ms = 0;  // --expire-after; 0: unfinished uploads never expire
  uint64_t finished_ms = 0;    // --finished-retention; 0: finished uploads are kept for ever

  bool enabled() const { return unfinished_ms > 0 || finished_ms > 0; }
  // When an upload in this committed state expires (Unix ms), or 0: never.
  uint64_t expires_unix_ms(bool complete, uint64_t updated_unix_ms) const;
  uint64_t expires_unix_ms(const UploadView& view) const {
    return expires_unix_ms(view.complete(), view.updated_unix_ms);
  }
  // How often the collector starts a sweep: a quarter of the shorter duration, within
  // [kMinSweepMs, kMaxSweepMs] (requests see expiry exactly; the period only bounds how long
  // an expired upload's files stay on disk).
  static constexpr uint64_t kMinSweepMs = 50;
  static constexpr uint64_t kMaxSweepMs = 10000;
  uint64_t sweep_period_ms() const;
};

inline ExpiryPolicy expiry_policy_of(const Config& config) {
  return ExpiryPolicy{config.expire_after_ms, config.finished_retention_ms};
}

// Whether a request must treat `upload` as gone: its expiry has passed and no request owns it.
// Takes upload.mu.
bool upload_expired(Upload& upload, const ExpiryPolicy& policy, uint64_t now_unix_ms);

// The collector's claim: takes ownership of `upload` as `me` only when it has expired and may be
// deleted now: nobody owns or waits for it, it is not deleted, no live final lists it
// (final_refs), and its `finished` event is delivered (events_hold). Never asks an owner to let
// go (unlike acquire_upload()). Release with release_upload(): a request that started waiting
// meanwhile gets the handoff and finds the upload deleted.
bool claim_expired_upload(Upload& upload, const ExpiryPolicy& policy, uint64_t now_unix_ms,
                          const UploadOwner& me);
// The same test without claiming; the caller holds upload.mu (the collector's sweep).
bool expired_and_free_locked(const Upload& upload, const ExpiryPolicy& policy,
                             uint64_t now_unix_ms);

// The ids of the most recently expired uploads, so that a request for one hears 410 Gone rather
// than 404 "while the server still remembers the id". Bounded (the oldest is forgotten first),
// in memory only: after a restart such ids get 404. Threads: any; one mutex.
class ExpiredIds {
 public:
  explicit ExpiredIds(size_t capacity);
  ExpiredIds(const ExpiredIds&) = delete;
  ExpiredIds& operator=(const ExpiredIds&) = delete;

  void add(std::string_view id);
  bool contains(std::string_view id);

 private:
  using Id = std::array<char, 32>;
  std::mutex mu_;
  std::vector<Id> ring_;  // capacity entries, filled in order, the oldest overwritten
  size_t next_ = 0;
  size_t count_ = 0;
  std::unordered_set<std::string_view> index_;  // views into ring_
};

}  // namespace ringest
