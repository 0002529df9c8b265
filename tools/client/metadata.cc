#include "tools/client/metadata.h"

#include "engine/base/base64.h"

namespace ringest::client {

std::string base64_encode(std::string_view bytes) {
  std::string out(ringest::base64_encoded_chars(bytes.size()), '\0');
  ringest::base64_encode(bytes.data(), bytes.size(), out.data());
  return out;
}

std::string encode_upload_metadata(const std::vector<std::pair<std::string, std::string>>& pairs) {
  std::string out;
  for (const auto& [key, value] : pairs) {
    if (!out.empty()) out += ',';
    out += key;
    if (!value.empty()) {
      out += ' ';
      out += base64_encode(value);
    }
  }
  return out;
}

}  // namespace ringest::client
