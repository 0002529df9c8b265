// CRC-32C (Castagnoli), the checksum of the on-disk upload record. Uses the SSE4.2 crc32
// instruction when the CPU has it, a table otherwise; both give identical results.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringest {

uint32_t crc32c(const void* data, size_t size, uint32_t crc = 0);

}  // namespace ringest
