// Proves that the real ringestd serves a complete upload like a file server (issue #11): GET
// sends the bytes with Content-Type and Content-Disposition from the upload's metadata (hostile
// values sanitized), single byte ranges (206, 416, Accept-Ranges), a strong ETag that works in
// If-None-Match (304), If-Match (412) and If-Range; a download interrupted halfway resumes
// byte-exact (with two ranged GETs, and with `curl -C -`); HEAD without Tus-Resumable answers
// like a file while HEAD with it stays tus; an incomplete upload is refused; and downloads
// allocate nothing on reactor threads.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

// Upload-Metadata from pairs.
std::string metadata(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out += ",";
    out += key;
    if (!value.empty()) out += " " + base64(value);
  }
  return out;
}

// Every header value is visible ASCII or space: nothing split a field or started a new one.
void expect_clean_headers(const Response& r) {
  for (const auto& [name, value] : r.headers) {
    for (char c : value) {
      unsigned char b = static_cast<unsigned char>(c);
      EXPECT_TRUE(b >= 0x20 && b < 0x7F) << name << ": " << ::testing::PrintToString(value);
    }
  }
}

class TusDownload : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = std::make_unique<Server>(dir_.path() + "/data");
    server_->start();
    port_ = server_->port();
  }

  // A complete upload of `content`: its Location.
  std::string upload(const std::string& content, std::string_view meta = {}) {
    std::string loc = tus_create(port_, content.size(), meta);
    EXPECT_FALSE(loc.empty());
    if (!content.empty()) {
      EXPECT_EQ(status_of(tus_patch(port_, loc, 0, content)), 204);
    }
    return loc;
  }
  std::optional<Response> get(const std::string& loc, const std::string& fields = {}) {
    return request(port_, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n");
  }
  std::optional<Response> head(const std::string& loc, const std::string& fields = {}) {
    return request(port_, "HEAD " + loc + " HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n", true);
  }
  std::string etag_of(const std::string& loc) {
    auto r = get(loc);
    return r ? r->header("etag") : std::string();
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  // Larger than one pool slot (256 KiB by default), odd-sized: reads cross slot boundaries.
  const std::string content_ = random_bytes(600 * 1024 + 7, 11);
};

TEST_F(TusDownload, WholeFileWithFileFieldsFromMetadata) {
  std::string loc =
      upload(content_, metadata({{"filename", "report.pdf"}, {"filetype", "application/pdf"}}));
  auto r = get(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), content_.size());
  EXPECT_TRUE(r->body == content_);
  EXPECT_EQ(r->header("content-length"), std::to_string(content_.size()));
  EXPECT_EQ(r->header("content-type"), "application/pdf");
  EXPECT_EQ(r->header("content-disposition"), "attachment; filename=\"report.pdf\"");
  EXPECT_EQ(r->header("x-content-type-options"), "nosniff");
  EXPECT_EQ(r->header("accept-ranges"), "bytes");
  EXPECT_EQ(r->header("cache-control"), "private, no-cache");
  EXPECT_TRUE(r->header("content-range").empty());
  EXPECT_TRUE(r->header("upload-offset").empty()) << "a download, not a tus answer";
  std::string last_modified = r->header("last-modified");
  ASSERT_EQ(last_modified.size(), 29u) << last_modified;
  EXPECT_EQ(last_modified.substr(26), "GMT");
  // The ETag is strong, quoted, and the same on every request for the same upload.
  std::string etag = r->header("etag");
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');
  EXPECT_NE(etag.find(id_of(loc)), std::string::npos) << etag;
  EXPECT_EQ(etag_of(loc), etag);
  auto h = head(loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("etag"), etag);
  // Another upload, another tag.
  std::string other = upload(content_);
  EXPECT_NE(etag_of(other), etag);
  // Repr-Digest, when sent (not in splice mode, where the bytes never pass through memory), is
  // a CRC-32C in RFC 9530's form, the one the tus HEAD reports, and the one in the ETag.
  std::string digest = r->header("repr-digest");
  auto tus = head(loc, "Tus-Resumable: 1.0.0\r\n");
  ASSERT_TRUE(tus);
  EXPECT_EQ(tus->header("repr-digest"), digest);
  if (!digest.empty()) {
    ASSERT_EQ(digest.size(), 17u) << digest;
    EXPECT_EQ(digest.substr(0, 8), "crc32c=:");
    EXPECT_EQ(digest.back(), ':');
    unsigned char crc[6];
    ASSERT_EQ(EVP_DecodeBlock(crc, reinterpret_cast<const unsigned char*>(digest.data() + 8), 8),
              6);
    char hex[9];
    std::snprintf(hex, sizeof hex, "%02x%02x%02x%02x", crc[0], crc[1], crc[2], crc[3]);
    EXPECT_EQ(etag, "\"" + std::string(hex) + "-" + id_of(loc) + "\"");
  } else {
    EXPECT_EQ(etag, "\"" + id_of(loc) + "\"");
  }
}

TEST_F(TusDownload, EachRangeFormGets206WithExactBytes) {
  std::string loc = upload(content_);
  const uint64_t n = content_.size();
  struct Case {
    std::string range;
    uint64_t from, to;  // [from, to)
  };
  for (const Case& c : {Case{"bytes=0-0", 0, 1}, Case{"bytes=10-19", 10, 20},
                        Case{"bytes=262140-262150", 262140, 262151},  // across a slot boundary
                        Case{"bytes=300000-", 300000, n}, Case{"bytes=-100", n - 100, n},
                        Case{"bytes=-" + std::to_string(n + 5), 0, n}, Case{"bytes=0-", 0, n},
                        Case{"bytes=5-99999999999", 5, n},
                        Case{"bytes=" + std::to_string(n - 1) + "-", n - 1, n}}) {
    SCOPED_TRACE(c.range);
    auto r = get(loc, "Range: " + c.range + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 206);
    EXPECT_EQ(r->header("content-range"), "bytes " + std::to_string(c.from) + "-" +
                                              std::to_string(c.to - 1) + "/" + std::to_string(n));
    EXPECT_EQ(r->header("content-length"), std::to_string(c.to - c.from));
    EXPECT_TRUE(r->body == content_.substr(c.from, c.to - c.from));
    EXPECT_EQ(r->header("accept-ranges"), "bytes");
    EXPECT_FALSE(r->header("etag").empty());
  }
}

TEST_F(TusDownload, RangesOnOneKeepAliveConnection) {
  std::string loc = upload(content_);
  Connection c(port_);
  // Pipelined: three ranged GETs in one write, answered in order.
  c.send_all("GET " + loc + " HTTP/1.1\r\nHost: t\r\nRange: bytes=0-2\r\n\r\n" + "GET " + loc +
             " HTTP/1.1\r\nHost: t\r\nRange: bytes=-3\r\n\r\n" + "GET " + loc +
             " HTTP/1.1\r\nHost: t\r\nRange: bytes=400000-\r\n\r\n");
  auto a = c.read_response();
  auto b = c.read_response();
  auto d = c.read_response();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->body, content_.substr(0, 3));
  EXPECT_EQ(b->body, content_.substr(content_.size() - 3));
  EXPECT_TRUE(d->body == content_.substr(400000));
  c.send_all("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  auto e = c.read_response();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 200);
}

TEST_F(TusDownload, UnsatisfiableRangeIs416WithTheLength) {
  std::string loc = upload(content_);
  const std::string n = std::to_string(content_.size());
  for (const std::string& range :
       {"bytes=" + n + "-", "bytes=" + n + "-" + n, std::string("bytes=-0"),
        std::string("bytes=99999999999999999999999-")}) {
    SCOPED_TRACE(range);
    auto r = get(loc, "Range: " + range + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 416);
    EXPECT_EQ(r->header("content-range"), "bytes */" + n);
    EXPECT_LT(r->body.size(), 100u);
  }
}

TEST_F(TusDownload, InvalidOrMultipleRangesGetTheWholeFile) {
  std::string loc = upload(content_);
  for (const char* range :
       {"bytes=5-2", "bytes=a-b", "items=0-5", "bytes=", "0-5", "bytes=0-1,5-6", "bytes=0-1, -5"}) {
    SCOPED_TRACE(range);
    auto r = get(loc, std::string("Range: ") + range + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == content_);
    EXPECT_TRUE(r->header("content-range").empty());
  }
  // Two Range field lines are a list of two ranges as well.
  auto r = get(loc, "Range: bytes=0-1\r\nRange: bytes=3-4\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_TRUE(r->body == content_);
}

TEST_F(TusDownload, IfNoneMatchGives304WithoutABody) {
  std::string loc = upload(content_, metadata({{"filename", "a.bin"}}));
  std::string etag = etag_of(loc);
  ASSERT_FALSE(etag.empty());
  for (const std::string& condition : {etag, "W/" + etag, std::string("*"), "\"nope\", " + etag,
                                       "\"x\",\r\nIf-None-Match: " + etag}) {
    SCOPED_TRACE(condition);
    Connection c(port_);
    // The 304 has no body: the next answer on the connection must still frame (keep-alive).
    c.send_all("GET " + loc + " HTTP/1.1\r\nHost: t\r\nIf-None-Match: " + condition +
               "\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 304);
    EXPECT_EQ(r->header("etag"), etag);
    EXPECT_TRUE(r->header("content-length").empty());
    auto next = c.read_response();
    ASSERT_TRUE(next);
    EXPECT_EQ(next->status, 200);
    EXPECT_EQ(next->body, "ok\n");
  }
  for (const char* condition : {"\"nope\"", "W/\"nope\"", "garbage"}) {
    SCOPED_TRACE(condition);
    auto r = get(loc, std::string("If-None-Match: ") + condition + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == content_);
  }
  // HEAD with a matching If-None-Match: 304 as well.
  auto h = head(loc, "If-None-Match: " + etag + "\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 304);
}

TEST_F(TusDownload, IfMatchMismatchIs412) {
  std::string loc = upload(content_);
  std::string etag = etag_of(loc);
  auto r = get(loc, "If-Match: \"nope\"\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412);
  r = get(loc, "If-Match: W/" + etag + "\r\n");  // strong comparison
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 412);
  r = get(loc, "If-Match: " + etag + "\r\nRange: bytes=0-9\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, content_.substr(0, 10));
}

TEST_F(TusDownload, IfRangeAppliesTheRangeOnlyWhenTheValidatorMatches) {
  std::string loc = upload(content_);
  auto first = get(loc);
  ASSERT_TRUE(first);
  std::string etag = first->header("etag");
  std::string last_modified = first->header("last-modified");
  auto r = get(loc, "Range: bytes=100-199\r\nIf-Range: " + etag + "\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, content_.substr(100, 100));
  r = get(loc, "Range: bytes=100-199\r\nIf-Range: " + last_modified + "\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206) << "a date equal to Last-Modified";
  for (const std::string& condition :
       {std::string("\"changed\""), "W/" + etag, std::string("Thu, 01 Jan 1970 00:00:00 GMT"),
        std::string("x")}) {
    SCOPED_TRACE(condition);
    r = get(loc, "Range: bytes=100-199\r\nIf-Range: " + condition + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "the validator does not match: the whole file";
    EXPECT_TRUE(r->body == content_);
  }
  // If-Range without Range means nothing.
  r = get(loc, "If-Range: \"changed\"\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(TusDownload, TwoRangedGetsReassembleTheFile) {
  std::string loc = upload(content_, metadata({{"filename", "big.bin"}}));
  // A client got the first part, then lost the connection; it resumes where it stopped, on
  // condition that the file is still the same.
  const size_t got = 333333;
  auto first = get(loc, "Range: bytes=0-" + std::to_string(got - 1) + "\r\n");
  ASSERT_TRUE(first);
  ASSERT_EQ(first->status, 206);
  std::string etag = first->header("etag");
  auto rest = get(loc, "Range: bytes=" + std::to_string(got) + "-\r\nIf-Range: " + etag + "\r\n");
  ASSERT_TRUE(rest);
  ASSERT_EQ(rest->status, 206);
  EXPECT_EQ(rest->header("etag"), etag);
  EXPECT_EQ(sha256_hex(first->body + rest->body), sha256_hex(content_));
}

TEST_F(TusDownload, CurlContinueAtResumesByteExact) {
  if (std::system("curl --version >/dev/null 2>&1") != 0) GTEST_SKIP() << "curl not installed";
  std::string loc = upload(content_, metadata({{"filename", "big.bin"}}));
  std::string path = dir_.path() + "/partial.bin";
  write_file(path, content_.substr(0, 123457));  // what an interrupted download left
  std::string command =
      "curl -sf -C - -o '" + path + "' 'http://127.0.0.1:" + std::to_string(port_) + loc + "'";
  ASSERT_EQ(exit_code_of(std::system(command.c_str())), 0) << command;
  EXPECT_EQ(sha256_file(path), sha256_hex(content_));
  // Already complete: curl asks for the byte past the end, is told 416, and keeps the file.
  exit_code_of(std::system(command.c_str()));
  EXPECT_EQ(sha256_file(path), sha256_hex(content_));
}

TEST_F(TusDownload, HeadWithoutTusResumableAnswersLikeAFile) {
  std::string loc =
      upload(content_, metadata({{"filename", "photo.jpg"}, {"filetype", "image/jpeg"}}));
  auto g = get(loc);
  ASSERT_TRUE(g);
  Connection c(port_);
  c.send_all("HEAD " + loc +
             " HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n");
  auto h = c.read_response(true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("content-length"), std::to_string(content_.size()));
  EXPECT_TRUE(h->body.empty());
  for (const char* field :
       {"content-type", "content-disposition", "etag", "last-modified", "accept-ranges",
        "x-content-type-options", "cache-control", "repr-digest"}) {
    EXPECT_EQ(h->header(field), g->header(field)) << field;
  }
  EXPECT_EQ(h->header("content-type"), "image/jpeg");
  EXPECT_TRUE(h->header("upload-offset").empty());
  auto next = c.read_response();  // no body came with the HEAD answer
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "ok\n");
  // A ranged HEAD: the 206 a GET would get, without its bytes.
  auto r = head(loc, "Range: bytes=10-19\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->header("content-length"), "10");
  EXPECT_EQ(r->header("content-range"), "bytes 10-19/" + std::to_string(content_.size()));
  // And without metadata (no record read on the way).
  std::string plain = upload("abc");
  r = head(plain);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "3");
  EXPECT_EQ(r->header("content-type"), "application/octet-stream");
  EXPECT_EQ(r->header("content-disposition"), "attachment");
}

TEST_F(TusDownload, HeadWithTusResumableStaysTus) {
  std::string loc = upload(content_, metadata({{"filename", "x.txt"}}));
  auto h = head(loc, "Tus-Resumable: 1.0.0\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), std::to_string(content_.size()));
  EXPECT_EQ(h->header("upload-length"), std::to_string(content_.size()));
  EXPECT_EQ(h->header("upload-metadata"), "filename " + base64("x.txt"));
  EXPECT_EQ(h->header("cache-control"), "no-store");
  EXPECT_TRUE(h->header("etag").empty());
  EXPECT_TRUE(h->header("content-disposition").empty());
  // Also with a Range: tus's HEAD knows no ranges.
  h = head(loc, "Tus-Resumable: 1.0.0\r\nRange: bytes=0-0\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), std::to_string(content_.size()));
  // A Tus-Resumable of another version is still refused, as before.
  h = head(loc, "Tus-Resumable: 0.2.2\r\n");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 412);
}

TEST_F(TusDownload, IncompleteUploadIsRefused) {
  std::string loc = tus_create(port_, 100, metadata({{"filename", "x.txt"}}));
  ASSERT_EQ(status_of(tus_patch(port_, loc, 0, "0123456789")), 204);
  auto r = get(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  r = get(loc, "Range: bytes=0-4\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << "not even the bytes that are there";
  r = head(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
  EXPECT_TRUE(r->header("etag").empty());
  r = head(loc, "Tus-Resumable: 1.0.0\r\n");  // the tus HEAD still tells the offset
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("upload-offset"), "10");
  // A deferred length is incomplete too.
  auto created = request(port_,
                         "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                         "Upload-Defer-Length: 1\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(created);
  ASSERT_EQ(created->status, 201);
  r = get(created->header("location"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409);
}

TEST_F(TusDownload, UppyStyleAndNonAsciiMetadata) {
  std::string loc = upload(
      "abc", metadata({{"name", "photo.jpg"}, {"type", "image/jpeg"}, {"relativePath", "null"}}));
  auto r = get(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-type"), "image/jpeg");
  EXPECT_EQ(r->header("content-disposition"), "attachment; filename=\"photo.jpg\"");
  loc = upload("abc", metadata({{"filename", "r\xc3\xa9sum\xc3\xa9 2024.pdf"}}));
  r = get(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-type"), "application/octet-stream");
  EXPECT_EQ(r->header("content-disposition"),
            "attachment; filename=\"r_sum_ 2024.pdf\"; "
            "filename*=UTF-8''r%C3%A9sum%C3%A9%202024.pdf");
}

TEST_F(TusDownload, HostileMetadataIsSanitized) {
  struct Case {
    std::string filename, filetype, disposition, type;
  };
  const std::string long_name = std::string(5000, 'n') + ".txt";
  for (const Case& c : {
           Case{"a\r\nSet-Cookie: x=y.html", "text/html\r\nSet-Cookie: x=y",
                "attachment; filename=\"a__Set-Cookie: x=y.html\"", "application/octet-stream"},
           Case{"\"; filename=\"evil.exe", "text/plain; charset=\"x\r\n\"",
                "attachment; filename=\"_; filename=_evil.exe\"; "
                "filename*=UTF-8''%22%3B%20filename%3D%22evil.exe",
                "text/plain"},
           Case{"..\\..\\boot.ini", "*/*", "attachment; filename=\".._.._boot.ini\"",
                "application/octet-stream"},
           Case{"caf\xe9\xff.txt", "Image/PNG", "attachment; filename=\"caf__.txt\"", "image/png"},
           Case{"invoice\xe2\x80\xae"
                "fdp.exe",
                "application/x-msdownload", "attachment; filename=\"invoice_fdp.exe\"",
                "application/x-msdownload"},
           Case{std::string("a\0b", 3), "", "attachment; filename=\"a_b\"",
                "application/octet-stream"},
           Case{long_name, "text/plain",
                "attachment; filename=\"" + std::string(251, 'n') + ".txt\"", "text/plain"},
       }) {
    SCOPED_TRACE(::testing::PrintToString(c.filename.substr(0, 40)));
    std::vector<std::pair<std::string, std::string>> pairs = {{"filename", c.filename}};
    if (!c.filetype.empty()) pairs.emplace_back("filetype", c.filetype);
    std::string loc = upload("abc", metadata(pairs));
    ASSERT_FALSE(loc.empty());
    auto r = get(loc);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "abc");
    EXPECT_EQ(r->header("content-disposition"), c.disposition);
    EXPECT_EQ(r->header("content-type"), c.type);
    EXPECT_EQ(r->headers.count("set-cookie"), 0u);
    expect_clean_headers(*r);
    auto h = head(loc);
    ASSERT_TRUE(h);
    EXPECT_EQ(h->header("content-disposition"), c.disposition);
    expect_clean_headers(*h);
  }
}

TEST_F(TusDownload, EmptyUpload) {
  std::string loc = upload("", metadata({{"filename", "empty.txt"}}));
  auto r = get(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "0");
  EXPECT_TRUE(r->body.empty());
  EXPECT_FALSE(r->header("etag").empty());
  EXPECT_EQ(r->header("content-disposition"), "attachment; filename=\"empty.txt\"");
  r = get(loc, "Range: bytes=0-\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 416);
  EXPECT_EQ(r->header("content-range"), "bytes */0");
  r = get(loc, "Range: bytes=-5\r\n");  // satisfiable, but selects no byte: the empty whole
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "0");
  r = head(loc);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "0");
}

TEST_F(TusDownload, DeletedUploadIs404) {
  std::string loc = upload("abc");
  auto d = request(port_, "DELETE " + loc + " HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n\r\n");
  ASSERT_EQ(status_of(d), 204);
  EXPECT_EQ(status_of(get(loc)), 404);
  EXPECT_EQ(status_of(head(loc)), 404);
}

TEST_F(TusDownload, DownloadsAllocateNothingOnReactorThreads) {
  if (kSanitizerBuild) GTEST_SKIP() << "sanitizer build: allocations are not counted";
  ASSERT_EQ(metric(port_, "ringest_alloc_counting_enabled"), 1u);
  std::string loc =
      upload(content_,
             metadata({{"filename", "r\xc3\xa9sum\xc3\xa9.pdf"}, {"filetype", "application/pdf"}}));
  std::string etag = etag_of(loc);
  auto round = [&] {
    EXPECT_EQ(status_of(get(loc)), 200);
    EXPECT_EQ(status_of(get(loc, "Range: bytes=1000-300000\r\nIf-Range: " + etag + "\r\n")), 206);
    EXPECT_EQ(status_of(get(loc, "Range: bytes=-10\r\n")), 206);
    EXPECT_EQ(status_of(get(loc, "Range: bytes=999999999-\r\n")), 416);
    EXPECT_EQ(status_of(get(loc, "If-None-Match: " + etag + "\r\n")), 304);
    EXPECT_EQ(status_of(head(loc)), 200);
  };
  round();  // warm-up: the upload's files come into the cache
  uint64_t before = metric(port_, "ringest_reactor_heap_allocations_total");
  for (int i = 0; i < 5; ++i) round();
  uint64_t after = metric(port_, "ringest_reactor_heap_allocations_total");
  EXPECT_EQ(after - before, 0u) << "heap allocations on reactor threads while downloading";
}

}  // namespace
}  // namespace ringest::test
