// The blocking pre-create hook against the real binary: a real HTTP receiver in this process and
// a real exec hook. A refusal gets the hook's status and reason and creates nothing (for every
// upload protocol); an acceptance creates; the hook sees the upload's length, decoded metadata
// and the request's headers; a hook that fails gets 503 by default and creates when the
// policy is --pre-create-failure accept; the reactors keep serving while a hook is slow.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/hook_receiver.h"
#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

class PreCreateHook : public ServerDriverTest {};

TEST_P(PreCreateHook, ARefusalGetsTheHooksStatusAndReasonAndCreatesNothing) {
  const UploadDriver& d = driver();
  HookReceiver receiver;
  receiver.start();
  receiver.set_status(403);
  receiver.set_reply("over quota for this user\n");
  start({"--pre-create-url", receiver.url()});
  auto refused = request(port_, d.create_request(1000, "a.txt"));
  EXPECT_EQ(status_of(refused), 403);
  EXPECT_NE(refused->body.find("over quota for this user"), std::string::npos) << refused->body;
  EXPECT_EQ(count_dir_entries(server_->data_dir() + "/uploads"), 0);
  ASSERT_EQ(receiver.count(), 1u);
  nlohmann::json asked = nlohmann::json::parse(receiver.received()[0].body);
  EXPECT_EQ(asked["type"], "pre-create");
  EXPECT_EQ(asked["upload"]["length"], 1000);
  EXPECT_EQ(asked["upload"]["protocol"], d.name());
  EXPECT_EQ(asked["request"]["remote_addr"], "127.0.0.1");
  EXPECT_EQ(asked["request"]["method"], "POST");
  receiver.set_status(200);
  UploadHandle created = d.created(request(port_, d.create_request(1000, "a.txt")), 1000);
  EXPECT_FALSE(created.url.empty());
  EXPECT_EQ(receiver.count(), 2u);
}
RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(PreCreateHook);

TEST(PreCreateHookTus, TheHookSeesMetadataAndHeadersAndAnExecHookDecides) {
  TempDir dir;
  std::string seen = dir.path() + "/seen.json";
  // Refuses with 451 and a reason when the metadata names user mallory; keeps what it saw.
  std::string script = dir.path() + "/pre.sh";
  write_file(script, "#!/bin/sh\n"
                     "cat > " + seen + "\n"
                     "grep -q '\"user\":\"mallory\"' " + seen + " && { echo '451 mallory may not'; exit 1; }\n"
                     "exit 0\n");
  chmod(script.c_str(), 0755);
  Server server(dir.path() + "/data", {"--pre-create-exec", script});
  server.start();
  // user=mallory (base64 bWFsbG9yeQ==), then user=alice (YWxpY2U=)
  std::string raw = "POST /files/ HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n"
                    "Upload-Length: 5\r\nAuthorization: Bearer t0k\r\n"
                    "Upload-Metadata: user bWFsbG9yeQ==\r\n\r\n";
  auto refused = request(server.port(), raw);
  EXPECT_EQ(status_of(refused), 451);
  EXPECT_NE(refused->body.find("mallory may not"), std::string::npos);
  nlohmann::json asked = nlohmann::json::parse(read_file(seen));
  EXPECT_EQ(asked["upload"]["metadata"]["user"], "mallory");
  EXPECT_EQ(asked["request"]["headers"]["authorization"], "Bearer t0k");
  EXPECT_EQ(asked["request"]["uri"], "/files/");
  EXPECT_EQ(count_dir_entries(server.data_dir() + "/uploads"), 0);
  raw.replace(raw.find("bWFsbG9yeQ=="), 12, "YWxpY2U=");
  EXPECT_EQ(status_of(request(server.port(), raw)), 201);
}

TEST(PreCreateHookTus, AFailingHookGets503ByDefaultAndCreatesWhenThePolicySaysAccept) {
  uint16_t down = free_port();  // nobody listens
  std::string url = "http://127.0.0.1:" + std::to_string(down) + "/pre";
  {
    TempDir dir;
    Server server(dir.path() + "/data", {"--pre-create-url", url});
    server.start();
    EXPECT_EQ(status_of(request(server.port(), tus_create_request(10))), 503);
    EXPECT_EQ(count_dir_entries(server.data_dir() + "/uploads"), 0);
    EXPECT_NE(read_file(server.stderr_path()).find("pre-create hook failed"), std::string::npos);
  }
  TempDir dir;
  Server server(dir.path() + "/data", {"--pre-create-url", url, "--pre-create-failure", "accept"});
  server.start();
  EXPECT_EQ(status_of(request(server.port(), tus_create_request(10))), 201);
}

TEST(PreCreateHookTus, ASlowHookHoldsOnlyItsOwnRequestAndTimesOut) {
  TempDir dir;
  std::string script = dir.path() + "/slow.sh";
  write_file(script, "#!/bin/sh\nsleep 5\nexit 0\n");
  chmod(script.c_str(), 0755);
  Server server(dir.path() + "/data",
                {"--pre-create-exec", script, "--pre-create-timeout", "1500ms", "--threads", "1"});
  server.start();
  std::optional<Response> slow;
  std::thread asker([&] { slow = request(server.port(), tus_create_request(10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // The one reactor still answers while the hook runs.
  EXPECT_EQ(status_of(request(server.port(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")), 200);
  asker.join();
  EXPECT_EQ(status_of(slow), 503);  // past its timeout the hook was killed: a failure
}

}  // namespace
}  // namespace ringest::test
