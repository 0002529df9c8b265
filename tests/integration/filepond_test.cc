// FilePond 4.x's chunk protocol (FP-01..FP-09, docs/protocols.md) against the real ringestd over
// raw sockets, with exactly the requests FilePond's processFileChunked.js, createServerAPI.js and
// sendRequest.js make: creation with a multipart metadata form answered with the bare id, chunks
// that count whole or not at all (a chunk cut mid-body, or cut by kill -9, leaves the offset at
// the chunk's start), the empty last PATCH, the retried chunk whose answer was lost, revert,
// restore/load with an inline Content-Disposition, ?fetch= refused, CORS and bearer tokens.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

std::string to_hex(size_t n) {
  char text[32];
  std::snprintf(text, sizeof text, "%zx", n);
  return text;
}

constexpr char kBoundary[] = "----WebKitFormBoundaryq3Xy7Jd0aB2cLm9Z";

// A FormData body as a browser encodes FormData.append(name, value).
std::string form(const std::string& json, const std::string& name = "filepond") {
  return std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; name=\"" + name +
         "\"\r\n\r\n" + json + "\r\n--" + kBoundary + "--\r\n";
}

std::string create_request(const std::string& length_field, const std::string& body,
                           const std::string& extra = {}) {
  return "POST /filepond HTTP/1.1\r\nHost: t\r\n" + length_field +
         "Content-Type: multipart/form-data; boundary=" + kBoundary +
         "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n" + extra + "\r\n" + body;
}

std::string patch_request(const std::string& id, uint64_t offset, uint64_t length,
                          size_t body_bytes, const std::string& name = "cat.png",
                          const std::string& extra = {}) {
  return "PATCH /filepond?patch=" + id +
         " HTTP/1.1\r\nHost: t\r\nContent-Type: application/offset+octet-stream\r\n"
         "Upload-Offset: " + std::to_string(offset) + "\r\nUpload-Length: " +
         std::to_string(length) + "\r\nUpload-Name: " + name + "\r\nContent-Length: " +
         std::to_string(body_bytes) + "\r\n" + extra + "\r\n";
}

class FilePond : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  uint64_t received() { return metric(port_, "ringest_body_bytes_received_total"); }
  // Waits (bounded, 10 s) until the server has received `total` body bytes since it started.
  bool wait_received(uint64_t total) {
    for (int i = 0; i < 1000 && received() < total; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return received() >= total;
  }
  void start(std::vector<std::string> args, uint16_t port = 0) {
    args.insert(args.end(), {"--max-upload-bytes", "64M", "--checkpoint-bytes", "64K"});
    server_ = std::make_unique<Server>(dir_.path() + "/data", args, port);
    server_->start();
    port_ = server_->port();
  }
  std::optional<Response> send(const std::string& raw, bool head = false) {
    return request(port_, raw, head);
  }
  // A new upload of `length` bytes; its id.
  std::string create(uint64_t length, const std::string& json = "{}") {
    auto r = send(create_request("Upload-Length: " + std::to_string(length) + "\r\n", form(json)));
    EXPECT_EQ(status_of(r), 200);
    return r ? r->body : std::string();
  }
  std::optional<Response> patch(const std::string& id, uint64_t offset, uint64_t length,
                                const std::string& data) {
    return send(patch_request(id, offset, length, data.size()) + data);
  }
  std::optional<Response> head(const std::string& id) {
    return send("HEAD /filepond?patch=" + id + " HTTP/1.1\r\nHost: t\r\n\r\n", true);
  }
  std::optional<uint64_t> offset(const std::string& id) {
    auto r = head(id);
    if (!r || r->status != 200 || r->header("upload-offset").empty()) return std::nullopt;
    return std::stoull(r->header("upload-offset"));
  }
  std::optional<Response> get(const std::string& query) {
    return send("GET /filepond?" + query + " HTTP/1.1\r\nHost: t\r\n\r\n");
  }
  std::optional<Response> revert(const std::string& body) {
    return send("DELETE /filepond HTTP/1.1\r\nHost: t\r\nContent-Type: text/plain;charset=UTF-8"
                "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
  }
  size_t upload_records() {
    size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_.path() + "/data/uploads")) {
      if (e.path().extension() == ".rec") ++n;
    }
    return n;
  }
  // The committed offset as an owner sees it: a PATCH at an impossible offset waits for any
  // request still holding the upload (a cut chunk finishing) and answers 409 with the offset.
  uint64_t settled_offset(const std::string& id, uint64_t length) {
    auto r = send(patch_request(id, length + 1, length, 0));
    EXPECT_EQ(status_of(r), 409);
    return r ? std::stoull(r->header("upload-offset")) : ~uint64_t{0};
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
};

// FP-01: POST with Upload-Length and the metadata form -> 200, the id as the whole text body;
// the JSON's string members are the upload's metadata (tus HEAD shows them); same id space.
TEST_F(FilePond, CreationAnswersTheBareIdAndKeepsTheStringMetadata) {
  auto r = send(create_request(
      "Upload-Length: 11\r\n",
      form(R"({"filename":"cat.png","filetype":"image/png","size":11,"tags":{"a":"b"}})")));
  ASSERT_EQ(status_of(r), 200);
  EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
  ASSERT_EQ(r->body.size(), 32u) << r->body;
  for (char c : r->body) EXPECT_TRUE(std::isxdigit(static_cast<unsigned char>(c))) << r->body;
  auto tus = tus_head(port_, "/files/" + r->body);
  ASSERT_EQ(status_of(tus), 200);
  EXPECT_EQ(tus->header("upload-length"), "11");
  EXPECT_EQ(tus->header("upload-offset"), "0");
  // base64("cat.png") and base64("image/png"); the number and the object are not kept.
  EXPECT_EQ(tus->header("upload-metadata"), "filename Y2F0LnBuZw==,filetype aW1hZ2UvcG5n");
}

TEST_F(FilePond, CreationWithAnEmptyObjectAChunkedFormOrNoFormAtAll) {
  EXPECT_EQ(create(5).size(), 32u);  // FilePond's default metadata: {}
  std::string body = form(R"({"name":"x.txt"})");
  auto chunked = send("POST /filepond HTTP/1.1\r\nHost: t\r\nUpload-Length: 5\r\n"
                      "Content-Type: multipart/form-data; boundary=" + std::string(kBoundary) +
                      "\r\nTransfer-Encoding: chunked\r\n\r\n" + to_hex(body.size()) + "\r\n" +
                      body + "\r\n0\r\n\r\n");
  ASSERT_EQ(status_of(chunked), 200);
  EXPECT_EQ(tus_head(port_, "/files/" + chunked->body)->header("upload-metadata"),
            "name eC50eHQ=");
  auto bare = send("POST /filepond HTTP/1.1\r\nHost: t\r\nUpload-Length: 5\r\n\r\n");
  ASSERT_EQ(status_of(bare), 200);
  EXPECT_EQ(bare->body.size(), 32u);
}

TEST_F(FilePond, CreationRefusalsCreateNothing) {
  std::string ok = form("{}");
  struct Case {
    std::string raw;
    int status;
  } cases[] = {
      {create_request("", ok), 400},                                    // no Upload-Length
      {create_request("Upload-Length: -1\r\n", ok), 400},
      {create_request("Upload-Length: 12abc\r\n", ok), 400},
      {create_request("Upload-Length: 67108865\r\n", ok), 413},         // over 64M
      {create_request("Upload-Length: 5\r\n", std::string(70000, 'x')), 413},
      {create_request("Upload-Length: 5\r\n", form("not json")), 400},
      {create_request("Upload-Length: 5\r\n", form("[1,2]")), 400},
      {create_request("Upload-Length: 5\r\n", "garbage"), 400},
      {create_request("Upload-Length: 5\r\n", form("{}").substr(0, 40)), 400},
      {create_request("Upload-Length: 5\r\n",
                      std::string("--") + kBoundary + "\r\nContent-Disposition: form-data; "
                      "name=\"filepond\"; filename=\"a.bin\"\r\n\r\nabc\r\n--" + kBoundary +
                      "--\r\n"), 400},                                   // the file itself
      {create_request("Upload-Length: 5\r\n",
                      form("{}").substr(0, form("{}").size() - 4) + "\r\nContent-Disposition: "
                      "form-data; name=\"x\"\r\n\r\n{}\r\n--" + kBoundary + "--\r\n"), 400},
      {"POST /filepond HTTP/1.1\r\nHost: t\r\nUpload-Length: 5\r\nContent-Type: "
       "application/json\r\nContent-Length: 2\r\n\r\n{}", 415},
      {"POST /filepond HTTP/1.1\r\nHost: t\r\nUpload-Length: 5\r\nContent-Type: "
       "multipart/form-data\r\nContent-Length: 2\r\n\r\n{}", 400},     // no boundary
      {"POST /filepond?patch=x HTTP/1.1\r\nHost: t\r\nUpload-Length: 5\r\n\r\n", 400},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(status_of(send(c.raw)), c.status) << c.raw.substr(0, 300);
  }
  EXPECT_EQ(upload_records(), 0u);
}

// FP-02, FP-04, FP-05, FP-08: chunks in order, each 204 once durable; HEAD says where the next
// one starts; complete from the length alone; restore and load give the bytes inline.
TEST_F(FilePond, ChunksInOrderThenRestoreAndLoad) {
  std::string data = random_bytes(2500, 1);
  std::string id = create(data.size(), R"({"filename":"cat.png","filetype":"image/png"})");
  for (uint64_t at = 0; at < data.size(); at += 1000) {
    EXPECT_EQ(offset(id), at);
    auto r = patch(id, at, data.size(), data.substr(at, 1000));
    ASSERT_EQ(status_of(r), 204);
    EXPECT_EQ(r->header("upload-offset"), std::to_string(std::min<uint64_t>(at + 1000, 2500)));
  }
  auto h = head(id);
  ASSERT_EQ(status_of(h), 200);
  EXPECT_EQ(h->header("upload-offset"), "2500");
  EXPECT_EQ(h->header("cache-control"), "no-store");
  for (const char* query : {"restore=", "load="}) {
    auto r = get(query + id);
    ASSERT_EQ(status_of(r), 200) << query;
    EXPECT_TRUE(r->body == data) << query;
    EXPECT_EQ(r->header("content-disposition"), "inline; filename=\"cat.png\"");
    EXPECT_EQ(r->header("content-type"), "image/png");
  }
  auto ranged = send("GET /filepond?load=" + id + " HTTP/1.1\r\nHost: t\r\nRange: bytes=10-19"
                     "\r\n\r\n");
  ASSERT_EQ(status_of(ranged), 206);
  EXPECT_EQ(ranged->body, data.substr(10, 10));
  auto tus = send("GET /files/" + id + " HTTP/1.1\r\nHost: t\r\n\r\n");  // the same upload
  ASSERT_EQ(status_of(tus), 200);
  EXPECT_TRUE(tus->body == data);
}

// FP-08: without a name in the metadata the id is offered; a hostile name is sanitized.
TEST_F(FilePond, LoadNamesTheFileSafely) {
  std::string plain = create(3);
  ASSERT_EQ(status_of(patch(plain, 0, 3, "abc")), 204);
  EXPECT_EQ(get("load=" + plain)->header("content-disposition"),
            "inline; filename=\"" + plain + "\"");
  std::string hostile = create(3, R"({"filename":"..\/evil\".sh\r\nX: y"})");
  ASSERT_EQ(status_of(patch(hostile, 0, 3, "abc")), 204);
  std::string disposition = get("restore=" + hostile)->header("content-disposition");
  EXPECT_EQ(disposition.rfind("inline; filename=\"", 0), 0u) << disposition;
  EXPECT_EQ(disposition.find('\r'), std::string::npos);
  EXPECT_EQ(disposition.find('/'), std::string::npos) << disposition;
}

// FP-03: a size that is a multiple of the chunk size ends with an empty PATCH at the length.
TEST_F(FilePond, AMultipleOfTheChunkSizeEndsWithAnEmptyPatch) {
  std::string data = random_bytes(2000, 2);
  std::string id = create(data.size());
  ASSERT_EQ(status_of(patch(id, 0, 2000, data.substr(0, 1000))), 204);
  ASSERT_EQ(status_of(patch(id, 1000, 2000, data.substr(1000))), 204);
  auto last = patch(id, 2000, 2000, "");
  ASSERT_EQ(status_of(last), 204);
  EXPECT_EQ(last->header("upload-offset"), "2000");
  EXPECT_EQ(status_of(patch(id, 2000, 2000, "")), 204);  // and again, when retried
  EXPECT_TRUE(get("load=" + id)->body == data);
}

// FP-05: a chunk cut mid-body commits nothing (checkpoints are 64K; the chunk is 1 MiB), so the
// offset stays at its start, where FilePond resends it from.
TEST_F(FilePond, AChunkCutMidBodyCommitsNothing) {
  std::string data = random_bytes(3 << 20, 3);
  std::string id = create(data.size());
  ASSERT_EQ(status_of(patch(id, 0, data.size(), data.substr(0, 1 << 20))), 204);
  {
    Connection c(port_);
    uint64_t before = received();
    ASSERT_TRUE(c.send_all(patch_request(id, 1 << 20, data.size(), 1 << 20) +
                           data.substr(1 << 20, 600 << 10)));
    // The server has the part (past several 64K checkpoints) before the cut: the count decides.
    ASSERT_TRUE(wait_received(before + (600 << 10)));
    c.close_now();
  }
  EXPECT_EQ(settled_offset(id, data.size()), 1u << 20);
  EXPECT_EQ(offset(id), 1u << 20);
  ASSERT_EQ(status_of(patch(id, 1 << 20, data.size(), data.substr(1 << 20, 1 << 20))), 204);
  ASSERT_EQ(status_of(patch(id, 2 << 20, data.size(), data.substr(2 << 20))), 204);
  EXPECT_EQ(sha256_hex(get("load=" + id)->body), sha256_hex(data));
}

// FP-05 across a crash: kill -9 mid-chunk, restart: HEAD reports the last whole chunk.
TEST_F(FilePond, KillNineMidChunkLeavesTheLastWholeChunk) {
  std::string data = random_bytes(3 << 20, 4);
  std::string id = create(data.size());
  ASSERT_EQ(status_of(patch(id, 0, data.size(), data.substr(0, 1 << 20))), 204);
  Connection c(port_);
  uint64_t before = received();
  ASSERT_TRUE(c.send_all(patch_request(id, 1 << 20, data.size(), 1 << 20) +
                         data.substr(1 << 20, 900 << 10)));
  ASSERT_TRUE(wait_received(before + (900 << 10)));  // the server has the part before the kill
  uint16_t port = port_;
  server_->kill9();
  c.close_now();
  start({}, port);
  EXPECT_EQ(offset(id), 1u << 20);
  ASSERT_EQ(status_of(patch(id, 1 << 20, data.size(), data.substr(1 << 20, 1 << 20))), 204);
  ASSERT_EQ(status_of(patch(id, 2 << 20, data.size(), data.substr(2 << 20))), 204);
  EXPECT_EQ(sha256_hex(get("load=" + id)->body), sha256_hex(data));
}

// A chunk whose 204 was lost (server killed after the commit) is sent again: exactly the chunk
// that ends at the committed offset is acknowledged (the connection then closes), nothing moves.
TEST_F(FilePond, ARetriedChunkWhoseAnswerWasLostIsAcknowledged) {
  std::string data = random_bytes(3000, 5);
  std::string id = create(data.size());
  ASSERT_EQ(status_of(patch(id, 0, 3000, data.substr(0, 1000))), 204);
  ASSERT_EQ(status_of(patch(id, 1000, 3000, data.substr(1000, 1000))), 204);
  Connection c(port_);
  ASSERT_TRUE(c.send_all(patch_request(id, 1000, 3000, 1000) + std::string(1000, 'z')));
  auto again = c.read_response();
  ASSERT_EQ(status_of(again), 204);
  EXPECT_EQ(again->header("upload-offset"), "2000");
  EXPECT_TRUE(c.closed_by_peer(10000));
  // Not the chunk that ends there: refused with where the upload stands.
  auto older = patch(id, 0, 3000, data.substr(0, 1000));
  ASSERT_EQ(status_of(older), 409);
  EXPECT_EQ(older->header("upload-offset"), "2000");
  ASSERT_EQ(status_of(patch(id, 2000, 3000, data.substr(2000))), 204);
  EXPECT_TRUE(get("load=" + id)->body == data);  // the retried 'z's were never written
}

TEST_F(FilePond, PatchRefusalsChangeNothing) {
  std::string id = create(100);
  ASSERT_EQ(status_of(patch(id, 0, 100, std::string(10, 'a'))), 204);
  std::string body(10, 'b');
  auto raw = [&](const std::string& target, const std::string& fields) {
    return "PATCH " + target + " HTTP/1.1\r\nHost: t\r\n" + fields +
           "Content-Length: 10\r\n\r\n" + body;
  };
  std::string good = "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 10\r\n"
                     "Upload-Length: 100\r\nUpload-Name: a.bin\r\n";
  struct Case {
    std::string raw;
    int status;
  } cases[] = {
      {patch_request(id, 10, 99, 10) + body, 400},      // another length
      {patch_request(id, 10, 100, 10, "") + body, 400},  // empty Upload-Name
      {patch_request(id, 5, 100, 10) + body, 409},       // not where it stands
      {patch_request(id, 95, 100, 10) + body, 409},
      {patch_request(id, 10, 100, 100) + std::string(100, 'c'), 413},  // past the length
      {raw("/filepond?patch=" + id, "Upload-Offset: 10\r\nUpload-Length: 100\r\n"
                                    "Upload-Name: a\r\n"), 415},
      {raw("/filepond?patch=" + id, "Content-Type: application/offset+octet-stream\r\n"
                                    "Upload-Length: 100\r\nUpload-Name: a\r\n"), 400},
      {raw("/filepond?patch=" + id, "Content-Type: application/offset+octet-stream\r\n"
                                    "Upload-Offset: 10\r\nUpload-Name: a\r\n"), 400},
      {raw("/filepond?patch=" + id, "Content-Type: application/offset+octet-stream\r\n"
                                    "Upload-Offset: 10\r\nUpload-Length: 100\r\n"), 400},
      {raw("/filepond?patch=" + std::string(32, '0'), good), 404},
      {raw("/filepond?patch=../x", good), 400},
      {raw("/filepond?patch=", good), 400},
      {raw("/filepond?patch=" + id + "&patch=" + id, good), 400},
      {raw("/filepond?restore=" + id, good), 400},
      {raw("/filepond", good), 400},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(status_of(send(c.raw)), c.status) << c.raw.substr(0, 300);
  }
  EXPECT_EQ(offset(id), 10u);
  ASSERT_EQ(status_of(patch(id, 10, 100, std::string(90, 'd'))), 204);
  EXPECT_EQ(get("load=" + id)->body, std::string(10, 'a') + std::string(90, 'd'));
}

// FP-02: Upload-Name carries the name's UTF-8 bytes as they are (sendRequest.js).
TEST_F(FilePond, UploadNameInUtf8Bytes) {
  std::string id = create(3);
  auto r = send(patch_request(id, 0, 3, 3, "\xc3\xa9t\xc3\xa9 \xe2\x9c\x93.txt") + "abc");
  EXPECT_EQ(status_of(r), 204);
}

// FP-07: revert removes the upload (through the core, as tus DELETE does).
TEST_F(FilePond, RevertRemovesTheUpload) {
  std::string id = create(10);
  ASSERT_EQ(status_of(patch(id, 0, 10, "0123")), 204);
  auto r = revert(id);
  ASSERT_EQ(status_of(r), 204);
  EXPECT_TRUE(r->body.empty());
  EXPECT_EQ(status_of(head(id)), 404);
  EXPECT_EQ(status_of(tus_head(port_, "/files/" + id)), 404);
  EXPECT_EQ(upload_records(), 0u);
  EXPECT_EQ(status_of(revert(id)), 404);
  EXPECT_EQ(status_of(revert("")), 400);
  EXPECT_EQ(status_of(revert("../../etc/passwd")), 400);
  EXPECT_EQ(status_of(revert(std::string(300, 'a'))), 413);
  std::string other = create(1);
  EXPECT_EQ(status_of(revert(other + "\n")), 204);  // a trailing newline is forgiven
  EXPECT_EQ(status_of(send("DELETE /filepond?patch=" + other + " HTTP/1.1\r\nHost: t\r\n\r\n")),
            400);
}

TEST_F(FilePond, RestoreOfUnfinishedOrUnknownUploads) {
  std::string id = create(10);
  ASSERT_EQ(status_of(patch(id, 0, 10, "01234")), 204);
  EXPECT_EQ(status_of(get("restore=" + id)), 409);
  EXPECT_EQ(status_of(get("load=" + id)), 409);
  EXPECT_EQ(status_of(get("load=" + std::string(32, 'f'))), 404);
  EXPECT_EQ(status_of(get("load=xyz")), 400);
  EXPECT_EQ(status_of(get("load=" + id + "&x=1")), 400);
  EXPECT_EQ(status_of(get("unknown=" + id)), 400);
  EXPECT_EQ(status_of(send("GET /filepond HTTP/1.1\r\nHost: t\r\n\r\n")), 400);
}

// FP-08: ?fetch= is never served, whatever it names.
TEST_F(FilePond, FetchIsRefused) {
  std::string url = "http://127.0.0.1:" + std::to_string(port_) + "/metrics";
  auto r = get("fetch=" + url);
  ASSERT_EQ(status_of(r), 403);
  EXPECT_NE(r->body.find("never fetches"), std::string::npos) << r->body;
  EXPECT_EQ(status_of(send("HEAD /filepond?fetch=" + url + " HTTP/1.1\r\nHost: t\r\n\r\n", true)),
            403);
  EXPECT_EQ(status_of(get("fetch=")), 403);
}

TEST_F(FilePond, OtherMethodsAndPaths) {
  auto put = send("PUT /filepond HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
  ASSERT_EQ(status_of(put), 405);
  EXPECT_EQ(put->header("allow"), "OPTIONS, POST, HEAD, GET, PATCH, DELETE");
  EXPECT_EQ(status_of(send("GET /filepond/x?load=y HTTP/1.1\r\nHost: t\r\n\r\n")), 404);
  EXPECT_EQ(status_of(send("POST /filepond/ HTTP/1.1\r\nHost: t\r\nUpload-Length: 1\r\n\r\n")),
            200);  // server.url may end in '/'
}

// FP-09: a cross-origin page can send FilePond's headers and read Upload-Offset.
TEST_F(FilePond, CrossOriginPreflightAndExposedOffset) {
  start({"--cors-origin", "https://app.example"});
  auto pre = send("OPTIONS /filepond?patch=" + std::string(32, 'a') +
                  " HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example\r\n"
                  "Access-Control-Request-Method: PATCH\r\nAccess-Control-Request-Headers: "
                  "content-type,upload-length,upload-name,upload-offset\r\n\r\n");
  ASSERT_EQ(status_of(pre), 204);
  EXPECT_EQ(pre->header("access-control-allow-origin"), "https://app.example");
  std::string methods = pre->header("access-control-allow-methods");
  for (const char* m : {"PATCH", "HEAD", "DELETE", "POST", "GET"}) {
    EXPECT_NE(methods.find(m), std::string::npos) << m << " in " << methods;
  }
  std::string allowed = pre->header("access-control-allow-headers");
  for (const char* h : {"Upload-Length", "Upload-Offset", "Upload-Name", "Content-Type"}) {
    EXPECT_NE(allowed.find(h), std::string::npos) << h << " in " << allowed;
  }
  std::string id = create(1);
  auto h = send("HEAD /filepond?patch=" + id + " HTTP/1.1\r\nHost: t\r\nOrigin: "
                "https://app.example\r\n\r\n", true);
  ASSERT_EQ(status_of(h), 200);
  EXPECT_NE(h->header("access-control-expose-headers").find("Upload-Offset"), std::string::npos);
}

// The route needs the same credentials as /files/.
TEST_F(FilePond, BearerTokensGuardTheRoute) {
  write_file(dir_.path() + "/tokens", "s3cret-token-for-filepond\n");
  start({"--auth-token-file", dir_.path() + "/tokens"});
  std::string body = form("{}");
  EXPECT_EQ(status_of(send(create_request("Upload-Length: 1\r\n", body))), 401);
  auto ok = send(create_request("Upload-Length: 1\r\n", body,
                                "Authorization: Bearer s3cret-token-for-filepond\r\n"));
  ASSERT_EQ(status_of(ok), 200);
  EXPECT_EQ(status_of(head(ok->body)), 401);
  EXPECT_EQ(status_of(revert(ok->body)), 401);
  EXPECT_EQ(upload_records(), 1u);
}

// The small-body seam (RequestContext::read_small_body) the form and the revert go through: a
// body that trickles in, a request pipelined behind one, and a body too slow for --head-timeout.
TEST_F(FilePond, SmallBodiesTrickleInAndPipelinedRequestsFollow) {
  std::string body = form(R"({"filename":"slow.txt"})");
  std::string raw = create_request("Upload-Length: 4\r\n", body);
  Connection c(port_);
  size_t half = raw.size() - body.size() / 2;
  ASSERT_TRUE(c.send_all(raw.substr(0, half)));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(c.send_all(raw.substr(half)));
  auto created = c.read_response();
  ASSERT_EQ(status_of(created), 200);
  std::string id = created->body;
  // Revert and a HEAD in one write: the second request waits behind the first's body.
  ASSERT_TRUE(c.send_all("DELETE /filepond HTTP/1.1\r\nHost: t\r\nContent-Length: 32\r\n\r\n" +
                         id + "HEAD /filepond?patch=" + id + " HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_EQ(status_of(c.read_response()), 204);
  EXPECT_EQ(status_of(c.read_response(true)), 404);
}

TEST_F(FilePond, ASmallBodyTooSlowForTheHeadTimeoutGets408) {
  start({"--head-timeout", "1s"});
  std::string raw = create_request("Upload-Length: 4\r\n", form("{}"));
  Connection c(port_);
  ASSERT_TRUE(c.send_all(raw.substr(0, raw.size() - 10)));  // and then nothing
  auto r = c.read_response();
  ASSERT_EQ(status_of(r), 408);
  EXPECT_TRUE(c.closed_by_peer(10000));
  EXPECT_EQ(upload_records(), 0u);
}

}  // namespace
}  // namespace ringest::test
