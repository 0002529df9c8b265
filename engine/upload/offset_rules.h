// The offset rules of an append, protocol-neutral and pure, so every protocol handler applies
// the same checks and a table test covers them.
#pragma once

#include <cstdint>

namespace ringest {

enum class AppendCheck {
  kOk,
  kOffsetMismatch,   // request offset != committed offset (tus: 409)
  kExceedsLength,    // declared body would pass the upload length (tus: 413)
};

// How many more body bytes an upload may take.
inline uint64_t remaining_bytes(uint64_t offset, uint64_t upload_length) {
  return offset >= upload_length ? 0 : upload_length - offset;
}

// `body_bytes` < 0 means the body length is not known up front (chunked); then only the offset
// is checked here and the writer refuses bytes past the length as they arrive.
inline AppendCheck check_append(uint64_t committed_offset, uint64_t upload_length,
                                uint64_t request_offset, int64_t body_bytes) {
  if (request_offset != committed_offset) return AppendCheck::kOffsetMismatch;
  if (body_bytes >= 0 &&
      static_cast<uint64_t>(body_bytes) > remaining_bytes(committed_offset, upload_length)) {
    return AppendCheck::kExceedsLength;
  }
  return AppendCheck::kOk;
}


}  // namespace ringest
