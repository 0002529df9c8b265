// CRC-32C (Castagnoli): the checksum of the on-disk upload record and the whole-file digest of
// every upload. Intel's ISA-L computes it (PCLMULQDQ folding, about 20 GB/s per core here; see
// bench/micro), so hashing every byte of an upload costs a few percent of its CPU.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringest {

// The standard CRC-32C of [data, data + size), continued from `crc` (the value for the bytes
// before; 0 for none): crc32c(b, crc32c(a)) == crc32c(a + b). crc32c("123456789") == 0xE3069283.
uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace ringest
