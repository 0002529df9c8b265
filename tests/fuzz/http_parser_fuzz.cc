// Fuzzes HttpParser (http/http_parser.*) the way a connection drives it: an arbitrary byte
// stream cut into pieces at fuzzer-chosen points, each piece in its own exactly-sized heap
// buffer that is freed once parsed, fed with feed() until used up, under small head limits so
// the 414 and 431 paths are reached. Properties, on every input:
//  - no crash, no undefined behaviour, no access outside the buffers (ASan, UBSan);
//  - feed() never reports more bytes consumed than it was given, and kNeedMore means all;
//  - a head (target, header names and values) lies in the arena, within every limit, and stays
//    intact and readable through the body, after the pieces that carried it are freed;
//  - body spans lie inside the bytes of the feed() call that produced them; with a
//    Content-Length (which excludes chunked) the body never passes it, and a complete message
//    has exactly that many bytes;
//  - every error maps to a status a client can be sent, and errors stick until reset();
//  - the parser makes progress, and init(), feed(), reset() and capture_trailer() never
//    allocate;
//  - trailer capture (the connection keeps one named trailer field, tus Upload-Checksum): asked
//    for after each head, a message ends with nothing captured unless it was chunked and a
//    name was asked for; a captured value is at most kTrailerCaptureBytes, has no whitespace at
//    either end and no control character, and is a copy of bytes sent after the head (with
//    obs-fold line breaks taken out).
// And the input once more as the makings of a chunked request whose trailer fields are known
// (check_capture): the capture is exactly what the field sent, kNone without it, kInvalid when
// it came twice or too long; the next message starts with nothing captured.
//
// Input: 7 control bytes, then the stream.
//   [0] max_head_bytes = kHeadLimits[b % 8]    [1] max_headers = b % 24
//   [2] max_target_bytes = kTargetLimits[b % 6]
//   [3] body sink: b % 4 == 0 none (every body byte is refused), 1 refuses a span that would
//       pass (b / 4) * 8 bytes, otherwise accepts everything
//   [4] [5] seed of the cut points and of whether to reset() and go on after an error
//   [6] trailer to capture after each head: kCaptureNames[b % 3] (empty: none)
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/check.h"
#include "http/http_parser.h"
#include "tests/fuzz/fuzz_support.h"

namespace ringest::http {
namespace {

using Event = HttpParser::Event;
using fuzz::AllocationFreeScope;

constexpr size_t kControlBytes = 7;
constexpr std::string_view kCaptureNames[] = {"", "Upload-Checksum", "X-T"};
constexpr size_t kCapture = HttpParser::kTrailerCaptureBytes;
constexpr uint32_t kHeadLimits[] = {24, 64, 128, 256, 512, 1024, 4096, 16384};
constexpr uint32_t kTargetLimits[] = {1, 8, 32, 128, 1024, 8192};

bool within(const void* inner, size_t inner_len, const void* outer, size_t outer_len) {
  auto i = reinterpret_cast<uintptr_t>(inner);
  auto o = reinterpret_cast<uintptr_t>(outer);
  return i >= o && inner_len <= outer_len && i - o <= outer_len - inner_len;
}

bool is_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Reads every byte of `v`, so ASan reports a view into freed or foreign memory.
uint32_t touch(std::string_view v) {
  uint32_t sum = 0;
  for (char c : v) sum = sum * 31 + static_cast<uint8_t>(c);
  return sum;
}

class CheckingSink final : public BodySink {
 public:
  bool on_body(const char* data, size_t len) override {
    RINGEST_CHECK(within(data, len, feed_data_, feed_len_));
    touch(std::string_view(data, len));
    if (refuse_over_ >= 0 && message_body_bytes_ + len > static_cast<uint64_t>(refuse_over_)) {
      refused_ = true;
      return false;
    }
    message_body_bytes_ += len;
    if (has_bound_) RINGEST_CHECK(message_body_bytes_ <= bound_);
    return true;
  }

  void begin_feed(const char* data, size_t len) {
    feed_data_ = data;
    feed_len_ = len;
  }
  void begin_message(bool has_bound, uint64_t bound) {
    has_bound_ = has_bound;
    bound_ = bound;
    message_body_bytes_ = 0;
    refused_ = false;
  }

  int64_t refuse_over_ = -1;  // >= 0: refuse a span that would pass this many body bytes
  bool refused_ = false;
  bool has_bound_ = false;
  uint64_t bound_ = 0;
  uint64_t message_body_bytes_ = 0;

 private:
  const char* feed_data_ = nullptr;
  size_t feed_len_ = 0;
};

// The head as it was at kHeadComplete, to prove the arena is left alone during the body.
struct HeadSnapshot {
  std::string target;
  std::vector<std::string> fields;  // name, value, name, value, ...
};

HeadSnapshot check_head(const RequestHead& head, const char* arena, uint32_t max_head_bytes,
                        uint32_t max_headers, uint32_t max_target_bytes) {
  HeadSnapshot snapshot;
  RINGEST_CHECK(head.header_count <= max_headers);
  RINGEST_CHECK(head.target.size() <= max_target_bytes);
  RINGEST_CHECK(!head.target.empty());
  RINGEST_CHECK(within(head.target.data(), head.target.size(), arena, max_head_bytes));
  touch(head.target);
  snapshot.target = std::string(head.target);
  for (uint32_t i = 0; i < head.header_count; ++i) {
    const Header& h = head.headers[i];
    RINGEST_CHECK(!h.name.empty());
    RINGEST_CHECK(within(h.name.data(), h.name.size(), arena, max_head_bytes));
    for (char c : h.name) RINGEST_CHECK(is_token_char(c));
    if (!h.value.empty()) {
      RINGEST_CHECK(within(h.value.data(), h.value.size(), arena, max_head_bytes));
      RINGEST_CHECK(h.value.back() != ' ' && h.value.back() != '\t');
    }
    touch(h.value);
    RINGEST_CHECK(head.has(h.name));
    snapshot.fields.emplace_back(h.name);
    snapshot.fields.emplace_back(h.value);
  }
  // RFC 9112 6.3: Transfer-Encoding with Content-Length is how requests are smuggled.
  RINGEST_CHECK(!(head.chunked && head.has_content_length));
  RINGEST_CHECK(head.has_content_length || head.content_length == 0);
  RINGEST_CHECK(head.has_body() == (head.chunked || head.content_length > 0));
  return snapshot;
}

void check_unchanged(const RequestHead& head, const HeadSnapshot& snapshot) {
  RINGEST_CHECK(head.target == snapshot.target);
  RINGEST_CHECK(head.header_count * 2 == snapshot.fields.size());
  for (uint32_t i = 0; i < head.header_count; ++i) {
    RINGEST_CHECK(head.headers[i].name == snapshot.fields[2 * i]);
    RINGEST_CHECK(head.headers[i].value == snapshot.fields[2 * i + 1]);
  }
}

size_t choose_piece(fuzz::Choices& choices, size_t remaining) {
  size_t piece;
  switch (choices.below(4)) {
    case 0:
      piece = 1;
      break;
    case 1:
      piece = 1 + choices.below(8);
      break;
    case 2:
      piece = 1 + choices.below(128);
      break;
    default:
      piece = remaining;
      break;
  }
  return piece < remaining ? piece : remaining;
}

// The bytes with obs-fold line breaks (CRLF, or a bare LF, before SP or HTAB) taken out: what a
// field value spread over folded lines amounts to.
std::string unfolded(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto fold_at = [&](size_t j) {
      return j < bytes.size() && (bytes[j] == ' ' || bytes[j] == '\t');
    };
    if (bytes[i] == '\r' && i + 1 < bytes.size() && bytes[i + 1] == '\n' && fold_at(i + 2)) {
      ++i;
      continue;
    }
    if (bytes[i] == '\n' && fold_at(i + 1)) continue;
    out.push_back(bytes[i]);
  }
  return out;
}

bool is_ows(char c) { return c == ' ' || c == '\t'; }

// A message is over: what its trailer capture may hold, from the bytes sent after its head.
void check_captured(const HttpParser& parser, std::string_view name, bool chunked,
                    std::string_view sent) {
  HttpParser::Captured captured = parser.trailer_captured();
  if (name.empty() || !chunked) {
    RINGEST_CHECK(captured == HttpParser::Captured::kNone);
    return;
  }
  if (captured != HttpParser::Captured::kValue) return;
  std::string_view value = parser.captured_trailer();
  RINGEST_CHECK(value.size() <= kCapture);
  RINGEST_CHECK(value.empty() || (!is_ows(value.front()) && !is_ows(value.back())));
  for (char c : value) {
    auto b = static_cast<uint8_t>(c);
    RINGEST_CHECK(b == '\t' || (b >= 0x20 && b != 0x7f));
  }
  RINGEST_CHECK(unfolded(sent).find(value) != std::string::npos);
}

class AcceptingSink final : public BodySink {
 public:
  bool on_body(const char*, size_t) override { return true; }
};

// The input as the makings of a chunked request whose trailer fields are known: names near
// Upload-Checksum (its case varied, one letter short or long, other fields), values of
// fuzzer-chosen bytes with whitespace around them and obs-folds inside, sometimes with bytes a
// field value may not hold. Fed in fuzzer-chosen pieces after capture_trailer(), with a second
// request pipelined behind it. Where every byte is allowed the message must complete, and the
// capture must be: kNone without the field, kInvalid when it came twice or when its value
// (leading whitespace dropped) passes kTrailerCaptureBytes, else exactly the value: folds
// taken out, whitespace at both ends dropped.
void check_capture(const uint8_t* data, size_t size) {
  static constexpr std::string_view kNames[] = {
      "Upload-Checksum",   "upload-checksum",  "UPLOAD-CHECKSUM",
      "uPLOAD-cHECKSUm",   "Upload-Checksu",   "Upload-Checksums",
      "X-Upload-Checksum", "Upload-Checksum-", "X-T"};
  constexpr std::string_view kWhitespace[] = {"", " ", "\t", "  ", " \t "};
  FuzzedDataProvider in(data, size);
  const bool ask = in.ConsumeIntegralInRange<int>(0, 7) != 0;
  std::string text =
      "PATCH /files/x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
      "Trailer: Upload-Checksum\r\n\r\n";
  for (int chunks = in.ConsumeIntegralInRange<int>(0, 3); chunks > 0; --chunks) {
    size_t n = in.ConsumeIntegralInRange<size_t>(1, 40);
    char line[16];
    std::snprintf(line, sizeof line, "%zx\r\n", n);
    text += line + std::string(n, 'b') + "\r\n";
  }
  text += "0\r\n";
  int matches = 0;
  std::string raw;  // the matching field's value as llhttp hands it over: folds taken out
  bool any_bad = false;
  for (int fields = in.ConsumeIntegralInRange<int>(0, 5); fields > 0; --fields) {
    std::string_view name = kNames[in.ConsumeIntegralInRange<size_t>(0, std::size(kNames) - 1)];
    bool keep_bad = in.ConsumeIntegralInRange<int>(0, 15) == 0;
    std::string line = std::string(name) + ":";
    std::string value;
    std::string lead(kWhitespace[in.ConsumeIntegralInRange<size_t>(0, std::size(kWhitespace) - 1)]);
    line += lead;
    value += lead;
    for (int part = in.ConsumeIntegralInRange<int>(1, 3), i = 0; i < part; ++i) {
      if (i > 0) {  // obs-fold: the line break goes, the whitespace after it stays
        std::string fold(
            kWhitespace[in.ConsumeIntegralInRange<size_t>(1, std::size(kWhitespace) - 1)]);
        line += "\r\n" + fold;
        value += fold;
      }
      std::string bytes = in.ConsumeRandomLengthString(kCapture + 16);
      for (char& c : bytes) {
        auto b = static_cast<uint8_t>(c);
        bool bad = (b < 0x20 && b != '\t') || b == 0x7f;
        if (bad && !keep_bad) c = 'x';
        any_bad |= bad && keep_bad;
      }
      line += bytes;
      value += bytes;
    }
    std::string trail(
        kWhitespace[in.ConsumeIntegralInRange<size_t>(0, std::size(kWhitespace) - 1)]);
    line += trail + "\r\n";
    value += trail;
    text += line;
    if (equals_ignore_case(name, "Upload-Checksum")) {
      ++matches;
      raw = value;
    }
  }
  text += "\r\n";
  const size_t first_message_bytes = text.size();
  text += "GET /healthz HTTP/1.1\r\nHost: h\r\n\r\n";

  // The expectation.
  HttpParser::Captured want = HttpParser::Captured::kNone;
  std::string want_value;
  if (ask && matches >= 2) want = HttpParser::Captured::kInvalid;
  if (ask && matches == 1) {
    size_t begin = raw.find_first_not_of(" \t");
    std::string_view v =
        begin == std::string::npos ? std::string_view{} : std::string_view(raw).substr(begin);
    if (v.size() > kCapture) {
      want = HttpParser::Captured::kInvalid;
    } else {
      while (!v.empty() && is_ows(v.back())) v.remove_suffix(1);
      want = HttpParser::Captured::kValue;
      want_value = v;
    }
  }

  constexpr uint32_t kArenaBytes = 16384;
  constexpr uint32_t kMaxHeaders = 32;
  std::unique_ptr<char[]> arena(new char[kArenaBytes]);
  std::unique_ptr<Header[]> headers(new Header[kMaxHeaders]);
  HttpParser parser;
  AcceptingSink sink;
  fuzz::Choices choices(in.ConsumeIntegral<uint64_t>());
  int messages = 0;
  bool failed = false;
  {
    AllocationFreeScope no_allocation;
    parser.init(arena.get(), kArenaBytes, headers.get(), kMaxHeaders, 64);
    for (size_t pos = 0; pos < text.size() && !failed;) {
      size_t piece = choose_piece(choices, text.size() - pos);
      size_t off = 0;
      bool empty_feed_due = false;
      while ((off < piece || empty_feed_due) && !failed) {
        HttpParser::Step step = parser.feed(text.data() + pos + off, piece - off, &sink);
        off += step.consumed;
        empty_feed_due = false;
        if (step.event == Event::kHeadComplete) {
          // What the tus handler does for a chunked PATCH; the pipelined GET asks for nothing
          // and must find nothing.
          if (messages == 0 && ask) parser.capture_trailer("Upload-Checksum");
          RINGEST_CHECK(parser.trailer_captured() == HttpParser::Captured::kNone);
          empty_feed_due = true;
        } else if (step.event == Event::kMessageComplete) {
          ++messages;
          if (messages == 1 && !any_bad) {
            RINGEST_CHECK(pos + off == first_message_bytes);
            RINGEST_CHECK(parser.trailer_captured() == want);
            if (want == HttpParser::Captured::kValue) {
              RINGEST_CHECK(parser.captured_trailer() == want_value);
            }
          } else if (messages == 1) {  // a CR or LF in a value may end fields, or the message
            RINGEST_CHECK(parser.captured_trailer().size() <= kCapture);
          } else {  // asked for nothing: whatever came before, nothing captured
            RINGEST_CHECK(parser.trailer_captured() == HttpParser::Captured::kNone);
          }
        } else if (step.event == Event::kError) {
          failed = true;
        } else {
          break;  // kNeedMore: everything given was used
        }
      }
      pos += piece;
    }
  }
  // Only bytes a field value may not hold make the request fail.
  RINGEST_CHECK(any_bad || (!failed && messages == 2));
}

}  // namespace
}  // namespace ringest::http

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ringest::fuzz::install_allocation_hooks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringest::http;
  if (size < kControlBytes) return 0;
  const uint32_t max_head_bytes = kHeadLimits[data[0] % 8];
  const uint32_t max_headers = data[1] % 24;
  const uint32_t max_target_bytes = kTargetLimits[data[2] % 6];
  ringest::fuzz::Choices choices(static_cast<uint64_t>(data[4]) | uint64_t{data[5]} << 8);
  CheckingSink sink;
  BodySink* sink_for_feed = data[3] % 4 == 0 ? nullptr : &sink;
  if (data[3] % 4 == 1) sink.refuse_over_ = (data[3] / 4) * 8;
  const std::string_view capture_name = kCaptureNames[data[6] % 3];
  data += kControlBytes;
  size -= kControlBytes;

  // Exactly sized, so that ASan sees a write past either limit.
  std::unique_ptr<char[]> arena(new char[max_head_bytes]);
  std::unique_ptr<Header[]> headers(new Header[max_headers]);
  HttpParser parser;
  {
    AllocationFreeScope no_allocation;
    parser.init(arena.get(), max_head_bytes, headers.get(), max_headers, max_target_bytes);
  }
  RINGEST_CHECK(parser.between_messages());

  uint64_t head_bytes = 0;  // bytes of the current head consumed so far
  HeadSnapshot snapshot;
  bool chunked = false;         // the current message's body is chunked
  std::string sent_after_head;  // the current message's bytes after its head
  bool stopped = false;
  for (size_t pos = 0; pos < size && !stopped;) {
    size_t piece = choose_piece(choices, size - pos);
    std::unique_ptr<char[]> buffer(new char[piece]);
    std::memcpy(buffer.get(), data + pos, piece);
    pos += piece;
    size_t off = 0;
    bool empty_feed_due = false;  // after kHeadComplete: feed() again, even with 0 bytes
    int idle_feeds = 0;
    while ((off < piece || empty_feed_due) && !stopped) {
      const char* p = buffer.get() + off;
      size_t n = piece - off;
      bool was_in_head = parser.in_head();
      if (!was_in_head) check_unchanged(parser.head(), snapshot);
      sink.begin_feed(p, n);
      HttpParser::Step step;
      {
        AllocationFreeScope no_allocation;
        step = parser.feed(p, n, sink_for_feed);
      }
      RINGEST_CHECK(step.consumed <= n);
      if (!was_in_head) sent_after_head.append(p, step.consumed);
      off += step.consumed;
      empty_feed_due = false;
      idle_feeds = step.consumed == 0 ? idle_feeds + 1 : 0;
      RINGEST_CHECK(idle_feeds <= 2);  // at most kMessageComplete, then kNeedMore, on 0 bytes
      switch (step.event) {
        case Event::kNeedMore:
          RINGEST_CHECK(step.consumed == n);
          if (was_in_head) {
            head_bytes += n;
            RINGEST_CHECK(head_bytes < max_head_bytes);
            RINGEST_CHECK(parser.in_head());
          } else {
            RINGEST_CHECK(!parser.in_head());
          }
          break;
        case Event::kHeadComplete: {
          RINGEST_CHECK(was_in_head && !parser.in_head());
          head_bytes += step.consumed;
          RINGEST_CHECK(head_bytes <= max_head_bytes);
          const RequestHead& head = parser.head();
          snapshot = check_head(head, arena.get(), max_head_bytes, max_headers, max_target_bytes);
          sink.begin_message(head.has_content_length, head.content_length);
          chunked = head.chunked;
          sent_after_head.clear();
          RINGEST_CHECK(parser.trailer_captured() == HttpParser::Captured::kNone);
          if (!capture_name.empty()) {
            AllocationFreeScope no_allocation;
            parser.capture_trailer(capture_name);
          }
          empty_feed_due = true;
          break;
        }
        case Event::kMessageComplete:
          RINGEST_CHECK(!was_in_head && parser.between_messages());
          if (sink.has_bound_) RINGEST_CHECK(sink.message_body_bytes_ == sink.bound_);
          check_captured(parser, capture_name, chunked, sent_after_head);
          head_bytes = 0;
          break;
        case Event::kError: {
          ParseError error = parser.error();
          RINGEST_CHECK(error != ParseError::kNone);
          int status = status_for(error);
          RINGEST_CHECK(status == 400 || status == 414 || status == 431 || status == 501);
          if (error == ParseError::kBodyRefused) {
            RINGEST_CHECK(!was_in_head && (sink_for_feed == nullptr || sink.refused_));
          }
          RINGEST_CHECK(parser.error_reason() != nullptr && parser.error_reason()[0] != '\0');
          {
            AllocationFreeScope no_allocation;
            HttpParser::Step again = parser.feed(p + step.consumed, n - step.consumed, &sink);
            RINGEST_CHECK(again.event == Event::kError && again.consumed == 0);
            RINGEST_CHECK(parser.error() == error);
          }
          if (choices.below(2) == 0) {
            stopped = true;
          } else {
            {
              AllocationFreeScope no_allocation;
              parser.reset();
            }
            RINGEST_CHECK(parser.between_messages() && parser.error() == ParseError::kNone);
            head_bytes = 0;
            idle_feeds = 0;
            if (off < piece) ++off;  // go on after the byte that failed, not at it again
          }
          break;
        }
      }
      if (step.event == Event::kNeedMore) break;  // everything given was used
    }
  }
  check_capture(data, size);
  return 0;
}
