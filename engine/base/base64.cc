#include "engine/base/base64.h"

#include <array>

namespace ringest {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0xFF;

constexpr std::array<uint8_t, 256> make_decode_table() {
  std::array<uint8_t, 256> table{};
  for (uint8_t& v : table) v = kInvalid;
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(kAlphabet[i])] = i;
  return table;
}
constexpr auto kDecode = make_decode_table();

uint8_t value_of(char c) { return kDecode[static_cast<uint8_t>(c)]; }

// '=' characters at the end of `text` (0, 1 or 2 are looked at; a third one is then an
// out-of-alphabet character for base64_check()).
size_t padding(std::string_view text) {
  size_t pad = 0;
  while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
  return pad;
}

}  // namespace

size_t base64_encode(const void* data, size_t size, char* out) {
  const auto* in = static_cast<const uint8_t*>(data);
  size_t o = 0;
  size_t i = 0;
  for (; i + 3 <= size; i += 3) {
    uint32_t v = static_cast<uint32_t>(in[i]) << 16 | static_cast<uint32_t>(in[i + 1]) << 8 |
                 static_cast<uint32_t>(in[i + 2]);
    out[o++] = kAlphabet[v >> 18];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = kAlphabet[(v >> 6) & 63];
    out[o++] = kAlphabet[v & 63];
  }
  size_t rest = size - i;
  if (rest > 0) {
    uint32_t v = static_cast<uint32_t>(in[i]) << 16;
    if (rest == 2) v |= static_cast<uint32_t>(in[i + 1]) << 8;
    out[o++] = kAlphabet[v >> 18];
    out[o++] = kAlphabet[(v >> 12) & 63];
    out[o++] = rest == 2 ? kAlphabet[(v >> 6) & 63] : '=';
    out[o++] = '=';
  }
  return o;
}

Base64Result base64_check(std::string_view text) {
  if (text.size() % 4 != 0) return Base64Result::kMalformed;
  size_t pad = padding(text);
  size_t used = text.size() - pad;  // characters that carry bits
  for (size_t i = 0; i < used; ++i) {
    if (value_of(text[i]) == kInvalid) return Base64Result::kMalformed;
  }
  // With one '=', the last character carries 2 unused bits; with two, it carries 4.
  if (pad == 1 && (value_of(text[used - 1]) & 0x03) != 0) return Base64Result::kNotCanonical;
  if (pad == 2 && (value_of(text[used - 1]) & 0x0F) != 0) return Base64Result::kNotCanonical;
  return Base64Result::kOk;
}

size_t base64_decoded_bytes(std::string_view text) { return text.size() / 4 * 3 - padding(text); }

Base64Result base64_decode(std::string_view text, uint8_t* out, size_t out_bytes,
                           size_t* decoded_bytes) {
  Base64Result check = base64_check(text);
  if (check == Base64Result::kMalformed) return check;
  size_t bytes = base64_decoded_bytes(text);
  if (bytes > out_bytes) return Base64Result::kBufferTooSmall;
  size_t pad = padding(text);
  size_t groups = text.size() / 4;
  size_t o = 0;
  for (size_t g = 0; g < groups; ++g) {
    const char* in = text.data() + 4 * g;
    size_t used = g + 1 == groups ? 4 - pad : 4;
    uint32_t bits = 0;
    for (size_t i = 0; i < 4; ++i) bits = (bits << 6) | (i < used ? value_of(in[i]) : 0u);
    out[o++] = static_cast<uint8_t>(bits >> 16);
    if (used >= 3) out[o++] = static_cast<uint8_t>(bits >> 8);
    if (used == 4) out[o++] = static_cast<uint8_t>(bits);
  }
  *decoded_bytes = bytes;
  return check;
}

}  // namespace ringest
