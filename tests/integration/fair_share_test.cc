// No client holds what it is not using: three cheap attacks against the real ringestd, each with
// a legitimate client served while it runs. The attacks used to work: slow download readers held
// every pool slot, lingering closes each took a slot (and jumped the queue of waiters), and
// silent connections filled the connection table so everyone else got 503. Pool sizes are tiny
// here so that a handful of attackers would be enough; the legitimate client's deadline (10 s)
// is far below what each attack used to hold it for, so nothing here depends on timing.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

constexpr int kLegitimateTimeoutMs = 10000;

class FairShare : public ServerDriverTest {
 protected:
  // The legitimate client: a health check and an upload, each on a fresh connection that gives
  // up after kLegitimateTimeoutMs.
  void expect_served(const UploadDriver& d, size_t upload_bytes) {
    Connection c(port_, kLegitimateTimeoutMs);
    ASSERT_TRUE(c.send_all("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
    auto health = c.read_response();
    ASSERT_TRUE(health.has_value()) << "/healthz unanswered";
    EXPECT_EQ(health->status, 200);
    Connection create(port_, kLegitimateTimeoutMs);
    ASSERT_TRUE(create.send_all(d.create_request(upload_bytes)));
    UploadHandle upload = d.created(create.read_response(), upload_bytes);
    ASSERT_TRUE(upload.valid()) << "creation unanswered or refused";
    std::string data = random_bytes(upload_bytes, upload_bytes);
    Connection append(port_, kLegitimateTimeoutMs);
    ASSERT_TRUE(append.send_all(d.append_head(upload, 0, data.size())));
    ASSERT_TRUE(append.send_all(data));
    AppendOutcome r = d.interpret_append(append.read_response());
    EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
    EXPECT_EQ(sha256_file(d.data_file(server_->data_dir(), upload)), sha256_hex(data));
  }
};

const char kOptions[] = "OPTIONS /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n";

// Creates an upload and starts its body on one new connection, and returns once the server is
// reading the body (its 100 Continue came): from then on the connection has a request in
// progress, and no other connection was left behind for the server to close.
struct BodyInProgress {
  UploadHandle upload;
  std::unique_ptr<Connection> c;
};
BodyInProgress begin_body(uint16_t port, const TusDriver& tus, uint64_t length,
                          std::string_view first) {
  BodyInProgress b;
  auto c = std::make_unique<Connection>(port, 10000);
  if (!c->send_all(tus.create_request(length, "f"))) return b;
  UploadHandle upload = tus.created(c->read_response(), length);
  std::string head = tus.append_head(upload, 0, length);
  head.insert(head.size() - 2, "Expect: 100-continue\r\n");
  if (!upload.valid() || !c->send_all(head)) return b;
  auto interim = c->read_response();
  if (!interim || interim->status != 100 || !c->send_all(first)) return b;
  b.upload = upload;
  b.c = std::move(c);
  return b;
}

TEST_P(FairShare, DownloadsTheClientDoesNotReadHoldNoPoolSlots) {
  // Four slots; eight downloads of 8 MiB whose clients do not read (4 KiB receive buffers).
  const UploadDriver& d = driver();
  start({"--threads", "1", "--buffers", "4", "--buffer-bytes", "64K", "--idle-timeout", "60s"});
  std::string data = random_bytes(8 << 20, 21);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  ASSERT_EQ(d.append(port_, upload, 0, data).kind, AppendOutcome::Kind::kAccepted);
  std::vector<std::unique_ptr<Connection>> readers;
  for (int i = 0; i < 8; ++i) {
    readers.push_back(std::make_unique<Connection>(port_, 30000, 4096));
    ASSERT_TRUE(readers.back()->send_all(d.download_request(upload)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  expect_served(d, 1 << 20);
  // The stalled downloads were only waiting: each now gets the whole file, intact.
  const std::string want = sha256_hex(data);
  for (auto& reader : readers) {
    auto r = reader->read_response();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(sha256_hex(r->body), want);
  }
}

TEST_P(FairShare, LingeringClosesHoldNoPoolSlots) {
  // Sixteen clients send a PATCH for an upload that does not exist with a large body, get an
  // early 404 (and a lingering close), and trickle a byte every 50 ms; when the server closes
  // one, it comes back. Four slots. A legitimate upload of 8 MiB must go through meanwhile.
  const UploadDriver& d = driver();
  start({"--threads", "1", "--buffers", "4", "--buffer-bytes", "64K"});
  const std::string attack =
      "PATCH /files/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: x\r\n"
      "Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
      "Content-Type: application/offset+octet-stream\r\nContent-Length: 100000000\r\n\r\n" +
      std::string(1000, 'x');
  std::atomic<bool> stop{false};
  std::atomic<int> reconnects{0};
  std::thread attacker([&] {
    std::vector<std::unique_ptr<Connection>> lingerers(16);
    while (!stop) {
      for (auto& l : lingerers) {
        if (l == nullptr || !l->send_all("x")) {
          if (l != nullptr) ++reconnects;
          l = std::make_unique<Connection>(port_, 2000);
          l->send_all(attack);
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  expect_served(d, 8 << 20);
  stop = true;
  attacker.join();
}

TEST_F(FairShare, SilentConnectionsAreShedBeforeAnyoneIsRefused) {
  // A table of 16. Two uploads are in progress (bodies half sent, each on the connection that
  // created it) and a keep-alive client sits
  // between requests, then 40 connections that never send a byte arrive: the oldest silent ones
  // are closed to make room, the uploads and the keep-alive client are not touched, and a new
  // client is served instead of refused.
  start({"--threads", "1", "--max-connections", "16", "--head-timeout", "30s"});
  TusDriver tus;
  std::vector<std::string> bodies = {random_bytes(5000, 1), random_bytes(7000, 2)};
  std::vector<BodyInProgress> senders;
  for (const std::string& body : bodies) {
    senders.push_back(begin_body(port_, tus, body.size(), body.substr(0, 1000)));
    ASSERT_NE(senders.back().c, nullptr);
  }
  // A client between two requests on a keep-alive connection: it was served, silent ones were
  // not, so they go first.
  Connection keep_alive(port_, 10000);
  ASSERT_TRUE(keep_alive.send_all(kOptions));
  ASSERT_TRUE(keep_alive.read_response().has_value());
  std::vector<std::unique_ptr<Connection>> silent;
  for (int i = 0; i < 40; ++i) silent.push_back(std::make_unique<Connection>(port_, 10000));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  Connection legitimate(port_, kLegitimateTimeoutMs);
  ASSERT_TRUE(legitimate.send_all(kOptions));
  auto r = legitimate.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204) << "refused while idle connections could have been shed";
  EXPECT_TRUE(silent.front()->closed_by_peer(2000)) << "the oldest silent connection was kept";
  ASSERT_TRUE(keep_alive.send_all(kOptions));
  auto again = keep_alive.read_response();
  ASSERT_TRUE(again.has_value()) << "a served keep-alive connection was shed before silent ones";
  EXPECT_EQ(again->status, 204);
  EXPECT_GE(metric(port_, "ringest_connections_shed_total"), 28u);  // 2 + 1 + 40 + 1 + 1 - 16 - 1
  EXPECT_EQ(metric(port_, "ringest_connections_refused_total"), 0u);
  for (size_t i = 0; i < bodies.size(); ++i) {
    ASSERT_TRUE(senders[i].c->send_all(bodies[i].substr(1000)));
    AppendOutcome done = tus.interpret_append(senders[i].c->read_response());
    EXPECT_EQ(done.kind, AppendOutcome::Kind::kAccepted) << done;
    EXPECT_EQ(sha256_file(tus.data_file(server_->data_dir(), senders[i].upload)),
              sha256_hex(bodies[i]));
  }
}

TEST_F(FairShare, ConnectionsBeyondTheLimitGet503WhenNoneCanBeShed) {
  // Both connections of the table are uploading: nothing can be shed, the third is refused.
  start({"--threads", "1", "--max-connections", "2"});
  TusDriver tus;
  std::vector<BodyInProgress> senders;
  for (int i = 0; i < 2; ++i) {
    senders.push_back(begin_body(port_, tus, 1000, std::string(10, 'x')));
    ASSERT_NE(senders.back().c, nullptr);
  }
  Connection c(port_, 10000);
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(c.closed_by_peer(5000));
}

TEST_P(FairShare, PipelinedRequestsBehindADownloadAreAnswered) {
  // The request after a download waits in the connection's carry, not in a pool slot; more
  // than the carry holds closes the connection after the first answer instead.
  const UploadDriver& d = driver();
  start({"--threads", "1", "--buffers", "4", "--buffer-bytes", "64K"});
  std::string data = random_bytes(3 << 20, 31);
  UploadHandle upload = d.create(port_, data.size());
  ASSERT_TRUE(upload.valid());
  ASSERT_EQ(d.append(port_, upload, 0, data).kind, AppendOutcome::Kind::kAccepted);
  {
    Connection c(port_, 10000);
    ASSERT_TRUE(c.send_all(d.download_request(upload) + kOptions + kOptions));
    auto first = c.read_response();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(sha256_hex(first->body), sha256_hex(data));
    for (int i = 0; i < 2; ++i) {
      auto next = c.read_response();
      ASSERT_TRUE(next.has_value()) << "pipelined request " << i;
      EXPECT_EQ(next->status, 204);
    }
  }
  {
    Connection c(port_, 10000);
    std::string many;
    while (many.size() <= 4096) many += kOptions;
    ASSERT_TRUE(c.send_all(d.download_request(upload) + many));
    auto first = c.read_response();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->status, 200);
    EXPECT_EQ(first->header("connection"), "close");
    EXPECT_EQ(sha256_hex(first->body), sha256_hex(data));
    EXPECT_TRUE(c.closed_by_peer(7000));
  }
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(FairShare);

}  // namespace
}  // namespace ringest::test
