// Proves expiry on the real binary with short durations, for every protocol: an unfinished
// upload that receives no byte for --expire-after has its data file and record deleted by the
// collector and is answered 410 Gone while the node remembers it (404 after a restart, which
// forgets); an upload that a request is writing is never deleted, however long the request
// takes; a finished upload is kept for ever without --finished-retention and deleted after it
// with one; expiry goes on after kill -9 and a restart. For tus: Upload-Expires is a valid
// IMF-fixdate in POST and PATCH responses that says when the upload expires, Tus-Extension
// announces `expiration` only when expiry is on, and a partial upload that a live final lists
// keeps its files past its own retention until the final goes. A backlog of 200 is all removed
// and the batch log lines add up to it.
//
// No assertion depends on how fast the machine is: every wait polls with a deadline, and where
// a test needs a sweep to have run it waits for the removal of another upload whose deadline
// came later.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

using Clock = std::chrono::steady_clock;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Polls `done` every 20 ms until it holds or `timeout_ms` passed; returns whether it held.
bool eventually(const std::function<bool()>& done, int timeout_ms = 20000) {
  auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    if (done()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

uint64_t unix_seconds_now() { return static_cast<uint64_t>(std::time(nullptr)); }

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") as Unix seconds; 0 when it is not one.
uint64_t parse_http_date(const std::string& text) {
  if (text.size() != 29) return 0;
  std::tm tm{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 0;
  return static_cast<uint64_t>(timegm(&tm));
}

class Expiry : public ServerDriverTest {
 protected:
  std::string data_dir() const { return dir_.path() + "/data"; }
  bool files_exist(const UploadHandle& u) const {
    return exists(driver().data_file(data_dir(), u)) ||
           exists(driver().record_file(data_dir(), u));
  }
  // An append's status: how a request for the upload is answered.
  int append_status(const UploadHandle& u, uint64_t offset) const {
    return driver().append(port_, u, offset, "x").status;
  }
  // The counter grows once a removal is durable (after the unlinks the test sees, the fsync).
  bool expired_count_reaches(uint64_t n) {
    return eventually([&] { return metric(port_, "ringest_uploads_expired_total") == n; });
  }
  void restart(const std::vector<std::string>& args) {
    server_->kill9();
    server_.reset();
    start(args);
  }
};

// Unfinished, no byte for --expire-after: the files go, requests get 410, the counter counts.
TEST_P(Expiry, UnfinishedUploadExpiresAndItsFilesAreDeleted) {
  start({"--expire-after", "400ms"});
  UploadHandle u = driver().create(port_, 1000, "abandoned.bin");
  ASSERT_TRUE(u.valid());
  ASSERT_EQ(driver().append(port_, u, 0, random_bytes(100, 1)).kind,
            AppendOutcome::Kind::kAccepted);
  ASSERT_TRUE(files_exist(u));
  EXPECT_TRUE(eventually([&] { return !files_exist(u); })) << "the collector never removed it";
  EXPECT_FALSE(driver().state(port_, u));
  EXPECT_EQ(append_status(u, 100), 410) << "the node remembers the expired id";
  EXPECT_TRUE(expired_count_reaches(1));
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u);
}

// A request that writes slowly owns the upload: long past --expire-after (no commit happens
// while it sends, so the upload's last commit stays at its creation), it is still there, its
// state is served, and the append completes it.
TEST_P(Expiry, SlowWriterIsNotExpiredWhileWriting) {
  start({"--expire-after", "1s", "--min-body-rate", "0"});
  const std::string data = random_bytes(4000, 2);
  UploadHandle u = driver().create(port_, data.size(), "slow.bin");
  ASSERT_TRUE(u.valid());
  auto started = Clock::now();
  Connection c(port_);
  ASSERT_TRUE(c.send_all(driver().append_head(u, 0, data.size())));
  for (size_t at = 0; at < data.size(); at += 200) {
    ASSERT_TRUE(c.send_all(data.substr(at, 200)));
    std::this_thread::sleep_for(std::chrono::milliseconds(150));  // 20 pieces: 3 s
    if (at == 2000) {
      EXPECT_TRUE(driver().state(port_, u)) << "an upload being written is not expired";
    }
  }
  ASSERT_GE(Clock::now() - started, std::chrono::seconds(2)) << "the write outlasted expiry";
  AppendOutcome a = driver().interpret_append(c.read_response());
  EXPECT_EQ(a.kind, AppendOutcome::Kind::kAccepted) << a;
  EXPECT_TRUE(exists(driver().data_file(data_dir(), u)));
  EXPECT_EQ(driver().download(port_, u), data) << "finished: kept (no --finished-retention)";
  EXPECT_EQ(metric(port_, "ringest_uploads_expired_total"), 0u);
}

// Without --finished-retention a finished upload stays: an unfinished one created after it
// expires (so sweeps ran past the finished one's would-be deadline) and it is still served.
TEST_P(Expiry, FinishedUploadIsKeptWithoutRetention) {
  start({"--expire-after", "300ms"});
  const std::string data = random_bytes(500, 3);
  UploadHandle finished = driver().create(port_, data.size(), "done.bin");
  ASSERT_EQ(driver().append(port_, finished, 0, data).kind, AppendOutcome::Kind::kAccepted);
  UploadHandle abandoned = driver().create(port_, 100, "abandoned.bin");
  ASSERT_TRUE(abandoned.valid());
  ASSERT_TRUE(eventually([&] { return !files_exist(abandoned); }));
  EXPECT_TRUE(exists(driver().data_file(data_dir(), finished)));
  EXPECT_TRUE(exists(driver().record_file(data_dir(), finished)));
  EXPECT_EQ(driver().download(port_, finished), data);
  EXPECT_TRUE(expired_count_reaches(1));
}

// With --finished-retention a finished upload goes that long after it completed.
TEST_P(Expiry, FinishedUploadIsRemovedAfterRetention) {
  start({"--expire-after", "0", "--finished-retention", "500ms"});
  const std::string data = random_bytes(500, 4);
  UploadHandle u = driver().create(port_, data.size(), "done.bin");
  ASSERT_EQ(driver().append(port_, u, 0, data).kind, AppendOutcome::Kind::kAccepted);
  EXPECT_TRUE(eventually([&] { return !files_exist(u); }));
  EXPECT_FALSE(driver().download(port_, u));
  EXPECT_FALSE(driver().state(port_, u));
  EXPECT_EQ(append_status(u, data.size()), 410);
  EXPECT_TRUE(expired_count_reaches(1));
}

// kill -9 right after the last byte, restart: the recovered upload carries its last commit time
// and still expires. A second restart forgets the id: 404 instead of 410.
TEST_P(Expiry, ExpiryGoesOnAfterKillAndRestart) {
  const std::vector<std::string> args = {"--expire-after", "1s"};
  start(args);
  UploadHandle u = driver().create(port_, 1000, "restart.bin");
  ASSERT_TRUE(u.valid());
  ASSERT_EQ(driver().append(port_, u, 0, random_bytes(10, 5)).kind,
            AppendOutcome::Kind::kAccepted);
  server_->kill9();
  ASSERT_TRUE(files_exist(u)) << "kill -9 keeps what was acknowledged";
  server_.reset();
  start(args);
  EXPECT_TRUE(eventually([&] { return !files_exist(u); }));
  EXPECT_EQ(append_status(u, 10), 410);
  restart(args);
  EXPECT_EQ(append_status(u, 10), 404) << "a restart forgets expired ids";
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(Expiry);

class TusExpiration : public ::testing::Test {
 protected:
  void start(std::vector<std::string> args) {
    server_ = std::make_unique<Server>(dir_.path() + "/data", std::move(args));
    server_->start();
    port_ = server_->port();
  }
  std::string uploads() const { return dir_.path() + "/data/uploads/"; }
  std::optional<Response> post(const std::string& headers) {
    return request(port_, "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n" +
                              headers + "\r\n");
  }
  std::string created(const std::optional<Response>& r) {
    EXPECT_EQ(status_of(r), 201) << (r ? r->body : "no answer");
    return r && r->status == 201 ? r->header("location") : std::string();
  }
  std::string options_extensions() {
    auto r = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
    return r ? r->header("tus-extension") : "<no answer>";
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

// Upload-Expires = the last commit + --expire-after while unfinished, its completion +
// --finished-retention once finished, at one-second precision (an HTTP-date).
TEST_F(TusExpiration, UploadExpiresInPostAndPatchResponses) {
  start({"--expire-after", "1h", "--finished-retention", "2h"});
  EXPECT_NE(options_extensions().find(",expiration"), std::string::npos) << options_extensions();
  uint64_t before = unix_seconds_now();
  auto r = post("Upload-Length: 10\r\n");
  uint64_t after = unix_seconds_now();
  std::string location = created(r);
  ASSERT_FALSE(location.empty());
  uint64_t expires = parse_http_date(r->header("upload-expires"));
  EXPECT_GE(expires, before + 3600) << r->header("upload-expires");
  EXPECT_LE(expires, after + 3600) << r->header("upload-expires");

  before = unix_seconds_now();
  auto p = tus_patch(port_, location, 0, "abcd");
  after = unix_seconds_now();
  ASSERT_EQ(status_of(p), 204);
  expires = parse_http_date(p->header("upload-expires"));
  EXPECT_GE(expires, before + 3600) << p->header("upload-expires");
  EXPECT_LE(expires, after + 3600) << p->header("upload-expires");

  before = unix_seconds_now();
  p = tus_patch(port_, location, 4, "efghij");  // completes it
  after = unix_seconds_now();
  ASSERT_EQ(status_of(p), 204);
  expires = parse_http_date(p->header("upload-expires"));
  EXPECT_GE(expires, before + 7200) << p->header("upload-expires");
  EXPECT_LE(expires, after + 7200) << p->header("upload-expires");
}

// A finished upload kept for ever has no Upload-Expires; with expiry off nothing has one and
// Tus-Extension leaves `expiration` out.
TEST_F(TusExpiration, NoUploadExpiresWhereNothingExpires) {
  start({"--expire-after", "1h"});
  std::string location = created(post("Upload-Length: 3\r\n"));
  auto p = tus_patch(port_, location, 0, "abc");
  ASSERT_EQ(status_of(p), 204);
  EXPECT_EQ(p->header("upload-expires"), "") << "finished, kept for ever";
  server_->stop();

  start({"--expire-after", "0"});
  EXPECT_EQ(options_extensions().find("expiration"), std::string::npos) << options_extensions();
  auto r = post("Upload-Length: 3\r\n");
  ASSERT_FALSE(created(r).empty());
  EXPECT_EQ(r->header("upload-expires"), "");
  p = tus_patch(port_, r->header("location"), 0, "ab");
  ASSERT_EQ(status_of(p), 204);
  EXPECT_EQ(p->header("upload-expires"), "");
}

// A partial that a live final lists keeps its data file past its own retention (the final's
// bytes are read from it); once the final has expired, the partials go too.
TEST_F(TusExpiration, PartialListedByFinalOutlivesItsRetention) {
  start({"--expire-after", "0", "--finished-retention", "2s"});
  std::string parts[2];
  for (int i = 0; i < 2; ++i) {
    parts[i] = created(post("Upload-Concat: partial\r\nUpload-Length: 3\r\n"));
    ASSERT_EQ(status_of(tus_patch(port_, parts[i], 0, i == 0 ? "abc" : "def")), 204);
  }
  // A plain upload finished after the partials: its removal shows that sweeps ran past the
  // partials' own deadline.
  std::string plain = created(post("Upload-Length: 1\r\n"));
  ASSERT_EQ(status_of(tus_patch(port_, plain, 0, "x")), 204);
  std::this_thread::sleep_for(std::chrono::seconds(1));  // the final expires a second later
  std::string final_location =
      created(post("Upload-Concat: final;" + parts[0] + " " + parts[1] + "\r\n"));
  ASSERT_FALSE(final_location.empty());
  auto file = [&](const std::string& location, const char* suffix) {
    return uploads() + id_of(location) + suffix;
  };
  bool saw_plain_gone_with_final_alive = false;
  ASSERT_TRUE(eventually([&] {
    bool parts_there = exists(file(parts[0], ".bin")) && exists(file(parts[1], ".bin"));
    bool plain_gone = !exists(file(plain, ".rec"));
    bool final_there = exists(file(final_location, ".rec"));
    // (Read in this order: the final was there after the parts were looked at.)
    EXPECT_TRUE(parts_there || !final_there) << "a part went while its final lived";
    if (plain_gone && final_there) saw_plain_gone_with_final_alive = true;
    return !final_there;
  }));
  EXPECT_TRUE(saw_plain_gone_with_final_alive)
      << "no sweep ran between the parts' deadline and the final's";
  EXPECT_TRUE(eventually([&] {
    return !exists(file(parts[0], ".bin")) && !exists(file(parts[1], ".bin")) &&
           !exists(file(parts[0], ".rec")) && !exists(file(parts[1], ".rec"));
  }));
  EXPECT_TRUE(eventually([&] { return metric(port_, "ringest_uploads_expired_total") == 4; }));
}

// A backlog (more uploads than the collector removes at once) is all removed, in steps, and the
// batch log lines add up to it.
TEST_F(TusExpiration, ABacklogOfExpiredUploadsIsAllRemovedAndLogged) {
  constexpr int kUploads = 200;
  // (One client leaves 200 uploads unfinished: the per-client bound, 64 by default, is off.)
  start({"--expire-after", "1s", "--max-uploads-per-client", "0"});
  std::vector<std::string> ids;
  for (int i = 0; i < kUploads; ++i) {
    std::string location = tus_create(port_, 10);
    ASSERT_FALSE(location.empty());
    ids.push_back(id_of(location));
  }
  EXPECT_TRUE(eventually([&] {
    return metric(port_, "ringest_uploads_expired_total") == static_cast<uint64_t>(kUploads);
  }, 60000));
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u);
  for (const std::string& id : ids) EXPECT_FALSE(exists(uploads() + id + ".bin")) << id;
  server_->stop();
  std::string log = read_file(server_->stderr_path());
  uint64_t logged = 0;
  const std::string marker = "expiry: removed ";
  for (size_t at = log.find(marker); at != std::string::npos; at = log.find(marker, at + 1)) {
    logged += std::stoull(log.substr(at + marker.size()));
  }
  EXPECT_EQ(logged, static_cast<uint64_t>(kUploads)) << log.substr(0, 2000);
}

}  // namespace
}  // namespace ringest::test
