#include "engine/storage/upload_record.h"

#include <cstring>

#include "engine/base/check.h"
#include "engine/base/crc32c.h"

namespace ringest::storage {
namespace {

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
void put64(uint8_t* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint16_t get16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
uint32_t get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }
uint64_t get64(const uint8_t* p) { uint64_t v; std::memcpy(&v, p, 8); return v; }

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the record format is little-endian");

uint32_t header_crc(const uint8_t* header, size_t total) {
  uint8_t fixed[kHeaderFixedBytes];
  std::memcpy(fixed, header, kHeaderFixedBytes);
  put32(fixed + 60, 0);
  uint32_t crc = crc32c(fixed, kHeaderFixedBytes);
  return crc32c(header + kHeaderFixedBytes, total - kHeaderFixedBytes, crc);
}

}  // namespace

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
  }
  return "?";
}

void encode_slot(const CommitSlot& slot, uint8_t* out) {
  std::memset(out, 0, kSlotBytes);
  put32(out + 0, kSlotMagic);
  put16(out + 4, kVersion);
  put64(out + 8, slot.sequence);
  put64(out + 16, slot.committed_offset);
  put64(out + 24, slot.upload_length);
  put32(out + 32, slot.flags);
  put64(out + 40, slot.updated_unix_ms);
  put32(out + 508, crc32c(out, 508));
}

bool decode_slot(const uint8_t* bytes, CommitSlot* slot) {
  if (get32(bytes) != kSlotMagic) return false;
  if (get16(bytes + 4) != kVersion) return false;
  if (get32(bytes + 508) != crc32c(bytes, 508)) return false;
  slot->sequence = get64(bytes + 8);
  slot->committed_offset = get64(bytes + 16);
  slot->upload_length = get64(bytes + 24);
  slot->flags = get32(bytes + 32);
  slot->updated_unix_ms = get64(bytes + 40);
  return slot->sequence >= 1;
}

std::vector<uint8_t> encode_new_record(const RecordHeader& header, const CommitSlot& first) {
  RINGEST_CHECK(header.id.size() == kIdChars);
  RINGEST_CHECK(header.metadata.size() <= kMaxMetadataBytes);
  size_t total = kHeaderOffset + kHeaderFixedBytes + header.metadata.size();
  std::vector<uint8_t> out(total, 0);
  encode_slot(first, out.data() + slot_file_offset(first.sequence));
  uint8_t* h = out.data() + kHeaderOffset;
  put32(h + 0, kHeaderMagic);
  put16(h + 4, kVersion);
  std::memcpy(h + 8, header.id.data(), kIdChars);
  put64(h + 40, header.created_unix_ms);
  put64(h + 48, header.upload_length);
  put32(h + 56, static_cast<uint32_t>(header.metadata.size()));
  std::memcpy(h + kHeaderFixedBytes, header.metadata.data(), header.metadata.size());
  put32(h + 60, header_crc(h, kHeaderFixedBytes + header.metadata.size()));
  return out;
}

DecodedRecord decode_record(const uint8_t* bytes, size_t size, std::string_view expected_id) {
  DecodedRecord out;
  if (size < kHeaderOffset + kHeaderFixedBytes) {
    out.error = RecordError::kTooShort;
    return out;
  }
  const uint8_t* h = bytes + kHeaderOffset;
  if (get32(h) != kHeaderMagic) {
    out.error = RecordError::kBadHeaderMagic;
    return out;
  }
  if (get16(h + 4) != kVersion) {
    out.error = RecordError::kUnknownHeaderVersion;
    return out;
  }
  uint32_t metadata_bytes = get32(h + 56);
  if (metadata_bytes > kMaxMetadataBytes ||
      kHeaderOffset + kHeaderFixedBytes + metadata_bytes > size) {
    out.error = RecordError::kMetadataLength;
    return out;
  }
  if (get32(h + 60) != header_crc(h, kHeaderFixedBytes + metadata_bytes)) {
    out.error = RecordError::kHeaderChecksum;
    return out;
  }
  out.header.id.assign(reinterpret_cast<const char*>(h + 8), kIdChars);
  out.header.created_unix_ms = get64(h + 40);
  out.header.upload_length = get64(h + 48);
  out.header.metadata.assign(reinterpret_cast<const char*>(h + kHeaderFixedBytes), metadata_bytes);
  if (!expected_id.empty() && out.header.id != expected_id) {
    out.error = RecordError::kIdMismatch;
    return out;
  }
  CommitSlot a, b;
  bool a_ok = decode_slot(bytes, &a);
  bool b_ok = decode_slot(bytes + kSlotBytes, &b);
  if (!a_ok && !b_ok) {
    out.error = RecordError::kNoValidSlot;
    return out;
  }
  if (a_ok && b_ok) {
    out.state = a.sequence >= b.sequence ? a : b;
  } else {
    out.state = a_ok ? a : b;
  }
  if (out.state.upload_length != out.header.upload_length) {
    out.error = RecordError::kLengthMismatch;
    return out;
  }
  if (out.state.committed_offset > out.state.upload_length) {
    out.error = RecordError::kOffsetBeyondLength;
    return out;
  }
  return out;
}

}  // namespace ringest::storage
