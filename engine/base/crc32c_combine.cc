#include "engine/base/crc32c_combine.h"

#include <array>
#include <cstddef>

namespace ringest {
namespace {

// Polynomials over GF(2) modulo the CRC-32C polynomial, in the CRC's reflected bit order: the
// most significant bit is x^0.
constexpr uint32_t kPolynomial = 0x82F63B78u;  // Castagnoli, reflected

// a(x) * b(x) modulo the polynomial.
constexpr uint32_t multiply_modulo(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31;
  uint32_t product = 0;
  for (;;) {
    if (a & m) {
      product ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = b & 1 ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// kPowers[k] = x^(2^k) modulo the polynomial, for every bit of a 64-bit byte count times 8.
// (zlib keeps 32 and wraps k, which holds for its polynomial but not for Castagnoli's, whose
// factors give x a different order: a length of 512 MiB or more came out wrong that way.)
constexpr size_t kPowerCount = 64 + 3;
constexpr std::array<uint32_t, kPowerCount> make_powers() {
  std::array<uint32_t, kPowerCount> powers{};
  powers[0] = 1u << 30;  // x^1
  for (size_t k = 1; k < kPowerCount; ++k) {
    powers[k] = multiply_modulo(powers[k - 1], powers[k - 1]);
  }
  return powers;
}
constexpr auto kPowers = make_powers();

// x^(8 n) modulo the polynomial: the factor that appending n zero bytes multiplies by.
uint32_t x_to_the_bits_of(uint64_t n) {
  uint32_t p = 1u << 31;  // x^0
  for (size_t k = 3; n != 0; n >>= 1, ++k) {
    if (n & 1) p = multiply_modulo(kPowers[k], p);
  }
  return p;
}

}  // namespace

uint32_t crc32c_combine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  // Appending length_b bytes multiplies A's remainder by x^(8 * length_b); the inversions at
  // either end cancel between the three CRCs.
  return multiply_modulo(x_to_the_bits_of(length_b), crc_a) ^ crc_b;
}

}  // namespace ringest
