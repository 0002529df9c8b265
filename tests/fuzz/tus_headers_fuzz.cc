// Fuzzes the tus header parsers (http/tus/tus_headers.*) with the input as a header value:
// parse_offset (Upload-Offset and Upload-Length), valid_metadata and MetadataDecoder
// (Upload-Metadata), is_offset_content_type, parse_checksum (Upload-Checksum) and parse_concat
// (Upload-Concat). Each is compared with a reference written here from the header comments, in
// the plainest way (std::string, a bit accumulator for base64), so the two must agree on
// every input. Also checked: no crash or UB (ASan, UBSan), views point into the value or the
// caller's buffer, a decoder that is told its buffer is too small writes nothing and can be
// resumed, an accepted checksum re-encodes to exactly the text it came from, and none of the
// parsers allocates.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/check.h"
#include "http/tus/tus_headers.h"
#include "tests/fuzz/fuzz_support.h"

namespace ringest::tus {
namespace {

using fuzz::AllocationFreeScope;

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool within(std::string_view inner, const void* outer, size_t outer_len) {
  auto i = reinterpret_cast<uintptr_t>(inner.data());
  auto o = reinterpret_cast<uintptr_t>(outer);
  return inner.empty() ||
         (i >= o && inner.size() <= outer_len && i - o <= outer_len - inner.size());
}

std::string_view reference_trim(std::string_view v) {
  size_t begin = v.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = v.find_last_not_of(" \t");
  return v.substr(begin, end - begin + 1);
}

// RFC 4648 base64 with '=' padding to a multiple of 4: the bytes, or nullopt. *canonical says
// whether the bits left over after the last whole byte are zero.
std::optional<std::string> reference_base64_decode(std::string_view v, bool* canonical) {
  if (v.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!v.empty() && v.back() == '=') pad = (v.size() >= 2 && v[v.size() - 2] == '=') ? 2 : 1;
  std::string out;
  uint32_t bits = 0;
  int bit_count = 0;
  for (size_t i = 0; i + pad < v.size(); ++i) {
    size_t digit = kAlphabet.find(v[i]);
    if (digit == std::string_view::npos) return std::nullopt;
    bits = (bits << 6) | static_cast<uint32_t>(digit);
    bit_count += 6;
    if (bit_count >= 8) {
      bit_count -= 8;
      out.push_back(static_cast<char>(bits >> bit_count));
      bits &= (1u << bit_count) - 1;
    }
  }
  *canonical = bits == 0;
  return out;
}

std::string reference_base64_encode(std::string_view bytes) {
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t group = static_cast<uint32_t>(static_cast<uint8_t>(bytes[i])) << 16;
    if (i + 1 < bytes.size())
      group |= static_cast<uint32_t>(static_cast<uint8_t>(bytes[i + 1])) << 8;
    if (i + 2 < bytes.size()) group |= static_cast<uint8_t>(bytes[i + 2]);
    out.push_back(kAlphabet[group >> 18]);
    out.push_back(kAlphabet[(group >> 12) & 63]);
    out.push_back(i + 1 < bytes.size() ? kAlphabet[(group >> 6) & 63] : '=');
    out.push_back(i + 2 < bytes.size() ? kAlphabet[group & 63] : '=');
  }
  return out;
}

struct ReferencePair {
  std::string key;
  std::string value;
};

// Upload-Metadata as documented: the pairs before the first fault, and whether there was none.
bool reference_metadata(std::string_view value, std::vector<ReferencePair>* pairs) {
  if (reference_trim(value).empty()) return true;
  while (true) {
    size_t comma = value.find(',');
    std::string_view pair = reference_trim(value.substr(0, comma));
    if (pair.empty() || pairs->size() == 64) return false;
    size_t space = pair.find(' ');
    std::string_view key = pair.substr(0, space);
    std::string_view encoded = space == std::string_view::npos
                                   ? std::string_view{}
                                   : reference_trim(pair.substr(space + 1));
    for (char c : key) {
      if (c < 0x21 || c > 0x7e) return false;
    }
    bool canonical;
    std::optional<std::string> decoded = reference_base64_decode(encoded, &canonical);
    if (!decoded) return false;
    for (const ReferencePair& p : *pairs) {
      if (p.key == key) return false;
    }
    pairs->push_back({std::string(key), *decoded});
    if (comma == std::string_view::npos) return true;
    value.remove_prefix(comma + 1);
  }
}

void check_metadata(std::string_view value) {
  std::vector<ReferencePair> expected;
  bool expected_valid = reference_metadata(value, &expected);
  bool valid;
  {
    AllocationFreeScope no_allocation;
    valid = valid_metadata(value);
  }
  RINGEST_CHECK(valid == expected_valid);

  // Two walks: one with room for any value, one with a buffer of 0..12 bytes that resumes
  // with the large buffer whenever it is too small.
  const size_t large_bytes = value.size() + 1;
  const size_t small_bytes = value.size() % 13;
  std::unique_ptr<char[]> large(new char[large_bytes]);
  std::unique_ptr<char[]> small(small_bytes ? new char[small_bytes] : nullptr);
  for (bool use_small : {false, true}) {
    MetadataDecoder decoder(value);
    size_t index = 0;
    while (true) {
      MetadataPair pair;
      MetadataDecoder::Result r;
      char* buffer = use_small ? small.get() : large.get();
      size_t buffer_bytes = use_small ? small_bytes : large_bytes;
      {
        AllocationFreeScope no_allocation;
        r = decoder.next(buffer, buffer_bytes, &pair);
        if (r == MetadataDecoder::Result::kBufferTooSmall) {
          RINGEST_CHECK(use_small && index < expected.size() &&
                        expected[index].value.size() > small_bytes);
          RINGEST_CHECK(decoder.next(buffer, buffer_bytes, &pair) == r);  // nothing consumed
          buffer = large.get();
          buffer_bytes = large_bytes;
          r = decoder.next(buffer, buffer_bytes, &pair);
        }
      }
      if (r == MetadataDecoder::Result::kPair) {
        RINGEST_CHECK(index < expected.size());
        RINGEST_CHECK(pair.key == expected[index].key);
        RINGEST_CHECK(pair.value == expected[index].value);
        RINGEST_CHECK(within(pair.key, value.data(), value.size()));
        RINGEST_CHECK(within(pair.value, buffer, buffer_bytes));
        ++index;
        continue;
      }
      RINGEST_CHECK(index == expected.size());
      RINGEST_CHECK(r == (expected_valid ? MetadataDecoder::Result::kEnd
                                         : MetadataDecoder::Result::kMalformed));
      MetadataPair after;
      RINGEST_CHECK(decoder.next(nullptr, 0, &after) == r);  // the end and faults stick
      break;
    }
  }
}

void check_offset(std::string_view value) {
  std::optional<uint64_t> parsed;
  {
    AllocationFreeScope no_allocation;
    parsed = parse_offset(value);
  }
  bool digits = !value.empty() && value.size() <= 19 &&
                value.find_first_not_of("0123456789") == std::string_view::npos;
  uint64_t expected = 0;  // 19 digits fit in 64 bits
  for (char c : digits ? value : std::string_view{}) expected = expected * 10 + (c - '0');
  if (digits && expected <= static_cast<uint64_t>(INT64_MAX)) {
    RINGEST_CHECK(parsed && *parsed == expected);
  } else {
    RINGEST_CHECK(!parsed);
  }
}

void check_content_type(std::string_view value) {
  bool accepted;
  {
    AllocationFreeScope no_allocation;
    accepted = is_offset_content_type(value);
  }
  std::string media(reference_trim(value.substr(0, value.find(';'))));
  for (char& c : media) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  RINGEST_CHECK(accepted == (media == kOffsetContentType));
}

void check_checksum(std::string_view value) {
  std::optional<Checksum> parsed;
  {
    AllocationFreeScope no_allocation;
    parsed = parse_checksum(value);
  }
  bool expected = false;
  std::string digest;
  size_t space = value.find(' ');
  if (space != std::string_view::npos) {
    std::string_view algorithm = value.substr(0, space);
    bool canonical = false;
    std::optional<std::string> decoded =
        reference_base64_decode(value.substr(space + 1), &canonical);
    size_t want = algorithm == "md5"      ? 16
                  : algorithm == "sha1"   ? 20
                  : algorithm == "sha256" ? 32
                                          : 0;
    expected = !algorithm.empty() && algorithm.size() <= kMaxChecksumAlgorithmBytes &&
               algorithm.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~") ==
                   std::string_view::npos &&
               decoded && canonical && !decoded->empty() &&
               decoded->size() <= kMaxChecksumDigestBytes && (want == 0 || decoded->size() == want);
    if (decoded) digest = *decoded;
  }
  RINGEST_CHECK(parsed.has_value() == expected);
  if (!parsed) return;
  RINGEST_CHECK(parsed->algorithm == value.substr(0, space));
  RINGEST_CHECK(within(parsed->algorithm, value.data(), value.size()));
  std::string_view got(reinterpret_cast<const char*>(parsed->digest), parsed->digest_bytes);
  RINGEST_CHECK(got == digest);
  RINGEST_CHECK(reference_base64_encode(got) == value.substr(space + 1));  // canonical
}

void check_concat(std::string_view value) {
  std::optional<Concat> parsed;
  {
    AllocationFreeScope no_allocation;
    parsed = parse_concat(value);
  }
  bool expected = false;
  bool final = false;
  std::vector<std::string_view> urls;
  if (value.size() <= kMaxConcatBytes) {
    if (value == "partial") {
      expected = true;
    } else if (value.substr(0, 6) == "final;") {
      final = true;
      std::string_view rest = value.substr(6);
      bool clean = true;
      for (char c : rest) clean = clean && c >= 0x20 && c <= 0x7e;
      size_t start = 0;
      while (clean && start <= rest.size()) {
        size_t end = rest.find(' ', start);
        if (end == std::string_view::npos) end = rest.size();
        if (end > start) urls.push_back(rest.substr(start, end - start));
        start = end + 1;
      }
      expected = clean && !urls.empty() && urls.size() <= kMaxConcatUrls;
    }
  }
  RINGEST_CHECK(parsed.has_value() == expected);
  if (!parsed) return;
  RINGEST_CHECK(parsed->final == final);
  RINGEST_CHECK(parsed->url_count == urls.size());
  for (size_t i = 0; i < urls.size(); ++i) {
    RINGEST_CHECK(parsed->urls[i] == urls[i]);
    RINGEST_CHECK(within(parsed->urls[i], value.data(), value.size()));
  }
}

}  // namespace
}  // namespace ringest::tus

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ringest::fuzz::install_allocation_hooks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringest::tus;
  // An exactly sized copy: ASan sees any read past the end of the value.
  std::unique_ptr<char[]> copy(new char[size ? size : 1]);
  if (size) std::memcpy(copy.get(), data, size);
  std::string_view value(copy.get(), size);
  check_offset(value);
  check_metadata(value);
  check_content_type(value);
  check_checksum(value);
  check_concat(value);
  return 0;
}
