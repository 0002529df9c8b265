// Proves behaviour on a really full filesystem (a size-limited tmpfs the test mounts and
// unmounts): creating an upload that does not fit is refused with 507 and leaves nothing
// behind, uploads created earlier still complete (their space was reserved at creation), and
// after space is freed new uploads work again. (ENOSPC in the middle of a PATCH, which
// reservation prevents on a real disk, is covered through the fault seam in
// fault_injection_test.cc.) Runs once per upload protocol (tests/support/upload_driver.h).
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>

#include "tests/support/test_support.h"
#include "tests/support/upload_driver.h"

namespace ringest::test {
namespace {

constexpr uint64_t kMiB = 1 << 20;

class DiskFull : public DriverTest {
 protected:
  void SetUp() override {
    mount_point_ = dir_.path() + "/small";
    mkdir(mount_point_.c_str(), 0755);
    if (mount("tmpfs", mount_point_.c_str(), "tmpfs", 0, "size=48m") != 0) {
      GTEST_SKIP() << "cannot mount a tmpfs here (" << std::strerror(errno)
                   << "): needs root in a mount namespace that allows it";
    }
    mounted_ = true;
  }
  void TearDown() override {
    server_.reset();
    if (mounted_) umount2(mount_point_.c_str(), MNT_DETACH);
  }

  TempDir dir_;
  std::string mount_point_;
  bool mounted_ = false;
  std::unique_ptr<Server> server_;
};

TEST_P(DiskFull, CreationIs507WhenFullAndReservedUploadsStillComplete) {
  const UploadDriver& d = driver();
  const std::string data_dir = mount_point_ + "/data";
  // A 48 MiB filesystem: a 1 MiB reserve, and no per-client bound on the 16 MiB upload (the
  // budget's own behaviour is disk_budget_test.cc's).
  server_ = std::make_unique<Server>(
      data_dir, std::vector<std::string>{"--min-free-bytes", "1M", "--min-free-percent", "0",
                                         "--max-bytes-per-client", "0"});
  server_->start();
  const uint16_t port = server_->port();
  std::string a_data = random_bytes(16 * kMiB, 1);
  UploadHandle a = d.create(port, a_data.size());
  ASSERT_TRUE(a.valid());
  // Fill what is left of the filesystem.
  const std::string filler = mount_point_ + "/filler";
  {
    FILE* f = std::fopen(filler.c_str(), "wb");
    ASSERT_NE(f, nullptr);
    std::string block(kMiB, 'f');
    while (std::fwrite(block.data(), 1, block.size(), f) == block.size()) {
    }
    std::fclose(f);
  }
  const int entries_before = count_dir_entries(data_dir + "/uploads");
  auto r = request(port, d.create_request(8 * kMiB));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 507);
  EXPECT_FALSE(d.created(r, 8 * kMiB).valid());
  EXPECT_EQ(count_dir_entries(data_dir + "/uploads"), entries_before) << "a refused upload left files";
  // The upload created before the disk filled up has its space and completes.
  AppendOutcome p = d.append(port, a, 0, a_data);
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(d.offset(port, a), a_data.size());
  // Space freed: new uploads work again.
  ASSERT_EQ(unlink(filler.c_str()), 0);
  // The server samples free space every 100 ms (docs/operations.md, "Disk budget"): wait for
  // two more samples, so one began after the unlink (bounded).
  const uint64_t samples = metric(port, "ringest_disk_samples_total");
  for (int i = 0; i < 1000 && metric(port, "ringest_disk_samples_total") < samples + 2; ++i) {
    usleep(20000);
  }
  ASSERT_GE(metric(port, "ringest_disk_samples_total"), samples + 2) << "the sampler stopped";
  std::string b_data = random_bytes(8 * kMiB, 2);
  UploadHandle b = d.create(port, b_data.size());
  ASSERT_TRUE(b.valid());
  p = d.append(port, b, 0, b_data);
  EXPECT_EQ(p.kind, AppendOutcome::Kind::kAccepted) << p;
  EXPECT_EQ(sha256_file(d.data_file(data_dir, a)), sha256_hex(a_data));
  EXPECT_EQ(sha256_file(d.data_file(data_dir, b)), sha256_hex(b_data));
}

RINGEST_INSTANTIATE_FOR_EVERY_DRIVER(DiskFull);

}  // namespace
}  // namespace ringest::test
