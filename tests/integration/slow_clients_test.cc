// Slow, silent and greedy clients against the real ringestd: each kind gets 408 (or 503) and
// is closed, what a slow body delivered is committed, and none of them holds the pool slots
// that other clients need. The tests with uploads in them run once per upload protocol
// (tests/support/upload_driver.h); the pure HTTP ones once.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

// Parameterized by protocol driver for the tests with uploads (TEST_P); the pure HTTP ones are
// TEST_F on the same fixture (gtest wants one fixture class per suite) and never use driver().
class SlowClients : public ServerDriverTest {};

TEST_F(SlowClients, SilentConnectionGets408AndIsClosed) {
  start({"--head-timeout", "300ms"});
  Connection c(port_, 10000);
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_peer(5000));
  EXPECT_GE(metric(port_, "ringest_timeouts_total"), 1u);
}

TEST_F(SlowClients, HalfSentHeadGets408) {
  start({"--head-timeout", "300ms"});
  Connection c(port_, 10000);
  ASSERT_TRUE(c.send_all("PATCH /files/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n"));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed_by_peer(5000));
  // The server is fine for everyone else.
  std::string location = tus_create(port_, 5);
  auto p = tus_patch(port_, location, 0, "hello");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 204);
}

TEST_F(SlowClients, HeadTimeoutCountsFromTheFirstByteNotPerByte) {
  // A head dribbled one byte every 100 ms takes longer than the timeout in total: 408, even
  // though no single gap is long.
  start({"--head-timeout", "500ms"});
  Connection c(port_, 10000);
  std::string head = "OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nX-Pad: aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
  for (size_t i = 0; i < 15; ++i) {  // 1.5 s of dribbling; sends after the 408 may fail
    c.send_all(head.substr(i, 1));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
}

TEST_F(SlowClients, IdleKeepAliveConnectionGets408) {
  start({"--idle-timeout", "300ms"});
  Connection c(port_, 10000);
  ASSERT_TRUE(c.send_all("OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n"));
  auto first = c.read_response();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 204);
  auto r = c.read_response();  // nothing sent: the idle timeout answers
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed_by_peer(5000));
}

TEST_F(SlowClients, KeepAliveWithinTheIdleTimeoutIsServed) {
  start({"--idle-timeout", "2s", "--head-timeout", "2s"});
  Connection c(port_, 10000);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send_all("OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 204);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }
}

TEST_P(SlowClients, SlowBodyGets408AndWhatArrivedIsCommitted) {
  const UploadDriver& d = driver();
  start({"--min-body-rate", "1M", "--body-rate-window", "300ms"});
  std::string data = random_bytes(1 << 20, 7);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  const uint64_t kept = d.offset_after_cut(0, 10000);
  Connection c(port_, 10000);
  ASSERT_TRUE(c.send_all(d.append_head(upload, 0, data.size())));
  ASSERT_TRUE(c.send_all(data.substr(0, 10000)));  // then nothing
  AppendOutcome r = d.interpret_append(c.read_response());
  EXPECT_EQ(r.status, 408) << r;
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kRefused) << r;
  EXPECT_TRUE(answer_offset_is(d, r, kept));
  EXPECT_EQ(d.offset(port_, upload), kept);
  // The client resumes from there.
  AppendOutcome p = d.append(port_, upload, kept, data.substr(kept));
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(sha256_file(d.data_file(server_->data_dir(), upload)), sha256_hex(data));
}

TEST_P(SlowClients, SteadyBodyAboveTheMinimumRateIsNotCutOff) {
  // 4 KiB every 100 ms is 40 KiB/s, above a 16 KiB/s minimum over 300 ms windows.
  const UploadDriver& d = driver();
  start({"--min-body-rate", "16K", "--body-rate-window", "300ms"});
  std::string data = random_bytes(64 << 10, 8);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  Connection c(port_, 10000);
  ASSERT_TRUE(c.send_all(d.append_head(upload, 0, data.size())));
  for (size_t at = 0; at < data.size(); at += 4096) {
    ASSERT_TRUE(c.send_all(data.substr(at, 4096)));
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  AppendOutcome r = d.interpret_append(c.read_response());
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  EXPECT_TRUE(answer_offset_is(d, r, data.size()));
}

TEST_P(SlowClients, StalledHeadsAndTricklingBodiesHoldNoPoolSlots) {
  // One reactor with 4 slots of 64 KiB. Twelve half-sent heads and twelve bodies that sent a
  // few bytes and paused would hold every slot if waiting held one; a fast 8 MiB upload must
  // still go through, and then the paused ones finish with exact content.
  const UploadDriver& d = driver();
  start({"--threads", "1", "--buffers", "4", "--buffer-bytes", "64K", "--buffers-per-connection",
         "1", "--max-head-bytes", "8K"});
  // Creation requests cut after their request line; the rest comes at the end.
  const std::string creation = d.create_request(3);
  const size_t head_cut = creation.find("\r\n") + 2;
  std::vector<std::unique_ptr<Connection>> heads;
  for (int i = 0; i < 12; ++i) {
    heads.push_back(std::make_unique<Connection>(port_, 30000));
    ASSERT_TRUE(heads.back()->send_all(creation.substr(0, head_cut)));
  }
  struct Trickle {
    UploadHandle upload;
    std::string data;
    std::unique_ptr<Connection> c;
  };
  std::vector<Trickle> trickles;
  for (int i = 0; i < 12; ++i) {
    Trickle t;
    t.data = random_bytes(10000 + static_cast<size_t>(i) * 777, 100 + static_cast<uint64_t>(i));
    t.upload = d.create(port_, t.data.size());
    ASSERT_TRUE(t.upload.valid());
    t.c = std::make_unique<Connection>(port_, 30000);
    ASSERT_TRUE(t.c->send_all(d.append_head(t.upload, 0, t.data.size())));
    ASSERT_TRUE(t.c->send_all(t.data.substr(0, 100)));
    trickles.push_back(std::move(t));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  std::string big = random_bytes(8 << 20, 9);
  UploadHandle big_upload = d.create(port_, big.size());
  ASSERT_TRUE(big_upload.valid());
  AppendOutcome p = d.append(port_, big_upload, 0, big);
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(sha256_file(d.data_file(server_->data_dir(), big_upload)), sha256_hex(big));
  for (Trickle& t : trickles) {
    ASSERT_TRUE(t.c->send_all(t.data.substr(100)));
    AppendOutcome r = d.interpret_append(t.c->read_response());
    EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
    EXPECT_EQ(sha256_file(d.data_file(server_->data_dir(), t.upload)), sha256_hex(t.data));
  }
  for (auto& h : heads) {
    ASSERT_TRUE(h->send_all(creation.substr(head_cut)));
    auto r = h->read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(d.created(r, 3).valid()) << "status " << r->status;
  }
}

TEST_P(SlowClients, PausedBodyThatDisconnectsKeepsItsBytes) {
  // A slow client's partial block waits in the connection's stash without a slot; when the
  // client goes away, those bytes are committed all the same.
  const UploadDriver& d = driver();
  start({});
  std::string data = random_bytes(100000, 11);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  const uint64_t kept = d.offset_after_cut(0, 1234);
  {
    Connection c(port_, 10000);
    ASSERT_TRUE(c.send_all(d.append_head(upload, 0, data.size())));
    ASSERT_TRUE(c.send_all(data.substr(0, 1234)));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
  }  // closed
  std::optional<uint64_t> offset;
  for (int i = 0; i < 100; ++i) {
    offset = d.offset(port_, upload);
    if (offset == kept) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(offset, kept);
  AppendOutcome p = d.append(port_, upload, kept, data.substr(kept));
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(sha256_file(d.data_file(server_->data_dir(), upload)), sha256_hex(data));
}

// (Connections beyond the limit: fair_share_test.cc, where idle ones are shed first.)

double cpu_seconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream fields(stat.substr(stat.rfind(')') + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14) utime = std::stoull(f);
    if (i == 15) stime = std::stoull(f);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

TEST_F(SlowClients, RunningOutOfDescriptorsBacksOffInsteadOfSpinning) {
  // 64 descriptors: some of 90 connections cannot be accepted. The reactor must rest instead
  // of retrying the failing accept in a loop, and serve again once descriptors are free.
  server_ = std::make_unique<Server>(dir_.path() + "/data", std::vector<std::string>{
                                         "--threads", "1", "--head-timeout", "2s"});
  server_->set_fd_limit(64);
  server_->start();
  port_ = server_->port();
  // Let the reactor's timer tick once first (every 500 ms with a 2 s head timeout): under
  // UBSan, the first virtual call on a new type checks the object's memory through a pipe,
  // which fails once descriptors are gone and then reads as a false "invalid vptr" report.
  ASSERT_TRUE(request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 90; ++i) held.push_back(std::make_unique<Connection>(port_, 10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  double before = cpu_seconds(server_->pid());
  std::this_thread::sleep_for(std::chrono::seconds(1));
  double used = cpu_seconds(server_->pid()) - before;
  EXPECT_LT(used, 0.5) << "the reactor spins on a failing accept";
  held.clear();
  std::optional<Response> r;
  for (int i = 0; i < 50 && !(r && r->status == 204); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n");
  }
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  std::ifstream err(server_->stderr_path());
  std::string line;
  int warnings = 0;
  while (std::getline(err, line)) warnings += line.find("accept failed") != std::string::npos;
  EXPECT_GE(warnings, 1);
  EXPECT_LE(warnings, 5) << "accept failures are logged at most once a second";
}

TEST_P(SlowClients, ResponseTheClientNeverReadsIsCutOff) {
  const UploadDriver& d = driver();
  start({"--idle-timeout", "500ms"});
  std::string data = random_bytes(16 << 20, 12);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  AppendOutcome p = d.append(port_, upload, 0, data);
  ASSERT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  Connection c(port_, 10000);
  ASSERT_TRUE(c.send_all(d.download_request(upload)));
  uint64_t before = metric(port_, "ringest_timeouts_total");
  uint64_t after = before;
  for (int i = 0; i < 100 && after == before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    after = metric(port_, "ringest_timeouts_total");
  }
  EXPECT_GT(after, before);
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(SlowClients);

}  // namespace
}  // namespace ringest::test
