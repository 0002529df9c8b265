// Proves the pinned upload-record format: round trips, newest-slot selection, the exact byte
// layout, crc32c, and that every kind of corruption is reported as its own RecordError.
#include "engine/storage/upload_record.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/crc32c.h"

namespace ringest::storage {
namespace {

constexpr std::string_view kId = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kOtherId = "fedcba9876543210fedcba9876543210";
constexpr std::string_view kMetadata = "filename d29ybGQudHh0,filetype dGV4dC9wbGFpbg==";
constexpr uint64_t kLength = 1000;

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

RecordHeader make_header(std::string_view metadata = kMetadata, uint64_t length = kLength) {
  RecordHeader h;
  h.id = std::string(kId);
  h.created_unix_ms = 1700000000123;
  h.upload_length = length;
  h.metadata = std::string(metadata);
  return h;
}

CommitSlot make_slot(uint64_t sequence, uint64_t offset, uint64_t length = kLength,
                     uint32_t flags = 0) {
  CommitSlot s;
  s.sequence = sequence;
  s.committed_offset = offset;
  s.upload_length = length;
  s.flags = flags;
  s.updated_unix_ms = 1700000000000 + sequence;
  return s;
}

// A fresh record whose first commit is sequence 1 at offset 0.
std::vector<uint8_t> fresh_record(std::string_view metadata = kMetadata) {
  return encode_new_record(make_header(metadata), make_slot(1, 0));
}

void write_slot(std::vector<uint8_t>& record, const CommitSlot& slot) {
  ASSERT_GE(record.size(), 2 * kSlotBytes);
  encode_slot(slot, record.data() + slot_file_offset(slot.sequence));
}

DecodedRecord decode(const std::vector<uint8_t>& record, std::string_view expected_id = kId) {
  return decode_record(record.data(), record.size(), expected_id);
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

// Rewrites a slot's checksum after a deliberate edit of its bytes.
void reseal_slot(uint8_t* slot) { le_put(slot + 508, reference_crc32c(slot, 508), 4); }

void expect_slot_eq(const CommitSlot& actual, const CommitSlot& expected) {
  EXPECT_EQ(actual.sequence, expected.sequence);
  EXPECT_EQ(actual.committed_offset, expected.committed_offset);
  EXPECT_EQ(actual.upload_length, expected.upload_length);
  EXPECT_EQ(actual.flags, expected.flags);
  EXPECT_EQ(actual.updated_unix_ms, expected.updated_unix_ms);
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
// Well-formed records

TEST(UploadRecordTest, RoundTrip) {
  RecordHeader header = make_header();
  CommitSlot first = make_slot(1, 0);
  std::vector<uint8_t> record = encode_new_record(header, first);
  EXPECT_EQ(record.size(), kHeaderOffset + kHeaderFixedBytes + kMetadata.size());

  DecodedRecord decoded = decode(record);
  ASSERT_EQ(decoded.error, RecordError::kOk) << record_error_name(decoded.error);
  EXPECT_EQ(decoded.header.id, header.id);
  EXPECT_EQ(decoded.header.created_unix_ms, header.created_unix_ms);
  EXPECT_EQ(decoded.header.upload_length, header.upload_length);
  EXPECT_EQ(decoded.header.metadata, header.metadata);
  expect_slot_eq(decoded.state, first);

  // An empty expected id skips the name check but nothing else.
  DecodedRecord anonymous = decode(record, "");
  ASSERT_EQ(anonymous.error, RecordError::kOk);
  EXPECT_EQ(anonymous.header.id, header.id);
}

TEST(UploadRecordTest, RoundTripEmptyMetadataAndCompleteFlag) {
  RecordHeader header = make_header("", 0);
  CommitSlot first = make_slot(1, 0, 0, kFlagComplete);
  std::vector<uint8_t> record = encode_new_record(header, first);
  EXPECT_EQ(record.size(), kHeaderOffset + kHeaderFixedBytes);

  DecodedRecord decoded = decode(record);
  ASSERT_EQ(decoded.error, RecordError::kOk) << record_error_name(decoded.error);
  EXPECT_EQ(decoded.header.metadata, "");
  EXPECT_EQ(decoded.header.upload_length, 0u);
  expect_slot_eq(decoded.state, first);
}

TEST(UploadRecordTest, NewRecordPlacesFirstSlotBySequenceAndLeavesTheOtherZero) {
  std::vector<uint8_t> record = fresh_record();
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
  CommitSlot in =
      make_slot(0x0102030405060708ull, 0x1112131415161718ull, 0x2122232425262728ull, 0xA1B2C3D4u);
  encode_slot(in, bytes);
  CommitSlot out;
  ASSERT_TRUE(decode_slot(bytes, &out));
  expect_slot_eq(out, in);
}

TEST(UploadRecordTest, NewestSlotWins) {
  std::vector<uint8_t> record = fresh_record();

  CommitSlot s2 = make_slot(2, 100);
  write_slot(record, s2);
  DecodedRecord d2 = decode(record);
  ASSERT_EQ(d2.error, RecordError::kOk);
  expect_slot_eq(d2.state, s2);

  CommitSlot s3 = make_slot(3, 250);
  write_slot(record, s3);  // overwrites slot B (sequence 1)
  DecodedRecord d3 = decode(record);
  ASSERT_EQ(d3.error, RecordError::kOk);
  expect_slot_eq(d3.state, s3);

  CommitSlot s4 = make_slot(4, kLength, kLength, kFlagComplete);
  write_slot(record, s4);  // overwrites slot A (sequence 2)
  DecodedRecord d4 = decode(record);
  ASSERT_EQ(d4.error, RecordError::kOk);
  expect_slot_eq(d4.state, s4);
}

TEST(UploadRecordTest, NewestSlotWinsWhicheverPositionItIsIn) {
  // The higher sequence wins even if it sits in slot B and slot A has a lower one.
  std::vector<uint8_t> record = fresh_record();
  encode_slot(make_slot(8, 10), record.data());
  encode_slot(make_slot(9, 20), record.data() + kSlotBytes);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.sequence, 9u);
  EXPECT_EQ(d.state.committed_offset, 20u);

  encode_slot(make_slot(11, 30), record.data());
  d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.sequence, 11u);
  EXPECT_EQ(d.state.committed_offset, 30u);
}

TEST(UploadRecordTest, OffsetEqualToLengthIsValid) {
  std::vector<uint8_t> record = fresh_record();
  write_slot(record, make_slot(2, kLength, kLength, kFlagComplete));
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.committed_offset, kLength);
  EXPECT_EQ(d.state.flags, kFlagComplete);
}

TEST(UploadRecordTest, MetadataAtTheLimitIsAccepted) {
  std::string metadata(kMaxMetadataBytes, 'a');
  std::vector<uint8_t> record = fresh_record(metadata);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.metadata.size(), kMaxMetadataBytes);
}

TEST(UploadRecordTest, TrailingBytesAfterMetadataAreIgnored) {
  std::vector<uint8_t> record = fresh_record();
  record.resize(record.size() + 100, 0xEE);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  EXPECT_EQ(d.header.metadata, kMetadata);
}

// ---------------------------------------------------------------------------------------------
// The pinned byte layout. Any change to the format must fail here (and bump kVersion).

TEST(UploadRecordTest, ByteLayoutIsPinned) {
  EXPECT_EQ(kSlotBytes, 512u);
  EXPECT_EQ(kHeaderOffset, 1024u);
  EXPECT_EQ(kHeaderFixedBytes, 64u);
  EXPECT_EQ(kIdChars, 32u);
  EXPECT_EQ(kVersion, 1u);
  EXPECT_EQ(kMaxMetadataBytes, 1u << 20);
  EXPECT_EQ(kFlagComplete, 1u);

  const std::string metadata = "k dg==";
  RecordHeader header = make_header(metadata, 0x0A0B0C0D0E0F1011ull);
  header.created_unix_ms = 0x0102030405060708ull;
  CommitSlot first{1, 0x55, 0x0A0B0C0D0E0F1011ull, 0, 0x77};
  std::vector<uint8_t> record = encode_new_record(header, first);
  CommitSlot second{2, 0x0A0B0C0D0E0F1010ull, 0x0A0B0C0D0E0F1011ull, kFlagComplete,
                    0x2122232425262728ull};
  encode_slot(second, record.data() + slot_file_offset(2));

  // Build the expected file by hand.
  std::vector<uint8_t> expected(1024 + 64 + metadata.size(), 0);
  auto build_slot = [&](uint8_t* s, const CommitSlot& c) {
    s[0] = 'R';
    s[1] = 'G';
    s[2] = 'S';
    s[3] = 'L';
    le_put(s + 4, 1, 2);
    le_put(s + 6, 0, 2);
    le_put(s + 8, c.sequence, 8);
    le_put(s + 16, c.committed_offset, 8);
    le_put(s + 24, c.upload_length, 8);
    le_put(s + 32, c.flags, 4);
    le_put(s + 36, 0, 4);
    le_put(s + 40, c.updated_unix_ms, 8);
    le_put(s + 508, reference_crc32c(s, 508), 4);
  };
  build_slot(expected.data() + 0, second);
  build_slot(expected.data() + 512, first);
  uint8_t* h = expected.data() + 1024;
  h[0] = 'R';
  h[1] = 'G';
  h[2] = 'H';
  h[3] = 'D';
  le_put(h + 4, 1, 2);
  le_put(h + 6, 0, 2);
  std::memcpy(h + 8, kId.data(), 32);
  le_put(h + 40, 0x0102030405060708ull, 8);
  le_put(h + 48, 0x0A0B0C0D0E0F1011ull, 8);
  le_put(h + 56, metadata.size(), 4);
  std::memcpy(h + 64, metadata.data(), metadata.size());
  uint32_t hcrc = reference_crc32c(h, 64);  // crc field still zero here
  hcrc = reference_crc32c(h + 64, metadata.size(), hcrc);
  le_put(h + 60, hcrc, 4);

  ASSERT_EQ(record.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    ASSERT_EQ(record[i], expected[i]) << "byte " << i << " differs";
  }

  // Spot checks that read like the documentation.
  EXPECT_EQ(le_get(record.data() + 0, 4), kSlotMagic);
  EXPECT_EQ(le_get(record.data() + 512, 4), kSlotMagic);
  EXPECT_EQ(le_get(record.data() + 1024, 4), kHeaderMagic);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(record.data()), 4), "RGSL");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(record.data() + 1024), 4), "RGHD");
  EXPECT_EQ(record[8], 2);      // sequence, least significant byte first
  EXPECT_EQ(record[16], 0x10);  // committed_offset LSB
  EXPECT_EQ(record[23], 0x0A);  // committed_offset MSB
  EXPECT_EQ(record[32], 1);     // flags: complete
  EXPECT_EQ(le_get(record.data() + 508, 4), reference_crc32c(record.data(), 508));
  EXPECT_EQ(le_get(record.data() + 512 + 508, 4), reference_crc32c(record.data() + 512, 508));
  EXPECT_EQ(record[1024 + 56], metadata.size());

  // And the whole thing decodes.
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, second);
}

// ---------------------------------------------------------------------------------------------
// One test per kind of corruption.

TEST(UploadRecordCorruptionTest, TooShort) {
  std::vector<uint8_t> record = fresh_record("");
  ASSERT_EQ(decode(record).error, RecordError::kOk);
  for (size_t size : {size_t{0}, size_t{1}, size_t{512}, size_t{1024}, size_t{1087}}) {
    std::vector<uint8_t> truncated(record.begin(), record.begin() + static_cast<long>(size));
    EXPECT_EQ(decode(truncated).error, RecordError::kTooShort) << "size " << size;
  }
}

TEST(UploadRecordCorruptionTest, BadHeaderMagic) {
  std::vector<uint8_t> record = fresh_record();
  record[kHeaderOffset + 3] ^= 0x01;
  EXPECT_EQ(decode(record).error, RecordError::kBadHeaderMagic);

  std::vector<uint8_t> zeroed = fresh_record();
  std::memset(zeroed.data() + kHeaderOffset, 0, 4);
  EXPECT_EQ(decode(zeroed).error, RecordError::kBadHeaderMagic);

  // A slot magic where the header magic should be is still wrong.
  std::vector<uint8_t> swapped = fresh_record();
  le_put(swapped.data() + kHeaderOffset, kSlotMagic, 4);
  EXPECT_EQ(decode(swapped).error, RecordError::kBadHeaderMagic);
}

TEST(UploadRecordCorruptionTest, UnknownHeaderVersion) {
  std::vector<uint8_t> record = fresh_record();
  le_put(record.data() + kHeaderOffset + 4, 2, 2);
  reseal_header(record);  // checksum fine: only the version is unknown
  EXPECT_EQ(decode(record).error, RecordError::kUnknownHeaderVersion);

  le_put(record.data() + kHeaderOffset + 4, 0, 2);
  reseal_header(record);
  EXPECT_EQ(decode(record).error, RecordError::kUnknownHeaderVersion);
}

TEST(UploadRecordCorruptionTest, HeaderChecksumMetadataByte) {
  std::vector<uint8_t> record = fresh_record();
  record[kHeaderOffset + kHeaderFixedBytes + 3] ^= 0x20;
  EXPECT_EQ(decode(record).error, RecordError::kHeaderChecksum);

  std::vector<uint8_t> last = fresh_record();
  last.back() ^= 0x01;
  EXPECT_EQ(decode(last).error, RecordError::kHeaderChecksum);
}

TEST(UploadRecordCorruptionTest, HeaderChecksumHeaderFieldByte) {
  // created_unix_ms, upload_length, an id byte, a reserved byte, the crc itself.
  for (size_t field : {size_t{40}, size_t{48}, size_t{55}, size_t{8 + 5}, size_t{6}, size_t{60}}) {
    std::vector<uint8_t> record = fresh_record();
    record[kHeaderOffset + field] ^= 0x04;
    EXPECT_EQ(decode(record).error, RecordError::kHeaderChecksum) << "header byte " << field;
  }
}

TEST(UploadRecordCorruptionTest, MetadataLength) {
  // Length field larger than the file.
  std::vector<uint8_t> record = fresh_record();
  le_put(record.data() + kHeaderOffset + 56, kMetadata.size() + 1, 4);
  EXPECT_EQ(decode(record).error, RecordError::kMetadataLength);

  // File truncated inside the metadata.
  std::vector<uint8_t> truncated = fresh_record();
  truncated.pop_back();
  EXPECT_EQ(decode(truncated).error, RecordError::kMetadataLength);

  // Huge length field: must not overflow into "fits".
  std::vector<uint8_t> huge = fresh_record();
  le_put(huge.data() + kHeaderOffset + 56, 0xFFFFFFFFu, 4);
  EXPECT_EQ(decode(huge).error, RecordError::kMetadataLength);

  // Over kMaxMetadataBytes, even though the file is long enough and the checksum is right.
  std::vector<uint8_t> over = fresh_record("");
  over.resize(over.size() + kMaxMetadataBytes + 1, 'a');
  le_put(over.data() + kHeaderOffset + 56, kMaxMetadataBytes + 1, 4);
  reseal_header(over);
  EXPECT_EQ(decode(over).error, RecordError::kMetadataLength);
}

TEST(UploadRecordCorruptionTest, IdMismatch) {
  std::vector<uint8_t> record = fresh_record();
  EXPECT_EQ(decode(record, kOtherId).error, RecordError::kIdMismatch);
  // Differing only in case or length is still a mismatch.
  EXPECT_EQ(decode(record, "0123456789ABCDEF0123456789ABCDEF").error, RecordError::kIdMismatch);
  EXPECT_EQ(decode(record, kId.substr(0, 31)).error, RecordError::kIdMismatch);

  // A record whose header (correctly sealed) names another upload.
  std::vector<uint8_t> renamed = fresh_record();
  std::memcpy(renamed.data() + kHeaderOffset + 8, kOtherId.data(), kIdChars);
  reseal_header(renamed);
  EXPECT_EQ(decode(renamed, kId).error, RecordError::kIdMismatch);
  EXPECT_EQ(decode(renamed, kOtherId).error, RecordError::kOk);
}

TEST(UploadRecordCorruptionTest, NoValidSlotBothZeroed) {
  std::vector<uint8_t> record = fresh_record();
  std::memset(record.data(), 0, 2 * kSlotBytes);
  EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
}

TEST(UploadRecordCorruptionTest, NoValidSlotBothBadCrc) {
  std::vector<uint8_t> record = fresh_record();
  write_slot(record, make_slot(2, 10));
  record[16] ^= 0x01;                // slot A committed_offset
  record[kSlotBytes + 508] ^= 0x80;  // slot B crc
  EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
}

TEST(UploadRecordCorruptionTest, NoValidSlotSequenceZeroIsNotACommit) {
  // Correctly checksummed slots with sequence 0 do not count as commits.
  std::vector<uint8_t> record = fresh_record();
  encode_slot(make_slot(0, 0), record.data());
  encode_slot(make_slot(0, 0), record.data() + kSlotBytes);
  CommitSlot s;
  EXPECT_FALSE(decode_slot(record.data(), &s));
  EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
}

TEST(UploadRecordCorruptionTest, OffsetBeyondLength) {
  std::vector<uint8_t> record = fresh_record();
  uint8_t slot[kSlotBytes];
  encode_slot(make_slot(2, kLength + 1, kLength), slot);
  std::memcpy(record.data() + slot_file_offset(2), slot, kSlotBytes);
  EXPECT_EQ(decode(record).error, RecordError::kOffsetBeyondLength);

  encode_slot(make_slot(2, UINT64_MAX, kLength), slot);
  std::memcpy(record.data() + slot_file_offset(2), slot, kSlotBytes);
  EXPECT_EQ(decode(record).error, RecordError::kOffsetBeyondLength);
}

TEST(UploadRecordCorruptionTest, LengthMismatch) {
  std::vector<uint8_t> record = fresh_record();
  write_slot(record, make_slot(2, 10, kLength + 1));
  EXPECT_EQ(decode(record).error, RecordError::kLengthMismatch);

  std::vector<uint8_t> shorter = fresh_record();
  write_slot(shorter, make_slot(2, 10, kLength - 1));
  EXPECT_EQ(decode(shorter).error, RecordError::kLengthMismatch);
}

TEST(UploadRecordCorruptionTest, TornNewestSlotFallsBackToPrevious) {
  std::vector<uint8_t> record = fresh_record();
  CommitSlot older = make_slot(2, 300);
  write_slot(record, older);
  write_slot(record, make_slot(3, 600));  // newest, in slot B
  ASSERT_EQ(decode(record).state.sequence, 3u);

  // One flipped byte in the newest slot.
  std::vector<uint8_t> flipped = record;
  flipped[kSlotBytes + 17] ^= 0x10;
  DecodedRecord d = decode(flipped);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, older);

  // A torn write: the first sector-half of a new slot 5 landed over slot B, the rest did not.
  std::vector<uint8_t> torn = record;
  uint8_t next[kSlotBytes];
  encode_slot(make_slot(5, 900), next);
  std::memcpy(torn.data() + kSlotBytes, next, 256);
  d = decode(torn);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, older);
}

TEST(UploadRecordCorruptionTest, SlotWithUnknownVersionIsIgnored) {
  std::vector<uint8_t> record = fresh_record();
  CommitSlot s1 = make_slot(1, 0);
  write_slot(record, make_slot(2, 500));
  uint8_t* a = record.data() + slot_file_offset(2);
  le_put(a + 4, 2, 2);  // version 2, correctly checksummed
  reseal_slot(a);
  CommitSlot ignored;
  EXPECT_FALSE(decode_slot(a, &ignored));
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk) << record_error_name(d.error);
  expect_slot_eq(d.state, s1);

  // With the only other slot gone, nothing is left.
  std::memset(record.data() + kSlotBytes, 0, kSlotBytes);
  EXPECT_EQ(decode(record).error, RecordError::kNoValidSlot);
}

TEST(UploadRecordCorruptionTest, SlotWithBadMagicIsIgnored) {
  std::vector<uint8_t> record = fresh_record();
  write_slot(record, make_slot(2, 500));
  uint8_t* a = record.data() + slot_file_offset(2);
  le_put(a, kHeaderMagic, 4);
  reseal_slot(a);
  DecodedRecord d = decode(record);
  ASSERT_EQ(d.error, RecordError::kOk);
  EXPECT_EQ(d.state.sequence, 1u);
}

TEST(UploadRecordTest, EveryErrorHasADistinctName) {
  const RecordError all[] = {RecordError::kOk,
                             RecordError::kTooShort,
                             RecordError::kBadHeaderMagic,
                             RecordError::kUnknownHeaderVersion,
                             RecordError::kHeaderChecksum,
                             RecordError::kMetadataLength,
                             RecordError::kIdMismatch,
                             RecordError::kNoValidSlot,
                             RecordError::kOffsetBeyondLength,
                             RecordError::kLengthMismatch};
  std::vector<std::string> names;
  for (RecordError e : all) {
    std::string name = record_error_name(e);
    EXPECT_NE(name, "?");
    EXPECT_FALSE(name.empty());
    for (const std::string& other : names) EXPECT_NE(name, other);
    names.push_back(name);
  }
  EXPECT_STREQ(record_error_name(RecordError::kOk), "ok");
}

}  // namespace
}  // namespace ringest::storage
