#include "engine/upload/expiry.h"

#include <algorithm>
#include <cstring>

#include "engine/base/check.h"

namespace ringest {

uint64_t ExpiryPolicy::expires_unix_ms(bool complete, uint64_t updated_unix_ms) const {
  uint64_t after = complete ? finished_ms : unfinished_ms;
  if (after == 0) return 0;
  return updated_unix_ms > UINT64_MAX - after ? UINT64_MAX : updated_unix_ms + after;
}

uint64_t ExpiryPolicy::sweep_period_ms() const {
  uint64_t shortest = UINT64_MAX;
  if (unfinished_ms > 0) shortest = unfinished_ms;
  if (finished_ms > 0) shortest = std::min(shortest, finished_ms);
  return std::clamp<uint64_t>(shortest / 4, kMinSweepMs, kMaxSweepMs);
}

namespace {

// Under upload.mu: the deadline has passed.
bool past_deadline_locked(const Upload& upload, const ExpiryPolicy& policy, uint64_t now) {
  bool complete = upload.length != kUnknownLength && upload.committed_offset == upload.length;
  uint64_t deadline = policy.expires_unix_ms(complete, upload.updated_unix_ms);
  return deadline != 0 && now >= deadline;
}

}  // namespace

bool upload_expired(Upload& upload, const ExpiryPolicy& policy, uint64_t now_unix_ms) {
  if (!policy.enabled()) return false;
  std::lock_guard lock(upload.mu);
  return !upload.has_owner && past_deadline_locked(upload, policy, now_unix_ms);
}

bool expired_and_free_locked(const Upload& upload, const ExpiryPolicy& policy,
                             uint64_t now_unix_ms) {
  return !upload.deleted && !upload.has_owner && !upload.has_waiter && upload.final_refs == 0 &&
         !upload.events_hold.load(std::memory_order_acquire) &&
         past_deadline_locked(upload, policy, now_unix_ms);
}

bool claim_expired_upload(Upload& upload, const ExpiryPolicy& policy, uint64_t now_unix_ms,
                          const UploadOwner& me) {
  std::lock_guard lock(upload.mu);
  if (!expired_and_free_locked(upload, policy, now_unix_ms)) return false;
  upload.has_owner = true;
  upload.owner = me;
  return true;
}

ExpiredIds::ExpiredIds(size_t capacity) : ring_(capacity) {
  RINGEST_CHECK(capacity > 0);
  index_.reserve(capacity);
}

void ExpiredIds::add(std::string_view id) {
  RINGEST_CHECK(id.size() == sizeof(Id));
  std::lock_guard lock(mu_);
  if (index_.count(id) != 0) return;
  Id& slot = ring_[next_];
  if (count_ == ring_.size()) {
    index_.erase(std::string_view(slot.data(), slot.size()));  // forget the oldest
  } else {
    ++count_;
  }
  std::memcpy(slot.data(), id.data(), slot.size());
  index_.insert(std::string_view(slot.data(), slot.size()));
  next_ = (next_ + 1) % ring_.size();
}

bool ExpiredIds::contains(std::string_view id) {
  std::lock_guard lock(mu_);
  return index_.count(id) != 0;
}

}  // namespace ringest
