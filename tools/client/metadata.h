// tus Upload-Metadata: "key base64(value),key base64(value)". Base64 is engine/base/base64.h,
// the same code the server decodes these values with.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ringest::client {

std::string base64_encode(std::string_view bytes);

// Keys are sent as given (validated by the command line); an empty value is sent as the bare
// key, which tus allows.
std::string encode_upload_metadata(const std::vector<std::pair<std::string, std::string>>& pairs);

}  // namespace ringest::client
