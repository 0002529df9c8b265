// The SHA1_*, SHA256_* and MD5_* functions are deprecated in OpenSSL 3 in favour of EVP, which
// allocates a context on every initialisation; these use the same assembly (SHA-NI) on a
// caller-owned struct. They remain in 3.x; this file is the only place to change if they go.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "engine/base/digest.h"

#include <isa-l/crc.h>

#include <climits>
#include <cstring>

#include "engine/base/check.h"
#include "engine/base/crc32c.h"

namespace ringest {
namespace {

uint32_t crc32_ieee(const void* data, size_t size, uint32_t crc) {
  auto* p = static_cast<unsigned char*>(const_cast<void*>(data));
  while (size > 0) {
    uint64_t n = size > static_cast<size_t>(INT_MAX) ? INT_MAX : size;
    crc = crc32_gzip_refl(crc, p, n);
    p += n;
    size -= n;
  }
  return crc;
}

void put_be32(uint32_t v, uint8_t* out) {
  out[0] = static_cast<uint8_t>(v >> 24);
  out[1] = static_cast<uint8_t>(v >> 16);
  out[2] = static_cast<uint8_t>(v >> 8);
  out[3] = static_cast<uint8_t>(v);
}

}  // namespace

std::optional<DigestAlgorithm> digest_algorithm(std::string_view name) {
  if (name == "sha1") return DigestAlgorithm::kSha1;
  if (name == "sha256") return DigestAlgorithm::kSha256;
  if (name == "md5") return DigestAlgorithm::kMd5;
  if (name == "crc32") return DigestAlgorithm::kCrc32;
  if (name == "crc32c") return DigestAlgorithm::kCrc32c;
  return std::nullopt;
}

const char* digest_name(DigestAlgorithm algorithm) {
  switch (algorithm) {
    case DigestAlgorithm::kNone: return "none";
    case DigestAlgorithm::kSha1: return "sha1";
    case DigestAlgorithm::kSha256: return "sha256";
    case DigestAlgorithm::kMd5: return "md5";
    case DigestAlgorithm::kCrc32: return "crc32";
    case DigestAlgorithm::kCrc32c: return "crc32c";
  }
  return "?";
}

size_t digest_bytes(DigestAlgorithm algorithm) {
  switch (algorithm) {
    case DigestAlgorithm::kNone: return 0;
    case DigestAlgorithm::kSha1: return SHA_DIGEST_LENGTH;
    case DigestAlgorithm::kSha256: return SHA256_DIGEST_LENGTH;
    case DigestAlgorithm::kMd5: return MD5_DIGEST_LENGTH;
    case DigestAlgorithm::kCrc32:
    case DigestAlgorithm::kCrc32c: return 4;
  }
  return 0;
}

bool DigestValue::operator==(const DigestValue& other) const {
  return size == other.size && std::memcmp(bytes, other.bytes, size) == 0;
}

void Digester::begin_set(uint8_t algorithms) {
  set_ = algorithms & kAll;
  if (has(DigestAlgorithm::kSha1)) RINGEST_CHECK(SHA1_Init(&sha1_) == 1);
  if (has(DigestAlgorithm::kSha256)) RINGEST_CHECK(SHA256_Init(&sha256_) == 1);
  if (has(DigestAlgorithm::kMd5)) RINGEST_CHECK(MD5_Init(&md5_) == 1);
  crc32_ = crc32c_ = 0;
}

void Digester::update(const void* data, size_t size) {
  if (size == 0 || set_ == 0) return;
  if (has(DigestAlgorithm::kCrc32c)) crc32c_ = crc32c(data, size, crc32c_);
  if (has(DigestAlgorithm::kCrc32)) crc32_ = crc32_ieee(data, size, crc32_);
  if (has(DigestAlgorithm::kSha256)) SHA256_Update(&sha256_, data, size);
  if (has(DigestAlgorithm::kSha1)) SHA1_Update(&sha1_, data, size);
  if (has(DigestAlgorithm::kMd5)) MD5_Update(&md5_, data, size);
}

DigestValue Digester::finish(DigestAlgorithm algorithm) {
  DigestValue out;
  if (!has(algorithm)) {
    set_ = 0;
    return out;  // size 0: matches no digest a client can send
  }
  out.size = digest_bytes(algorithm);
  switch (algorithm) {
    case DigestAlgorithm::kNone: break;
    case DigestAlgorithm::kSha1: SHA1_Final(out.bytes, &sha1_); break;
    case DigestAlgorithm::kSha256: SHA256_Final(out.bytes, &sha256_); break;
    case DigestAlgorithm::kMd5: MD5_Final(out.bytes, &md5_); break;
    case DigestAlgorithm::kCrc32: put_be32(crc32_, out.bytes); break;
    case DigestAlgorithm::kCrc32c: put_be32(crc32c_, out.bytes); break;
  }
  set_ = 0;
  return out;
}

}  // namespace ringest
