// SHA-256 and HMAC-SHA256 (RFC 2104) without heap allocation, for checks made on reactor
// threads on every request. OpenSSL 3's EVP interfaces allocate a context per operation (and
// HMAC() one-shot a dozen times); the low-level SHA256_* functions hash on a stack state, so
// the HMAC here is built on them: the key's inner and outer pad blocks are absorbed once, at
// construction, and each MAC copies those two states and hashes the message.
//
// tests/unit/access_test.cc checks the result against OpenSSL's own HMAC() on the RFC 4231
// vectors, and counts OpenSSL allocations (CRYPTO_set_mem_functions) to prove there are none.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string_view>

namespace ringest::access {

inline constexpr size_t kSha256Bytes = 32;
using Digest = std::array<uint8_t, kSha256Bytes>;

// SHA-256 of `data`.
Digest sha256(std::string_view data);

// True when the two buffers are equal, in time that depends only on `size` (CRYPTO_memcmp).
bool equal_constant_time(const void* a, const void* b, size_t size);

// Base64url (RFC 4648 section 5) without padding. `out` must hold base64url_chars(size) bytes;
// returns that count.
constexpr size_t base64url_chars(size_t size) { return (size * 4 + 2) / 3; }
size_t base64url_encode(const uint8_t* data, size_t size, char* out);

// An HMAC-SHA256 key with its pads absorbed. Immutable after construction, so any number of
// threads may compute MACs with one key at once.
class HmacSha256Key {
 public:
  explicit HmacSha256Key(std::string_view key);
  ~HmacSha256Key();  // wipes the absorbed states
  HmacSha256Key(const HmacSha256Key&) = delete;
  HmacSha256Key& operator=(const HmacSha256Key&) = delete;

  // The MAC of the concatenation of `parts` (no separators are added).
  Digest mac(std::initializer_list<std::string_view> parts) const;

 private:
  struct States;  // the two SHA256_CTX; kept out of this header with OpenSSL's deprecated API
  std::unique_ptr<States> states_;
};

}  // namespace ringest::access
