#include "http/tus/tus_headers.h"

#include "http/http_parser.h"

namespace ringest::tus {
namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

bool valid_base64(std::string_view v) {
  if (v.size() % 4 != 0) return false;
  size_t pad = 0;
  while (pad < 2 && pad < v.size() && v[v.size() - 1 - pad] == '=') ++pad;
  for (size_t i = 0; i + pad < v.size(); ++i) {
    if (!is_base64_char(v[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

}  // namespace

std::optional<uint64_t> parse_offset(std::string_view value) {
  if (value.empty() || value.size() > 19) return std::nullopt;
  uint64_t result = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    result = result * 10 + static_cast<uint64_t>(c - '0');
  }
  if (result > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return result;
}

bool valid_metadata(std::string_view value) {
  if (trim(value).empty()) return true;
  constexpr size_t kMaxPairs = 64;
  std::string_view keys[kMaxPairs];
  size_t count = 0;
  while (true) {
    size_t comma = value.find(',');
    std::string_view pair = trim(value.substr(0, comma));
    if (pair.empty()) return false;
    size_t space = pair.find(' ');
    std::string_view key = pair.substr(0, space);
    std::string_view encoded = space == std::string_view::npos ? std::string_view{}
                                                                : trim(pair.substr(space + 1));
    if (key.empty()) return false;
    for (char c : key) {
      if (c <= 0x20 || c >= 0x7f || c == ',') return false;
    }
    if (!valid_base64(encoded)) return false;
    for (size_t i = 0; i < count; ++i) {
      if (keys[i] == key) return false;
    }
    if (count == kMaxPairs) return false;
    keys[count++] = key;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return true;
}

bool is_offset_content_type(std::string_view value) {
  std::string_view media = trim(value.substr(0, value.find(';')));
  return http::equals_ignore_case(media, kOffsetContentType);
}

}  // namespace ringest::tus
