// The SHA256_* functions are deprecated in OpenSSL 3 in favour of EVP, which allocates on every
// use (see the header). They remain in 3.x; if a future OpenSSL drops them this file is the
// only place to change.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "http/access/hmac_sha256.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <cstring>

#include "engine/base/check.h"

namespace ringest::access {
namespace {

constexpr size_t kBlockBytes = 64;  // SHA-256's block, the HMAC pad width

void update(SHA256_CTX* ctx, std::string_view data) {
  if (!data.empty()) RINGEST_CHECK(SHA256_Update(ctx, data.data(), data.size()) == 1);
}

}  // namespace

struct HmacSha256Key::States {
  SHA256_CTX inner;  // after absorbing key XOR ipad
  SHA256_CTX outer;  // after absorbing key XOR opad
};

Digest sha256(std::string_view data) {
  SHA256_CTX ctx;
  RINGEST_CHECK(SHA256_Init(&ctx) == 1);
  update(&ctx, data);
  Digest out;
  RINGEST_CHECK(SHA256_Final(out.data(), &ctx) == 1);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  return out;
}

bool equal_constant_time(const void* a, const void* b, size_t size) {
  return CRYPTO_memcmp(a, b, size) == 0;
}

size_t base64url_encode(const uint8_t* data, size_t size, char* out) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t n = 0;
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8 | data[i + 2];
    out[n++] = kAlphabet[v >> 18];
    out[n++] = kAlphabet[(v >> 12) & 63];
    out[n++] = kAlphabet[(v >> 6) & 63];
    out[n++] = kAlphabet[v & 63];
  }
  if (size - i == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out[n++] = kAlphabet[v >> 18];
    out[n++] = kAlphabet[(v >> 12) & 63];
  } else if (size - i == 2) {
    uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8;
    out[n++] = kAlphabet[v >> 18];
    out[n++] = kAlphabet[(v >> 12) & 63];
    out[n++] = kAlphabet[(v >> 6) & 63];
  }
  return n;
}

HmacSha256Key::HmacSha256Key(std::string_view key) : states_(std::make_unique<States>()) {
  // RFC 2104: a key longer than the block is replaced by its hash; then zero-padded.
  uint8_t block[kBlockBytes] = {};
  if (key.size() > kBlockBytes) {
    Digest d = sha256(key);
    std::memcpy(block, d.data(), d.size());
  } else if (!key.empty()) {
    std::memcpy(block, key.data(), key.size());
  }
  uint8_t pad[kBlockBytes];
  for (size_t i = 0; i < kBlockBytes; ++i) pad[i] = block[i] ^ 0x36;
  RINGEST_CHECK(SHA256_Init(&states_->inner) == 1);
  RINGEST_CHECK(SHA256_Update(&states_->inner, pad, sizeof pad) == 1);
  for (size_t i = 0; i < kBlockBytes; ++i) pad[i] = block[i] ^ 0x5c;
  RINGEST_CHECK(SHA256_Init(&states_->outer) == 1);
  RINGEST_CHECK(SHA256_Update(&states_->outer, pad, sizeof pad) == 1);
  OPENSSL_cleanse(block, sizeof block);
  OPENSSL_cleanse(pad, sizeof pad);
}

HmacSha256Key::~HmacSha256Key() { OPENSSL_cleanse(states_.get(), sizeof *states_); }

Digest HmacSha256Key::mac(std::initializer_list<std::string_view> parts) const {
  SHA256_CTX ctx = states_->inner;
  for (std::string_view part : parts) update(&ctx, part);
  Digest inner;
  RINGEST_CHECK(SHA256_Final(inner.data(), &ctx) == 1);
  ctx = states_->outer;
  RINGEST_CHECK(SHA256_Update(&ctx, inner.data(), inner.size()) == 1);
  Digest out;
  RINGEST_CHECK(SHA256_Final(out.data(), &ctx) == 1);
  OPENSSL_cleanse(&ctx, sizeof ctx);
  OPENSSL_cleanse(inner.data(), inner.size());
  return out;
}

}  // namespace ringest::access
