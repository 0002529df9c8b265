// Proves tus creation-defer-length end to end on the real binary: an upload created without a
// length reports Upload-Defer-Length: 1 on HEAD (and no Upload-Length) until a PATCH declares
// the length; the declared length is durable (it survives a restart, recovered from record
// format v2) and fixed (another value, a value below the offset or above the maximum is
// refused, and nothing changes); bytes are bounded by the maximum size while the length is
// unknown, and by the declared length after. Also: metadata sent at creation comes back on HEAD
// exactly as sent, read from the record on disk, before and after a restart.
#include <gtest/gtest.h>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

class DeferLength : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start() {
    server_ = std::make_unique<Server>(dir_.path() + "/data",
                                       std::vector<std::string>{"--max-upload-bytes", "1M"}, port_);
    server_->start();
    port_ = server_->port();
  }
  std::string create_deferred(std::string_view metadata = {}) {
    std::string req = "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                      "Upload-Defer-Length: 1\r\n";
    if (!metadata.empty()) req += "Upload-Metadata: " + std::string(metadata) + "\r\n";
    auto r = request(port_, req + "\r\n");
    if (!r || r->status != 201) return {};
    return r->header("location");
  }
  std::optional<Response> patch(const std::string& loc, uint64_t offset, std::string_view data,
                                std::optional<uint64_t> length = {}) {
    Connection c(port_);
    std::string head = "PATCH " + loc +
                       " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                       "Content-Type: application/offset+octet-stream\r\nUpload-Offset: " +
                       std::to_string(offset) + "\r\nContent-Length: " +
                       std::to_string(data.size()) + "\r\n";
    if (length) head += "Upload-Length: " + std::to_string(*length) + "\r\n";
    if (c.send_all(head + "\r\n")) c.send_all(data);
    return c.read_response();
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

TEST_F(DeferLength, LengthDeclaredByALaterPatchSurvivesARestart) {
  std::string loc = create_deferred();
  ASSERT_FALSE(loc.empty());
  auto h = tus_head(port_, loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("upload-defer-length"), "1");
  EXPECT_EQ(h->header("upload-length"), "");
  EXPECT_EQ(h->header("upload-offset"), "0");

  auto r = patch(loc, 0, "hello ");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "6");
  server_->stop();
  start();  // the deferred state is recovered from the record
  h = tus_head(port_, loc);
  EXPECT_EQ(h->header("upload-defer-length"), "1");
  EXPECT_EQ(h->header("upload-offset"), "6");

  r = patch(loc, 6, "world", 11);  // the last chunk declares the length
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "11");
  server_->stop();
  start();
  h = tus_head(port_, loc);
  EXPECT_EQ(h->header("upload-length"), "11");
  EXPECT_EQ(h->header("upload-defer-length"), "");
  EXPECT_EQ(h->header("upload-offset"), "11");
  auto g = request(port_, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(g->body, "hello world");
}

TEST_F(DeferLength, AnEmptyPatchMayDeclareTheLengthAlone) {
  std::string loc = create_deferred();
  ASSERT_EQ(patch(loc, 0, "abc")->status, 204);
  auto r = patch(loc, 3, "", 10);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  server_->stop();
  start();
  auto h = tus_head(port_, loc);
  EXPECT_EQ(h->header("upload-length"), "10");
  EXPECT_EQ(h->header("upload-offset"), "3");
  EXPECT_EQ(patch(loc, 3, "defghijk")->status, 413) << "8 bytes would pass the declared 10";
  EXPECT_EQ(patch(loc, 3, "defghij")->status, 204);
}

TEST_F(DeferLength, OnceDeclaredTheLengthIsFixedAndBadDeclarationsChangeNothing) {
  std::string loc = create_deferred();
  ASSERT_EQ(patch(loc, 0, "abcdef")->status, 204);
  EXPECT_EQ(patch(loc, 6, "", 5)->status, 400) << "a length below the offset";
  EXPECT_EQ(patch(loc, 6, "", 2 * 1024 * 1024)->status, 413) << "above --max-upload-bytes";
  EXPECT_EQ(patch(loc, 6, "gh", 4)->status, 400) << "below the offset, with a body";
  auto h = tus_head(port_, loc);
  EXPECT_EQ(h->header("upload-defer-length"), "1") << "refused declarations changed the upload";
  EXPECT_EQ(h->header("upload-offset"), "6");
  ASSERT_EQ(patch(loc, 6, "gh", 20)->status, 204);
  EXPECT_EQ(patch(loc, 8, "ij", 21)->status, 400) << "a second, different length";
  EXPECT_EQ(patch(loc, 8, "ij", 20)->status, 204) << "the same length again is fine";
  EXPECT_EQ(tus_head(port_, loc)->header("upload-length"), "20");
}

TEST_F(DeferLength, WhileUnknownTheMaximumSizeBoundsTheBytes) {
  std::string loc = create_deferred();
  std::string big(1024 * 1024 + 1, 'x');
  auto r = patch(loc, 0, big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(head_offset(port_, loc), 0u);
  // A chunked body is refused once it passes the maximum, keeping what came before.
  Connection c(port_);
  ASSERT_TRUE(c.send_all("PATCH " + loc +
                         " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                         "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
                         "Transfer-Encoding: chunked\r\n\r\n"));
  std::string chunk(64 * 1024, 'y');
  char size[16];
  std::snprintf(size, sizeof size, "%zx\r\n", chunk.size());
  for (int i = 0; i < 17; ++i) {  // 17 x 64 KiB > 1 MiB
    if (!c.send_all(size) || !c.send_all(chunk) || !c.send_all("\r\n")) break;
  }
  auto rc = c.read_response();
  ASSERT_TRUE(rc);
  EXPECT_EQ(rc->status, 413);
  auto offset = head_offset(port_, loc);
  ASSERT_TRUE(offset);
  EXPECT_LE(*offset, 1024u * 1024u);
}

TEST_F(DeferLength, CreationRulesForTheDeferHeader) {
  auto both = request(port_,
                      "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                      "Upload-Length: 5\r\nUpload-Defer-Length: 1\r\n\r\n");
  EXPECT_EQ(both->status, 400);
  auto bad = request(port_,
                     "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                     "Upload-Defer-Length: yes\r\n\r\n");
  EXPECT_EQ(bad->status, 400);
  auto neither = request(port_, "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  EXPECT_EQ(neither->status, 400);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u) << "refused creations made nothing";
  auto o = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_NE(o->header("tus-extension").find("creation-defer-length"), std::string::npos);
}

TEST_F(DeferLength, CreationWithUploadAndADeferredLength) {
  auto r = request(port_,
                   "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                   "Upload-Defer-Length: 1\r\nContent-Type: application/offset+octet-stream\r\n"
                   "Content-Length: 4\r\n\r\nabcd");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("upload-offset"), "4");
  std::string loc = r->header("location");
  EXPECT_EQ(tus_head(port_, loc)->header("upload-defer-length"), "1");
  EXPECT_EQ(patch(loc, 4, "e", 5)->status, 204);
  EXPECT_EQ(tus_head(port_, loc)->header("upload-length"), "5");
}

TEST_F(DeferLength, MetadataComesBackAsSentReadFromTheRecord) {
  // name=report.pdf, empty=(no value), bin=\x00\xff\x01
  const std::string metadata = "name cmVwb3J0LnBkZg==,empty,bin AP8B";
  std::string deferred = create_deferred(metadata);
  std::string fixed = tus_create(port_, 10, metadata);
  for (const std::string& loc : {deferred, fixed}) {
    EXPECT_EQ(tus_head(port_, loc)->header("upload-metadata"), metadata);
  }
  server_->stop();
  start();
  for (const std::string& loc : {deferred, fixed}) {
    EXPECT_EQ(tus_head(port_, loc)->header("upload-metadata"), metadata);
  }
  std::string none = tus_create(port_, 10);
  EXPECT_FALSE(tus_head(port_, none)->headers.count("upload-metadata"));
}

}  // namespace
}  // namespace ringest::test
