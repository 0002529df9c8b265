// Upload ids: 128 random bits from getrandom(2), written as 32 lowercase hex characters.
// They are never derived from client input; a client-supplied id is only ever compared.
#pragma once

#include <string>
#include <string_view>

namespace ringest {

inline constexpr size_t kUploadIdChars = 32;

std::string new_upload_id();
// True when `text` has the exact shape of an id (so it can be used in a path safely).
bool is_valid_upload_id(std::string_view text);

}  // namespace ringest
