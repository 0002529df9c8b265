// `ringest sign`: a URL signed for ringestd's --signing-key-file, so a backend (or a test) can
// hand an uploader a URL instead of a token. The format is in http/access/signed_url.h.
#pragma once

#include <cstdint>
#include <string>

#include "http/access/hmac_sha256.h"

namespace ringest::client {

// The path a server sees for `url` ("http://h:1/files/?x" -> "/files/"; "/files/" as is):
// the part that is signed.
std::string path_of(const std::string& url);

// `url` with "expires=E&signature=S" appended ('?' or '&' as needed), signed for `method`.
std::string sign_url(const access::HmacSha256Key& key, const std::string& url,
                     const std::string& method, uint64_t expires_unix_s);

}  // namespace ringest::client
