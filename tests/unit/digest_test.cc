// The digests of request bodies: every algorithm against published test vectors, the same
// result however the bytes are split, several algorithms at once (a checksum trailer), and the
// ISA-L CRC-32C against a bitwise reference.
#include "engine/base/digest.h"

#include <gtest/gtest.h>

#include <string>

#include "engine/base/base64.h"
#include "engine/base/crc32c.h"

namespace ringest {
namespace {

std::string b64(const DigestValue& v) {
  std::string out(base64_encoded_chars(v.size), '\0');
  base64_encode(v.bytes, v.size, out.data());
  return out;
}

DigestValue digest_of(DigestAlgorithm a, std::string_view data, size_t piece) {
  Digester d;
  d.begin(a);
  for (size_t at = 0; at < data.size(); at += piece) {
    d.update(data.data() + at, std::min(piece, data.size() - at));
  }
  return d.finish(a);
}

struct Known {
  const char* name;
  const char* abc;  // base64 digest of "abc" (Python's hashlib and zlib)
};
constexpr Known kKnown[] = {{"sha1", "qZk+NkcGgWq6PiVxeFDCbJzQ2J0="},
                            {"sha256", "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="},
                            {"md5", "kAFQmDzST7DWlj99KOF/cg=="},
                            {"crc32", "NSRBwg=="},
                            {"crc32c", "Nks/tw=="}};

TEST(Digest, NamesAndSizes) {
  for (const Known& k : kKnown) {
    auto a = digest_algorithm(k.name);
    ASSERT_TRUE(a) << k.name;
    EXPECT_STREQ(digest_name(*a), k.name);
  }
  EXPECT_FALSE(digest_algorithm("SHA1"));
  EXPECT_FALSE(digest_algorithm("sha512"));
  EXPECT_FALSE(digest_algorithm(""));
  EXPECT_EQ(digest_bytes(DigestAlgorithm::kSha256), 32u);
  EXPECT_EQ(digest_bytes(DigestAlgorithm::kCrc32c), 4u);
}

TEST(Digest, KnownVectorsWholeAndInPieces) {
  std::string big(1 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 + (i >> 9));
  for (const Known& k : kKnown) {
    DigestAlgorithm a = *digest_algorithm(k.name);
    EXPECT_EQ(b64(digest_of(a, "abc", 3)), k.abc) << k.name;
    EXPECT_EQ(b64(digest_of(a, "abc", 1)), k.abc) << k.name;
    EXPECT_EQ(digest_of(a, big, big.size()), digest_of(a, big, 4097)) << k.name;
  }
}

TEST(Digest, AllAtOnceGivesEachAlgorithmsOwnDigest) {
  for (const Known& k : kKnown) {
    Digester d;
    d.begin_set(Digester::kAll);
    d.update("a", 1);
    d.update("bc", 2);
    EXPECT_EQ(b64(d.finish(*digest_algorithm(k.name))), k.abc) << k.name;
    EXPECT_FALSE(d.active());
  }
  Digester d;
  d.begin(DigestAlgorithm::kMd5);
  EXPECT_EQ(d.finish(DigestAlgorithm::kSha1).size, 0u);  // not begun: matches nothing
}

TEST(Digest, Crc32cMatchesABitwiseReferenceAndChains) {
  std::string data(100000, '\0');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7 + 3);
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
  }
  EXPECT_EQ(crc32c(data.data(), data.size()), ~c);
  EXPECT_EQ(crc32c(data.data() + 333, data.size() - 333, crc32c(data.data(), 333)), ~c);
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

}  // namespace
}  // namespace ringest
