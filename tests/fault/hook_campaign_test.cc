// The hooks' promise under kill -9: ringestd is SIGKILLed at random moments while 8 clients
// upload and finish small uploads (resuming after each restart), for RINGEST_HOOK_ROUNDS rounds
// (30 here; tests/fault/campaign.sh --hooks runs 200). At the end every upload a client saw
// finish has had its `finished` event delivered to the receiver at least once, no upload got a
// `finished` it did not earn, each upload's events came in order, and the duplicates (events
// sent again because the crash came between a delivery and its record) are counted and
// reported.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <thread>

#include "tests/support/hook_receiver.h"
#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr uint64_t kUploadBytes = 96 << 10;
constexpr uint64_t kChunk = 32 << 10;

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// One client: uploads one file after another, resuming from HEAD after any failure, and notes
// each upload it saw complete.
struct Client {
  std::string location;
  uint64_t offset = 0;
  std::string bytes;
  uint64_t started = 0;

  // Works until the server goes away (a request fails) or `stop`.
  void run(uint16_t port, int seed, std::atomic<bool>& stop, std::mutex& mu,
           std::set<std::string>& finished) {
    while (!stop.load()) {
      if (location.empty()) {
        bytes = random_bytes(kUploadBytes, static_cast<uint64_t>(seed) * 1000003 + started++);
        location = tus_create(port, kUploadBytes);
        if (location.empty()) return;
        offset = 0;
      }
      std::optional<uint64_t> at = head_offset(port, location);
      if (!at) return;
      offset = *at;
      if (offset == kUploadBytes) {
        std::lock_guard lock(mu);
        finished.insert(id_of(location));
        location.clear();
        continue;
      }
      uint64_t n = std::min(kChunk, kUploadBytes - offset);
      auto r = tus_patch(port, location, offset, std::string_view(bytes).substr(offset, n));
      if (status_of(r) != 204) return;
    }
  }
};

TEST(HookCampaign, EveryFinishedUploadsEventArrivesThroughKill9AtRandomMoments) {
  const int rounds = env_int("RINGEST_HOOK_ROUNDS", 30);
  HookReceiver receiver;
  receiver.start();
  TempDir dir;
  uint16_t port = free_port();
  std::vector<std::string> args = {"--hook-url", receiver.url(), "--hook-retry-max", "100ms",
                                   "--threads", "2"};
  std::mt19937 rng(20261202);
  std::vector<Client> clients(8);
  std::mutex mu;
  std::set<std::string> finished;
  for (int round = 0; round < rounds; ++round) {
    Server server(dir.path() + "/data", args, port);
    server.start();
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients.size(); ++i) {
      threads.emplace_back([&, i] {
        clients[i].run(port, static_cast<int>(i + 1), stop, mu, finished);
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 150));
    server.kill9();
    stop.store(true);
    for (std::thread& t : threads) t.join();
  }
  // A last start: whatever is still owed is delivered now.
  Server server(dir.path() + "/data", args, port);
  server.start();
  auto deadline = Clock::now() + std::chrono::seconds(60);
  auto missing = [&] {
    std::map<std::string, int> counts = receiver.counts();
    size_t n = 0;
    for (const std::string& id : finished) n += counts.count(id + "-finished") == 0;
    return n;
  };
  while (missing() > 0 && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(missing(), 0u) << "finished uploads whose event never arrived";
  ASSERT_GT(finished.size(), static_cast<size_t>(rounds)) << "the campaign finished too few uploads";
  // Each upload's events in order; a finished event only for an upload that is complete.
  int duplicates = 0;
  std::map<std::string, std::vector<std::string>> per_upload;
  for (const ReceivedHook& r : receiver.received()) {
    nlohmann::json j = nlohmann::json::parse(r.body);
    std::string id = j["upload"]["id"];
    per_upload[id].push_back(r.event);
    if (r.event == "finished") {
      EXPECT_EQ(j["upload"]["offset"], kUploadBytes) << id;
    }
  }
  for (const auto& [id, count] : receiver.counts()) duplicates += count - 1;
  for (const auto& [id, types] : per_upload) {
    bool seen_finished = false;
    for (const std::string& type : types) {
      if (type == "finished") seen_finished = true;
      if (type == "created") {
        EXPECT_FALSE(seen_finished) << id << ": created after finished";
      }
    }
  }
  std::printf("hook campaign: %d rounds, %zu uploads finished, %zu events received, %d "
              "duplicates, %zu lost\n",
              rounds, finished.size(), receiver.count(), duplicates, missing());
  RecordProperty("duplicates", duplicates);
  RecordProperty("finished", static_cast<int>(finished.size()));
}

}  // namespace
}  // namespace ringest::test
