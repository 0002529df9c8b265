// HTTP request heads through HttpParser, the way HttpConnection drives it: feed the head until
// kHeadComplete, then feed again to get the body and kMessageComplete; the parser is then
// between messages and takes the next request of a kept-alive connection. Bytes/s counts head
// bytes only (the PATCH body is fed through a no-op sink in one call, as from one receive).
#include <benchmark/benchmark.h>

#include <string>
#include <string_view>
#include <vector>

#include "http/http_parser.h"

namespace ringest::http {
namespace {

// Limits as ringestd's defaults (Config::max_head_bytes, max_headers; connection.cc's target).
constexpr uint32_t kMaxHeadBytes = 8192;
constexpr uint32_t kMaxHeaders = 64;
constexpr uint32_t kMaxTargetBytes = 2048;
constexpr size_t kPatchBodyBytes = 256 * 1024;

// A tus-js-client style PATCH: 8 headers, ~300 bytes.
constexpr std::string_view kPatchHead =
    "PATCH /files/3f2a9c0e4b7d4e1f8a6b5c4d3e2f1a0b HTTP/1.1\r\n"
    "Host: uploads.example.com:8080\r\n"
    "User-Agent: tus-js-client/4.1.0 (Node.js v18.19.0)\r\n"
    "Accept: */*\r\n"
    "Tus-Resumable: 1.0.0\r\n"
    "Upload-Offset: 1073741824\r\n"
    "Content-Type: application/offset+octet-stream\r\n"
    "Content-Length: 262144\r\n"
    "Connection: keep-alive\r\n"
    "\r\n";
constexpr uint32_t kPatchHeaders = 8;

// A resume probe: "which offset do you have?"
constexpr std::string_view kHeadRequest =
    "HEAD /files/3f2a9c0e4b7d4e1f8a6b5c4d3e2f1a0b HTTP/1.1\r\n"
    "Host: uploads.example.com:8080\r\n"
    "User-Agent: tus-js-client/4.1.0 (Node.js v18.19.0)\r\n"
    "Accept: */*\r\n"
    "Tus-Resumable: 1.0.0\r\n"
    "\r\n";
constexpr uint32_t kHeadRequestHeaders = 4;

class NullSink final : public BodySink {
 public:
  bool on_body(const char*, size_t len) override {
    bytes += len;
    return true;
  }
  size_t bytes = 0;
};

struct Rig {
  char arena[kMaxHeadBytes];
  Header headers[kMaxHeaders];
  HttpParser parser;
  NullSink sink;
  Rig() { parser.init(arena, kMaxHeadBytes, headers, kMaxHeaders, kMaxTargetBytes); }
};

const std::vector<char>& patch_body() {
  static const std::vector<char> body(kPatchBodyBytes, 'x');
  return body;
}

bool expect(benchmark::State& state, const HttpParser::Step& step, HttpParser::Event event,
            size_t consumed) {
  if (step.event == event && step.consumed == consumed) return true;
  state.SkipWithError("unexpected parser step");
  return false;
}

// Feeds the PATCH body and checks that the message completed and the head looked right.
bool finish_patch(benchmark::State& state, Rig& rig) {
  const RequestHead& head = rig.parser.head();
  if (head.header_count != kPatchHeaders || head.content_length != kPatchBodyBytes) {
    state.SkipWithError("PATCH head parsed wrongly");
    return false;
  }
  const std::vector<char>& body = patch_body();
  return expect(state, rig.parser.feed(body.data(), body.size(), &rig.sink),
                HttpParser::Event::kMessageComplete, body.size());
}

// Arg 0: keep-alive (next request on the same parser, as the server does between requests);
// arg 1: also reset() after each request (the server's cost per new connection).
void BM_HttpParse_PatchHead(benchmark::State& state) {
  Rig rig;
  const bool reset = state.range(0) != 0;
  for (auto _ : state) {
    if (!expect(state, rig.parser.feed(kPatchHead.data(), kPatchHead.size(), nullptr),
                HttpParser::Event::kHeadComplete, kPatchHead.size()))
      break;
    if (!finish_patch(state, rig)) break;
    if (reset) rig.parser.reset();
    benchmark::DoNotOptimize(rig.parser.head().header_count);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kPatchHead.size()));
  state.SetLabel(std::to_string(kPatchHead.size()) + " B head, 8 headers");
}
BENCHMARK(BM_HttpParse_PatchHead)->ArgName("reset")->Arg(0)->Arg(1);

void BM_HttpParse_HeadRequest(benchmark::State& state) {
  Rig rig;
  for (auto _ : state) {
    if (!expect(state, rig.parser.feed(kHeadRequest.data(), kHeadRequest.size(), nullptr),
                HttpParser::Event::kHeadComplete, kHeadRequest.size()))
      break;
    if (rig.parser.head().header_count != kHeadRequestHeaders) {
      state.SkipWithError("HEAD parsed wrongly");
      break;
    }
    // No body: the feed after the head completes the message.
    if (!expect(state, rig.parser.feed(kHeadRequest.data() + kHeadRequest.size(), 0, nullptr),
                HttpParser::Event::kMessageComplete, 0))
      break;
    benchmark::DoNotOptimize(rig.parser.head().header_count);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kHeadRequest.size()));
  state.SetLabel(std::to_string(kHeadRequest.size()) + " B head, 4 headers");
}
BENCHMARK(BM_HttpParse_HeadRequest);

// The PATCH head arriving in 3 receives, cut inside a header name and inside a header value,
// so tokens are stitched together in the arena.
void BM_HttpParse_PatchHead3Pieces(benchmark::State& state) {
  Rig rig;
  const size_t cut1 = kPatchHead.find("Agent") + 2;  // "User-Ag" | "ent: ..."
  const size_t cut2 = kPatchHead.find("1824");       // "Upload-Offset: 107374" | "1824"
  const std::string_view p1 = kPatchHead.substr(0, cut1);
  const std::string_view p2 = kPatchHead.substr(cut1, cut2 - cut1);
  const std::string_view p3 = kPatchHead.substr(cut2);
  for (auto _ : state) {
    if (!expect(state, rig.parser.feed(p1.data(), p1.size(), nullptr), HttpParser::Event::kNeedMore,
                p1.size()))
      break;
    if (!expect(state, rig.parser.feed(p2.data(), p2.size(), nullptr), HttpParser::Event::kNeedMore,
                p2.size()))
      break;
    if (!expect(state, rig.parser.feed(p3.data(), p3.size(), nullptr),
                HttpParser::Event::kHeadComplete, p3.size()))
      break;
    if (rig.parser.head().get("Upload-Offset") != "1073741824") {
      state.SkipWithError("split head parsed wrongly");
      break;
    }
    if (!finish_patch(state, rig)) break;
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kPatchHead.size()));
  state.SetLabel("cuts at " + std::to_string(cut1) + "/" + std::to_string(cut2));
}
BENCHMARK(BM_HttpParse_PatchHead3Pieces);

}  // namespace
}  // namespace ringest::http
