// Pure parsing of tus 1.0.0 header values. Every value is hostile until it passes here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace ringest::tus {

inline constexpr std::string_view kVersion = "1.0.0";
inline constexpr std::string_view kExtensions =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,"
    "concatenation";
// The same with `expiration`: announced when uploads expire (--expire-after,
// --finished-retention), which is the default.
inline constexpr std::string_view kExtensionsWithExpiration =
    "creation,creation-with-upload,creation-defer-length,termination,checksum,checksum-trailer,"
    "concatenation,expiration";
inline constexpr std::string_view kOffsetContentType = "application/offset+octet-stream";

// Upload-Offset / Upload-Length: 1 to 19 ASCII digits, at most 2^63 - 1. No sign, no spaces,
// no exponent, no hex.
std::optional<uint64_t> parse_offset(std::string_view value);

// Upload-Metadata: comma-separated `key SP base64-value` pairs (value and the space may be
// omitted); keys non-empty, printable ASCII without space or comma, unique; values canonical
// base64 (RFC 4648 alphabet, '=' padding, length a multiple of 4).
bool valid_metadata(std::string_view value);

// Content-Type of a PATCH / creation-with-upload body: the media type must be
// application/offset+octet-stream (case-insensitive); parameters after ';' are ignored.
bool is_offset_content_type(std::string_view value);

// One Upload-Metadata pair as MetadataDecoder yields it.
struct MetadataPair {
  std::string_view key;    // points into the header value
  std::string_view value;  // the decoded bytes, in the caller's buffer; empty when none was sent
};

// Walks an Upload-Metadata value pair by pair and decodes each base64 value into a buffer the
// caller owns; never allocates. The grammar is valid_metadata()'s (including unique keys and
// at most 64 pairs), checked lazily: pairs before the first error are yielded, so a caller
// that needs all-or-nothing calls valid_metadata() first.
// Like valid_metadata(), a final base64 character whose unused low bits are not zero is
// accepted; those bits are dropped.
class MetadataDecoder {
 public:
  enum class Result : uint8_t {
    kPair,            // *pair holds the next pair
    kEnd,             // no more pairs (an empty or whitespace-only value has none)
    kMalformed,       // not valid Upload-Metadata from here on; every later call says so too
    kBufferTooSmall,  // the next value decodes to more than buffer_bytes; nothing consumed,
                      // so a call with a larger buffer gets this same pair
  };

  explicit MetadataDecoder(std::string_view value) : value_(value) {}

  // `buffer` may be null when buffer_bytes is 0. pair->value stays valid until `buffer` is
  // reused.
  Result next(char* buffer, size_t buffer_bytes, MetadataPair* pair);

 private:
  std::string_view value_;  // the whole header value (the duplicate-key check rescans it)
  size_t pos_ = 0;          // start of the next pair in value_
  uint32_t pairs_ = 0;      // pairs yielded so far
  bool done_ = false;
  bool malformed_ = false;
};

// Upload-Checksum (checksum extension): `<algorithm> SP <base64 digest>`, exactly one space.
// The algorithm is 1..kMaxChecksumAlgorithmBytes characters of an HTTP token without uppercase
// letters (tus: "ASCII ... uppercase characters are excluded"). The digest is canonical base64
// (RFC 4648 alphabet, '=' padding to a multiple of 4, unused bits zero) of 1..64 bytes, and
// exactly the algorithm's size for md5 (16), sha1 (20), sha256 (32), crc32 and crc32c (4, the
// CRC big-endian). Whether the algorithm is one the server offers is the caller's question.
inline constexpr size_t kMaxChecksumAlgorithmBytes = 32;
inline constexpr size_t kMaxChecksumDigestBytes = 64;

struct Checksum {
  std::string_view algorithm;  // points into the header value
  uint8_t digest[kMaxChecksumDigestBytes] = {};
  size_t digest_bytes = 0;
};

std::optional<Checksum> parse_checksum(std::string_view value);

// Upload-Concat (concatenation extension): `partial`, or `final;` followed by a list of the
// partial uploads' URLs (absolute or relative), separated by one or more spaces. A URL is
// visible ASCII (0x21-0x7e). Rejected: any other text, an empty list, control characters,
// tabs, bytes >= 0x7f, more than kMaxConcatUrls URLs or a value over kMaxConcatBytes.
inline constexpr size_t kMaxConcatBytes = 4096;
inline constexpr size_t kMaxConcatUrls = 64;

struct Concat {
  bool final = false;                     // false: "partial"
  std::string_view urls[kMaxConcatUrls];  // the first url_count point into the header value
  size_t url_count = 0;
};

std::optional<Concat> parse_concat(std::string_view value);

// True when a `Trailer` field value (a comma-separated list of field names) names `name`.
bool trailer_lists(std::string_view trailer_value, std::string_view name);

// The whole-file digest as an RFC 9530 Repr-Digest value: `crc32c=:<base64 of the 4 bytes,
// big-endian>:`. Writes kReprDigestChars characters to `out`.
inline constexpr size_t kReprDigestChars = 17;
void format_repr_digest(uint32_t crc32c, char* out);

// The upload id a URL of Upload-Concat: final names, when it is an upload URL under `base` (the
// tus route's prefix, e.g. "/files/"): `base` + id, either relative (starting with `base`) or
// absolute (`http://` or `https://`, case-insensitive, a non-empty authority, then the path),
// optionally followed by `?query` (a signed URL's parameters: ignored). The id is returned as
// written; the caller checks its shape (is_valid_upload_id). Anything else, a different path,
// a fragment, a scheme-relative `//host/...` or another scheme, gives nothing: the URL is not
// an upload of this server. The authority is not compared with the request's Host: a proxy in
// front may rewrite Host, and the id alone (128 random bits) names the upload.
std::optional<std::string_view> concat_url_id(std::string_view url, std::string_view base);

}  // namespace ringest::tus
