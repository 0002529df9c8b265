// Proves that the real ringestd speaks IETF Resumable Uploads for HTTP (interop versions 8 and
// 6) at /files/ over real sockets, beside tus on the same route: creation (with and without
// content, Content-Length and chunked), the 104 interim response (only for a matching interop
// version, with 100 Continue still sent), offset retrieval, append, completion, problem-details
// errors, Upload-Limit and max-append-size, cancellation, takeover, and that an interrupted
// creation keeps its bytes and stays resumable. Every case checks what is stored (HEAD, and the
// bytes via GET).
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/test_support.h"

namespace ringest::test {
namespace {

constexpr char kMismatch[] =
    "https://iana.org/assignments/http-problem-types#mismatching-upload-offset";
constexpr char kCompleted[] = "https://iana.org/assignments/http-problem-types#completed-upload";
constexpr char kInconsistent[] =
    "https://iana.org/assignments/http-problem-types#inconsistent-upload-length";
constexpr char kLimit[] = "max-size=1048576";

// A request head: `fields` are whole lines ("Name: value\r\n").
std::string head_of(const std::string& method, const std::string& target,
                    const std::string& fields) {
  return method + " " + target + " HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n";
}
std::string version(int v) { return "Upload-Draft-Interop-Version: " + std::to_string(v) + "\r\n"; }
std::string length_field(size_t n) { return "Content-Length: " + std::to_string(n) + "\r\n"; }

// The responses to one request: every interim one, then the final one.
struct Exchange {
  std::vector<Response> interim;
  std::optional<Response> final_response;
  const Response* first_104() const {
    for (const Response& r : interim) {
      if (r.status == 104) return &r;
    }
    return nullptr;
  }
};

Exchange read_exchange(Connection& c, bool head_request = false) {
  Exchange e;
  for (int i = 0; i < 4; ++i) {
    std::optional<Response> r = c.read_response(head_request);
    if (!r) return e;
    if (r->status >= 200) {
      e.final_response = std::move(r);
      return e;
    }
    e.interim.push_back(std::move(*r));
  }
  return e;
}

class IetfUpload : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }
  void start(std::vector<std::string> extra) {
    std::vector<std::string> args{"--max-upload-bytes", "1M"};
    args.insert(args.end(), extra.begin(), extra.end());
    server_.reset();
    server_ = std::make_unique<Server>(dir_.path() + "/data" + std::to_string(++starts_), args);
    server_->start();
    port_ = server_->port();
  }
  Exchange send(const std::string& raw, bool head_request = false) {
    Connection c(port_);
    c.send_all(raw);
    return read_exchange(c, head_request);
  }
  // A creation without content (`Upload-Complete: ?0`); returns the Location.
  std::string create(int v, uint64_t length) {
    Exchange e = send(head_of(
        "POST", "/files/",
        version(v) + "Upload-Complete: ?0\r\nUpload-Length: " + std::to_string(length) + "\r\n"));
    return e.final_response ? e.final_response->header("location") : "";
  }
  Exchange append(const std::string& loc, int v, uint64_t offset, bool complete,
                  const std::string& body) {
    return send(head_of("PATCH", loc,
                        version(v) +
                            "Content-Type: application/partial-upload\r\n"
                            "Upload-Offset: " +
                            std::to_string(offset) + "\r\nUpload-Complete: " +
                            (complete ? "?1" : "?0") + "\r\n" + length_field(body.size())) +
                body);
  }
  std::optional<Response> head(const std::string& loc, int v = 8) {
    Exchange e = send(head_of("HEAD", loc, version(v)), true);
    return e.final_response;
  }
  std::string stored(const std::string& loc) {
    auto r = request(port_, "GET " + loc + " HTTP/1.1\r\nHost: t\r\n\r\n");
    return r && r->status == 200 ? r->body : "<" + std::to_string(status_of(r)) + ">";
  }

  TempDir dir_;
  std::unique_ptr<Server> server_;
  uint16_t port_ = 0;
  int starts_ = 0;
};

// RUFH-CRE-02/03/04, RUFH-VER-02, RUFH-OFF-01, RUFH-APP-01/04/05, RUFH-LIM-01.
TEST_F(IetfUpload, CreateThenAppendInPartsToCompletion) {
  Exchange e =
      send(head_of("POST", "/files/", version(8) + "Upload-Complete: ?0\r\nUpload-Length: 10\r\n"));
  ASSERT_TRUE(e.final_response);
  const Response* interim = e.first_104();
  ASSERT_NE(interim, nullptr) << "104 Upload Resumption Supported expected";
  EXPECT_EQ(interim->header("upload-draft-interop-version"), "8");
  EXPECT_EQ(interim->header("upload-limit"), kLimit);
  const Response& created = *e.final_response;
  EXPECT_EQ(created.status, 201);
  std::string loc = created.header("location");
  ASSERT_EQ(loc.rfind("/files/", 0), 0u) << loc;
  EXPECT_EQ(interim->header("location"), loc) << "the same Location in 104 and 201";
  EXPECT_EQ(created.header("upload-complete"), "?0");
  EXPECT_EQ(created.header("upload-offset"), "0");
  EXPECT_EQ(created.header("upload-limit"), kLimit);
  EXPECT_TRUE(created.header("tus-resumable").empty()) << "an IETF answer, not tus";

  auto h = head(loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("upload-offset"), "0");
  EXPECT_EQ(h->header("upload-complete"), "?0");
  EXPECT_EQ(h->header("upload-length"), "10");
  EXPECT_EQ(h->header("upload-limit"), kLimit);
  EXPECT_EQ(h->header("cache-control"), "no-store");

  Exchange a = append(loc, 8, 0, false, "01234");
  ASSERT_TRUE(a.final_response);
  EXPECT_EQ(a.final_response->status, 204);
  EXPECT_EQ(a.final_response->header("upload-complete"), "?0");
  EXPECT_EQ(a.final_response->header("upload-offset"), "5");
  EXPECT_TRUE(a.interim.empty()) << "an append gets no 104 with a Location";
  a = append(loc, 8, 5, true, "56789");
  ASSERT_TRUE(a.final_response);
  EXPECT_EQ(a.final_response->status, 204);
  EXPECT_EQ(a.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(a.final_response->header("upload-offset"), "10");
  h = head(loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("upload-complete"), "?1");
  EXPECT_EQ(h->header("upload-offset"), "10");
  EXPECT_EQ(stored(loc), "0123456789");
}

// RUFH-VER-01: no 104 without a version, with one we do not speak, or with garbage; the upload
// works all the same. Interop version 6 gets its own number back.
TEST_F(IetfUpload, The104GoesOnlyToAMatchingInteropVersion) {
  for (const std::string& fields :
       {std::string(), std::string("Upload-Draft-Interop-Version: 7\r\n"),
        std::string("Upload-Draft-Interop-Version: abc\r\n"),
        std::string("Upload-Draft-Interop-Version: 8, 8\r\n")}) {
    Exchange e = send(
        head_of("POST", "/files/", fields + "Upload-Complete: ?1\r\n" + length_field(3)) + "abc");
    ASSERT_TRUE(e.final_response) << fields;
    EXPECT_TRUE(e.interim.empty()) << fields;
    EXPECT_EQ(e.final_response->status, 201) << fields;
    EXPECT_TRUE(e.final_response->header("upload-draft-interop-version").empty()) << fields;
    EXPECT_EQ(stored(e.final_response->header("location")), "abc") << fields;
  }
  Exchange e = send(
      head_of("POST", "/files/", version(6) + "Upload-Complete: ?1\r\n" + length_field(3)) + "abc");
  ASSERT_TRUE(e.final_response);
  ASSERT_NE(e.first_104(), nullptr);
  EXPECT_EQ(e.first_104()->header("upload-draft-interop-version"), "6");
  EXPECT_EQ(e.final_response->header("upload-draft-interop-version"), "6");
}

// Creation is any request with content and Upload-Complete: PUT to the collection creates as
// POST does (a 104 with the Location, then 201); PUT to an upload URL stays 405.
TEST_F(IetfUpload, PutCreatesLikePost) {
  Exchange e = send(
      head_of("PUT", "/files/", version(8) + "Upload-Complete: ?1\r\n" + length_field(5)) +
      "hello");
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->status, 201);
  ASSERT_NE(e.first_104(), nullptr);
  std::string loc = e.final_response->header("location");
  EXPECT_EQ(e.first_104()->header("location"), loc);
  EXPECT_EQ(e.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(stored(loc), "hello");

  Exchange partial = send(
      head_of("PUT", "/files/", version(8) + "Upload-Complete: ?0\r\n" + length_field(2)) + "ab");
  ASSERT_TRUE(partial.final_response);
  EXPECT_EQ(partial.final_response->status, 201);
  EXPECT_EQ(partial.final_response->header("upload-offset"), "2");
  EXPECT_EQ(partial.final_response->header("upload-complete"), "?0");

  Exchange on_upload = send(head_of("PUT", loc, version(8) + "Upload-Complete: ?1\r\n" +
                                                    length_field(1)) +
                            "x");
  ASSERT_TRUE(on_upload.final_response);
  EXPECT_EQ(on_upload.final_response->status, 405);
  EXPECT_EQ(stored(loc), "hello");
}

// A client that does not understand 1xx never sees one unless it names a version: the first
// bytes on the wire are the final response, and nothing else follows it.
TEST_F(IetfUpload, AClientNamingNoVersionGetsOnlyTheFinalResponse) {
  Connection c(port_);
  c.send_all(
      head_of("POST", "/files/", "Upload-Complete: ?1\r\nConnection: close\r\n" + length_field(4)) +
      "wxyz");
  std::string wire;
  char buf[4096];
  for (;;) {
    pollfd p{c.fd(), POLLIN, 0};
    if (poll(&p, 1, 10000) <= 0) break;
    ssize_t n = recv(c.fd(), buf, sizeof buf, 0);
    if (n <= 0) break;
    wire.append(buf, static_cast<size_t>(n));
  }
  EXPECT_EQ(wire.rfind("HTTP/1.1 201 Created\r\n", 0), 0u) << wire;
  EXPECT_EQ(wire.find("HTTP/1.1 1"), std::string::npos) << wire;
  EXPECT_EQ(wire.find("HTTP/1.1", 1), std::string::npos) << wire;
}

// RUFH-100-01: Expect: 100-continue gets its 100 Continue as well as the 104.
TEST_F(IetfUpload, ExpectContinueGetsBoth104And100) {
  Connection c(port_);
  c.send_all(head_of(
      "POST", "/files/",
      version(8) + "Upload-Complete: ?1\r\n" + "Expect: 100-continue\r\n" + length_field(5)));
  std::vector<int> statuses;
  for (int i = 0; i < 2; ++i) {
    auto r = c.read_response();
    ASSERT_TRUE(r);
    statuses.push_back(r->status);
  }
  std::sort(statuses.begin(), statuses.end());
  EXPECT_EQ(statuses, (std::vector<int>{100, 104}));
  c.send_all("hello");
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->header("upload-complete"), "?1");
  EXPECT_EQ(r->header("upload-length"), "5");
  EXPECT_EQ(stored(r->header("location")), "hello");
}

// The creation's Content-Type and Content-Disposition filename name the download, as tus
// metadata does.
TEST_F(IetfUpload, TheCreationsContentTypeAndFilenameNameTheDownload) {
  Exchange e = send(head_of("POST", "/files/",
                            version(8) +
                                "Upload-Complete: ?1\r\nContent-Type: text/plain\r\n"
                                "Content-Disposition: inline; filename=\"a; b.txt\"\r\n" +
                                length_field(2)) +
                    "hi");
  ASSERT_TRUE(e.final_response);
  auto r = request(port_,
                   "GET " + e.final_response->header("location") + " HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hi");
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_NE(r->header("content-disposition").find("filename=\"a; b.txt\""), std::string::npos)
      << r->header("content-disposition");
}

// RUFH-CRE-05/08: the length from Content-Length with ?1; an empty ?1 creation is an empty
// upload, complete; conflicting indications are refused with the problem type.
TEST_F(IetfUpload, LengthComesFromContentLengthWithCompleteAndConflictsAreRefused) {
  Exchange e =
      send(head_of("POST", "/files/", version(8) + "Upload-Complete: ?1\r\n" + length_field(11)) +
           "hello world");
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->header("upload-length"), "11");
  EXPECT_EQ(e.final_response->header("upload-complete"), "?1");
  e = send(head_of("POST", "/files/", version(8) + "Upload-Complete: ?1\r\n"));
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->status, 201);
  EXPECT_EQ(e.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(e.final_response->header("upload-offset"), "0");
  EXPECT_EQ(stored(e.final_response->header("location")), "");

  e = send(head_of("POST", "/files/",
                   version(8) + "Upload-Complete: ?1\r\nUpload-Length: 6\r\n" + length_field(5)) +
           "hello");
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->status, 400);
  EXPECT_TRUE(e.interim.empty()) << "refused before an upload exists";
  EXPECT_EQ(e.final_response->header("content-type"), "application/problem+json");
  EXPECT_NE(e.final_response->body.find(kInconsistent), std::string::npos);

  // Upload-Complete: ?0 with a body longer than Upload-Length: refused before an upload exists
  // (no 104, no Location for an upload nobody could finish).
  e = send(head_of("POST", "/files/",
                   version(8) + "Upload-Complete: ?0\r\nUpload-Length: 4\r\n" + length_field(5)) +
           "hello");
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->status, 400);
  EXPECT_TRUE(e.interim.empty()) << "refused before an upload exists";
  EXPECT_TRUE(e.final_response->header("location").empty());
  EXPECT_NE(e.final_response->body.find(kInconsistent), std::string::npos);

  std::string loc = create(8, 10);
  Exchange a = append(loc, 8, 0, true, "abc");  // says it ends at 3: the upload says 10
  ASSERT_TRUE(a.final_response);
  EXPECT_EQ(a.final_response->status, 400);
  EXPECT_NE(a.final_response->body.find(kInconsistent), std::string::npos);
  EXPECT_EQ(head(loc)->header("upload-offset"), "0");
}

// A chunked body with Upload-Complete: ?1 completes the upload at its end (the length is known
// only then), in a creation and in an append.
TEST_F(IetfUpload, ChunkedBodyWithCompleteEndsTheUpload) {
  Exchange e = send(head_of("POST", "/files/",
                            version(8) + "Upload-Complete: ?1\r\n"
                                         "Transfer-Encoding: chunked\r\n") +
                    "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->status, 201);
  EXPECT_EQ(e.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(e.final_response->header("upload-length"), "11");
  EXPECT_EQ(stored(e.final_response->header("location")), "hello world");

  e = send(head_of("POST", "/files/",
                   version(6) + "Upload-Complete: ?0\r\n"
                                "Transfer-Encoding: chunked\r\n") +
           "3\r\nabc\r\n0\r\n\r\n");
  ASSERT_TRUE(e.final_response);
  std::string loc = e.final_response->header("location");
  EXPECT_EQ(e.final_response->header("upload-complete"), "?0");
  EXPECT_TRUE(e.final_response->header("upload-length").empty()) << "not known yet";
  e = send(head_of("PATCH", loc,
                   version(6) + "Content-Type: application/partial-upload\r\n"
                                "Upload-Offset: 3\r\nUpload-Complete: ?1\r\n"
                                "Transfer-Encoding: chunked\r\n") +
           "4\r\ndefg\r\n0\r\n\r\n");
  ASSERT_TRUE(e.final_response);
  EXPECT_EQ(e.final_response->status, 204);
  EXPECT_EQ(e.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(e.final_response->header("upload-offset"), "7");
  auto h = head(loc, 6);
  EXPECT_EQ(h->header("upload-length"), "7");
  EXPECT_EQ(h->header("upload-complete"), "?1");
  EXPECT_EQ(stored(loc), "abcdefg");
}

// RUFH-CRE-06, RUFH-APP-03: a creation cut off mid-body keeps what arrived, is not complete,
// and resumes from its 104's Location.
TEST_F(IetfUpload, InterruptedCreationKeepsItsBytesAndResumes) {
  const std::string data = random_bytes(600 * 1024, 7);
  const size_t sent = 200 * 1024 + 13;
  std::string loc;
  {
    Connection c(port_);
    c.send_all(head_of("POST", "/files/",
                       version(8) + "Upload-Complete: ?1\r\n" + length_field(data.size())));
    auto interim = c.read_response();
    ASSERT_TRUE(interim);
    ASSERT_EQ(interim->status, 104);
    loc = interim->header("location");
    c.send_all(data.data(), sent);
    c.close_now();
  }
  // The server commits what arrived once it sees the close (bounded wait, not a timing claim).
  std::optional<Response> h;
  for (int i = 0; i < 200; ++i) {
    h = head(loc);
    if (h && h->header("upload-offset") == std::to_string(sent)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("upload-offset"), std::to_string(sent));
  EXPECT_EQ(h->header("upload-complete"), "?0");
  EXPECT_EQ(h->header("upload-length"), std::to_string(data.size()));
  Exchange a = append(loc, 8, sent, true, data.substr(sent));
  ASSERT_TRUE(a.final_response);
  EXPECT_EQ(a.final_response->status, 204);
  EXPECT_EQ(a.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(stored(loc), data);
}

// RUFH-APP-02: 409 with the right offset, ?0 and the problem's two offsets.
TEST_F(IetfUpload, MismatchingOffsetIs409WithTheCorrectOffset) {
  std::string loc = create(8, 10);
  ASSERT_EQ(append(loc, 8, 0, false, "abcd").final_response->status, 204);
  Exchange a = append(loc, 8, 2, false, "xyz");
  ASSERT_TRUE(a.final_response);
  const Response& r = *a.final_response;
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.header("upload-offset"), "4");
  EXPECT_EQ(r.header("upload-complete"), "?0");
  EXPECT_EQ(r.header("content-type"), "application/problem+json");
  EXPECT_NE(r.body.find(kMismatch), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"expected-offset\":4"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("\"provided-offset\":2"), std::string::npos) << r.body;
  EXPECT_EQ(head(loc)->header("upload-offset"), "4");
  EXPECT_EQ(append(loc, 8, 4, true, "efghij").final_response->status, 204);
  EXPECT_EQ(stored(loc), "abcdefghij") << "nothing of the refused append was kept";
}

// Appends to a complete upload change nothing: interop 8 answers a non-empty one with
// inconsistent-upload-length and an empty one with 410 completed-upload, interop 6 with 400
// completed-upload; the completing append again (a lost answer) is replayed.
TEST_F(IetfUpload, AppendsToACompleteUploadAreRefusedAndTheCompletionReplayed) {
  std::string loc = create(8, 3);
  ASSERT_EQ(append(loc, 8, 0, true, "abc").final_response->status, 204);
  Exchange a = append(loc, 8, 3, false, "d");
  EXPECT_EQ(a.final_response->status, 400);
  EXPECT_NE(a.final_response->body.find(kInconsistent), std::string::npos);
  a = append(loc, 8, 3, false, "");
  EXPECT_EQ(a.final_response->status, 410);
  EXPECT_NE(a.final_response->body.find(kCompleted), std::string::npos);
  a = append(loc, 6, 3, false, "d");
  EXPECT_EQ(a.final_response->status, 400);
  EXPECT_NE(a.final_response->body.find(kCompleted), std::string::npos);
  EXPECT_EQ(a.final_response->header("upload-complete"), "?1");
  a = append(loc, 8, 3, true, "");
  EXPECT_EQ(a.final_response->status, 204);
  EXPECT_EQ(a.final_response->header("upload-complete"), "?1");
  EXPECT_EQ(stored(loc), "abc");
}

// Requests the draft does not allow are refused before any byte of their body counts.
TEST_F(IetfUpload, MalformedAppendsAreRefusedAndChangeNothing) {
  std::string loc = create(8, 10);
  const std::string base = version(8) + length_field(3);
  struct Case {
    std::string fields;
    int status;
  } cases[] = {
      {"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
       "Upload-Complete: ?0\r\n",
       415},
      {"Upload-Offset: 0\r\nUpload-Complete: ?0\r\n", 415},
      {"Content-Type: application/partial-upload\r\nUpload-Complete: ?0\r\n", 400},
      {"Content-Type: application/partial-upload\r\nUpload-Offset: 0\r\n", 400},
      {"Content-Type: application/partial-upload\r\nUpload-Offset: 0\r\nUpload-Complete: 1\r\n",
       400},
      {"Content-Type: application/partial-upload\r\nUpload-Offset: -1\r\n"
       "Upload-Complete: ?0\r\n",
       400},
      {"Content-Type: application/partial-upload\r\nUpload-Offset: 0\r\n"
       "Upload-Complete: ?0\r\nUpload-Complete: ?1\r\n",
       400},
  };
  for (const Case& c : cases) {
    Exchange a = send(head_of("PATCH", loc, base + c.fields) + "abc");
    ASSERT_TRUE(a.final_response) << c.fields;
    EXPECT_EQ(a.final_response->status, c.status) << c.fields;
  }
  auto h = head(loc);
  EXPECT_EQ(h->header("upload-offset"), "0");
  // Upload-Complete that is not an SF Boolean on a creation: refused, nothing created.
  Exchange e = send(head_of("POST", "/files/", version(8) + "Upload-Complete: true\r\n"));
  EXPECT_EQ(e.final_response->status, 400);
  EXPECT_TRUE(e.interim.empty());
}

// RUFH-LIM-01/02/04: max-append-size from --max-append-bytes: announced in OPTIONS (which still
// answers tus), and an append over it gets 413 with Upload-Limit before any body byte is read
// (no 100 Continue).
TEST_F(IetfUpload, MaxAppendSizeIsAnnouncedAndEnforcedBeforeTheBody) {
  start({"--max-append-bytes", "4K"});
  auto o = request(port_, "OPTIONS /files/ HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->status, 204);
  EXPECT_EQ(o->header("upload-limit"), "max-size=1048576, max-append-size=4096");
  EXPECT_EQ(o->header("accept-patch"), "application/partial-upload");
  EXPECT_EQ(o->header("tus-version"), "1.0.0");
  EXPECT_EQ(o->header("tus-max-size"), "1048576");
  o = request(port_, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
  EXPECT_EQ(o->header("upload-limit"), "max-size=1048576, max-append-size=4096");

  std::string loc = create(8, 10000);
  Connection c(port_);
  c.send_all(head_of("PATCH", loc,
                     version(8) +
                         "Content-Type: application/partial-upload\r\n"
                         "Upload-Offset: 0\r\nUpload-Complete: ?0\r\n"
                         "Expect: 100-continue\r\n" +
                         length_field(5000)));
  auto r = c.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("upload-limit"), "max-size=1048576, max-append-size=4096");
  Exchange a = append(loc, 8, 0, false, std::string(4096, 'q'));
  EXPECT_EQ(a.final_response->status, 204);
  EXPECT_EQ(a.final_response->header("upload-offset"), "4096");
  // Past max-size: 413 with Upload-Limit, no upload created.
  Exchange e = send(head_of("POST", "/files/",
                            version(8) + "Upload-Complete: ?0\r\n"
                                         "Upload-Length: 2000000\r\n"));
  EXPECT_EQ(e.final_response->status, 413);
  EXPECT_FALSE(e.final_response->header("upload-limit").empty());
  EXPECT_TRUE(e.interim.empty());
}

// RUFH-CAN-01: DELETE answers 204 and the upload is gone.
TEST_F(IetfUpload, DeleteCancelsTheUpload) {
  std::string loc = create(8, 10);
  ASSERT_EQ(append(loc, 8, 0, false, "abc").final_response->status, 204);
  Exchange d = send(head_of("DELETE", loc, version(8)));
  ASSERT_TRUE(d.final_response);
  EXPECT_EQ(d.final_response->status, 204);
  EXPECT_EQ(head(loc)->status, 404);
  EXPECT_EQ(append(loc, 8, 3, false, "d").final_response->status, 404);
}

// RUFH-CON-01/02: a newer append takes over from one still hanging: the old one's bytes are
// committed and the newer is told the right offset; then it continues from there.
TEST_F(IetfUpload, ANewerAppendTakesOverAHangingOne) {
  std::string loc = create(8, 1000);
  Connection hanging(port_);
  hanging.send_all(head_of("PATCH", loc,
                           version(8) +
                               "Content-Type: application/partial-upload\r\n"
                               "Upload-Offset: 0\r\nUpload-Complete: ?1\r\n" +
                               length_field(1000)) +
                   std::string(300, 'a'));
  // Wait (bounded) until the server has received those bytes: the count, not the clock, decides.
  for (int i = 0; i < 400 && metric(port_, "ringest_body_bytes_received_total") < 300; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_GE(metric(port_, "ringest_body_bytes_received_total"), 300u);
  Exchange a = append(loc, 8, 0, false, "b");
  ASSERT_TRUE(a.final_response);
  EXPECT_EQ(a.final_response->status, 409);
  EXPECT_EQ(a.final_response->header("upload-offset"), "300");
  a = append(loc, 8, 300, true, std::string(700, 'c'));
  EXPECT_EQ(a.final_response->status, 204);
  EXPECT_EQ(stored(loc), std::string(300, 'a') + std::string(700, 'c'));
}

// On one keep-alive connection, pipelined: an IETF append, then a tus HEAD, then an IETF HEAD:
// each is answered by its own protocol (the choice is per request, not per connection).
TEST_F(IetfUpload, ProtocolsAlternateOnOneKeepAliveConnection) {
  std::string loc = create(8, 6);
  Connection c(port_);
  c.send_all(head_of("PATCH", loc,
                     version(8) +
                         "Content-Type: application/partial-upload\r\n"
                         "Upload-Offset: 0\r\nUpload-Complete: ?0\r\n" +
                         length_field(3)) +
             "abc" + head_of("HEAD", loc, "Tus-Resumable: 1.0.0\r\n") +
             head_of("HEAD", loc, version(6)));
  auto a = c.read_response();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->status, 204);
  EXPECT_EQ(a->header("upload-complete"), "?0");
  EXPECT_EQ(a->header("upload-draft-interop-version"), "8");
  EXPECT_TRUE(a->header("tus-resumable").empty());
  auto t = c.read_response(true);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->header("tus-resumable"), "1.0.0");
  EXPECT_EQ(t->header("upload-offset"), "3");
  EXPECT_TRUE(t->header("upload-complete").empty());
  auto i = c.read_response(true);
  ASSERT_TRUE(i);
  EXPECT_EQ(i->header("upload-complete"), "?0");
  EXPECT_EQ(i->header("upload-draft-interop-version"), "6");
  EXPECT_TRUE(i->header("tus-resumable").empty());
}

// tus clients on the same route behave as before: their answers carry Tus-Resumable and no
// IETF fields; a HEAD with neither protocol's fields is still a tus/download HEAD.
TEST_F(IetfUpload, TusRequestsOnTheSameRouteAreUnchanged) {
  std::string loc = tus_create(port_, 5);
  ASSERT_FALSE(loc.empty());
  auto p = tus_patch(port_, loc, 0, "hello");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->status, 204);
  EXPECT_EQ(p->header("tus-resumable"), "1.0.0");
  EXPECT_TRUE(p->header("upload-complete").empty());
  auto h = tus_head(port_, loc);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->header("upload-offset"), "5");
  EXPECT_TRUE(h->header("upload-complete").empty());
  // A tus request that also carries Upload-Complete stays tus (Tus-Resumable wins).
  auto both = request(port_,
                      "POST /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1.0.0\r\n"
                      "Upload-Length: 3\r\nUpload-Complete: ?1\r\n\r\n");
  ASSERT_TRUE(both);
  EXPECT_EQ(both->status, 201);
  EXPECT_EQ(both->header("tus-resumable"), "1.0.0");
  EXPECT_TRUE(both->header("upload-complete").empty());
  // An IETF client reads a tus-created upload's state the IETF way.
  auto ih = head(loc);
  EXPECT_EQ(ih->header("upload-complete"), "?1");
  EXPECT_EQ(stored(loc), "hello");
}

}  // namespace
}  // namespace ringest::test
