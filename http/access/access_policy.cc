#include "http/access/access_policy.h"

#include <openssl/crypto.h>

#include <cstring>

#include "http/access/credential_files.h"

namespace ringest::http {
namespace {

constexpr std::string_view kAllowMethods = "POST, PUT, GET, HEAD, PATCH, DELETE, OPTIONS";
constexpr std::string_view kAllowHeaders =
    "Authorization, Content-Type, Tus-Resumable, Upload-Length, Upload-Offset, Upload-Metadata, "
    "Upload-Defer-Length, Upload-Concat, Upload-Checksum, X-Requested-With, "
    "X-HTTP-Method-Override, Range, If-Range, If-Match, If-None-Match, Upload-Complete, "
    "Upload-Draft-Interop-Version, Upload-Name, Content-Disposition";
constexpr std::string_view kExposeHeaders =
    "Location, Upload-Offset, Upload-Length, Upload-Metadata, Upload-Expires, Upload-Concat, "
    "Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, Repr-Digest, "
    "ETag, Content-Range, Content-Disposition, Accept-Ranges, Upload-Complete, "
    "Upload-Draft-Interop-Version, Upload-Limit";
constexpr std::string_view kMaxAgeSeconds = "86400";
constexpr std::string_view kChallenge = "Bearer realm=\"ringest\"";

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Origins compare case-insensitively (scheme and host are; browsers send them lower case).
bool same_origin_text(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Only visible ASCII is echoed (an Origin never has anything else): with "*" the echoed value
// comes from the client.
bool echoable(std::string_view origin) {
  if (origin.empty() || origin.size() > kMaxOriginBytes) return false;
  for (char c : origin) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

}  // namespace

bool AccessPolicy::configured(const Config& config) {
  return !config.auth_token_file.empty() || !config.signing_key_file.empty() ||
         !config.cors_origins.empty();
}

bool AccessPolicy::load(const Config& config, std::string* error) {
  if (!config.auth_token_file.empty()) {
    std::vector<std::string> tokens;
    if (!access::load_token_file(config.auth_token_file, &tokens, error)) {
      *error = "--auth-token-file: " + *error;
      return false;
    }
    token_file_ = config.auth_token_file;
    tokens_.publish(std::make_unique<access::TokenSet>(tokens));
  }
  if (!config.signing_key_file.empty()) {
    std::string key;
    if (!access::load_signing_key(config.signing_key_file, &key, error)) {
      *error = "--signing-key-file: " + *error;
      return false;
    }
    key_ = std::make_unique<access::HmacSha256Key>(key);
    OPENSSL_cleanse(key.data(), key.size());
  }
  max_signature_lifetime_s_ = config.signed_url_max_lifetime_s;
  for (const std::string& origin : config.cors_origins) {
    if (origin == "*") {
      any_origin_ = true;
    } else {
      origins_.push_back(origin);
    }
  }
  return true;
}

bool AccessPolicy::reload_tokens(size_t* count, std::string* error) {
  if (token_file_.empty()) {
    *error = "no --auth-token-file to reload";
    return false;
  }
  std::vector<std::string> tokens;
  if (!access::load_token_file(token_file_, &tokens, error)) return false;
  auto set = std::make_unique<access::TokenSet>(tokens);
  *count = set->size();
  tokens_.publish(std::move(set));
  return true;
}

bool AccessPolicy::origin_allowed(std::string_view origin) const {
  if (!echoable(origin)) return false;
  if (any_origin_) return true;
  for (const std::string& allowed : origins_) {
    if (same_origin_text(allowed, origin)) return true;
  }
  return false;
}

Verdict AccessPolicy::check(const RequestFacts& facts, uint64_t now_unix_s,
                            RequestAccess* out) const {
  out->cors = cors_enabled();
  out->preflight = false;
  out->by_signature = false;
  out->origin_bytes = 0;
  out->expires = 0;
  if (out->cors && !facts.origin.empty() && origin_allowed(facts.origin)) {
    std::memcpy(out->origin, facts.origin.data(), facts.origin.size());
    out->origin_bytes = static_cast<uint16_t>(facts.origin.size());
  }
  if (out->cors && facts.options && !facts.origin.empty() && facts.has_preflight_method) {
    if (out->origin_bytes == 0) return Verdict::kOriginRefused;
    out->preflight = true;
    return Verdict::kPreflight;
  }
  if (facts.exempt || (!tokens_enabled() && !signing_enabled())) return Verdict::kAllow;

  bool token_refused = false;
  if (tokens_enabled()) {
    std::string_view token = access::bearer_token(facts.authorization);
    if (!token.empty()) {
      if (tokens_.contains(token)) return Verdict::kAllow;
      token_refused = true;  // a signature may still authorize
    }
  }
  if (signing_enabled()) {
    access::SignatureCheck sc = access::check_signature(*key_, facts.method, facts.path,
                                                        facts.query, now_unix_s, facts.upload_url);
    switch (sc.status) {
      case access::SignatureStatus::kValid:
        // A signature may not outlive the bound the operator set (an expiry far in the future,
        // up to 2^64 - 1, would otherwise make a URL that never expires).
        if (sc.expires > now_unix_s + max_signature_lifetime_s_) {
          return Verdict::kSignatureTooLong;
        }
        out->by_signature = true;
        out->expires = sc.expires;
        return Verdict::kAllow;
      case access::SignatureStatus::kExpired:
        return Verdict::kSignatureExpired;
      case access::SignatureStatus::kWrong:
      case access::SignatureStatus::kMalformed:
        return Verdict::kSignatureWrong;
      case access::SignatureStatus::kAbsent:
        break;
    }
  }
  return token_refused ? Verdict::kTokenRefused : Verdict::kNoCredentials;
}

void AccessPolicy::add_response_headers(ResponseBuilder& rb, const RequestAccess& state) const {
  if (!state.cors) return;
  // Whether CORS headers appear depends on Origin, so every response says so to caches.
  rb.header("Vary", "Origin");
  if (state.origin_bytes == 0) return;
  rb.header("Access-Control-Allow-Origin", std::string_view(state.origin, state.origin_bytes));
  if (state.preflight) {
    rb.header("Access-Control-Allow-Methods", kAllowMethods);
    rb.header("Access-Control-Allow-Headers", kAllowHeaders);
    rb.header("Access-Control-Max-Age", kMaxAgeSeconds);
  } else {
    rb.header("Access-Control-Expose-Headers", kExposeHeaders);
  }
}

std::string_view AccessPolicy::challenge() const {
  return tokens_enabled() ? kChallenge : std::string_view();
}

std::string_view AccessPolicy::sign_location(std::string_view path, const RequestAccess* state,
                                             char* out, size_t capacity) const {
  size_t n = path.size();
  if (n == 0 || state == nullptr || !state->by_signature || key_ == nullptr) return path;
  if (n + 1 >= capacity) return {};
  out[n++] = '?';
  n += access::format_signed_query(*key_, access::kAnyUploadMethod, path, state->expires, out + n,
                                   capacity - n);
  return std::string_view(out, n);
}

std::string_view format_upload_location(const AccessPolicy* policy, std::string_view prefix,
                                        std::string_view id, const RequestAccess* state,
                                        char* out, size_t capacity) {
  if (prefix.size() + id.size() >= capacity) return {};
  std::memcpy(out, prefix.data(), prefix.size());
  std::memcpy(out + prefix.size(), id.data(), id.size());
  std::string_view path(out, prefix.size() + id.size());
  if (policy == nullptr) return path;
  return policy->sign_location(path, state, out, capacity);
}

}  // namespace ringest::http
