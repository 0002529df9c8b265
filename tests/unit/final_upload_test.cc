// Proves the protocol-neutral core of concatenation against a real io_uring, a real buffer pool,
// real sockets and the real UploadStore (engine/upload/final_parts.h, upload_reader.h):
// - UploadReader streams a final upload as one stream over its parts' data files: every range
//   [from, to), starting and ending on, just before and just after every part boundary and at
//   random, comes back byte-exact, across empty parts, a part listed twice and parts larger and
//   smaller than a pool slot; also to a client that reads slowly (the socket fills, the slot is
//   let go, and the stream resumes at the right byte of the right file).
// - FinalParts::make refuses unknown, deleted, non-partial and unfinished parts and a sum over
//   the maximum, pins nothing and leaks no reference when it refuses, and pins each listing
//   when it succeeds; a pinned partial cannot be removed, an unpinned one can.
// - A final's CRC-32C is combined from its parts' when all are known (no byte is read).
#include <arpa/inet.h>
#include <fcntl.h>
#include <ftw.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "engine/base/crc32c.h"
#include "engine/reactor/reactor.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/upload_record.h"
#include "engine/upload/final_parts.h"
#include "engine/upload/upload_reader.h"
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
    std::string templ = std::string(base && *base ? base : "/tmp") + "/final-XXXXXX";
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

// A connected TCP pair on loopback: the server end for the reader, the client end for a thread.
struct SocketPair {
  int server = -1;
  int client = -1;
  explicit SocketPair(int client_receive_buffer = 0) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(listen(listener, 1), 0);
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
    client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (client_receive_buffer > 0) {
      setsockopt(client, SOL_SOCKET, SO_RCVBUF, &client_receive_buffer, sizeof(int));
    }
    EXPECT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    server = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (client_receive_buffer > 0) {
      setsockopt(server, SOL_SOCKET, SO_SNDBUF, &client_receive_buffer, sizeof(int));
    }
    ::close(listener);
  }
  ~SocketPair() {
    if (server >= 0) ::close(server);
    if (client >= 0) ::close(client);
  }
};

// One reactor's worth of engine driven by hand: ring, registered pool, store, a reader, and this
// class as their listener.
class Rig final : public StoreListener, public ReaderListener {
 public:
  Rig() : reactor_(0, config()) {
    std::string error;
    EXPECT_TRUE(data_dir_.open(dir_.path() + "/data", &error).ok()) << error;
    store_ = std::make_unique<UploadStore>(&data_dir_, false, 16, 60000);
    EXPECT_TRUE(reactor_.init(-1).ok());
    reader_.init(&reactor_.ring(), &reactor_.pool(), store_.get());
  }

  const Config& config() {
    config_.buffer_bytes = 64 * 1024;  // the chunk a reader reads at once
    config_.buffers_per_reactor = 4;
    config_.buffers_per_connection = 2;
    return config_;
  }
  UploadStore& store() { return *store_; }

  // Removes `upload` as a DELETE does: false when the store refuses (nothing happens then).
  bool remove(Upload& upload) {
    store_done_ = false;
    if (!store_->remove(op_, reactor_.ring(), upload, this)) return false;
    EXPECT_TRUE(run_until([&] { return store_done_; }));
    return store_status_.ok();
  }

  bool run_until(const std::function<bool()>& done, int seconds = 20) {
    auto deadline = Clock::now() + std::chrono::seconds(seconds);
    while (!done()) {
      if (Clock::now() > deadline) return false;
      reactor_.ring().run_once(false);
      reactor_.pool().wake_waiters();
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    return true;
  }

  // Runs a creation to its end: the new upload, or null when it failed.
  UploadRef create(const CreateSpec& spec) {
    store_done_ = false;
    store_->create(op_, reactor_.ring(), spec, this);
    EXPECT_TRUE(run_until([&] { return store_done_; }));
    UploadRef upload = op_.take_upload();
    UploadFiles files = op_.take_files();
    if (upload) store_->release_files(reactor_.ring(), *upload, files, false, 0);
    return upload;
  }
  // A complete partial holding `data` (written straight into its file: the ingest paths have
  // their own tests), with its CRC known when `with_crc`.
  UploadRef partial(const std::string& data, bool with_crc = false) {
    CreateSpec spec;
    spec.protocol = static_cast<uint8_t>(storage::Protocol::kTus);
    spec.length = data.size();
    spec.partial = true;
    UploadRef u = create(spec);
    EXPECT_TRUE(u);
    std::string path = data_dir_.uploads_path() + "/" + std::string(u->id()) + ".bin";
    int fd = ::open(path.c_str(), O_WRONLY);
    EXPECT_EQ(pwrite(fd, data.data(), data.size(), 0), static_cast<ssize_t>(data.size()));
    ::close(fd);
    std::lock_guard lock(u->mu);
    u->committed_offset = data.size();
    u->flags = storage::kFlagComplete | (with_crc ? storage::kFlagContentCrc : 0);
    u->content_crc32c = crc32c(data.data(), data.size());
    return u;
  }
  UploadRef final_of(const std::vector<Upload*>& parts) {
    std::vector<Upload*> found;
    for (Upload* p : parts) {
      upload_ref(p);
      found.push_back(p);
    }
    CreateSpec spec;
    spec.protocol = static_cast<uint8_t>(storage::Protocol::kTus);
    EXPECT_EQ(FinalParts::make(found, UINT64_MAX, &spec.parts).outcome, PartsOutcome::kOk);
    return create(spec);
  }

  // Streams [from, to) of `upload` to a client thread that reads it all, `pause_us` between
  // reads of at most `read_bytes`; returns what it read.
  std::string read(Upload& upload, uint64_t from, uint64_t to, int receive_buffer = 0,
                   size_t read_bytes = 1 << 20, int pause_us = 0) {
    SocketPair pair(receive_buffer);
    std::string got;
    std::thread client([&] {
      std::string buf(read_bytes, '\0');
      while (got.size() < to - from) {
        ssize_t n = ::recv(pair.client, buf.data(), buf.size(), 0);
        if (n <= 0) break;
        got.append(buf.data(), static_cast<size_t>(n));
        if (pause_us > 0) std::this_thread::sleep_for(std::chrono::microseconds(pause_us));
      }
    });
    ended_ = false;
    end_status_ = Status::Ok();
    reader_.start(upload, from, to, pair.server, this);
    EXPECT_TRUE(run_until([&] { return ended_; }, 60));
    EXPECT_TRUE(end_status_.ok()) << code_name(end_status_.code);
    client.join();
    EXPECT_EQ(reactor_.pool().free_count(), config_.buffers_per_reactor);  // nothing held
    return got;
  }

  void on_store_done(StoreOp*, Status status) override {
    store_done_ = true;
    store_status_ = status;
  }
  void on_reader_ready() override { reader_.send_body(); }
  void on_reader_progress() override {}
  void on_reader_end(Status status) override {
    ended_ = true;
    end_status_ = status;
  }

 private:
  TempDir dir_;
  Config config_;
  storage::DataDir data_dir_;
  std::unique_ptr<UploadStore> store_;
  Reactor reactor_;
  UploadReader reader_;
  StoreOp op_;
  bool store_done_ = false;
  Status store_status_;
  bool ended_ = false;
  Status end_status_;
};

TEST(FinalUploadTest, EveryRangeAcrossPartBoundariesReadsBackExactly) {
  Rig rig;
  // Parts larger and smaller than a 64 KiB slot, an empty one, one listed twice.
  std::string a = random_bytes(100000, 1);
  std::string b = random_bytes(65536, 2);
  std::string c = random_bytes(1, 3);
  UploadRef pa = rig.partial(a);
  UploadRef pb = rig.partial(b);
  UploadRef pc = rig.partial(c);
  UploadRef empty = rig.partial("");
  UploadRef fin = rig.final_of({pa.get(), empty.get(), pb.get(), pc.get(), pa.get(), empty.get()});
  ASSERT_TRUE(fin);
  const std::string whole = a + b + c + a;
  ASSERT_EQ(fin->view().length, whole.size());
  ASSERT_TRUE(fin->view().complete());

  std::vector<std::pair<uint64_t, uint64_t>> ranges = {{0, whole.size()}};
  const uint64_t boundaries[] = {0, 100000, 165536, 165537, whole.size()};
  for (uint64_t x : boundaries) {
    for (uint64_t y : boundaries) {
      for (int dx : {-1, 0, 1}) {
        for (int dy : {-1, 0, 1}) {
          int64_t from = static_cast<int64_t>(x) + dx;
          int64_t to = static_cast<int64_t>(y) + dy;
          if (from >= 0 && to <= static_cast<int64_t>(whole.size()) && from < to) {
            ranges.emplace_back(from, to);
          }
        }
      }
    }
  }
  std::mt19937_64 rng(7);
  for (int i = 0; i < 40; ++i) {
    uint64_t from = rng() % whole.size();
    ranges.emplace_back(from, from + 1 + rng() % (whole.size() - from));
  }
  for (const auto& [from, to] : ranges) {
    std::string got = rig.read(*fin, from, to);
    ASSERT_EQ(got.size(), to - from) << from << ".." << to;
    ASSERT_TRUE(got == whole.substr(from, to - from)) << from << ".." << to;
  }
}

TEST(FinalUploadTest, ASlowClientResumesAtTheRightByteOfTheRightPart) {
  Rig rig;
  std::string a = random_bytes(300000, 4);
  std::string b = random_bytes(170001, 5);
  UploadRef pa = rig.partial(a);
  UploadRef pb = rig.partial(b);
  UploadRef fin = rig.final_of({pa.get(), pb.get(), pa.get()});
  ASSERT_TRUE(fin);
  const std::string whole = a + b + a;
  // Small socket buffers and a client that reads 4 KiB at a time with pauses: sends come back
  // short, the reader lets its slot go and re-reads from the first unsent byte.
  std::string got = rig.read(*fin, 12345, whole.size() - 999, 8192, 4096, 200);
  ASSERT_EQ(got.size(), whole.size() - 999 - 12345);
  EXPECT_TRUE(got == whole.substr(12345, whole.size() - 999 - 12345));
}

TEST(FinalUploadTest, MakeRefusesBadPartsAndPinsNothingThen) {
  Rig rig;
  UploadRef done = rig.partial("abc");
  CreateSpec plain_spec;
  plain_spec.length = 3;
  UploadRef plain = rig.create(plain_spec);
  CreateSpec unfinished_spec;
  unfinished_spec.length = 10;
  unfinished_spec.partial = true;
  UploadRef unfinished = rig.create(unfinished_spec);
  ASSERT_TRUE(done && plain && unfinished);

  struct Case {
    std::vector<Upload*> parts;
    uint64_t max_length;
    PartsOutcome outcome;
    size_t index;
  };
  const Case cases[] = {
      {{}, UINT64_MAX, PartsOutcome::kNoParts, 0},
      {{done.get(), nullptr}, UINT64_MAX, PartsOutcome::kUnknown, 1},
      {{done.get(), plain.get()}, UINT64_MAX, PartsOutcome::kNotPartial, 1},
      {{unfinished.get()}, UINT64_MAX, PartsOutcome::kIncomplete, 0},
      {{done.get(), done.get()}, 5, PartsOutcome::kTooLong, 1},
  };
  const int refs_before = done->refs.load();
  for (const Case& c : cases) {
    std::vector<Upload*> found;
    for (Upload* p : c.parts) {
      if (p != nullptr) upload_ref(p);
      found.push_back(p);
    }
    std::shared_ptr<const FinalParts> parts;
    PartsCheck check = FinalParts::make(found, c.max_length, &parts);
    EXPECT_EQ(check.outcome, c.outcome) << parts_outcome_name(check.outcome);
    EXPECT_EQ(check.index, c.index) << parts_outcome_name(check.outcome);
    EXPECT_EQ(parts, nullptr);
    EXPECT_EQ(done->view().final_refs, 0u);
    EXPECT_EQ(done->refs.load(), refs_before);  // every reference given back
  }
  std::vector<Upload*> too_many(storage::kMaxFinalParts + 1, nullptr);
  std::shared_ptr<const FinalParts> parts;
  EXPECT_EQ(FinalParts::make(too_many, UINT64_MAX, &parts).outcome, PartsOutcome::kTooMany);
}

TEST(FinalUploadTest, APinnedPartialCannotBeRemovedAndAnUnpinnedOneCan) {
  Rig rig;
  UploadRef pa = rig.partial("abc");
  std::vector<Upload*> found = {pa.get(), pa.get()};
  upload_ref(pa.get());
  upload_ref(pa.get());
  std::shared_ptr<const FinalParts> parts;
  ASSERT_EQ(FinalParts::make(found, UINT64_MAX, &parts).outcome, PartsOutcome::kOk);
  EXPECT_EQ(pa->view().final_refs, 2u);  // once per listing
  EXPECT_FALSE(rig.remove(*pa));
  EXPECT_FALSE(pa->view().deleted);
  // A deleted upload cannot be pinned any more either.
  UploadRef pb = rig.partial("b");
  ASSERT_TRUE(rig.remove(*pb));
  upload_ref(pb.get());
  std::vector<Upload*> deleted = {pb.get()};
  std::shared_ptr<const FinalParts> none;
  EXPECT_EQ(FinalParts::make(deleted, UINT64_MAX, &none).outcome, PartsOutcome::kUnknown);
  // The final's removal is durable: its parts are let go, and may go too.
  parts->unpin();
  EXPECT_EQ(pa->view().final_refs, 0u);
  parts->unpin();  // once only
  EXPECT_EQ(pa->view().final_refs, 0u);
  EXPECT_TRUE(rig.remove(*pa));
}

TEST(FinalUploadTest, AFinalCreatedThroughTheStoreIsCompleteWithItsPartsCrc) {
  Rig rig;
  std::string a = random_bytes(4097, 8);
  std::string b = random_bytes(100, 9);
  UploadRef pa = rig.partial(a, true);
  UploadRef pb = rig.partial(b, true);
  UploadRef pn = rig.partial("no crc", false);
  UploadRef fin = rig.final_of({pa.get(), pb.get(), pa.get()});
  ASSERT_TRUE(fin);
  UploadView v = fin->view();
  EXPECT_EQ(v.kind, UploadKind::kFinal);
  EXPECT_TRUE(v.complete());
  EXPECT_EQ(v.offset, 2 * a.size() + b.size());
  ASSERT_TRUE(v.crc32c_known);
  std::string whole = a + b + a;
  EXPECT_EQ(v.crc32c, crc32c(whole.data(), whole.size()));
  EXPECT_EQ(pa->view().final_refs, 2u);
  // One part without a known CRC: the final's is unknown (never guessed).
  UploadRef other = rig.final_of({pa.get(), pn.get()});
  ASSERT_TRUE(other);
  EXPECT_FALSE(other->view().crc32c_known);
  // Removing a final unpins its parts once the removal is durable.
  EXPECT_TRUE(rig.remove(*fin));
  EXPECT_EQ(pa->view().final_refs, 1u);
  EXPECT_TRUE(rig.remove(*other));
  EXPECT_EQ(pa->view().final_refs, 0u);
  EXPECT_TRUE(rig.remove(*pa));
}

}  // namespace
}  // namespace ringest
