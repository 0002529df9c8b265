#include "http/access/signed_url.h"

#include <charconv>
#include <cstring>

namespace ringest::access {
namespace {

constexpr std::string_view kExpiresParam = "expires";
constexpr std::string_view kSignatureParam = "signature";

void encode_signature(const HmacSha256Key& key, std::string_view method, std::string_view path,
                      std::string_view expires_text, char out[kSignatureChars]) {
  Digest mac = key.mac({method, "\n", path, "\n", expires_text});
  base64url_encode(mac.data(), mac.size(), out);
}

// Strict: 1..20 digits, no leading zero (but "0"), fits in 64 bits.
bool parse_expires(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 20 || (text.size() > 1 && text[0] == '0')) return false;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
  }
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size();
}

}  // namespace

size_t format_signed_query(const HmacSha256Key& key, std::string_view method, std::string_view path,
                           uint64_t expires, char* out, size_t capacity) {
  char digits[24];
  auto r = std::to_chars(digits, digits + sizeof digits, expires);
  std::string_view expires_text(digits, static_cast<size_t>(r.ptr - digits));
  size_t need = kExpiresParam.size() + 1 + expires_text.size() + 1 + kSignatureParam.size() + 1 +
                kSignatureChars;
  if (need > capacity) return 0;
  char* p = out;
  auto put = [&p](std::string_view s) {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  };
  put(kExpiresParam);
  put("=");
  put(expires_text);
  put("&");
  put(kSignatureParam);
  put("=");
  encode_signature(key, method, path, expires_text, p);
  p += kSignatureChars;
  return static_cast<size_t>(p - out);
}

std::string signed_query(const HmacSha256Key& key, std::string_view method, std::string_view path,
                         uint64_t expires) {
  char buf[kMaxSignedQueryChars];
  size_t n = format_signed_query(key, method, path, expires, buf, sizeof buf);
  return std::string(buf, n);
}

SignatureCheck check_signature(const HmacSha256Key& key, std::string_view method,
                               std::string_view path, std::string_view query, uint64_t now_unix_s,
                               bool any_upload_method) {
  SignatureCheck out;
  std::string_view expires_text;
  std::string_view signature;
  bool have_expires = false;
  bool have_signature = false;
  bool malformed = false;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view name = pair.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
    if (name == kExpiresParam) {
      malformed |= have_expires;
      have_expires = true;
      expires_text = value;
    } else if (name == kSignatureParam) {
      malformed |= have_signature;
      have_signature = true;
      signature = value;
    }
  }
  if (!have_expires && !have_signature) return out;  // kAbsent
  out.status = SignatureStatus::kMalformed;
  if (malformed || !have_expires || !have_signature) return out;
  if (!parse_expires(expires_text, &out.expires)) return out;
  if (signature.size() != kSignatureChars) return out;
  // Compared as text: a non-canonical encoding of the right bytes is simply wrong.
  char expected[kSignatureChars];
  encode_signature(key, method, path, expires_text, expected);
  bool match = equal_constant_time(expected, signature.data(), kSignatureChars);
  if (any_upload_method) {
    encode_signature(key, kAnyUploadMethod, path, expires_text, expected);
    match |= equal_constant_time(expected, signature.data(), kSignatureChars);
  }
  if (!match) {
    out.status = SignatureStatus::kWrong;
  } else if (now_unix_s > out.expires) {
    out.status = SignatureStatus::kExpired;
  } else {
    out.status = SignatureStatus::kValid;
  }
  return out;
}

}  // namespace ringest::access
