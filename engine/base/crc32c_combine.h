// CRC-32C of a concatenation from the CRCs of its pieces, without their bytes (zlib's
// crc32_combine, for the Castagnoli polynomial): a final upload's whole-file digest is the
// combination of its partial uploads' digests, so a final made of 1 GiB of partials gets its
// CRC in microseconds instead of a second of reading.
//
// Conventions are ringest::crc32c's (engine/base/crc32c.h): pre- and post-inverted, so
// crc32c(A ++ B) == crc32c_combine(crc32c(A), crc32c(B), size of B).
#pragma once

#include <cstdint>

namespace ringest {

// The CRC-32C of A followed by B, given crc_a = crc32c(A), crc_b = crc32c(B) and
// length_b = B's size in bytes. O(log length_b) carry-less multiplications; no allocation.
uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

}  // namespace ringest
