// CRC-32C (Castagnoli): the checksum of the on-disk upload record and the whole-file digest of
// every upload. Intel's ISA-L computes it (AVX-512/VPCLMULQDQ folding here: about 49 GB/s per
// core on bytes in cache, 22 GB/s from DRAM; bench/micro/digest_bench.cc). In the server the
// whole-file CRC measures 6-12 % of an upload's CPU (docs/benchmarks.md, Checksums).
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringest {

// The standard CRC-32C of [data, data + size), continued from `crc` (the value for the bytes
// before; 0 for none): crc32c(b, crc32c(a)) == crc32c(a + b). crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace ringest
