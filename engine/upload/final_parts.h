// FinalParts: the ordered parts of a final upload, the protocol-neutral core of concatenation
// (tus Upload-Concat today; S3 CompleteMultipartUpload is the same thing: partial uploads plus a
// final one). A final has no data file of its own: its bytes are its partial uploads' data
// files, read in order (UploadReader), and its record lists them (storage format v3), so it is
// complete and readable as soon as that record is durable, whatever its size.
//
// Pins: while a FinalParts is pinned, each listed partial's `final_refs` counts it (once per
// listing), and UploadStore::remove() refuses to remove a partial whose count is above zero; so
// must expiry. Building FinalParts checks and pins each part under the part's own lock, the same
// lock remove() takes to check the count and mark the upload deleted, so a partial is never
// removed between being checked for a final and being pinned by it. The pins go when the
// final's removal is durable (unpin()), or when the FinalParts is destroyed unpinned-not-yet (a
// creation that failed, shutdown).
//
// Memory: one FinalPart (24 bytes) per listed part, allocated when the final is created or
// recovered, never per request. Threads: immutable once built; any reactor reads it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "engine/upload/upload.h"

namespace ringest {

struct FinalPart {
  Upload* upload = nullptr;  // the partial: a reference held for as long as the parts live
  uint64_t start = 0;        // the offset of its first byte in the final
  uint64_t length = 0;
};

enum class PartsOutcome : uint8_t {
  kOk,
  kNoParts,     // an empty list
  kTooMany,     // more than storage::kMaxFinalParts
  kUnknown,     // no such upload (or it was deleted)
  kNotPartial,  // an upload that was not created as a partial
  kIncomplete,  // a partial whose bytes have not all arrived (no concatenation-unfinished)
  kTooLong,     // the parts add up to more than the largest upload allowed
};
const char* parts_outcome_name(PartsOutcome outcome);

struct PartsCheck {
  PartsOutcome outcome = PartsOutcome::kOk;
  size_t index = 0;  // the listed part it is about, for the refusals about one part
};

class FinalParts {
 public:
  // Builds the parts of a new final from `found`: one entry per listed part, in order, each a
  // reference the caller owns (from UploadStore::find()) or null for an id nobody knows. Takes
  // over those references whatever the outcome. On kOk, *out holds the parts, pinned; otherwise
  // nothing is pinned and *out is left alone. Allocates (creation and start-up only).
  static PartsCheck make(std::span<Upload* const> found, uint64_t max_length,
                         std::shared_ptr<const FinalParts>* out);

  FinalParts(const FinalParts&) = delete;
  FinalParts& operator=(const FinalParts&) = delete;
  ~FinalParts();

  size_t count() const { return parts_.size(); }
  const FinalPart& part(size_t index) const { return parts_[index]; }
  uint64_t length() const { return length_; }
  // The part that holds byte `offset` (< length()): empty parts hold none and are never chosen.
  size_t part_holding(uint64_t offset) const;
  // The CRC-32C of the final's bytes, combined from the parts' (crc32c_combine) without reading
  // them: true when every part's is known.
  bool content_crc32c(uint32_t* crc) const;
  // Lets the partials go (they may be removed again). Once; called when the final's removal is
  // durable, and by the destructor if it was not.
  void unpin() const;

 private:
  FinalParts() = default;

  std::vector<FinalPart> parts_;
  uint64_t length_ = 0;
  mutable std::atomic<bool> pinned_{false};
};

}  // namespace ringest
