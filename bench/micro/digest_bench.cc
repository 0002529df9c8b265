// The cost of hashing upload bytes (engine/base/digest.h): GB/s of each tus checksum algorithm,
// of all five at once (a request announcing a checksum trailer hashes with every algorithm until
// the trailer names one), and of the whole-file CRC-32C that every upload pays (crc32c(), ISA-L),
// beside the hand-written SSE4.2 loop ISA-L replaced (a copy of 7572a7e's engine/base/crc32c.cc,
// kept here only for the comparison).
//
// One iteration = one buffer fed into a running digest, as UploadWriter::hash() feeds each slot
// before its write: 256 KiB (a full pool slot, the steady state of a large upload) and 4 KiB (a
// small write; per-call overheads show), both hot in cache, and 256 KiB slots read from DRAM.
// begin() and finish() are outside the loop; a tus request pays them once per request, not per
// slot. The CRCs are checked against a bitwise reference first, so a broken build fails instead
// of reporting a fast wrong answer.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

#include "engine/base/crc32c.h"
#include "engine/base/digest.h"

namespace ringest {
namespace {

constexpr int64_t kSlotBytes = 256 * 1024;  // one BufferPool slot (the server's default)
constexpr int64_t kSmallBytes = 4 * 1024;

std::vector<unsigned char> pattern(size_t n) {
  std::vector<unsigned char> out(n);
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<unsigned char>(x);
  }
  return out;
}

// Bitwise reflected CRC-32: the reference the fast versions must agree with.
constexpr uint32_t kPolyCrc32c = 0x82F63B78u;  // Castagnoli
constexpr uint32_t kPolyCrc32 = 0xEDB88320u;   // IEEE (gzip, zlib)

uint32_t crc_bitwise(uint32_t poly, const unsigned char* p, size_t n) {
  uint32_t crc = ~0u;
  while (n--) {
    crc ^= *p++;
    for (int k = 0; k < 8; ++k) crc = (crc & 1) ? (crc >> 1) ^ poly : crc >> 1;
  }
  return ~crc;
}

#if defined(__x86_64__)
// The CRC-32C of 7572a7e (engine/base/crc32c.cc before ISA-L): one _mm_crc32_u64 per 8 bytes,
// each depending on the last, so it runs at the instruction's latency, not its throughput.
__attribute__((target("sse4.2"))) uint32_t crc32c_sse42_loop(const void* data, size_t n,
                                                             uint32_t crc) {
  const auto* p = static_cast<const uint8_t*>(data);
  uint64_t c = ~crc;
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    c = _mm_crc32_u64(c, word);
    p += 8;
    n -= 8;
  }
  uint32_t c32 = static_cast<uint32_t>(c);
  while (n--) c32 = _mm_crc32_u8(c32, *p++);
  return ~c32;
}
#endif

void set_throughput(benchmark::State& state) {
  state.SetBytesProcessed(state.iterations() * state.range(0));
}

// A Digester with `algorithms` (Digester bits) fed one buffer per iteration.
void digest_set(benchmark::State& state, uint8_t algorithms) {
  const auto bytes = static_cast<size_t>(state.range(0));
  std::vector<unsigned char> buf = pattern(bytes);
  Digester d;
  d.begin_set(algorithms);
  for (auto _ : state) {
    d.update(buf.data(), bytes);
    benchmark::ClobberMemory();
  }
  d.reset();
  set_throughput(state);
}

void BM_Digest(benchmark::State& state, DigestAlgorithm algorithm) {
  // The CRCs against the bitwise reference; the SHA/MD5s are libcrypto's own (tested upstream
  // and by tests/unit/digest_test.cc against published vectors).
  if (algorithm == DigestAlgorithm::kCrc32c || algorithm == DigestAlgorithm::kCrc32) {
    std::vector<unsigned char> buf = pattern(static_cast<size_t>(state.range(0)));
    Digester d;
    d.begin(algorithm);
    d.update(buf.data(), buf.size());
    DigestValue v = d.finish(algorithm);
    uint32_t want = crc_bitwise(algorithm == DigestAlgorithm::kCrc32c ? kPolyCrc32c : kPolyCrc32,
                                buf.data(), buf.size());
    uint32_t got = (uint32_t{v.bytes[0]} << 24) | (uint32_t{v.bytes[1]} << 16) |
                   (uint32_t{v.bytes[2]} << 8) | v.bytes[3];
    if (got != want) {
      state.SkipWithError("the digest differs from the bitwise reference");
      return;
    }
  }
  digest_set(state, Digester::bit(algorithm));
}
BENCHMARK_CAPTURE(BM_Digest, sha1, DigestAlgorithm::kSha1)->Arg(kSlotBytes)->Arg(kSmallBytes);
BENCHMARK_CAPTURE(BM_Digest, sha256, DigestAlgorithm::kSha256)->Arg(kSlotBytes)->Arg(kSmallBytes);
BENCHMARK_CAPTURE(BM_Digest, md5, DigestAlgorithm::kMd5)->Arg(kSlotBytes)->Arg(kSmallBytes);
BENCHMARK_CAPTURE(BM_Digest, crc32, DigestAlgorithm::kCrc32)->Arg(kSlotBytes)->Arg(kSmallBytes);
BENCHMARK_CAPTURE(BM_Digest, crc32c, DigestAlgorithm::kCrc32c)->Arg(kSlotBytes)->Arg(kSmallBytes);

// The same 256 KiB updates, walking a 256 MiB area: each slot comes from DRAM, not from a cache
// that still holds it. In the server the kernel has just copied the bytes into the slot, but in
// pieces as they arrived, with other connections' bytes in between; the truth lies between the
// two. The area is made once and shared by these benchmarks.
constexpr size_t kColdAreaBytes = size_t{256} << 20;
constexpr auto kSlot = static_cast<size_t>(kSlotBytes);

const std::vector<unsigned char>& cold_area() {
  static const std::vector<unsigned char> area = pattern(kColdAreaBytes);
  return area;
}

void BM_DigestColdSlots(benchmark::State& state, DigestAlgorithm algorithm) {
  const std::vector<unsigned char>& area = cold_area();
  Digester d;
  d.begin(algorithm);
  size_t at = 0;
  for (auto _ : state) {
    d.update(area.data() + at, kSlot);
    benchmark::ClobberMemory();
    at = (at + kSlot) % kColdAreaBytes;
  }
  d.reset();
  state.SetBytesProcessed(state.iterations() * kSlotBytes);
}
BENCHMARK_CAPTURE(BM_DigestColdSlots, sha256, DigestAlgorithm::kSha256);
BENCHMARK_CAPTURE(BM_DigestColdSlots, crc32c, DigestAlgorithm::kCrc32c);

// Digester::kAll: what a request announcing a checksum trailer costs per byte.
void BM_Digest_AllAtOnce(benchmark::State& state) { digest_set(state, Digester::kAll); }
BENCHMARK(BM_Digest_AllAtOnce)->Arg(kSlotBytes)->Arg(kSmallBytes);

// The whole-file CRC-32C every upload pays: crc32c() as UploadWriter::hash() calls it.
void BM_WholeFileCrc32c_Isal(benchmark::State& state) {
  const auto bytes = static_cast<size_t>(state.range(0));
  std::vector<unsigned char> buf = pattern(bytes);
  if (crc32c(buf.data(), bytes, 0) != crc_bitwise(kPolyCrc32c, buf.data(), bytes)) {
    state.SkipWithError("crc32c() differs from the bitwise reference");
    return;
  }
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = crc32c(buf.data(), bytes, crc);
    benchmark::DoNotOptimize(crc);
  }
  set_throughput(state);
}
BENCHMARK(BM_WholeFileCrc32c_Isal)->Arg(kSlotBytes)->Arg(kSmallBytes);

#if defined(__x86_64__)
// The same CRC with the loop ISA-L replaced (7572a7e), for what ISA-L bought.
void BM_WholeFileCrc32c_Sse42Loop(benchmark::State& state) {
  if (!__builtin_cpu_supports("sse4.2")) {
    state.SkipWithError("no SSE4.2 on this CPU (7572a7e used its table fallback)");
    return;
  }
  const auto bytes = static_cast<size_t>(state.range(0));
  std::vector<unsigned char> buf = pattern(bytes);
  if (crc32c_sse42_loop(buf.data(), bytes, 0) != crc_bitwise(kPolyCrc32c, buf.data(), bytes)) {
    state.SkipWithError("the SSE4.2 loop differs from the bitwise reference");
    return;
  }
  uint32_t crc = 0;
  for (auto _ : state) {
    crc = crc32c_sse42_loop(buf.data(), bytes, crc);
    benchmark::DoNotOptimize(crc);
  }
  set_throughput(state);
}
BENCHMARK(BM_WholeFileCrc32c_Sse42Loop)->Arg(kSlotBytes)->Arg(kSmallBytes);

// The loop on slots from DRAM: bound by the latency of its crc32 chain, it should lose little.
void BM_WholeFileCrc32c_Sse42LoopColdSlots(benchmark::State& state) {
  if (!__builtin_cpu_supports("sse4.2")) {
    state.SkipWithError("no SSE4.2 on this CPU");
    return;
  }
  const std::vector<unsigned char>& area = cold_area();
  uint32_t crc = 0;
  size_t at = 0;
  for (auto _ : state) {
    crc = crc32c_sse42_loop(area.data() + at, kSlot, crc);
    benchmark::DoNotOptimize(crc);
    at = (at + kSlot) % kColdAreaBytes;
  }
  state.SetBytesProcessed(state.iterations() * kSlotBytes);
}
BENCHMARK(BM_WholeFileCrc32c_Sse42LoopColdSlots);
#endif

}  // namespace
}  // namespace ringest
