// Fuzzes the durable upload record (engine/storage/upload_record.*), the one file ringestd
// trusts at start-up. Two properties per input:
//  1. The input as the image of a `<id>.rec` file: decode_record() never crashes (ASan,
//     UBSan) and returns exactly the verdict of a reference decoder written here from
//     docs/storage-format.md with a bitwise CRC-32C: a record is accepted only when its header
//     magic, version, metadata length and checksum are right and a slot checks out, and then
//     the newest valid slot is its state. An accepted record re-encodes to one that decodes
//     the same, and is refused under any other expected id.
//  2. A record built from values taken from the input (FuzzedDataProvider), optionally with
//     an older commit in the other slot: it decodes to exactly those values; a changed byte
//     (fuzzer-chosen) in the live slot falls back to the older commit or fails, in the older
//     slot leaves the live one in charge, in the header or metadata fails; a truncated file
//     fails.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/check.h"
#include "engine/storage/upload_record.h"

namespace ringest::storage {
namespace {

uint32_t reference_crc32c(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

uint64_t le(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

bool reference_slot(const uint8_t* s, CommitSlot* out) {
  if (le(s, 4) != 0x4C534752 || le(s + 4, 2) != 1) return false;
  if (le(s + 508, 4) != reference_crc32c(s, 508)) return false;
  out->sequence = le(s + 8, 8);
  out->committed_offset = le(s + 16, 8);
  out->upload_length = le(s + 24, 8);
  out->flags = static_cast<uint32_t>(le(s + 32, 4));
  out->updated_unix_ms = le(s + 40, 8);
  return out->sequence >= 1;
}

// docs/storage-format.md, "Recovery", in the order listed there.
DecodedRecord reference_decode(const uint8_t* bytes, size_t size, std::string_view expected_id) {
  DecodedRecord out;
  auto fail = [&out](RecordError e) {
    out.error = e;
    return out;
  };
  if (size < 1024 + 64) return fail(RecordError::kTooShort);
  const uint8_t* h = bytes + 1024;
  if (le(h, 4) != 0x44484752) return fail(RecordError::kBadHeaderMagic);
  if (le(h + 4, 2) != 1) return fail(RecordError::kUnknownHeaderVersion);
  uint64_t metadata_bytes = le(h + 56, 4);
  if (metadata_bytes > (1u << 20) || 1024 + 64 + metadata_bytes > size) {
    return fail(RecordError::kMetadataLength);
  }
  uint8_t fixed[64];
  std::memcpy(fixed, h, 64);
  std::memset(fixed + 60, 0, 4);
  uint32_t crc = reference_crc32c(h + 64, metadata_bytes, reference_crc32c(fixed, 64));
  if (le(h + 60, 4) != crc) return fail(RecordError::kHeaderChecksum);
  out.header.id.assign(reinterpret_cast<const char*>(h + 8), 32);
  out.header.created_unix_ms = le(h + 40, 8);
  out.header.upload_length = le(h + 48, 8);
  out.header.metadata.assign(reinterpret_cast<const char*>(h + 64), metadata_bytes);
  if (!expected_id.empty() && out.header.id != expected_id) return fail(RecordError::kIdMismatch);
  CommitSlot a, b;
  bool a_ok = reference_slot(bytes, &a);
  bool b_ok = reference_slot(bytes + 512, &b);
  if (!a_ok && !b_ok) return fail(RecordError::kNoValidSlot);
  out.state = (a_ok && (!b_ok || a.sequence >= b.sequence)) ? a : b;
  if (out.state.upload_length != out.header.upload_length) {
    return fail(RecordError::kLengthMismatch);
  }
  if (out.state.committed_offset > out.state.upload_length) {
    return fail(RecordError::kOffsetBeyondLength);
  }
  return out;
}

bool same_slot(const CommitSlot& x, const CommitSlot& y) {
  return x.sequence == y.sequence && x.committed_offset == y.committed_offset &&
         x.upload_length == y.upload_length && x.flags == y.flags &&
         x.updated_unix_ms == y.updated_unix_ms;
}

bool same_header(const RecordHeader& x, const RecordHeader& y) {
  return x.id == y.id && x.created_unix_ms == y.created_unix_ms &&
         x.upload_length == y.upload_length && x.metadata == y.metadata;
}

void check_image(const uint8_t* data, size_t size) {
  // An exactly sized copy: ASan sees any read past the end of the file image.
  std::vector<uint8_t> image(data, data + size);
  DecodedRecord got = decode_record(image.data(), image.size(), "");
  DecodedRecord want = reference_decode(image.data(), image.size(), "");
  RINGEST_CHECK(got.error == want.error);
  if (got.error != RecordError::kOk) return;
  RINGEST_CHECK(same_header(got.header, want.header));
  RINGEST_CHECK(same_slot(got.state, want.state));

  std::string other_id = got.header.id;
  other_id[0] = other_id[0] == 'a' ? 'b' : 'a';
  RINGEST_CHECK(decode_record(image.data(), image.size(), got.header.id).error == RecordError::kOk);
  RINGEST_CHECK(decode_record(image.data(), image.size(), other_id).error ==
                RecordError::kIdMismatch);

  std::vector<uint8_t> again = encode_new_record(got.header, got.state);
  DecodedRecord redecoded = decode_record(again.data(), again.size(), got.header.id);
  RINGEST_CHECK(redecoded.error == RecordError::kOk);
  RINGEST_CHECK(same_header(redecoded.header, got.header));
  RINGEST_CHECK(same_slot(redecoded.state, got.state));
}

void check_round_trip(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  RecordHeader header;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kIdChars; ++i) header.id += kHex[in.ConsumeIntegral<uint8_t>() & 15];
  header.created_unix_ms = in.ConsumeIntegral<uint64_t>();
  header.upload_length = in.ConsumeIntegral<uint64_t>();
  CommitSlot live;
  live.sequence = in.ConsumeIntegralInRange<uint64_t>(1, UINT64_MAX);
  live.committed_offset = in.ConsumeIntegralInRange<uint64_t>(0, header.upload_length);
  live.upload_length = header.upload_length;
  live.flags = in.ConsumeIntegral<uint32_t>();
  live.updated_unix_ms = in.ConsumeIntegral<uint64_t>();
  bool with_older = live.sequence >= 2 && in.ConsumeBool();
  CommitSlot older = live;
  older.sequence = live.sequence - 1;
  older.committed_offset = in.ConsumeIntegralInRange<uint64_t>(0, live.committed_offset);
  older.updated_unix_ms = in.ConsumeIntegral<uint64_t>();
  struct Change {
    size_t position;
    uint8_t mask;
  };
  Change changes[4];
  for (Change& c : changes) {
    c.position = in.ConsumeIntegral<uint32_t>();
    c.mask = in.ConsumeIntegralInRange<uint8_t>(1, 255);
  }
  size_t truncate_to = in.ConsumeIntegral<uint32_t>();
  header.metadata = in.ConsumeRemainingBytesAsString();

  std::vector<uint8_t> record = encode_new_record(header, live);
  RINGEST_CHECK(record.size() == kHeaderOffset + kHeaderFixedBytes + header.metadata.size());
  if (with_older) encode_slot(older, record.data() + slot_file_offset(older.sequence));
  DecodedRecord decoded = decode_record(record.data(), record.size(), header.id);
  RINGEST_CHECK(decoded.error == RecordError::kOk);
  RINGEST_CHECK(same_header(decoded.header, header));
  RINGEST_CHECK(same_slot(decoded.state, live));

  const size_t live_at = slot_file_offset(live.sequence);
  const size_t older_at = slot_file_offset(older.sequence);
  for (const Change& c : changes) {
    size_t at = c.position % record.size();
    // The metadata length field is left alone: a different length makes the header CRC cover
    // a different message, which a CRC tells apart only with probability 1 - 2^-32.
    if (at >= kHeaderOffset + 56 && at < kHeaderOffset + 60) continue;
    std::vector<uint8_t> changed = record;
    changed[at] ^= c.mask;
    DecodedRecord d = decode_record(changed.data(), changed.size(), header.id);
    if (at >= live_at && at < live_at + kSlotBytes) {
      if (with_older) {
        RINGEST_CHECK(d.error == RecordError::kOk && same_slot(d.state, older));
      } else {
        RINGEST_CHECK(d.error == RecordError::kNoValidSlot);
      }
    } else if (at >= older_at && at < older_at + kSlotBytes) {
      // The other slot: zeros or the older commit. No change to it may win over the live one.
      RINGEST_CHECK(d.error == RecordError::kOk && same_slot(d.state, live));
    } else {
      RINGEST_CHECK(d.error != RecordError::kOk);
    }
  }
  size_t shorter = truncate_to % record.size();
  RINGEST_CHECK(decode_record(record.data(), shorter, header.id).error != RecordError::kOk);
}

}  // namespace
}  // namespace ringest::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ringest::storage::check_image(data, size);
  ringest::storage::check_round_trip(data, size);
  return 0;
}
