// Digests of request bodies (tus Upload-Checksum; later S3's and GCS's checksums): sha1, sha256,
// md5 through OpenSSL's libcrypto (SHA-NI where the CPU has it), crc32 and crc32c through
// Intel's ISA-L (PCLMULQDQ folding). A Digester is a plain value: no allocation, ever, so one
// lives in every connection and is reset per request.
#pragma once

#include <openssl/md5.h>
#include <openssl/sha.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ringest {

enum class DigestAlgorithm : uint8_t { kNone, kSha1, kSha256, kMd5, kCrc32, kCrc32c };

inline constexpr size_t kMaxDigestBytes = 32;

// The tus names, lowercase ("sha1", "sha256", "md5", "crc32", "crc32c"); nullopt otherwise.
std::optional<DigestAlgorithm> digest_algorithm(std::string_view name);
const char* digest_name(DigestAlgorithm algorithm);
// Bytes of the algorithm's digest (crc32 and crc32c: 4, big-endian as tus and GCS send them).
size_t digest_bytes(DigestAlgorithm algorithm);
// "sha1,sha256,md5,crc32,crc32c": for Tus-Checksum-Algorithm.
inline constexpr std::string_view kDigestAlgorithmList = "sha1,sha256,md5,crc32,crc32c";

struct DigestValue {
  uint8_t bytes[kMaxDigestBytes] = {};
  size_t size = 0;
  bool operator==(const DigestValue& other) const;
};

// One or several digests of the same bytes, computed in one pass per algorithm. Several: a
// tus checksum trailer names its algorithm only after the body, so such a request hashes with
// every algorithm offered.
constexpr uint8_t digest_bit(DigestAlgorithm a) {
  return static_cast<uint8_t>(1u << static_cast<uint8_t>(a));
}

class Digester {
 public:
  static constexpr uint8_t bit(DigestAlgorithm a) { return digest_bit(a); }
  static constexpr uint8_t kAll =
      digest_bit(DigestAlgorithm::kSha1) | digest_bit(DigestAlgorithm::kSha256) |
      digest_bit(DigestAlgorithm::kMd5) | digest_bit(DigestAlgorithm::kCrc32) |
      digest_bit(DigestAlgorithm::kCrc32c);

  void begin(DigestAlgorithm algorithm) { begin_set(bit(algorithm)); }
  void begin_set(uint8_t algorithms);
  void update(const void* data, size_t size);
  // The digest of `algorithm` (one of those begun; the others are dropped). Ends the digests.
  DigestValue finish(DigestAlgorithm algorithm);
  bool active() const { return set_ != 0; }
  bool has(DigestAlgorithm algorithm) const { return (set_ & bit(algorithm)) != 0; }
  void reset() { set_ = 0; }

 private:
  uint8_t set_ = 0;
  SHA_CTX sha1_{};
  SHA256_CTX sha256_{};
  MD5_CTX md5_{};
  uint32_t crc32_ = 0;
  uint32_t crc32c_ = 0;
};

}  // namespace ringest
