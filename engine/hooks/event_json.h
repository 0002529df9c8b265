// The JSON an event carries to the hook sinks, built from the upload's record (its header,
// metadata and newest commit) on the delivery thread. Everything in it comes from the record, so
// an event built again after a restart says the same, with the same id.
//
//   {"id": "<upload id>-finished", "type": "finished", "time": "2026-12-02T17:04:05.123Z",
//    "upload": {"id": "...", "path": "/files/<id>", "protocol": "tus", "length": 11,
//               "offset": 11, "metadata": {"filename": "a.txt"}, "partial": false,
//               "final": false, "created": "...", "updated": "...",
//               "digest": {"crc32c": "yZRlqg=="}}}
//
// "length" is null while deferred; "digest" is there when the record knows the whole file's
// CRC-32C (base64, as Repr-Digest); metadata values that are not UTF-8 have the bad bytes
// replaced by U+FFFD.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <span>
#include <utility>
#include <vector>

#include "engine/storage/upload_record.h"
#include "engine/upload/upload_events.h"

namespace ringest::hooks {

const char* event_name(UploadEventKind kind);  // "created", "finished", "terminated", "expired"

// "<upload id>-<type>": stable across restarts, so receivers drop duplicates by it.
std::string event_id(std::string_view upload_id, UploadEventKind kind);

// `record` decoded from the upload's record file (uploads/<id>.rec, or its tombstone);
// `event_unix_ms` when the event happened.
std::string event_json(UploadEventKind kind, const storage::DecodedRecord& record,
                       uint64_t event_unix_ms);

// What the pre-create hook is asked about: the upload that would be created and the request.
struct PreCreateFacts {
  uint8_t protocol = 0;                     // storage::Protocol
  uint64_t length = storage::kUnknownLength;
  std::span<const uint8_t> metadata_block;  // a v2 block (may be empty)
  bool partial = false;
  bool final = false;
  std::string_view method;
  std::string_view uri;
  std::string_view remote_addr;
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};
//   {"type": "pre-create", "upload": {"protocol": "tus", "length": 11, "metadata": {...},
//    "partial": false, "final": false}, "request": {"method": "POST", "uri": "/files/",
//    "remote_addr": "127.0.0.1", "headers": {"authorization": "Bearer ...", ...}}}
// (header names lowercased; a repeated one's values joined with ", ")
std::string pre_create_json(const PreCreateFacts& facts);

// "2026-12-02T17:04:05.123Z"
std::string rfc3339_ms(uint64_t unix_ms);

}  // namespace ringest::hooks
