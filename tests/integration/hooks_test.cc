// Hooks against the real binary: a real HTTP receiver in this process (tests/support/
// hook_receiver.h) and a real exec hook (a shell script). Every event of an upload's life
// arrives in order with its facts and a valid signature; an exec hook that fails is retried
// until it succeeds; a receiver that is down (port closed) across a restart gets everything when
// it comes back; the outbox is bounded (new uploads get 503 while it is full, then work again).
// (The kill -9 campaign is tests/fault/hook_campaign_test.cc.)
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/hook_receiver.h"
#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

using Clock = std::chrono::steady_clock;

// Polls `done` every 20 ms for up to `seconds`.
template <typename Done>
bool eventually(Done done, int seconds = 30) {
  auto deadline = Clock::now() + std::chrono::seconds(seconds);
  while (Clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return done();
}

std::string hmac_hex(const std::string& key, const std::string& body) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), mac, &len);
  std::string hex;
  char b[3];
  for (unsigned i = 0; i < len; ++i) {
    snprintf(b, sizeof b, "%02x", mac[i]);
    hex += b;
  }
  return hex;
}

// The events received for `upload_id`, in arrival order (their types).
std::vector<std::string> types_for(const std::vector<ReceivedHook>& got, const std::string& id) {
  std::vector<std::string> types;
  for (const ReceivedHook& r : got) {
    if (nlohmann::json::parse(r.body)["upload"]["id"] == id) types.push_back(r.event);
  }
  return types;
}

std::string upload_whole(uint16_t port, std::string_view bytes, std::string_view metadata = {}) {
  std::string location = tus_create(port, bytes.size(), metadata);
  EXPECT_EQ(status_of(tus_patch(port, location, 0, bytes)), 204);
  return location;
}

TEST(Hooks, EveryEventOfAnUploadsLifeArrivesInOrderWithItsFactsAndSignature) {
  HookReceiver receiver;
  receiver.start();
  TempDir dir;
  write_file(dir.path() + "/secret", "s3cret\n");
  Server server(dir.path() + "/data",
                {"--hook-url", receiver.url(), "--hook-secret-file", dir.path() + "/secret"});
  server.start();
  // filename=hello.txt
  std::string done = upload_whole(server.port(), "hello world", "filename aGVsbG8udHh0");
  std::string gone = tus_create(server.port(), 100);
  auto del = request(server.port(), "DELETE " + gone + " HTTP/1.1\r\nHost: x\r\n"
                                    "Tus-Resumable: 1.0.0\r\n\r\n");
  ASSERT_EQ(status_of(del), 204);
  ASSERT_TRUE(eventually([&] { return receiver.count() >= 4; })) << receiver.count();
  std::vector<ReceivedHook> got = receiver.received();
  EXPECT_EQ(types_for(got, id_of(done)), (std::vector<std::string>{"created", "finished"}));
  EXPECT_EQ(types_for(got, id_of(gone)), (std::vector<std::string>{"created", "terminated"}));
  for (const ReceivedHook& r : got) {
    EXPECT_EQ(r.signature, "sha256=" + hmac_hex("s3cret", r.body));
    nlohmann::json j = nlohmann::json::parse(r.body);
    EXPECT_EQ(j["id"], r.event_id);
    EXPECT_EQ(j["type"], r.event);
    EXPECT_EQ(j["upload"]["protocol"], "tus");
    if (j["upload"]["id"] == id_of(done) && r.event == "finished") {
      EXPECT_EQ(j["id"], id_of(done) + "-finished");
      EXPECT_EQ(j["upload"]["length"], 11);
      EXPECT_EQ(j["upload"]["offset"], 11);
      EXPECT_EQ(j["upload"]["path"], done);
      EXPECT_EQ(j["upload"]["metadata"]["filename"], "hello.txt");
      if (!test_io_mode_is("splice")) {  // spliced bytes are never hashed: no digest is claimed
        EXPECT_EQ("crc32c=:" + j["upload"]["digest"]["crc32c"].get<std::string>() + ":",
                  repr_digest_crc32c(bitwise_crc32c("hello world")));
      }
    }
    if (r.event == "terminated") {
      EXPECT_EQ(j["upload"]["length"], 100);
    }
  }
  // Delivered: the tombstone of the deleted upload is gone from events/.
  EXPECT_TRUE(eventually([&] { return count_dir_entries(server.data_dir() + "/events", ".terminated") == 0; }));
  EXPECT_EQ(metric(server.port(), "ringest_hook_events_delivered_total"), 4u);
  EXPECT_EQ(receiver.count(), 4u);  // and nothing twice
}

TEST(Hooks, AnExecHookGetsEveryEventAndIsRetriedUntilItSucceeds) {
  TempDir dir;
  std::string out = dir.path() + "/out";
  mkdir(out.c_str(), 0755);
  // Fails (exit 3) its first two runs, then keeps each event's JSON under its id.
  std::string script = dir.path() + "/hook.sh";
  write_file(script, "#!/bin/sh\n"
                     "n=$(cat " + dir.path() + "/runs 2>/dev/null || echo 0)\n"
                     "echo $((n + 1)) > " + dir.path() + "/runs\n"
                     "[ \"$n\" -lt 2 ] && exit 3\n"
                     "cat > " + out + "/$RINGEST_EVENT_ID.part\n"
                     "mv " + out + "/$RINGEST_EVENT_ID.part " + out + "/$RINGEST_EVENT_ID.json\n");
  chmod(script.c_str(), 0755);
  Server server(dir.path() + "/data", {"--hook-exec", script, "--hook-retry-max", "50ms"});
  server.start();
  std::string location = upload_whole(server.port(), "abc");
  std::string id = id_of(location);
  ASSERT_TRUE(eventually([&] { return count_dir_entries(out, ".json") == 2; }));
  nlohmann::json finished = nlohmann::json::parse(read_file(out + "/" + id + "-finished.json"));
  EXPECT_EQ(finished["type"], "finished");
  EXPECT_EQ(finished["upload"]["offset"], 3);
  nlohmann::json created = nlohmann::json::parse(read_file(out + "/" + id + "-created.json"));
  EXPECT_EQ(created["upload"]["offset"], 0);
  EXPECT_GE(metric(server.port(), "ringest_hook_delivery_failures_total"), 2u);
  EXPECT_NE(read_file(server.stderr_path()).find("not delivered to " + script), std::string::npos);
}

TEST(Hooks, AReceiverThatIsDownAcrossARestartGetsEverythingWhenItComesBack) {
  uint16_t port = free_port();
  HookReceiver receiver;  // not started: connections to `port` are refused
  TempDir dir;
  std::vector<std::string> args = {"--hook-url", "http://127.0.0.1:" + std::to_string(port) + "/h",
                                   "--hook-retry-max", "100ms"};
  auto server = std::make_unique<Server>(dir.path() + "/data", args);
  server->start();
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(id_of(upload_whole(server->port(), "x" + std::to_string(i))));
  std::string gone = tus_create(server->port(), 5);
  ASSERT_EQ(status_of(request(server->port(), "DELETE " + gone + " HTTP/1.1\r\nHost: x\r\n"
                                              "Tus-Resumable: 1.0.0\r\n\r\n")), 204);
  ASSERT_TRUE(eventually([&] {
    return metric(server->port(), "ringest_hook_delivery_failures_total") >= 2;
  }));
  EXPECT_EQ(metric(server->port(), "ringest_hook_outbox_events"), 10u);
  server->kill9();  // the events owed are on disk only
  server = std::make_unique<Server>(dir.path() + "/data", args);
  server->start();
  EXPECT_EQ(metric(server->port(), "ringest_hook_outbox_events"), 10u);
  receiver.start(port);
  ASSERT_TRUE(eventually([&] { return receiver.count() >= 10; })) << receiver.count();
  std::vector<ReceivedHook> got = receiver.received();
  for (const std::string& id : ids) {
    EXPECT_EQ(types_for(got, id), (std::vector<std::string>{"created", "finished"})) << id;
  }
  EXPECT_EQ(types_for(got, id_of(gone)), (std::vector<std::string>{"created", "terminated"}));
  EXPECT_TRUE(eventually([&] { return metric(server->port(), "ringest_hook_outbox_events") == 0; }));
}

TEST(Hooks, TheOutboxIsBoundedNewUploadsGet503WhileItIsFullAndWorkAgainAfter) {
  uint16_t port = free_port();
  HookReceiver receiver;
  TempDir dir;
  Server server(dir.path() + "/data",
                {"--hook-url", "http://127.0.0.1:" + std::to_string(port) + "/h",
                 "--hook-retry-max", "100ms", "--hook-outbox-max", "16"});
  server.start();
  int created = 0;
  int refused = 0;
  for (int i = 0; i < 40 && refused == 0; ++i) {
    auto r = request(server.port(), tus_create_request(10));
    if (status_of(r) == 201) ++created;
    if (status_of(r) == 503) ++refused;
  }
  EXPECT_EQ(refused, 1);
  EXPECT_EQ(created, 16);  // one created event each: the 17th finds the outbox full
  EXPECT_GE(metric(server.port(), "ringest_hook_uploads_refused_total"), 1u);
  EXPECT_NE(read_file(server.stderr_path()).find("hook outbox full"), std::string::npos);
  receiver.start(port);
  ASSERT_TRUE(eventually([&] { return receiver.count() >= 16; }));
  ASSERT_TRUE(eventually([&] { return status_of(request(server.port(), tus_create_request(10))) == 201; }));
}

TEST(Hooks, AnAbandonedUploadThatExpiresHasItsExpiredEventAfterItsCreated) {
  HookReceiver receiver;
  receiver.start();
  TempDir dir;
  Server server(dir.path() + "/data", {"--hook-url", receiver.url(), "--expire-after", "300ms"});
  server.start();
  std::string abandoned = tus_create(server.port(), 100);
  ASSERT_EQ(status_of(tus_patch(server.port(), abandoned, 0, "part")), 204);
  ASSERT_TRUE(eventually([&] { return receiver.count() >= 2; })) << receiver.count();
  std::vector<ReceivedHook> got = receiver.received();
  EXPECT_EQ(types_for(got, id_of(abandoned)), (std::vector<std::string>{"created", "expired"}));
  nlohmann::json expired = nlohmann::json::parse(got.back().body);
  EXPECT_EQ(expired["upload"]["offset"], 4);  // what was committed when it expired
  EXPECT_EQ(expired["upload"]["length"], 100);
  EXPECT_TRUE(eventually([&] { return count_dir_entries(server.data_dir() + "/events", ".expired") == 0; }));
  EXPECT_EQ(count_dir_entries(server.data_dir() + "/uploads", ".bin"), 0);
}

TEST(Hooks, AFinishedUploadIsNotExpiredBeforeItsFinishedEventIsDelivered) {
  uint16_t port = free_port();
  HookReceiver receiver;  // down at first
  TempDir dir;
  Server server(dir.path() + "/data",
                {"--hook-url", "http://127.0.0.1:" + std::to_string(port) + "/h",
                 "--hook-retry-max", "100ms", "--finished-retention", "200ms"});
  server.start();
  std::string done = upload_whole(server.port(), "keep me until told");
  // Well past its retention, its files stay: the receiver has not heard of it yet.
  ASSERT_TRUE(eventually([&] {
    return metric(server.port(), "ringest_hook_delivery_failures_total") >= 5;
  }));
  EXPECT_EQ(count_dir_entries(server.data_dir() + "/uploads", ".bin"), 1);
  receiver.start(port);
  ASSERT_TRUE(eventually([&] { return receiver.count() >= 3; })) << receiver.count();
  EXPECT_EQ(types_for(receiver.received(), id_of(done)),
            (std::vector<std::string>{"created", "finished", "expired"}));
  EXPECT_TRUE(eventually([&] { return count_dir_entries(server.data_dir() + "/uploads", ".bin") == 0; }));
}

}  // namespace
}  // namespace ringest::test
