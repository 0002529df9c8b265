// Proves each body ingest strategy (buffered, O_DIRECT, splice) against the real thing: a real
// io_uring with registered buffers, a real TCP connection on loopback whose other end a thread
// writes to, and a real upload on the filesystem under $TMPDIR, created, owned and committed by
// the real UploadStore and AppendSession. Every case checks the bytes on disk and the committed
// offset: whole bodies from aligned and unaligned offsets, bytes that came with the head, slow
// clients, clients that leave mid-body, bodies cut off (takeover), and a pool too small for
// the connection's share (backpressure), plus that O_DIRECT really carries the whole blocks, and
// that an all-or-nothing request (FilePond's chunks) commits once when whole and never in part.
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>

#include "engine/reactor/reactor.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/upload_record.h"
#include "engine/upload/append_session.h"
#include "engine/upload/ingest/buffered_ingest.h"
#include "engine/upload/ingest/direct_ingest.h"
#include "engine/upload/ingest/splice_ingest.h"
#include "engine/upload/upload_store.h"

namespace ringest {
namespace {

using Clock = std::chrono::steady_clock;

std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string templ = std::string(base && *base ? base : "/tmp") + "/ingest-XXXXXX";
    path_ = mkdtemp(templ.data()) ? templ : "";
  }
  ~TempDir() {
    nftw(path_.c_str(), [](const char* p, const struct stat*, int, FTW*) { return ::remove(p); },
         16, FTW_DEPTH | FTW_PHYS);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A connected TCP pair on loopback: the server end for the ingest, the client end for a thread.
struct SocketPair {
  int server = -1;
  int client = -1;
  explicit SocketPair(bool nonblocking_server) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listener, 1), 0);
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | (nonblocking_server ? SOCK_NONBLOCK : 0));
    ::close(listener);
  }
  ~SocketPair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
};

enum class Strategy { kBuffered, kDirect, kSplice };
const char* strategy_name(Strategy s) {
  return s == Strategy::kBuffered ? "buffered" : s == Strategy::kDirect ? "direct" : "splice";
}

// One reactor's worth of engine, driven by hand: ring, registered pool, store, session, the
// three ingests, and this class as the ingest's host and the session's listener.
class Rig final : public IngestHost, public AppendListener, public StoreListener {
 public:
  Rig(uint32_t slots, uint32_t per_connection, bool direct) : reactor_(0, config(slots, per_connection)) {
    std::string error;
    EXPECT_TRUE(data_dir_.open(dir_.path() + "/data", &error).ok()) << error;
    store_ = std::make_unique<UploadStore>(&data_dir_, direct, 16, 60000);
    EXPECT_TRUE(reactor_.init(-1).ok());
    session_.init(&reactor_, store_.get(), config_.checkpoint_bytes,
                  static_cast<int>(per_connection));
    IngestContext context;
    context.ring = &reactor_.ring();
    context.pool = &reactor_.pool();
    context.session = &session_;
    context.host = this;
    context.stash = stash_;
    context.pipe_bytes = 256 * 1024;
    context.spliced_bytes = &reactor_.stats().body_bytes_spliced;
    buffered_.init(context);
    direct_.init(context);
    splice_.init(context);
  }
  virtual ~Rig() { upload_.reset(); }

  const Config& config(uint32_t slots, uint32_t per_connection) {
    config_.buffer_bytes = 64 * 1024;
    config_.buffers_per_reactor = slots;
    config_.buffers_per_connection = per_connection;
    config_.checkpoint_bytes = 1 << 20;
    return config_;
  }

  // Runs the ring until `done` or the deadline.
  bool run_until(const std::function<bool()>& done, int seconds = 20) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (!done()) {
      if (Clock::now() > deadline) return false;
      reactor_.ring().run_once(false);
      reactor_.pool().wake_waiters();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return true;
  }

  void create(uint64_t length) {
    CreateSpec spec;
    spec.protocol = static_cast<uint8_t>(storage::Protocol::kTus);
    spec.length = length;
    store_done_ = false;
    store_->create(op_, reactor_.ring(), spec, this);
    ASSERT_TRUE(run_until([&] { return store_done_; }));
    ASSERT_TRUE(store_status_.ok());
    upload_ = op_.take_upload();
    UploadFiles files = op_.take_files();
    store_->release_files(reactor_.ring(), *upload_, files, true, 0);
  }

  // Appends `body` at `offset`: `leftover` bytes of it arrive "with the head" in a slot, the
  // rest from `send` on the client thread. Returns how the ingest ended.
  IngestEnd append(Strategy strategy, uint64_t offset, const std::string& body, uint32_t leftover,
                   bool handed_over, const std::function<void(int)>& send,
                   const std::function<void(BodyIngest&)>& during = nullptr) {
    SocketPair pair(strategy == Strategy::kSplice);
    AppendRequest request;
    request.upload = upload_.get();
    request.offset = offset;
    request.body_bytes = static_cast<int64_t>(body.size());
    request.max_length = 1ull << 40;
    request.all_or_nothing = all_or_nothing_;
    ready_ = false;
    session_.open(request, this);
    EXPECT_TRUE(run_until([&] { return ready_; }));
    EXPECT_EQ(ready_outcome_, AppendOutcome::kOk);
    BodyIngest* ingest = strategy == Strategy::kBuffered ? static_cast<BodyIngest*>(&buffered_)
                         : strategy == Strategy::kDirect ? static_cast<BodyIngest*>(&direct_)
                                                         : static_cast<BodyIngest*>(&splice_);
    if (strategy == Strategy::kSplice) {
      EXPECT_TRUE(splice_.ready());
    }
    Leftover lo;
    if (leftover > 0 || handed_over) {
      // As the connection does: the head took the first bytes of a slot, the body follows.
      lo.slot = reactor_.pool().acquire();
      EXPECT_GE(lo.slot, 0);
      uint32_t head_bytes = 517;
      lo.data = reactor_.pool().data(lo.slot) + head_bytes;
      std::memcpy(lo.data, body.data(), leftover);
      lo.len = leftover;
      lo.slot_handed_over = handed_over;
    }
    int kept_slot = handed_over ? -1 : lo.slot;
    ended_ = false;
    received_ = leftover;
    std::thread client([&] { send(pair.client); });
    ingest->take_socket(pair.server, body.size(), lo, false);
    if (during) during(*ingest);
    bool ended = run_until([&] { return ended_; });
    EXPECT_TRUE(ended);
    ::shutdown(pair.server, SHUT_RDWR);  // a client still sending sees the end
    client.join();
    if (kept_slot >= 0) reactor_.pool().unref(kept_slot);
    done_ = false;
    session_.finish(end_ == IngestEnd::kComplete ? BodyEnd::kComplete
                    : end_ == IngestEnd::kCut    ? BodyEnd::kCutOff
                                                 : BodyEnd::kPeerGone);
    EXPECT_TRUE(run_until([&] { return done_; }));
    return end_;
  }

  std::string stored(uint64_t bytes) {
    std::string path = dir_.path() + "/data/uploads/" + std::string(upload_->id()) + ".bin";
    int fd = ::open(path.c_str(), O_RDONLY);
    std::string out(bytes, '\0');
    ssize_t n = fd >= 0 ? pread(fd, out.data(), bytes, 0) : -1;
    if (fd >= 0) ::close(fd);
    out.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return out;
  }
  uint64_t committed() { return upload_->view().offset; }
  uint64_t commits() { return reactor_.stats().commits.load(); }
  // The next appends count whole or not at all (AppendRequest::all_or_nothing).
  void set_all_or_nothing(bool on) { all_or_nothing_ = on; }
  uint64_t direct_bytes() { return reactor_.stats().body_bytes_direct.load(); }
  uint32_t free_slots() { return reactor_.pool().free_count(); }
  uint64_t received() const { return received_; }

  // IngestHost
  void on_ingest_received(uint64_t bytes) override { received_ += bytes; }
  void on_ingest_waiting(bool) override {}
  void on_ingest_end(IngestEnd end) override {
    ended_ = true;
    end_ = end;
  }
  // AppendListener
  void on_append_ready(AppendOutcome outcome, const UploadView&) override {
    ready_ = true;
    ready_outcome_ = outcome;
  }
  void on_append_cut() override {}
  void on_append_done(AppendOutcome, const UploadView&) override { done_ = true; }
  // StoreListener
  void on_store_done(StoreOp*, Status status) override {
    store_done_ = true;
    store_status_ = status;
  }

 private:
  TempDir dir_;
  Config config_;
  storage::DataDir data_dir_;
  std::unique_ptr<UploadStore> store_;
  Reactor reactor_;
  AppendSession session_;
  BufferedIngest buffered_;
  DirectIngest direct_;
  SpliceIngest splice_;
  alignas(4096) char stash_[kDirectBlock];
  StoreOp op_;
  UploadRef upload_;
  bool store_done_ = false;
  Status store_status_;
  bool ready_ = false;
  AppendOutcome ready_outcome_ = AppendOutcome::kOk;
  bool ended_ = false;
  IngestEnd end_ = IngestEnd::kComplete;
  bool done_ = false;
  uint64_t received_ = 0;
  bool all_or_nothing_ = false;
};

void send_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return;
    data += w;
    n -= static_cast<size_t>(w);
  }
}

class IngestTest : public ::testing::TestWithParam<Strategy> {};

TEST_P(IngestTest, WholeBodiesFromAlignedAndUnalignedOffsetsAreStoredExactly) {
  const uint64_t size = 3 * 1024 * 1024 + 517;
  const std::string data = random_bytes(size, 1);
  Rig rig(16, 4, GetParam() == Strategy::kDirect);
  rig.create(size);
  // Three requests: [0, 5000) (ends mid-block), [5000, 2 MiB + 3) (starts and ends mid-block,
  // some bytes with the head), then the rest, all of whose first bytes came with the head.
  const uint64_t cuts[4] = {0, 5000, 2 * 1024 * 1024 + 3, size};
  for (int i = 0; i < 3; ++i) {
    std::string body = data.substr(cuts[i], cuts[i + 1] - cuts[i]);
    uint32_t leftover = i == 0 ? 0 : i == 1 ? 1000 : 60000;
    EXPECT_EQ(rig.append(GetParam(), cuts[i], body, leftover, true,
                         [&](int fd) {
                           send_all(fd, body.data() + leftover, body.size() - leftover);
                         }),
              IngestEnd::kComplete)
        << "request " << i;
    EXPECT_EQ(rig.committed(), cuts[i + 1]) << "request " << i;
  }
  EXPECT_EQ(rig.stored(size), data);
  if (GetParam() == Strategy::kDirect) {
    // Only the partial blocks at the ends of each request (and bytes that came with a head
    // where they could not be aligned) may go through the page cache.
    EXPECT_GE(rig.direct_bytes(), size - 6 * kDirectBlock) << "whole blocks must go O_DIRECT";
  } else {
    EXPECT_EQ(rig.direct_bytes(), 0u);
  }
}

TEST_P(IngestTest, LeftoverInASlotTheConnectionKeepsIsWrittenFromIt) {
  const std::string data = random_bytes(20000, 2);
  Rig rig(8, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size());
  // The whole body came with the head and a pipelined request follows it in the same slot.
  EXPECT_EQ(rig.append(GetParam(), 0, data, static_cast<uint32_t>(data.size()), false,
                       [](int) {}),
            IngestEnd::kComplete);
  EXPECT_EQ(rig.committed(), data.size());
  EXPECT_EQ(rig.stored(data.size()), data);
}

TEST_P(IngestTest, StalledClientHoldsNoSlotWhileWaitingAndLosesNothing) {
  const std::string data = random_bytes(300 * 1000 + 11, 3);
  const size_t first = 5000;  // then the client stalls: a small receive, then nothing
  Rig rig(8, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size());
  uint32_t free_while_stalled = 0;
  bool waiting_on_client = false;
  uint32_t fewest_free = 8;
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) {
                         send_all(fd, data.data(), first);
                         std::this_thread::sleep_for(std::chrono::milliseconds(400));
                         for (size_t at = first; at < data.size(); at += 3000) {
                           send_all(fd, data.data() + at, std::min<size_t>(3000, data.size() - at));
                           std::this_thread::sleep_for(std::chrono::microseconds(200));
                         }
                       },
                       [&](BodyIngest& ingest) {
                         ASSERT_TRUE(rig.run_until([&] { return rig.received() >= first; }));
                         auto settle = Clock::now() + std::chrono::milliseconds(150);
                         rig.run_until([&] { return Clock::now() > settle; });
                         // Stalled: the ingest waits on the client with a poll, holding no
                         // slot (direct mode keeps the partial block in the stash).
                         free_while_stalled = rig.free_slots();
                         waiting_on_client = ingest.waiting_on_client();
                         // Then the rest trickles in: never more than its share of slots.
                         rig.run_until([&] {
                           fewest_free = std::min(fewest_free, rig.free_slots());
                           return rig.received() >= data.size();
                         });
                       }),
            IngestEnd::kComplete);
  EXPECT_TRUE(waiting_on_client);
  EXPECT_EQ(free_while_stalled, 8u) << "a stalled client held pool slots";
  EXPECT_GE(fewest_free, 8u - 5u) << "more than buffers-per-connection writes and one receive";
  EXPECT_EQ(rig.committed(), data.size());
  EXPECT_EQ(rig.stored(data.size()), data);
}

TEST_P(IngestTest, ClientLeavingMidBodyKeepsEveryByteThatArrived) {
  const std::string data = random_bytes(4 * 1024 * 1024, 4);
  const size_t sent = 1024 * 1024 + 77;  // ends mid-block: the tail must be committed too
  Rig rig(16, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size());
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) {
                         send_all(fd, data.data(), sent);
                         ::shutdown(fd, SHUT_WR);
                       }),
            IngestEnd::kPeerGone);
  EXPECT_EQ(rig.committed(), sent);
  EXPECT_EQ(rig.stored(sent), data.substr(0, sent));
}

TEST_P(IngestTest, CutOffBodyCommitsWhatArrived) {
  const std::string data = random_bytes(4 * 1024 * 1024, 5);
  const size_t sent = 512 * 1024 + 4095;
  Rig rig(16, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size());
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) { send_all(fd, data.data(), sent); },  // then stalls
                       [&](BodyIngest& ingest) {
                         ASSERT_TRUE(rig.run_until([&] { return rig.received() >= sent; }));
                         ingest.cut();  // a newer request for the upload
                       }),
            IngestEnd::kCut);
  EXPECT_EQ(rig.committed(), sent);
  EXPECT_EQ(rig.stored(sent), data.substr(0, sent));
}

TEST_P(IngestTest, APoolSmallerThanTheConnectionsShareMeansBackpressureNotFailure) {
  const std::string data = random_bytes(8 * 1024 * 1024 + 1, 6);
  Rig rig(4, 4, GetParam() == Strategy::kDirect);  // 4 slots of 64 KiB, 4 writes allowed
  rig.create(data.size());
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) { send_all(fd, data.data(), data.size()); }),
            IngestEnd::kComplete);
  EXPECT_EQ(rig.committed(), data.size());
  EXPECT_EQ(rig.stored(data.size()), data);
  EXPECT_EQ(rig.free_slots(), 4u) << "every slot is back in the pool";
}

// All or nothing (AppendRequest::all_or_nothing, FilePond's chunks): a whole body commits once,
// at its end, past several checkpoints' worth of bytes; a body that ends early, by the client
// leaving or by a cut, commits nothing, though its bytes reached the file.
TEST_P(IngestTest, AllOrNothingCommitsAWholeBodyOnceAtItsEnd) {
  const std::string data = random_bytes(4 * 1024 * 1024 + 5, 7);
  Rig rig(16, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size() + 1000);
  EXPECT_EQ(rig.append(GetParam(), 0, data.substr(0, 1000), 0, false,
                       [&](int fd) { send_all(fd, data.data(), 1000); }),
            IngestEnd::kComplete);
  rig.set_all_or_nothing(true);
  uint64_t commits_before = rig.commits();
  const std::string rest = data.substr(1000);
  EXPECT_EQ(rig.append(GetParam(), 1000, rest, 0, false,
                       [&](int fd) { send_all(fd, rest.data(), rest.size()); }),
            IngestEnd::kComplete);
  EXPECT_EQ(rig.commits() - commits_before, 1u) << "checkpoints (1 MiB) committed a part";
  EXPECT_EQ(rig.committed(), data.size());
  EXPECT_EQ(rig.stored(data.size()), data);
}

TEST_P(IngestTest, AllOrNothingClientLeavingMidBodyCommitsNothing) {
  const std::string data = random_bytes(4 * 1024 * 1024, 8);
  const size_t sent = 3 * 1024 * 1024 + 77;  // past three checkpoints
  Rig rig(16, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size());
  rig.set_all_or_nothing(true);
  uint64_t commits_before = rig.commits();
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) {
                         send_all(fd, data.data(), sent);
                         ::shutdown(fd, SHUT_WR);
                       }),
            IngestEnd::kPeerGone);
  EXPECT_EQ(rig.committed(), 0u);
  EXPECT_EQ(rig.commits(), commits_before);
  // The same request again, whole, from the same offset: the upload takes it.
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) { send_all(fd, data.data(), data.size()); }),
            IngestEnd::kComplete);
  EXPECT_EQ(rig.committed(), data.size());
  EXPECT_EQ(rig.stored(data.size()), data);
}

TEST_P(IngestTest, AllOrNothingCutOffBodyCommitsNothing) {
  const std::string data = random_bytes(4 * 1024 * 1024, 9);
  const size_t sent = 2 * 1024 * 1024 + 4095;
  Rig rig(16, 4, GetParam() == Strategy::kDirect);
  rig.create(data.size());
  rig.set_all_or_nothing(true);
  EXPECT_EQ(rig.append(GetParam(), 0, data, 0, false,
                       [&](int fd) { send_all(fd, data.data(), sent); },  // then stalls
                       [&](BodyIngest& ingest) {
                         ASSERT_TRUE(rig.run_until([&] { return rig.received() >= sent; }));
                         ingest.cut();  // a newer request for the upload, or a timeout
                       }),
            IngestEnd::kCut);
  EXPECT_EQ(rig.committed(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Strategies, IngestTest,
                         ::testing::Values(Strategy::kBuffered, Strategy::kDirect,
                                           Strategy::kSplice),
                         [](const ::testing::TestParamInfo<Strategy>& p) {
                           return std::string(strategy_name(p.param));
                         });

TEST(ChooseIngest, ChunkedIsBufferedDirectNeedsADescriptorSpliceIsAsked) {
  EXPECT_EQ(choose_ingest(IoMode::kDirect, false, true), IngestKind::kDirect);
  EXPECT_EQ(choose_ingest(IoMode::kDirect, false, false), IngestKind::kBuffered);
  EXPECT_EQ(choose_ingest(IoMode::kDirect, true, true), IngestKind::kBuffered);
  EXPECT_EQ(choose_ingest(IoMode::kSplice, false, false), IngestKind::kSplice);
  EXPECT_EQ(choose_ingest(IoMode::kSplice, true, false), IngestKind::kBuffered);
  EXPECT_EQ(choose_ingest(IoMode::kBuffered, false, true), IngestKind::kBuffered);
}

}  // namespace
}  // namespace ringest
