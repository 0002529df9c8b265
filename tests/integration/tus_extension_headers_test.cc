// Proves how the real ringestd treats a malformed Upload-Concat (concatenation is offered:
// tus_concat_test.cc): a 400 that changes nothing, on creation and on a PATCH, where a
// well-formed one means nothing. (Checksums: tus_checksum_test.cc.)
#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

class TusExtensionHeaders : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path() + "/data",
                                       std::vector<std::string>{"--max-upload-bytes", "1M"});
    server_->start();
    port_ = server_->port();
  }
  std::optional<Response> create(const std::string& extra_headers, const std::string& body = "") {
    std::string text =
        "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 3\r\n" +
        extra_headers;
    if (!body.empty()) {
      text += "Content-Type: application/offset+octet-stream\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n";
    }
    return request(port_, text + "\r\n" + body);
  }
  std::optional<Response> patch(const std::string& location, uint64_t offset,
                                const std::string& extra_headers, const std::string& body) {
    return request(port_, "PATCH " + location +
                              " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " +
                              std::to_string(offset) +
                              "\r\nContent-Type: application/offset+octet-stream\r\n"
                              "Content-Length: " +
                              std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body);
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(TusExtensionHeaders, MalformedConcatenationOnCreationIs400AndCreatesNothing) {
  std::optional<Response> r;
  for (std::string value : {"final;", "Partial", "final /files/a"}) {
    r = create("Upload-Concat: " + value + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << value;
    EXPECT_EQ(r->body, "invalid Upload-Concat\n") << value;
  }
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u);
}

TEST_F(TusExtensionHeaders, MalformedHeadersOnPatchAre400AndLeaveTheOffset) {
  std::string loc = tus_create(port_, 6);
  ASSERT_FALSE(loc.empty());
  auto r = patch(loc, 0, "Upload-Concat: final;\r\n", "abc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->body, "invalid Upload-Concat\n");
  EXPECT_EQ(head_offset(port_, loc), 0u);
  // Upload-Concat means nothing on a PATCH: well-formed, it is ignored.
  r = patch(loc, 0, "Upload-Concat: partial\r\n", "abc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "3");
}

}  // namespace
}  // namespace ringest::test
