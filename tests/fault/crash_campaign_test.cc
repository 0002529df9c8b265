// Proves the durability promise under faults provoked on purpose, against the real binary:
// a crash campaign (SIGKILL at random moments while 8 clients upload and resume), a simulated
// power loss (everything not fdatasync'd is dropped), SIGTERM mid-upload, and clients that
// vanish or go half-open at random byte positions. Across all of it, no offset reported to a
// client is ever larger than what the server reports after a restart, and every upload
// completes byte-exact. Each scenario runs once per upload protocol (tests/support/
// upload_driver.h); the campaign with the real `ringest` client is that tus client's own.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
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
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;
using Clock = std::chrono::steady_clock;


int env_int(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::atoi(v) : fallback;
}

// Every offset a server reported to a client, kept as the maximum per upload.
class OffsetLog {
 public:
  void reported(const UploadHandle& upload, uint64_t offset) {
    std::lock_guard lock(mu_);
    auto [it, fresh] = max_.try_emplace(upload.url, upload, offset);
    if (!fresh && offset > it->second.second) it->second.second = offset;
    ++count_;
  }
  // (upload, the largest offset reported for it), by URL.
  std::map<std::string, std::pair<UploadHandle, uint64_t>> snapshot() {
    std::lock_guard lock(mu_);
    return max_;
  }
  uint64_t count() {
    std::lock_guard lock(mu_);
    return count_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<UploadHandle, uint64_t>> max_;
  uint64_t count_ = 0;
};

// A resuming client of any protocol: ask for the offset, append the rest in chunks, start over
// on any error (connection refused while the server is down, reset when it is killed).
struct ResumingClient {
  const UploadDriver* driver;
  uint16_t port;
  OffsetLog* log;
  uint64_t chunk_bytes;
  const std::atomic<bool>* stop = nullptr;  // when set, upload() gives up at once
  std::atomic<int>* odd_answers = nullptr;  // answers the protocol does not define, if counted

  // Returns true once the whole upload is acknowledged, false if the deadline passed.
  bool upload(const UploadHandle& upload, const std::string& data, Clock::time_point deadline) {
    while (Clock::now() < deadline && !(stop && stop->load())) {
      try {
        std::optional<uint64_t> offset = driver->offset(port, upload);
        if (!offset) {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
          continue;
        }
        log->reported(upload, *offset);
        if (*offset == data.size()) return true;
        if (*offset > data.size()) {
          ADD_FAILURE() << upload.url << " reports offset " << *offset << " past its length";
          return false;
        }
        uint64_t n = std::min<uint64_t>(chunk_bytes, data.size() - *offset);
        AppendOutcome r =
            driver->append(port, upload, *offset, std::string_view(data).substr(*offset, n));
        if ((r.kind == AppendOutcome::Kind::kAccepted ||
             r.kind == AppendOutcome::Kind::kConflict) &&
            r.offset) {
          log->reported(upload, *r.offset);
        }
        if (r.kind == AppendOutcome::Kind::kOther && odd_answers) {
          ++*odd_answers;
          ADD_FAILURE() << upload.url << ": an append at " << *offset << " got " << r;
        }
      } catch (const std::runtime_error&) {  // Connection: the server is down
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
    return false;
  }

  UploadHandle create(uint64_t size, Clock::time_point deadline) {
    while (Clock::now() < deadline) {
      try {
        UploadHandle upload = driver->create(port, size);
        if (upload.valid()) {
          log->reported(upload, 0);
          return upload;
        }
      } catch (const std::runtime_error&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return {};
  }
};

// Parameterized by protocol driver; the real-client campaign below is tus-only (it is that
// client's test) and joins the same suite as a plain TEST_F, since gtest wants one fixture class
// per suite name.
class CrashCampaign : public DriverTest {};

TEST_P(CrashCampaign, SigkillAtRandomMomentsWhileEightClientsUpload) {
  const UploadDriver& d = driver();
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
  std::atomic<int> completed{0}, verified{0}, unfinished{0}, odd_answers{0};
  const auto deadline = Clock::now() + std::chrono::seconds(60 + 3 * rounds);
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      ResumingClient client{&d, port, &log, 512 * 1024, nullptr, &odd_answers};
      for (int n = 0; !stop_new.load(); ++n) {
        std::string data = random_bytes(size, 1000 * c + n);
        UploadHandle upload = client.create(size, deadline);
        if (!upload.valid() || !client.upload(upload, data, deadline)) {
          ++unfinished;
          return;
        }
        ++completed;
        // Verify while the server may be killed again: retry until a download answers.
        while (Clock::now() < deadline) {
          std::optional<std::string> body;
          try {
            body = d.download(port, upload);
          } catch (const std::runtime_error&) {  // the server is down
          }
          if (body && body->size() == size) {
            if (sha256_hex(*body) == sha256_hex(data)) ++verified;
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
      for (const auto& [url, entry] : before) {
        const auto& [upload, reported] = entry;
        // A finished upload is checked after the first restart that follows; later rounds
        // only look at uploads still in progress (the checks would otherwise grow with time).
        if (reported == size && !checked_complete.insert(url).second) continue;
        std::optional<uint64_t> offset = d.offset(port, upload);
        ++checks;
        if (!offset || *offset < reported) {
          ++violations;
          ADD_FAILURE() << "round " << round << ": " << url << " was reported at " << reported
                        << ", after restart " << (offset ? std::to_string(*offset) : "missing");
        }
      }
    }
  } catch (const std::exception& e) {
    ADD_FAILURE() << "campaign stopped: " << e.what();
  }
  stop_new = true;
  for (auto& t : threads) t.join();
  std::printf(
      "campaign (%s): %d rounds, %d offset checks, %d violations, %llu offsets "
      "reported, %d uploads completed, %d verified\n",
      d.name().c_str(), rounds, checks, violations, static_cast<unsigned long long>(log.count()),
      completed.load(), verified.load());
  EXPECT_EQ(violations, 0);
  EXPECT_EQ(unfinished.load(), 0);
  EXPECT_EQ(odd_answers.load(), 0);
  EXPECT_EQ(verified.load(), completed.load());
  EXPECT_GE(completed.load(), clients);
  EXPECT_GT(checks, rounds);
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(CrashCampaign);

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
TEST_F(CrashCampaign, RealClientsResumeThroughSigkills) {
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
  // Every upload the clients finished holds, byte for byte, the file of the client that sent it
  // (matching any client's file would let two uploads trade contents unseen).
  int verified = 0, complete = 0;
  for (int c = 0; c < clients; ++c) {
    const std::string source = sha256_file(files[c]);
    for (const auto& [upload_url, offset] : offsets_in_logs({logs[c]})) {
      if (offset != size) continue;
      ++complete;
      if (sha256_file(dir.path() + "/data/uploads/" + id_of(upload_url) + ".bin") == source) {
        ++verified;
      }
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
  // Offsets were checked in most rounds: logs that stayed empty until the end would otherwise
  // pass every round without a single check.
  EXPECT_GT(checks, rounds);
}
#endif

// Power loss, simulated honestly with the fault seam: ringestd logs every commit the moment it
// is durable (synclog); after SIGKILL the test throws away everything that log does not cover:
// data bytes past the last durable commit are overwritten with garbage, and record slots newer
// than the last durable sequence are erased. Offsets reported to clients must survive.
class PowerLoss : public DriverTest {};

TEST_P(PowerLoss, UnsyncedBytesDroppedAfterACrashLoseNothingAcknowledged) {
  const UploadDriver& d = driver();
  TempDir dir;
  const std::string synclog = dir.path() + "/synclog";
  const std::string data_dir = dir.path() + "/data";
  const uint16_t port = free_port();
  const uint64_t size = 8 * kMiB;
  auto server = std::make_unique<Server>(
      data_dir,
      std::vector<std::string>{"--checkpoint-bytes", "256K", "--fault-plan", "synclog=" + synclog},
      port);
  server->start();
  OffsetLog log;
  std::vector<UploadHandle> uploads(4);
  std::vector<std::string> data(4);
  std::atomic<bool> crashed{false};
  std::vector<std::thread> threads;
  for (int i = 0; i < 4; ++i) {
    data[i] = random_bytes(size, 77 + i);
    threads.emplace_back([&, i] {
      ResumingClient client{&d, port, &log, 256 * 1024, &crashed};
      uploads[i] = client.create(size, Clock::now() + std::chrono::seconds(5));
      client.upload(uploads[i], data[i], Clock::now() + std::chrono::seconds(30));
    });
  }
  // The crash happens while requests are in flight, once every upload has an acknowledged
  // offset past 0 (so there is something to lose) and long before any can finish.
  auto acknowledged_everywhere = [&] {
    auto reported = log.snapshot();
    if (reported.size() < uploads.size()) return false;
    for (const auto& [url, entry] : reported) {
      if (entry.second == 0) return false;
    }
    return true;
  };
  for (auto until = Clock::now() + std::chrono::seconds(20);
       !acknowledged_everywhere() && Clock::now() < until;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  server->kill9();
  crashed = true;
  for (auto& t : threads) t.join();
  auto acknowledged = log.snapshot();
  ASSERT_TRUE(acknowledged_everywhere())
      << "no acknowledged bytes to lose: the test proves nothing";

  // What the log says became durable, per upload id.
  std::map<std::string, std::pair<uint64_t, uint64_t>> durable;  // id -> (sequence, offset)
  std::istringstream lines(read_file(synclog));
  std::string word, id;
  uint64_t seq, offset;
  while (lines >> word >> id >> seq >> offset) durable[id] = {seq, offset};
  bool dropped_something = false;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(uploads[i].valid());
    const std::string upload_id = d.upload_id(uploads[i]);
    ASSERT_TRUE(durable.count(upload_id)) << upload_id << " has no durable commit in the synclog";
    auto [last_seq, last_offset] = durable[upload_id];
    ASSERT_LE(last_offset, size);
    dropped_something |= last_offset < size;
    std::fstream bin(d.data_file(data_dir, uploads[i]),
                     std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(bin.is_open()) << d.data_file(data_dir, uploads[i]);
    bin.seekp(static_cast<std::streamoff>(last_offset));
    std::string garbage(size - last_offset, '\xAB');
    bin.write(garbage.data(), static_cast<std::streamsize>(garbage.size()));
    bin.close();
    ASSERT_FALSE(bin.fail()) << "the unsynced data bytes were not overwritten";
    // The record's two 512-byte commit slots, each with its sequence at byte 8.
    std::fstream rec(d.record_file(data_dir, uploads[i]),
                     std::ios::in | std::ios::out | std::ios::binary);
    ASSERT_TRUE(rec.is_open()) << d.record_file(data_dir, uploads[i]);
    uint64_t newest_seq = 0;
    for (int slot = 0; slot < 2; ++slot) {
      uint64_t slot_seq = 0;
      rec.seekg(slot * 512 + 8);
      rec.read(reinterpret_cast<char*>(&slot_seq), 8);
      ASSERT_TRUE(rec.good()) << "cannot read commit slot " << slot;
      newest_seq = std::max(newest_seq, slot_seq);
      if (slot_seq > last_seq) {
        std::string zero(512, '\0');
        rec.seekp(slot * 512);
        rec.write(zero.data(), 512);
        ASSERT_TRUE(rec.good()) << "cannot erase commit slot " << slot;
      }
    }
    // A misread slot layout would erase nothing and silently skip the power cut.
    EXPECT_GE(newest_seq, last_seq) << "the record holds no slot as new as the synclog's last";
    EXPECT_LE(newest_seq, last_seq + 2) << "a slot sequence far past the synclog's last";
  }
  EXPECT_TRUE(dropped_something) << "every upload had finished: nothing unsynced was dropped";
  server = std::make_unique<Server>(data_dir, std::vector<std::string>{}, port);
  server->start();
  for (int i = 0; i < 4; ++i) {
    auto after = d.offset(port, uploads[i]);
    ASSERT_TRUE(after) << uploads[i].url;
    EXPECT_GE(*after, acknowledged[uploads[i].url].second)
        << "acknowledged offset lost in the power cut";
    EXPECT_EQ(read_file(d.data_file(data_dir, uploads[i])).substr(0, *after),
              data[i].substr(0, *after));
    ResumingClient client{&d, port, &log, 4 * kMiB};
    ASSERT_TRUE(client.upload(uploads[i], data[i], Clock::now() + std::chrono::seconds(30)));
    EXPECT_EQ(download_sha256(d, port, uploads[i]), sha256_hex(data[i]));
  }
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(PowerLoss);

class GracefulShutdown : public DriverTest {};

TEST_P(GracefulShutdown, SigtermCommitsWhatArrivedAndExitsInTime) {
  const UploadDriver& d = driver();
  TempDir dir;
  auto server = std::make_unique<Server>(
      dir.path() + "/data", std::vector<std::string>{"--shutdown-timeout-ms", "3000"});
  server->start();
  const uint16_t port = server->port();
  const uint64_t size = 8 * kMiB;
  std::vector<UploadHandle> uploads;
  std::vector<std::string> data;
  std::vector<std::unique_ptr<Connection>> stalled;
  const uint64_t sent[4] = {1 * kMiB, 3 * kMiB + 17, 5 * kMiB, 7 * kMiB + 4095};
  for (int i = 0; i < 4; ++i) {
    data.push_back(random_bytes(size, 300 + i));
    uploads.push_back(d.create(port, size));
    ASSERT_TRUE(uploads[i].valid());
    stalled.push_back(std::make_unique<Connection>(port));
    ASSERT_TRUE(stalled.back()->send_all(d.append_head(uploads[i], 0, size)));
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
    const uint64_t committed = d.offset_after_cut(0, sent[i]);
    EXPECT_EQ(d.offset(server->port(), uploads[i]), committed) << "upload " << i;
    AppendOutcome r = d.append(server->port(), uploads[i], committed,
                               std::string_view(data[i]).substr(committed));
    EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
    EXPECT_EQ(download_sha256(d, server->port(), uploads[i]), sha256_hex(data[i]))
        << "upload " << i;
  }
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(GracefulShutdown);

class VanishingClients : public DriverTest {};

TEST_P(VanishingClients, ClosedAndHalfOpenAtRandomBytePositions) {
  const UploadDriver& d = driver();
  TempDir dir;
  Server server(dir.path() + "/data");
  server.start();
  const uint16_t port = server.port();
  std::mt19937 rng(99);
  const uint64_t size = 2 * kMiB;
  for (int i = 0; i < 12; ++i) {
    const bool half_open = i % 2 == 1;
    std::string data = random_bytes(size, 500 + i);
    UploadHandle upload = d.create(port, size);
    ASSERT_TRUE(upload.valid());
    const uint64_t cut = rng() % size;
    const uint64_t kept = d.offset_after_cut(0, cut);
    auto client = std::make_unique<Connection>(port);
    std::string first_head = d.append_head(upload, 0, size);
    if (half_open) {
      // The resume below must reach the server after this request owns the upload: requests
      // on different connections (and reactors) are not handled in the order they were sent,
      // and the newest head the server sees wins. Had the resume come first, this request
      // would take it over and the resume would end without an answer, by design. The
      // server's 100 Continue says this request owns the upload and is reading its body.
      ASSERT_EQ(first_head.substr(first_head.size() - 4), "\r\n\r\n");
      first_head.insert(first_head.size() - 2, "Expect: 100-continue\r\n");
    }
    ASSERT_TRUE(client->send_all(first_head));
    if (half_open) {
      std::optional<Response> go_on = client->read_response();
      ASSERT_TRUE(go_on) << "upload " << i;
      ASSERT_EQ(go_on->status, 100) << "upload " << i;
    }
    ASSERT_TRUE(client->send_all(data.data(), cut));
    if (!half_open) {
      client->close_now();  // gone; the server keeps what arrived
      auto until = Clock::now() + std::chrono::seconds(10);
      while (d.offset(port, upload) != kept && Clock::now() < until) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      EXPECT_EQ(d.offset(port, upload), kept) << "closed after " << cut << " bytes";
    }
    // Resume as a real client would: ask, send, and follow a conflict's offset (a half-open
    // request is cut off by the new one and its bytes committed first).
    std::optional<uint64_t> start = d.offset(port, upload);
    ASSERT_TRUE(start) << "upload " << i;
    uint64_t offset = *start;
    bool done = false;
    for (int attempt = 0; attempt < 4 && !done; ++attempt) {
      AppendOutcome r = d.append(port, upload, offset, std::string_view(data).substr(offset));
      if (r.kind == AppendOutcome::Kind::kAccepted) {
        done = true;
        EXPECT_TRUE(answer_offset_is(d, r, size)) << "upload " << i;
      } else {
        ASSERT_EQ(r.kind, AppendOutcome::Kind::kConflict) << r;
        if (d.traits().offset_in_answers) {
          offset = *r.offset;
        } else {
          auto now = d.offset(port, upload);
          ASSERT_TRUE(now);
          offset = *now;
        }
        // The cut-off request commits what the server had read; bytes still queued in the
        // socket when it was cut off are not acknowledged, and the client sends them again.
        EXPECT_LE(offset, kept);
      }
    }
    EXPECT_TRUE(done);
    if (half_open) {
      EXPECT_TRUE(client->closed_by_peer(2000));
    }
    EXPECT_EQ(download_sha256(d, port, upload), sha256_hex(data)) << "upload " << i;
  }
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(VanishingClients);

}  // namespace
}  // namespace ringest::test
