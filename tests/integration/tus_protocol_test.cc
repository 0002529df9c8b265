// Proves that the real ringestd speaks tus 1.0.0 (core, creation, creation-with-upload,
// termination) over real sockets, and answers each kind of bad request with the right status
// while leaving acknowledged state untouched.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <sys/wait.h>

#include <set>
#include <string>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

class TusProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path() + "/data",
                                       std::vector<std::string>{"--max-upload-bytes", "1M"});
    server_->start();
    port_ = server_->port();
  }
  std::string data_file(const std::string& location) {
    return dir_.path() + "/data/uploads/" + id_of(location) + ".bin";
  }
  std::string record_file(const std::string& location) {
    return dir_.path() + "/data/uploads/" + id_of(location) + ".rec";
  }
  std::optional<Response> raw(const std::string& text, bool head = false) {
    return request(port_, text, head);
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST_F(TusProtocol, FirstLineNamesTheRealPort) {
  EXPECT_EQ(server_->first_line(), "listening on http://127.0.0.1:" + std::to_string(port_));
  EXPECT_NE(port_, 0);
}

TEST_F(TusProtocol, OptionsAdvertisesVersionExtensionsAndMaxSize) {
  auto r = raw("OPTIONS /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 9.9.9\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("tus-version"), "1.0.0");
  EXPECT_EQ(r->header("tus-extension"),
            "creation,creation-with-upload,creation-defer-length,termination,checksum,"
            "checksum-trailer,concatenation,expiration");  // (expiry is on by default)
  EXPECT_EQ(r->header("tus-max-size"), "1048576");
}

TEST_F(TusProtocol, CreateHeadPatchGetDelete) {
  std::string loc = tus_create(port_, 10, "filename aGVsbG8udHh0,empty");
  ASSERT_FALSE(loc.empty());
  EXPECT_EQ(loc.size(), std::string("/files/").size() + 32);
  auto h = tus_head(port_, loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), "0");
  EXPECT_EQ(h->header("upload-length"), "10");
  EXPECT_EQ(h->header("upload-metadata"), "filename aGVsbG8udHh0,empty");
  EXPECT_EQ(h->header("cache-control"), "no-store");
  EXPECT_EQ(h->header("tus-resumable"), "1.0.0");

  auto p = tus_patch(port_, loc, 0, "01234");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 204);
  EXPECT_EQ(p->header("upload-offset"), "5");
  auto g = raw("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 409) << "GET of an incomplete upload";
  p = tus_patch(port_, loc, 5, "56789");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 204);
  EXPECT_EQ(p->header("upload-offset"), "10");
  g = raw("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(g->body, "0123456789");
  EXPECT_EQ(sha256_file(data_file(loc)), sha256_hex("0123456789"));

  auto d = raw("DELETE " + loc + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 204);
  h = tus_head(port_, loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 404);
  EXPECT_TRUE(h->header("upload-offset").empty());
  EXPECT_FALSE(exists(data_file(loc)));
  EXPECT_FALSE(exists(record_file(loc)));
  p = tus_patch(port_, loc, 10, "x");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 404);
}

TEST_F(TusProtocol, CreationWithUpload) {
  auto r = raw(
      "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 8\r\n"
      "Content-Type: application/offset+octet-stream\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("upload-offset"), "3");
  std::string loc = r->header("location");
  ASSERT_FALSE(loc.empty());
  EXPECT_EQ(head_offset(port_, loc), 3u);
}

TEST_F(TusProtocol, ZeroLengthUploadIsCompleteAtOnce) {
  std::string loc = tus_create(port_, 0);
  ASSERT_FALSE(loc.empty());
  auto g = raw("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->status, 200);
  EXPECT_EQ(g->body, "");
}

TEST_F(TusProtocol, MissingOrWrongTusResumableIs412AndChangesNothing) {
  auto r = raw("POST /files/ HTTP/1.1\r\nHost: t\r\nUpload-Length: 5\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412);
  EXPECT_EQ(r->header("tus-version"), "1.0.0");
  r = raw("POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 0.0.1\r\nUpload-Length: 5\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u);

  std::string loc = tus_create(port_, 5);
  Connection c(port_);
  c.send_all("PATCH " + loc +
             " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 0.0.1\r\nUpload-Offset: 0\r\n"
             "Content-Type: application/offset+octet-stream\r\nContent-Length: 5\r\n\r\nhello");
  r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412);
  EXPECT_EQ(head_offset(port_, loc), 0u);
}

TEST_F(TusProtocol, OffsetMismatchIs409AndUploadUnchanged) {
  std::string loc = tus_create(port_, 10);
  ASSERT_EQ(status_of(tus_patch(port_, loc, 0, "abc")), 204);
  auto r = tus_patch(port_, loc, 1, "zzzz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->header("upload-offset"), "3");
  EXPECT_EQ(head_offset(port_, loc), 3u);
  ASSERT_EQ(status_of(tus_patch(port_, loc, 3, "defghij")), 204);
  auto g = raw("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, "abcdefghij");
}

TEST_F(TusProtocol, WrongContentTypeIs415) {
  std::string loc = tus_create(port_, 10);
  auto r = raw("PATCH " + loc +
               " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
               "Content-Type: application/octet-stream\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_EQ(head_offset(port_, loc), 0u);
}

TEST_F(TusProtocol, UnknownUploadIs404AndMalformedIdsNeverTouchTheDisk) {
  auto r = tus_patch(port_, "/files/0123456789abcdef0123456789abcdef", 0, "abc");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  for (std::string target : {"/files/../../etc/passwd", "/files/%2e%2e%2fx", "/files/ABC",
                             "/files/0123456789abcdef0123456789abcdeg", "/files/a/b"}) {
    r = raw("HEAD " + target + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n", true);
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 404) << target;
  }
}

TEST_F(TusProtocol, UploadLengthOverMaxIs413) {
  auto r = raw(
      "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 1048577\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 0u);
}

TEST_F(TusProtocol, BodyPastUploadLengthIsRefused) {
  std::string loc = tus_create(port_, 4);
  auto r = tus_patch(port_, loc, 0, "abcde");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(head_offset(port_, loc), 0u);
  // Chunked: the length is only known as bytes arrive.
  r = raw("PATCH " + loc +
          " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
          "Content-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
          "3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  auto offset = head_offset(port_, loc);
  ASSERT_TRUE(offset);
  EXPECT_LE(*offset, 4u);
}

TEST_F(TusProtocol, ChunkedPatchBodyIsStoredWithoutFraming) {
  std::string loc = tus_create(port_, 11);
  auto r = raw("PATCH " + loc +
               " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
               "Content-Type: application/offset+octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
               "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: y\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "11");
  auto g = raw("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->body, "hello world");
}

TEST_F(TusProtocol, BadHeaderValuesAre400) {
  for (std::string length : {"-1", "abc", "1e3", "99999999999999999999", ""}) {
    auto r = raw("POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: " +
                 length + "\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "Upload-Length: " << length;
  }
  // Each answer is checked for presence first: `r = raw(...)` with no answer empties r but
  // leaves the previous 400 in its storage, and r->status would read it back.
  auto r = raw("POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << "no Upload-Length";
  r = raw(
      "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 3\r\n"
      "Upload-Metadata: name not*base64\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << "bad metadata";
  r = raw(
      "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 3\r\n"
      "Upload-Metadata: a YQ==,a YQ==\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << "duplicate metadata key";
  std::string loc = tus_create(port_, 10);
  for (std::string offset : {"-1", "x", "", "18446744073709551616"}) {
    r = raw("PATCH " + loc +
            " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " + offset +
            "\r\nContent-Type: application/offset+octet-stream\r\nContent-Length: 1\r\n\r\nx");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "Upload-Offset: " << offset;
  }
  EXPECT_EQ(head_offset(port_, loc), 0u);
  EXPECT_EQ(metric(port_, "ringest_uploads"), 1u);
}

TEST_F(TusProtocol, UnknownPathIs404AndWrongMethodIs405) {
  auto r = raw("GET /nope HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  r = raw("PUT /files/ HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "OPTIONS, POST");
  std::string loc = tus_create(port_, 1);
  ASSERT_FALSE(loc.empty());
  r = raw("PUT " + loc + " HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
}

TEST_F(TusProtocol, HeadTooLargeIs431AndConnectionCloses) {
  Connection c(port_);
  std::string big(10000, 'a');
  c.send_all("GET /files/ HTTP/1.1\r\nHost: t\r\nX-Big: " + big + "\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_TRUE(c.closed_by_peer(5000));
}

TEST_F(TusProtocol, MalformedRequestIs400AndConnectionCloses) {
  Connection c(port_);
  c.send_all("GARBAGE\r\n\r\n");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.closed_by_peer(5000));
  auto r2 = raw("POST /files/ HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: "
                "chunked\r\nTus-Resumable: 1.0.0\r\nUpload-Length: 3\r\n\r\n0\r\n\r\n");
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 400) << "Content-Length with Transfer-Encoding";
}

TEST_F(TusProtocol, KeepAliveAndPipelinedRequestsOnOneConnection) {
  std::string loc = tus_create(port_, 6);
  Connection c(port_);
  // Three requests in one write: PATCH, HEAD, PATCH.
  c.send_all(patch_head(loc, 0, 3) + "abc" + "HEAD " + loc +
             " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n" + patch_head(loc, 3, 3) +
             "def");
  auto r1 = c.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 204);
  EXPECT_EQ(r1->header("upload-offset"), "3");
  auto r2 = c.read_response(true);
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200);
  EXPECT_EQ(r2->header("upload-offset"), "3");
  auto r3 = c.read_response();
  ASSERT_TRUE(r3);
  EXPECT_EQ(r3->status, 204);
  EXPECT_EQ(r3->header("upload-offset"), "6");
  // And the connection is still usable.
  c.send_all("GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r4 = c.read_response();
  ASSERT_TRUE(r4);
  EXPECT_EQ(r4->body, "abcdef");
}

TEST_F(TusProtocol, ExpectContinueGets100BeforeTheBody) {
  std::string loc = tus_create(port_, 5);
  Connection c(port_);
  std::string head = patch_head(loc, 0, 5);
  head.insert(head.size() - 2, "Expect: 100-continue\r\n");
  c.send_all(head);
  auto interim = c.read_response();
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  c.send_all("hello");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "5");
}

TEST_F(TusProtocol, ExpectContinueRejectedWithoutReadingTheBody) {
  std::string loc = tus_create(port_, 5);
  Connection c(port_);
  std::string head = patch_head(loc, 3, 5);  // wrong offset
  head.insert(head.size() - 2, "Expect: 100-continue\r\n");
  c.send_all(head);
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(r->header("connection"), "close");
}

TEST_F(TusProtocol, MethodOverrideTurnsPostIntoPatch) {
  std::string loc = tus_create(port_, 3);
  auto r = raw("POST " + loc +
               " HTTP/1.1\r\nHost: t\r\nX-HTTP-Method-Override: PATCH\r\nTus-Resumable: 1.0.0\r\n"
               "Upload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
               "Content-Length: 3\r\n\r\nxyz");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("upload-offset"), "3");
}

// Regression: a transfer coding other than chunked made the early-answer path abort the server.
// A final coding other than chunked leaves the body's length unknown: 400 (RFC 9112 6.3); an
// unsupported coding before chunked: 501 (RFC 9112 6.1).
TEST_F(TusProtocol, UnsupportedTransferEncodingIsRefusedAndTheServerLives) {
  for (std::string target : {"/healthz", "/files/", "/nope"}) {
    auto r = raw("GET " + target + " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n");
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 400) << target;
    r = raw("GET " + target +
            " HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n");
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 501) << target;
  }
  auto r = raw("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Regression: error answers to HEAD carried a body, which broke keep-alive framing.
TEST_F(TusProtocol, ErrorAnswersToHeadHaveNoBody) {
  Connection c(port_);
  c.send_all("HEAD /files/0123456789abcdef0123456789abcdef HTTP/1.1\r\nHost: t\r\n"
             "Tus-Resumable: 1.0.0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  auto r1 = c.read_response(true);
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 404);
  auto r2 = c.read_response();
  ASSERT_TRUE(r2);
  EXPECT_EQ(r2->status, 200) << "the next response on the connection must parse";
  EXPECT_EQ(r2->body, "ok\n");
}

// Regression: a Content-Length above 2^63 skipped the early 413 and got bytes committed.
TEST_F(TusProtocol, HugeContentLengthIs413AndCommitsNothing) {
  std::string loc = tus_create(port_, 10);
  auto r = raw("PATCH " + loc +
               " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
               "Content-Type: application/offset+octet-stream\r\n"
               "Content-Length: 9223372036854775813\r\n\r\nabcde");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(head_offset(port_, loc), 0u);
}

TEST_F(TusProtocol, UploadIdsAreRandomAndUnique) {
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.insert(tus_create(port_, 1));
  EXPECT_EQ(ids.size(), 20u);
}

TEST(ServerCli, HelpExitsZeroAndBadFlagsExitTwo) {
  // exit_code_of, not WEXITSTATUS alone: that reads 0 for a --help that crashed on a signal.
  std::string help = std::string(RINGESTD_PATH) + " --help > /dev/null";
  EXPECT_EQ(exit_code_of(std::system(help.c_str())), 0);
  for (std::string args : {"--bogus", "--listen", "--listen nope --data-dir /tmp/x",
                           "--listen 127.0.0.1:70000 --data-dir /tmp/x",
                           "--listen 127.0.0.1:0", "--listen 127.0.0.1:0 --data-dir /tmp/x "
                           "--threads 0"}) {
    std::string cmd = std::string(RINGESTD_PATH) + " " + args + " 2>/dev/null";
    EXPECT_EQ(exit_code_of(std::system(cmd.c_str())), 2) << args;
  }
}

}  // namespace
}  // namespace ringest::test
