// Proves the disk budget on the real binary and a really small filesystem (a 64 MiB tmpfs the
// test mounts and unmounts; docs/operations.md, "Disk budget"): a creation that would cross the
// free-space reserve is refused with 507 and leaves nothing behind, and works again once space
// is freed; POSTs with the largest Upload-Length and no bytes, from one address or from many,
// never take the filesystem below the reserve, and one such client leaves room for others; an
// append that needs new space below the reserve gets 507 before a byte is written and the
// offset stays; an anonymous client's unfinished uploads are bounded (429), and finishing or
// deleting one makes room; the announced maximum (Tus-Max-Size, Upload-Limit) is what the
// budget admits. Clients are told apart by their loopback source address (127.0.0.N).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kReserve = 16 * kMiB;

uint64_t free_bytes(const std::string& path) {
  struct statvfs st {};
  if (statvfs(path.c_str(), &st) != 0) return 0;
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

uint64_t file_size(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : UINT64_MAX;
}

// Waits until the server has sampled the filesystem twice more: at least one sample began
// after whatever the test just changed (the sampler runs every 100 ms; bounded at 20 s).
void wait_for_fresh_sample(uint16_t port) {
  const uint64_t start = metric(port, "ringest_disk_samples_total");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (metric(port, "ringest_disk_samples_total") < start + 2) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << "the disk sampler stopped";
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// Writes a file of about `bytes` (or until the filesystem is full).
void write_filler(const std::string& path, uint64_t bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string block(kMiB, 'f');
  for (uint64_t done = 0; done < bytes; done += block.size()) {
    if (std::fwrite(block.data(), 1, block.size(), f) != block.size()) break;
  }
  std::fclose(f);
}

class DiskBudgetTest : public DriverTest {
 protected:
  void SetUp() override {
    mount_point_ = dir_.path() + "/small";
    mkdir(mount_point_.c_str(), 0755);
    if (mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=64m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                   << "): needs root in a mount namespace that allows it";
    }
    mounted_ = true;
    data_dir_ = mount_point_ + "/data";
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
  }
  // A 16 MiB reserve, and `more` flags.
  uint16_t start(std::vector<std::string> more) {
    std::vector<std::string> args = {"--min-free-bytes", "16M", "--min-free-percent", "0"};
    args.insert(args.end(), more.begin(), more.end());
    server_ = std::make_unique<Server>(data_dir_, args);
    server_->start();
    return server_->port();
  }
  std::string uploads() const { return data_dir_ + "/uploads"; }

  TempDir dir_;
  std::string mount_point_;
  std::string data_dir_;
  bool mounted_ = false;
  std::unique_ptr<Server> server_;
};

using DiskBudget = DiskBudgetTest;

TEST_P(DiskBudget, CreationCrossingTheReserveIs507AndLeavesNothingUntilSpaceIsFreed) {
  const UploadDriver& d = driver();
  const uint16_t port = start({"--max-uploads-per-client", "0", "--max-bytes-per-client", "0"});
  UploadHandle a = d.create(port, 40 * kMiB);  // 64 - 40 leaves 24: above the reserve
  ASSERT_TRUE(a.valid());
  const int entries_before = count_dir_entries(uploads());
  auto r = request(port, d.create_request(16 * kMiB));  // 24 - 16 < 16
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507);
  EXPECT_NE(r->body.find("--min-free-bytes"), std::string::npos) << r->body;
  EXPECT_FALSE(d.created(r, 16 * kMiB).valid());
  EXPECT_EQ(count_dir_entries(uploads()), entries_before) << "a refused upload left files";
  // What still fits is admitted and completes.
  std::string b_data = random_bytes(4 * kMiB, 1);
  UploadHandle b = d.create(port, b_data.size());
  ASSERT_TRUE(b.valid());
  AppendOutcome p = d.append(port, b, 0, b_data);
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  // Space freed by a DELETE: the larger creation works once the server has seen it.
  ASSERT_TRUE(d.remove(port, a));
  wait_for_fresh_sample(port);
  std::string c_data = random_bytes(16 * kMiB, 2);
  UploadHandle c = d.create(port, c_data.size());
  ASSERT_TRUE(c.valid());
  p = d.append(port, c, 0, c_data);
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(sha256_file(d.data_file(data_dir_, b)), sha256_hex(b_data));
  EXPECT_EQ(sha256_file(d.data_file(data_dir_, c)), sha256_hex(c_data));
  EXPECT_GE(free_bytes(mount_point_), kReserve);
}

TEST_P(DiskBudget, HugeEmptyPostsCannotExhaustTheDiskOrStarveOthers) {
  const UploadDriver& d = driver();
  // The per-client defaults: 64 unfinished uploads, a quarter of (64 MiB - reserve) = 12 MiB.
  const uint16_t port = start({});
  const uint64_t largest = 12 * kMiB;
  // One anonymous client asks for the largest upload 20 times and sends nothing.
  int admitted = 0;
  for (int i = 0; i < 20; ++i) {
    auto r = request_from("127.0.0.2", port, d.create_request(largest));
    ASSERT_TRUE(r);
    if (d.created(r, largest).valid()) {
      ++admitted;
    } else {
      EXPECT_EQ(r->status, 507) << r->body;
    }
  }
  EXPECT_EQ(admitted, 1) << "one client holds at most a quarter of the room";
  // Another client still creates and finishes its upload.
  std::string data = random_bytes(4 * kMiB, 3);
  UploadHandle mine = d.create(port, data.size());
  ASSERT_TRUE(mine.valid());
  AppendOutcome p = d.append(port, mine, 0, data);
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(download_sha256(d, port, mine), sha256_hex(data));
  // Many clients doing the same never take the filesystem below the reserve.
  for (int client = 3; client <= 10; ++client) {
    std::string address = "127.0.0." + std::to_string(client);
    for (int i = 0; i < 5; ++i) {
      auto r = request_from(address.c_str(), port, d.create_request(largest));
      ASSERT_TRUE(r);
      if (!d.created(r, largest).valid()) {
        EXPECT_EQ(r->status, 507) << r->body;
      }
    }
  }
  EXPECT_GE(free_bytes(mount_point_), kReserve);
}

TEST_P(DiskBudget, UnfinishedUploadsPerClientAreBoundedWith429) {
  const UploadDriver& d = driver();
  const uint16_t port = start({"--max-uploads-per-client", "3", "--max-bytes-per-client", "0"});
  std::vector<UploadHandle> held;
  for (int i = 0; i < 3; ++i) {
    auto r = request_from("127.0.0.2", port, d.create_request(kMiB));
    held.push_back(d.created(r, kMiB));
    ASSERT_TRUE(held.back().valid()) << (r ? r->status : -1);
  }
  auto r = request_from("127.0.0.2", port, d.create_request(kMiB));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  EXPECT_NE(r->body.find("--max-uploads-per-client"), std::string::npos) << r->body;
  EXPECT_FALSE(d.created(r, kMiB).valid());
  // Another address is another client.
  EXPECT_TRUE(d.create(port, kMiB).valid());
  // A finished upload no longer counts...
  std::string data = random_bytes(kMiB, 4);
  AppendOutcome p = d.append(port, held[0], 0, data);
  ASSERT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  r = request_from("127.0.0.2", port, d.create_request(kMiB));
  ASSERT_TRUE(r);
  EXPECT_TRUE(d.created(r, kMiB).valid()) << r->status;
  r = request_from("127.0.0.2", port, d.create_request(kMiB));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 429);
  // ...nor does a deleted one.
  ASSERT_TRUE(d.remove(port, held[1]));
  r = request_from("127.0.0.2", port, d.create_request(kMiB));
  ASSERT_TRUE(r);
  EXPECT_TRUE(d.created(r, kMiB).valid()) << r->status;
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(DiskBudget);

std::string defer_create() {
  return "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Defer-Length: 1\r\n"
         "Content-Length: 0\r\n\r\n";
}

// A deferred-length upload has no preallocation: its appends need new space.
TEST_F(DiskBudgetTest, AppendNeedingSpaceBelowTheReserveIs507BeforeWritingAndOffsetStays) {
  const uint16_t port = start({"--max-uploads-per-client", "0", "--max-bytes-per-client", "0"});
  auto created = request(port, defer_create());
  ASSERT_EQ(status_of(created), 201);
  const std::string location = created->header("location");
  const std::string data_file = uploads() + "/" + id_of(location) + ".bin";
  std::string data = random_bytes(3 * kMiB, 5);
  ASSERT_EQ(status_of(tus_patch(port, location, 0, std::string_view(data).substr(0, kMiB))), 204);
  // Something else fills the filesystem to below the reserve.
  const std::string filler = mount_point_ + "/filler";
  write_filler(filler, free_bytes(mount_point_) - 8 * kMiB);
  ASSERT_LT(free_bytes(mount_point_), kReserve);
  wait_for_fresh_sample(port);
  auto refused = tus_patch(port, location, kMiB, std::string_view(data).substr(kMiB, kMiB));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 507);
  EXPECT_EQ(head_offset(port, location), kMiB);
  EXPECT_EQ(file_size(data_file), kMiB) << "no byte of the refused append was written";
  // Creation is refused as well, with no length at all.
  EXPECT_EQ(status_of(request(port, defer_create())), 507);
  // Space is back: the upload goes on and finishes (declaring its length on the last append).
  ASSERT_EQ(unlink(filler.c_str()), 0);
  wait_for_fresh_sample(port);
  ASSERT_EQ(status_of(tus_patch(port, location, kMiB, std::string_view(data).substr(kMiB, kMiB))),
            204);
  std::string last = "PATCH " + location +
                     " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " +
                     std::to_string(2 * kMiB) + "\r\nUpload-Length: " + std::to_string(3 * kMiB) +
                     "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: " +
                     std::to_string(kMiB) + "\r\n\r\n" + data.substr(2 * kMiB);
  ASSERT_EQ(status_of(request(port, last)), 204);
  EXPECT_EQ(sha256_file(data_file), sha256_hex(data));
}

// The announced maximum is what the budget can admit: a quarter of (64 MiB - 16 MiB) by default
// for anonymous clients; past it, 413 at once rather than a 507 that no retry would cure.
TEST_F(DiskBudgetTest, AnnouncedMaximumIsWhatTheBudgetAdmits) {
  const uint16_t port = start({});
  auto o = request(port, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  ASSERT_EQ(status_of(o), 204);
  EXPECT_EQ(o->header("tus-max-size"), std::to_string(12 * kMiB));
  EXPECT_EQ(o->header("upload-limit").rfind("max-size=" + std::to_string(12 * kMiB), 0), 0u)
      << o->header("upload-limit");
  EXPECT_EQ(status_of(request(port, tus_create_request(12 * kMiB + 1))), 413);
  EXPECT_FALSE(tus_create(port, 12 * kMiB).empty());
}

// A reserve the filesystem cannot hold stops start-up with a clear message.
TEST_F(DiskBudgetTest, ReserveLargerThanTheFilesystemStopsStartUp) {
  std::string out = dir_.path() + "/out";
  std::string cmd = ringestd_binary() + " --listen 127.0.0.1:0 --data-dir " + data_dir_ +
                    " --min-free-bytes 1G > " + out + " 2>&1";
  EXPECT_EQ(exit_code_of(std::system(cmd.c_str())), 1);
  EXPECT_NE(read_file(out).find("free-space reserve"), std::string::npos) << read_file(out);
}

}  // namespace
}  // namespace ringest::test
