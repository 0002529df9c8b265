// Proves, against the real binary, what the protocol-neutral upload core promises about state
// and the file system: a slow disk operation for one upload (creation, deletion) never stalls
// the other connections on its core; uploads nobody writes hold no file descriptor beyond a
// bounded cache; start-up stops (and sets nothing aside) when it runs out of descriptors; a
// quarantined upload comes back once it checks out; a torn newest commit falls back to the
// previous one and says so; and nothing planted under uploads/ (a symlink) can redirect a write
// outside the data directory.
#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;
using Clock = std::chrono::steady_clock;



int open_descriptors(pid_t pid) {
  DIR* dir = opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

int entries(const std::string& path) {
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return -1;
  int n = 0;
  while (dirent* e = readdir(dir)) n += e->d_name[0] != '.';
  closedir(dir);
  return n;
}

class UploadCore : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args = {}, uint16_t port = 0) {
    server_ = std::make_unique<Server>(dir_.path() + "/data", std::move(args), port);
    server_->start();
    port_ = server_->port();
  }
  std::string data_file(const std::string& loc) const {
    return dir_.path() + "/data/uploads/" + id_of(loc) + ".bin";
  }
  std::string record_file(const std::string& loc) const {
    return dir_.path() + "/data/uploads/" + id_of(loc) + ".rec";
  }
  std::string quarantined(const std::string& loc, const char* suffix) const {
    return dir_.path() + "/data/quarantine/" + id_of(loc) + suffix;
  }
  std::string log() const { return read_file(server_->stderr_path()); }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(UploadCore, SlowCreationDoesNotStallAnotherUploadOnTheSameCore) {
  // The second creation's first file operation starts 4 s late (a stuck disk).
  start({"--threads", "1", "--fault-plan", "create:delay4000@2"});
  const std::string data = random_bytes(32 * kMiB, 1);
  std::string fast = tus_create(port_, data.size());
  std::atomic<bool> slow_done{false};
  std::string slow;
  std::thread creator([&] {
    slow = tus_create(port_, 100);
    slow_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // its creation is under way
  auto r = tus_patch(port_, fast, 0, data);
  bool patch_finished_first = !slow_done.load();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(patch_finished_first)
      << "a 32 MiB upload on the same core waited for another upload's slow creation";
  creator.join();
  EXPECT_FALSE(slow.empty()) << "the slow creation still completes";
  EXPECT_EQ(head_offset(port_, slow), 0u);
}

TEST_F(UploadCore, SlowDeletionDoesNotStallAnotherUploadOnTheSameCore) {
  start({"--threads", "1", "--fault-plan", "remove:delay4000@1"});
  const std::string data = random_bytes(32 * kMiB, 2);
  std::string doomed = tus_create(port_, 10);
  std::string fast = tus_create(port_, data.size());
  std::atomic<bool> deleted{false};
  std::optional<Response> d;
  std::thread deleter([&] {
    d = request(port_, "DELETE " + doomed + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
    deleted = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto r = tus_patch(port_, fast, 0, data);
  bool patch_finished_first = !deleted.load();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_TRUE(patch_finished_first) << "an upload waited for another upload's slow deletion";
  deleter.join();
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 204);
  EXPECT_EQ(tus_head(port_, doomed)->status, 404);
}

TEST_F(UploadCore, UploadsNobodyWritesHoldNoDescriptorsBeyondTheCache) {
  // 120 unfinished uploads from one address: more than one anonymous client may hold by default
  // (--max-uploads-per-client, tests/fault/disk_budget_test.cc); the subject here is the cache.
  const std::vector<std::string> args = {"--max-open-uploads", "8", "--max-uploads-per-client",
                                         "0"};
  start(args);
  const int idle = open_descriptors(server_->pid());
  ASSERT_GT(idle, 0);
  std::vector<std::string> locs;
  for (int i = 0; i < 120; ++i) {
    locs.push_back(tus_create(port_, 10));
    auto r = tus_patch(port_, locs.back(), 0, "abc");  // opens the upload's files
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 204);
  }
  // 120 half-done uploads: at most 8 keep their 3 descriptors.
  int with_uploads = open_descriptors(server_->pid());
  EXPECT_LE(with_uploads, idle + 8 * 3 + 4) << "descriptors grow with the number of uploads";
  // After a restart, known uploads hold none at all.
  server_->stop();
  start(args);
  EXPECT_LE(open_descriptors(server_->pid()), idle + 2);
  for (const std::string& loc : locs) ASSERT_EQ(head_offset(port_, loc), 3u);
}

TEST_F(UploadCore, RunningOutOfDescriptorsAtStartupStopsItAndSetsNothingAside) {
  start();
  std::vector<std::string> locs;
  for (int i = 0; i < 25; ++i) {
    locs.push_back(tus_create(port_, 100));
    ASSERT_EQ(tus_patch(port_, locs.back(), 0, "0123456789")->status, 204);
  }
  server_->stop();
  // The fifth record open at start-up fails as if the descriptor limit were reached.
  Server starved(dir_.path() + "/data", {"--fault-plan", "open:emfile@5"});
  EXPECT_THROW(starved.start(), std::runtime_error);
  EXPECT_NE(read_file(starved.stderr_path()).find("Too many open files"), std::string::npos)
      << read_file(starved.stderr_path());
  EXPECT_EQ(entries(dir_.path() + "/data/quarantine"), 0) << "a healthy upload was set aside";
  start();
  for (const std::string& loc : locs) EXPECT_EQ(head_offset(port_, loc), 10u) << loc;
}

TEST_F(UploadCore, QuarantinedUploadIsReadmittedOnceItChecksOutAgain) {
  start();
  const std::string data = random_bytes(1000, 3);
  std::string loc = tus_create(port_, 4000);
  ASSERT_EQ(tus_patch(port_, loc, 0, data)->status, 204);
  server_->stop();
  // The data file loses its bytes (a disk that came back without them).
  const std::string saved = read_file(data_file(loc));
  ASSERT_EQ(truncate(data_file(loc).c_str(), 10), 0);
  start();
  EXPECT_EQ(tus_head(port_, loc)->status, 404);
  EXPECT_EQ(read_file(quarantined(loc, ".reason")),
            "data file is 10 bytes, shorter than the committed offset 1000\n");
  server_->stop();
  // The operator restores the file where it was set aside: the next start takes it back.
  write_file(quarantined(loc, ".bin"), saved);
  start();
  EXPECT_EQ(head_offset(port_, loc), 1000u);
  EXPECT_EQ(entries(dir_.path() + "/data/quarantine"), 0);
  EXPECT_NE(log().find("checks out again"), std::string::npos);
  ASSERT_EQ(tus_patch(port_, loc, 1000, std::string(3000, 'z'))->status, 204);
}

TEST_F(UploadCore, CorruptNewestCommitFallsBackToThePreviousAndSaysSo) {
  start();
  std::string loc = tus_create(port_, 100);
  ASSERT_EQ(tus_patch(port_, loc, 0, "0123456789")->status, 204);   // sequence 2: slot A
  ASSERT_EQ(tus_patch(port_, loc, 10, "abcdefghij")->status, 204);  // sequence 3: slot B
  server_->stop();
  // A torn write of the newest slot (B, at 512): a byte of its offset field changed.
  std::fstream rec(record_file(loc), std::ios::in | std::ios::out | std::ios::binary);
  rec.seekp(512 + 16);
  rec.put('\x7f');
  rec.close();
  start();
  EXPECT_EQ(head_offset(port_, loc), 10u);
  EXPECT_NE(log().find("newest commit slot corrupt, fell back to the older one"),
            std::string::npos)
      << log();
}

TEST_F(UploadCore, ADownloadWhoseFileCannotBeReadGetsAnErrorNotACutShort200) {
  start();
  std::string loc = tus_create(port_, 5);
  ASSERT_EQ(tus_patch(port_, loc, 0, "hello")->status, 204);
  ASSERT_EQ(request(port_, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n")->body, "hello");
  // The file is opened before the response's head goes out: a file that is gone is an answer.
  ASSERT_EQ(unlink(data_file(loc).c_str()), 0);
  auto r = request(port_, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r) << "no complete answer";
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->header("tus-resumable"), "1.0.0");
}

// Regression (review of the seam step): a download cut off while a disk read was in flight
// never freed its connection, so with one connection allowed every later client got 503.
TEST_F(UploadCore, ADownloadCutOffDuringADiskReadFreesItsConnection) {
  // The second read of a download starts 2 s late; a client that stops reading is cut off after
  // 1 s without progress, while that read is in flight.
  start({"--threads", "1", "--max-connections", "2", "--idle-timeout", "1s", "--fault-plan",
         "read:delay2000@2"});
  const std::string data = random_bytes(4 * kMiB, 9);
  std::string loc = tus_create(port_, data.size());
  ASSERT_EQ(tus_patch(port_, loc, 0, data)->status, 204);
  {
    Connection reader(port_);
    ASSERT_TRUE(reader.send_all("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    EXPECT_TRUE(reader.closed_by_peer(6000)) << "the stalled download was not cut off";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the delayed read completes
  for (int i = 0; i < 4; ++i) {  // more clients than connections: each needs a freed one
    auto r = request(port_, "GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "a connection was never freed";
  }
}

// Regression (review): a chunked body whose write failed was answered by closing the
// connection, as if the client had left, instead of 507.
TEST_F(UploadCore, ChunkedBodyWhoseWriteFailsIsAnswered) {
  start({"--fault-plan", "write:enospc@1+"});
  std::string loc = tus_create(port_, 1 * kMiB);
  Connection c(port_);
  ASSERT_TRUE(c.send_all("PATCH " + loc +
                         " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                         "Content-Type: application/offset+octet-stream\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n400\r\n" +
                         std::string(1024, 'a') + "\r\n"));
  auto r = c.read_response();  // (the rest of the body never comes: the answer must anyway)
  ASSERT_TRUE(r) << "no answer";
  EXPECT_EQ(r->status, 507);
  EXPECT_EQ(head_offset(port_, loc), 0u);
}

// Regression (review): when the record could not be unlinked the data file went anyway, the
// upload vanished from memory, and a restart found a record without data.
TEST_F(UploadCore, ADeletionThatFailsLeavesTheUploadWhole) {
  start({"--fault-plan", "remove:eio@1"});
  std::string loc = tus_create(port_, 10);
  ASSERT_EQ(tus_patch(port_, loc, 0, "01234")->status, 204);
  const std::string del = "DELETE " + loc + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n";
  auto r = request(port_, del);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(head_offset(port_, loc), 5u) << "a failed deletion lost the upload";
  EXPECT_EQ(read_file(data_file(loc)), std::string("01234") + std::string(5, '\0'));
  ASSERT_EQ(tus_patch(port_, loc, 5, "56789")->status, 204);
  r = request(port_, del);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(tus_head(port_, loc)->status, 404);
}

// Regression (review): an upload of unknown length holding more than a since-lowered maximum
// made an empty PATCH fail an assertion and abort the server.
TEST_F(UploadCore, AnUploadOverALoweredMaximumIsRefusedNotFatal) {
  start();
  auto c = request(port_,
                   "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                   "Upload-Defer-Length: 1\r\n\r\n");
  ASSERT_EQ(c->status, 201);
  std::string loc = c->header("location");
  ASSERT_EQ(tus_patch(port_, loc, 0, std::string(200 * 1024, 'x'))->status, 204);
  server_->stop();
  start({"--max-upload-bytes", "100K"});
  auto r = tus_patch(port_, loc, 200 * 1024, "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_TRUE(server_->running());
  EXPECT_EQ(head_offset(port_, loc), 200u * 1024);
}

// A request that waits for another request to let go of an upload waits at most the head
// timeout, then gets 503 (a stuck owner, or a lost message, must not hold it for ever).
TEST_F(UploadCore, WaitingForAnotherRequestsUploadIsBounded) {
  // Commits' data syncs from the second on take 3 s: the owner is slow to let go.
  start({"--head-timeout", "1s", "--fault-plan", "sync:delay3000@1+"});
  const std::string data = random_bytes(2 * kMiB, 10);
  std::string loc = tus_create(port_, data.size());
  Connection stalled(port_);
  ASSERT_TRUE(stalled.send_all(patch_head(loc, 0, data.size())));
  ASSERT_TRUE(stalled.send_all(data.data(), 1 * kMiB));  // then nothing more
  auto until = Clock::now() + std::chrono::seconds(10);
  while (metric(port_, "ringest_body_bytes_received_total") < kMiB && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  auto t0 = Clock::now();
  auto r = tus_patch(port_, loc, 0, data);  // takes over: the old request commits (slowly)
  auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_LT(waited, 2900) << "the newer request waited for the slow commit";
  // Once the slow commit is done, the upload is free again and resumes from what it holds.
  until = Clock::now() + std::chrono::seconds(10);
  std::optional<uint64_t> offset;
  while (Clock::now() < until && (!(offset = head_offset(port_, loc)) || *offset == 0)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(offset);
  auto done = tus_patch(port_, loc, *offset, std::string_view(data).substr(*offset));
  ASSERT_TRUE(done);
  EXPECT_EQ(done->status, 204);
}

// Regression: files under uploads/ were opened without O_NOFOLLOW, so a symlink planted there
// made a PATCH write outside the data directory.
TEST_F(UploadCore, SymlinkPlantedUnderUploadsNeverRedirectsAWrite) {
  start({"--max-open-uploads", "0"});  // every request opens the files anew
  const std::string outside = dir_.path() + "/outside";
  write_file(outside, std::string(100, 'X'));
  std::string loc = tus_create(port_, 100);
  ASSERT_EQ(tus_patch(port_, loc, 0, "0123456789")->status, 204);
  ASSERT_EQ(unlink(data_file(loc).c_str()), 0);
  ASSERT_EQ(symlink(outside.c_str(), data_file(loc).c_str()), 0);
  auto r = tus_patch(port_, loc, 10, "ATTACK");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(read_file(outside), std::string(100, 'X')) << "a write left the data directory";
  EXPECT_EQ(head_offset(port_, loc), 10u);
  // At start-up the symlink is not followed either: the upload is set aside, the target untouched.
  server_->stop();
  start();
  EXPECT_EQ(tus_head(port_, loc)->status, 404);
  EXPECT_EQ(read_file(quarantined(loc, ".reason")), "data file is not a regular file\n");
  EXPECT_EQ(read_file(outside), std::string(100, 'X'));
}

}  // namespace
}  // namespace ringest::test
