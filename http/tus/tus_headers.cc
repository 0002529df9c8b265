#include "http/tus/tus_headers.h"

#include <cstring>

#include "engine/base/base64.h"
#include "http/http_parser.h"

namespace ringest::tus {
namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

constexpr size_t kMaxMetadataPairs = 64;

// One comma-separated piece of an Upload-Metadata value: `key`, `key SP`, or `key SP value`,
// surrounded by optional whitespace. Checks everything but the key's uniqueness.
bool split_metadata_pair(std::string_view piece, std::string_view* key, std::string_view* encoded) {
  std::string_view pair = trim(piece);
  if (pair.empty()) return false;
  size_t space = pair.find(' ');
  *key = pair.substr(0, space);
  *encoded = space == std::string_view::npos ? std::string_view{} : trim(pair.substr(space + 1));
  if (key->empty()) return false;
  for (char c : *key) {
    if (c <= 0x20 || c >= 0x7f || c == ',') return false;
  }
  // A final character whose unused low bits are not zero is accepted (they are dropped).
  return base64_check(*encoded) != Base64Result::kMalformed;
}

// tchar of RFC 9110 section 5.6.2 without uppercase letters.
bool is_lowercase_token_char(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  return c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
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
  std::string_view keys[kMaxMetadataPairs];
  size_t count = 0;
  while (true) {
    size_t comma = value.find(',');
    std::string_view key;
    std::string_view encoded;
    if (!split_metadata_pair(value.substr(0, comma), &key, &encoded)) return false;
    for (size_t i = 0; i < count; ++i) {
      if (keys[i] == key) return false;
    }
    if (count == kMaxMetadataPairs) return false;
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

MetadataDecoder::Result MetadataDecoder::next(char* buffer, size_t buffer_bytes,
                                              MetadataPair* pair) {
  if (malformed_) return Result::kMalformed;
  if (done_) return Result::kEnd;
  if (pairs_ == 0 && trim(value_).empty()) {
    done_ = true;
    return Result::kEnd;
  }
  std::string_view rest = value_.substr(pos_);
  size_t comma = rest.find(',');
  std::string_view key;
  std::string_view encoded;
  bool ok =
      split_metadata_pair(rest.substr(0, comma), &key, &encoded) && pairs_ < kMaxMetadataPairs;
  // Unique keys without a key table: rescan the pairs already yielded (at most 64).
  std::string_view seen = value_.substr(0, pos_);
  for (uint32_t i = 0; ok && i < pairs_; ++i) {
    size_t seen_comma = seen.find(',');
    std::string_view seen_key;
    std::string_view seen_encoded;
    split_metadata_pair(seen.substr(0, seen_comma), &seen_key, &seen_encoded);
    if (seen_key == key) ok = false;
    seen.remove_prefix(seen_comma + 1);  // every yielded pair ended with a comma
  }
  if (!ok) {
    malformed_ = true;
    return Result::kMalformed;
  }
  size_t decoded_bytes = 0;
  if (base64_decode(encoded, reinterpret_cast<uint8_t*>(buffer), buffer_bytes, &decoded_bytes) ==
      Base64Result::kBufferTooSmall) {
    return Result::kBufferTooSmall;
  }
  pair->key = key;
  pair->value = std::string_view(decoded_bytes > 0 ? buffer : "", decoded_bytes);
  ++pairs_;
  if (comma == std::string_view::npos) {
    done_ = true;
  } else {
    pos_ += comma + 1;
  }
  return Result::kPair;
}

std::optional<Checksum> parse_checksum(std::string_view value) {
  size_t space = value.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  std::string_view algorithm = value.substr(0, space);
  std::string_view encoded = value.substr(space + 1);
  if (algorithm.empty() || algorithm.size() > kMaxChecksumAlgorithmBytes) return std::nullopt;
  for (char c : algorithm) {
    if (!is_lowercase_token_char(c)) return std::nullopt;
  }
  if (encoded.empty() || base64_check(encoded) == Base64Result::kMalformed) return std::nullopt;
  size_t digest_bytes = base64_decoded_bytes(encoded);
  if (digest_bytes == 0 || digest_bytes > kMaxChecksumDigestBytes) return std::nullopt;
  struct Known {
    std::string_view name;
    size_t digest_bytes;
  };
  static constexpr Known kKnown[] = {
      {"md5", 16}, {"sha1", 20}, {"sha256", 32}, {"crc32", 4}, {"crc32c", 4}};
  for (const Known& k : kKnown) {
    if (algorithm == k.name && digest_bytes != k.digest_bytes) return std::nullopt;
  }
  Checksum out;
  out.algorithm = algorithm;
  out.digest_bytes = digest_bytes;
  size_t decoded = 0;
  if (base64_decode(encoded, out.digest, sizeof out.digest, &decoded) != Base64Result::kOk) {
    return std::nullopt;  // not canonical
  }
  return out;
}

std::optional<Concat> parse_concat(std::string_view value) {
  if (value.size() > kMaxConcatBytes) return std::nullopt;
  Concat out;
  if (value == "partial") return out;
  constexpr std::string_view kFinal = "final;";
  if (value.substr(0, kFinal.size()) != kFinal) return std::nullopt;
  out.final = true;
  std::string_view rest = value.substr(kFinal.size());
  for (char c : rest) {
    if (c != ' ' && (c < 0x21 || c > 0x7e)) return std::nullopt;
  }
  while (true) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    if (out.url_count == kMaxConcatUrls) return std::nullopt;
    size_t end = rest.find(' ');
    out.urls[out.url_count++] = rest.substr(0, end);
    rest.remove_prefix(end == std::string_view::npos ? rest.size() : end);
  }
  if (out.url_count == 0) return std::nullopt;
  return out;
}

bool trailer_lists(std::string_view trailer_value, std::string_view name) {
  size_t pos = 0;
  while (pos <= trailer_value.size()) {
    size_t comma = trailer_value.find(',', pos);
    if (comma == std::string_view::npos) comma = trailer_value.size();
    std::string_view item = trailer_value.substr(pos, comma - pos);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (http::equals_ignore_case(item, name)) return true;
    pos = comma + 1;
  }
  return false;
}

void format_repr_digest(uint32_t crc32c, char* out) {
  uint8_t be[4] = {static_cast<uint8_t>(crc32c >> 24), static_cast<uint8_t>(crc32c >> 16),
                   static_cast<uint8_t>(crc32c >> 8), static_cast<uint8_t>(crc32c)};
  std::memcpy(out, "crc32c=:", 8);
  base64_encode(be, sizeof be, out + 8);  // 8 characters
  out[16] = ':';
}

std::optional<std::string_view> concat_url_id(std::string_view url, std::string_view base) {
  if (base.empty() || base.front() != '/') return std::nullopt;
  std::string_view path = url;
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (url.size() > scheme.size() && http::equals_ignore_case(url.substr(0, scheme.size()), scheme)) {
      std::string_view rest = url.substr(scheme.size());
      size_t slash = rest.find('/');
      std::string_view authority = rest.substr(0, slash);
      if (slash == std::string_view::npos || authority.empty() ||
          authority.find_first_of("?#") != std::string_view::npos) {
        return std::nullopt;
      }
      path = rest.substr(slash);
      break;
    }
  }
  if (path.substr(0, 2) == "//" || path.substr(0, base.size()) != base) return std::nullopt;
  std::string_view id = path.substr(base.size());
  size_t question = id.find('?');
  if (question != std::string_view::npos) id = id.substr(0, question);
  if (id.empty() || id.find_first_of("/#") != std::string_view::npos) return std::nullopt;
  return id;
}

}  // namespace ringest::tus
