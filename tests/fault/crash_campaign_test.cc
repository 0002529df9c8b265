// Proves the durability promise under faults provoked on purpose, against the real binary:
// a crash campaign (SIGKILL at random moments while 8 clients upload and resume), a simulated
// power loss (everything not fdatasync'd is dropped), SIGTERM mid-upload, and clients that
// vanish or go half-open at random byte positions. Across all of it, no offset reported to a
// client is ever larger than what the server reports after a restart, and every upload
// completes byte-exact.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;
using Clock = std::chrono::steady_clock;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();  // block reads, not a byte at a time (slow in the sanitizer build)
  return out.str();
}

int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Every offset a server reported to a client, kept as the maximum per upload.
class OffsetLog {
 public:
  void reported(const std::string& loc, uint64_t offset) {
    std::lock_guard lock(mu_);
    uint64_t& max = max_[loc];
    if (offset > max) max = offset;
    ++count_;
  }
  std::map<std::string, uint64_t> snapshot() {
    std::lock_guard lock(mu_);
    return max_;
  }
  uint64_t count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, uint64_t> max_;
  uint64_t count_ = 0;
};

// A resuming tus client: HEAD for the offset, PATCH the rest in chunks, start over on any
// error (connection refused while the server is down, reset when it is killed).
struct ResumingClient {
  uint16_t port;
  OffsetLog* log;
  uint64_t chunk_bytes;

  // Returns true once the whole upload is acknowledged, false if the deadline passed.
  bool upload(const std::string& loc, const std::string& data, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      try {
        auto head = tus_head(port, loc);
        if (!head || head->status != 200) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        uint64_t offset = std::stoull(head->header("upload-offset"));
        log->reported(loc, offset);
        if (offset == data.size()) return true;
        uint64_t n = std::min<uint64_t>(chunk_bytes, data.size() - offset);
        auto r = tus_patch(port, loc, offset, std::string_view(data).substr(offset, n));
        if (r && (r->status == 204 || r->status == 409) && !r->header("upload-offset").empty()) {
          log->reported(loc, std::stoull(r->header("upload-offset")));
        }
      } catch (const std::exception&) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // server is down
      }
    }
    return false;
  }

  std::string create(uint64_t size, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      try {
        std::string loc = tus_create(port, size);
        if (!loc.empty()) {
          log->reported(loc, 0);
          return loc;
        }
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
  }
};

std::string get_body(uint16_t port, const std::string& loc) {
  auto r = request(port, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  return r && r->status == 200 ? r->body : std::string("<GET failed>");
}

TEST(CrashCampaign, SigkillAtRandomMomentsWhileEightClientsUpload) {
  const int rounds = env_int("RINGEST_CAMPAIGN_ROUNDS", 20);
  const int clients = 8;
  const uint64_t size = 6 * kMiB;
  TempDir dir;
  const uint16_t port = free_port();
  std::vector<std::string> args = {"--checkpoint-bytes", "256K"};
  auto server = std::make_unique<Server>(dir.path() + "/data", args, port);
  server->start();

  OffsetLog log;
  std::atomic<bool> stop_new{false};
  std::atomic<int> completed{0}, verified{0}, unfinished{0};
  const auto deadline = Clock::now() + std::chrono::seconds(60 + 3 * rounds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ResumingClient client{port, &log, 512 * 1024};
      for (int n = 0; !stop_new.load(); ++n) {
        std::string data = random_bytes(size, 1000 * c + n);
        std::string loc = client.create(size, deadline);
        if (loc.empty() || !client.upload(loc, data, deadline)) {
          ++unfinished;
          return;
        }
        ++completed;
        // Verify while the server may be killed again: retry until a GET answers.
        while (Clock::now() < deadline) {
          std::string body;
          try {
            body = get_body(port, loc);
          } catch (const std::exception&) {
          }
          if (body.size() == size) {
            if (sha256_hex(body) == sha256_hex(data)) ++verified;
            break;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    });
  }

  std::mt19937 rng(12345);
  int violations = 0, checks = 0;
  std::set<std::string> checked_complete;
  try {
    for (int round = 0; round < rounds; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30 + rng() % 170));
      auto before = log.snapshot();
      server->kill9();
      server = std::make_unique<Server>(dir.path() + "/data", args, port);
      server->start();
      for (const auto& [loc, reported] : before) {
        // A finished upload is checked after the first restart that follows; later rounds
        // only look at uploads still in progress (the checks would otherwise grow with time).
        if (reported == size && !checked_complete.insert(loc).second) continue;
        auto offset = head_offset(port, loc);
        ++checks;
        if (!offset || *offset < reported) {
          ++violations;
          ADD_FAILURE() << "round " << round << ": " << loc << " was reported at " << reported
                        << ", after restart " << (offset ? std::to_string(*offset) : "missing");
        }
      }
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "campaign stopped: " << e.what();
  }
  stop_new = true;
  for (auto& t : threads) t.join();
  std::printf("campaign: %d rounds, %d offset checks, %d violations, %llu offsets reported, "
              "%d uploads completed, %d verified\n",
              rounds, checks, violations, static_cast<unsigned long long>(log.count()),
              completed.load(), verified.load());
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(unfinished.load(), 0);
  EXPECT_EQ(verified.load(), completed.load());
  EXPECT_GE(completed.load(), clients);
  EXPECT_GT(checks, rounds);
}

#ifdef RINGEST_CLIENT_PATH
// Max offset per upload URL from `ringest --log-offsets` files ("ms status method url offset").
std::map<std::string, uint64_t> offsets_in_logs(const std::vector<std::string>& paths) {
  std::map<std::string, uint64_t> max;
  for (const std::string& path : paths) {
    std::istringstream lines(read_file(path));
    std::string line;
    while (std::getline(lines, line)) {
      std::istringstream fields(line);
      std::string ms, status, method, url;
      uint64_t offset = 0;
      if (!(fields >> ms >> status >> method >> url >> offset)) continue;  // a torn last line
      uint64_t& m = max[url];
      if (offset > m) m = offset;
    }
  }
  return max;
}

// The same campaign with the client users run: 8 `ringest upload` processes (retrying with
// short backoff) upload again and again while the server is SIGKILLed at random moments; every
// offset they were told (their --log-offsets files) must still be there after each restart.
TEST(CrashCampaign, RealClientsResumeThroughSigkills) {
  const int rounds = env_int("RINGEST_CAMPAIGN_ROUNDS", 20);
  const int clients = 8;
  const size_t size = 24 * kMiB;
  TempDir dir;
  const uint16_t port = free_port();
  std::vector<std::string> args = {"--checkpoint-bytes", "256K"};
  auto server = std::make_unique<Server>(dir.path() + "/data", args, port);
  server->start();
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/files/";
  std::vector<std::string> files, logs;
  for (int c = 0; c < clients; ++c) {
    files.push_back(dir.path() + "/file" + std::to_string(c));
    logs.push_back(dir.path() + "/offsets" + std::to_string(c));
    std::ofstream(files.back(), std::ios::binary) << random_bytes(size, 900 + c);
  }
  std::atomic<bool> stop{false};
  std::atomic<int> uploads_done{0}, client_failures{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      while (!stop.load()) {
        std::string cmd = std::string(RINGEST_CLIENT_PATH) + " upload " + files[c] + " " + url +
                          " --quiet --chunk-bytes 512K --retries 200 --retry-delay-ms 10"
                          " --max-retry-delay-ms 100 --timeout 10 --state-file " + dir.path() +
                          "/state" + std::to_string(c) + " --log-offsets " + logs[c] +
                          " > /dev/null 2>> " + dir.path() + "/client.err";
        int status = std::system(cmd.c_str());
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
          ++uploads_done;
        } else {
          ++client_failures;
          return;
        }
      }
    });
  }
  std::mt19937 rng(777);
  int violations = 0, checks = 0;
  std::set<std::string> checked_complete;
  try {
    for (int round = 0; round < rounds; ++round) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 200));
      auto told = offsets_in_logs(logs);
      server->kill9();
      server = std::make_unique<Server>(dir.path() + "/data", args, port);
      server->start();
      for (const auto& [upload_url, offset] : told) {
        // A finished upload is checked after the first restart that follows; later rounds
        // only look at uploads still in progress (the checks would otherwise grow with time).
        if (offset == size && !checked_complete.insert(upload_url).second) continue;
        std::string location = upload_url.substr(upload_url.find("/files/"));
        auto now = head_offset(port, location);
        ++checks;
        if (!now || *now < offset) {
          ++violations;
          ADD_FAILURE() << "round " << round << ": " << location << " was reported at " << offset
                        << ", after restart " << (now ? std::to_string(*now) : "missing");
        }
      }
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "campaign stopped: " << e.what();
  }
  stop = true;
  for (auto& t : threads) t.join();
  // Every upload the clients finished is byte-exact on the server.
  int verified = 0, complete = 0;
  std::set<std::string> sources;
  for (const std::string& f : files) sources.insert(sha256_file(f));
  for (const auto& [upload_url, offset] : offsets_in_logs(logs)) {
    if (offset != size) continue;
    ++complete;
    if (sources.count(sha256_file(dir.path() + "/data/uploads/" + id_of(upload_url) + ".bin"))) {
      ++verified;
    }
  }
  std::printf("real-client campaign: %d rounds, %d offset checks, %d violations, %d uploads "
              "finished by clients, %d complete on the server, %d verified\n",
              rounds, checks, violations, uploads_done.load(), complete, verified);
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(client_failures.load(), 0) << read_file(dir.path() + "/client.err");
  EXPECT_GE(uploads_done.load(), clients);
  EXPECT_EQ(verified, complete);
  EXPECT_GE(complete, uploads_done.load());
}
#endif

// Power loss, simulated honestly with the fault seam: ringestd logs every commit the moment it
// is durable (synclog); after SIGKILL the test throws away everything that log does not cover:
// data bytes past the last durable commit are overwritten with garbage, and record slots newer
// than the last durable sequence are erased. Offsets reported to clients must survive.
TEST(PowerLoss, UnsyncedBytesDroppedAfterACrashLoseNothingAcknowledged) {
  TempDir dir;
  const std::string synclog = dir.path() + "/synclog";
  const uint16_t port = free_port();
  const uint64_t size = 8 * kMiB;
  auto server = std::make_unique<Server>(
      dir.path() + "/data",
      std::vector<std::string>{"--checkpoint-bytes", "256K", "--fault-plan", "synclog=" + synclog},
      port);
  server->start();
  OffsetLog log;
  std::vector<std::string> locs(4), data(4);
  std::vector<std::thread> threads;
  const auto deadline = Clock::now() + std::chrono::milliseconds(400);
  for (int i = 0; i < 4; ++i) {
    data[i] = random_bytes(size, 77 + i);
    threads.emplace_back([&, i] {
      ResumingClient client{port, &log, 256 * 1024};
      locs[i] = client.create(size, deadline + std::chrono::seconds(5));
      client.upload(locs[i], data[i], deadline);  // stops at the deadline, mid-upload
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(250));
  server->kill9();  // the crash happens while requests are in flight
  for (auto& t : threads) t.join();
  auto acknowledged = log.snapshot();

  // What the log says became durable, per upload id.
  std::map<std::string, std::pair<uint64_t, uint64_t>> durable;  // id -> (sequence, offset)
  std::istringstream lines(read_file(synclog));
  std::string word, id;
  uint64_t seq, offset;
  while (lines >> word >> id >> seq >> offset) durable[id] = {seq, offset};
  for (int i = 0; i < 4; ++i) {
    ASSERT_FALSE(locs[i].empty());
    const std::string uploads = dir.path() + "/data/uploads/" + id_of(locs[i]);
    ASSERT_TRUE(durable.count(id_of(locs[i])));
    auto [last_seq, last_offset] = durable[id_of(locs[i])];
    std::fstream bin(uploads + ".bin", std::ios::in | std::ios::out | std::ios::binary);
    bin.seekp(static_cast<std::streamoff>(last_offset));
    std::string garbage(size - last_offset, '\xAB');
    bin.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    bin.close();
    std::fstream rec(uploads + ".rec", std::ios::in | std::ios::out | std::ios::binary);
    for (int slot = 0; slot < 2; ++slot) {
      uint64_t slot_seq = 0;
      rec.seekg(slot * 512 + 8);
      rec.read(reinterpret_cast<char*>(&slot_seq), 8);
      if (slot_seq > last_seq) {
        std::string zero(512, '\0');
        rec.seekp(slot * 512);
        rec.write(zero.data(), 512);
      }
    }
  }
  server = std::make_unique<Server>(dir.path() + "/data", std::vector<std::string>{}, port);
  server->start();
  for (int i = 0; i < 4; ++i) {
    auto after = head_offset(port, locs[i]);
    ASSERT_TRUE(after) << locs[i];
    EXPECT_GE(*after, acknowledged[locs[i]]) << "acknowledged offset lost in the power cut";
    EXPECT_EQ(read_file(dir.path() + "/data/uploads/" + id_of(locs[i]) + ".bin").substr(0, *after),
              data[i].substr(0, *after));
    ResumingClient client{port, &log, 4 * kMiB};
    ASSERT_TRUE(client.upload(locs[i], data[i], Clock::now() + std::chrono::seconds(30)));
    EXPECT_EQ(sha256_hex(get_body(port, locs[i])), sha256_hex(data[i]));
  }
}

TEST(GracefulShutdown, SigtermCommitsWhatArrivedAndExitsInTime) {
  TempDir dir;
  auto server = std::make_unique<Server>(
      dir.path() + "/data", std::vector<std::string>{"--shutdown-timeout-ms", "3000"});
  server->start();
  const uint16_t port = server->port();
  const uint64_t size = 8 * kMiB;
  std::vector<std::string> locs, data;
  std::vector<std::unique_ptr<Connection>> stalled;
  const uint64_t sent[4] = {1 * kMiB, 3 * kMiB + 17, 5 * kMiB, 7 * kMiB + 4095};
  for (int i = 0; i < 4; ++i) {
    data.push_back(random_bytes(size, 300 + i));
    locs.push_back(tus_create(port, size));
    stalled.push_back(std::make_unique<Connection>(port));
    ASSERT_TRUE(stalled.back()->send_all(patch_head(locs[i], 0, size)));
    ASSERT_TRUE(stalled.back()->send_all(data[i].data(), sent[i]));
  }
  uint64_t total = sent[0] + sent[1] + sent[2] + sent[3];
  auto until = Clock::now() + std::chrono::seconds(20);
  while (metric(port, "ringest_body_bytes_received_total") < total && Clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  auto t0 = Clock::now();
  int status = server->stop(10000);
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(took, 3500) << "SIGTERM must finish within --shutdown-timeout-ms";
  for (auto& c : stalled) EXPECT_TRUE(c->closed_by_peer(1000));
  server = std::make_unique<Server>(dir.path() + "/data");
  server->start();
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(head_offset(server->port(), locs[i]), sent[i]) << "upload " << i;
    auto r = tus_patch(server->port(), locs[i], sent[i], std::string_view(data[i]).substr(sent[i]));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 204);
    EXPECT_EQ(sha256_hex(get_body(server->port(), locs[i])), sha256_hex(data[i]));
  }
}

TEST(VanishingClients, ClosedAndHalfOpenAtRandomBytePositions) {
  TempDir dir;
  Server server(dir.path() + "/data");
  server.start();
  const uint16_t port = server.port();
  std::mt19937 rng(99);
  const uint64_t size = 2 * kMiB;
  for (int i = 0; i < 12; ++i) {
    const bool half_open = i % 2 == 1;
    std::string data = random_bytes(size, 500 + i);
    std::string loc = tus_create(port, size);
    const uint64_t cut = rng() % size;
    auto client = std::make_unique<Connection>(port);
    ASSERT_TRUE(client->send_all(patch_head(loc, 0, size)));
    ASSERT_TRUE(client->send_all(data.data(), cut));
    if (!half_open) {
      client->close_now();  // gone; the server keeps what arrived
      auto until = Clock::now() + std::chrono::seconds(10);
      while (head_offset(port, loc) != cut && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      EXPECT_EQ(head_offset(port, loc), cut) << "closed after " << cut << " bytes";
    }
    // Resume as a real client would: ask, send, and follow a 409's Upload-Offset (a half-open
    // request is cut off by the new one and its bytes committed first).
    uint64_t offset = *head_offset(port, loc);
    bool done = false;
    int lost = 0;
    for (int attempt = 0; attempt < 6 && !done; ++attempt) {
      auto r = tus_patch(port, loc, offset, std::string_view(data).substr(offset));
      if (!r) {
        // Known, not yet explained: under heavy parallel load the early 409 to a request that
        // takes over a half-open one is sometimes lost with its connection (seen since before
        // the splice and timeout work). A real client asks for the offset and sends again.
        ++lost;
        auto now = head_offset(port, loc);
        ASSERT_TRUE(now);
        offset = *now;
        continue;
      }
      if (r->status == 204) {
        done = true;
      } else {
        ASSERT_EQ(r->status, 409);
        offset = std::stoull(r->header("upload-offset"));
        // The cut-off request commits what the server had read; bytes still queued in the
        // socket when it was cut off are not acknowledged, and the client sends them again.
        EXPECT_LE(offset, cut);
      }
    }
    EXPECT_TRUE(done);
    EXPECT_LE(lost, 1) << "upload " << i;
    if (half_open) {
      EXPECT_TRUE(client->closed_by_peer(2000));
    }
    EXPECT_EQ(sha256_hex(get_body(port, loc)), sha256_hex(data)) << "upload " << i;
  }
}

}  // namespace
}  // namespace ringest::test
