// Proves the pinned upload-record format (docs/storage-format.md): crc32c; the exact v2 byte
// layout; round trips of every v2 field; that v1 records and slots, built here byte by byte,
// still decode, alone and with v2 slots written over them; that v1 metadata text and a v2
// block yield the same decoded pairs (and the same as the tus decoder that wrote them); which
// slot is used and what the other holds; the v3 header of partial and final uploads
// (concatenation: the exact bytes of a final's parts block, plain uploads still written as v2);
// and that every kind of corruption, old and new, is reported as its own RecordError or falls
// back to the older slot, as documented.
#include "engine/storage/upload_record.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <new>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/base/crc32c.h"
#include "http/tus/tus_headers.h"

// Counts operator new per thread, so that a test can show the decoding side allocates nothing.
// (Replacing the global operator affects the whole test binary; it only counts.)
namespace {
thread_local uint64_t t_operator_new_calls = 0;
}  // namespace

void* operator new(size_t bytes) {
  ++t_operator_new_calls;
  if (void* p = std::malloc(bytes == 0 ? 1 : bytes)) return p;
  throw std::bad_alloc();
}
// GCC pairs the free() below with the `new` it sees at call sites and warns; for a replacement
// operator delete that matches the malloc() above, that warning is wrong.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace ringest::storage {

// gtest prints errors by name.
void PrintTo(RecordError error, std::ostream* os) { *os << record_error_name(error); }

namespace {

constexpr std::string_view kId = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kOtherId = "fedcba9876543210fedcba9876543210";
constexpr uint64_t kCreated = 1700000000123;
constexpr uint64_t kLength = 1000;

// The same metadata in both versions: v1 kept the tus header value, v2 keeps the pairs.
constexpr std::string_view kMetadataV1 = "filename d29ybGQudHh0,filetype dGV4dC9wbGFpbg==";
using Pairs = std::vector<std::pair<std::string, std::string>>;
const Pairs kPairs = {{"filename", "world.txt"}, {"filetype", "text/plain"}};

// A plain bitwise CRC-32C (reflected polynomial 0x82F63B78), independent of the code under test.
uint32_t reference_crc32c(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

// Little-endian helpers written with shifts, so they do not share code with the encoder.
void le_put(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t le_get(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// ---------------------------------------------------------------------------------------------
// Images built by hand from the documentation.

// A v2 metadata block; `count` overrides the pair count field.
std::vector<uint8_t> hand_block(const Pairs& pairs, std::optional<uint32_t> count = {}) {
  std::vector<uint8_t> out(4);
  le_put(out.data(), count.value_or(static_cast<uint32_t>(pairs.size())), 4);
  for (const auto& [key, value] : pairs) {
    size_t at = out.size();
    out.resize(at + 2 + key.size() + 4 + value.size());
    le_put(out.data() + at, key.size(), 2);
    std::memcpy(out.data() + at + 2, key.data(), key.size());
    le_put(out.data() + at + 2 + key.size(), value.size(), 4);
    std::memcpy(out.data() + at + 2 + key.size() + 4, value.data(), value.size());
  }
  return out;
}

// Commit slots of either version with exactly the given fields (consistent or not).
void hand_slot_v2(uint8_t* s, const CommitSlot& c) {
  std::memset(s, 0, kSlotBytes);
  std::memcpy(s, "RGSL", 4);
  le_put(s + 4, 2, 2);
  le_put(s + 8, c.sequence, 8);
  le_put(s + 16, c.committed_offset, 8);
  le_put(s + 24, c.upload_length, 8);
  le_put(s + 32, c.flags, 4);
  le_put(s + 40, c.updated_unix_ms, 8);
  le_put(s + 48, c.expires_unix_ms, 8);
  le_put(s + 508, reference_crc32c(s, 508), 4);
}
void hand_slot_v3(uint8_t* s, const CommitSlot& c) {
  hand_slot_v2(s, c);
  le_put(s + 4, 3, 2);
  le_put(s + 56, c.content_crc32c, 4);
  le_put(s + 508, reference_crc32c(s, 508), 4);
}
void hand_slot_v1(uint8_t* s, const CommitSlot& c) {
  std::memset(s, 0, kSlotBytes);
  std::memcpy(s, "RGSL", 4);
  le_put(s + 4, 1, 2);
  le_put(s + 8, c.sequence, 8);
  le_put(s + 16, c.committed_offset, 8);
  le_put(s + 24, c.upload_length, 8);
  le_put(s + 32, c.flags, 4);
  le_put(s + 40, c.updated_unix_ms, 8);
  le_put(s + 508, reference_crc32c(s, 508), 4);
}

// Rewrites a slot's checksum after a deliberate edit of its bytes.
void reseal_slot(uint8_t* slot) { le_put(slot + 508, reference_crc32c(slot, 508), 4); }

struct HandHeader {
  uint16_t version = 2;
  uint8_t protocol = 1;  // v1: bytes 6..7 are reserved and written as 0
  uint8_t flags = 0;
  std::string id = std::string(kId);
  uint64_t created_unix_ms = kCreated;
  uint64_t length = kLength;
  std::vector<uint8_t> metadata;
};

// Both slots zero, then the header.
std::vector<uint8_t> hand_record(const HandHeader& h) {
  std::vector<uint8_t> out(1024 + 64 + h.metadata.size(), 0);
  uint8_t* p = out.data() + 1024;
  std::memcpy(p, "RGHD", 4);
  le_put(p + 4, h.version, 2);
  p[6] = h.version == 1 ? 0 : h.protocol;
  p[7] = h.version == 1 ? 0 : h.flags;
  std::memcpy(p + 8, h.id.data(), 32);
  le_put(p + 40, h.created_unix_ms, 8);
  le_put(p + 48, h.length, 8);
  le_put(p + 56, h.metadata.size(), 4);
  if (!h.metadata.empty()) std::memcpy(p + 64, h.metadata.data(), h.metadata.size());
  uint32_t crc = reference_crc32c(p, 64);  // crc field still zero here
  le_put(p + 60, reference_crc32c(p + 64, h.metadata.size(), crc), 4);
  return out;
}

// Rewrites the header checksum so that a deliberate header edit is the only thing wrong.
void reseal_header(std::vector<uint8_t>& record) {
  uint8_t* h = record.data() + kHeaderOffset;
  uint32_t metadata_bytes = static_cast<uint32_t>(le_get(h + 56, 4));
  std::vector<uint8_t> fixed(h, h + kHeaderFixedBytes);
  le_put(fixed.data() + 60, 0, 4);
  uint32_t crc = reference_crc32c(fixed.data(), fixed.size());
  crc = reference_crc32c(h + kHeaderFixedBytes, metadata_bytes, crc);
  le_put(h + 60, crc, 4);
}

// Replaces the metadata of a record (v1 text or v2 block) and reseals the header.
void replace_metadata(std::vector<uint8_t>& record, std::span<const uint8_t> metadata) {
  record.resize(kHeaderOffset + kHeaderFixedBytes);
  record.insert(record.end(), metadata.begin(), metadata.end());
  le_put(record.data() + kHeaderOffset + 56, metadata.size(), 4);
  reseal_header(record);
}

// ---------------------------------------------------------------------------------------------
// Records as the code under test writes them (v2) or as a v1 server wrote them (by hand).

CommitSlot make_slot(uint64_t sequence, uint64_t offset, uint64_t length = kLength,
                     uint32_t extra_flags = 0) {
  CommitSlot s;
  s.sequence = sequence;
  s.committed_offset = offset;
  s.upload_length = length;
  s.flags = extra_flags | (length != kUnknownLength && offset == length ? kFlagComplete : 0);
  s.updated_unix_ms = 1700000000000 + sequence;
  return s;
}

std::vector<uint8_t> block_of(const Pairs& pairs) {
  MetadataBlockWriter writer;
  for (const auto& [key, value] : pairs) EXPECT_TRUE(writer.add(key, value)) << key;
  return std::vector<uint8_t>(writer.block().begin(), writer.block().end());
}

std::vector<uint8_t> new_v2_record(const Pairs& pairs = kPairs, uint64_t length = kLength,
                                   Protocol protocol = Protocol::kTus,
                                   const CommitSlot& first = make_slot(1, 0)) {
  std::vector<uint8_t> block = block_of(pairs);
  return encode_new_record(NewRecord{kId, kCreated, length, protocol, block}, first);
}

// A v1 record as the v1 server created it: header, and slot B with sequence 1 at offset 0.
std::vector<uint8_t> new_v1_record(std::string_view metadata = kMetadataV1,
                                   uint64_t length = kLength) {
  HandHeader h;
  h.version = 1;
  h.length = length;
  h.metadata.assign(metadata.begin(), metadata.end());
  std::vector<uint8_t> record = hand_record(h);
  hand_slot_v1(record.data() + kSlotBytes, make_slot(1, 0, length));
  return record;
}

// The fresh record of either version, with the standard metadata.
std::vector<uint8_t> fresh_record(uint16_t version) {
  return version == 1 ? new_v1_record() : new_v2_record();
}

// Writes a commit the way a server of that version would.
void write_slot(std::vector<uint8_t>& record, uint16_t version, const CommitSlot& slot) {
  uint8_t* at = record.data() + slot_file_offset(slot.sequence);
  if (version == 1) {
    hand_slot_v1(at, slot);
  } else {
    encode_slot(slot, at);
  }
}

DecodedRecord decode(const std::vector<uint8_t>& record, std::string_view expected_id = kId) {
  return decode_record(record.data(), record.size(), expected_id);
}

struct ReadPairs {
  Pairs pairs;
  MetadataReader::Result end = MetadataReader::Result::kEnd;
};

ReadPairs read_pairs(uint16_t version, std::span<const uint8_t> metadata) {
  std::vector<uint8_t> scratch(metadata_scratch_bytes(metadata.size()));
  MetadataReader reader(version, metadata, scratch);
  ReadPairs out;
  std::string_view key;
  std::string_view value;
  while ((out.end = reader.next(&key, &value)) == MetadataReader::Result::kPair) {
    out.pairs.emplace_back(std::string(key), std::string(value));
  }
  return out;
}

void expect_slot_eq(const CommitSlot& actual, const CommitSlot& expected) {
  EXPECT_EQ(actual.sequence, expected.sequence);
  EXPECT_EQ(actual.committed_offset, expected.committed_offset);
  EXPECT_EQ(actual.upload_length, expected.upload_length);
  EXPECT_EQ(actual.flags, expected.flags);
  EXPECT_EQ(actual.updated_unix_ms, expected.updated_unix_ms);
  EXPECT_EQ(actual.expires_unix_ms, expected.expires_unix_ms);
  EXPECT_EQ(actual.content_crc32c, expected.content_crc32c);
}

// ---------------------------------------------------------------------------------------------
// crc32c

TEST(Crc32cTest, StandardCheckValue) {
  const char* text = "123456789";
  EXPECT_EQ(crc32c(text, 9), 0xE3069283u);
  EXPECT_EQ(crc32c(text, 0), 0u);
}

TEST(Crc32cTest, SplitComputationEqualsWhole) {
  const std::string text = "123456789";
  for (size_t split = 0; split <= text.size(); ++split) {
    uint32_t first = crc32c(text.data(), split);
    EXPECT_EQ(crc32c(text.data() + split, text.size() - split, first), 0xE3069283u)
        << "split at " << split;
  }
}

TEST(Crc32cTest, MatchesBitwiseReferenceAtEveryLengthAndSplit) {
  // Lengths around the 8-byte word loop of the hardware path, unaligned starts, and splits.
  std::vector<uint8_t> data(300);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 131 + 7);
  for (size_t start = 0; start < 9; ++start) {
    for (size_t len = 0; start + len <= 40; ++len) {
      EXPECT_EQ(crc32c(data.data() + start, len), reference_crc32c(data.data() + start, len))
          << "start " << start << " len " << len;
    }
  }
  uint32_t whole = crc32c(data.data(), data.size());
  EXPECT_EQ(whole, reference_crc32c(data.data(), data.size()));
  for (size_t split : {1u, 7u, 8u, 9u, 63u, 64u, 150u, 299u}) {
    uint32_t first = crc32c(data.data(), split);
    EXPECT_EQ(crc32c(data.data() + split, data.size() - split, first), whole) << split;
  }
}

// ---------------------------------------------------------------------------------------------
// The pinned byte layout (header v2, slot v3). Any change to the format must fail here (and
// bump kFormatVersion or kSlotVersion).

TEST(UploadRecordTest, ByteLayoutIsPinned) {
  EXPECT_EQ(kSlotBytes, 512u);
  EXPECT_EQ(kHeaderOffset, 1024u);
  EXPECT_EQ(kHeaderFixedBytes, 64u);
  EXPECT_EQ(kIdChars, 32u);
  EXPECT_EQ(kFormatVersion, 2u);
  EXPECT_EQ(kFormatVersionV1, 1u);
  EXPECT_EQ(kSlotVersion, 3u);
  EXPECT_EQ(kSlotVersionV2, 2u);
  EXPECT_EQ(kFlagContentCrc, 4u);
  EXPECT_EQ(kMaxMetadataBytes, 1u << 20);
  EXPECT_EQ(kMaxMetadataKeyBytes, 1024u);
  EXPECT_EQ(kUnknownLength, UINT64_MAX);
  EXPECT_EQ(kFlagComplete, 1u);
  EXPECT_EQ(kFlagFinishDelivered, 2u);
  EXPECT_EQ(kHeaderFlagLengthDeferred, 1u);
  EXPECT_EQ(static_cast<int>(Protocol::kUnknown), 0);
  EXPECT_EQ(static_cast<int>(Protocol::kTus), 1);
  EXPECT_EQ(static_cast<int>(Protocol::kFilepond), 2);
  EXPECT_EQ(static_cast<int>(Protocol::kIetf), 3);
  EXPECT_EQ(static_cast<int>(Protocol::kS3), 4);
  EXPECT_EQ(static_cast<int>(Protocol::kGcs), 5);
  EXPECT_EQ(static_cast<int>(Protocol::kPut), 6);

  const Pairs pairs = {{"k", "v"}, {"bin", std::string("\x00\xff", 2)}};
  const uint64_t length = 0x0A0B0C0D0E0F1011ull;
  CommitSlot first{1, 0x55, length, 0, 0x77, 0};
  std::vector<uint8_t> block = block_of(pairs);
  std::vector<uint8_t> record =
      encode_new_record(NewRecord{kId, 0x0102030405060708ull, length, Protocol::kS3, block}, first);
  CommitSlot second{2,
                    length,
                    length,
                    kFlagComplete | kFlagFinishDelivered | kFlagContentCrc,
                    0x2122232425262728ull,
                    0x3132333435363738ull,
                    0xC1C2C3C4u};
  encode_slot(second, record.data() + slot_file_offset(2));

  // The expected file, byte by byte.
  std::vector<uint8_t> expected_block = {
      2,    0,    0,   0,                       // pair count
      1,    0,    'k', 1,   0,   0, 0, 'v',     // key "k", value "v"
      3,    0,    'b', 'i', 'n', 2, 0, 0,   0,  // key "bin"
      0x00, 0xff,                               // its binary value
  };
  ASSERT_EQ(block, expected_block);
  std::vector<uint8_t> expected(1024 + 64 + expected_block.size(), 0);
  auto build_slot = [](uint8_t* s, const CommitSlot& c) {
    s[0] = 'R';
    s[1] = 'G';
    s[2] = 'S';
    s[3] = 'L';
    le_put(s + 4, 3, 2);  // version
    le_put(s + 6, 0, 2);  // reserved
    le_put(s + 8, c.sequence, 8);
    le_put(s + 16, c.committed_offset, 8);
    le_put(s + 24, c.upload_length, 8);
    le_put(s + 32, c.flags, 4);
    le_put(s + 36, 0, 4);  // reserved
    le_put(s + 40, c.updated_unix_ms, 8);
    le_put(s + 48, c.expires_unix_ms, 8);
    le_put(s + 56, c.content_crc32c, 4);
    // 60..507 stay zero
    le_put(s + 508, reference_crc32c(s, 508), 4);
  };
  build_slot(expected.data() + 0, second);
  build_slot(expected.data() + 512, first);
  uint8_t* h = expected.data() + 1024;
  h[0] = 'R';
  h[1] = 'G';
  h[2] = 'H';
  h[3] = 'D';
  le_put(h + 4, 2, 2);
  h[6] = 4;  // protocol: s3
  h[7] = 0;  // header flags: length known
  std::memcpy(h + 8, kId.data(), 32);
  le_put(h + 40, 0x0102030405060708ull, 8);
  le_put(h + 48, length, 8);
  le_put(h + 56, expected_block.size(), 4);
  std::memcpy(h + 64, expected_block.data(), expected_block.size());
  uint32_t hcrc = reference_crc32c(h, 64);  // crc field still zero here
  hcrc = reference_crc32c(h + 64, expected_block.size(), hcrc);
  le_put(h + 60, hcrc, 4);

  ASSERT_EQ(record.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(record[i], expected[i]) << "byte " << i << " differs";
  }

  // Spot checks that read like the documentation.
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(record.data()), 4), "RGSL");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(record.data() + 1024), 4), "RGHD");
  EXPECT_EQ(le_get(record.data() + 0, 4), kSlotMagic);
  EXPECT_EQ(le_get(record.data() + 1024, 4), kHeaderMagic);
  EXPECT_EQ(record[4], 3);                              // slot version
  EXPECT_EQ(record[8], 2);                              // sequence, LSB first
  EXPECT_EQ(record[16], 0x11);                          // committed_offset LSB
  EXPECT_EQ(record[23], 0x0A);                          // committed_offset MSB
  EXPECT_EQ(record[32], 7);                             // flags: complete, delivered, crc
  EXPECT_EQ(record[56], 0xC4);                          // content CRC-32C LSB
  EXPECT_EQ(record[48], 0x38);                          // expires LSB
  EXPECT_EQ(record[1024 + 4], 2);                       // header version
  EXPECT_EQ(record[1024 + 6], 4);                       // protocol
  EXPECT_EQ(record[1024 + 56], expected_block.size());  // metadata block bytes
  EXPECT_EQ(le_get(record.data() + 508, 4), reference_crc32c(record.data(), 508));

  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, second);
  EXPECT_EQ(d.header.protocol, Protocol::kS3);

  // A deferred length: header flag bit 0 and all ones in the length field.
  CommitSlot unknown{1, 0, kUnknownLength, 0, 5, 0};
  std::vector<uint8_t> deferred =
      encode_new_record(NewRecord{kId, 1, kUnknownLength, Protocol::kPut, {}}, unknown);
  ASSERT_EQ(deferred.size(), 1024u + 64u);
  EXPECT_EQ(deferred[1024 + 6], 6);  // protocol: put
  EXPECT_EQ(deferred[1024 + 7], 1);  // length deferred
  EXPECT_EQ(le_get(deferred.data() + 1024 + 48, 8), UINT64_MAX);
  EXPECT_EQ(le_get(deferred.data() + 512 + 24, 8), UINT64_MAX);
  EXPECT_EQ(le_get(deferred.data() + 1024 + 56, 4), 0u);  // no metadata: an empty block
  std::vector<uint8_t> by_hand(1024 + 64, 0);
  build_slot(by_hand.data() + 512, unknown);
  HandHeader hh;
  hh.protocol = 6;
  hh.flags = 1;
  hh.created_unix_ms = 1;
  hh.length = kUnknownLength;
  std::vector<uint8_t> header_by_hand = hand_record(hh);
  std::copy(header_by_hand.begin() + 1024, header_by_hand.end(), by_hand.begin() + 1024);
  EXPECT_EQ(deferred, by_hand);
}

TEST(UploadRecordTest, EncodeSlotWritesWhatTheDocumentSays) {
  CommitSlot slot{0x0102030405060708ull, 0x1112131415161718ull, 0x2122232425262728ull,
                  kFlagFinishDelivered,  0x3132333435363738ull, 0x4142434445464748ull};
  uint8_t ours[kSlotBytes];
  uint8_t by_hand[kSlotBytes];
  encode_slot(slot, ours);
  hand_slot_v3(by_hand, slot);
  EXPECT_EQ(std::memcmp(ours, by_hand, kSlotBytes), 0);
  slot.flags |= kFlagContentCrc;
  slot.content_crc32c = 0xE3069283u;
  encode_slot(slot, ours);
  hand_slot_v3(by_hand, slot);
  EXPECT_EQ(std::memcmp(ours, by_hand, kSlotBytes), 0);
}

// ---------------------------------------------------------------------------------------------
// Well-formed v2 records

TEST(UploadRecordTest, RoundTripKnownLength) {
  CommitSlot first = make_slot(1, 0);
  std::vector<uint8_t> block = block_of(kPairs);
  std::vector<uint8_t> record =
      encode_new_record(NewRecord{kId, kCreated, kLength, Protocol::kTus, block}, first);
  EXPECT_EQ(record.size(), kHeaderOffset + kHeaderFixedBytes + block.size());

  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.version, 2u);
  EXPECT_EQ(d.header.protocol, Protocol::kTus);
  EXPECT_FALSE(d.header.length_deferred);
  EXPECT_EQ(d.header.id, kId);
  EXPECT_EQ(d.header.created_unix_ms, kCreated);
  EXPECT_EQ(d.header.declared_length, kLength);
  ASSERT_EQ(d.header.metadata.size(), block.size());
  EXPECT_EQ(std::memcmp(d.header.metadata.data(), block.data(), block.size()), 0);
  // The views point into the record's own bytes.
  EXPECT_EQ(d.header.metadata.data(), record.data() + kHeaderOffset + kHeaderFixedBytes);
  EXPECT_EQ(reinterpret_cast<const uint8_t*>(d.header.id.data()), record.data() + 1024 + 8);
  expect_slot_eq(d.state, first);
  EXPECT_EQ(d.used_slot, SlotPosition::kB);
  EXPECT_EQ(d.other_slot, SlotStatus::kEmpty);
  EXPECT_FALSE(d.newest_slot_corrupt);
  ReadPairs read = read_pairs(d.header.version, d.header.metadata);
  EXPECT_EQ(read.end, MetadataReader::Result::kEnd);
  EXPECT_EQ(read.pairs, kPairs);

  // An empty expected id skips the name check but nothing else.
  DecodedRecord anonymous = decode(record, "");
  ASSERT_EQ(anonymous.error, RecordError::kOk);
  EXPECT_EQ(anonymous.header.id, kId);
}

TEST(UploadRecordTest, RoundTripDeferredLength) {
  CommitSlot first = make_slot(1, 0, kUnknownLength);
  std::vector<uint8_t> record = new_v2_record(kPairs, kUnknownLength, Protocol::kTus, first);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_TRUE(d.header.length_deferred);
  EXPECT_EQ(d.header.declared_length, kUnknownLength);
  expect_slot_eq(d.state, first);

  // Bytes arrive while the length is still unknown: any offset is fine.
  CommitSlot more = make_slot(2, 1ull << 40, kUnknownLength);
  write_slot(record, 2, more);
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, more);
  EXPECT_EQ(d.state.flags, 0u);
}

TEST(UploadRecordTest, RoundTripLengthDeclaredLater) {
  std::vector<uint8_t> record =
      new_v2_record(kPairs, kUnknownLength, Protocol::kIetf, make_slot(1, 0, kUnknownLength));
  write_slot(record, 2, make_slot(2, 400, kUnknownLength));
  CommitSlot declared = make_slot(3, 400, 1000);  // the client now says 1000
  write_slot(record, 2, declared);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, declared);
  EXPECT_TRUE(d.header.length_deferred);  // the header is immutable: it still says deferred

  CommitSlot complete = make_slot(4, 1000, 1000, kFlagFinishDelivered);
  ASSERT_EQ(complete.flags, kFlagComplete | kFlagFinishDelivered);
  write_slot(record, 2, complete);
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, complete);
}

TEST(UploadRecordTest, RoundTripExpiry) {
  std::vector<uint8_t> record = fresh_record(2);
  CommitSlot expiring = make_slot(2, 10);
  expiring.expires_unix_ms = 1700000999999;
  write_slot(record, 2, expiring);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.expires_unix_ms, 1700000999999u);

  // The expiry is per commit: a later commit without one never expires.
  write_slot(record, 2, make_slot(3, 20));
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.expires_unix_ms, 0u);
}

TEST(UploadRecordTest, RoundTripEveryProtocol) {
  std::vector<std::string> names;
  for (int p = 0; p <= static_cast<int>(kHighestProtocol); ++p) {
    auto protocol = static_cast<Protocol>(p);
    DecodedRecord d = decode(new_v2_record(kPairs, kLength, protocol));
    ASSERT_EQ(d.error, RecordError::kOk) << p;
    EXPECT_EQ(d.header.protocol, protocol);
    std::string name = protocol_name(protocol);
    EXPECT_NE(name, "?");
    for (const std::string& other : names) EXPECT_NE(name, other);
    names.push_back(name);
  }
  EXPECT_STREQ(protocol_name(Protocol::kTus), "tus");
  EXPECT_STREQ(protocol_name(static_cast<Protocol>(7)), "?");
}

TEST(UploadRecordTest, RoundTripMetadataWithBinaryValues) {
  std::string all_bytes;
  for (int b = 0; b < 256; ++b) all_bytes += static_cast<char>(b);
  const Pairs pairs = {
      {"nul", std::string("a\0b", 3)},
      {"all", all_bytes},
      {"empty", ""},
      {"big", std::string(100000, '\xAB')},
      {std::string(kMaxMetadataKeyBytes, 'k'), "longest key"},
      {"utf8 key \xc3\xa9, with comma", "v"},  // v2 keys are bytes, not tus tokens
  };
  std::vector<uint8_t> record = new_v2_record(pairs);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  // No scratch: v2 values are yielded straight from the block.
  MetadataReader reader(d.header.version, d.header.metadata);
  Pairs read;
  std::string_view key;
  std::string_view value;
  MetadataReader::Result r;
  while ((r = reader.next(&key, &value)) == MetadataReader::Result::kPair) {
    EXPECT_GE(reinterpret_cast<const uint8_t*>(value.data()), record.data());
    read.emplace_back(std::string(key), std::string(value));
  }
  EXPECT_EQ(r, MetadataReader::Result::kEnd);
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kEnd);  // and stays there
  EXPECT_EQ(read, pairs);
}

TEST(UploadRecordTest, RoundTripEmptyMetadata) {
  MetadataBlockWriter none;
  EXPECT_TRUE(none.block().empty());
  std::vector<uint8_t> record = new_v2_record({});
  EXPECT_EQ(record.size(), kHeaderOffset + kHeaderFixedBytes);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_TRUE(d.header.metadata.empty());
  ReadPairs read = read_pairs(2, d.header.metadata);
  EXPECT_EQ(read.end, MetadataReader::Result::kEnd);
  EXPECT_TRUE(read.pairs.empty());

  // A block holding just a zero count is the other spelling of "no pairs".
  std::vector<uint8_t> zero_count = hand_block({});
  ASSERT_EQ(zero_count.size(), 4u);
  replace_metadata(record, zero_count);
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_TRUE(read_pairs(2, d.header.metadata).pairs.empty());
}

TEST(UploadRecordTest, RoundTripZeroLengthUploadIsCompleteAtOnce) {
  std::vector<uint8_t> record = new_v2_record({}, 0, Protocol::kPut, make_slot(1, 0, 0));
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.declared_length, 0u);
  EXPECT_EQ(d.state.flags, kFlagComplete);
}

TEST(UploadRecordTest, NewRecordPlacesFirstSlotBySequenceAndLeavesTheOtherZero) {
  std::vector<uint8_t> record = fresh_record(2);
  ASSERT_EQ(slot_file_offset(1), kSlotBytes);
  ASSERT_EQ(slot_file_offset(2), 0u);
  // Sequence 1 is odd: slot B at 512. Slot A is untouched zeros.
  for (size_t i = 0; i < kSlotBytes; ++i) ASSERT_EQ(record[i], 0) << "byte " << i;
  CommitSlot b;
  ASSERT_TRUE(decode_slot(record.data() + kSlotBytes, &b));
  EXPECT_EQ(b.sequence, 1u);
  CommitSlot a;
  EXPECT_FALSE(decode_slot(record.data(), &a));
}

TEST(UploadRecordTest, SlotRoundTrip) {
  uint8_t bytes[kSlotBytes];
  for (uint32_t extra : {0u, kFlagFinishDelivered}) {
    for (uint64_t length : {uint64_t{0x2122232425262728ull}, kUnknownLength}) {
      for (uint64_t offset : {uint64_t{0x1112131415161718ull}, length}) {
        CommitSlot in = make_slot(0x0102030405060708ull, offset, length, extra);
        in.expires_unix_ms = 0x4142434445464748ull;
        ASSERT_TRUE(slot_is_consistent(in));
        encode_slot(in, bytes);
        CommitSlot out;
        ASSERT_TRUE(decode_slot(bytes, &out));
        expect_slot_eq(out, in);
      }
    }
  }
}

TEST(UploadRecordTest, SlotConsistencyRule) {
  EXPECT_TRUE(slot_is_consistent(make_slot(1, 0)));
  EXPECT_TRUE(slot_is_consistent(make_slot(1, kLength)));  // complete set by make_slot
  EXPECT_FALSE(slot_is_consistent(CommitSlot{0, 0, kLength, 0, 0, 0}));  // sequence 0
  EXPECT_FALSE(slot_is_consistent(CommitSlot{1, kLength, kLength, 0, 0, 0}));
  EXPECT_FALSE(slot_is_consistent(CommitSlot{1, 5, kLength, kFlagComplete, 0, 0}));
  EXPECT_FALSE(slot_is_consistent(CommitSlot{1, 0, kUnknownLength, kFlagComplete, 0, 0}));
  EXPECT_FALSE(slot_is_consistent(
      CommitSlot{1, kUnknownLength, kUnknownLength, kFlagComplete, 0, 0}));  // never complete
  EXPECT_TRUE(slot_is_consistent(CommitSlot{1, kUnknownLength, kUnknownLength, 0, 0, 0}));
  EXPECT_TRUE(slot_is_consistent(CommitSlot{1, 0, kLength, kFlagContentCrc, 0, 0, 7}));
  EXPECT_FALSE(slot_is_consistent(CommitSlot{1, 0, kLength, 0, 0, 0, 7}));  // CRC without flag
  EXPECT_FALSE(slot_is_consistent(CommitSlot{1, 0, kLength, 8, 0, 0}));
  EXPECT_FALSE(slot_is_consistent(CommitSlot{1, 0, kLength, 0x80000000u, 0, 0}));
}

TEST(UploadRecordTest, NewestSlotWins) {
  for (uint16_t version : {1, 2}) {
    SCOPED_TRACE(version);
    std::vector<uint8_t> record = fresh_record(version);

    CommitSlot s2 = make_slot(2, 100);
    write_slot(record, version, s2);
    DecodedRecord d2 = decode(record);
    ASSERT_EQ(d2.error, RecordError::kOk);
    expect_slot_eq(d2.state, s2);
    EXPECT_EQ(d2.used_slot, SlotPosition::kA);
    EXPECT_EQ(d2.other_slot, SlotStatus::kValidOlder);

    CommitSlot s3 = make_slot(3, 250);
    write_slot(record, version, s3);  // overwrites slot B (sequence 1)
    DecodedRecord d3 = decode(record);
    ASSERT_EQ(d3.error, RecordError::kOk);
    expect_slot_eq(d3.state, s3);
    EXPECT_EQ(d3.used_slot, SlotPosition::kB);

    CommitSlot s4 = make_slot(4, kLength);
    write_slot(record, version, s4);  // overwrites slot A (sequence 2)
    DecodedRecord d4 = decode(record);
    ASSERT_EQ(d4.error, RecordError::kOk);
    expect_slot_eq(d4.state, s4);
    EXPECT_EQ(d4.state.flags, kFlagComplete);
  }
}

TEST(UploadRecordTest, NewestSlotWinsWhicheverPositionItIsIn) {
  // The higher sequence wins even if it sits in slot B and slot A has a lower one.
  std::vector<uint8_t> record = fresh_record(2);
  encode_slot(make_slot(8, 10), record.data());
  encode_slot(make_slot(9, 20), record.data() + kSlotBytes);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.sequence, 9u);
  EXPECT_EQ(d.state.committed_offset, 20u);
  EXPECT_EQ(d.used_slot, SlotPosition::kB);

  encode_slot(make_slot(11, 30), record.data());
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.sequence, 11u);
  EXPECT_EQ(d.state.committed_offset, 30u);
  EXPECT_EQ(d.used_slot, SlotPosition::kA);
}

TEST(UploadRecordTest, OffsetEqualToLengthIsValid) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    write_slot(record, version, make_slot(2, kLength));
    DecodedRecord d = decode(record);
    ASSERT_EQ(d.error, RecordError::kOk) << version;
    EXPECT_EQ(d.state.committed_offset, kLength);
    EXPECT_EQ(d.state.flags, kFlagComplete);
  }
}

TEST(UploadRecordTest, MetadataAtTheLimitIsAccepted) {
  // v2: one pair that makes the block exactly kMaxMetadataBytes.
  std::string value(kMaxMetadataBytes - 4 - 2 - 1 - 4, 'a');
  std::vector<uint8_t> record = new_v2_record({{"k", value}});
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.metadata.size(), kMaxMetadataBytes);

  // v1: a text of exactly kMaxMetadataBytes characters.
  std::string text = "k   " + std::string(kMaxMetadataBytes - 4, 'A');
  ASSERT_EQ(text.size(), kMaxMetadataBytes);
  std::vector<uint8_t> v1 = new_v1_record(text);
  d = decode(v1);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.metadata.size(), kMaxMetadataBytes);
}

TEST(UploadRecordTest, TrailingBytesAfterMetadataAreIgnored) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    size_t metadata_bytes = record.size() - kHeaderOffset - kHeaderFixedBytes;
    record.resize(record.size() + 100, 0xEE);
    DecodedRecord d = decode(record);
    ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
    EXPECT_EQ(d.header.metadata.size(), metadata_bytes);
  }
}

TEST(UploadRecordTest, DecodeHeaderFromTheHeaderBytesAlone) {
  // What the server reads for HEAD: only [1024, 1024 + 64 + metadata bytes).
  for (uint16_t version : {1, 2}) {
    SCOPED_TRACE(version);
    std::vector<uint8_t> record = fresh_record(version);
    std::vector<uint8_t> header(record.begin() + kHeaderOffset, record.end());
    HeaderDecode h = decode_header(header.data(), header.size());
    ASSERT_EQ(h.error, RecordError::kOk) << record_error_name(h.error);
    EXPECT_EQ(h.total_bytes, header.size());
    EXPECT_EQ(h.header.version, version);
    EXPECT_EQ(h.header.protocol, Protocol::kTus);
    EXPECT_EQ(h.header.id, kId);
    EXPECT_EQ(h.header.declared_length, kLength);
    EXPECT_EQ(read_pairs(version, h.header.metadata).pairs, kPairs);
    // Larger buffers are fine; shorter ones are not.
    header.resize(header.size() + 7, 0);
    EXPECT_EQ(decode_header(header.data(), header.size()).error, RecordError::kOk);
    EXPECT_EQ(decode_header(header.data(), h.total_bytes - 1).error, RecordError::kMetadataLength);
    EXPECT_EQ(decode_header(header.data(), kHeaderFixedBytes - 1).error, RecordError::kTooShort);
  }
}

TEST(UploadRecordTest, DecodingAllocatesNothing) {
  // What the server does on a reactor thread: commit slots, and HEAD's header and metadata.
  // Nothing inside the counted stretch may allocate, gtest's assertions included.
  uint64_t creation_start = t_operator_new_calls;
  std::vector<uint8_t> v2 = new_v2_record();
  std::vector<uint8_t> v1 = new_v1_record();
  EXPECT_GT(t_operator_new_calls, creation_start);  // the counter does count: creation allocates
  uint8_t scratch[64];
  uint8_t slot[kSlotBytes];
  bool all_ok = true;
  size_t value_bytes = 0;
  uint64_t before = t_operator_new_calls;
  for (const std::vector<uint8_t>* record : {&v1, &v2}) {
    DecodedRecord d = decode_record(record->data(), record->size(), kId);
    HeaderDecode h = decode_header(record->data() + kHeaderOffset, record->size() - kHeaderOffset);
    all_ok &= d.error == RecordError::kOk && h.error == RecordError::kOk;
    MetadataReader reader(h.header.version, h.header.metadata, scratch);
    std::string_view key;
    std::string_view value;
    while (reader.next(&key, &value) == MetadataReader::Result::kPair) value_bytes += value.size();
    all_ok &= check_metadata(h.header.version, h.header.metadata) == RecordError::kOk;
    CommitSlot next = d.state;
    next.sequence += 1;
    encode_slot(next, slot);
    all_ok &= decode_slot(slot, &next);
  }
  uint64_t after = t_operator_new_calls;
  EXPECT_EQ(after, before);
  EXPECT_TRUE(all_ok);
  EXPECT_EQ(value_bytes, 2u * (9 + 10));  // the pairs were really read, from both versions
}

// ---------------------------------------------------------------------------------------------
// Slot status: which slot was used and what the other one holds.

TEST(UploadRecordSlotStatusTest, NeverWrittenSlotIsReportedEmpty) {
  for (uint16_t version : {1, 2}) {
    DecodedRecord d = decode(fresh_record(version));
    ASSERT_EQ(d.error, RecordError::kOk);
    EXPECT_EQ(d.used_slot, SlotPosition::kB);
    EXPECT_EQ(d.other_slot, SlotStatus::kEmpty) << version;
    EXPECT_FALSE(d.newest_slot_corrupt);
  }
}

TEST(UploadRecordSlotStatusTest, PreviousCommitIsReportedValidOlder) {
  std::vector<uint8_t> record = fresh_record(2);
  write_slot(record, 2, make_slot(2, 10));
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.used_slot, SlotPosition::kA);
  EXPECT_EQ(d.other_slot, SlotStatus::kValidOlder);
  EXPECT_FALSE(d.newest_slot_corrupt);
}

TEST(UploadRecordSlotStatusTest, NewestSlotCorruptIsReportedAsFallback) {
  std::vector<uint8_t> record = fresh_record(2);
  CommitSlot older = make_slot(2, 300);
  write_slot(record, 2, older);
  write_slot(record, 2, make_slot(3, 600));  // newest, in slot B
  record[kSlotBytes + 100] ^= 0x01;          // a padding byte: the CRC no longer matches
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, older);
  EXPECT_EQ(d.used_slot, SlotPosition::kA);
  EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);
  EXPECT_TRUE(d.newest_slot_corrupt);
}

TEST(UploadRecordSlotStatusTest, OlderSlotCorruptIsNotAFallback) {
  std::vector<uint8_t> record = fresh_record(2);
  write_slot(record, 2, make_slot(2, 300));  // older, in slot A
  CommitSlot newest = make_slot(3, 600);
  write_slot(record, 2, newest);
  record[20] ^= 0x40;  // the older slot's committed_offset
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, newest);
  EXPECT_EQ(d.used_slot, SlotPosition::kB);
  EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);
  EXPECT_FALSE(d.newest_slot_corrupt);
}

TEST(UploadRecordSlotStatusTest, CorruptSlotBesideTheFirstCommitIsAFallback) {
  // Nothing is older than sequence 1, so whatever is in the other slot was written later:
  // here the first 8 bytes of commit 2 (its sequence field never made it).
  std::vector<uint8_t> record = fresh_record(2);
  uint8_t next[kSlotBytes];
  encode_slot(make_slot(2, 50), next);
  std::memcpy(record.data(), next, 8);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.sequence, 1u);
  EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);
  EXPECT_TRUE(d.newest_slot_corrupt);
}

// ---------------------------------------------------------------------------------------------
// Version 1: records a v1 server wrote, built by hand, still decode.

TEST(UploadRecordV1Test, V1RecordDecodes) {
  std::vector<uint8_t> record = new_v1_record();
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.version, 1u);
  EXPECT_EQ(d.header.protocol, Protocol::kTus);  // v1 was only ever tus
  EXPECT_FALSE(d.header.length_deferred);
  EXPECT_EQ(d.header.id, kId);
  EXPECT_EQ(d.header.created_unix_ms, kCreated);
  EXPECT_EQ(d.header.declared_length, kLength);
  EXPECT_EQ(std::string_view(reinterpret_cast<const char*>(d.header.metadata.data()),
                             d.header.metadata.size()),
            kMetadataV1);
  expect_slot_eq(d.state, make_slot(1, 0));
  EXPECT_EQ(d.state.expires_unix_ms, 0u);
}

TEST(UploadRecordV1Test, ByteLayoutIsPinnedV1) {
  // The v1 test's image (field values chosen to show byte order), read by the v2 decoder.
  HandHeader h;
  h.version = 1;
  h.created_unix_ms = 0x0102030405060708ull;
  h.length = 0x0A0B0C0D0E0F1011ull;
  const std::string metadata = "k dg==";
  h.metadata.assign(metadata.begin(), metadata.end());
  std::vector<uint8_t> record = hand_record(h);
  CommitSlot first{1, 0x55, h.length, 0, 0x77, 0};
  CommitSlot second{2, h.length - 1, h.length, 0, 0x2122232425262728ull, 0};
  hand_slot_v1(record.data() + 512, first);
  hand_slot_v1(record.data() + 0, second);
  EXPECT_EQ(record[1024 + 4], 1);
  EXPECT_EQ(record[4], 1);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.created_unix_ms, 0x0102030405060708ull);
  EXPECT_EQ(d.header.declared_length, 0x0A0B0C0D0E0F1011ull);
  expect_slot_eq(d.state, second);
  EXPECT_EQ(read_pairs(1, d.header.metadata).pairs, (Pairs{{"k", "v"}}));
}

TEST(UploadRecordV1Test, V1RecordWithV2SlotDecodes) {
  // A v1 record that this server recovered and then committed to: v2 slots over v1 ones.
  std::vector<uint8_t> record = new_v1_record();
  write_slot(record, 1, make_slot(2, 100));
  CommitSlot v2 = make_slot(3, 200);
  v2.expires_unix_ms = 1800000000000;
  write_slot(record, 2, v2);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.version, 1u);
  expect_slot_eq(d.state, v2);
  EXPECT_EQ(d.other_slot, SlotStatus::kValidOlder);

  // ... up to completion.
  CommitSlot done = make_slot(4, kLength);
  write_slot(record, 2, done);
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  expect_slot_eq(d.state, done);

  // A v1 header's length is known, so a v2 slot saying "unknown" disagrees with it.
  write_slot(record, 2, make_slot(5, 10, kUnknownLength));
  EXPECT_EQ(decode(record).error, RecordError::kLengthMismatch);
}

TEST(UploadRecordV1Test, V1SlotFlagsAreRestatedByTheV2Rule) {
  // v1 defined only the complete bit and never checked the others: such slots stay valid, and
  // read with the complete bit as the v2 rule says (what every v1 writer wrote).
  uint8_t bytes[kSlotBytes];
  hand_slot_v1(bytes, CommitSlot{3, 10, kLength, 0xA1B2C3D4u, 9, 0});
  CommitSlot out;
  ASSERT_TRUE(decode_slot(bytes, &out));
  EXPECT_EQ(out.flags, 0u);
  EXPECT_EQ(out.committed_offset, 10u);
  hand_slot_v1(bytes, CommitSlot{3, kLength, kLength, 0, 9, 0});
  ASSERT_TRUE(decode_slot(bytes, &out));
  EXPECT_EQ(out.flags, kFlagComplete);
  // Nor were its reserved bytes checked, and they are not now (v2 checks its own).
  bytes[36] = 1;
  bytes[300] = 1;
  reseal_slot(bytes);
  EXPECT_TRUE(decode_slot(bytes, &out));
}

TEST(UploadRecordV1Test, V1HeaderReservedBytesAreIgnored) {
  // In v1, bytes 6..7 were reserved: they are not a protocol or flags there.
  std::vector<uint8_t> record = new_v1_record();
  record[kHeaderOffset + 6] = 0xFF;
  record[kHeaderOffset + 7] = 0xFF;
  reseal_header(record);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.protocol, Protocol::kTus);
  EXPECT_FALSE(d.header.length_deferred);
}

// ---------------------------------------------------------------------------------------------
// Metadata: writer, reader, and the same pairs from either version.

TEST(MetadataTest, ReadsTheSamePairsFromV1TextAndV2Block) {
  struct Case {
    std::string v1;
    Pairs pairs;
  };
  const Case cases[] = {
      {std::string(kMetadataV1), kPairs},
      {"", {}},
      {" \t ", {}},
      {"a", {{"a", ""}}},
      {"a ,b YQ==", {{"a", ""}, {"b", "a"}}},
      {" filename  d29ybGQudHh0 ,\tempty,x+/ AAD/",
       {{"filename", "world.txt"}, {"empty", ""}, {"x+/", std::string("\x00\x00\xff", 3)}}},
      {"k Zh==", {{"k", "f"}}},  // non-canonical final bits: dropped, as tus did
      {"is_confidential,name YWI=", {{"is_confidential", ""}, {"name", "ab"}}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.v1);
    ReadPairs from_v1 = read_pairs(1, bytes_of(c.v1));
    EXPECT_EQ(from_v1.end, MetadataReader::Result::kEnd);
    EXPECT_EQ(from_v1.pairs, c.pairs);
    EXPECT_EQ(check_metadata(1, bytes_of(c.v1)), RecordError::kOk);
    std::vector<uint8_t> block = block_of(c.pairs);
    ReadPairs from_v2 = read_pairs(2, block);
    EXPECT_EQ(from_v2.end, MetadataReader::Result::kEnd);
    EXPECT_EQ(from_v2.pairs, c.pairs);
    // And what the tus decoder made of the same header value when the upload was created.
    Pairs from_tus;
    tus::MetadataDecoder decoder(c.v1);
    std::vector<char> buffer(c.v1.size() + 1);
    tus::MetadataPair pair;
    while (decoder.next(buffer.data(), buffer.size(), &pair) ==
           tus::MetadataDecoder::Result::kPair) {
      from_tus.emplace_back(std::string(pair.key), std::string(pair.value));
    }
    EXPECT_EQ(from_tus, c.pairs);
  }
}

TEST(MetadataTest, V1GrammarIsTheTusGrammar) {
  // Everything tus::valid_metadata() refuses, v1 refuses, and the other way round.
  const std::string_view kTexts[] = {
      "a YQ==,", "a YQ==,,b Yg==", ",a",       "a\tYQ==",       "n\xc3\xa9 YQ==",
      "a YQ=",   "a not*base64",   "a YQ== x", "a YQ==,a Yg==", "a,a",
      "a b c",   "a\x01 YQ==",     "a  YQ==",  "\ta\t",         "a YQ==\t,\tb",
  };
  for (std::string_view text : kTexts) {
    bool tus_ok = tus::valid_metadata(text);
    RecordError ours = check_metadata(1, bytes_of(text));
    EXPECT_EQ(tus_ok, ours == RecordError::kOk) << text;
  }
  EXPECT_EQ(check_metadata(1, bytes_of("a YQ==,a Yg==")), RecordError::kMetadataDuplicateKey);
  EXPECT_EQ(check_metadata(1, bytes_of("a YQ=")), RecordError::kMetadataFormat);
}

TEST(MetadataTest, V1PairLimitIsTheTusLimit) {
  std::string text;
  for (int i = 0; i < 64; ++i) text += (i ? ",k" : "k") + std::to_string(i);
  EXPECT_EQ(check_metadata(1, bytes_of(text)), RecordError::kOk);
  EXPECT_TRUE(tus::valid_metadata(text));
  text += ",k64";
  EXPECT_EQ(check_metadata(1, bytes_of(text)), RecordError::kMetadataFormat);
  EXPECT_FALSE(tus::valid_metadata(text));
}

TEST(MetadataTest, V1ScratchTooSmallConsumesNothing) {
  const std::string text = "a YWJj,b ZA==";  // "abc", "d"
  uint8_t small[2];
  MetadataReader reader(1, bytes_of(text), small);
  std::string_view key;
  std::string_view value;
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kScratchTooSmall);
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kScratchTooSmall);
  // The key alone needs no scratch, and moves on.
  EXPECT_EQ(reader.next_key(&key), MetadataReader::Result::kPair);
  EXPECT_EQ(key, "a");
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kPair);
  EXPECT_EQ(key, "b");
  EXPECT_EQ(value, "d");
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kEnd);

  // metadata_scratch_bytes() of the text always suffices; one byte less than a value does not.
  std::vector<uint8_t> exact(3);
  MetadataReader enough(1, bytes_of(text), exact);
  EXPECT_EQ(enough.next(&key, &value), MetadataReader::Result::kPair);
  EXPECT_EQ(value, "abc");
  EXPECT_GE(metadata_scratch_bytes(text.size()), 3u);
}

TEST(MetadataTest, ReaderMalformedIsSticky) {
  const std::string text = "a YQ==,b !!!!,c Yw==";
  std::vector<uint8_t> scratch(16);
  MetadataReader reader(1, bytes_of(text), scratch);
  std::string_view key;
  std::string_view value;
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kPair);
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kMalformed);
  EXPECT_EQ(reader.next(&key, &value), MetadataReader::Result::kMalformed);
  // An unknown version reads as malformed.
  MetadataReader v3(3, bytes_of(text), scratch);
  EXPECT_EQ(v3.next(&key, &value), MetadataReader::Result::kMalformed);
}

TEST(MetadataTest, WriterRefusesBadKeysAndLeavesTheBlockAlone) {
  MetadataBlockWriter writer;
  EXPECT_FALSE(writer.add("", "v"));
  EXPECT_TRUE(writer.block().empty());
  EXPECT_TRUE(writer.add("a", "1"));
  std::vector<uint8_t> before(writer.block().begin(), writer.block().end());
  EXPECT_FALSE(writer.add("a", "2"));  // duplicate
  EXPECT_FALSE(writer.add(std::string(kMaxMetadataKeyBytes + 1, 'k'), "v"));
  EXPECT_FALSE(writer.add("big", std::string(kMaxMetadataBytes, 'v')));  // block over 1 MiB
  EXPECT_EQ(std::vector<uint8_t>(writer.block().begin(), writer.block().end()), before);
  EXPECT_EQ(writer.pairs(), 1u);
  EXPECT_TRUE(writer.add(std::string(kMaxMetadataKeyBytes, 'k'), ""));
  EXPECT_EQ(writer.block().size(), before.size() + 2 + kMaxMetadataKeyBytes + 4);
  EXPECT_EQ(check_metadata(2, writer.block()), RecordError::kOk);
}

TEST(MetadataTest, WriterStopsAtThePairLimit) {
  MetadataBlockWriter writer;
  for (uint32_t i = 0; i < kMaxMetadataPairs; ++i) {
    ASSERT_TRUE(writer.add("k" + std::to_string(i), "")) << i;
  }
  EXPECT_FALSE(writer.add("one-more", ""));
  EXPECT_EQ(check_metadata(2, writer.block()), RecordError::kOk);
  // A block claiming more pairs than the limit is malformed however it continues.
  std::vector<uint8_t> over = hand_block({{"a", ""}}, kMaxMetadataPairs + 1);
  EXPECT_EQ(check_metadata(2, over), RecordError::kMetadataFormat);
}

// ---------------------------------------------------------------------------------------------
// One test per kind of corruption. Those that v1 had run against both versions.

TEST(UploadRecordCorruptionTest, TooShort) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = version == 1 ? new_v1_record("") : new_v2_record({});
    ASSERT_EQ(decode(record).error, RecordError::kOk);
    for (size_t size : {size_t{0}, size_t{1}, size_t{512}, size_t{1024}, size_t{1087}}) {
      std::vector<uint8_t> truncated(record.begin(), record.begin() + static_cast<long>(size));
      EXPECT_EQ(decode(truncated).error, RecordError::kTooShort) << "size " << size;
    }
  }
}

TEST(UploadRecordCorruptionTest, BadHeaderMagic) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    record[kHeaderOffset + 3] ^= 0x01;
    EXPECT_EQ(decode(record).error, RecordError::kBadHeaderMagic);

    std::vector<uint8_t> zeroed = fresh_record(version);
    std::memset(zeroed.data() + kHeaderOffset, 0, 4);
    EXPECT_EQ(decode(zeroed).error, RecordError::kBadHeaderMagic);

    // A slot magic where the header magic should be is still wrong.
    std::vector<uint8_t> swapped = fresh_record(version);
    le_put(swapped.data() + kHeaderOffset, kSlotMagic, 4);
    EXPECT_EQ(decode(swapped).error, RecordError::kBadHeaderMagic);
  }
}

TEST(UploadRecordCorruptionTest, UnknownHeaderVersion) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    for (uint16_t bad : {0, 4, 0x0102, 0xFFFF}) {
      le_put(record.data() + kHeaderOffset + 4, bad, 2);
      reseal_header(record);  // checksum fine: only the version is unknown
      EXPECT_EQ(decode(record).error, RecordError::kUnknownHeaderVersion) << bad;
    }
  }
}

TEST(UploadRecordCorruptionTest, HeaderChecksumMetadataByte) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    record[kHeaderOffset + kHeaderFixedBytes + 3] ^= 0x20;
    EXPECT_EQ(decode(record).error, RecordError::kHeaderChecksum);

    std::vector<uint8_t> last = fresh_record(version);
    last.back() ^= 0x01;
    EXPECT_EQ(decode(last).error, RecordError::kHeaderChecksum);
  }
}

TEST(UploadRecordCorruptionTest, HeaderChecksumHeaderFieldByte) {
  // created_unix_ms, length, an id byte, protocol/reserved, flags/reserved, the crc itself.
  for (uint16_t version : {1, 2}) {
    for (size_t field :
         {size_t{40}, size_t{48}, size_t{55}, size_t{8 + 5}, size_t{6}, size_t{7}, size_t{60}}) {
      std::vector<uint8_t> record = fresh_record(version);
      record[kHeaderOffset + field] ^= 0x04;
      EXPECT_EQ(decode(record).error, RecordError::kHeaderChecksum) << "header byte " << field;
    }
  }
}

TEST(UploadRecordCorruptionTest, MetadataLength) {
  for (uint16_t version : {1, 2}) {
    SCOPED_TRACE(version);
    // Length field larger than the file.
    std::vector<uint8_t> record = fresh_record(version);
    size_t metadata_bytes = record.size() - kHeaderOffset - kHeaderFixedBytes;
    le_put(record.data() + kHeaderOffset + 56, metadata_bytes + 1, 4);
    EXPECT_EQ(decode(record).error, RecordError::kMetadataLength);

    // File truncated inside the metadata.
    std::vector<uint8_t> truncated = fresh_record(version);
    truncated.pop_back();
    EXPECT_EQ(decode(truncated).error, RecordError::kMetadataLength);

    // Huge length field: must not overflow into "fits".
    std::vector<uint8_t> huge = fresh_record(version);
    le_put(huge.data() + kHeaderOffset + 56, 0xFFFFFFFFu, 4);
    EXPECT_EQ(decode(huge).error, RecordError::kMetadataLength);

    // Over kMaxMetadataBytes, even though the file is long enough and the checksum is right.
    std::vector<uint8_t> over = version == 1 ? new_v1_record("") : new_v2_record({});
    over.resize(over.size() + kMaxMetadataBytes + 1, 'a');
    le_put(over.data() + kHeaderOffset + 56, kMaxMetadataBytes + 1, 4);
    reseal_header(over);
    EXPECT_EQ(decode(over).error, RecordError::kMetadataLength);
  }
}

TEST(UploadRecordCorruptionTest, IdMismatch) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    EXPECT_EQ(decode(record, kOtherId).error, RecordError::kIdMismatch);
    // Differing only in case or length is still a mismatch.
    EXPECT_EQ(decode(record, "0123456789ABCDEF0123456789ABCDEF").error, RecordError::kIdMismatch);
    EXPECT_EQ(decode(record, kId.substr(0, 31)).error, RecordError::kIdMismatch);

    // A record whose header (correctly sealed) names another upload.
    std::vector<uint8_t> renamed = fresh_record(version);
    std::memcpy(renamed.data() + kHeaderOffset + 8, kOtherId.data(), kIdChars);
    reseal_header(renamed);
    EXPECT_EQ(decode(renamed, kId).error, RecordError::kIdMismatch);
    EXPECT_EQ(decode(renamed, kOtherId).error, RecordError::kOk);
  }
}

TEST(UploadRecordCorruptionTest, NoValidSlotBothZeroed) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    std::memset(record.data(), 0, 2 * kSlotBytes);
    EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
  }
}

TEST(UploadRecordCorruptionTest, NoValidSlotBothBadCrc) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    write_slot(record, version, make_slot(2, 10));
    record[16] ^= 0x01;                // slot A committed_offset
    record[kSlotBytes + 508] ^= 0x80;  // slot B crc
    EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
  }
}

TEST(UploadRecordCorruptionTest, NoValidSlotSequenceZeroIsNotACommit) {
  // Correctly checksummed slots with sequence 0 do not count as commits, in either version.
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    auto hand_slot = version == 1 ? hand_slot_v1 : hand_slot_v2;
    hand_slot(record.data(), CommitSlot{0, 0, kLength, 0, 0, 0});
    hand_slot(record.data() + kSlotBytes, CommitSlot{0, 0, kLength, 0, 0, 0});
    CommitSlot s;
    EXPECT_FALSE(decode_slot(record.data(), &s));
    EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
  }
}

TEST(UploadRecordCorruptionTest, OffsetBeyondLength) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    write_slot(record, version, make_slot(2, kLength + 1, kLength));
    EXPECT_EQ(decode(record).error, RecordError::kOffsetBeyondLength);

    write_slot(record, version, make_slot(2, UINT64_MAX, kLength));
    EXPECT_EQ(decode(record).error, RecordError::kOffsetBeyondLength);
  }
}

TEST(UploadRecordCorruptionTest, LengthMismatch) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    write_slot(record, version, make_slot(2, 10, kLength + 1));
    EXPECT_EQ(decode(record).error, RecordError::kLengthMismatch);

    std::vector<uint8_t> shorter = fresh_record(version);
    write_slot(shorter, version, make_slot(2, 10, kLength - 1));
    EXPECT_EQ(decode(shorter).error, RecordError::kLengthMismatch);
  }
}

TEST(UploadRecordCorruptionTest, TornNewestSlotFallsBackToPrevious) {
  for (uint16_t version : {1, 2}) {
    SCOPED_TRACE(version);
    std::vector<uint8_t> record = fresh_record(version);
    CommitSlot older = make_slot(2, 300);
    write_slot(record, version, older);
    write_slot(record, version, make_slot(3, 600));  // newest, in slot B
    ASSERT_EQ(decode(record).state.sequence, 3u);

    // One flipped byte in the newest slot.
    std::vector<uint8_t> flipped = record;
    flipped[kSlotBytes + 17] ^= 0x10;
    DecodedRecord d = decode(flipped);
    ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
    expect_slot_eq(d.state, older);
    EXPECT_TRUE(d.newest_slot_corrupt);

    // A torn write: the first sector-half of a new slot 5 landed over slot B, the rest did not.
    std::vector<uint8_t> torn = record;
    uint8_t next[kSlotBytes];
    encode_slot(make_slot(5, 900), next);
    std::memcpy(torn.data() + kSlotBytes, next, 256);
    d = decode(torn);
    ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
    expect_slot_eq(d.state, older);
    EXPECT_TRUE(d.newest_slot_corrupt);
  }
}

// Slot v3 added the content CRC (bytes 56..59, meaningful with kFlagContentCrc). A v2 slot still
// reads, as one whose CRC is unknown; each version's zero rules and the flag rules hold.
TEST(UploadRecordTest, SlotV2IsStillReadAndV3KeepsItsCrcRules) {
  CommitSlot plain{4, 10, kLength, kFlagFinishDelivered, 9, 8};
  uint8_t bytes[kSlotBytes];
  CommitSlot got;
  hand_slot_v2(bytes, plain);
  ASSERT_TRUE(decode_slot(bytes, &got));
  expect_slot_eq(got, plain);
  EXPECT_EQ(got.content_crc32c, 0u);
  // v2 has no content CRC: neither the flag nor a value at 56 is allowed.
  CommitSlot flagged = plain;
  flagged.flags |= kFlagContentCrc;
  hand_slot_v2(bytes, flagged);
  EXPECT_FALSE(decode_slot(bytes, &got));
  hand_slot_v2(bytes, plain);
  le_put(bytes + 56, 1, 4);
  le_put(bytes + 508, reference_crc32c(bytes, 508), 4);
  EXPECT_FALSE(decode_slot(bytes, &got));
  // v3: the CRC comes back; without the flag it must be zero; bytes from 60 on stay zero.
  flagged.content_crc32c = 0xDEADBEEFu;
  hand_slot_v3(bytes, flagged);
  ASSERT_TRUE(decode_slot(bytes, &got));
  EXPECT_EQ(got.content_crc32c, 0xDEADBEEFu);
  EXPECT_EQ(got.flags, flagged.flags);
  CommitSlot unflagged = plain;
  unflagged.content_crc32c = 5;
  hand_slot_v3(bytes, unflagged);
  EXPECT_FALSE(decode_slot(bytes, &got));
  hand_slot_v3(bytes, flagged);
  bytes[60] = 1;
  le_put(bytes + 508, reference_crc32c(bytes, 508), 4);
  EXPECT_FALSE(decode_slot(bytes, &got));
}

TEST(UploadRecordCorruptionTest, SlotWithUnknownVersionIsIgnored) {
  for (uint16_t bad : {0, 4, 0xFFFF}) {
    std::vector<uint8_t> record = fresh_record(2);
    CommitSlot s1 = make_slot(1, 0);
    write_slot(record, 2, make_slot(2, 500));
    uint8_t* a = record.data() + slot_file_offset(2);
    le_put(a + 4, bad, 2);  // correctly checksummed
    reseal_slot(a);
    CommitSlot ignored;
    EXPECT_FALSE(decode_slot(a, &ignored));
    DecodedRecord d = decode(record);
    ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
    expect_slot_eq(d.state, s1);
    EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);

    // With the only other slot gone, nothing is left.
    std::memset(record.data() + kSlotBytes, 0, kSlotBytes);
    EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
  }
}

TEST(UploadRecordCorruptionTest, SlotWithBadMagicIsIgnored) {
  for (uint16_t version : {1, 2}) {
    std::vector<uint8_t> record = fresh_record(version);
    write_slot(record, version, make_slot(2, 500));
    uint8_t* a = record.data() + slot_file_offset(2);
    le_put(a, kHeaderMagic, 4);
    reseal_slot(a);
    DecodedRecord d = decode(record);
    ASSERT_EQ(d.error, RecordError::kOk);
    EXPECT_EQ(d.state.sequence, 1u);
  }
}

// New in v2: the header fields.

TEST(UploadRecordCorruptionTest, UnknownProtocol) {
  std::vector<uint8_t> record = fresh_record(2);
  for (uint8_t bad : {uint8_t{7}, uint8_t{0x80}, uint8_t{0xFF}}) {
    record[kHeaderOffset + 6] = bad;
    reseal_header(record);
    DecodedRecord d = decode(record);
    EXPECT_EQ(d.error, RecordError::kUnknownProtocol) << int{bad};
  }
  record[kHeaderOffset + 6] = static_cast<uint8_t>(kHighestProtocol);
  reseal_header(record);
  EXPECT_EQ(decode(record).error, RecordError::kOk);
}

TEST(UploadRecordCorruptionTest, HeaderFlagsReservedBit) {
  for (uint8_t bit = 1; bit < 8; ++bit) {
    std::vector<uint8_t> record = fresh_record(2);
    record[kHeaderOffset + 7] |= static_cast<uint8_t>(1u << bit);
    reseal_header(record);
    EXPECT_EQ(decode(record).error, RecordError::kHeaderFlags) << int{bit};
  }
}

TEST(UploadRecordCorruptionTest, DeferredLengthFlagDisagreesWithTheLength) {
  // Flag set, length known.
  std::vector<uint8_t> record = fresh_record(2);
  record[kHeaderOffset + 7] = kHeaderFlagLengthDeferred;
  reseal_header(record);
  EXPECT_EQ(decode(record).error, RecordError::kDeferredLength);

  // Flag clear, length unknown.
  std::vector<uint8_t> unflagged =
      new_v2_record(kPairs, kUnknownLength, Protocol::kTus, make_slot(1, 0, kUnknownLength));
  unflagged[kHeaderOffset + 7] = 0;
  reseal_header(unflagged);
  EXPECT_EQ(decode(unflagged).error, RecordError::kDeferredLength);

  // v1 has no flag: all ones in its length is the same contradiction.
  std::vector<uint8_t> v1 = new_v1_record(kMetadataV1, kUnknownLength);
  EXPECT_EQ(decode(v1).error, RecordError::kDeferredLength);
}

TEST(UploadRecordCorruptionTest, DeferredLengthSlotPastItsOwnLength) {
  // Once a deferred upload's slot states a length, the offset must not pass it.
  std::vector<uint8_t> record =
      new_v2_record(kPairs, kUnknownLength, Protocol::kTus, make_slot(1, 0, kUnknownLength));
  write_slot(record, 2, make_slot(2, 501, 500));
  EXPECT_EQ(decode(record).error, RecordError::kOffsetBeyondLength);
}

TEST(UploadRecordCorruptionTest, MetadataCountMismatch) {
  std::vector<uint8_t> record = fresh_record(2);
  replace_metadata(record, hand_block(kPairs, 3));  // more pairs claimed than present
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  replace_metadata(record, hand_block(kPairs, 1));  // fewer: the second pair is left over
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  replace_metadata(record, hand_block(kPairs, 0));
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  replace_metadata(record, hand_block(kPairs));
  EXPECT_EQ(decode(record).error, RecordError::kOk);
}

TEST(UploadRecordCorruptionTest, MetadataPairPastTheEnd) {
  std::vector<uint8_t> good = hand_block(kPairs);
  std::vector<uint8_t> record = fresh_record(2);
  // The last value's length one too large.
  std::vector<uint8_t> block = good;
  size_t last_value_length_at = good.size() - kPairs[1].second.size() - 4;
  le_put(block.data() + last_value_length_at, kPairs[1].second.size() + 1, 4);
  replace_metadata(record, block);
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  // A value length far past the end (no overflow into "fits").
  le_put(block.data() + last_value_length_at, 0xFFFFFFFFu, 4);
  replace_metadata(record, block);
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  // A key length past the end.
  block = good;
  le_put(block.data() + 4, 0xFFFF, 2);
  replace_metadata(record, block);
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  // The block cut inside a pair, and inside the count.
  for (size_t cut : {good.size() - 1, size_t{4 + 1}, size_t{7}, size_t{3}, size_t{1}}) {
    replace_metadata(record, std::span<const uint8_t>(good.data(), cut));
    EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat) << cut;
  }
}

TEST(UploadRecordCorruptionTest, MetadataEmptyKey) {
  std::vector<uint8_t> record = fresh_record(2);
  replace_metadata(record, hand_block({{"", "value"}}));
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  // And its sibling: a key over the limit.
  replace_metadata(record, hand_block({{std::string(kMaxMetadataKeyBytes + 1, 'k'), ""}}));
  EXPECT_EQ(decode(record).error, RecordError::kMetadataFormat);
  // In v1, an empty key is an empty (or blank) piece.
  std::vector<uint8_t> v1 = new_v1_record("a YQ==, \t ,b Yg==");
  EXPECT_EQ(decode(v1).error, RecordError::kMetadataFormat);
}

TEST(UploadRecordCorruptionTest, MetadataDuplicateKey) {
  std::vector<uint8_t> record = fresh_record(2);
  replace_metadata(record, hand_block({{"a", "1"}, {"b", "2"}, {"a", "3"}}));
  EXPECT_EQ(decode(record).error, RecordError::kMetadataDuplicateKey);
  // Keys are compared as bytes: "a" and "A" differ, "a" and "a\0" differ.
  replace_metadata(record, hand_block({{"a", "1"}, {"A", "2"}, {std::string("a\0", 2), "3"}}));
  EXPECT_EQ(decode(record).error, RecordError::kOk);
  // v1 too.
  EXPECT_EQ(decode(new_v1_record("a YQ==,b,a")).error, RecordError::kMetadataDuplicateKey);
}

TEST(UploadRecordCorruptionTest, MetadataV1NotTusGrammar) {
  // A v1 header (correctly sealed) whose text is not an Upload-Metadata value.
  for (std::string_view text : {"a YQ==,", "a not*base64", "n\xc3\xa9 YQ==", ","}) {
    EXPECT_EQ(decode(new_v1_record(text)).error, RecordError::kMetadataFormat) << text;
  }
}

// New in v2: the slot fields. A slot that breaks them is passed over like a torn one.

TEST(UploadRecordCorruptionTest, ExpiryByteFlippedOlderSlotWins) {
  std::vector<uint8_t> record = fresh_record(2);
  CommitSlot older = make_slot(2, 300);
  older.expires_unix_ms = 1800000000000;
  write_slot(record, 2, older);
  CommitSlot newest = make_slot(3, 600);
  newest.expires_unix_ms = 1900000000000;
  write_slot(record, 2, newest);
  for (size_t byte = 48; byte < 56; ++byte) {
    std::vector<uint8_t> flipped = record;
    flipped[kSlotBytes + byte] ^= 0x01;
    DecodedRecord d = decode(flipped);
    ASSERT_EQ(d.error, RecordError::kOk) << byte;
    expect_slot_eq(d.state, older);  // the older slot's own expiry, not the flipped one
    EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);
    EXPECT_TRUE(d.newest_slot_corrupt);
  }
}

TEST(UploadRecordCorruptionTest, SlotReservedFlagBitIsAnInvalidSlot) {
  std::vector<uint8_t> record = fresh_record(2);
  CommitSlot older = make_slot(2, 300);
  write_slot(record, 2, older);
  for (int bit = 2; bit < 32; ++bit) {
    std::vector<uint8_t> changed = record;
    CommitSlot bad = make_slot(3, 600);
    bad.flags |= 1u << bit;
    hand_slot_v2(changed.data() + kSlotBytes, bad);  // correctly checksummed
    CommitSlot ignored;
    EXPECT_FALSE(decode_slot(changed.data() + kSlotBytes, &ignored)) << bit;
    DecodedRecord d = decode(changed);
    ASSERT_EQ(d.error, RecordError::kOk) << bit;
    expect_slot_eq(d.state, older);
    EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);
  }
  // Alone, it leaves no valid slot.
  std::vector<uint8_t> alone = fresh_record(2);
  hand_slot_v2(alone.data() + kSlotBytes, CommitSlot{1, 0, kLength, 1u << 5, 0, 0});
  EXPECT_EQ(decode(alone).error, RecordError::kNoValidSlot);
}

TEST(UploadRecordCorruptionTest, SlotCompleteFlagInconsistentIsAnInvalidSlot) {
  const CommitSlot inconsistent[] = {
      {3, 600, kLength, kFlagComplete, 0, 0},             // complete before the end
      {3, kLength, kLength, 0, 0, 0},                     // at the end, not complete
      {3, kLength, kLength, kFlagFinishDelivered, 0, 0},  // the same, delivered
      {3, 0, kUnknownLength, kFlagComplete, 0, 0},        // complete, length unknown
      {3, kLength + 1, kLength, kFlagComplete, 0, 0},     // complete past the end
  };
  for (uint64_t header_length : {kLength, kUnknownLength}) {
    std::vector<uint8_t> record = header_length == kLength
                                      ? fresh_record(2)
                                      : new_v2_record(kPairs, kUnknownLength, Protocol::kTus,
                                                      make_slot(1, 0, kUnknownLength));
    CommitSlot older = make_slot(2, 300, header_length);
    write_slot(record, 2, older);
    for (const CommitSlot& bad : inconsistent) {
      std::vector<uint8_t> changed = record;
      hand_slot_v2(changed.data() + kSlotBytes, bad);
      DecodedRecord d = decode(changed);
      ASSERT_EQ(d.error, RecordError::kOk) << bad.committed_offset;
      expect_slot_eq(d.state, older);
      EXPECT_EQ(d.other_slot, SlotStatus::kCorrupt);
    }
  }
}

TEST(UploadRecordCorruptionTest, SlotReservedBytesNonZeroIsAnInvalidSlot) {
  std::vector<uint8_t> record = fresh_record(2);
  write_slot(record, 2, make_slot(2, 300));
  write_slot(record, 2, make_slot(3, 600));
  for (size_t byte :
       {size_t{6}, size_t{7}, size_t{36}, size_t{39}, size_t{56}, size_t{300}, size_t{507}}) {
    std::vector<uint8_t> changed = record;
    changed[kSlotBytes + byte] = 0x01;
    reseal_slot(changed.data() + kSlotBytes);
    DecodedRecord d = decode(changed);
    ASSERT_EQ(d.error, RecordError::kOk) << byte;
    EXPECT_EQ(d.state.sequence, 2u) << byte;
  }
}

// ---------------------------------------------------------------------------------------------
// Version 3: partial and final uploads (concatenation).

constexpr std::string_view kPartA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
constexpr std::string_view kPartB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

// A final of kPartA (600 bytes), kPartB (0 bytes), kPartA again (400 bytes): kLength in all,
// created complete.
std::vector<uint8_t> new_final_record(const Pairs& pairs = kPairs) {
  const PartEntry parts[] = {{kPartA, 600}, {kPartB, 0}, {kPartA, 400}};
  std::vector<uint8_t> block = block_of(pairs);
  NewRecordConcat concat;
  concat.parts = parts;
  return encode_new_record(NewRecord{kId, kCreated, kLength, Protocol::kTus, block},
                           make_slot(1, kLength), concat);
}

// Where a final's parts block starts in the record file.
size_t parts_at(const std::vector<uint8_t>& record) {
  return kHeaderOffset + kHeaderFixedBytes + le_get(record.data() + kHeaderOffset + 56, 4);
}

// Rewrites the parts block's checksum (after a deliberate edit, or after reseal_header()).
void reseal_parts(std::vector<uint8_t>& record) {
  size_t at = parts_at(record);
  size_t count = le_get(record.data() + at, 4);
  size_t sealed = 4 + count * 40;
  uint32_t header_crc = static_cast<uint32_t>(le_get(record.data() + kHeaderOffset + 60, 4));
  le_put(record.data() + at + sealed, reference_crc32c(record.data() + at, sealed, header_crc), 4);
}

TEST(UploadRecordV3Test, ByteLayoutIsPinnedV3Final) {
  EXPECT_EQ(kHeaderVersionV2, 2u);
  EXPECT_EQ(kHeaderVersionV3, 3u);
  EXPECT_EQ(kHeaderFlagPartial, 2u);
  EXPECT_EQ(kHeaderFlagFinal, 4u);
  EXPECT_EQ(kPartEntryBytes, 40u);
  EXPECT_EQ(kMaxFinalParts, 10000u);
  EXPECT_EQ(parts_block_bytes(3), 4u + 3 * 40 + 4);

  std::vector<uint8_t> record = new_final_record({{"k", "v"}});
  const std::vector<uint8_t> block = {1, 0, 0, 0, 1, 0, 'k', 1, 0, 0, 0, 'v'};
  std::vector<uint8_t> expected(1024 + 64 + block.size() + 4 + 3 * 40 + 4, 0);
  hand_slot_v3(expected.data() + 512, make_slot(1, kLength));
  uint8_t* h = expected.data() + 1024;
  std::memcpy(h, "RGHD", 4);
  le_put(h + 4, 3, 2);  // header version 3
  h[6] = 1;             // tus
  h[7] = 4;             // final
  std::memcpy(h + 8, kId.data(), 32);
  le_put(h + 40, kCreated, 8);
  le_put(h + 48, kLength, 8);
  le_put(h + 56, block.size(), 4);
  std::memcpy(h + 64, block.data(), block.size());
  uint32_t hcrc = reference_crc32c(h, 64);  // crc field still zero here
  hcrc = reference_crc32c(h + 64, block.size(), hcrc);
  le_put(h + 60, hcrc, 4);
  uint8_t* p = h + 64 + block.size();
  le_put(p, 3, 4);  // part count
  const std::pair<std::string_view, uint64_t> parts[] = {{kPartA, 600}, {kPartB, 0}, {kPartA, 400}};
  for (size_t i = 0; i < 3; ++i) {
    std::memcpy(p + 4 + i * 40, parts[i].first.data(), 32);
    le_put(p + 4 + i * 40 + 32, parts[i].second, 8);
  }
  le_put(p + 124, reference_crc32c(p, 124, hcrc), 4);  // seeded with the header's CRC

  ASSERT_EQ(record.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(record[i], expected[i]) << "byte " << i << " differs";
  }
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.version, 3u);
  EXPECT_TRUE(d.header.final);
  EXPECT_FALSE(d.header.partial);
  ASSERT_EQ(d.header.part_count, 3u);
  for (uint32_t i = 0; i < 3; ++i) {
    PartEntry part = part_at(d.header, i);
    EXPECT_EQ(part.id, parts[i].first);
    EXPECT_EQ(part.length, parts[i].second);
  }
  EXPECT_EQ(d.state.committed_offset, kLength);
  EXPECT_EQ(d.state.flags, kFlagComplete);
  ReadPairs read = read_pairs(d.header.version, d.header.metadata);
  EXPECT_EQ(read.pairs, (Pairs{{"k", "v"}}));
}

TEST(UploadRecordV3Test, PartialIsV3WithFlagOnePlainStaysV2) {
  NewRecordConcat partial;
  partial.partial = true;
  std::vector<uint8_t> block = block_of(kPairs);
  std::vector<uint8_t> record = encode_new_record(
      NewRecord{kId, kCreated, kLength, Protocol::kTus, block}, make_slot(1, 0), partial);
  EXPECT_EQ(le_get(record.data() + kHeaderOffset + 4, 2), 3u);
  EXPECT_EQ(record[kHeaderOffset + 7], kHeaderFlagPartial);
  EXPECT_EQ(record.size(), 1024 + 64 + block.size());  // no parts block
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_TRUE(d.header.partial);
  EXPECT_FALSE(d.header.final);
  EXPECT_EQ(d.header.part_count, 0u);
  EXPECT_EQ(read_pairs(3, d.header.metadata).pairs, kPairs);
  // A partial may have its length deferred, and commits to it as to any upload.
  std::vector<uint8_t> deferred = encode_new_record(
      NewRecord{kId, kCreated, kUnknownLength, Protocol::kTus, {}},
      make_slot(1, 0, kUnknownLength), partial);
  EXPECT_EQ(deferred[kHeaderOffset + 7], kHeaderFlagPartial | kHeaderFlagLengthDeferred);
  write_slot(deferred, 2, make_slot(2, 10, 10));
  d = decode(deferred);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_TRUE(d.header.partial && d.header.length_deferred);
  EXPECT_EQ(d.state.flags, kFlagComplete);
  // Everything else is still written as version 2, readable by a server that knows no more.
  EXPECT_EQ(le_get(new_v2_record().data() + kHeaderOffset + 4, 2), 2u);
}

TEST(UploadRecordV3Test, FinalHeaderAndMetadataDecodeWithoutTheParts) {
  // HEAD reads the header and the metadata only (kHeaderFixedBytes + metadata bytes).
  std::vector<uint8_t> record = new_final_record();
  HeaderDecode h = decode_header(record.data() + kHeaderOffset,
                                 kHeaderFixedBytes + block_of(kPairs).size());
  ASSERT_EQ(h.error, RecordError::kOk) << record_error_name(h.error);
  EXPECT_TRUE(h.header.final);
  EXPECT_EQ(h.total_bytes, kHeaderFixedBytes + block_of(kPairs).size());
  EXPECT_EQ(read_pairs(h.header.version, h.header.metadata).pairs, kPairs);
  EXPECT_EQ(h.header.part_count, 0u);  // not read here
}

TEST(UploadRecordV3Test, TrailingBytesAfterThePartsAreIgnored) {
  std::vector<uint8_t> record = new_final_record();
  record.insert(record.end(), 100, 0xAB);
  EXPECT_EQ(decode(record).error, RecordError::kOk);
}

TEST(UploadRecordV3Test, DecodingAFinalAllocatesNothing) {
  std::vector<uint8_t> record = new_final_record();
  uint64_t before = t_operator_new_calls;
  DecodedRecord d = decode(record);
  EXPECT_EQ(t_operator_new_calls, before);
  EXPECT_EQ(d.error, RecordError::kOk);
}

TEST(UploadRecordCorruptionTest, V2HeaderWithConcatenationFlagsIsHeaderFlags) {
  // Bits 1 and 2 mean something from version 3 on only.
  for (uint8_t flag : {kHeaderFlagPartial, kHeaderFlagFinal}) {
    std::vector<uint8_t> record = fresh_record(2);
    record[kHeaderOffset + 7] |= flag;
    reseal_header(record);
    EXPECT_EQ(decode(record).error, RecordError::kHeaderFlags) << int{flag};
  }
}

TEST(UploadRecordCorruptionTest, V3ReservedHeaderFlagBits) {
  for (uint8_t bit = 3; bit < 8; ++bit) {
    std::vector<uint8_t> record = new_final_record();
    record[kHeaderOffset + 7] |= static_cast<uint8_t>(1u << bit);
    reseal_header(record);
    reseal_parts(record);
    EXPECT_EQ(decode(record).error, RecordError::kHeaderFlags) << int{bit};
  }
}

TEST(UploadRecordCorruptionTest, ConcatFlags) {
  // Partial and final at once.
  std::vector<uint8_t> record = new_final_record();
  record[kHeaderOffset + 7] |= kHeaderFlagPartial;
  reseal_header(record);
  reseal_parts(record);
  EXPECT_EQ(decode(record).error, RecordError::kConcatFlags);
  // A final whose length is deferred.
  record = new_final_record();
  record[kHeaderOffset + 7] |= kHeaderFlagLengthDeferred;
  le_put(record.data() + kHeaderOffset + 48, kUnknownLength, 8);
  reseal_header(record);
  reseal_parts(record);
  EXPECT_EQ(decode(record).error, RecordError::kConcatFlags);
}

TEST(UploadRecordCorruptionTest, PartsLength) {
  std::vector<uint8_t> record = new_final_record();
  size_t at = parts_at(record);
  for (uint32_t count : {0u, kMaxFinalParts + 1, 4u, 0xFFFFFFFFu}) {
    std::vector<uint8_t> changed = record;
    le_put(changed.data() + at, count, 4);
    EXPECT_EQ(decode(changed).error, RecordError::kPartsLength) << count;
  }
  // Cut anywhere inside the block (the header and metadata are whole).
  for (size_t cut = at; cut < record.size(); cut += 7) {
    std::vector<uint8_t> shorter(record.begin(), record.begin() + static_cast<long>(cut));
    EXPECT_EQ(decode(shorter).error, RecordError::kPartsLength) << cut;
  }
}

TEST(UploadRecordCorruptionTest, PartsChecksum) {
  std::vector<uint8_t> record = new_final_record();
  for (size_t at = parts_at(record) + 4; at < record.size(); at += 9) {
    std::vector<uint8_t> changed = record;
    changed[at] ^= 0x10;
    EXPECT_EQ(decode(changed).error, RecordError::kPartsChecksum) << at;
  }
  // The block belongs to its header: one sealed for another header's CRC does not fit.
  std::vector<uint8_t> other = record;
  le_put(other.data() + kHeaderOffset + 40, kCreated + 1, 8);
  reseal_header(other);
  EXPECT_EQ(decode(other).error, RecordError::kPartsChecksum);
}

TEST(UploadRecordCorruptionTest, PartsFormat) {
  std::vector<uint8_t> record = new_final_record();
  size_t first = parts_at(record) + 4;
  auto with = [&](auto edit) {
    std::vector<uint8_t> changed = record;
    edit(changed.data());
    reseal_parts(changed);
    return decode(changed).error;
  };
  // Not an upload id: uppercase hex, a non-hex character.
  EXPECT_EQ(with([&](uint8_t* b) { b[first] = 'A'; }), RecordError::kPartsFormat);
  EXPECT_EQ(with([&](uint8_t* b) { b[first + 31] = 'g'; }), RecordError::kPartsFormat);
  // The record's own id.
  EXPECT_EQ(with([&](uint8_t* b) { std::memcpy(b + first + 40, kId.data(), 32); }),
            RecordError::kPartsFormat);
  // Lengths that do not add up to the declared length, or overflow.
  EXPECT_EQ(with([&](uint8_t* b) { le_put(b + first + 32, 601, 8); }), RecordError::kPartsFormat);
  EXPECT_EQ(with([&](uint8_t* b) { le_put(b + first + 72, UINT64_MAX - 100, 8); }),
            RecordError::kPartsFormat);
  EXPECT_EQ(with([](uint8_t*) {}), RecordError::kOk);
}

TEST(UploadRecordCorruptionTest, FinalIncomplete) {
  std::vector<uint8_t> record = new_final_record();
  write_slot(record, 2, make_slot(2, kLength - 1));  // no writer commits to a final
  EXPECT_EQ(decode(record).error, RecordError::kFinalIncomplete);
}

TEST(UploadRecordTest, EveryErrorHasADistinctStableName) {
  // The names are written into quarantine .reason files: the v1 ones must never change.
  const std::pair<RecordError, const char*> all[] = {
      {RecordError::kOk, "ok"},
      {RecordError::kTooShort, "too-short"},
      {RecordError::kBadHeaderMagic, "bad-header-magic"},
      {RecordError::kUnknownHeaderVersion, "unknown-header-version"},
      {RecordError::kHeaderChecksum, "header-checksum"},
      {RecordError::kMetadataLength, "metadata-length"},
      {RecordError::kIdMismatch, "id-mismatch"},
      {RecordError::kNoValidSlot, "no-valid-slot"},
      {RecordError::kOffsetBeyondLength, "offset-beyond-length"},
      {RecordError::kLengthMismatch, "length-mismatch"},
      {RecordError::kUnknownProtocol, "unknown-protocol"},
      {RecordError::kHeaderFlags, "header-flags"},
      {RecordError::kDeferredLength, "deferred-length"},
      {RecordError::kMetadataFormat, "metadata-format"},
      {RecordError::kMetadataDuplicateKey, "metadata-duplicate-key"},
      {RecordError::kConcatFlags, "concat-flags"},
      {RecordError::kPartsLength, "parts-length"},
      {RecordError::kPartsChecksum, "parts-checksum"},
      {RecordError::kPartsFormat, "parts-format"},
      {RecordError::kFinalIncomplete, "final-incomplete"},
  };
  std::vector<std::string> names;
  for (const auto& [error, expected] : all) {
    std::string name = record_error_name(error);
    EXPECT_EQ(name, expected);
    for (const std::string& other : names) EXPECT_NE(name, other);
    names.push_back(name);
  }
  EXPECT_STREQ(record_error_name(static_cast<RecordError>(200)), "?");
}

}  // namespace
}  // namespace ringest::storage
