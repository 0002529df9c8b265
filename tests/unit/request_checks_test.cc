// Proves that check_request() gives each RFC 9110/9112 rule about a request head its status
// (request-target form, Host, Transfer-Encoding, Expect, repeated singleton fields), that
// request_path() routes origin-, absolute- and asterisk-form targets, that the parser reports
// an unknown method as 501 and a missing HTTP-version as 400, parses any single-digit version
// (the router answers 505), and refuses chunk data not followed by CRLF. The hostile matrix
// (tests/hostile) checks the same rules against the real server; these pin them where they
// are decided.
#include "http/request_checks.h"

#include <gtest/gtest.h>
#include <llhttp.h>

#include <string>
#include <vector>

#include "http/http_parser.h"

namespace ringest::http {
namespace {

class RequestChecksTest : public ::testing::Test {
 protected:
  void SetUp() override { parser_.init(arena_, sizeof arena_, headers_, 64, 2048); }

  // Parses a request head; the returned head lives until the next call.
  const RequestHead& head(const std::string& text) {
    parser_.reset();
    HttpParser::Step step = parser_.feed(text.data(), text.size(), nullptr);
    EXPECT_EQ(step.event, HttpParser::Event::kHeadComplete) << parser_.error_reason();
    return parser_.head();
  }
  int status(const std::string& text) { return check_request(head(text)).status; }
  ParseError parse_error(const std::string& text) {
    parser_.reset();
    HttpParser::Step step = parser_.feed(text.data(), text.size(), nullptr);
    EXPECT_EQ(step.event, HttpParser::Event::kError);
    return parser_.error();
  }

  char arena_[8192];
  Header headers_[64];
  HttpParser parser_;
};

TEST(RequestPath, RoutesEveryTargetForm) {
  EXPECT_EQ(request_path("/files/abc?x=1"), "/files/abc");
  EXPECT_EQ(request_path("/"), "/");
  EXPECT_EQ(request_path("*"), "*");
  EXPECT_EQ(request_path("http://h/files/abc"), "/files/abc");
  EXPECT_EQ(request_path("HTTPS://h:8080/files/abc?q=/x"), "/files/abc");
  EXPECT_EQ(request_path("http://h"), "/");
  EXPECT_EQ(request_path("http://h?x"), "/");
  EXPECT_EQ(request_path(""), "");
  EXPECT_EQ(request_path("files/abc"), "");
  EXPECT_EQ(request_path("ftp://h/files/abc"), "");
  EXPECT_EQ(request_path("http://user@h/files/abc"), "");
  EXPECT_EQ(request_path("http:///files/abc"), "");
  EXPECT_EQ(request_path("h:80"), "");
}

TEST_F(RequestChecksTest, OrdinaryRequestsPass) {
  EXPECT_EQ(status("GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  EXPECT_EQ(status("GET /healthz HTTP/1.0\r\n\r\n"), 0);
  EXPECT_EQ(status("GET /healthz HTTP/1.2\r\nHost: t\r\n\r\n"), 0);
  EXPECT_EQ(status("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  EXPECT_EQ(status("GET http://t/files/x HTTP/1.1\r\nHost: t\r\n\r\n"), 0);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: \r\n\r\n"), 0);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: [::1]:80\r\n\r\n"), 0);
  EXPECT_EQ(status("PATCH /f HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"), 0);
  EXPECT_EQ(status("PATCH /f HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: ,Chunked\r\n\r\n"), 0);
  EXPECT_EQ(status("PATCH /f HTTP/1.1\r\nHost: t\r\nExpect: 100-Continue\r\n\r\n"), 0);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: t\r\nExpect: \r\n\r\n"), 0);
  // OPTIONS ignores tus fields, repeated ones too (tus: Tus-Resumable is ignored there).
  EXPECT_EQ(status("OPTIONS /files/ HTTP/1.1\r\nHost: t\r\nTus-Resumable: 1\r\n"
                   "Tus-Resumable: 2\r\n\r\n"),
            0);
}

TEST_F(RequestChecksTest, VersionAndMethod) {
  EXPECT_EQ(status("GET / HTTP/2.0\r\nHost: t\r\n\r\n"), 505);
  EXPECT_EQ(status("GET / HTTP/9.9\r\nHost: t\r\n\r\n"), 505);
  EXPECT_EQ(status("GET / HTTP/0.9\r\nHost: t\r\n\r\n"), 505);
  RequestVerdict v = check_request(head("CONNECT h:80 HTTP/1.1\r\nHost: h:80\r\n\r\n"));
  EXPECT_EQ(v.status, 501);
  EXPECT_TRUE(v.close);
}

TEST_F(RequestChecksTest, TargetForms) {
  EXPECT_EQ(status("GET * HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  EXPECT_EQ(status("GET /healthz#top HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  EXPECT_EQ(status("GET ftp://t/healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
  EXPECT_EQ(status("GET http://u@t/healthz HTTP/1.1\r\nHost: t\r\n\r\n"), 400);
}

TEST_F(RequestChecksTest, HostIsRequiredSingleAndWellFormed) {
  EXPECT_EQ(status("GET / HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), 400);
  EXPECT_EQ(status("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
  for (const char* bad : {"a b", "a/b", "u@a", "a?b", "a#b", "a\"b"}) {
    EXPECT_EQ(status(std::string("GET / HTTP/1.1\r\nHost: ") + bad + "\r\n\r\n"), 400) << bad;
  }
}

TEST_F(RequestChecksTest, TransferEncoding) {
  auto te = [&](const std::string& lines, const char* version = "HTTP/1.1") {
    return check_request(
        head(std::string("PATCH /f ") + version + "\r\nHost: t\r\n" + lines + "\r\n"));
  };
  struct Row {
    std::string lines;
    int status;
  };
  const std::vector<Row> rows = {
      {"Transfer-Encoding: gzip\r\n", 400},  // final coding not chunked (6.3)
      {"Transfer-Encoding: identity\r\n", 400},
      {"Transfer-Encoding: \r\n", 400},
      {"Transfer-Encoding: chunked;q=1\r\n", 400},    // chunked takes no parameters
      {"Transfer-Encoding: gzip, chunked\r\n", 501},  // unsupported coding (6.1)
      {"Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n", 501},
  };
  for (const Row& row : rows) {
    RequestVerdict v = te(row.lines);
    EXPECT_EQ(v.status, row.status) << row.lines;
    EXPECT_TRUE(v.close) << row.lines;
  }
  RequestVerdict v = te("Transfer-Encoding: chunked\r\n", "HTTP/1.0");
  EXPECT_EQ(v.status, 400);  // RFC 9112 6.1: faulty framing in HTTP/1.0
  EXPECT_TRUE(v.close);
}

TEST_F(RequestChecksTest, ExpectationsOtherThan100ContinueAre417) {
  EXPECT_EQ(status("PATCH /f HTTP/1.1\r\nHost: t\r\nExpect: 200-ok\r\n\r\n"), 417);
  EXPECT_EQ(status("PATCH /f HTTP/1.1\r\nHost: t\r\nExpect: 100-continue, x\r\n\r\n"), 417);
  EXPECT_EQ(status("PATCH /f HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nExpect: y\r\n\r\n"),
            417);
}

TEST_F(RequestChecksTest, RepeatedSingletonFieldsAre400) {
  for (const char* name :
       {"Tus-Resumable", "Upload-Length", "Upload-Offset", "Upload-Metadata", "Upload-Defer-Length",
        "Upload-Checksum", "Upload-Concat", "Content-Type", "X-HTTP-Method-Override"}) {
    std::string field = std::string(name) + ": 1\r\n";
    EXPECT_EQ(status("POST /files/ HTTP/1.1\r\nHost: t\r\n" + field + field + "\r\n"), 400) << name;
    EXPECT_EQ(status("POST /files/ HTTP/1.1\r\nHost: t\r\n" + field + "\r\n"), 0) << name;
  }
}

TEST_F(RequestChecksTest, ParserUnknownMethodIs501) {
  for (const char* line : {"FOO / HTTP/1.1\r\n\r\n", "get / HTTP/1.1\r\n\r\n",
                           "GETX /a?b HTTP/1.1\r\nHost: t\r\n\r\n", "\r\nFOO / HTTP/1.1\r\n\r\n"}) {
    EXPECT_EQ(parse_error(line), ParseError::kUnknownMethod) << line;
    EXPECT_EQ(status_for(parser_.error()), 501);
  }
  // Not a well-formed request line: 400 as before.
  for (const char* line : {"NOT A REQUEST\r\n\r\n", "GARBAGE\r\n\r\n", "G@T / HTTP/1.1\r\n\r\n",
                           "FOO  / HTTP/1.1\r\n\r\n", "FOO / HTTP/1.1 \r\n\r\n", "FOO /\r\n\r\n",
                           "FOO / HTTP/11\r\n\r\n"}) {
    EXPECT_EQ(parse_error(line), ParseError::kMalformed) << line;
  }
}

TEST_F(RequestChecksTest, ParserNeedsAVersionAndTakesAnySingleDigitOne) {
  EXPECT_EQ(parse_error("GET /x\r\n\r\n"), ParseError::kMalformed);
  EXPECT_EQ(parse_error("GET /x HTTP/1.10\r\n\r\n"), ParseError::kMalformed);
  const RequestHead& h = head("GET /x HTTP/1.2\r\nHost: t\r\n\r\n");
  EXPECT_EQ(h.version_major, 1);
  EXPECT_EQ(h.version_minor, 2);
  EXPECT_TRUE(h.keep_alive);
  EXPECT_EQ(head("GET /x HTTP/9.9\r\n\r\n").version_major, 9);
}

// llhttp 8.1 skips the two bytes after chunk data unchecked; the parser checks them, also when
// they arrive in a later feed, and nothing after the bad bytes reaches the sink.
TEST(ChunkDataCrlf, CheckedWithinAndAcrossFeeds) {
  struct Sink final : BodySink {
    virtual ~Sink() = default;
    bool on_body(const char* data, size_t len) override {
      body.append(data, len);
      return true;
    }
    std::string body;
  };
  struct Row {
    std::vector<std::string> feeds;
    bool ok;
    std::string body;
  };
  const std::vector<Row> rows = {
      {{"3\r\nabc\r\n0\r\n\r\n"}, true, "abc"},
      {{"3\r\nabc", "\r\n0\r\n\r\n"}, true, "abc"},
      {{"3\r\nabc\r", "\n0\r\n\r\n"}, true, "abc"},
      {{"3\r\nab", "c", "\r", "\n", "0\r\n\r\n"}, true, "abc"},
      {{"3\r\nabcXX3\r\ndef\r\n0\r\n\r\n"}, false, "abc"},
      {{"3\r\nabc", "XX3\r\ndef\r\n0\r\n\r\n"}, false, "abc"},
      {{"3\r\nabc\r", "X3\r\ndef\r\n0\r\n\r\n"}, false, "abc"},
      {{"3\r\nabc\n\r0\r\n\r\n"}, false, "abc"},
  };
  for (const Row& row : rows) {
    char arena[1024];
    Header headers[8];
    HttpParser parser;
    parser.init(arena, sizeof arena, headers, 8, 128);
    std::string head = "PATCH /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    ASSERT_EQ(parser.feed(head.data(), head.size(), nullptr).event,
              HttpParser::Event::kHeadComplete);
    Sink sink;
    HttpParser::Event last = HttpParser::Event::kNeedMore;
    for (const std::string& f : row.feeds) {
      last = parser.feed(f.data(), f.size(), &sink).event;
      if (last == HttpParser::Event::kError) break;
    }
    std::string where = ::testing::PrintToString(row.feeds);
    EXPECT_EQ(last, row.ok ? HttpParser::Event::kMessageComplete : HttpParser::Event::kError)
        << where;
    if (!row.ok) {
      EXPECT_EQ(parser.error(), ParseError::kMalformed) << where;
    }
    EXPECT_EQ(sink.body, row.body) << where;
  }
}

}  // namespace
}  // namespace ringest::http
