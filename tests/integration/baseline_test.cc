// Proves that the benchmark baseline naive-readall (tools/baseline) correctly serves what the load
// generator sends (tus POST/PATCH/HEAD/GET with 409 on a wrong offset, PUT then GET), stays sane
// (bad requests, disconnects and allocation failure), and really is naive: its peak RSS grows
// by the size of the body it is receiving.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

#ifndef NAIVE_READALL_PATH

// Built without the naive-readall path (tests/CMakeLists.txt must define NAIVE_READALL_PATH).
TEST(NaiveReadall, BinaryPathNotConfigured) {
  GTEST_SKIP() << "NAIVE_READALL_PATH is not defined: add it in tests/CMakeLists.txt";
}

#else

constexpr uint64_t kMiB = 1024 * 1024;

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Peak resident set size of a process (VmHWM in /proc/PID/status), in bytes.
uint64_t peak_rss_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6)) * 1024;  // kB
  }
  throw std::runtime_error("no VmHWM for pid " + std::to_string(pid));
}

class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void update(std::string_view data) { EVP_DigestUpdate(ctx_, data.data(), data.size()); }
  std::string hex() {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx_, digest, &len);
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < len; ++i) {
      out += kHex[digest[i] >> 4];
      out += kHex[digest[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
};

// SHA-256 of a file read in 1 MiB pieces (the big files here should not be held in memory).
std::string sha256_file_streaming(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing";
  Sha256 sha;
  std::vector<char> piece(kMiB);
  while (in) {
    in.read(piece.data(), static_cast<std::streamsize>(piece.size()));
    sha.update(std::string_view(piece.data(), static_cast<size_t>(in.gcount())));
  }
  return sha.hex();
}

// Sends `head` and then `total` deterministic bytes in 16 MiB pieces on `c`; returns the bytes'
// SHA-256. A send failure (the server answered early and closed) stops the sending only.
std::string send_streamed_body(Connection& c, const std::string& head, uint64_t total,
                               uint64_t seed) {
  Sha256 sha;
  if (!c.send_all(head)) return {};
  for (uint64_t sent = 0, i = 0; sent < total; ++i) {
    std::string piece = random_bytes(static_cast<size_t>(std::min(total - sent, 16 * kMiB)),
                                     seed + i);
    sha.update(piece);
    if (!c.send_all(piece)) return {};
    sent += piece.size();
  }
  return sha.hex();
}

// The real naive-readall binary as a child process on 127.0.0.1:0 (test_support's Server,
// pointed at the baseline). Only this PID is ever signalled.
std::unique_ptr<Server> start_naive(const std::string& data_dir, uint64_t address_space_limit = 0) {
  auto server = std::make_unique<Server>(data_dir, std::vector<std::string>{}, 0,
                                         NAIVE_READALL_PATH);
  server->set_address_space_limit(address_space_limit);
  server->start();
  return server;
}

class NaiveReadall : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = start_naive(data_dir());
    port_ = server_->port();
  }
  std::string data_dir() const { return dir_.path() + "/data"; }
  std::string tus_file(const std::string& location) const {
    return data_dir() + "/tus/" + id_of(location);
  }
  std::optional<Response> get(const std::string& path) {
    return request(port_, "GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  std::optional<Response> put(const std::string& path, std::string_view body,
                              const std::string& extra_headers = "") {
    Connection c(port_);
    if (c.send_all("PUT " + path + " HTTP/1.1\r\nHost: t\r\n" + extra_headers +
                   "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n")) {
      c.send_all(body);
    }
    return c.read_response();
  }
  bool alive() {
    auto r = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
    return server_->running() && r && r->status == 204;
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(NaiveReadall, TusUploadInTwoPatchesComesBackIntact) {
  EXPECT_EQ(server_->first_line(), "listening on http://127.0.0.1:" + std::to_string(port_));
  auto options = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(options->header("tus-version"), "1.0.0");

  const uint64_t size = 16 * kMiB;
  std::string body = random_bytes(size, 1);
  std::string loc = tus_create(port_, size);
  ASSERT_EQ(loc.rfind("/files/", 0), 0u) << loc;
  EXPECT_EQ(id_of(loc).size(), 32u);

  auto first = tus_patch(port_, loc, 0, std::string_view(body).substr(0, size / 2));
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 204);
  EXPECT_EQ(first->header("upload-offset"), std::to_string(size / 2));
  auto incomplete = get(loc);
  ASSERT_TRUE(incomplete);
  EXPECT_EQ(incomplete->status, 409);

  auto second = tus_patch(port_, loc, size / 2, std::string_view(body).substr(size / 2));
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 204);
  EXPECT_EQ(second->header("upload-offset"), std::to_string(size));

  auto head = tus_head(port_, loc);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("upload-offset"), std::to_string(size));
  EXPECT_EQ(head->header("upload-length"), std::to_string(size));

  auto got = get(loc);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(sha256_hex(got->body), sha256_hex(body));
  EXPECT_EQ(sha256_file(tus_file(loc)), sha256_hex(body));
}

TEST_F(NaiveReadall, PatchAtWrongOffsetIs409AndChangesNothing) {
  std::string loc = tus_create(port_, 4 * kMiB);
  ASSERT_FALSE(loc.empty());
  auto wrong = tus_patch(port_, loc, 10, random_bytes(100, 2));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 409);
  EXPECT_EQ(wrong->header("upload-offset"), "0");

  std::string data = random_bytes(1000, 3);
  auto right = tus_patch(port_, loc, 0, data);
  ASSERT_TRUE(right);
  EXPECT_EQ(right->status, 204);
  EXPECT_EQ(right->header("upload-offset"), "1000");

  auto again = tus_patch(port_, loc, 0, random_bytes(1000, 4));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  EXPECT_EQ(again->header("upload-offset"), "1000");

  // A body too big to be read and dropped: the 409 comes early and the client still reads it.
  auto big_wrong = tus_patch(port_, loc, 5, random_bytes(2 * kMiB, 5));
  ASSERT_TRUE(big_wrong);
  EXPECT_EQ(big_wrong->status, 409);

  auto unknown = tus_patch(port_, "/files/0123456789abcdef0123456789abcdef", 0, "x");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);

  EXPECT_EQ(head_offset(port_, loc), 1000u);
  EXPECT_EQ(sha256_file(tus_file(loc)), sha256_hex(data));
}

TEST_F(NaiveReadall, PutThenGetReturnsTheSameBytes) {
  std::string body = random_bytes(8 * kMiB, 6);
  auto created = put("/files/x.bin", body);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status, 201);
  auto got = get("/files/x.bin");
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(sha256_hex(got->body), sha256_hex(body));
  EXPECT_EQ(sha256_file(data_dir() + "/put/x.bin"), sha256_hex(body));

  std::string replacement = random_bytes(1000, 7);
  auto replaced = put("/files/x.bin", replacement);
  ASSERT_TRUE(replaced);
  EXPECT_EQ(replaced->status, 204);
  auto got_again = get("/files/x.bin");
  ASSERT_TRUE(got_again);
  EXPECT_EQ(got_again->body, replacement);
  auto missing = get("/files/nothing.bin");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
}

TEST_F(NaiveReadall, KeepAliveServesPipelinedRequestsInOrder) {
  Connection c(port_);
  ASSERT_TRUE(c.send_all(
      "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n"
      "PUT /files/p.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
      "GET /files/p.txt HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto options = c.read_response();
  auto created = c.read_response();
  auto got = c.read_response();
  ASSERT_TRUE(options && created && got);
  EXPECT_EQ(options->status, 204);
  EXPECT_EQ(created->status, 201);
  EXPECT_EQ(got->status, 200);
  EXPECT_EQ(got->body, "hello");
}

TEST_F(NaiveReadall, RejectsBadRequestsAndWritesNothingOutsideItsDirectory) {
  auto status = [&](const std::string& raw) {
    auto r = request(port_, raw);
    return r ? r->status : -1;
  };
  EXPECT_EQ(status("GARBAGE\r\n\r\n"), 400);
  EXPECT_EQ(status("PUT /files/../escape HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"), 400);
  EXPECT_EQ(status("PUT /files/.. HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"), 400);
  EXPECT_EQ(status("PUT /files/a%2Fb HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"), 400);
  EXPECT_EQ(status("PUT /files/" + std::string(65, 'a') +
                   " HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nx"),
            400);
  EXPECT_EQ(status("PUT /files/c.bin HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                   "1\r\nx\r\n0\r\n\r\n"),
            411);
  EXPECT_EQ(status("GET /files/x HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(100000, 'a') +
                   "\r\n\r\n"),
            431);
  EXPECT_EQ(status("POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n"), 400);
  std::string loc = tus_create(port_, 10);
  ASSERT_FALSE(loc.empty());
  EXPECT_EQ(status("PATCH " + loc + " HTTP/1.1\r\nHost: t\r\nUpload-Offset: 0\r\n"
                   "Content-Type: application/offset+octet-stream\r\nContent-Length: 1\r\n\r\nx"),
            412);
  EXPECT_EQ(status("PATCH " + loc + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                   "Upload-Offset: 0\r\nContent-Type: text/plain\r\nContent-Length: 1\r\n\r\nx"),
            415);
  EXPECT_EQ(status(patch_head(loc, 0, 11) + std::string(11, 'x')), 413);
  EXPECT_FALSE(exists(dir_.path() + "/escape"));
  EXPECT_FALSE(exists(data_dir() + "/escape"));
  EXPECT_EQ(head_offset(port_, loc), 0u);
  EXPECT_TRUE(alive());
}

TEST_F(NaiveReadall, ClientDisconnectMidBodyLosesOnlyThatRequest) {
  const uint64_t size = 16 * kMiB;
  std::string body = random_bytes(size, 8);
  std::string loc = tus_create(port_, size);
  ASSERT_FALSE(loc.empty());
  {
    Connection c(port_);
    ASSERT_TRUE(c.send_all(patch_head(loc, 0, size)));
    ASSERT_TRUE(c.send_all(std::string_view(body).substr(0, size / 2)));
    c.close_now();
  }
  // The naive server drops a body that did not arrive in full; its thread notices the EOF
  // shortly, until then the upload is still busy (409).
  std::optional<Response> r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    r = tus_patch(port_, loc, 0, body);
  } while (r && r->status == 409 && std::chrono::steady_clock::now() < deadline);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), std::to_string(size));
  EXPECT_EQ(sha256_file(tus_file(loc)), sha256_hex(body));
  EXPECT_TRUE(alive());
}

// The point of the baseline: one 256 MiB PATCH makes the server hold all 256 MiB in memory.
TEST_F(NaiveReadall, PeakRssGrowsToTheWholeBody) {
  const uint64_t size = 256 * kMiB;
  ASSERT_TRUE(alive());
  uint64_t before = peak_rss_bytes(server_->pid());
  std::string loc = tus_create(port_, size);
  ASSERT_FALSE(loc.empty());
  Connection c(port_, 120000);
  std::string sent_sha = send_streamed_body(c, patch_head(loc, 0, size), size, 100);
  ASSERT_FALSE(sent_sha.empty());
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), std::to_string(size));
  uint64_t after = peak_rss_bytes(server_->pid());
  std::printf("naive-readall VmHWM: %.1f MiB before, %.1f MiB after one %llu MiB PATCH\n",
              static_cast<double>(before) / kMiB, static_cast<double>(after) / kMiB,
              static_cast<unsigned long long>(size / kMiB));
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(before, 64 * kMiB);  // it is the body, not a big start-up footprint
#endif
  EXPECT_GE(after, size);
  EXPECT_EQ(sha256_file_streaming(tus_file(loc)), sent_sha);
}

// Under an address-space limit the growing buffer cannot be allocated: 500, not a crash.
TEST_F(NaiveReadall, AllocationFailureAnswers500AndTheServerLivesOn) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "AddressSanitizer reserves terabytes of shadow memory: RLIMIT_AS would stop "
                  "it from starting, and its allocator reports OOM instead of throwing";
#else
  server_.reset();
  server_ = start_naive(data_dir(), 256 * kMiB);
  port_ = server_->port();
  const uint64_t size = 256 * kMiB;
  std::string loc = tus_create(port_, size);
  ASSERT_FALSE(loc.empty());
  {
    Connection c(port_, 60000);
    send_streamed_body(c, patch_head(loc, 0, size), size, 200);
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 500);
  }
  EXPECT_TRUE(alive());
  EXPECT_EQ(head_offset(port_, loc), 0u);
  std::string small = random_bytes(4096, 9);
  auto ok = tus_patch(port_, loc, 0, small);
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 204);
  EXPECT_EQ(ok->header("upload-offset"), "4096");
#endif
}

TEST_F(NaiveReadall, SigtermExits) {
  int status = server_->stop();
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

#endif  // NAIVE_READALL_PATH

}  // namespace
}  // namespace ringest::test
