// The durable upload record: one small file `<id>.rec` beside the data file `<id>.bin` (a final
// upload of a concatenation has no data file: its bytes are its parts'). Slot version 2 is
// always written; the header is version 2, or version 3 for the partial and final uploads of a
// concatenation (so that a server that knows only version 2 still reads every other record).
// Version 1 records and slots are still read. The byte layout is pinned here, in
// docs/storage-format.md (the full rules) and in tests/unit/upload_record_test.cc; any layout
// change bumps a version.
//
//   [0, 512)      commit slot A  \  written alternately (slot = sequence % 2), so a torn write
//   [512, 1024)   commit slot B  /  of one slot always leaves the previous commit intact
//   [1024, ...)   header: immutable after creation (id, protocol, length, metadata)
//
// Commit slot v3 (little-endian; slots carry their own version, kSlotVersion):
//   0  u32 magic "RGSL"   4 u16 version (3)   6 u16 reserved (0)   8 u64 sequence (>= 1)
//   16 u64 committed_offset   24 u64 upload_length (kUnknownLength while deferred)
//   32 u32 flags (kFlagComplete, kFlagFinishDelivered, kFlagContentCrc)   36 u32 reserved (0)
//   40 u64 updated_unix_ms   48 u64 expires_unix_ms (0: never)
//   56 u32 content_crc32c: CRC-32C of the data bytes [0, committed_offset) when kFlagContentCrc
//      is set, else 0   60..507 zero
//   508 u32 crc32c of bytes [0, 508)
// Slot v2 is v3 without the content CRC (bytes 56..507 zero, kFlagContentCrc never set): still
// read, as a slot whose content CRC is unknown.
//
// Header v2:
//   0  u32 magic "RGHD"   4 u16 version (2)   6 u8 protocol   7 u8 header flags
//   8  char[32] upload id   40 u64 created_unix_ms   48 u64 declared length (kUnknownLength
//   exactly when the length-deferred flag is set)   56 u32 metadata block bytes (<= 1 MiB)
//   60 u32 crc32c of the 64 header bytes (this field as 0) followed by the metadata block
//   64 metadata block: u32 pair count, then per pair u16 key bytes (1..1024), key,
//      u32 value bytes, value (binary). Empty (0 bytes) also means no pairs.
//
// Header v3 (partial and final uploads): v2, plus header flags bit 1 (partial: an ordinary
// upload that finals may list) and bit 2 (final: created complete from its parts), never both,
// and a final's length never deferred. A final's parts block follows the metadata block:
//   u32 part count (1..kMaxFinalParts), then per part char[32] id + u64 length, then
//   u32 crc32c of the block's bytes before it, seeded with the header's CRC (bytes 60..63).
// Its own CRC keeps the header CRC what it was (fixed bytes + metadata), so a reader that wants
// the metadata (HEAD) reads the same bytes as for any record; the seed ties the block to its
// header. The part lengths add up to the declared length, and the state is complete.
//
// Version 1 (read, never written): slot version 1 without the expiry; header version 1 with
// bytes 6..7 reserved, the length always known, the protocol implicitly tus, and as metadata
// the client's tus Upload-Metadata value verbatim. MetadataReader yields the same decoded pairs
// from either form.
//
// Validity, in one line each (docs/storage-format.md has them in full):
// - A slot is valid or not on its own 512 bytes: magic, version 1 or 2, CRC, sequence >= 1,
//   and for v2 reserved fields zero, no reserved flag bit, kFlagComplete set exactly when the
//   length is known and committed_offset equals it. An invalid slot is passed over and the
//   other slot is used; it is never a record-level error by itself.
// - A record is trusted when its header checks out and at least one slot is valid. The newest
//   valid slot (higher sequence) is the state, and must agree with the header on the length
//   (kLengthMismatch, kOffsetBeyondLength); that is a record-level error, not a fallback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace ringest::storage {

inline constexpr uint32_t kSlotMagic = 0x4C534752;    // "RGSL" little-endian
inline constexpr uint32_t kHeaderMagic = 0x44484752;  // "RGHD" little-endian
inline constexpr uint16_t kFormatVersion = 2;         // what encode_* writes (header)
inline constexpr uint16_t kSlotVersion = 3;           // what encode_slot() writes
inline constexpr uint16_t kSlotVersionV2 = 2;         // still read (no content CRC)
inline constexpr uint16_t kFormatVersionV1 = 1;       // still read
// Header versions (the header's own field, bytes 4..5 at kHeaderOffset). Version 2 is written
// for every upload that is not part of a concatenation, version 3 for partial and final ones.
inline constexpr uint16_t kHeaderVersionV2 = 2;
inline constexpr uint16_t kHeaderVersionV3 = 3;
inline constexpr size_t kSlotBytes = 512;
inline constexpr size_t kHeaderOffset = 1024;
inline constexpr size_t kHeaderFixedBytes = 64;
inline constexpr size_t kIdChars = 32;
inline constexpr uint32_t kMaxMetadataBytes = 1u << 20;
inline constexpr size_t kMaxMetadataKeyBytes = 1024;
// Pairs in a v2 block. The bound keeps the duplicate-key check, which compares every pair with
// every earlier one so that it needs no memory, at about half a million key comparisons.
inline constexpr uint32_t kMaxMetadataPairs = 1024;
// Pairs in v1 metadata: what tus::valid_metadata() allowed when v1 records were written.
inline constexpr uint32_t kMaxMetadataPairsV1 = 64;

// The upload length while the client has not declared it (tus Upload-Defer-Length, a plain
// PUT without Content-Length).
inline constexpr uint64_t kUnknownLength = UINT64_MAX;

// Commit slot flags.
inline constexpr uint32_t kFlagComplete = 1u << 0;         // length known and committed == length
inline constexpr uint32_t kFlagFinishDelivered = 1u << 1;  // "finished" reached the hook sinks
inline constexpr uint32_t kFlagContentCrc = 1u << 2;  // content_crc32c holds the CRC (v3)
inline constexpr uint32_t kKnownSlotFlags = kFlagComplete | kFlagFinishDelivered | kFlagContentCrc;

// Header flags (v2 byte 7).
inline constexpr uint8_t kHeaderFlagLengthDeferred = 1u << 0;
inline constexpr uint8_t kKnownHeaderFlags = kHeaderFlagLengthDeferred;
// v3 only: concatenation.
inline constexpr uint8_t kHeaderFlagPartial = 1u << 1;  // a partial upload, finals may list it
inline constexpr uint8_t kHeaderFlagFinal = 1u << 2;    // a final upload: a parts block follows
inline constexpr uint8_t kKnownHeaderFlagsV3 =
    kHeaderFlagLengthDeferred | kHeaderFlagPartial | kHeaderFlagFinal;

// A final's parts. The bound is S3's part limit (the protocol with the most parts); tus lists
// at most 64. Parts block bytes: count + entries + CRC.
inline constexpr uint32_t kMaxFinalParts = 10000;
inline constexpr size_t kPartEntryBytes = kIdChars + 8;
inline constexpr size_t kMaxPartsBytes = 4 + kMaxFinalParts * kPartEntryBytes + 4;
constexpr size_t parts_block_bytes(uint32_t count) { return 4 + count * kPartEntryBytes + 4; }

// The protocol an upload was created with (v2 byte 6). v1 records read as kTus.
enum class Protocol : uint8_t {
  kUnknown = 0,   // not recorded
  kTus = 1,       // tus 1.0.0
  kFilepond = 2,  // FilePond's chunked upload protocol
  kIetf = 3,      // IETF resumable uploads draft
  kS3 = 4,        // S3 multipart-style
  kGcs = 5,       // GCS resumable uploads
  kPut = 6,       // plain streaming PUT
};
inline constexpr Protocol kHighestProtocol = Protocol::kPut;
const char* protocol_name(Protocol protocol);  // "unknown", "tus", ...; "?" past the highest

enum class RecordError : uint8_t {
  kOk,
  kTooShort,  // fewer bytes than slots + fixed header
  kBadHeaderMagic,
  kUnknownHeaderVersion,  // header version neither 1 nor 2
  kHeaderChecksum,        // header or metadata bytes changed
  kMetadataLength,        // metadata length runs past the end of the file or over the limit
  kIdMismatch,            // header id differs from the file name
  kNoValidSlot,           // neither commit slot checks out
  kOffsetBeyondLength,    // the newest slot claims more bytes than the upload has
  kLengthMismatch,        // the newest slot and a known header length disagree
  // New in version 2, checked only once the header's CRC is right (the first two concern v2
  // fields; the last three apply to v1 headers too):
  kUnknownProtocol,       // protocol byte above kHighestProtocol
  kHeaderFlags,           // a reserved header flag bit is set
  kDeferredLength,        // the length-deferred flag and the declared length (all ones)
                          // disagree; for v1, which has no flag, a length of all ones
  kMetadataFormat,        // metadata not well-formed for its version: see MetadataReader
  kMetadataDuplicateKey,  // a metadata key appears twice
  // New in version 3 (concatenation), checked only once the header's CRC is right:
  kConcatFlags,     // both partial and final, or a final whose length is deferred
  kPartsLength,     // a final's parts block: count 0 or above kMaxFinalParts, or past the end
  kPartsChecksum,   // the parts block's bytes changed
  kPartsFormat,     // a part id not an upload id or the record's own; the lengths do not add
                    // up to the declared length
  kFinalIncomplete, // a final's state is not complete (a final is created complete)
};

// A distinct, stable name for every error: these are written into quarantine `.reason` files.
const char* record_error_name(RecordError error);

// ---------------------------------------------------------------------------------------------
// Commit slots

struct CommitSlot {
  uint64_t sequence = 0;
  uint64_t committed_offset = 0;
  uint64_t upload_length = 0;  // kUnknownLength while deferred
  uint32_t flags = 0;
  uint64_t updated_unix_ms = 0;
  uint64_t expires_unix_ms = 0;  // 0: never expires (always 0 for a v1 slot)
  uint32_t content_crc32c = 0;   // with kFlagContentCrc: CRC-32C of [0, committed_offset)
};

// The rules a slot must follow on its own: sequence >= 1, no flag outside kKnownSlotFlags,
// kFlagComplete set exactly when upload_length is known and committed_offset equals it,
// content_crc32c zero unless kFlagContentCrc is set.
bool slot_is_consistent(const CommitSlot& slot);

// Writes `slot` as a v3 slot into `out` (kSlotBytes). The slot must be consistent (checked:
// a slot that decode_slot() would refuse is never written).
void encode_slot(const CommitSlot& slot, uint8_t* out);

// Returns true and fills *slot when the kSlotBytes at `bytes` are a valid v1, v2 or v3 slot (see
// the top of this file); leaves *slot alone otherwise. A v1 slot's flags are read as
// v2 flags: kFlagComplete recomputed by the v2 rule (what every v1 writer wrote), other bits,
// which v1 never defined, dropped; so every slot returned is consistent. Allocation-free.
bool decode_slot(const uint8_t* bytes, CommitSlot* slot);

// Byte offset of the slot a commit with this sequence number goes to.
inline uint64_t slot_file_offset(uint64_t sequence) { return (sequence & 1) * kSlotBytes; }

// ---------------------------------------------------------------------------------------------
// Metadata

// Builds a v2 metadata block. For creation only (it allocates).
class MetadataBlockWriter {
 public:
  // Appends a pair. Refuses (returns false, block unchanged) an empty key, a key over
  // kMaxMetadataKeyBytes, a key already added, a pair past kMaxMetadataPairs, or a pair that
  // would make the block larger than kMaxMetadataBytes. Values are arbitrary bytes.
  bool add(std::string_view key, std::string_view value);

  // The block so far: empty while no pair was added. Valid until the next add().
  std::span<const uint8_t> block() const { return block_; }
  uint32_t pairs() const { return pairs_; }

 private:
  std::vector<uint8_t> block_;
  uint32_t pairs_ = 0;
};

// Walks the metadata of either version pair by pair, yielding decoded keys and values; never
// allocates. v2 pairs point into the metadata bytes. v1 values (tus base64) are decoded into
// the caller's scratch, overwriting the previous value: metadata_scratch_bytes() of the
// metadata size always suffices, and v2 needs none.
//
// It checks the structure as it goes (v2: count, lengths, nothing past the last pair; v1: the
// tus Upload-Metadata grammar, see docs/storage-format.md) and reports kMalformed at the first
// problem; pairs before it are yielded. It does not look for duplicate keys: decode_header()
// (through check_metadata()) refuses a record with any, so metadata from an accepted header
// never gives kMalformed.
class MetadataReader {
 public:
  enum class Result : uint8_t {
    kPair,             // *key and *value hold the next pair
    kEnd,              // no more pairs; every later call says so too
    kMalformed,        // not well-formed from here on; every later call says so too
    kScratchTooSmall,  // v1: the next value decodes to more than the scratch holds; nothing
                       // consumed (a reader with a larger scratch gets this same pair)
  };

  // `version` is the header's (1 or 2; anything else is malformed). The bytes and the scratch
  // must outlive the reader and the views it yields.
  MetadataReader(uint16_t version, std::span<const uint8_t> metadata,
                 std::span<uint8_t> scratch = {})
      : version_(version), metadata_(metadata), scratch_(scratch) {}

  Result next(std::string_view* key, std::string_view* value);
  // Like next(), but yields only the key and leaves the value undecoded (no scratch needed);
  // the value's structure is still checked.
  Result next_key(std::string_view* key);

 private:
  // Finds the pair at pos_ without consuming it: its key, its stored value (v1: base64 text),
  // and where the pair after it starts.
  Result peek(std::string_view* key, std::string_view* stored_value, size_t* next_pos);
  Result peek_v1(std::string_view* key, std::string_view* stored_value, size_t* next_pos);
  Result peek_v2(std::string_view* key, std::string_view* stored_value, size_t* next_pos);

  uint16_t version_;
  std::span<const uint8_t> metadata_;
  std::span<uint8_t> scratch_;
  size_t pos_ = 0;               // start of the next pair; past the end once the last was read
  uint32_t pairs_ = 0;           // pairs yielded so far
  uint32_t declared_pairs_ = 0;  // v2: the block's count
  bool started_ = false;
  bool ended_ = false;
  bool malformed_ = false;
};

// Scratch that a MetadataReader needs for any v1 value of metadata this long.
constexpr size_t metadata_scratch_bytes(size_t metadata_bytes) { return metadata_bytes / 4 * 3; }

// Everything decode_header() requires of the metadata: kOk, kMetadataFormat (where a
// MetadataReader says kMalformed) or kMetadataDuplicateKey. Allocation-free.
RecordError check_metadata(uint16_t version, std::span<const uint8_t> metadata);

// ---------------------------------------------------------------------------------------------
// Records

// One part of a final upload, in order: the partial upload's id and its length.
struct PartEntry {
  std::string_view id;  // kIdChars
  uint64_t length = 0;
};

struct NewRecord {
  std::string_view id;  // kIdChars
  uint64_t created_unix_ms = 0;
  uint64_t declared_length = kUnknownLength;  // kUnknownLength: deferred
  Protocol protocol = Protocol::kUnknown;
  std::span<const uint8_t> metadata_block;  // a v2 block (MetadataBlockWriter), may be empty
};

// What a new record is to concatenation (header v3); the default is neither.
struct NewRecordConcat {
  bool partial = false;              // a partial upload
  std::span<const PartEntry> parts;  // not empty: a final upload of these, in order
};

// The whole initial record (both slots and the header) for a new upload: header version 2, or
// 3 for a partial or a final. `first` goes where slot_file_offset(first.sequence) says
// (sequence 1: slot B); the other slot stays zero.
// Checked: the result decodes (a record that decode_record() would refuse is never written).
// For creation only (it allocates).
std::vector<uint8_t> encode_new_record(const NewRecord& record, const CommitSlot& first,
                                       const NewRecordConcat& concat = {});

// A decoded header. Views point into the caller's bytes.
struct RecordHeaderView {
  uint16_t version = 0;                    // 1, 2 or 3: tells MetadataReader how to read
  Protocol protocol = Protocol::kUnknown;  // kTus for v1
  bool length_deferred = false;            // always false for v1
  std::string_view id;
  uint64_t created_unix_ms = 0;
  uint64_t declared_length = 0;  // kUnknownLength exactly when length_deferred
  std::span<const uint8_t> metadata;
  bool partial = false;  // v3 header flag
  bool final = false;    // v3 header flag: parts follow
  // A final's part entries (part_count x kPartEntryBytes; read them with part_at()). Filled by
  // decode_record() once the parts block checks out; decode_header() leaves them empty.
  uint32_t part_count = 0;
  std::span<const uint8_t> parts;
};

// Part `index` (< header.part_count) of a final whose parts decode_record() accepted.
PartEntry part_at(const RecordHeaderView& header, uint32_t index);

struct HeaderDecode {
  RecordError error = RecordError::kOk;
  RecordHeaderView header;  // filled once the checksum is right (so also for later errors)
  size_t total_bytes = 0;   // fixed header + metadata, once the metadata length is known (a
                            // final's parts block, which follows, is not counted)
};

// Decodes a header that starts at `header_bytes` (file offset kHeaderOffset); `size` may be
// larger than the header. Checks, in this order: kTooShort (fewer than kHeaderFixedBytes),
// kBadHeaderMagic, kUnknownHeaderVersion, kMetadataLength, kHeaderChecksum, then for v2 and v3
// kUnknownProtocol and kHeaderFlags, for v3 kConcatFlags, then kDeferredLength, then the
// metadata (check_metadata()). A final's parts block is not read (decode_record() checks it):
// the header and metadata alone are enough for this. Allocation-free.
HeaderDecode decode_header(const uint8_t* header_bytes, size_t size);

enum class SlotPosition : uint8_t { kA = 0, kB = 1 };  // file offsets 0 and kSlotBytes

// What the slot that was not used holds.
enum class SlotStatus : uint8_t {
  kEmpty,       // all zero bytes: never written (a record with a single commit so far)
  kValidOlder,  // a valid slot whose sequence is not above the used one's
  kCorrupt,     // not all zero and not valid (magic, version, CRC or the slot rules)
};

struct DecodedRecord {
  RecordError error = RecordError::kOk;
  RecordHeaderView header;  // as HeaderDecode::header
  // The newest valid slot, where it is, and what the other slot holds. Meaningful when error
  // is kOk, kOffsetBeyondLength or kLengthMismatch.
  CommitSlot state;
  SlotPosition used_slot = SlotPosition::kA;
  SlotStatus other_slot = SlotStatus::kEmpty;
  // The other slot is corrupt and was, as far as its bytes can tell, written after the used
  // one: the state fell back to the previous commit ("newest commit slot corrupt, fell back to
  // the older one"). True when the used slot's sequence is 1 (no commit is older, so anything
  // non-zero in the other slot came later) or the corrupt slot's sequence field, read without
  // the CRC's protection, is above the used one's. A diagnosis for the log only.
  bool newest_slot_corrupt = false;
};

// Decodes a whole record file: decode_header() on the bytes from kHeaderOffset (kTooShort when
// the file is shorter than kHeaderOffset + kHeaderFixedBytes), then for a final its parts block
// (kPartsLength, kPartsChecksum, kPartsFormat), then kIdMismatch when `expected_id` (may be
// empty: not checked) differs from the header id, then the slots: kNoValidSlot, and the state
// against the header length (kLengthMismatch, kOffsetBeyondLength; kFinalIncomplete for a
// final). Allocation-free; the views in the result point into `bytes`.
DecodedRecord decode_record(const uint8_t* bytes, size_t size, std::string_view expected_id);

}  // namespace ringest::storage
