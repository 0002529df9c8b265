// Pure parsing of tus 1.0.0 header values. Every value is hostile until it passes here.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace ringest::tus {

inline constexpr std::string_view kVersion = "1.0.0";
inline constexpr std::string_view kExtensions = "creation,creation-with-upload,termination";
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

}  // namespace ringest::tus
