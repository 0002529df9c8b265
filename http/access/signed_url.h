// Signed upload URLs: a backend that holds the signing key hands a browser or device a URL that
// authorizes one method on one path until a deadline, without giving it a token.
//
//   PATH?expires=E&signature=S
//   S = base64url_nopad(HMAC-SHA256(key, METHOD "\n" PATH "\n" E))      (43 characters)
//
// METHOD  the request's method after X-HTTP-Method-Override, upper case ("POST", "PATCH"), or
//         "*", which stands for HEAD, GET, PATCH and DELETE on an upload's own URL. ringestd
//         puts a "*" signature for the new upload (same E) in the Location of a creation that a
//         signature authorized, so a client that follows Location (tus-js-client) continues.
// PATH    the request target's path exactly as sent: before '?', not percent-decoded.
// E       unix seconds, decimal, no sign, no leading zeros. The URL is valid while now <= E.
//
// Other query parameters are allowed and not signed. Checking is allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http/access/hmac_sha256.h"

namespace ringest::access {

inline constexpr std::string_view kAnyUploadMethod = "*";
inline constexpr size_t kSignatureChars = base64url_chars(kSha256Bytes);  // 43
// "expires=" + 20 digits + "&signature=" + 43
inline constexpr size_t kMaxSignedQueryChars = 8 + 20 + 11 + kSignatureChars;

// Writes "expires=E&signature=S" for METHOD on PATH; returns its length, or 0 when `capacity`
// is too small.
size_t format_signed_query(const HmacSha256Key& key, std::string_view method, std::string_view path,
                           uint64_t expires, char* out, size_t capacity);
std::string signed_query(const HmacSha256Key& key, std::string_view method, std::string_view path,
                         uint64_t expires);

enum class SignatureStatus : uint8_t {
  kAbsent,     // neither parameter: the request did not try a signature
  kValid,      // right signature, not expired
  kExpired,    // right signature, past its deadline
  kWrong,      // well-formed but not a signature of this method, path and expiry
  kMalformed,  // one parameter without the other, repeated, or not in the form above
};

struct SignatureCheck {
  SignatureStatus status = SignatureStatus::kAbsent;
  uint64_t expires = 0;  // for kValid and kExpired
};

// `query` is what follows '?' in the target (empty if none). With `any_upload_method`, a "*"
// signature is accepted as well as one for `method`; the caller sets it only for HEAD, GET,
// PATCH and DELETE on an upload's URL.
SignatureCheck check_signature(const HmacSha256Key& key, std::string_view method,
                               std::string_view path, std::string_view query, uint64_t now_unix_s,
                               bool any_upload_method);

}  // namespace ringest::access
