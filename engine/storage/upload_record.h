// The durable upload record: one small file `<id>.rec` beside the data file `<id>.bin`.
// The byte layout is pinned here and in docs/storage-format.md; any change bumps kVersion.
//
//   [0, 512)      commit slot A  \  written alternately (slot = sequence % 2), so a torn write
//   [512, 1024)   commit slot B  /  of one slot always leaves the previous commit intact
//   [1024, ...)   header: immutable after creation (id, length, metadata)
//
// Commit slot (little-endian):
//   0  u32 magic "RGSL"     4 u16 version   6 u16 reserved (0)
//   8  u64 sequence (>= 1)  16 u64 committed_offset   24 u64 upload_length
//   32 u32 flags (bit 0: complete)  36 u32 reserved (0)  40 u64 updated_unix_ms
//   48..507 zero            508 u32 crc32c of bytes [0, 508)
//
// Header:
//   0  u32 magic "RGHD"     4 u16 version   6 u16 reserved (0)
//   8  char[32] upload id (lowercase hex)   40 u64 created_unix_ms   48 u64 upload_length
//   56 u32 metadata_bytes   60 u32 crc32c of the header (this field as 0) and the metadata
//   64 metadata (the validated Upload-Metadata header value, verbatim)
//
// A record is trusted only when its header checks out and at least one slot does; the newest
// valid slot (highest sequence) is the upload's state. Everything else is corruption.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::storage {

inline constexpr uint32_t kSlotMagic = 0x4C534752;    // "RGSL" little-endian
inline constexpr uint32_t kHeaderMagic = 0x44484752;  // "RGHD" little-endian
inline constexpr uint16_t kVersion = 1;
inline constexpr size_t kSlotBytes = 512;
inline constexpr size_t kHeaderOffset = 1024;
inline constexpr size_t kHeaderFixedBytes = 64;
inline constexpr size_t kIdChars = 32;
inline constexpr uint32_t kMaxMetadataBytes = 1u << 20;
inline constexpr uint32_t kFlagComplete = 1;

struct CommitSlot {
  uint64_t sequence = 0;
  uint64_t committed_offset = 0;
  uint64_t upload_length = 0;
  uint32_t flags = 0;
  uint64_t updated_unix_ms = 0;
};

struct RecordHeader {
  std::string id;  // kIdChars lowercase hex
  uint64_t created_unix_ms = 0;
  uint64_t upload_length = 0;
  std::string metadata;
};

enum class RecordError {
  kOk,
  kTooShort,            // file smaller than slots + fixed header
  kBadHeaderMagic,
  kUnknownHeaderVersion,
  kHeaderChecksum,      // header or metadata bytes changed
  kMetadataLength,      // metadata length runs past the end of the file or over the limit
  kIdMismatch,          // header id differs from the file name
  kNoValidSlot,         // neither commit slot checks out
  kOffsetBeyondLength,  // newest slot claims more bytes than the upload has
  kLengthMismatch,      // slot and header disagree on the upload length
};

const char* record_error_name(RecordError error);

// Slot encoding: `out` must hold kSlotBytes.
void encode_slot(const CommitSlot& slot, uint8_t* out);
// Returns true and fills `slot` when the bytes are a valid slot of a known version.
bool decode_slot(const uint8_t* bytes, CommitSlot* slot);
// Byte offset of the slot a commit with this sequence number goes to.
inline uint64_t slot_file_offset(uint64_t sequence) { return (sequence & 1) * kSlotBytes; }

// The whole initial record (both slots and the header) for a new upload. `first` goes where
// slot_file_offset(first.sequence) says (sequence 1: slot B); the other slot stays zero.
std::vector<uint8_t> encode_new_record(const RecordHeader& header, const CommitSlot& first);

struct DecodedRecord {
  RecordError error = RecordError::kOk;
  RecordHeader header;
  CommitSlot state;  // newest valid slot
};

// Decodes a whole record file. `expected_id` (may be empty) must match the header id.
DecodedRecord decode_record(const uint8_t* bytes, size_t size, std::string_view expected_id);

}  // namespace ringest::storage
