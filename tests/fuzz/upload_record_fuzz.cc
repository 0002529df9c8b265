// Fuzzes the durable upload record (engine/storage/upload_record.*), the one file ringestd
// trusts at start-up. The input is a mode byte (bit 0: reseal the header CRC, bit 1: slot A's,
// bit 2: slot B's, bit 3: a final's parts block's, so that the checks behind the CRCs are
// reached too) followed by bytes used five ways:
//  1. As the image of a `<id>.rec` file: decode_record() never crashes (ASan, UBSan) and
//     returns exactly the verdict of a reference decoder written here from
//     docs/storage-format.md, with a bitwise CRC-32C and its own base64: the error, the header
//     fields, the metadata pairs, the state, which slot was used, what the other slot holds and
//     whether it was the newest write, a final's parts. decode_header() on the header bytes
//     alone agrees. An accepted record (v1, v2 or v3 header; v1, v2 or v3 slots) re-encodes (a
//     v2 header, or v3 for a partial or a final, with v3 slots) to one that decodes to the same
//     header, pairs, parts and state (the content CRC too), and is refused under any other
//     expected id.
//  2. As one commit slot (the first 512 bytes): decode_slot() agrees with the reference; a
//     valid slot re-encodes to one that decodes the same: a v3 slot to the same bytes, a v2
//     slot to the same bytes but the version (3), with no content CRC.
//  3. As v1 metadata text: MetadataReader and check_metadata() agree with the reference and
//     with tus::valid_metadata() / tus::MetadataDecoder, which accepted v1 metadata when v1
//     records were written.
//  4. As a v2 metadata block: MetadataReader and check_metadata() agree with the reference.
//  5. As values for a record built with the encoder (FuzzedDataProvider): protocol, deferred
//     or known length, plain, partial or final (with parts adding up to the length), a live
//     commit with its flags, expiry and content CRC (or none: the CRC unknown, as after a
//     spliced body), optionally an older commit in the other slot, metadata pairs through
//     MetadataBlockWriter (which refuses exactly the documented keys): it decodes to exactly
//     those values; a changed byte (fuzzer-chosen) in the live slot falls back to the older
//     commit (reported as a fallback) or fails, in the other slot leaves the live one in charge,
//     in the header, metadata or parts fails; a truncated file fails.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/check.h"
#include "engine/storage/upload_record.h"
#include "http/tus/tus_headers.h"

namespace ringest::storage {
namespace {

using Pairs = std::vector<std::pair<std::string, std::string>>;

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

void put_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

constexpr uint64_t kAllOnes = ~uint64_t{0};

// ---------------------------------------------------------------------------------------------
// The reference, from docs/storage-format.md.

// RFC 4648 base64 with '=' padding to a multiple of 4; non-zero unused bits are dropped (tus
// accepted them in Upload-Metadata).
std::optional<std::string> reference_base64(std::string_view v) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  if (v.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  while (pad < v.size() && v[v.size() - 1 - pad] == '=') ++pad;
  if (pad > 2) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i + pad < v.size(); ++i) {
    size_t index = kAlphabet.find(v[i]);
    if (index == std::string_view::npos) return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(index);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// "Metadata, version 1": the tus Upload-Metadata grammar, at most 64 pairs, unique keys.
// Problems are reported in pair order: the first pair that is malformed or repeats a key.
RecordError reference_metadata_v1(std::string_view text, Pairs* pairs) {
  pairs->clear();
  if (trim(text).empty()) return RecordError::kOk;
  std::set<std::string> keys;
  size_t start = 0;
  for (size_t index = 0;; ++index) {
    size_t comma = text.find(',', start);
    std::string_view piece = trim(text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (index == 64) return RecordError::kMetadataFormat;
    if (piece.empty()) return RecordError::kMetadataFormat;
    size_t space = piece.find(' ');
    std::string_view key = piece.substr(0, space);
    std::string_view encoded =
        space == std::string_view::npos ? std::string_view{} : trim(piece.substr(space + 1));
    if (key.empty()) return RecordError::kMetadataFormat;
    for (char c : key) {
      auto b = static_cast<uint8_t>(c);
      if (b < 0x21 || b > 0x7e || c == ',') return RecordError::kMetadataFormat;
    }
    std::optional<std::string> value = reference_base64(encoded);
    if (!value) return RecordError::kMetadataFormat;
    if (!keys.insert(std::string(key)).second) return RecordError::kMetadataDuplicateKey;
    pairs->emplace_back(std::string(key), *value);
    if (comma == std::string_view::npos) return RecordError::kOk;
    start = comma + 1;
  }
}

// "Metadata block (version 2)": empty, or u32 count (<= 1024) then exactly that many pairs of
// u16 key length (1..1024), key, u32 value length, value, and nothing after them.
RecordError reference_metadata_v2(const uint8_t* p, size_t n, Pairs* pairs) {
  pairs->clear();
  if (n == 0) return RecordError::kOk;
  if (n < 4) return RecordError::kMetadataFormat;
  uint64_t count = le(p, 4);
  if (count > 1024) return RecordError::kMetadataFormat;
  size_t pos = 4;
  std::set<std::string> keys;
  for (uint64_t i = 0; i < count; ++i) {
    if (n - pos < 2) return RecordError::kMetadataFormat;
    size_t key_bytes = le(p + pos, 2);
    pos += 2;
    if (key_bytes == 0 || key_bytes > 1024 || n - pos < key_bytes) {
      return RecordError::kMetadataFormat;
    }
    std::string key(reinterpret_cast<const char*>(p + pos), key_bytes);
    pos += key_bytes;
    if (n - pos < 4) return RecordError::kMetadataFormat;
    uint64_t value_bytes = le(p + pos, 4);
    pos += 4;
    if (n - pos < value_bytes) return RecordError::kMetadataFormat;
    std::string value(reinterpret_cast<const char*>(p + pos), value_bytes);
    pos += value_bytes;
    if (!keys.insert(key).second) return RecordError::kMetadataDuplicateKey;
    pairs->emplace_back(std::move(key), std::move(value));
  }
  return pos == n ? RecordError::kOk : RecordError::kMetadataFormat;
}

enum class RefSlot { kValid, kEmpty, kCorrupt };

// "Slot validity" (and "Version 1"): valid, empty (all zero) or corrupt. Version 3 is version 2
// with a content CRC: bytes 56..59 hold it when flag bit 2 is set (else they are zero), zero
// from 60; a version 2 slot never has that flag.
RefSlot reference_slot(const uint8_t* s, CommitSlot* out) {
  bool zero = true;
  for (size_t i = 0; i < 512; ++i) zero &= s[i] == 0;
  if (zero) return RefSlot::kEmpty;
  uint64_t version = le(s + 4, 2);
  if (le(s, 4) != 0x4C534752 || version < 1 || version > 3) return RefSlot::kCorrupt;
  if (le(s + 508, 4) != reference_crc32c(s, 508)) return RefSlot::kCorrupt;
  CommitSlot c;
  c.sequence = le(s + 8, 8);
  c.committed_offset = le(s + 16, 8);
  c.upload_length = le(s + 24, 8);
  c.updated_unix_ms = le(s + 40, 8);
  if (c.sequence < 1) return RefSlot::kCorrupt;
  bool complete = c.upload_length != kAllOnes && c.committed_offset == c.upload_length;
  if (version == 1) {
    c.flags = complete ? 1 : 0;
    c.expires_unix_ms = 0;
  } else {
    c.flags = static_cast<uint32_t>(le(s + 32, 4));
    c.expires_unix_ms = le(s + 48, 8);
    if (le(s + 6, 2) != 0 || le(s + 36, 4) != 0) return RefSlot::kCorrupt;
    size_t zero_from = version == 2 ? 56 : 60;
    for (size_t i = zero_from; i < 508; ++i) {
      if (s[i] != 0) return RefSlot::kCorrupt;
    }
    uint32_t known = version == 2 ? 3u : 7u;
    if ((c.flags & ~known) != 0 || ((c.flags & 1) != 0) != complete) return RefSlot::kCorrupt;
    if (version == 3) c.content_crc32c = static_cast<uint32_t>(le(s + 56, 4));
    if ((c.flags & 4) == 0 && c.content_crc32c != 0) return RefSlot::kCorrupt;
  }
  *out = c;
  return RefSlot::kValid;
}

struct Reference {
  RecordError error = RecordError::kOk;
  bool header_filled = false;
  uint16_t version = 0;
  uint8_t protocol = 0;
  bool deferred = false;
  std::string id;
  uint64_t created = 0;
  uint64_t declared = 0;
  bool partial = false;
  bool final = false;
  std::vector<std::pair<std::string, uint64_t>> parts;  // a final's, once they check out
  Pairs pairs;
  bool state_filled = false;
  CommitSlot state;
  int used = 0;
  SlotStatus other = SlotStatus::kEmpty;
  bool newest_corrupt = false;
};

// "Decoding": "The header" then "Choosing the state", in the order listed there.
Reference reference_decode(const uint8_t* bytes, size_t size, std::string_view expected_id) {
  Reference out;
  auto fail = [&out](RecordError e) {
    out.error = e;
    return out;
  };
  if (size < 1024 + 64) return fail(RecordError::kTooShort);
  const uint8_t* h = bytes + 1024;
  if (le(h, 4) != 0x44484752) return fail(RecordError::kBadHeaderMagic);
  uint64_t version = le(h + 4, 2);
  if (version < 1 || version > 3) return fail(RecordError::kUnknownHeaderVersion);
  uint64_t metadata_bytes = le(h + 56, 4);
  if (metadata_bytes > (1u << 20) || 1024 + 64 + metadata_bytes > size) {
    return fail(RecordError::kMetadataLength);
  }
  uint8_t fixed[64];
  std::memcpy(fixed, h, 64);
  std::memset(fixed + 60, 0, 4);
  uint32_t crc = reference_crc32c(h + 64, metadata_bytes, reference_crc32c(fixed, 64));
  if (le(h + 60, 4) != crc) return fail(RecordError::kHeaderChecksum);
  out.header_filled = true;
  out.version = static_cast<uint16_t>(version);
  out.id.assign(reinterpret_cast<const char*>(h + 8), 32);
  out.created = le(h + 40, 8);
  out.declared = le(h + 48, 8);
  if (version == 1) {
    out.protocol = 1;
    out.deferred = false;
  } else {
    out.protocol = h[6];
    out.deferred = (h[7] & 1) != 0;
    out.partial = (h[7] & 2) != 0;
    out.final = (h[7] & 4) != 0;
    if (h[6] > 6) return fail(RecordError::kUnknownProtocol);
    if ((h[7] & ~(version == 3 ? 7 : 1)) != 0) return fail(RecordError::kHeaderFlags);
    if ((out.partial && out.final) || (out.final && out.deferred)) {
      return fail(RecordError::kConcatFlags);
    }
  }
  if (out.deferred != (out.declared == kAllOnes)) return fail(RecordError::kDeferredLength);
  RecordError metadata =
      version == 1
          ? reference_metadata_v1(
                std::string_view(reinterpret_cast<const char*>(h + 64), metadata_bytes), &out.pairs)
          : reference_metadata_v2(h + 64, metadata_bytes, &out.pairs);
  if (metadata != RecordError::kOk) return fail(metadata);
  if (out.final) {
    // "Header version 3": u32 count (1..10000), count x (32 id + u64 length), u32 CRC seeded
    // with the header's.
    const uint8_t* p = h + 64 + metadata_bytes;
    size_t left = size - 1024 - 64 - metadata_bytes;
    if (left < 4) return fail(RecordError::kPartsLength);
    uint64_t count = le(p, 4);
    if (count == 0 || count > 10000 || left < 4 + count * 40 + 4) {
      return fail(RecordError::kPartsLength);
    }
    if (le(p + 4 + count * 40, 4) != reference_crc32c(p, 4 + count * 40, crc)) {
      return fail(RecordError::kPartsChecksum);
    }
    unsigned __int128 sum = 0;
    std::vector<std::pair<std::string, uint64_t>> parts;
    for (uint64_t i = 0; i < count; ++i) {
      std::string id(reinterpret_cast<const char*>(p + 4 + i * 40), 32);
      for (char c : id) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
          return fail(RecordError::kPartsFormat);
        }
      }
      if (id == out.id) return fail(RecordError::kPartsFormat);
      uint64_t length = le(p + 4 + i * 40 + 32, 8);
      sum += length;
      parts.emplace_back(std::move(id), length);
    }
    if (sum != out.declared) return fail(RecordError::kPartsFormat);
    out.parts = std::move(parts);
  }
  if (!expected_id.empty() && out.id != expected_id) return fail(RecordError::kIdMismatch);

  CommitSlot slot[2];
  RefSlot kind[2] = {reference_slot(bytes, &slot[0]), reference_slot(bytes + 512, &slot[1])};
  bool valid[2] = {kind[0] == RefSlot::kValid, kind[1] == RefSlot::kValid};
  if (!valid[0] && !valid[1]) return fail(RecordError::kNoValidSlot);
  out.used = valid[0] && (!valid[1] || slot[0].sequence >= slot[1].sequence) ? 0 : 1;
  int other = 1 - out.used;
  out.state = slot[out.used];
  out.state_filled = true;
  if (valid[other]) {
    out.other = SlotStatus::kValidOlder;
  } else if (kind[other] == RefSlot::kEmpty) {
    out.other = SlotStatus::kEmpty;
  } else {
    out.other = SlotStatus::kCorrupt;
    out.newest_corrupt =
        out.state.sequence == 1 || le(bytes + 512 * other + 8, 8) > out.state.sequence;
  }
  if (!out.deferred && out.state.upload_length != out.declared) {
    return fail(RecordError::kLengthMismatch);
  }
  if (out.state.upload_length != kAllOnes && out.state.committed_offset > out.state.upload_length) {
    return fail(RecordError::kOffsetBeyondLength);
  }
  if (out.final && out.state.committed_offset != out.state.upload_length) {
    return fail(RecordError::kFinalIncomplete);
  }
  return out;
}

// The parts decode_record() found, as (id, length) pairs.
std::vector<std::pair<std::string, uint64_t>> parts_of(const RecordHeaderView& header) {
  std::vector<std::pair<std::string, uint64_t>> parts;
  for (uint32_t i = 0; i < header.part_count; ++i) {
    PartEntry part = part_at(header, i);
    parts.emplace_back(std::string(part.id), part.length);
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// Helpers over the code under test.

bool same_slot(const CommitSlot& x, const CommitSlot& y) {
  return x.sequence == y.sequence && x.committed_offset == y.committed_offset &&
         x.upload_length == y.upload_length && x.flags == y.flags &&
         x.updated_unix_ms == y.updated_unix_ms && x.expires_unix_ms == y.expires_unix_ms &&
         x.content_crc32c == y.content_crc32c;
}

// The pairs a MetadataReader yields (with enough scratch), and how it stopped.
MetadataReader::Result read_pairs(uint16_t version, std::span<const uint8_t> metadata,
                                  Pairs* pairs) {
  std::vector<uint8_t> scratch(metadata_scratch_bytes(metadata.size()));
  MetadataReader reader(version, metadata, scratch);
  pairs->clear();
  std::string_view key;
  std::string_view value;
  MetadataReader::Result r;
  while ((r = reader.next(&key, &value)) == MetadataReader::Result::kPair) {
    pairs->emplace_back(std::string(key), std::string(value));
  }
  RINGEST_CHECK(r != MetadataReader::Result::kScratchTooSmall);
  return r;
}

bool is_header_error(RecordError e) {
  switch (e) {
    case RecordError::kBadHeaderMagic:
    case RecordError::kUnknownHeaderVersion:
    case RecordError::kMetadataLength:
    case RecordError::kHeaderChecksum:
    case RecordError::kUnknownProtocol:
    case RecordError::kHeaderFlags:
    case RecordError::kDeferredLength:
    case RecordError::kConcatFlags:
    case RecordError::kMetadataFormat:
    case RecordError::kMetadataDuplicateKey:
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------------
// 1. The input as a record image.

void check_image(uint8_t mode, const uint8_t* data, size_t size) {
  // An exactly sized copy: ASan sees any read past the end of the file image.
  std::vector<uint8_t> image(data, data + size);
  if ((mode & 1) && size >= 1024 + 64) {
    uint8_t* h = image.data() + 1024;
    uint64_t metadata_bytes = le(h + 56, 4);
    if (metadata_bytes <= size - 1024 - 64) {
      std::memset(h + 60, 0, 4);
      put_le(h + 60, reference_crc32c(h + 64, metadata_bytes, reference_crc32c(h, 64)), 4);
    }
  }
  if ((mode & 8) && size >= 1024 + 64) {
    uint8_t* h = image.data() + 1024;
    uint64_t metadata_bytes = le(h + 56, 4);
    if (metadata_bytes + 4 <= size - 1024 - 64) {
      uint8_t* p = h + 64 + metadata_bytes;
      uint64_t count = le(p, 4);
      if (count <= 10000 && 4 + count * 40 + 4 <= size - 1024 - 64 - metadata_bytes) {
        put_le(p + 4 + count * 40, reference_crc32c(p, 4 + count * 40, le(h + 60, 4)), 4);
      }
    }
  }
  if ((mode & 2) && size >= 512) put_le(image.data() + 508, reference_crc32c(image.data(), 508), 4);
  if ((mode & 4) && size >= 1024) {
    put_le(image.data() + 1020, reference_crc32c(image.data() + 512, 508), 4);
  }

  DecodedRecord got = decode_record(image.data(), image.size(), "");
  Reference want = reference_decode(image.data(), image.size(), "");
  RINGEST_CHECK(got.error == want.error);
  if (want.header_filled) {
    const RecordHeaderView& h = got.header;
    RINGEST_CHECK(h.version == want.version);
    RINGEST_CHECK(static_cast<uint8_t>(h.protocol) == want.protocol);
    RINGEST_CHECK(h.length_deferred == want.deferred);
    RINGEST_CHECK(h.id == want.id);
    RINGEST_CHECK(h.created_unix_ms == want.created);
    RINGEST_CHECK(h.declared_length == want.declared);
    RINGEST_CHECK(h.metadata.data() == image.data() + 1024 + 64);
    RINGEST_CHECK(h.partial == want.partial && h.final == want.final);
    if (!want.parts.empty()) RINGEST_CHECK(parts_of(h) == want.parts);
  }
  if (want.state_filled) {
    RINGEST_CHECK(same_slot(got.state, want.state));
    RINGEST_CHECK(static_cast<int>(got.used_slot) == want.used);
    RINGEST_CHECK(got.other_slot == want.other);
    RINGEST_CHECK(got.newest_slot_corrupt == want.newest_corrupt);
  }

  // decode_header() on the header bytes alone, exactly sized.
  if (size >= 1024 + 64) {
    HeaderDecode whole = decode_header(image.data() + 1024, size - 1024);
    RINGEST_CHECK(whole.error == (is_header_error(want.error) ? want.error : RecordError::kOk));
    if (whole.total_bytes > 0) {
      std::vector<uint8_t> alone(image.begin() + 1024,
                                 image.begin() + 1024 + static_cast<long>(whole.total_bytes));
      HeaderDecode h = decode_header(alone.data(), alone.size());
      RINGEST_CHECK(h.error == whole.error);
      RINGEST_CHECK(h.total_bytes == whole.total_bytes);
    }
  }
  if (got.error != RecordError::kOk) return;

  Pairs pairs;
  RINGEST_CHECK(read_pairs(got.header.version, got.header.metadata, &pairs) ==
                MetadataReader::Result::kEnd);
  RINGEST_CHECK(pairs == want.pairs);

  std::string other_id(got.header.id);
  other_id[0] = other_id[0] == 'a' ? 'b' : 'a';
  RINGEST_CHECK(decode_record(image.data(), image.size(), got.header.id).error == RecordError::kOk);
  RINGEST_CHECK(decode_record(image.data(), image.size(), other_id).error ==
                RecordError::kIdMismatch);

  // Re-encoded as v2 (v1 metadata through the writer, as a migration would).
  MetadataBlockWriter writer;
  for (const auto& [key, value] : pairs) {
    if (!writer.add(key, value)) {
      RINGEST_CHECK(got.header.version == 1 && key.size() > kMaxMetadataKeyBytes);
      return;  // a v1 key longer than v2 allows: not representable
    }
  }
  std::string id(got.header.id);
  std::vector<std::pair<std::string, uint64_t>> parts = parts_of(got.header);
  std::vector<PartEntry> entries;
  for (const auto& [part_id, length] : parts) entries.push_back({part_id, length});
  NewRecordConcat concat;
  concat.partial = got.header.partial;
  concat.parts = entries;
  std::vector<uint8_t> again =
      encode_new_record(NewRecord{id, got.header.created_unix_ms, got.header.declared_length,
                                  got.header.protocol, writer.block()},
                        got.state, concat);
  DecodedRecord redecoded = decode_record(again.data(), again.size(), id);
  RINGEST_CHECK(redecoded.error == RecordError::kOk);
  RINGEST_CHECK(redecoded.header.version ==
                (got.header.partial || got.header.final ? kHeaderVersionV3 : kHeaderVersionV2));
  RINGEST_CHECK(redecoded.header.partial == got.header.partial);
  RINGEST_CHECK(redecoded.header.final == got.header.final);
  RINGEST_CHECK(parts_of(redecoded.header) == parts);
  RINGEST_CHECK(redecoded.header.protocol == got.header.protocol);
  RINGEST_CHECK(redecoded.header.length_deferred == got.header.length_deferred);
  RINGEST_CHECK(redecoded.header.created_unix_ms == got.header.created_unix_ms);
  RINGEST_CHECK(redecoded.header.declared_length == got.header.declared_length);
  RINGEST_CHECK(same_slot(redecoded.state, got.state));
  Pairs again_pairs;
  read_pairs(2, redecoded.header.metadata, &again_pairs);
  RINGEST_CHECK(again_pairs == pairs);
}

// ---------------------------------------------------------------------------------------------
// 2. The input as one commit slot.

void check_slot(uint8_t mode, const uint8_t* data, size_t size) {
  uint8_t bytes[512] = {};
  std::memcpy(bytes, data, size < 512 ? size : 512);
  if (mode & 2) put_le(bytes + 508, reference_crc32c(bytes, 508), 4);
  CommitSlot want;
  CommitSlot got;
  bool valid = reference_slot(bytes, &want) == RefSlot::kValid;
  RINGEST_CHECK(decode_slot(bytes, &got) == valid);
  if (!valid) return;
  RINGEST_CHECK(same_slot(got, want));
  RINGEST_CHECK(slot_is_consistent(got));
  uint8_t again[512];
  encode_slot(got, again);
  CommitSlot redecoded;
  RINGEST_CHECK(decode_slot(again, &redecoded) && same_slot(redecoded, got));
  RINGEST_CHECK(le(again + 4, 2) == kSlotVersion);
  uint64_t version = le(bytes + 4, 2);
  if (version == 2 || version == 3) {
    // The same bytes, but the version and the slot CRC that covers it.
    uint8_t as_v3[512];
    std::memcpy(as_v3, bytes, 512);
    put_le(as_v3 + 4, 3, 2);
    put_le(as_v3 + 508, reference_crc32c(as_v3, 508), 4);
    RINGEST_CHECK(std::memcmp(again, as_v3, 512) == 0);
  }
  if (version != 3) RINGEST_CHECK((got.flags & kFlagContentCrc) == 0 && got.content_crc32c == 0);
}

// ---------------------------------------------------------------------------------------------
// 3 and 4. The input as metadata of either version.

void check_metadata_text(const uint8_t* data, size_t size) {
  std::vector<uint8_t> bytes(data, data + size);
  std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());

  Pairs want;
  RecordError want_v1 = reference_metadata_v1(text, &want);
  RINGEST_CHECK(check_metadata(1, bytes) == want_v1);
  RINGEST_CHECK((want_v1 == RecordError::kOk) == tus::valid_metadata(text));
  Pairs got;
  MetadataReader::Result r = read_pairs(1, bytes, &got);
  if (want_v1 == RecordError::kOk) {
    RINGEST_CHECK(r == MetadataReader::Result::kEnd && got == want);
    // And what the tus decoder made of it when the upload was created.
    tus::MetadataDecoder decoder(text);
    std::vector<char> buffer(text.size() + 1);
    tus::MetadataPair pair;
    Pairs from_tus;
    while (decoder.next(buffer.data(), buffer.size(), &pair) ==
           tus::MetadataDecoder::Result::kPair) {
      from_tus.emplace_back(std::string(pair.key), std::string(pair.value));
    }
    RINGEST_CHECK(from_tus == want);
  } else if (want_v1 == RecordError::kMetadataFormat) {
    RINGEST_CHECK(r == MetadataReader::Result::kMalformed);
  }

  RecordError want_v2 = reference_metadata_v2(bytes.data(), bytes.size(), &want);
  RINGEST_CHECK(check_metadata(2, bytes) == want_v2);
  r = read_pairs(2, bytes, &got);
  if (want_v2 == RecordError::kOk) {
    RINGEST_CHECK(r == MetadataReader::Result::kEnd && got == want);
  } else if (want_v2 == RecordError::kMetadataFormat) {
    RINGEST_CHECK(r == MetadataReader::Result::kMalformed);
  }
}

// ---------------------------------------------------------------------------------------------
// 5. A record built from values in the input.

void check_round_trip(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::string id;
  static constexpr char kHex[] = "0123456789abcdef";
  for (size_t i = 0; i < kIdChars; ++i) id += kHex[in.ConsumeIntegral<uint8_t>() & 15];
  auto protocol = static_cast<Protocol>(in.ConsumeIntegralInRange<uint8_t>(0, 6));
  int concat_kind = in.ConsumeIntegralInRange<int>(0, 2);  // plain, partial, final
  bool final = concat_kind == 2;
  bool deferred = !final && in.ConsumeBool();
  uint64_t declared =
      deferred ? kUnknownLength : in.ConsumeIntegralInRange<uint64_t>(0, kAllOnes - 1);
  uint64_t created = in.ConsumeIntegral<uint64_t>();
  // A final's parts: 1..8 ids (repeats allowed, never its own) whose lengths add up to it.
  std::vector<std::string> part_ids;
  std::vector<PartEntry> parts;
  if (final) {
    int count = in.ConsumeIntegralInRange<int>(1, 8);
    uint64_t left = declared;
    for (int i = 0; i < count; ++i) {
      std::string part_id;
      for (size_t k = 0; k < kIdChars; ++k) part_id += kHex[in.ConsumeIntegral<uint8_t>() & 15];
      if (part_id == id) part_id[0] = part_id[0] == 'a' ? 'b' : 'a';
      part_ids.push_back(std::move(part_id));
    }
    for (int i = 0; i < count; ++i) {
      uint64_t length = i + 1 == count ? left : in.ConsumeIntegralInRange<uint64_t>(0, left);
      parts.push_back({part_ids[static_cast<size_t>(i)], length});
      left -= length;
    }
  }

  auto complete_flag = [](const CommitSlot& s) {
    return s.upload_length != kUnknownLength && s.committed_offset == s.upload_length
               ? kFlagComplete
               : 0u;
  };
  CommitSlot live;
  live.sequence = in.ConsumeIntegralInRange<uint64_t>(1, kAllOnes);
  live.upload_length =
      !deferred ? declared
                : (in.ConsumeBool() ? kUnknownLength
                                    : in.ConsumeIntegralInRange<uint64_t>(0, kAllOnes - 1));
  live.committed_offset = live.upload_length == kUnknownLength
                              ? in.ConsumeIntegral<uint64_t>()
                              : in.ConsumeIntegralInRange<uint64_t>(0, live.upload_length);
  if (final) live.committed_offset = live.upload_length;  // a final is created complete
  live.flags = complete_flag(live) | (in.ConsumeBool() ? kFlagFinishDelivered : 0u);
  live.updated_unix_ms = in.ConsumeIntegral<uint64_t>();
  live.expires_unix_ms = in.ConsumeIntegral<uint64_t>();
  if (in.ConsumeBool()) {  // the CRC of the committed bytes is known (0 is a CRC like any other)
    live.flags |= kFlagContentCrc;
    live.content_crc32c = in.ConsumeIntegral<uint32_t>();
  }
  // (A final has one commit: an older, incomplete one would be final-incomplete after a fall
  // back, which the checks below do not expect.)
  bool with_older = !final && live.sequence >= 2 && in.ConsumeBool();
  CommitSlot older = live;
  older.sequence = live.sequence - 1;
  older.upload_length = deferred && in.ConsumeBool() ? kUnknownLength : live.upload_length;
  older.committed_offset = live.committed_offset == 0
                               ? 0
                               : in.ConsumeIntegralInRange<uint64_t>(0, live.committed_offset);
  if (older.upload_length != kUnknownLength && older.committed_offset > older.upload_length) {
    older.committed_offset = older.upload_length;
  }
  older.flags = complete_flag(older) | (in.ConsumeBool() ? kFlagFinishDelivered : 0u);
  older.updated_unix_ms = in.ConsumeIntegral<uint64_t>();
  older.expires_unix_ms = in.ConsumeIntegral<uint64_t>();
  older.content_crc32c = 0;
  if (in.ConsumeBool()) {
    older.flags |= kFlagContentCrc;
    older.content_crc32c = in.ConsumeIntegral<uint32_t>();
  }
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

  // Metadata through the writer: it must take exactly the pairs the documentation allows.
  MetadataBlockWriter writer;
  Pairs pairs;
  std::set<std::string> keys;
  size_t block_bytes = 4;
  int tries = in.ConsumeIntegralInRange<int>(0, 12);
  for (int i = 0; i < tries; ++i) {
    std::string key = in.ConsumeRandomLengthString(kMaxMetadataKeyBytes + 2);
    std::string value = in.ConsumeRandomLengthString(4096);
    bool allowed = !key.empty() && key.size() <= kMaxMetadataKeyBytes && !keys.count(key) &&
                   block_bytes + 6 + key.size() + value.size() <= kMaxMetadataBytes;
    RINGEST_CHECK(writer.add(key, value) == allowed);
    if (!allowed) continue;
    keys.insert(key);
    block_bytes += 6 + key.size() + value.size();
    pairs.emplace_back(std::move(key), std::move(value));
  }
  RINGEST_CHECK(writer.block().size() == (pairs.empty() ? 0 : block_bytes));

  NewRecordConcat concat;
  concat.partial = concat_kind == 1;
  concat.parts = parts;
  std::vector<uint8_t> record =
      encode_new_record(NewRecord{id, created, declared, protocol, writer.block()}, live, concat);
  const size_t parts_at = kHeaderOffset + kHeaderFixedBytes + writer.block().size();
  RINGEST_CHECK(record.size() ==
                parts_at + (final ? parts_block_bytes(static_cast<uint32_t>(parts.size())) : 0));
  if (with_older) encode_slot(older, record.data() + slot_file_offset(older.sequence));
  DecodedRecord decoded = decode_record(record.data(), record.size(), id);
  RINGEST_CHECK(decoded.error == RecordError::kOk);
  RINGEST_CHECK(decoded.header.version == (concat_kind > 0 ? kHeaderVersionV3 : kHeaderVersionV2));
  RINGEST_CHECK(decoded.header.partial == (concat_kind == 1));
  RINGEST_CHECK(decoded.header.final == final);
  RINGEST_CHECK(decoded.header.part_count == parts.size());
  for (size_t i = 0; i < parts.size(); ++i) {
    PartEntry part = part_at(decoded.header, static_cast<uint32_t>(i));
    RINGEST_CHECK(part.id == parts[i].id && part.length == parts[i].length);
  }
  RINGEST_CHECK(decoded.header.protocol == protocol);
  RINGEST_CHECK(decoded.header.length_deferred == deferred);
  RINGEST_CHECK(decoded.header.id == id);
  RINGEST_CHECK(decoded.header.created_unix_ms == created);
  RINGEST_CHECK(decoded.header.declared_length == declared);
  RINGEST_CHECK(same_slot(decoded.state, live));
  RINGEST_CHECK(decoded.used_slot == static_cast<SlotPosition>(live.sequence & 1));
  RINGEST_CHECK(decoded.other_slot == (with_older ? SlotStatus::kValidOlder : SlotStatus::kEmpty));
  Pairs read;
  RINGEST_CHECK(read_pairs(decoded.header.version, decoded.header.metadata, &read) ==
                MetadataReader::Result::kEnd);
  RINGEST_CHECK(read == pairs);

  const size_t live_at = slot_file_offset(live.sequence);
  const size_t older_at = slot_file_offset(older.sequence);
  for (const Change& c : changes) {
    size_t at = c.position % record.size();
    // The metadata length field is left alone: a different length makes the header CRC cover
    // a different message, which a CRC tells apart only with probability 1 - 2^-32.
    if (at >= kHeaderOffset + 56 && at < kHeaderOffset + 60) continue;
    if (final && at >= parts_at && at < parts_at + 4) continue;  // the part count: the same
    std::vector<uint8_t> changed = record;
    changed[at] ^= c.mask;
    DecodedRecord d = decode_record(changed.data(), changed.size(), id);
    if (at >= live_at && at < live_at + kSlotBytes) {
      if (with_older) {
        RINGEST_CHECK(d.error == RecordError::kOk && same_slot(d.state, older));
        RINGEST_CHECK(d.other_slot == SlotStatus::kCorrupt);
        uint64_t raw_sequence = le(changed.data() + live_at + 8, 8);
        RINGEST_CHECK(d.newest_slot_corrupt ==
                      (older.sequence == 1 || raw_sequence > older.sequence));
      } else {
        RINGEST_CHECK(d.error == RecordError::kNoValidSlot);
      }
    } else if (at >= older_at && at < older_at + kSlotBytes) {
      // The other slot: zeros or the older commit. No change to it may win over the live one.
      RINGEST_CHECK(d.error == RecordError::kOk && same_slot(d.state, live));
      RINGEST_CHECK(d.other_slot == SlotStatus::kCorrupt);
    } else {
      RINGEST_CHECK(d.error != RecordError::kOk);
    }
  }
  size_t shorter = truncate_to % record.size();
  RINGEST_CHECK(decode_record(record.data(), shorter, id).error != RecordError::kOk);
}

}  // namespace
}  // namespace ringest::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  ringest::storage::check_image(data[0], data + 1, size - 1);
  ringest::storage::check_slot(data[0], data + 1, size - 1);
  ringest::storage::check_metadata_text(data + 1, size - 1);
  ringest::storage::check_round_trip(data, size);
  return 0;
}
