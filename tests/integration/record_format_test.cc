// Proves the record format change on the real binary: an upload recorded by a version 1 server
// (record built here byte by byte, as docs/storage-format.md describes) is recovered with its
// offset and verbatim Upload-Metadata, resumed to completion with version 2 commit slots written
// over the version 1 ones, and survives another restart; new uploads get version 2 records
// whose metadata comes back after a restart; a corrupt newest slot falls back to the older
// commit and says so in the log.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

uint32_t crc32c(const uint8_t* p, size_t n, uint32_t crc = 0) {
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
  }
  return ~crc;
}

void put_le(uint8_t* p, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
uint64_t get_le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i)
    v |= static_cast<uint64_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
  return v;
}

// A version 1 commit slot.
void v1_slot(uint8_t* s, uint64_t sequence, uint64_t offset, uint64_t length) {
  std::memset(s, 0, 512);
  std::memcpy(s, "RGSL", 4);
  put_le(s + 4, 1, 2);
  put_le(s + 8, sequence, 8);
  put_le(s + 16, offset, 8);
  put_le(s + 24, length, 8);
  put_le(s + 32, offset == length ? 1 : 0, 4);
  put_le(s + 40, 1700000000000 + sequence, 8);
  put_le(s + 508, crc32c(s, 508), 4);
}

// A version 1 record as a v1 server left it after two commits: slot B (sequence 1, offset 0),
// slot A (sequence 2, `offset`).
std::string v1_record(const std::string& id, uint64_t length, std::string_view metadata,
                      uint64_t offset) {
  std::vector<uint8_t> r(1024 + 64 + metadata.size(), 0);
  v1_slot(r.data() + 512, 1, 0, length);
  v1_slot(r.data(), 2, offset, length);
  uint8_t* h = r.data() + 1024;
  std::memcpy(h, "RGHD", 4);
  put_le(h + 4, 1, 2);
  std::memcpy(h + 8, id.data(), 32);
  put_le(h + 40, 1700000000000, 8);
  put_le(h + 48, length, 8);
  put_le(h + 56, metadata.size(), 4);
  std::memcpy(h + 64, metadata.data(), metadata.size());
  put_le(h + 60, crc32c(h + 64, metadata.size(), crc32c(h, 64)), 4);
  return std::string(r.begin(), r.end());
}



std::string get_body(uint16_t port, const std::string& location) {
  auto r = request(port, "GET " + location + " HTTP/1.1\r\nHost: t\r\n\r\n");
  if (!r || r->status != 200) return "<GET failed>";
  return r->body;
}

class RecordFormat : public ::testing::Test {
 protected:
  std::string data_dir() const { return dir_.path() + "/data"; }
  std::string record_path(const std::string& id) const {
    return data_dir() + "/uploads/" + id + ".rec";
  }
  void start() {
    // The hand-made records carry 2023 commit times: with the default --expire-after (7d) they
    // would be expired at once. This is about the format, not expiry.
    server_ = std::make_unique<Server>(data_dir(), std::vector<std::string>{"--expire-after", "0"});
    server_->start();
    port_ = server_->port();
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(RecordFormat, V1RecordIsRecoveredResumedWithV3SlotsAndSurvivesRestart) {
  const std::string id = "00112233445566778899aabbccddeeff";
  const std::string location = "/files/" + id;
  const uint64_t length = 1 << 20;
  const uint64_t committed = 300000;
  // Spelled as a client may have sent it: v1 kept it verbatim, and HEAD echoes it so.
  const std::string metadata = "filename  djEudHh0 , note";
  std::string data = random_bytes(length, 11);
  ASSERT_EQ(::mkdir(data_dir().c_str(), 0750), 0);
  ASSERT_EQ(::mkdir((data_dir() + "/uploads").c_str(), 0750), 0);
  std::string bin = data.substr(0, committed) + std::string(length - committed, '\0');
  write_file(data_dir() + "/uploads/" + id + ".bin", bin);
  write_file(record_path(id), v1_record(id, length, metadata, committed));

  start();
  auto h = tus_head(port_, location);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), std::to_string(committed));
  EXPECT_EQ(h->header("upload-length"), std::to_string(length));
  EXPECT_EQ(h->header("upload-metadata"), metadata);

  auto r = tus_patch(port_, location, committed, std::string_view(data).substr(committed));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 204);
  EXPECT_EQ(sha256_hex(get_body(port_, location)), sha256_hex(data));

  // The header stays version 1; the commit (sequence 3, slot B) is a version 3 slot, without a
  // content CRC: the bytes from before were never hashed, so the digest stays unknown.
  std::string rec = read_file(record_path(id));
  ASSERT_GE(rec.size(), 1088u);
  EXPECT_EQ(get_le(rec, 1024 + 4, 2), 1u);
  EXPECT_EQ(get_le(rec, 512 + 4, 2), 3u);
  EXPECT_EQ(get_le(rec, 512 + 8, 8), 3u);
  EXPECT_EQ(get_le(rec, 512 + 16, 8), length);
  EXPECT_EQ(get_le(rec, 512 + 32, 4), 1u);  // complete
  EXPECT_EQ(get_le(rec, 4, 2), 1u);         // slot A: the v1 commit, untouched

  ASSERT_EQ(server_->stop(), 0);
  start();
  h = tus_head(port_, location);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), std::to_string(length));
  EXPECT_EQ(h->header("upload-metadata"), metadata);
  EXPECT_EQ(h->header("repr-digest"), "");
  EXPECT_EQ(sha256_hex(get_body(port_, location)), sha256_hex(data));
}

TEST_F(RecordFormat, NewUploadIsRecordedAsV2AndItsMetadataComesBack) {
  start();
  std::string location = tus_create(port_, 10, "filename d29ybGQudHh0,empty,bin AP8=");
  ASSERT_FALSE(location.empty());
  ASSERT_EQ(tus_patch(port_, location, 0, "0123")->status, 204);
  std::string rec = read_file(record_path(id_of(location)));
  ASSERT_GE(rec.size(), 1088u);
  EXPECT_EQ(get_le(rec, 1024 + 4, 2), 2u);   // header version
  EXPECT_EQ(get_le(rec, 1024 + 6, 1), 1u);   // protocol: tus
  EXPECT_EQ(get_le(rec, 1024 + 7, 1), 0u);   // length known
  EXPECT_EQ(get_le(rec, 1024 + 64, 4), 3u);  // three pairs in the block
  EXPECT_NE(rec.find(std::string("\x00\xff", 2), 1088), std::string::npos);  // decoded value

  ASSERT_EQ(server_->stop(), 0);
  start();
  auto h = tus_head(port_, location);
  ASSERT_TRUE(h);
  ASSERT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), "4");
  EXPECT_EQ(h->header("upload-metadata"), "filename d29ybGQudHh0,empty,bin AP8=");
}

TEST_F(RecordFormat, CorruptNewestSlotFallsBackToTheOlderCommitAndIsLogged) {
  start();
  std::string location = tus_create(port_, 8);
  ASSERT_EQ(tus_patch(port_, location, 0, "abc")->status, 204);   // sequence 2, slot A
  ASSERT_EQ(tus_patch(port_, location, 3, "defg")->status, 204);  // sequence 3, slot B
  server_->kill9();
  std::string path = record_path(id_of(location));
  std::string rec = read_file(path);
  ASSERT_EQ(get_le(rec, 512 + 8, 8), 3u);
  rec[512 + 200] ^= 0x01;  // padding of the newest slot: its CRC no longer matches
  write_file(path, rec);

  start();
  EXPECT_EQ(head_offset(port_, location), 3u);
  EXPECT_NE(read_file(server_->stderr_path())
                .find("newest commit slot corrupt, fell back to the older one"),
            std::string::npos);
}

}  // namespace
}  // namespace ringest::test
