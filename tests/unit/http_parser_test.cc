// Proves that HttpParser turns bytes into the right head / body / completion events however the
// input is split, enforces its head limits, and maps every parse error to its HTTP status.
#include "http/http_parser.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::http {
namespace {

using Event = HttpParser::Event;
using Step = HttpParser::Step;

const char* event_name(Event e) {
  switch (e) {
    case Event::kNeedMore:
      return "kNeedMore";
    case Event::kHeadComplete:
      return "kHeadComplete";
    case Event::kMessageComplete:
      return "kMessageComplete";
    case Event::kError:
      return "kError";
  }
  return "?";
}

class RecordingSink final : public BodySink {
 public:
  bool on_body(const char* data, size_t len) override {
    ++calls;
    if (refuse_after_bytes >= 0 && static_cast<int64_t>(body.size() + len) > refuse_after_bytes) {
      return false;
    }
    body.append(data, len);
    return true;
  }
  void clear() {
    body.clear();
    calls = 0;
  }

  std::string body;
  size_t calls = 0;
  int64_t refuse_after_bytes = -1;  // >= 0: refuse a span that would pass this many bytes
};

class HttpParserTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kMaxHeadBytes = 1024;
  static constexpr uint32_t kMaxHeaders = 8;
  static constexpr uint32_t kMaxTargetBytes = 128;

  void SetUp() override {
    parser_.init(arena_, kMaxHeadBytes, headers_, kMaxHeaders, kMaxTargetBytes);
  }

  Step feed(std::string_view bytes) { return parser_.feed(bytes.data(), bytes.size(), &sink_); }
  Step feed_empty() { return parser_.feed(kEmpty, 0, &sink_); }

  // Feeds the head (which must be the whole `head` string) and expects kHeadComplete.
  void expect_head(std::string_view head) {
    Step s = feed(head);
    ASSERT_EQ(s.event, Event::kHeadComplete)
        << event_name(s.event) << " reason: " << parser_.error_reason();
    ASSERT_EQ(s.consumed, head.size());
  }

  // Feeds `bytes` until the parser stops with something other than kNeedMore; returns the final
  // step and how many bytes were consumed in total. Feeds `piece` bytes at a time.
  Step feed_until_event(std::string_view bytes, size_t piece, size_t* total_consumed) {
    size_t pos = 0;
    Step s{Event::kNeedMore, 0};
    while (true) {
      size_t n = std::min(piece, bytes.size() - pos);
      s = feed(bytes.substr(pos, n));
      pos += s.consumed;
      if (s.event != Event::kNeedMore) break;
      EXPECT_EQ(s.consumed, n) << "kNeedMore must consume everything";
      if (pos == bytes.size()) break;
    }
    *total_consumed = pos;
    return s;
  }

  // Expects `request` to fail (in the head, or in the body right after the head) with `error`.
  void expect_error(std::string_view request, ParseError error) {
    Step s = feed(request);
    if (s.event == Event::kHeadComplete) s = feed(request.substr(s.consumed));
    EXPECT_EQ(s.event, Event::kError) << event_name(s.event);
    EXPECT_EQ(parser_.error(), error) << "reason: " << parser_.error_reason();
  }

  static constexpr char kEmpty[1] = {0};
  char arena_[kMaxHeadBytes];
  Header headers_[kMaxHeaders];
  RecordingSink sink_;
  HttpParser parser_;
};

std::string repeat(char c, size_t n) { return std::string(n, c); }

// ---------------------------------------------------------------------------------------------
// Heads

TEST_F(HttpParserTest, SimpleGetHeadThenMessageComplete) {
  const std::string req =
      "GET /files/abc?x=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "Tus-Resumable: 1.0.0\r\n"
      "X-Empty:\r\n"
      "\r\n";
  EXPECT_TRUE(parser_.between_messages());
  expect_head(req);
  EXPECT_FALSE(parser_.in_head());
  EXPECT_EQ(parser_.error(), ParseError::kNone);

  const RequestHead& h = parser_.head();
  EXPECT_EQ(h.method, HTTP_GET);
  EXPECT_EQ(h.target, "/files/abc?x=1");
  EXPECT_EQ(h.version_major, 1);
  EXPECT_EQ(h.version_minor, 1);
  ASSERT_EQ(h.header_count, 3u);
  EXPECT_EQ(h.headers[0].name, "Host");
  EXPECT_EQ(h.headers[0].value, "example.com");
  EXPECT_EQ(h.get("host"), "example.com");
  EXPECT_EQ(h.get("HOST"), "example.com");
  EXPECT_EQ(h.get("tus-resumable"), "1.0.0");
  EXPECT_TRUE(h.has("x-empty"));
  EXPECT_EQ(h.get("x-empty"), "");
  EXPECT_FALSE(h.has("Content-Length"));
  EXPECT_EQ(h.get("Content-Length"), "");
  EXPECT_TRUE(h.keep_alive);
  EXPECT_FALSE(h.chunked);
  EXPECT_FALSE(h.has_content_length);
  EXPECT_FALSE(h.has_body());
  EXPECT_FALSE(h.upgrade);

  Step done = feed_empty();
  EXPECT_EQ(done.event, Event::kMessageComplete) << event_name(done.event);
  EXPECT_EQ(done.consumed, 0u);
  EXPECT_TRUE(parser_.in_head());
  EXPECT_TRUE(parser_.between_messages());
  EXPECT_EQ(sink_.calls, 0u);
}

// The first header's name must be just that name, not the request target glued in front of it.
TEST_F(HttpParserTest, FirstHeaderNameDoesNotIncludeTheTarget) {
  expect_head("PATCH /files/abc HTTP/1.1\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\r\n");
  const RequestHead& h = parser_.head();
  EXPECT_EQ(h.target, "/files/abc");
  ASSERT_EQ(h.header_count, 2u);
  EXPECT_EQ(h.headers[0].name, "Tus-Resumable");
  EXPECT_EQ(h.headers[0].value, "1.0.0");
  EXPECT_EQ(h.headers[1].name, "Upload-Offset");
  EXPECT_TRUE(h.has("Tus-Resumable"));
  EXPECT_EQ(h.get("tus-resumable"), "1.0.0");

  // The same for the second request on a connection.
  ASSERT_EQ(feed_empty().event, Event::kMessageComplete);
  expect_head("HEAD /files/def HTTP/1.1\r\nHost: h\r\n\r\n");
  EXPECT_EQ(parser_.head().target, "/files/def");
  EXPECT_EQ(parser_.head().headers[0].name, "Host");
  EXPECT_EQ(parser_.head().get("host"), "h");
}

TEST_F(HttpParserTest, GetReturnsFirstOfRepeatedHeaders) {
  expect_head("GET / HTTP/1.1\r\nX-A: one\r\nx-a: two\r\n\r\n");
  EXPECT_EQ(parser_.head().get("X-A"), "one");
  EXPECT_EQ(parser_.head().header_count, 2u);
}

TEST_F(HttpParserTest, MethodsAreReported) {
  struct Case {
    const char* text;
    llhttp_method_t method;
  };
  for (const Case& c :
       {Case{"GET", HTTP_GET}, Case{"HEAD", HTTP_HEAD}, Case{"POST", HTTP_POST},
        Case{"PATCH", HTTP_PATCH}, Case{"DELETE", HTTP_DELETE}, Case{"OPTIONS", HTTP_OPTIONS}}) {
    parser_.reset();
    expect_head(std::string(c.text) + " /x HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(parser_.head().method, c.method) << c.text;
  }
}

TEST_F(HttpParserTest, HeadSplitByteByByteGivesTheSameResult) {
  const std::string req =
      "PATCH /files/0123456789abcdef HTTP/1.1\r\n"
      "Host: localhost:8080\r\n"
      "Tus-Resumable: 1.0.0\r\n"
      "Upload-Offset:   42   \r\n"
      "Content-Type: application/offset+octet-stream\r\n"
      "Content-Length: 5\r\n"
      "\r\n"
      "hello";
  const size_t head_size = req.find("\r\n\r\n") + 4;
  for (size_t i = 0; i + 1 < head_size; ++i) {
    Step s = feed(std::string_view(req).substr(i, 1));
    ASSERT_EQ(s.event, Event::kNeedMore) << "at byte " << i << ": " << parser_.error_reason();
    ASSERT_EQ(s.consumed, 1u);
    EXPECT_FALSE(parser_.between_messages());
  }
  Step last = feed(std::string_view(req).substr(head_size - 1, 1));
  ASSERT_EQ(last.event, Event::kHeadComplete) << event_name(last.event);
  ASSERT_EQ(last.consumed, 1u);

  const RequestHead& h = parser_.head();
  EXPECT_EQ(h.method, HTTP_PATCH);
  EXPECT_EQ(h.target, "/files/0123456789abcdef");
  ASSERT_EQ(h.header_count, 5u);
  EXPECT_EQ(h.headers[0].name, "Host");
  EXPECT_EQ(h.headers[0].value, "localhost:8080");
  EXPECT_EQ(h.headers[1].name, "Tus-Resumable");
  EXPECT_EQ(h.headers[1].value, "1.0.0");
  EXPECT_EQ(h.headers[2].name, "Upload-Offset");
  EXPECT_EQ(h.headers[2].value, "42");
  EXPECT_EQ(h.headers[3].value, "application/offset+octet-stream");
  EXPECT_EQ(h.headers[4].name, "Content-Length");
  EXPECT_EQ(h.headers[4].value, "5");
  EXPECT_TRUE(h.has_content_length);
  EXPECT_EQ(h.content_length, 5u);

  // The body also byte by byte.
  for (size_t i = head_size; i + 1 < req.size(); ++i) {
    Step s = feed(std::string_view(req).substr(i, 1));
    ASSERT_EQ(s.event, Event::kNeedMore);
    ASSERT_EQ(s.consumed, 1u);
  }
  Step done = feed(std::string_view(req).substr(req.size() - 1));
  EXPECT_EQ(done.event, Event::kMessageComplete);
  EXPECT_EQ(done.consumed, 1u);
  EXPECT_EQ(sink_.body, "hello");
}

TEST_F(HttpParserTest, HeadSplitAtEveryPositionGivesTheSameResult) {
  const std::string req =
      "POST /files HTTP/1.1\r\n"
      "Host: h\r\n"
      "Upload-Length: 100\r\n"
      "Upload-Metadata: filename d29ybGQudHh0  \r\n"
      "\r\n";
  for (size_t split = 1; split < req.size(); ++split) {
    parser_.reset();
    Step first = feed(std::string_view(req).substr(0, split));
    ASSERT_EQ(first.event, Event::kNeedMore) << "split " << split;
    ASSERT_EQ(first.consumed, split);
    Step second = feed(std::string_view(req).substr(split));
    ASSERT_EQ(second.event, Event::kHeadComplete) << "split " << split;
    ASSERT_EQ(second.consumed, req.size() - split);
    const RequestHead& h = parser_.head();
    EXPECT_EQ(h.method, HTTP_POST) << split;
    EXPECT_EQ(h.target, "/files") << split;
    ASSERT_EQ(h.header_count, 3u) << split;
    EXPECT_EQ(h.get("host"), "h") << split;
    EXPECT_EQ(h.get("upload-length"), "100") << split;
    EXPECT_EQ(h.get("upload-metadata"), "filename d29ybGQudHh0") << split;
  }
}

TEST_F(HttpParserTest, HeaderValuesAreTrimmed) {
  struct Case {
    std::string line;
    std::string_view value;
  };
  const std::vector<Case> cases = {
      {"X-V: value   ", "value"}, {"X-V: value\t \t", "value"}, {"X-V:value", "value"},
      {"X-V:    value", "value"}, {"X-V: a b  c ", "a b  c"},   {"X-V:    ", ""},
  };
  for (const Case& c : cases) {
    parser_.reset();
    expect_head("GET / HTTP/1.1\r\nHost: h\r\n" + c.line + "\r\n\r\n");
    ASSERT_EQ(parser_.head().header_count, 2u) << c.line;
    EXPECT_EQ(parser_.head().headers[1].value, c.value) << "line '" << c.line << "'";
    EXPECT_EQ(parser_.head().get("x-v"), c.value) << "line '" << c.line << "'";
  }
}

TEST_F(HttpParserTest, TrimmingWorksWhenTheValueIsSplitAcrossFeeds) {
  const std::string req = "GET / HTTP/1.1\r\nHost: h\r\nX-V: abc   \r\nX-W: d  \r\n\r\n";
  for (size_t split = 1; split < req.size(); ++split) {
    parser_.reset();
    ASSERT_EQ(feed(std::string_view(req).substr(0, split)).event, Event::kNeedMore);
    ASSERT_EQ(feed(std::string_view(req).substr(split)).event, Event::kHeadComplete);
    EXPECT_EQ(parser_.head().get("x-v"), "abc") << split;
    EXPECT_EQ(parser_.head().get("x-w"), "d") << split;
  }
}

TEST_F(HttpParserTest, EqualsIgnoreCase) {
  EXPECT_TRUE(equals_ignore_case("Content-Length", "content-length"));
  EXPECT_TRUE(equals_ignore_case("", ""));
  EXPECT_FALSE(equals_ignore_case("Content-Length", "Content-Lengt"));
  EXPECT_FALSE(equals_ignore_case("a", "b"));
  EXPECT_FALSE(equals_ignore_case("[", "{"));  // differ by 0x20 but are not letters
}

// ---------------------------------------------------------------------------------------------
// Bodies

TEST_F(HttpParserTest, ContentLengthBodyInOneFeed) {
  const std::string head = "PATCH /f HTTP/1.1\r\nContent-Length: 11\r\n\r\n";
  const std::string req = head + "hello world";
  Step s = feed(req);
  ASSERT_EQ(s.event, Event::kHeadComplete);
  ASSERT_EQ(s.consumed, head.size());
  EXPECT_TRUE(parser_.head().has_content_length);
  EXPECT_EQ(parser_.head().content_length, 11u);
  EXPECT_TRUE(parser_.head().has_body());
  EXPECT_EQ(sink_.calls, 0u) << "no body byte may be delivered before the head event";

  Step body = feed(std::string_view(req).substr(s.consumed));
  EXPECT_EQ(body.event, Event::kMessageComplete);
  EXPECT_EQ(body.consumed, 11u);
  EXPECT_EQ(sink_.body, "hello world");
}

TEST_F(HttpParserTest, ContentLengthBodyAcrossSeveralFeeds) {
  expect_head("PATCH /f HTTP/1.1\r\nContent-Length: 11\r\n\r\n");
  Step a = feed("hel");
  EXPECT_EQ(a.event, Event::kNeedMore);
  EXPECT_EQ(a.consumed, 3u);
  Step empty = feed_empty();
  EXPECT_EQ(empty.event, Event::kNeedMore);
  EXPECT_EQ(empty.consumed, 0u);
  Step b = feed("lo wor");
  EXPECT_EQ(b.event, Event::kNeedMore);
  EXPECT_EQ(b.consumed, 6u);
  Step c = feed("ld");
  EXPECT_EQ(c.event, Event::kMessageComplete);
  EXPECT_EQ(c.consumed, 2u);
  EXPECT_EQ(sink_.body, "hello world");
  EXPECT_TRUE(parser_.between_messages());
}

TEST_F(HttpParserTest, ContentLengthZeroCompletesWithoutBody) {
  expect_head("POST /files HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
  EXPECT_TRUE(parser_.head().has_content_length);
  EXPECT_EQ(parser_.head().content_length, 0u);
  EXPECT_FALSE(parser_.head().has_body());
  Step s = feed_empty();
  EXPECT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(sink_.body, "");
}

TEST_F(HttpParserTest, ChunkedBodyWithExtensionsAndTrailer) {
  const std::string head = "POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string body =
      "5;name=value\r\nhello\r\n"
      "1\r\n \r\n"
      "A;b=\"q\"\r\n0123456789\r\n"
      "0\r\n"
      "X-Trailer: t\r\n"
      "\r\n";
  expect_head(head);
  EXPECT_TRUE(parser_.head().chunked);
  EXPECT_FALSE(parser_.head().has_content_length);
  EXPECT_TRUE(parser_.head().has_body());
  Step s = feed(body);
  EXPECT_EQ(s.event, Event::kMessageComplete) << parser_.error_reason();
  EXPECT_EQ(s.consumed, body.size());
  EXPECT_EQ(sink_.body, "hello 0123456789");
}

TEST_F(HttpParserTest, ChunkedBodyFedByteByByte) {
  const std::string body = "3;ext\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n";
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (size_t i = 0; i + 1 < body.size(); ++i) {
    Step s = feed(std::string_view(body).substr(i, 1));
    ASSERT_EQ(s.event, Event::kNeedMore) << "byte " << i << ": " << parser_.error_reason();
    ASSERT_EQ(s.consumed, 1u);
  }
  Step done = feed(std::string_view(body).substr(body.size() - 1));
  EXPECT_EQ(done.event, Event::kMessageComplete);
  EXPECT_EQ(sink_.body, "abc0123456789abcdef");
}

TEST_F(HttpParserTest, ChunkedBodySplitAtEveryPosition) {
  const std::string body = "4\r\nWiki\r\n5;x=y\r\npedia\r\n0\r\n\r\n";
  for (size_t split = 0; split <= body.size(); ++split) {
    parser_.reset();
    sink_.clear();
    expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    size_t total = 0;
    Step s = feed(std::string_view(body).substr(0, split));
    total += s.consumed;
    if (s.event == Event::kNeedMore) {
      s = feed(std::string_view(body).substr(split));
      total += s.consumed;
    }
    EXPECT_EQ(s.event, Event::kMessageComplete) << split;
    EXPECT_EQ(total, body.size()) << split;
    EXPECT_EQ(sink_.body, "Wikipedia") << split;
  }
}

// ---------------------------------------------------------------------------------------------
// Pipelining and keep-alive

TEST_F(HttpParserTest, TwoPipelinedRequestsInOneBuffer) {
  const std::string first = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n";
  const std::string second_head = "PATCH /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
  const std::string all = first + second_head + "xyz";
  std::string_view rest = all;

  Step s = feed(rest);
  ASSERT_EQ(s.event, Event::kHeadComplete);
  ASSERT_EQ(s.consumed, first.size());
  EXPECT_EQ(parser_.head().target, "/a");
  rest.remove_prefix(s.consumed);

  s = feed(rest);
  ASSERT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(s.consumed, 0u);
  EXPECT_EQ(sink_.body, "");
  rest.remove_prefix(s.consumed);

  s = feed(rest);
  ASSERT_EQ(s.event, Event::kHeadComplete) << event_name(s.event) << parser_.error_reason();
  ASSERT_EQ(s.consumed, second_head.size());
  EXPECT_EQ(parser_.head().method, HTTP_PATCH);
  EXPECT_EQ(parser_.head().target, "/b");
  EXPECT_EQ(parser_.head().header_count, 2u);
  EXPECT_EQ(parser_.head().content_length, 3u);
  rest.remove_prefix(s.consumed);

  s = feed(rest);
  ASSERT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(s.consumed, 3u);
  EXPECT_EQ(sink_.body, "xyz");
}

TEST_F(HttpParserTest, PipelinedRequestAfterABodyIsNotPartOfTheBody) {
  const std::string first = "PATCH /a HTTP/1.1\r\nContent-Length: 2\r\n\r\nxy";
  const std::string second = "GET /b HTTP/1.1\r\n\r\n";
  const std::string all = first + second;

  Step s = feed(all);
  ASSERT_EQ(s.event, Event::kHeadComplete);
  size_t pos = s.consumed;
  s = feed(std::string_view(all).substr(pos));
  ASSERT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(s.consumed, 2u);
  pos += s.consumed;
  EXPECT_EQ(pos, first.size());
  EXPECT_EQ(sink_.body, "xy");

  s = feed(std::string_view(all).substr(pos));
  ASSERT_EQ(s.event, Event::kHeadComplete);
  EXPECT_EQ(s.consumed, second.size());
  EXPECT_EQ(parser_.head().target, "/b");
  EXPECT_EQ(parser_.head().header_count, 0u);
  EXPECT_EQ(feed_empty().event, Event::kMessageComplete);
  EXPECT_EQ(sink_.body, "xy");
}

TEST_F(HttpParserTest, ManyRequestsOnOneConnection) {
  for (int i = 0; i < 50; ++i) {
    std::string target = "/r" + std::to_string(i);
    expect_head("GET " + target + " HTTP/1.1\r\nHost: h\r\nX-N: " + std::to_string(i) + "\r\n\r\n");
    EXPECT_EQ(parser_.head().target, target);
    EXPECT_EQ(parser_.head().get("x-n"), std::to_string(i));
    ASSERT_EQ(feed_empty().event, Event::kMessageComplete);
  }
}

TEST_F(HttpParserTest, KeepAlive) {
  struct Case {
    std::string head;
    bool keep_alive;
    uint8_t minor;
  };
  const std::vector<Case> cases = {
      {"GET / HTTP/1.1\r\nHost: h\r\n\r\n", true, 1},
      {"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, 1},
      {"GET / HTTP/1.1\r\nConnection: Close\r\n\r\n", false, 1},
      {"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", true, 1},
      {"GET / HTTP/1.0\r\nHost: h\r\n\r\n", false, 0},
      {"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true, 0},
  };
  for (const Case& c : cases) {
    parser_.reset();
    expect_head(c.head);
    EXPECT_EQ(parser_.head().keep_alive, c.keep_alive) << c.head;
    EXPECT_EQ(parser_.head().version_major, 1) << c.head;
    EXPECT_EQ(parser_.head().version_minor, c.minor) << c.head;
  }
}

// ---------------------------------------------------------------------------------------------
// Limits

TEST_F(HttpParserTest, HeadOfExactlyMaxHeadBytesIsAccepted) {
  std::string prefix = "GET / HTTP/1.1\r\nX-Pad: ";
  std::string suffix = "\r\n\r\n";
  std::string head = prefix + repeat('p', kMaxHeadBytes - prefix.size() - suffix.size()) + suffix;
  ASSERT_EQ(head.size(), kMaxHeadBytes);
  expect_head(head);
  ASSERT_EQ(parser_.head().header_count, 1u);
  EXPECT_EQ(parser_.head().headers[0].value.size(), kMaxHeadBytes - prefix.size() - suffix.size());
}

TEST_F(HttpParserTest, HeadLargerThanMaxHeadBytesIs431) {
  std::string prefix = "GET / HTTP/1.1\r\nX-Pad: ";
  std::string suffix = "\r\n\r\n";
  std::string head =
      prefix + repeat('p', kMaxHeadBytes - prefix.size() - suffix.size() + 1) + suffix;
  Step s = feed(head);
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kHeadTooLarge);
  EXPECT_EQ(status_for(parser_.error()), 431);
}

TEST_F(HttpParserTest, HeadTooLargeWhenFedInPieces) {
  std::string head = "GET / HTTP/1.1\r\n";
  for (uint32_t i = 0; i < kMaxHeaders - 1; ++i) head += "X-H: " + repeat('v', 200) + "\r\n";
  ASSERT_GT(head.size(), kMaxHeadBytes);
  head += "\r\n";
  size_t consumed = 0;
  Step s = feed_until_event(head, 37, &consumed);
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kHeadTooLarge);
  EXPECT_LE(consumed, kMaxHeadBytes);
}

TEST_F(HttpParserTest, HeadTooLargeWithoutAnyHeaderEnd) {
  // A client that never ends its head: the parser must stop at the limit.
  std::string junk = "GET /" + repeat('a', 100) + " HTTP/1.1\r\nX: " + repeat('b', 2000);
  Step s = feed(junk);
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kHeadTooLarge);
}

TEST_F(HttpParserTest, MaxHeadersIsAcceptedOneMoreIs431) {
  std::string ok = "GET / HTTP/1.1\r\n";
  for (uint32_t i = 0; i < kMaxHeaders; ++i) ok += "H" + std::to_string(i) + ": v\r\n";
  expect_head(ok + "\r\n");
  EXPECT_EQ(parser_.head().header_count, kMaxHeaders);
  EXPECT_EQ(parser_.head().headers[kMaxHeaders - 1].name, "H7");

  parser_.reset();
  std::string too_many = ok + "One-More: v\r\n\r\n";
  Step s = feed(too_many);
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kTooManyHeaders);
  EXPECT_EQ(status_for(parser_.error()), 431);
}

TEST_F(HttpParserTest, TargetOfMaxLengthIsAcceptedOneMoreIs414) {
  std::string target = "/" + repeat('t', kMaxTargetBytes - 1);
  expect_head("GET " + target + " HTTP/1.1\r\n\r\n");
  EXPECT_EQ(parser_.head().target, target);

  parser_.reset();
  Step s = feed("GET " + target + "x HTTP/1.1\r\n\r\n");
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kUriTooLong);
  EXPECT_EQ(status_for(parser_.error()), 414);
}

TEST_F(HttpParserTest, TargetTooLongWhenFedByteByByte) {
  std::string req = "GET /" + repeat('t', kMaxTargetBytes) + " HTTP/1.1\r\n\r\n";
  size_t consumed = 0;
  Step s = feed_until_event(req, 1, &consumed);
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kUriTooLong);
}

// ---------------------------------------------------------------------------------------------
// Errors

TEST_F(HttpParserTest, StatusForEveryError) {
  EXPECT_EQ(status_for(ParseError::kMalformed), 400);
  EXPECT_EQ(status_for(ParseError::kHeadTooLarge), 431);
  EXPECT_EQ(status_for(ParseError::kTooManyHeaders), 431);
  EXPECT_EQ(status_for(ParseError::kUriTooLong), 414);
  EXPECT_EQ(status_for(ParseError::kBodyRefused), 400);
}

TEST_F(HttpParserTest, MalformedRequestsAre400) {
  const std::vector<std::string> cases = {
      "GET\r\n\r\n",
      "GET / HTTP/1.1 extra\r\n\r\n",
      "GET / FTP/1.1\r\n\r\n",
      "G@T / HTTP/1.1\r\n\r\n",
      "\x01GET / HTTP/1.1\r\n\r\n",
      "GET / HTTP/1.1\r\nNo-Colon\r\n\r\n",
      "GET /a b HTTP/1.1\r\n\r\n",
      // Content-Length together with chunked: request smuggling.
      "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
      // Bad Content-Length values.
      "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      // Control bytes in a header value.
      std::string("GET / HTTP/1.1\r\nX-V: a\0b\r\n\r\n", 29),
      "GET / HTTP/1.1\r\nX-V: a\x01"
      "b\r\n\r\n",
      "GET / HTTP/1.1\r\nX-V: a\x1f"
      "b\r\n\r\n",
      "GET / HTTP/1.1\r\nX-V: a\rb\r\n\r\n",
  };
  for (const std::string& req : cases) {
    parser_.reset();
    sink_.clear();
    SCOPED_TRACE(testing::PrintToString(req));
    expect_error(req, ParseError::kMalformed);
    EXPECT_EQ(status_for(parser_.error()), 400);
    EXPECT_NE(std::string(parser_.error_reason()), "");
    EXPECT_EQ(sink_.body, "");
  }
}

TEST_F(HttpParserTest, InvalidChunkSizeIsAnError) {
  const std::vector<std::string> bodies = {
      "zz\r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n",
      "5\r\nhello\r\nX\r\n",    // 'X' is not a hex digit
      "FFFFFFFFFFFFFFFFF\r\n",  // chunk size overflows 64 bits
  };
  for (const std::string& body : bodies) {
    parser_.reset();
    sink_.clear();
    SCOPED_TRACE(testing::PrintToString(body));
    expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    Step s = feed(body);
    EXPECT_EQ(s.event, Event::kError) << event_name(s.event);
    EXPECT_EQ(parser_.error(), ParseError::kMalformed);
    EXPECT_EQ(status_for(parser_.error()), 400);
  }
}

TEST_F(HttpParserTest, SinkReturningFalseIsBodyRefused) {
  sink_.refuse_after_bytes = 4;
  expect_head("PATCH /f HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
  Step a = feed("abc");
  EXPECT_EQ(a.event, Event::kNeedMore);
  EXPECT_EQ(sink_.body, "abc");
  Step b = feed("defghij");
  EXPECT_EQ(b.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kBodyRefused);
  EXPECT_EQ(status_for(parser_.error()), 400);
  EXPECT_EQ(sink_.body, "abc");
}

TEST_F(HttpParserTest, SinkReturningFalseInChunkedBody) {
  sink_.refuse_after_bytes = 0;
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  Step s = feed("3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kBodyRefused);
}

TEST_F(HttpParserTest, AfterAnErrorFeedKeepsReturningError) {
  Step s = feed("NOT A REQUEST\r\n\r\n");
  ASSERT_EQ(s.event, Event::kError);
  ParseError error = parser_.error();
  EXPECT_EQ(error, ParseError::kMalformed);
  for (int i = 0; i < 3; ++i) {
    Step again = feed("GET / HTTP/1.1\r\n\r\n");
    EXPECT_EQ(again.event, Event::kError);
    EXPECT_EQ(again.consumed, 0u);
    EXPECT_EQ(parser_.error(), error);
  }
  EXPECT_EQ(feed_empty().event, Event::kError);

  // reset() starts a new connection.
  parser_.reset();
  EXPECT_EQ(parser_.error(), ParseError::kNone);
  expect_head("GET /ok HTTP/1.1\r\n\r\n");
  EXPECT_EQ(parser_.head().target, "/ok");
}

TEST_F(HttpParserTest, AfterABodyErrorFeedKeepsReturningError) {
  sink_.refuse_after_bytes = 0;
  expect_head("PATCH /f HTTP/1.1\r\nContent-Length: 4\r\n\r\n");
  ASSERT_EQ(feed("ab").event, Event::kError);
  EXPECT_EQ(feed("cd").event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kBodyRefused);
  EXPECT_EQ(sink_.body, "");
}

TEST_F(HttpParserTest, ErrorsAfterTooLargeHeadPersist) {
  ASSERT_EQ(feed("GET /" + repeat('t', kMaxTargetBytes + 1) + " HTTP/1.1\r\n\r\n").event,
            Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kUriTooLong);
  EXPECT_EQ(feed("GET / HTTP/1.1\r\n\r\n").event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kUriTooLong);
}

// ---------------------------------------------------------------------------------------------
// RFC 9112 conformance where llhttp 8.1.0 (Debian's node-llhttp, default lenient settings) lets
// malformed framing through. These document the required behaviour.

// RFC 9112 5.1: "A server MUST reject, with a response status code of 400 (Bad Request), any
// received request message that contains whitespace between a header field name and colon."
// And field-name = token: no spaces inside, not empty.
TEST_F(HttpParserTest, ConformanceInvalidFieldNamesAre400) {
  const std::vector<std::string> cases = {
      "GET / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nBad Name: v\r\n\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\n: empty-name\r\n\r\n",
  };
  for (const std::string& req : cases) {
    parser_.reset();
    SCOPED_TRACE(testing::PrintToString(req));
    expect_error(req, ParseError::kMalformed);
  }
}

// RFC 9112 7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF. Whatever follows the chunk
// data must be CRLF; anything else is a framing error (a request-smuggling vector otherwise).
TEST_F(HttpParserTest, ConformanceChunkDataMustEndWithCrlf) {
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  Step s = feed("5\r\nhelloXX0\r\n\r\n");
  if (s.event != Event::kError && LLHTTP_VERSION_MAJOR < 9) {
    GTEST_SKIP() << "known defect of llhttp " << LLHTTP_VERSION_MAJOR << "." << LLHTTP_VERSION_MINOR
                 << " (Debian 12): the two bytes after chunk data are not checked for CRLF";
  }
  EXPECT_EQ(s.event, Event::kError) << event_name(s.event);
  EXPECT_EQ(parser_.error(), ParseError::kMalformed);
}

// RFC 9112 7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ).
// Several extensions with values on one chunk are valid and must be ignored, not rejected.
TEST_F(HttpParserTest, ConformanceSeveralChunkExtensionsWithValues) {
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  const std::string body = "A;a=1;b=2\r\n0123456789\r\n0\r\n\r\n";
  Step s = feed(body);
  if (s.event == Event::kError && LLHTTP_VERSION_MAJOR < 9) {
    GTEST_SKIP() << "known defect of llhttp " << LLHTTP_VERSION_MAJOR << "." << LLHTTP_VERSION_MINOR
                 << " (Debian 12): a second chunk extension with a value is rejected (400)";
  }
  EXPECT_EQ(s.event, Event::kMessageComplete)
      << event_name(s.event) << ": " << parser_.error_reason();
  EXPECT_EQ(s.consumed, body.size());
  EXPECT_EQ(sink_.body, "0123456789");
}

}  // namespace
}  // namespace ringest::http

namespace ringest::http {
namespace {

// Splice mode: body bytes that bypass the parser are accounted with skip_body(); a feed of 0
// bytes then ends the message, and the next request parses normally.
TEST(HttpParserSkipBody, SplicedBytesEndTheMessageAndTheNextRequestParses) {
  char arena[1024];
  Header headers[8];
  HttpParser parser;
  parser.init(arena, sizeof arena, headers, 8, 128);
  std::string head = "PATCH /files/x HTTP/1.1\r\nContent-Length: 10\r\n\r\n";
  HttpParser::Step step = parser.feed(head.data(), head.size(), nullptr);
  ASSERT_EQ(step.event, HttpParser::Event::kHeadComplete);
  RecordingSink sink;
  step = parser.feed("abc", 3, &sink);
  EXPECT_EQ(step.event, HttpParser::Event::kNeedMore);
  EXPECT_EQ(sink.body, "abc");
  EXPECT_EQ(parser.body_remaining(), 7u);
  parser.skip_body(4);
  EXPECT_EQ(parser.body_remaining(), 3u);
  step = parser.feed("", 0, &sink);
  EXPECT_EQ(step.event, HttpParser::Event::kNeedMore);
  parser.skip_body(3);
  EXPECT_EQ(parser.body_remaining(), 0u);
  step = parser.feed("", 0, &sink);
  EXPECT_EQ(step.event, HttpParser::Event::kMessageComplete);
  std::string next = "HEAD /files/y HTTP/1.1\r\nHost: h\r\n\r\n";
  step = parser.feed(next.data(), next.size(), nullptr);
  ASSERT_EQ(step.event, HttpParser::Event::kHeadComplete);
  EXPECT_EQ(parser.head().target, "/files/y");
}

TEST(HttpParserSkipBody, ChunkedBodiesHaveNoRemainingCount) {
  char arena[1024];
  Header headers[8];
  HttpParser parser;
  parser.init(arena, sizeof arena, headers, 8, 128);
  std::string head = "PATCH /files/x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  ASSERT_EQ(parser.feed(head.data(), head.size(), nullptr).event,
            HttpParser::Event::kHeadComplete);
  EXPECT_EQ(parser.body_remaining(), 0u);
}

}  // namespace
}  // namespace ringest::http

// ---------------------------------------------------------------------------------------------
// Trailers. Found by tests/fuzz/http_parser_fuzz.cc: trailer fields after a chunked body were
// appended to head() in the middle of the body (RFC 9110 6.5.1: never merge them into the
// header section), and counted against what the head had left of max_headers and the arena,
// so a legitimate trailer after a full head failed the request with "too many headers".

namespace ringest::http {
namespace {

TEST_F(HttpParserTest, TrailersAreNotMergedIntoTheHead) {
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n");
  ASSERT_EQ(parser_.head().header_count, 2u);
  Step s = feed("3\r\nabc\r\n0\r\nUpload-Offset: 7\r\nX-A: 2\r\n");
  EXPECT_EQ(s.event, Event::kNeedMore);
  // The trailers have been parsed; the head is still the head.
  EXPECT_EQ(parser_.head().header_count, 2u);
  EXPECT_FALSE(parser_.head().has("Upload-Offset"));
  EXPECT_EQ(parser_.head().get("X-A"), "1");
  s = feed("\r\n");
  EXPECT_EQ(s.event, Event::kMessageComplete) << parser_.error_reason();
  EXPECT_EQ(sink_.body, "abc");
}

// One trailer field the caller names is kept (tus checksum-trailer), whatever its case, fed in
// pieces; a second one, or one longer than the capture, is kInvalid; nothing is kept unasked.
TEST_F(HttpParserTest, ANamedTrailerIsCaptured) {
  const std::string head = "POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  expect_head(head);
  parser_.capture_trailer("Upload-Checksum");
  std::string rest = "3\r\nabc\r\n0\r\nUpload-Checksumx: no\r\nupload-CHECKSUM: sha1 AbC= \r\nX: y\r\n\r\n";
  size_t consumed = 0;
  Step s = feed_until_event(rest, 3, &consumed);
  ASSERT_EQ(s.event, Event::kMessageComplete) << parser_.error_reason();
  EXPECT_EQ(parser_.trailer_captured(), HttpParser::Captured::kValue);
  EXPECT_EQ(parser_.captured_trailer(), "sha1 AbC=");

  expect_head(head);  // a new message forgets it until asked again
  EXPECT_EQ(parser_.trailer_captured(), HttpParser::Captured::kNone);
  s = feed("0\r\nUpload-Checksum: sha1 x\r\n\r\n");
  ASSERT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(parser_.trailer_captured(), HttpParser::Captured::kNone);

  expect_head(head);
  parser_.capture_trailer("Upload-Checksum");
  s = feed("0\r\nUpload-Checksum: a\r\nUpload-Checksum: a\r\n\r\n");
  ASSERT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(parser_.trailer_captured(), HttpParser::Captured::kInvalid);

  expect_head(head);
  parser_.capture_trailer("Upload-Checksum");
  s = feed("0\r\nUpload-Checksum: " + repeat('v', HttpParser::kTrailerCaptureBytes + 1) +
           "\r\n\r\n");
  ASSERT_EQ(s.event, Event::kMessageComplete);
  EXPECT_EQ(parser_.trailer_captured(), HttpParser::Captured::kInvalid);
}

TEST_F(HttpParserTest, TrailersAfterAFullHeadGetTheirOwnBudget) {
  std::string head = "POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n";
  for (uint32_t i = 1; i < kMaxHeaders; ++i) head += "X-" + std::to_string(i) + ": v\r\n";
  expect_head(head + "\r\n");
  ASSERT_EQ(parser_.head().header_count, kMaxHeaders);
  std::string trailers;
  for (uint32_t i = 0; i < kMaxHeaders; ++i) trailers += "T-" + std::to_string(i) + ": v\r\n";
  Step s = feed("0\r\n" + trailers + "\r\n");
  EXPECT_EQ(s.event, Event::kMessageComplete) << parser_.error_reason();
  EXPECT_TRUE(parser_.between_messages());
}

TEST_F(HttpParserTest, TooManyTrailerFields) {
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  std::string trailers;
  for (uint32_t i = 0; i <= kMaxHeaders; ++i) trailers += "T-" + std::to_string(i) + ": v\r\n";
  Step s = feed("0\r\n" + trailers + "\r\n");
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kTooManyHeaders);
  EXPECT_STREQ(parser_.error_reason(), "too many trailer fields");
}

TEST_F(HttpParserTest, TrailerSectionTooLarge) {
  expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
  // Fed in pieces: the budget holds across feeds.
  std::string body = "0\r\nT: " + repeat('v', kMaxHeadBytes) + "\r\n\r\n";
  size_t consumed = 0;
  Step s = feed_until_event(body, 100, &consumed);
  EXPECT_EQ(s.event, Event::kError);
  EXPECT_EQ(parser_.error(), ParseError::kHeadTooLarge);
  EXPECT_STREQ(parser_.error_reason(), "trailer section too large");
}

TEST_F(HttpParserTest, TrailerFieldNamesAreTokens) {
  for (std::string_view trailer : {"Bad Name: v\r\n", ": v\r\n", "T\x01: v\r\n"}) {
    parser_.reset();
    sink_.clear();
    expect_head("POST /f HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    Step s = feed("0\r\n" + std::string(trailer) + "\r\n");
    EXPECT_EQ(s.event, Event::kError) << ::testing::PrintToString(std::string(trailer));
    EXPECT_EQ(parser_.error(), ParseError::kMalformed) << parser_.error_reason();
  }
}

}  // namespace
}  // namespace ringest::http

namespace ringest::http {
namespace {

TEST(HttpParserSkipBody, AWholeBodySplicedWithoutAnyFedByteStillEnds) {
  // The real splice case: the head came alone, every body byte bypassed the parser.
  char arena[1024];
  Header headers[8];
  HttpParser parser;
  parser.init(arena, sizeof arena, headers, 8, 128);
  std::string head = "PATCH /files/x HTTP/1.1\r\nContent-Length: 8\r\n\r\n";
  ASSERT_EQ(parser.feed(head.data(), head.size(), nullptr).event,
            HttpParser::Event::kHeadComplete);
  RecordingSink sink;
  EXPECT_EQ(parser.feed("", 0, &sink).event, HttpParser::Event::kNeedMore);
  parser.skip_body(8);
  EXPECT_EQ(parser.feed("", 0, &sink).event, HttpParser::Event::kMessageComplete);
  EXPECT_TRUE(sink.body.empty());
  std::string next = "OPTIONS /files/ HTTP/1.1\r\n\r\n";
  HttpParser::Step step = parser.feed(next.data(), next.size(), nullptr);
  ASSERT_EQ(step.event, HttpParser::Event::kHeadComplete);
  EXPECT_EQ(parser.head().target, "/files/");
}

}  // namespace
}  // namespace ringest::http
