// Proves crc32c_combine (engine/base/crc32c_combine.h): the CRC-32C of a concatenation computed
// from the pieces' CRCs equals ringest::crc32c over the concatenated bytes, for empty pieces,
// every small length, lengths around powers of two, many pieces folded left to right (a final
// upload's parts), and a length past 4 GiB (checked against hashing zeros piecewise).
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/crc32c.h"
#include "engine/base/crc32c_combine.h"

namespace ringest {
namespace {

std::string pattern(size_t size, uint32_t seed) {
  std::string out(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return out;
}

uint32_t crc_of(const std::string& s) { return crc32c(s.data(), s.size()); }

TEST(Crc32cCombineTest, EmptyPiecesChangeNothing) {
  std::string a = pattern(100, 1);
  EXPECT_EQ(crc32c_combine(crc_of(a), crc_of(""), 0), crc_of(a));
  EXPECT_EQ(crc32c_combine(crc_of(""), crc_of(a), a.size()), crc_of(a));
  EXPECT_EQ(crc32c_combine(0, 0, 0), 0u);
}

TEST(Crc32cCombineTest, EqualsHashingTheConcatenationAtEverySplit) {
  std::string whole = pattern(700, 7);
  uint32_t expected = crc_of(whole);
  for (size_t split = 0; split <= whole.size(); ++split) {
    std::string a = whole.substr(0, split);
    std::string b = whole.substr(split);
    ASSERT_EQ(crc32c_combine(crc_of(a), crc_of(b), b.size()), expected) << "split " << split;
  }
}

TEST(Crc32cCombineTest, LengthsAroundPowersOfTwo) {
  for (size_t bits = 0; bits <= 20; ++bits) {
    for (size_t length : {(size_t{1} << bits) - 1, size_t{1} << bits, (size_t{1} << bits) + 1}) {
      std::string a = pattern(33, static_cast<uint32_t>(bits));
      std::string b = pattern(length, static_cast<uint32_t>(length));
      ASSERT_EQ(crc32c_combine(crc_of(a), crc_of(b), b.size()), crc_of(a + b)) << length;
    }
  }
}

TEST(Crc32cCombineTest, ManyPiecesFoldLeftToRight) {
  // Parts of a final upload: different sizes, one listed twice, one empty.
  std::vector<std::string> parts = {pattern(4096, 1), pattern(1, 2), pattern(0, 3),
                                    pattern(65537, 4), pattern(4096, 1), pattern(12345, 5)};
  std::string all;
  uint32_t combined = 0;  // crc32c of nothing
  for (const std::string& p : parts) {
    all += p;
    combined = crc32c_combine(combined, crc_of(p), p.size());
  }
  EXPECT_EQ(combined, crc_of(all));
}

// Regression: zlib's table of 32 powers, indexed modulo 32, is right for zlib's polynomial only;
// with Castagnoli's it gave wrong results from 512 MiB on (the 32nd power is reached at 2^29
// bytes), which the small lengths above never showed.
TEST(Crc32cCombineTest, LengthPastFourGiB) {
  // 4 GiB + 3 zeros after "abc", hashed in 1 MiB steps (crc32c continues a running CRC).
  const uint64_t length = (4ull << 30) + 3;
  std::string zeros(1 << 20, '\0');
  uint32_t crc_a = crc32c("abc", 3);
  uint32_t crc_b = 0;
  uint32_t whole = crc_a;
  for (uint64_t left = length; left > 0;) {
    size_t n = left < zeros.size() ? static_cast<size_t>(left) : zeros.size();
    crc_b = crc32c(zeros.data(), n, crc_b);
    whole = crc32c(zeros.data(), n, whole);
    left -= n;
  }
  EXPECT_EQ(crc32c_combine(crc_a, crc_b, length), whole);
}

}  // namespace
}  // namespace ringest
