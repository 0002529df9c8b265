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
//  - the parser makes progress, and init(), feed() and reset() never allocate.
//
// Input: 6 control bytes, then the stream.
//   [0] max_head_bytes = kHeadLimits[b % 8]    [1] max_headers = b % 24
//   [2] max_target_bytes = kTargetLimits[b % 6]
//   [3] body sink: b % 4 == 0 none (every body byte is refused), 1 refuses a span that would
//       pass (b / 4) * 8 bytes, otherwise accepts everything
//   [4] [5] seed of the cut points and of whether to reset() and go on after an error
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

constexpr size_t kControlBytes = 6;
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
          empty_feed_due = true;
          break;
        }
        case Event::kMessageComplete:
          RINGEST_CHECK(!was_in_head && parser.between_messages());
          if (sink.has_bound_) RINGEST_CHECK(sink.message_body_bytes_ == sink.bound_);
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
  return 0;
}
