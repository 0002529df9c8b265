// Pure tus header parsing: the checks every PATCH/POST head passes before a body byte is read.
#include <benchmark/benchmark.h>

#include <array>
#include <string>
#include <string_view>

#include "http/tus/tus_headers.h"

namespace ringest::tus {
namespace {

// Upload-Offset / Upload-Length values a server sees: start, one chunk, 1 GiB, 50 GiB, max.
constexpr std::array<std::string_view, 5> kOffsets = {"0", "262144", "1073741824", "53687091200",
                                                      "9223372036854775807"};

// tus-js-client's metadata for a file: filename, filetype, relativePath (3 pairs).
constexpr std::string_view kMetadata =
    "filename bXlfdmFjYXRpb25fdmlkZW8ubXA0,filetype dmlkZW8vbXA0,relativePath bnVsbA==";

// Content-Type of a PATCH body: as sent by tus-js-client, and with a parameter and other case.
constexpr std::array<std::string_view, 2> kContentTypes = {
    "application/offset+octet-stream", "Application/Offset+Octet-Stream; charset=binary"};

template <size_t N>
int64_t total_bytes(const std::array<std::string_view, N>& values) {
  int64_t n = 0;
  for (std::string_view v : values) n += static_cast<int64_t>(v.size());
  return n;
}

// One iteration parses all five values.
void BM_Tus_ParseOffset(benchmark::State& state) {
  for (auto _ : state) {
    for (std::string_view v : kOffsets) {
      benchmark::DoNotOptimize(v);
      auto parsed = parse_offset(v);
      if (!parsed) {
        state.SkipWithError("parse_offset rejected a valid value");
        return;
      }
      benchmark::DoNotOptimize(*parsed);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kOffsets.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(kOffsets));
  state.SetLabel("items = values");
}
BENCHMARK(BM_Tus_ParseOffset);

void BM_Tus_ValidMetadata(benchmark::State& state) {
  for (auto _ : state) {
    std::string_view v = kMetadata;
    benchmark::DoNotOptimize(v);
    if (!valid_metadata(v)) {
      state.SkipWithError("valid_metadata rejected valid metadata");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(kMetadata.size()));
  state.SetLabel(std::to_string(kMetadata.size()) + " B, 3 pairs");
}
BENCHMARK(BM_Tus_ValidMetadata);

// One iteration checks both values.
void BM_Tus_IsOffsetContentType(benchmark::State& state) {
  for (auto _ : state) {
    for (std::string_view v : kContentTypes) {
      benchmark::DoNotOptimize(v);
      if (!is_offset_content_type(v)) {
        state.SkipWithError("is_offset_content_type rejected a valid value");
        return;
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(kContentTypes.size()));
  state.SetBytesProcessed(state.iterations() * total_bytes(kContentTypes));
  state.SetLabel("items = values");
}
BENCHMARK(BM_Tus_IsOffsetContentType);

}  // namespace
}  // namespace ringest::tus
