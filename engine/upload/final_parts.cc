#include "engine/upload/final_parts.h"

#include <algorithm>

#include "engine/base/check.h"
#include "engine/base/crc32c_combine.h"
#include "engine/storage/upload_record.h"

namespace ringest {
namespace {

// Pins are taken and dropped under the partial's lock (see the top of final_parts.h).
void drop_pin(Upload& partial) {
  std::lock_guard lock(partial.mu);
  RINGEST_CHECK(partial.final_refs > 0);
  --partial.final_refs;
}

}  // namespace

const char* parts_outcome_name(PartsOutcome outcome) {
  switch (outcome) {
    case PartsOutcome::kOk: return "ok";
    case PartsOutcome::kNoParts: return "no-parts";
    case PartsOutcome::kTooMany: return "too-many-parts";
    case PartsOutcome::kUnknown: return "unknown-part";
    case PartsOutcome::kNotPartial: return "not-a-partial";
    case PartsOutcome::kIncomplete: return "part-incomplete";
    case PartsOutcome::kTooLong: return "too-long";
  }
  return "?";
}

PartsCheck FinalParts::make(std::span<Upload* const> found, uint64_t max_length,
                            std::shared_ptr<const FinalParts>* out) {
  auto release_all = [&found] {
    for (Upload* u : found) {
      if (u != nullptr) upload_unref(u);
    }
  };
  if (found.empty()) return {PartsOutcome::kNoParts, 0};
  if (found.size() > storage::kMaxFinalParts) {
    release_all();
    return {PartsOutcome::kTooMany, 0};
  }
  // (Not make_shared: the constructor is private.)
  std::shared_ptr<FinalParts> parts(new FinalParts());
  parts->parts_.reserve(found.size());
  PartsCheck check;
  uint64_t length = 0;
  for (size_t i = 0; i < found.size() && check.outcome == PartsOutcome::kOk; ++i) {
    Upload* u = found[i];
    check.index = i;
    if (u == nullptr) {
      check.outcome = PartsOutcome::kUnknown;
      break;
    }
    std::lock_guard lock(u->mu);
    if (u->deleted) {
      check.outcome = PartsOutcome::kUnknown;
    } else if (u->kind != UploadKind::kPartial) {
      check.outcome = PartsOutcome::kNotPartial;
    } else if (u->length == kUnknownLength || u->committed_offset != u->length) {
      check.outcome = PartsOutcome::kIncomplete;
    } else if (u->length > max_length || length > max_length - u->length) {
      check.outcome = PartsOutcome::kTooLong;
    } else {
      ++u->final_refs;  // pinned: remove() now refuses it
      parts->parts_.push_back({u, length, u->length});
      length += u->length;
    }
  }
  if (check.outcome != PartsOutcome::kOk) {
    for (const FinalPart& p : parts->parts_) drop_pin(*p.upload);
    parts->parts_.clear();  // the destructor unrefs nothing: release_all() does
    release_all();
    return check;
  }
  parts->length_ = length;
  parts->pinned_.store(true, std::memory_order_release);
  *out = std::move(parts);
  return check;
}

FinalParts::~FinalParts() {
  unpin();
  for (const FinalPart& p : parts_) upload_unref(p.upload);
}

void FinalParts::unpin() const {
  if (!pinned_.exchange(false, std::memory_order_acq_rel)) return;
  for (const FinalPart& p : parts_) drop_pin(*p.upload);
}

size_t FinalParts::part_holding(uint64_t offset) const {
  RINGEST_CHECK(offset < length_);
  // Ends never decrease; the first part that ends after `offset` starts at or before it.
  auto it = std::upper_bound(parts_.begin(), parts_.end(), offset,
                             [](uint64_t at, const FinalPart& p) { return at < p.start + p.length; });
  RINGEST_CHECK(it != parts_.end() && it->length > 0);
  return static_cast<size_t>(it - parts_.begin());
}

bool FinalParts::content_crc32c(uint32_t* crc) const {
  uint32_t combined = 0;  // the CRC-32C of nothing
  for (const FinalPart& p : parts_) {
    std::lock_guard lock(p.upload->mu);
    if ((p.upload->flags & storage::kFlagContentCrc) == 0) return false;
    combined = crc32c_combine(combined, p.upload->content_crc32c, p.length);
  }
  *crc = combined;
  return true;
}

}  // namespace ringest
