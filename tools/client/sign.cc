#include "tools/client/sign.h"

#include "http/access/signed_url.h"

namespace ringest::client {

std::string path_of(const std::string& url) {
  size_t start = 0;
  size_t scheme = url.find("://");
  if (scheme != std::string::npos && url[0] != '/') {
    start = url.find('/', scheme + 3);
    if (start == std::string::npos) return "/";
  }
  size_t end = url.find_first_of("?#", start);
  return url.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string sign_url(const access::HmacSha256Key& key, const std::string& url,
                     const std::string& method, uint64_t expires_unix_s) {
  std::string base = url.substr(0, url.find('#'));
  char separator = base.find('?') == std::string::npos ? '?' : '&';
  return base + separator + access::signed_query(key, method, path_of(url), expires_unix_s);
}

}  // namespace ringest::client
