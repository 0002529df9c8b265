// Base64 of RFC 4648 section 4: the standard alphabet (A-Z a-z 0-9 + /) with '=' padding to a
// multiple of 4 characters. Encoding and decoding write into a buffer the caller owns and never
// allocate, so they are safe on reactor threads.
//
// Decoding is strict: no whitespace, no line breaks, no missing padding, no characters after
// the padding. Canonical (section 3.5) additionally means that the unused low bits of the last
// character before the padding are zero; a value that is well-formed but not canonical is
// reported as such, so a caller that must stay lenient (tus Upload-Metadata values) can accept
// it while one that must not (Upload-Checksum digests) refuses it.
//
// (The URL-safe alphabet without padding that signed URLs use lives in
// http/access/hmac_sha256.h.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace ringest {

// Characters that base64_encode() writes for `bytes` input bytes.
constexpr size_t base64_encoded_chars(size_t bytes) { return (bytes + 2) / 3 * 4; }

// Writes base64_encoded_chars(size) characters to `out` (no terminating NUL) and returns that
// count. `data` may be null when size is 0.
size_t base64_encode(const void* data, size_t size, char* out);

enum class Base64Result : uint8_t {
  kOk,              // well-formed and canonical
  kNotCanonical,    // well-formed, but the unused bits of the last character are not zero;
                    // base64_decode() has decoded it anyway, those bits dropped
  kMalformed,       // length not a multiple of 4, a character outside the alphabet, or '='
                    // anywhere but in the last two positions
  kBufferTooSmall,  // base64_decode() only: well-formed, but `out_bytes` is too small;
                    // nothing was written
};

// Checks `text` without decoding it: kOk, kNotCanonical or kMalformed.
Base64Result base64_check(std::string_view text);

// Bytes that well-formed `text` decodes to (3 per 4 characters, less one per '='). Meaningless
// for text that base64_check() calls malformed.
size_t base64_decoded_bytes(std::string_view text);

// Decodes `text` into `out` (which may be null when out_bytes is 0) and sets *decoded_bytes on
// kOk and kNotCanonical. On kMalformed and kBufferTooSmall nothing is written.
Base64Result base64_decode(std::string_view text, uint8_t* out, size_t out_bytes,
                           size_t* decoded_bytes);

}  // namespace ringest
