#include "http/tus/tus_headers.h"

#include "http/http_parser.h"

namespace ringest::tus {
namespace {

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// '=' characters at the end of the value (0, 1 or 2 are looked at).
size_t base64_padding(std::string_view v) {
  size_t pad = 0;
  while (pad < 2 && pad < v.size() && v[v.size() - 1 - pad] == '=') ++pad;
  return pad;
}

bool valid_base64(std::string_view v) {
  if (v.size() % 4 != 0) return false;
  size_t pad = base64_padding(v);
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

uint32_t base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<uint32_t>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<uint32_t>(c - 'a') + 26;
  if (c >= '0' && c <= '9') return static_cast<uint32_t>(c - '0') + 52;
  return c == '+' ? 62 : 63;  // '/': callers passed valid_base64() first
}

// Bytes that a value valid_base64() accepted decodes to.
size_t base64_decoded_bytes(std::string_view v) { return v.size() / 4 * 3 - base64_padding(v); }

// Decodes a value valid_base64() accepted into `out` (base64_decoded_bytes(v) bytes). Returns
// false when the unused low bits of the last character before the padding are not zero
// (RFC 4648 section 3.5: such a value is not canonical), having decoded it regardless.
bool base64_decode(std::string_view v, uint8_t* out) {
  size_t pad = base64_padding(v);
  size_t groups = v.size() / 4;
  size_t o = 0;
  for (size_t g = 0; g < groups; ++g) {
    const char* in = v.data() + 4 * g;
    bool last = g + 1 == groups;
    size_t used = last ? 4 - pad : 4;  // characters that carry bits
    uint32_t bits = 0;
    for (size_t i = 0; i < 4; ++i) bits = (bits << 6) | (i < used ? base64_value(in[i]) : 0);
    out[o++] = static_cast<uint8_t>(bits >> 16);
    if (used >= 3) out[o++] = static_cast<uint8_t>(bits >> 8);
    if (used == 4) out[o++] = static_cast<uint8_t>(bits);
    if (last && used == 2 && (bits & 0xFFFF) != 0) return false;
    if (last && used == 3 && (bits & 0xFF) != 0) return false;
  }
  return true;
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
  return valid_base64(*encoded);
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
  size_t decoded_bytes = base64_decoded_bytes(encoded);
  if (decoded_bytes > buffer_bytes) return Result::kBufferTooSmall;
  if (decoded_bytes > 0) base64_decode(encoded, reinterpret_cast<uint8_t*>(buffer));
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
  if (encoded.empty() || !valid_base64(encoded)) return std::nullopt;
  size_t digest_bytes = base64_decoded_bytes(encoded);
  if (digest_bytes == 0 || digest_bytes > kMaxChecksumDigestBytes) return std::nullopt;
  struct Known {
    std::string_view name;
    size_t digest_bytes;
  };
  static constexpr Known kKnown[] = {{"md5", 16}, {"sha1", 20}, {"sha256", 32}};
  for (const Known& k : kKnown) {
    if (algorithm == k.name && digest_bytes != k.digest_bytes) return std::nullopt;
  }
  Checksum out;
  out.algorithm = algorithm;
  out.digest_bytes = digest_bytes;
  if (!base64_decode(encoded, out.digest)) return std::nullopt;
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

}  // namespace ringest::tus
