#include "engine/storage/upload_id.h"

#include <sys/random.h>

#include <cerrno>
#include <cstdint>

#include "engine/base/check.h"

namespace ringest {

std::string new_upload_id() {
  uint8_t bytes[16];
  size_t got = 0;
  while (got < sizeof bytes) {
    ssize_t n = getrandom(bytes + got, sizeof bytes - got, 0);
    if (n < 0 && errno == EINTR) continue;
    RINGEST_CHECK(n > 0);
    got += static_cast<size_t>(n);
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(kUploadIdChars, '0');
  for (size_t i = 0; i < sizeof bytes; ++i) {
    id[2 * i] = kHex[bytes[i] >> 4];
    id[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return id;
}

bool is_valid_upload_id(std::string_view text) {
  if (text.size() != kUploadIdChars) return false;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace ringest
