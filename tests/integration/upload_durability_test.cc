// Proves the data-path promises on the real binary: large and concurrent uploads arrive
// byte-exact (SHA-256), reactors allocate nothing while bodies stream, bytes that arrived before
// a disconnect or a takeover are committed, and acknowledged offsets survive SIGTERM, SIGKILL
// and restart; a corrupt record is set aside without stopping the server. The upload scenarios
// run once per upload protocol (tests/support/upload_driver.h).
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <thread>
#include <tuple>

#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;

bool wait_until(const std::function<bool()>& done, int timeout_ms = 20000) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return done();
}


// A server on a data directory that outlives it: start, stop or kill, restart.
class ServerOnDataDir {
 protected:
  void start(std::vector<std::string> args = {}) {
    args_ = args;
    server_ = std::make_unique<Server>(data_dir(), args_);
    server_->start();
    port_ = server_->port();
  }
  void restart() {
    server_ = std::make_unique<Server>(data_dir(), args_);
    server_->start();
    port_ = server_->port();
  }
  std::string data_dir() const { return dir_.path() + "/data"; }

  TempDir dir_;
  std::vector<std::string> args_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

// The upload scenarios are TEST_P, once per protocol driver; the tests about the server itself
// (its record format, its data directory lock) are TEST_F on the same fixture (gtest wants one
// fixture class per suite) and never use driver().
class Durability : public DriverTest, protected ServerOnDataDir {};

TEST_P(Durability, Upload256MiBInChunksMatchesSha256WithNoReactorAllocations) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 256 * kMiB;
  std::string data = random_bytes(size, 1);
  UploadHandle upload = d.create(port_, size, "big.bin");
  ASSERT_TRUE(upload.valid());
  // Warm-up: the first body request on each reactor, so lazily-built state is out of the way.
  Connection keep(port_);
  uint64_t offset = 0;
  for (uint64_t chunk : {1 * kMiB, 1 * kMiB}) {
    ASSERT_TRUE(keep.send_all(d.append_head(upload, offset, chunk)));
    ASSERT_TRUE(keep.send_all(data.data() + offset, chunk));
    AppendOutcome r = d.interpret_append(keep.read_response());
    ASSERT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
    offset += chunk;
  }
  AppendOutcome third =
      d.append(port_, upload, offset, std::string_view(data).substr(offset, kMiB));
  ASSERT_EQ(third.kind, AppendOutcome::Kind::kAccepted) << third;
  offset += kMiB;
  const uint64_t allocations_before = metric(port_, "ringest_reactor_heap_allocations_total");
  // The rest in 32 MiB appends: alternately on the kept-alive connection and on new ones.
  int i = 0;
  while (offset < size) {
    uint64_t chunk = std::min<uint64_t>(32 * kMiB, size - offset);
    AppendOutcome r;
    if (i++ % 2 == 0) {
      ASSERT_TRUE(keep.send_all(d.append_head(upload, offset, chunk)));
      ASSERT_TRUE(keep.send_all(data.data() + offset, chunk));
      r = d.interpret_append(keep.read_response());
    } else {
      r = d.append(port_, upload, offset, std::string_view(data).substr(offset, chunk));
    }
    ASSERT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
    offset += chunk;
    ASSERT_TRUE(answer_offset_is(d, r, offset));
  }
  const uint64_t allocations_after = metric(port_, "ringest_reactor_heap_allocations_total");
  std::optional<std::string> body = d.download(port_, upload);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->size(), size);
  EXPECT_EQ(sha256_hex(*body), sha256_hex(data));
  EXPECT_EQ(sha256_file(d.data_file(data_dir(), upload)), sha256_hex(data));
  // Only the sanitizer build runs without the counter (the sanitizer owns malloc); anywhere else
  // a counter that is off would let the allocation check pass unseen.
  EXPECT_EQ(metric(port_, "ringest_alloc_counting_enabled"), kSanitizerBuild ? 0u : 1u);
  if (!kSanitizerBuild) {
    EXPECT_EQ(allocations_after - allocations_before, 0u)
        << "heap allocations on reactor threads while 250 MiB of bodies streamed";
  }
}

TEST(AllocationCounting, IsActiveInTheReleaseBinary) {
  TempDir dir;
  Server server(dir.path() + "/data");
  server.start();
  // Skipped in the sanitizer build only: a release binary whose counter is off must fail here,
  // not skip (the zero-allocation checks elsewhere would then prove nothing).
  ASSERT_EQ(metric(server.port(), "ringest_alloc_counting_enabled"), kSanitizerBuild ? 0u : 1u);
  if (kSanitizerBuild) {
    GTEST_SKIP() << "sanitizer build: malloc belongs to the sanitizer, allocations not counted";
  }
  uint64_t before = metric(server.port(), "ringest_reactor_heap_allocations_total");
  ASSERT_FALSE(tus_create(server.port(), 10).empty());  // creation allocates the upload's state
  EXPECT_GT(metric(server.port(), "ringest_reactor_heap_allocations_total"), before)
      << "the counter must see allocations, or a 0 in the upload test proves nothing";
}

TEST_P(Durability, FourConcurrent64MiBUploads) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 64 * kMiB;
  std::vector<std::string> data;
  std::vector<UploadHandle> uploads(4);
  for (int i = 0; i < 4; ++i) data.push_back(random_bytes(size, 10 + i));
  std::vector<std::thread> threads;
  std::vector<AppendOutcome> last(4);  // each upload's last append answer
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] {
      uploads[i] = d.create(port_, size);
      for (uint64_t offset = 0; offset < size; offset += 16 * kMiB) {
        last[i] = d.append(port_, uploads[i], offset,
                           std::string_view(data[i]).substr(offset, 16 * kMiB));
        if (last[i].kind != AppendOutcome::Kind::kAccepted) return;
      }
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(uploads[i].valid()) << "upload " << i;
    EXPECT_EQ(last[i].kind, AppendOutcome::Kind::kAccepted) << "upload " << i << ": " << last[i];
    EXPECT_EQ(sha256_file(d.data_file(data_dir(), uploads[i])), sha256_hex(data[i]))
        << "upload " << i;
  }
}

TEST_P(Durability, TinyBufferPoolShedsLoadByBackpressureNotByFailing) {
  // 4 slots of 64 KiB on one reactor for 6 concurrent uploads: connections must wait for
  // slots (TCP flow control holds the clients back) and every upload still completes exactly.
  const UploadDriver& d = driver();
  start({"--threads", "1", "--buffers", "4", "--buffers-per-connection", "2", "--buffer-bytes",
         "64K", "--max-head-bytes", "8K"});
  const size_t size = 8 * kMiB;
  const int n = 6;
  std::vector<std::string> data;
  std::vector<UploadHandle> uploads(n);
  for (int i = 0; i < n; ++i) data.push_back(random_bytes(size, 100 + i));
  std::vector<AppendOutcome> outcomes(n);
  std::vector<std::thread> threads;
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      uploads[i] = d.create(port_, size);
      outcomes[i] = d.append(port_, uploads[i], 0, data[i]);
    });
  }
  for (auto& t : threads) t.join();
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(uploads[i].valid()) << "upload " << i;
    EXPECT_EQ(outcomes[i].kind, AppendOutcome::Kind::kAccepted)
        << "upload " << i << ": " << outcomes[i];
    EXPECT_EQ(sha256_file(d.data_file(data_dir(), uploads[i])), sha256_hex(data[i]))
        << "upload " << i;
  }
}

TEST_P(Durability, DisconnectMidPatchCommitsWhatArrivedThenResumeCompletes) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 8 * kMiB;
  std::string data = random_bytes(size, 2);
  UploadHandle upload = d.create(port_, size);
  ASSERT_TRUE(upload.valid());
  AppendOutcome first = d.append(port_, upload, 0, std::string_view(data).substr(0, kMiB));
  ASSERT_EQ(first.kind, AppendOutcome::Kind::kAccepted) << first;
  {
    Connection c(port_);
    ASSERT_TRUE(c.send_all(d.append_head(upload, kMiB, size - kMiB)));
    ASSERT_TRUE(c.send_all(data.data() + kMiB, 3 * kMiB));
    ASSERT_TRUE(wait_until(
        [&] { return metric(port_, "ringest_body_bytes_received_total") >= 4 * kMiB; }));
    c.close_now();  // vanish mid-body
  }
  const uint64_t kept = d.offset_after_cut(kMiB, 3 * kMiB);
  ASSERT_TRUE(wait_until([&] { return d.offset(port_, upload) == kept; }))
      << "offset after disconnect: " << d.offset(port_, upload).value_or(0);
  EXPECT_EQ(read_file(d.data_file(data_dir(), upload)).substr(0, kept), data.substr(0, kept));
  AppendOutcome r = d.append(port_, upload, kept, std::string_view(data).substr(kept));
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
}

// Per protocol driver, a SIGTERM and a SIGKILL between two appends.
class Restart : public ::testing::TestWithParam<std::tuple<const UploadDriver*, bool>>,
                protected ServerOnDataDir {};

TEST_P(Restart, BetweenChunksThenResume) {
  const UploadDriver& d = *std::get<0>(GetParam());
  const bool graceful = std::get<1>(GetParam());
  start();
  const size_t size = 12 * kMiB;
  std::string data = random_bytes(size, 3);
  UploadHandle upload = d.create(port_, size, "restart");
  ASSERT_TRUE(upload.valid());
  for (uint64_t offset = 0; offset < 8 * kMiB; offset += 4 * kMiB) {
    AppendOutcome r =
        d.append(port_, upload, offset, std::string_view(data).substr(offset, 4 * kMiB));
    ASSERT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  }
  if (graceful) {
    int status = server_->stop();
    ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
    EXPECT_EQ(WEXITSTATUS(status), 0);
  } else {
    server_->kill9();
  }
  restart();
  std::optional<UploadState> state = d.state(port_, upload);
  ASSERT_TRUE(state);
  EXPECT_EQ(state->offset, 8 * kMiB);
  EXPECT_EQ(state->length,
            d.traits().state_has_length ? std::optional<uint64_t>(size) : std::nullopt);
  EXPECT_EQ(state->file_name,
            d.traits().state_has_file_name ? std::optional<std::string>("restart") : std::nullopt);
  AppendOutcome r = d.append(port_, upload, 8 * kMiB, std::string_view(data).substr(8 * kMiB));
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
}

INSTANTIATE_TEST_SUITE_P(
    SigtermAndSigkill, Restart,
    ::testing::Combine(::testing::ValuesIn(upload_drivers()), ::testing::Values(true, false)),
    [](const ::testing::TestParamInfo<std::tuple<const UploadDriver*, bool>>& p) {
      return std::string(std::get<1>(p.param) ? "Sigterm_" : "Sigkill_") +
             std::get<0>(p.param)->name();
    });

TEST_P(Durability, SigkillMidBodyKeepsCheckpointedBytesExact) {
  const UploadDriver& d = driver();
  start({"--checkpoint-bytes", "4M"});
  const size_t size = 32 * kMiB;
  std::string data = random_bytes(size, 4);
  UploadHandle upload = d.create(port_, size);
  ASSERT_TRUE(upload.valid());
  Connection c(port_);
  ASSERT_TRUE(c.send_all(d.append_head(upload, 0, size)));
  ASSERT_TRUE(c.send_all(data.data(), 10 * kMiB));
  if (d.traits().keeps_partial_appends) {
    ASSERT_TRUE(wait_until([&] { return d.offset(port_, upload).value_or(0) >= 8 * kMiB; }))
        << "checkpoints should have committed 8 MiB of the 10 sent";
  } else {
    // Offsets move only when an append completes: the crash comes once the bytes are in.
    ASSERT_TRUE(wait_until(
        [&] { return metric(port_, "ringest_body_bytes_received_total") >= 10 * kMiB; }));
  }
  std::optional<uint64_t> acknowledged = d.offset(port_, upload);
  ASSERT_TRUE(acknowledged);
  server_->kill9();
  c.close_now();
  restart();
  auto offset = d.offset(port_, upload);
  ASSERT_TRUE(offset);
  EXPECT_GE(*offset, *acknowledged) << "an offset reported before the crash went backwards";
  EXPECT_LE(*offset, d.offset_after_cut(0, 10 * kMiB));
  EXPECT_EQ(read_file(d.data_file(data_dir(), upload)).substr(0, *offset), data.substr(0, *offset));
  AppendOutcome r = d.append(port_, upload, *offset, std::string_view(data).substr(*offset));
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
}

TEST_P(Durability, NewPatchTakesOverAStalledOneAfterCommittingItsBytes) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 8 * kMiB;
  std::string data = random_bytes(size, 5);
  UploadHandle upload = d.create(port_, size);
  ASSERT_TRUE(upload.valid());
  Connection stalled(port_);
  ASSERT_TRUE(stalled.send_all(d.append_head(upload, 0, size)));
  ASSERT_TRUE(stalled.send_all(data.data(), 2 * kMiB));
  ASSERT_TRUE(
      wait_until([&] { return metric(port_, "ringest_body_bytes_received_total") >= 2 * kMiB; }));
  // The stalled client keeps its socket open. A new append from where it got to wins.
  const uint64_t from = d.offset_after_cut(0, 2 * kMiB);
  AppendOutcome r = d.append(port_, upload, from, std::string_view(data).substr(from));
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  EXPECT_TRUE(answer_offset_is(d, r, size));
  EXPECT_TRUE(stalled.closed_by_peer(5000)) << "the old request must be cut off";
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
}

TEST_P(Durability, TakeoverWithAStaleOffsetGets409AndTheCommittedOffset) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 8 * kMiB;
  std::string data = random_bytes(size, 6);
  UploadHandle upload = d.create(port_, size);
  ASSERT_TRUE(upload.valid());
  // 1 MiB committed by an append of its own, so that offset 0 is stale for every protocol
  // (also where a cut-off append keeps nothing), then an append that stalls after 2 MiB more.
  AppendOutcome first = d.append(port_, upload, 0, std::string_view(data).substr(0, kMiB));
  ASSERT_EQ(first.kind, AppendOutcome::Kind::kAccepted) << first;
  Connection stalled(port_);
  ASSERT_TRUE(stalled.send_all(d.append_head(upload, kMiB, size - kMiB)));
  ASSERT_TRUE(stalled.send_all(data.data() + kMiB, 2 * kMiB));
  ASSERT_TRUE(
      wait_until([&] { return metric(port_, "ringest_body_bytes_received_total") >= 3 * kMiB; }));
  const uint64_t committed = d.offset_after_cut(kMiB, 2 * kMiB);
  AppendOutcome r = d.append(port_, upload, 0, std::string_view(data));
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kConflict) << r;
  EXPECT_TRUE(answer_offset_is(d, r, committed));
  EXPECT_EQ(d.offset(port_, upload), committed);
}

TEST_P(Durability, TwoPatchesAtOnceLeaveAConsistentUpload) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 16 * kMiB;
  std::string data = random_bytes(size, 7);
  UploadHandle upload = d.create(port_, size);
  ASSERT_TRUE(upload.valid());
  AppendOutcome a, b;
  std::thread ta([&] { a = d.append(port_, upload, 0, std::string_view(data)); });
  std::thread tb([&] { b = d.append(port_, upload, 0, std::string_view(data)); });
  ta.join();
  tb.join();
  // How they interleave is up to the scheduler; what each may get is fixed by the takeover
  // rules (engine/upload/upload.h, http/tus_routes.cc). The later request asks the owner to
  // let go: an owner still reading its body commits what it read and is closed without an
  // answer; one that had its whole body completes (accepted at the full length). The later one
  // then checks its offset, 0, against the committed one: equal (nothing committed) and it
  // goes on and completes; otherwise it gets a conflict naming that offset, which is past 0,
  // and which it may lose with its connection (it is sent before the body is read).
  auto allowed = [&](const AppendOutcome& o) -> ::testing::AssertionResult {
    switch (o.kind) {
      case AppendOutcome::Kind::kNoResponse:
        return ::testing::AssertionSuccess();
      case AppendOutcome::Kind::kAccepted:
        return answer_offset_is(d, o, size);
      case AppendOutcome::Kind::kConflict:
        if (!d.traits().offset_in_answers) return answer_offset_is(d, o, 0);  // none reported
        if (*o.offset == 0 || *o.offset > size) {
          return ::testing::AssertionFailure()
                 << "an append at 0 can only conflict with committed bytes, got " << o;
        }
        return ::testing::AssertionSuccess();
      default:
        return ::testing::AssertionFailure() << "neither allowed nor absent: " << o;
    }
  };
  std::printf("two appends at once (%s): %s / %s\n", d.name().c_str(),
              ::testing::PrintToString(a).c_str(), ::testing::PrintToString(b).c_str());
  EXPECT_TRUE(allowed(a)) << "first append";
  EXPECT_TRUE(allowed(b)) << "second append";
  const int completed =
      (a.kind == AppendOutcome::Kind::kAccepted) + (b.kind == AppendOutcome::Kind::kAccepted);
  EXPECT_LE(completed, 1) << "both appends at offset 0 were accepted: " << a << ", " << b;
  auto offset = d.offset(port_, upload);
  ASSERT_TRUE(offset);
  EXPECT_EQ(read_file(d.data_file(data_dir(), upload)).substr(0, *offset), data.substr(0, *offset));
  // A conflict names the offset committed when the other request let go; nothing commits after
  // it, so that is where the upload still stands.
  for (const AppendOutcome* o : {&a, &b}) {
    if (o->kind == AppendOutcome::Kind::kConflict && d.traits().offset_in_answers) {
      EXPECT_EQ(*o->offset, *offset) << *o;
    }
  }
  if (completed == 1) {
    EXPECT_EQ(*offset, size) << "an append was accepted at the full length";
  } else {
    // Neither completed: the one cut off must have committed something (else the other would
    // have gone on from 0 and completed), and the upload resumes from the reported offset.
    EXPECT_GT(*offset, 0u) << a << ", " << b;
    if (*offset < size) {
      AppendOutcome r = d.append(port_, upload, *offset, std::string_view(data).substr(*offset));
      EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
    }
  }
  EXPECT_EQ(download_sha256(d, port_, upload), sha256_hex(data));
}

TEST_P(Durability, HeadDoesNotDisturbAnUploadInFlight) {
  const UploadDriver& d = driver();
  start();
  const size_t size = 8 * kMiB;
  std::string data = random_bytes(size, 8);
  UploadHandle upload = d.create(port_, size);
  ASSERT_TRUE(upload.valid());
  Connection c(port_);
  ASSERT_TRUE(c.send_all(d.append_head(upload, 0, size)));
  ASSERT_TRUE(c.send_all(data.data(), 2 * kMiB));
  ASSERT_TRUE(
      wait_until([&] { return metric(port_, "ringest_body_bytes_received_total") >= 2 * kMiB; }));
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(d.state(port_, upload)) << "state query " << i;
  }
  ASSERT_TRUE(c.send_all(data.data() + 2 * kMiB, size - 2 * kMiB));
  AppendOutcome r = d.interpret_append(c.read_response());
  EXPECT_EQ(r.kind, AppendOutcome::Kind::kAccepted) << r;
  EXPECT_TRUE(answer_offset_is(d, r, size));
}

TEST_F(Durability, CorruptRecordIsSetAsideAndTheServerStillStarts) {
  start();
  std::string good = tus_create(port_, 4);
  std::string bad = tus_create(port_, 4);
  ASSERT_EQ(status_of(tus_patch(port_, good, 0, "good")), 204);
  server_->kill9();
  std::string rec = data_dir() + "/uploads/" + id_of(bad) + ".rec";
  {
    std::fstream f(rec, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(1024 + 50);
    f.put('\x7f');  // inside the header: its checksum no longer matches
  }
  restart();
  EXPECT_EQ(head_offset(port_, good), 4u);
  auto h = tus_head(port_, bad);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 404);
  struct stat st {};
  EXPECT_EQ(::stat((data_dir() + "/quarantine/" + id_of(bad) + ".rec").c_str(), &st), 0);
  EXPECT_EQ(::stat((data_dir() + "/quarantine/" + id_of(bad) + ".reason").c_str(), &st), 0);
  EXPECT_NE(read_file(server_->stderr_path()).find("header-checksum"), std::string::npos);
}

TEST_F(Durability, OneServerPerDataDirectory) {
  start();
  Server second(data_dir());
  EXPECT_THROW(second.start(), std::runtime_error);
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(Durability);

}  // namespace
}  // namespace ringest::test
