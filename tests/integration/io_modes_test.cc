// The three data paths of --io-mode, chosen explicitly (the whole black-box suite also runs in
// each through RINGEST_TEST_IO_MODE): each stores exact bytes, and each really takes its own
// path, proven by the server's counters.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

class IoModes : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path() + "/data",
                                       std::vector<std::string>{"--io-mode", GetParam()});
    server_->start();
    port_ = server_->port();
  }
  std::string stored(const std::string& location) {
    return sha256_file(server_->data_dir() + "/uploads/" + id_of(location) + ".bin");
  }
  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_P(IoModes, UnalignedChunksOfAContentLengthBodyAreStoredExactly) {
  std::string data = random_bytes((24 << 20) + 12345, 21);
  std::string location = tus_create(port_, data.size());
  uint64_t offset = 0;
  for (size_t piece : {size_t{1}, size_t{4095}, size_t{8 << 20}, size_t{333}, size_t{16 << 20},
                       data.size()}) {
    size_t n = std::min(piece, data.size() - offset);
    auto r = tus_patch(port_, location, offset, data.substr(offset, n));
    ASSERT_TRUE(r.has_value());
    ASSERT_EQ(r->status, 204);
    offset += n;
    ASSERT_EQ(r->header("upload-offset"), std::to_string(offset));
  }
  ASSERT_EQ(offset, data.size());
  EXPECT_EQ(stored(location), sha256_hex(data));
  uint64_t spliced = metric(port_, "ringest_body_bytes_spliced_total");
  if (std::string(GetParam()) == "splice") {
    // All but what arrived in the same receive as each request head went through the pipe.
    EXPECT_GT(spliced, data.size() / 2);
  } else {
    EXPECT_EQ(spliced, 0u);
  }
}

TEST_P(IoModes, ChunkedBodiesAreStoredWithoutFraming) {
  // Splice mode cannot splice a chunked body (its framing is in the byte stream): it is
  // received into buffers instead, and must come out the same.
  std::string data = random_bytes(300000, 22);
  std::string location = tus_create(port_, data.size());
  std::string body;
  for (size_t at = 0; at < data.size(); at += 70000) {
    size_t n = std::min<size_t>(70000, data.size() - at);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", n);
    body += size + data.substr(at, n) + "\r\n";
  }
  body += "0\r\n\r\n";
  Connection c(port_);
  ASSERT_TRUE(c.send_all("PATCH " + location +
                         " HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
                         "Content-Type: application/offset+octet-stream\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n" +
                         body));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), std::to_string(data.size()));
  EXPECT_EQ(stored(location), sha256_hex(data));
}

TEST_P(IoModes, KeepAliveRequestsAfterASplicedBodyParse) {
  // The body ends outside the parser in splice mode; the next request on the connection must
  // still parse from its first byte.
  std::string data = random_bytes(2 << 20, 23);
  std::string location = tus_create(port_, data.size());
  Connection c(port_);
  ASSERT_TRUE(c.send_all(patch_head(location, 0, data.size())));
  ASSERT_TRUE(c.send_all(data));
  auto r = c.read_response();
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 204);
  ASSERT_TRUE(c.send_all("HEAD " + location + " HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\n\r\n"));
  auto h = c.read_response(true);
  ASSERT_TRUE(h.has_value());
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), std::to_string(data.size()));
  EXPECT_EQ(stored(location), sha256_hex(data));
}

INSTANTIATE_TEST_SUITE_P(Modes, IoModes, ::testing::Values("direct", "buffered", "splice"));

}  // namespace
}  // namespace ringest::test
