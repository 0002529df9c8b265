// Access control for every request: bearer tokens (--auth-token-file), signed URLs
// (--signing-key-file) and CORS (--cors-origin). Each is off unless its flag is given; with none
// given there is no policy at all and requests are served exactly as before.
// docs/access-control.md describes the behaviour; this is how it is decided.
//
// Order for a request (HttpConnection::admit_request calls check() before routing):
//   1. CORS preflight (OPTIONS with Origin and Access-Control-Request-Method, CORS configured):
//      answered here, without credentials (browsers never send them on a preflight): 204 with
//      the preflight headers for an allowed origin, 403 without CORS headers otherwise.
//   2. /healthz needs no credentials (load balancers probe it).
//   3. A valid bearer token authorizes. Otherwise a valid signature authorizes. Otherwise 403 if
//      a credential was presented (wrong token, wrong, malformed or expired signature), else 401
//      (with WWW-Authenticate: Bearer when tokens are configured).
//
// Threads: one AccessPolicy, built by main() before the reactors start; check() and the header
// helpers are const and run on any reactor without locks or allocation. reload_tokens() runs on
// the main thread (SIGHUP).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/config.h"
#include "http/access/hmac_sha256.h"
#include "http/access/signed_url.h"
#include "http/access/token_set.h"
#include "http/response.h"

namespace ringest::http {

// An Origin longer than this is never echoed (DNS names end at 253 bytes; scheme and port add
// at most 14), so it is treated as not allowed.
inline constexpr size_t kMaxOriginBytes = 272;
// A route prefix (up to 64 bytes) + id + "?" + signed query + NUL.
inline constexpr size_t kMaxLocationBytes = 64 + 32 + 1 + access::kMaxSignedQueryChars + 1;
// Upper bound of what add_response_headers() adds to a response head (checked by a unit test);
// the connection's response buffer keeps 4 KiB beyond max_head_bytes for headers like these.
inline constexpr size_t kMaxCorsHeaderBytes = 1024;

// What check() decided about one request, kept by its connection until the response is built
// (after the body, for a PATCH). Plain bytes: no allocation, and the origin is a copy because
// the head arena does not outlive the head.
struct RequestAccess {
  uint32_t generation = 0;    // the connection's request generation these facts belong to
  bool cors = false;          // CORS configured: responses carry Vary: Origin
  bool preflight = false;     // answering an allowed preflight
  bool by_signature = false;  // a signature (and no bearer token) authorized the request
  uint16_t origin_bytes = 0;  // an allowed Origin, echoed; 0 for none
  uint64_t expires = 0;       // the signature's deadline, reused for a new upload's Location
  char origin[kMaxOriginBytes];
};

struct RequestFacts {
  std::string_view method;         // after X-HTTP-Method-Override, e.g. "PATCH"; "" if unknown
  bool options = false;            // the request line says OPTIONS
  std::string_view path;           // the target before '?'
  std::string_view query;          // after '?'
  std::string_view authorization;  // header values; empty when absent
  std::string_view origin;
  bool has_preflight_method = false;  // Access-Control-Request-Method present
  bool upload_url = false;            // path names one upload and the method is HEAD, GET, PATCH
                                      // or DELETE: a "*" signature applies
  bool exempt = false;                // no credentials needed (/healthz)
};

enum class Verdict : uint8_t {
  kAllow,
  kPreflight,         // 204 with the preflight headers
  kOriginRefused,     // a preflight from an origin that is not allowed: 403
  kNoCredentials,     // 401
  kTokenRefused,      // 403
  kSignatureWrong,    // 403
  kSignatureExpired,  // 403
  kSignatureTooLong,  // 403: it expires later than --signed-url-max-lifetime allows
};

class AccessPolicy {
 public:
  AccessPolicy() = default;
  AccessPolicy(const AccessPolicy&) = delete;
  AccessPolicy& operator=(const AccessPolicy&) = delete;

  // Reads the files `config` names. False, with one line saying why, when one cannot be used.
  bool load(const Config& config, std::string* error);
  // True when any of the three is configured (otherwise the server needs no policy).
  static bool configured(const Config& config);

  bool tokens_enabled() const { return !token_file_.empty(); }
  bool signing_enabled() const { return key_ != nullptr; }
  bool cors_enabled() const { return any_origin_ || !origins_.empty(); }
  const std::string& token_file() const { return token_file_; }

  // SIGHUP: re-reads the token file. On failure the current tokens stay and `error` says why.
  bool reload_tokens(size_t* count, std::string* error);

  Verdict check(const RequestFacts& facts, uint64_t now_unix_s, RequestAccess* out) const;
  bool origin_allowed(std::string_view origin) const;

  // CORS headers for a response to the request `state` describes (nothing if CORS is off).
  void add_response_headers(ResponseBuilder& rb, const RequestAccess& state) const;
  // The value of a 401's WWW-Authenticate header; empty when tokens are not configured.
  std::string_view challenge() const;
  // An upload's `path`, already at the start of `out`, plus "?expires=E&signature=S" valid for
  // HEAD, GET, PATCH and DELETE when a signature authorized the creation (`state` may be null:
  // no signature).
  std::string_view sign_location(std::string_view path, const RequestAccess* state, char* out,
                                 size_t capacity) const;

 private:
  std::string token_file_;
  access::TokenRegistry tokens_;
  std::unique_ptr<access::HmacSha256Key> key_;
  uint64_t max_signature_lifetime_s_ = 0;
  std::vector<std::string> origins_;
  bool any_origin_ = false;
};

// An upload's Location, `prefix` + `id` (signed as sign_location() says), for a server that may
// have no policy.
std::string_view format_upload_location(const AccessPolicy* policy, std::string_view prefix,
                                        std::string_view id, const RequestAccess* state,
                                        char* out, size_t capacity);

}  // namespace ringest::http
