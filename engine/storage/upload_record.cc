#include "engine/storage/upload_record.h"

#include <cstring>

#include "engine/base/base64.h"
#include "engine/base/check.h"
#include "engine/base/crc32c.h"
#include "engine/storage/upload_id.h"

namespace ringest::storage {
namespace {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the record format is little-endian");
static_assert(kIdChars == kUploadIdChars);

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint16_t get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
uint32_t get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
uint64_t get64(const uint8_t* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) return false;
  }
  return true;
}

// Slot field offsets.
constexpr size_t kSlotVersionAt = 4;
constexpr size_t kSlotReserved16At = 6;
constexpr size_t kSlotSequenceAt = 8;
constexpr size_t kSlotReserved32At = 36;
constexpr size_t kSlotContentCrcAt = 56;
constexpr size_t kSlotZeroFromV2 = 56;  // v2: bytes [56, 508) are zero
constexpr size_t kSlotZeroFrom = 60;    // v3: bytes [60, 508) are zero
constexpr size_t kSlotCrcAt = 508;

// Header field offsets.
constexpr size_t kHeaderProtocolAt = 6;
constexpr size_t kHeaderFlagsAt = 7;
constexpr size_t kHeaderMetadataBytesAt = 56;
constexpr size_t kHeaderCrcAt = 60;

uint32_t header_crc(const uint8_t* header, size_t metadata_bytes) {
  uint8_t fixed[kHeaderFixedBytes];
  std::memcpy(fixed, header, kHeaderFixedBytes);
  put32(fixed + kHeaderCrcAt, 0);
  uint32_t crc = crc32c(fixed, kHeaderFixedBytes);
  return crc32c(header + kHeaderFixedBytes, metadata_bytes, crc);
}

// A final's parts block, at `h + at` (just after the metadata): its extent, its CRC (seeded with
// the header's), then the entries. Fills the header's part fields when it checks out.
RecordError decode_parts(const uint8_t* h, size_t size, size_t at, RecordHeaderView* header) {
  if (size - at < 4) return RecordError::kPartsLength;
  uint32_t count = get32(h + at);
  if (count == 0 || count > kMaxFinalParts || size - at < parts_block_bytes(count)) {
    return RecordError::kPartsLength;
  }
  size_t sealed = parts_block_bytes(count) - 4;
  if (get32(h + at + sealed) != crc32c(h + at, sealed, get32(h + kHeaderCrcAt))) {
    return RecordError::kPartsChecksum;
  }
  const uint8_t* entries = h + at + 4;
  uint64_t sum = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint8_t* entry = entries + i * kPartEntryBytes;
    std::string_view id(reinterpret_cast<const char*>(entry), kIdChars);
    uint64_t length = get64(entry + kIdChars);
    if (!is_valid_upload_id(id) || id == header->id) return RecordError::kPartsFormat;
    if (length > kUnknownLength - 1 - sum) return RecordError::kPartsFormat;  // overflow
    sum += length;
  }
  if (sum != header->declared_length) return RecordError::kPartsFormat;
  header->part_count = count;
  header->parts = std::span<const uint8_t>(entries, count * kPartEntryBytes);
  return RecordError::kOk;
}

uint32_t complete_flag_for(uint64_t committed_offset, uint64_t upload_length) {
  return upload_length != kUnknownLength && committed_offset == upload_length ? kFlagComplete : 0;
}

std::string_view as_chars(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// v1 metadata is a tus Upload-Metadata value; its grammar is tus::valid_metadata()'s, restated
// here because storage does not depend on the HTTP layer.
std::string_view trim_v1(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// One comma-separated piece: `key`, `key SP` or `key SP base64`, with optional SP/HTAB around
// the piece and before the value.
bool parse_v1_piece(std::string_view piece, std::string_view* key, std::string_view* encoded) {
  std::string_view pair = trim_v1(piece);
  if (pair.empty()) return false;
  size_t space = pair.find(' ');
  *key = pair.substr(0, space);
  *encoded = space == std::string_view::npos ? std::string_view{} : trim_v1(pair.substr(space + 1));
  if (key->empty()) return false;
  for (char c : *key) {
    auto byte = static_cast<uint8_t>(c);
    if (byte <= 0x20 || byte >= 0x7f || c == ',') return false;
  }
  // A final character with non-zero unused bits was accepted by tus (the bits are dropped).
  return base64_check(*encoded) != Base64Result::kMalformed;
}

}  // namespace

// One line per name: these read as the tables they are.
// clang-format off
const char* protocol_name(Protocol protocol) {
  switch (protocol) {
    case Protocol::kUnknown: return "unknown";
    case Protocol::kTus: return "tus";
    case Protocol::kFilepond: return "filepond";
    case Protocol::kIetf: return "ietf";
    case Protocol::kS3: return "s3";
    case Protocol::kGcs: return "gcs";
    case Protocol::kPut: return "put";
  }
  return "?";
}

const char* record_error_name(RecordError error) {
  switch (error) {
    case RecordError::kOk: return "ok";
    case RecordError::kTooShort: return "too-short";
    case RecordError::kBadHeaderMagic: return "bad-header-magic";
    case RecordError::kUnknownHeaderVersion: return "unknown-header-version";
    case RecordError::kHeaderChecksum: return "header-checksum";
    case RecordError::kMetadataLength: return "metadata-length";
    case RecordError::kIdMismatch: return "id-mismatch";
    case RecordError::kNoValidSlot: return "no-valid-slot";
    case RecordError::kOffsetBeyondLength: return "offset-beyond-length";
    case RecordError::kLengthMismatch: return "length-mismatch";
    case RecordError::kUnknownProtocol: return "unknown-protocol";
    case RecordError::kHeaderFlags: return "header-flags";
    case RecordError::kDeferredLength: return "deferred-length";
    case RecordError::kMetadataFormat: return "metadata-format";
    case RecordError::kMetadataDuplicateKey: return "metadata-duplicate-key";
    case RecordError::kConcatFlags: return "concat-flags";
    case RecordError::kPartsLength: return "parts-length";
    case RecordError::kPartsChecksum: return "parts-checksum";
    case RecordError::kPartsFormat: return "parts-format";
    case RecordError::kFinalIncomplete: return "final-incomplete";
  }
  return "?";
}
// clang-format on

// ---------------------------------------------------------------------------------------------
// Slots

bool slot_is_consistent(const CommitSlot& slot) {
  return slot.sequence >= 1 && (slot.flags & ~kKnownSlotFlags) == 0 &&
         (slot.flags & kFlagComplete) ==
             complete_flag_for(slot.committed_offset, slot.upload_length) &&
         ((slot.flags & kFlagContentCrc) != 0 || slot.content_crc32c == 0);
}

void encode_slot(const CommitSlot& slot, uint8_t* out) {
  RINGEST_CHECK(slot_is_consistent(slot));
  std::memset(out, 0, kSlotBytes);
  put32(out + 0, kSlotMagic);
  put16(out + kSlotVersionAt, kSlotVersion);
  put64(out + kSlotSequenceAt, slot.sequence);
  put64(out + 16, slot.committed_offset);
  put64(out + 24, slot.upload_length);
  put32(out + 32, slot.flags);
  put64(out + 40, slot.updated_unix_ms);
  put64(out + 48, slot.expires_unix_ms);
  put32(out + kSlotContentCrcAt, slot.content_crc32c);
  put32(out + kSlotCrcAt, crc32c(out, kSlotCrcAt));
}

bool decode_slot(const uint8_t* bytes, CommitSlot* slot) {
  if (get32(bytes) != kSlotMagic) return false;
  uint16_t version = get16(bytes + kSlotVersionAt);
  if (version != kFormatVersionV1 && version != kSlotVersionV2 && version != kSlotVersion) {
    return false;
  }
  if (get32(bytes + kSlotCrcAt) != crc32c(bytes, kSlotCrcAt)) return false;
  CommitSlot s;
  s.sequence = get64(bytes + kSlotSequenceAt);
  s.committed_offset = get64(bytes + 16);
  s.upload_length = get64(bytes + 24);
  s.flags = get32(bytes + 32);
  s.updated_unix_ms = get64(bytes + 40);
  if (version == kFormatVersionV1) {
    // v1 had no expiry and defined only the complete bit; as today, its other fields are not
    // checked. The flags are restated by the v2 rule, which is what every v1 writer wrote.
    s.expires_unix_ms = 0;
    s.flags = complete_flag_for(s.committed_offset, s.upload_length);
    if (s.sequence < 1) return false;
  } else {
    s.expires_unix_ms = get64(bytes + 48);
    size_t zero_from = version == kSlotVersionV2 ? kSlotZeroFromV2 : kSlotZeroFrom;
    if (get16(bytes + kSlotReserved16At) != 0 || get32(bytes + kSlotReserved32At) != 0 ||
        !all_zero(bytes + zero_from, kSlotCrcAt - zero_from)) {
      return false;
    }
    if (version == kSlotVersionV2 && (s.flags & kFlagContentCrc) != 0) return false;
    if (version == kSlotVersion) s.content_crc32c = get32(bytes + kSlotContentCrcAt);
    if (!slot_is_consistent(s)) return false;
  }
  *slot = s;
  return true;
}

// ---------------------------------------------------------------------------------------------
// Metadata

bool MetadataBlockWriter::add(std::string_view key, std::string_view value) {
  if (key.empty() || key.size() > kMaxMetadataKeyBytes) return false;
  if (pairs_ == kMaxMetadataPairs) return false;
  size_t current = block_.empty() ? 4 : block_.size();
  if (value.size() > kMaxMetadataBytes ||
      current + 2 + key.size() + 4 + value.size() > kMaxMetadataBytes) {
    return false;
  }
  MetadataReader existing(kHeaderVersionV2, block_);
  std::string_view seen;
  while (existing.next_key(&seen) == MetadataReader::Result::kPair) {
    if (seen == key) return false;
  }
  if (block_.empty()) block_.resize(4, 0);
  size_t at = block_.size();
  block_.resize(at + 2 + key.size() + 4 + value.size());
  uint8_t* p = block_.data() + at;
  put16(p, static_cast<uint16_t>(key.size()));
  std::memcpy(p + 2, key.data(), key.size());
  put32(p + 2 + key.size(), static_cast<uint32_t>(value.size()));
  if (!value.empty()) std::memcpy(p + 2 + key.size() + 4, value.data(), value.size());
  ++pairs_;
  put32(block_.data(), pairs_);
  return true;
}

MetadataReader::Result MetadataReader::peek_v2(std::string_view* key,
                                               std::string_view* stored_value, size_t* next_pos) {
  const size_t size = metadata_.size();
  const uint8_t* base = metadata_.data();
  if (!started_) {
    started_ = true;
    if (size == 0) return Result::kEnd;
    if (size < 4) return Result::kMalformed;
    declared_pairs_ = get32(base);
    if (declared_pairs_ > kMaxMetadataPairs) return Result::kMalformed;
    pos_ = 4;
  }
  if (pairs_ == declared_pairs_) return pos_ == size ? Result::kEnd : Result::kMalformed;
  size_t pos = pos_;
  if (size - pos < 2) return Result::kMalformed;
  size_t key_bytes = get16(base + pos);
  pos += 2;
  if (key_bytes == 0 || key_bytes > kMaxMetadataKeyBytes || size - pos < key_bytes) {
    return Result::kMalformed;
  }
  *key = std::string_view(reinterpret_cast<const char*>(base + pos), key_bytes);
  pos += key_bytes;
  if (size - pos < 4) return Result::kMalformed;
  size_t value_bytes = get32(base + pos);
  pos += 4;
  if (size - pos < value_bytes) return Result::kMalformed;
  *stored_value = std::string_view(reinterpret_cast<const char*>(base + pos), value_bytes);
  *next_pos = pos + value_bytes;
  return Result::kPair;
}

MetadataReader::Result MetadataReader::peek_v1(std::string_view* key,
                                               std::string_view* stored_value, size_t* next_pos) {
  std::string_view text = as_chars(metadata_);
  if (!started_) {
    started_ = true;
    if (trim_v1(text).empty()) return Result::kEnd;
  }
  if (pos_ > text.size()) return Result::kEnd;  // the last pair had no comma after it
  if (pairs_ == kMaxMetadataPairsV1) return Result::kMalformed;
  std::string_view rest = text.substr(pos_);
  size_t comma = rest.find(',');
  if (!parse_v1_piece(rest.substr(0, comma), key, stored_value)) return Result::kMalformed;
  *next_pos = comma == std::string_view::npos ? text.size() + 1 : pos_ + comma + 1;
  return Result::kPair;
}

MetadataReader::Result MetadataReader::peek(std::string_view* key, std::string_view* stored_value,
                                            size_t* next_pos) {
  if (malformed_) return Result::kMalformed;
  if (ended_) return Result::kEnd;
  Result r = Result::kMalformed;
  if (version_ == kHeaderVersionV2 || version_ == kHeaderVersionV3) {  // the same block
    r = peek_v2(key, stored_value, next_pos);
  } else if (version_ == kFormatVersionV1) {
    r = peek_v1(key, stored_value, next_pos);
  }
  malformed_ = r == Result::kMalformed;
  ended_ = r == Result::kEnd;
  return r;
}

MetadataReader::Result MetadataReader::next(std::string_view* key, std::string_view* value) {
  std::string_view k;
  std::string_view stored;
  size_t next_pos = 0;
  Result r = peek(&k, &stored, &next_pos);
  if (r != Result::kPair) return r;
  if (version_ == kFormatVersionV1) {
    size_t decoded = 0;
    Base64Result d = base64_decode(stored, scratch_.data(), scratch_.size(), &decoded);
    if (d == Base64Result::kBufferTooSmall) return Result::kScratchTooSmall;
    // peek() let only kOk and kNotCanonical through.
    stored = std::string_view(decoded > 0 ? reinterpret_cast<const char*>(scratch_.data()) : "",
                              decoded);
  }
  pos_ = next_pos;
  ++pairs_;
  *key = k;
  *value = stored;
  return Result::kPair;
}

MetadataReader::Result MetadataReader::next_key(std::string_view* key) {
  std::string_view k;
  std::string_view stored;
  size_t next_pos = 0;
  Result r = peek(&k, &stored, &next_pos);
  if (r != Result::kPair) return r;
  pos_ = next_pos;
  ++pairs_;
  *key = k;
  return Result::kPair;
}

RecordError check_metadata(uint16_t version, std::span<const uint8_t> metadata) {
  MetadataReader reader(version, metadata);
  std::string_view key;
  for (uint32_t index = 0;; ++index) {
    MetadataReader::Result r = reader.next_key(&key);
    if (r == MetadataReader::Result::kEnd) return RecordError::kOk;
    if (r != MetadataReader::Result::kPair) return RecordError::kMetadataFormat;
    // Compare with every earlier key, walking the pairs again rather than keeping a table:
    // no memory, and the pair limits bound the work.
    MetadataReader earlier(version, metadata);
    std::string_view earlier_key;
    for (uint32_t i = 0; i < index; ++i) {
      earlier.next_key(&earlier_key);
      if (earlier_key == key) return RecordError::kMetadataDuplicateKey;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Records

std::vector<uint8_t> encode_new_record(const NewRecord& record, const CommitSlot& first,
                                       const NewRecordConcat& concat) {
  RINGEST_CHECK(record.id.size() == kIdChars);
  RINGEST_CHECK(record.metadata_block.size() <= kMaxMetadataBytes);
  RINGEST_CHECK(record.protocol <= kHighestProtocol);
  RINGEST_CHECK(concat.parts.size() <= kMaxFinalParts);
  const bool final = !concat.parts.empty();
  RINGEST_CHECK(!(final && concat.partial));
  size_t metadata_bytes = record.metadata_block.size();
  auto part_count = static_cast<uint32_t>(concat.parts.size());
  size_t parts_bytes = final ? parts_block_bytes(part_count) : 0;
  std::vector<uint8_t> out(kHeaderOffset + kHeaderFixedBytes + metadata_bytes + parts_bytes, 0);
  encode_slot(first, out.data() + slot_file_offset(first.sequence));
  uint8_t* h = out.data() + kHeaderOffset;
  put32(h + 0, kHeaderMagic);
  // Version 2 unless the record needs version 3's flags, so that a server that knows only
  // version 2 still reads every record that is not part of a concatenation.
  put16(h + 4, final || concat.partial ? kHeaderVersionV3 : kHeaderVersionV2);
  h[kHeaderProtocolAt] = static_cast<uint8_t>(record.protocol);
  h[kHeaderFlagsAt] =
      static_cast<uint8_t>((record.declared_length == kUnknownLength ? kHeaderFlagLengthDeferred
                                                                      : 0) |
                           (concat.partial ? kHeaderFlagPartial : 0) |
                           (final ? kHeaderFlagFinal : 0));
  std::memcpy(h + 8, record.id.data(), kIdChars);
  put64(h + 40, record.created_unix_ms);
  put64(h + 48, record.declared_length);
  put32(h + kHeaderMetadataBytesAt, static_cast<uint32_t>(metadata_bytes));
  if (metadata_bytes > 0) {
    std::memcpy(h + kHeaderFixedBytes, record.metadata_block.data(), metadata_bytes);
  }
  uint32_t crc = header_crc(h, metadata_bytes);
  put32(h + kHeaderCrcAt, crc);
  if (final) {
    uint8_t* p = h + kHeaderFixedBytes + metadata_bytes;
    put32(p, part_count);
    for (uint32_t i = 0; i < part_count; ++i) {
      RINGEST_CHECK(concat.parts[i].id.size() == kIdChars);
      uint8_t* entry = p + 4 + i * kPartEntryBytes;
      std::memcpy(entry, concat.parts[i].id.data(), kIdChars);
      put64(entry + kIdChars, concat.parts[i].length);
    }
    size_t sealed = parts_bytes - 4;
    put32(p + sealed, crc32c(p, sealed, crc));
  }
  // Read back what is about to be written: the metadata block and the first slot must be
  // acceptable to the decoder, or this is a bug in the caller.
  RINGEST_CHECK(decode_record(out.data(), out.size(), record.id).error == RecordError::kOk);
  return out;
}

HeaderDecode decode_header(const uint8_t* h, size_t size) {
  HeaderDecode out;
  auto fail = [&out](RecordError e) {
    out.error = e;
    return out;
  };
  if (size < kHeaderFixedBytes) return fail(RecordError::kTooShort);
  if (get32(h) != kHeaderMagic) return fail(RecordError::kBadHeaderMagic);
  uint16_t version = get16(h + 4);
  if (version != kFormatVersionV1 && version != kHeaderVersionV2 && version != kHeaderVersionV3) {
    return fail(RecordError::kUnknownHeaderVersion);
  }
  uint32_t metadata_bytes = get32(h + kHeaderMetadataBytesAt);
  if (metadata_bytes > kMaxMetadataBytes || metadata_bytes > size - kHeaderFixedBytes) {
    return fail(RecordError::kMetadataLength);
  }
  out.total_bytes = kHeaderFixedBytes + metadata_bytes;
  if (get32(h + kHeaderCrcAt) != header_crc(h, metadata_bytes)) {
    return fail(RecordError::kHeaderChecksum);
  }
  RecordHeaderView& v = out.header;
  v.version = version;
  v.id = std::string_view(reinterpret_cast<const char*>(h + 8), kIdChars);
  v.created_unix_ms = get64(h + 40);
  v.declared_length = get64(h + 48);
  v.metadata = std::span<const uint8_t>(h + kHeaderFixedBytes, metadata_bytes);
  if (version == kFormatVersionV1) {
    v.protocol = Protocol::kTus;
    v.length_deferred = false;
  } else {
    uint8_t protocol = h[kHeaderProtocolAt];
    uint8_t flags = h[kHeaderFlagsAt];
    v.protocol = static_cast<Protocol>(protocol);
    v.length_deferred = (flags & kHeaderFlagLengthDeferred) != 0;
    v.partial = (flags & kHeaderFlagPartial) != 0;  // (a v2 header with these is refused below)
    v.final = (flags & kHeaderFlagFinal) != 0;
    if (protocol > static_cast<uint8_t>(kHighestProtocol)) {
      return fail(RecordError::kUnknownProtocol);
    }
    uint8_t known = version == kHeaderVersionV3 ? kKnownHeaderFlagsV3 : kKnownHeaderFlags;
    if ((flags & ~known) != 0) return fail(RecordError::kHeaderFlags);
    if ((v.partial && v.final) || (v.final && v.length_deferred)) {
      return fail(RecordError::kConcatFlags);
    }
  }
  if (v.length_deferred != (v.declared_length == kUnknownLength)) {
    return fail(RecordError::kDeferredLength);
  }
  out.error = check_metadata(version, v.metadata);
  return out;
}

DecodedRecord decode_record(const uint8_t* bytes, size_t size, std::string_view expected_id) {
  DecodedRecord out;
  auto fail = [&out](RecordError e) {
    out.error = e;
    return out;
  };
  if (size < kHeaderOffset + kHeaderFixedBytes) return fail(RecordError::kTooShort);
  HeaderDecode header = decode_header(bytes + kHeaderOffset, size - kHeaderOffset);
  out.header = header.header;
  if (header.error != RecordError::kOk) return fail(header.error);
  if (out.header.final) {
    RecordError parts = decode_parts(bytes + kHeaderOffset, size - kHeaderOffset,
                                     header.total_bytes, &out.header);
    if (parts != RecordError::kOk) return fail(parts);
  }
  if (!expected_id.empty() && out.header.id != expected_id) {
    return fail(RecordError::kIdMismatch);
  }

  const uint8_t* at[2] = {bytes, bytes + kSlotBytes};
  CommitSlot slot[2];
  bool valid[2] = {decode_slot(at[0], &slot[0]), decode_slot(at[1], &slot[1])};
  if (!valid[0] && !valid[1]) return fail(RecordError::kNoValidSlot);
  // The higher sequence wins; a tie (which no writer produces) goes to slot A.
  int used = valid[0] && (!valid[1] || slot[0].sequence >= slot[1].sequence) ? 0 : 1;
  int other = 1 - used;
  out.state = slot[used];
  out.used_slot = static_cast<SlotPosition>(used);
  if (valid[other]) {
    out.other_slot = SlotStatus::kValidOlder;
  } else if (all_zero(at[other], kSlotBytes)) {
    out.other_slot = SlotStatus::kEmpty;
  } else {
    out.other_slot = SlotStatus::kCorrupt;
    out.newest_slot_corrupt =
        out.state.sequence == 1 || get64(at[other] + kSlotSequenceAt) > out.state.sequence;
  }

  const CommitSlot& s = out.state;
  if (!out.header.length_deferred && s.upload_length != out.header.declared_length) {
    return fail(RecordError::kLengthMismatch);
  }
  if (s.upload_length != kUnknownLength && s.committed_offset > s.upload_length) {
    return fail(RecordError::kOffsetBeyondLength);
  }
  if (out.header.final && s.committed_offset != s.upload_length) {
    return fail(RecordError::kFinalIncomplete);
  }
  return out;
}

PartEntry part_at(const RecordHeaderView& header, uint32_t index) {
  RINGEST_CHECK(index < header.part_count);
  const uint8_t* entry = header.parts.data() + index * kPartEntryBytes;
  return {std::string_view(reinterpret_cast<const char*>(entry), kIdChars),
          get64(entry + kIdChars)};
}

}  // namespace ringest::storage
