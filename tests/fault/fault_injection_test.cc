// Proves, through the storage fault seam (--fault-plan, engine/io/fault_plan.h) on the real
// binary, that a failing disk never costs an acknowledged byte: EIO answers 500, ENOSPC 507,
// the committed offset and bytes stay as they were, the upload resumes afterwards, and short
// writes are completed rather than silently truncated.
#include <gtest/gtest.h>

#include <sys/wait.h>

#include <fstream>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;


class FaultInjection : public ::testing::Test {
 protected:
  void start(const std::string& plan) {
    server_ = std::make_unique<Server>(dir_.path() + "/data",
                                       std::vector<std::string>{"--fault-plan", plan});
    server_->start();
    port_ = server_->port();
  }
  std::string data_file(const std::string& loc) const {
    return dir_.path() + "/data/uploads/" + id_of(loc) + ".bin";
  }
  // One small PATCH whose head and body go out in one send, so the server makes exactly one
  // data write for it.
  std::optional<Response> small_patch(const std::string& loc, uint64_t offset,
                                      const std::string& body) {
    return request(port_, patch_head(loc, offset, body.size()) + body);
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(FaultInjection, EioOnADataWriteIs500AndTheCommittedStateStays) {
  start("write:eio@2");
  std::string data = random_bytes(300, 1);
  std::string loc = tus_create(port_, data.size());
  auto r = small_patch(loc, 0, data.substr(0, 100));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 204);
  r = small_patch(loc, 100, data.substr(100, 100));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_EQ(head_offset(port_, loc), 100u);
  EXPECT_EQ(read_file(data_file(loc)).substr(0, 100), data.substr(0, 100));
  ASSERT_EQ(status_of(small_patch(loc, 100, data.substr(100))), 204);
  EXPECT_EQ(sha256_file(data_file(loc)), sha256_hex(data));
}

TEST_F(FaultInjection, EnospcOnADataWriteIs507AndTheUploadResumesAfterwards) {
  start("write:enospc@2");
  std::string data = random_bytes(300, 2);
  std::string loc = tus_create(port_, data.size());
  ASSERT_EQ(status_of(small_patch(loc, 0, data.substr(0, 150))), 204);
  auto r = small_patch(loc, 150, data.substr(150));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507);
  EXPECT_EQ(head_offset(port_, loc), 150u);
  // "Space freed": the rule fired once; the retry goes through.
  r = small_patch(loc, 150, data.substr(150));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "300");
  EXPECT_EQ(sha256_file(data_file(loc)), sha256_hex(data));
}

TEST_F(FaultInjection, FailureMidBodyCommitsTheBytesBeforeIt) {
  // Every data write from the 5th on fails while a 4 MiB body streams in: the server answers
  // 507, and whatever landed before the first failure is committed, exact, and resumable.
  start("write:enospc@5+");
  std::string data = random_bytes(4 * kMiB, 3);
  std::string loc = tus_create(port_, data.size());
  auto r = tus_patch(port_, loc, 0, data);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507);
  auto offset = head_offset(port_, loc);
  ASSERT_TRUE(offset);
  EXPECT_LT(*offset, data.size());
  // Writes 1 to 4 succeeded: without this, an offset of 0 would make the prefix check below
  // compare two empty strings.
  EXPECT_GT(*offset, 0u) << "the bytes written before the first failure were not committed";
  EXPECT_EQ(read_file(data_file(loc)).substr(0, *offset), data.substr(0, *offset));
}

// FilePond's chunks count whole or not at all (AppendRequest::all_or_nothing): a chunk with a
// failed write commits nothing of the bytes before the failure either, so the offset FilePond
// resumes from stays a chunk boundary, also after a kill -9; the same chunk sent again to a
// healthy server completes the upload.
TEST_F(FaultInjection, AFilePondChunkWithAFailedWriteCommitsNothing) {
  // Every data write from the third on fails. Not just the third: in splice mode the file side
  // of a splice whose socket side moved nothing (the body not there yet) is an empty write, and
  // an injected failure landing there is rightly no failure, so a one-shot rule could miss.
  // 4 MiB takes at least 4 non-empty writes in every io-mode (256 KiB slots; a splice moves at
  // most its 1 MiB pipe), so two land before the failure.
  start("write:enospc@3+");
  std::string data = random_bytes(4 * kMiB, 6);
  auto created = request(port_, "POST /filepond HTTP/1.1\r\nHost: t\r\nUpload-Length: " +
                                    std::to_string(data.size()) + "\r\n\r\n");
  ASSERT_EQ(status_of(created), 200);
  std::string patch = "PATCH /filepond?patch=" + created->body +
                      " HTTP/1.1\r\nHost: t\r\nContent-Type: application/offset+octet-stream"
                      "\r\nUpload-Offset: 0\r\nUpload-Length: " + std::to_string(data.size()) +
                      "\r\nUpload-Name: a.bin\r\nContent-Length: " + std::to_string(data.size()) +
                      "\r\n\r\n";
  auto r = request(port_, patch + data);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507);
  std::string head = "HEAD /filepond?patch=" + created->body + " HTTP/1.1\r\nHost: t\r\n\r\n";
  auto h = request(port_, head, true);
  ASSERT_EQ(status_of(h), 200);
  EXPECT_EQ(h->header("upload-offset"), "0") << "writes 1 and 2 landed, yet neither may count";
  // kill -9, then the same data without faults: still nothing of the chunk counts, and the
  // chunk sent again completes the upload.
  server_->kill9();
  server_ = std::make_unique<Server>(dir_.path() + "/data", std::vector<std::string>{});
  server_->start();
  port_ = server_->port();
  h = request(port_, head, true);
  ASSERT_EQ(status_of(h), 200);
  EXPECT_EQ(h->header("upload-offset"), "0");
  ASSERT_EQ(status_of(request(port_, patch + data)), 204);
  EXPECT_EQ(sha256_file(dir_.path() + "/data/uploads/" + created->body + ".bin"),
            sha256_hex(data));
}

TEST_F(FaultInjection, ShortWritesAreCompletedNotTruncated) {
  start("write:short@1+");
  std::string data = random_bytes(6 * kMiB + 123, 4);
  std::string loc = tus_create(port_, data.size());
  auto r = tus_patch(port_, loc, 0, data);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), std::to_string(data.size()));
  EXPECT_EQ(sha256_file(data_file(loc)), sha256_hex(data));
}

class CommitFault : public FaultInjection, public ::testing::WithParamInterface<const char*> {};

TEST_P(CommitFault, FailedCommitIs500AndNoOffsetIsReportedBeyondTheLastCommit) {
  // Rule @2: the first PATCH's commit succeeds, the second PATCH's commit fails.
  start(std::string(GetParam()) + ":eio@2");
  std::string data = random_bytes(200, 5);
  std::string loc = tus_create(port_, data.size());
  ASSERT_EQ(status_of(small_patch(loc, 0, data.substr(0, 100))), 204);
  auto r = small_patch(loc, 100, data.substr(100));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_TRUE(r->header("upload-offset").empty()) << "a failed commit reports no offset";
  EXPECT_EQ(head_offset(port_, loc), 100u);
  // The next attempt commits normally.
  r = small_patch(loc, 100, data.substr(100));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(sha256_file(data_file(loc)), sha256_hex(data));
  // And what the record says survives a restart.
  server_->kill9();
  server_ = std::make_unique<Server>(dir_.path() + "/data");
  server_->start();
  EXPECT_EQ(head_offset(server_->port(), loc), 200u);
}

INSTANTIATE_TEST_SUITE_P(DataSyncRecordWriteRecordSync, CommitFault,
                         ::testing::Values("sync", "record-write", "record-sync"),
                         [](const ::testing::TestParamInfo<const char*>& p) {
                           std::string name = p.param;
                           return name == "sync" ? std::string("DataSync")
                                  : name == "record-write" ? std::string("RecordWrite")
                                                           : std::string("RecordSync");
                         });

TEST(FaultPlanFlag, BadSpecIsAUsageError) {
  TempDir dir;
  std::string cmd = std::string(RINGESTD_PATH) + " --listen 127.0.0.1:0 --data-dir " + dir.path() +
                    "/d --fault-plan write:bogus@1 2>/dev/null";
  EXPECT_EQ(exit_code_of(std::system(cmd.c_str())), 2);
}

}  // namespace
}  // namespace ringest::test
