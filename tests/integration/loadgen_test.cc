// Runs the real ringest-loadgen binary against the real ringestd and checks that it uploads,
// verifies by SHA-256, reports what it measured, and fails loudly when it cannot.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <sys/wait.h>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

// LOADGEN_PATH comes from tests/CMakeLists.txt; without it these tests skip instead of failing
// the build, so this file can land before the CMake lines that point at the binary.
#ifdef LOADGEN_PATH
constexpr const char* kLoadgenPath = LOADGEN_PATH;
#else
constexpr const char* kLoadgenPath = nullptr;
#endif

struct RunResult {
  int exit_code = -1;  // -1: did not exit normally
  std::string out;     // stdout only; stderr goes to the test log for diagnosis
};

RunResult run_loadgen(const std::string& args) {
  RunResult result;
  std::string command = std::string(kLoadgenPath) + " " + args;
  FILE* pipe = popen(command.c_str(), "r");
  if (!pipe) return result;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) result.out.append(buf, n);
  int status = pclose(pipe);
  if (status != -1 && WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  return result;
}

// The number after "name": in the one-line JSON report; nullopt when absent or null.
std::optional<double> json_number(const std::string& json, const std::string& name) {
  std::string key = "\"" + name + "\":";
  size_t at = json.find(key);
  if (at == std::string::npos) return std::nullopt;
  const char* start = json.c_str() + at + key.size();
  char* end = nullptr;
  double v = std::strtod(start, &end);
  if (end == start) return std::nullopt;
  return v;
}

class Loadgen : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!kLoadgenPath) GTEST_SKIP() << "LOADGEN_PATH not defined by tests/CMakeLists.txt";
    server_ = std::make_unique<Server>(dir_.path() + "/data");
    server_->start();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(server_->port()); }

  TempDir dir_;
  std::unique_ptr<Server> server_;
};

TEST_F(Loadgen, SingleRequestTusUploadsAreStoredAndVerified) {
  RunResult r = run_loadgen(url() + " --uploads 2 --bytes 32M --json --timeout-s 60");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(json_number(r.out, "uploads"), 2) << r.out;
  EXPECT_EQ(json_number(r.out, "bytes_each"), 32 << 20) << r.out;
  EXPECT_EQ(json_number(r.out, "verified"), 2) << r.out;
  EXPECT_EQ(json_number(r.out, "errors"), 0) << r.out;
  EXPECT_GT(json_number(r.out, "throughput_mbps").value_or(0), 0) << r.out;
  EXPECT_GT(json_number(r.out, "upload_s_max").value_or(0), 0) << r.out;
  EXPECT_TRUE(json_number(r.out, "loadgen_cpu_s").has_value()) << r.out;
  EXPECT_EQ(metric(server_->port(), "ringest_uploads_created_total"), 2u);
}

TEST_F(Loadgen, ChunkedTusUploadsAreStoredAndVerified) {
  RunResult r = run_loadgen(url() + " --uploads 2 --bytes 16M --chunk-bytes 4M --json --timeout-s 60");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(json_number(r.out, "chunk_bytes"), 4 << 20) << r.out;
  EXPECT_EQ(json_number(r.out, "verified"), 2) << r.out;
  EXPECT_EQ(json_number(r.out, "errors"), 0) << r.out;
}

TEST_F(Loadgen, ServerPidReportsCpuAndPeakRss) {
  RunResult r = run_loadgen(url() + " --uploads 1 --bytes 8M --json --timeout-s 60 --server-pid " +
                            std::to_string(server_->pid()));
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_GT(json_number(r.out, "server_peak_rss_mib").value_or(0), 0) << r.out;
  EXPECT_GE(json_number(r.out, "server_cpu_s").value_or(-1), 0) << r.out;
  EXPECT_TRUE(json_number(r.out, "server_cpu_s_per_gib").has_value()) << r.out;
}

// --checksum: ringestd checks every request's digest (460 on a mismatch) with its own code,
// so uploads that pass in every algorithm prove the client's independent digests right, per
// chunk (the last one short) and for a single creation-with-upload request.
TEST_F(Loadgen, ChecksummedTusUploadsPassTheServersCheck) {
  for (const char* algorithm : {"sha1", "sha256", "md5", "crc32", "crc32c"}) {
    SCOPED_TRACE(algorithm);
    RunResult r = run_loadgen(url() + " --uploads 2 --bytes 10M --chunk-bytes 4M --json" +
                              " --timeout-s 60 --checksum " + algorithm);
    ASSERT_EQ(r.exit_code, 0) << r.out;
    EXPECT_EQ(json_number(r.out, "verified"), 2) << r.out;
    EXPECT_EQ(json_number(r.out, "checksum_requests"), 3) << r.out;
    EXPECT_NE(r.out.find(std::string("\"checksum\":\"") + algorithm + "\""), std::string::npos)
        << r.out;
  }
  RunResult r =
      run_loadgen(url() + " --uploads 1 --bytes 3M --json --timeout-s 60 --checksum crc32c");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_EQ(json_number(r.out, "checksum_requests"), 1) << r.out;
  EXPECT_EQ(json_number(r.out, "verified"), 1) << r.out;
}

// The header is really sent: a checksummed request takes no checkpoint commits. A plain 4 MiB
// PATCH with a 64 KiB checkpoint interval commits at least twice (a checkpoint once a write
// lands, which must happen before 4 MiB arrive, as a connection holds at most 4 slots of
// 256 KiB; then the final commit); a checksummed one exactly once.
TEST_F(Loadgen, ChecksummedRequestsAreCommittedOnlyWhole) {
  server_.reset();
  server_ = std::make_unique<Server>(dir_.path() + "/data2",
                                     std::vector<std::string>{"--checkpoint-bytes", "64K"});
  server_->start();
  const std::string args = " --uploads 1 --bytes 8M --chunk-bytes 4M --json --timeout-s 60";
  uint64_t before = metric(server_->port(), "ringest_commits_total");
  RunResult plain = run_loadgen(url() + args);
  ASSERT_EQ(plain.exit_code, 0) << plain.out;
  uint64_t after_plain = metric(server_->port(), "ringest_commits_total");
  RunResult summed = run_loadgen(url() + args + " --checksum sha256");
  ASSERT_EQ(summed.exit_code, 0) << summed.out;
  uint64_t after_summed = metric(server_->port(), "ringest_commits_total");
  EXPECT_GE(after_plain - before, 4u);
  EXPECT_EQ(after_summed - after_plain, 2u);  // one per PATCH (a POST's record is no commit)
}

TEST_F(Loadgen, UnreachableServerIsAnError) {
  uint16_t nobody = free_port();
  RunResult r = run_loadgen("http://127.0.0.1:" + std::to_string(nobody) +
                            " --uploads 2 --bytes 1M --json --timeout-s 5");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_EQ(json_number(r.out, "errors"), 2) << r.out;
  EXPECT_EQ(json_number(r.out, "verified"), 0) << r.out;
}

TEST_F(Loadgen, BadUsageExitsTwo) {
  const std::string quiet = " 2>/dev/null";  // the usage text would only clutter the test log
  EXPECT_EQ(run_loadgen("ftp://127.0.0.1:1 --bytes 1M" + quiet).exit_code, 2);
  EXPECT_EQ(run_loadgen(url() + " --bytes 12Q" + quiet).exit_code, 2);
  EXPECT_EQ(run_loadgen(url() + " --protocol put --chunk-bytes 1M --bytes 4M" + quiet).exit_code, 2);
  EXPECT_EQ(run_loadgen(url() + " --checksum sha512 --bytes 4M" + quiet).exit_code, 2);
  EXPECT_EQ(run_loadgen(url() + " --protocol put --checksum sha1 --bytes 4M" + quiet).exit_code, 2);
}

#if defined(NAIVE_READALL_PATH) && defined(LOADGEN_PATH)
// ringestd speaks tus only; PUT mode is checked against the naive baseline, which takes PUT.
TEST(LoadgenPut, PutUploadsAreStoredAndVerified) {
  TempDir dir;
  Server naive(dir.path() + "/data", {}, 0, NAIVE_READALL_PATH);
  naive.start();
  RunResult r = run_loadgen("http://127.0.0.1:" + std::to_string(naive.port()) +
                            " --uploads 2 --bytes 8M --protocol put --json");
  EXPECT_EQ(r.exit_code, 0) << r.out;
  EXPECT_NE(r.out.find("\"verified\":2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"errors\":0"), std::string::npos) << r.out;
}
#endif

}  // namespace
}  // namespace ringest::test
