// Fuzzes the tus header parsers (http/tus/tus_headers.*) with the input as a header value:
// parse_offset (Upload-Offset and Upload-Length), valid_metadata and MetadataDecoder
// (Upload-Metadata), is_offset_content_type, parse_checksum (Upload-Checksum), parse_concat
// (Upload-Concat) and trailer_lists (Trailer). Each is compared with a reference written here
// from the header comments, in the plainest way (std::string, a bit accumulator for base64), so
// the two must agree on every input. Also checked: no crash or UB (ASan, UBSan), views point
// into the value or the caller's buffer, a decoder that is told its buffer is too small writes
// nothing and can be resumed, an accepted checksum re-encodes to exactly the text it came from,
// and none of the parsers allocates.
//
// Upload-Checksum also goes the whole way the tus handler takes it (tus_handler.cc,
// checksum_of() and on_trailer()): parse_checksum, digest_algorithm, the digest-size check,
// then a DigestValue compared with a Digester's. A value is usable exactly when the reference
// says so (one of the five offered algorithms, canonical base64 of its digest size); the names
// digest_algorithm() takes are those Tus-Checksum-Algorithm lists. And from the input as a
// body: every algorithm's Digester (fed in fuzzer-chosen pieces, alone or with all five as for a
// trailer) matches a reference (bitwise CRCs, libcrypto's EVP for the others); the value a
// client would send for it is usable and matches, one with a bit flipped does not; a Trailer
// list with Upload-Checksum added anywhere, in any case and whitespace, names it; the Repr-Digest
// of a CRC parses back to it.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/check.h"
#include "engine/base/digest.h"
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
    size_t want = algorithm == "md5"                              ? 16
                  : algorithm == "sha1"                           ? 20
                  : algorithm == "sha256"                         ? 32
                  : algorithm == "crc32" || algorithm == "crc32c" ? 4
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

// ---------------------------------------------------------------------------------------------
// Upload-Checksum the whole way, and Trailer.

struct Offered {
  std::string_view name;
  size_t bytes;
  DigestAlgorithm algorithm;
};
constexpr Offered kOffered[] = {{"sha1", 20, DigestAlgorithm::kSha1},
                                {"sha256", 32, DigestAlgorithm::kSha256},
                                {"md5", 16, DigestAlgorithm::kMd5},
                                {"crc32", 4, DigestAlgorithm::kCrc32},
                                {"crc32c", 4, DigestAlgorithm::kCrc32c}};

// What tus_handler.cc does with an Upload-Checksum value, in a header (checksum_of) or a
// trailer (on_trailer): parse it, look the algorithm up, check the digest's size, keep the
// digest to compare with the body's. nullopt: the request is refused with 400.
struct Usable {
  DigestAlgorithm algorithm;
  DigestValue expected;
};
std::optional<Usable> server_checksum(std::string_view value) {
  std::optional<Checksum> parsed = parse_checksum(value);
  if (!parsed) return std::nullopt;
  std::optional<DigestAlgorithm> algorithm = digest_algorithm(parsed->algorithm);
  if (!algorithm || parsed->digest_bytes != digest_bytes(*algorithm)) return std::nullopt;
  Usable out{*algorithm, {}};
  RINGEST_CHECK(parsed->digest_bytes <= sizeof out.expected.bytes);
  std::memcpy(out.expected.bytes, parsed->digest, parsed->digest_bytes);
  out.expected.size = parsed->digest_bytes;
  return out;
}

char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool reference_equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

std::vector<std::string_view> split_commas(std::string_view v) {
  std::vector<std::string_view> items;
  size_t start = 0;
  while (true) {
    size_t comma = v.find(',', start);
    items.push_back(v.substr(start, comma == std::string_view::npos ? v.npos : comma - start));
    if (comma == std::string_view::npos) return items;
    start = comma + 1;
  }
}

// Trailer: a comma-separated list of field names, each with optional whitespace around it.
bool reference_trailer_lists(std::string_view value, std::string_view name) {
  for (std::string_view item : split_commas(value)) {
    if (reference_equals_ignore_case(reference_trim(item), name)) return true;
  }
  return false;
}

void check_checksum_path(std::string_view value) {
  std::optional<Usable> usable;
  {
    AllocationFreeScope no_allocation;
    usable = server_checksum(value);
  }
  // The reference: `<offered name> SP <canonical base64 of exactly that digest's size>`.
  std::optional<Offered> want;
  std::string digest;
  size_t space = value.find(' ');
  if (space != std::string_view::npos) {
    bool canonical = false;
    std::optional<std::string> decoded =
        reference_base64_decode(value.substr(space + 1), &canonical);
    for (const Offered& o : kOffered) {
      if (value.substr(0, space) == o.name && decoded && canonical && decoded->size() == o.bytes) {
        want = o;
        digest = *decoded;
      }
    }
  }
  RINGEST_CHECK(usable.has_value() == want.has_value());
  // Tus-Checksum-Algorithm lists exactly the names the handler takes (it sends that list).
  std::optional<Checksum> parsed = parse_checksum(value);
  if (parsed) {
    bool listed;
    {
      AllocationFreeScope no_allocation;
      listed = trailer_lists(kDigestAlgorithmList, parsed->algorithm);
    }
    RINGEST_CHECK(listed == digest_algorithm(parsed->algorithm).has_value());
  }
  if (!usable) return;
  RINGEST_CHECK(usable->algorithm == want->algorithm);
  RINGEST_CHECK(digest_bytes(usable->algorithm) == want->bytes);
  RINGEST_CHECK(digest_name(usable->algorithm) == want->name);
  RINGEST_CHECK(usable->expected.size == digest.size());
  RINGEST_CHECK(std::memcmp(usable->expected.bytes, digest.data(), digest.size()) == 0);
}

uint32_t reference_crc(std::string_view data, uint32_t reflected_polynomial) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ reflected_polynomial : c >> 1;
  }
  return ~c;
}

std::string big_endian(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// The digest of `data` as tus sends it, from libcrypto's EVP interface (not the low-level calls
// the Digester makes) and bitwise CRCs.
std::string reference_digest(DigestAlgorithm algorithm, std::string_view data) {
  if (algorithm == DigestAlgorithm::kCrc32) return big_endian(reference_crc(data, 0xEDB88320u));
  if (algorithm == DigestAlgorithm::kCrc32c) return big_endian(reference_crc(data, 0x82F63B78u));
  const EVP_MD* md = algorithm == DigestAlgorithm::kSha1     ? EVP_sha1()
                     : algorithm == DigestAlgorithm::kSha256 ? EVP_sha256()
                                                             : EVP_md5();
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  RINGEST_CHECK(EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) == 1);
  return std::string(reinterpret_cast<char*>(out), n);
}

// The input as a request body: what the writer hashes and what the handler compares.
void check_digest_round_trip(std::string_view body) {
  fuzz::Choices choices(body.size() * 0x100000001B3ull + (body.empty() ? 0 : body[0]));
  for (const Offered& o : kOffered) {
    DigestValue alone;
    DigestValue among_all;
    {
      AllocationFreeScope no_allocation;
      Digester one;  // a header checksum: one algorithm
      one.begin(o.algorithm);
      Digester all;  // a trailer checksum: every algorithm, one named at the end
      all.begin_set(Digester::kAll);
      for (size_t at = 0; at < body.size();) {
        size_t n = 1 + choices.below(body.size() - at < 64 ? body.size() - at : 64);
        if (choices.below(4) == 0) n = body.size() - at;
        one.update(body.data() + at, n);
        all.update(body.data() + at, n);
        at += n;
      }
      RINGEST_CHECK(one.active() && all.has(o.algorithm));
      alone = one.finish(o.algorithm);
      among_all = all.finish(o.algorithm);
      RINGEST_CHECK(!one.active() && !all.active());
    }
    RINGEST_CHECK(alone == among_all);
    RINGEST_CHECK(alone.size == o.bytes);
    std::string want = reference_digest(o.algorithm, body);
    RINGEST_CHECK(std::string_view(reinterpret_cast<const char*>(alone.bytes), alone.size) == want);

    // The value a client sends for these bytes is usable and matches; one with a bit flipped
    // (a wrong digest) is usable and does not match: 460, not 400.
    std::string value = std::string(o.name) + " " + reference_base64_encode(want);
    std::optional<Usable> usable = server_checksum(value);
    RINGEST_CHECK(usable && usable->algorithm == o.algorithm && usable->expected == alone);
    std::string flipped = want;
    flipped[choices.below(flipped.size())] ^= static_cast<char>(1u << choices.below(8));
    usable = server_checksum(std::string(o.name) + " " + reference_base64_encode(flipped));
    RINGEST_CHECK(usable && usable->algorithm == o.algorithm && !(usable->expected == alone));
  }
  // A Digester asked for an algorithm it did not begin gives a digest no client can send.
  Digester crc_only;
  crc_only.begin(DigestAlgorithm::kCrc32c);
  crc_only.update(body.data(), body.size());
  RINGEST_CHECK(crc_only.finish(DigestAlgorithm::kSha1).size == 0);

  // Repr-Digest of a CRC-32C taken from the input: `crc32c=:<base64>:`, which parses back.
  uint32_t crc = 0;
  for (size_t i = 0; i < 4 && i < body.size(); ++i) crc |= uint32_t{uint8_t(body[i])} << (8 * i);
  char repr[kReprDigestChars];
  {
    AllocationFreeScope no_allocation;
    format_repr_digest(crc, repr);
  }
  std::string_view text(repr, sizeof repr);
  std::string middle = reference_base64_encode(big_endian(crc));
  RINGEST_CHECK(text == "crc32c=:" + middle + ":");
  std::optional<Usable> back = server_checksum("crc32c " + middle);
  RINGEST_CHECK(back && back->algorithm == DigestAlgorithm::kCrc32c &&
                std::string_view(reinterpret_cast<const char*>(back->expected.bytes), 4) ==
                    big_endian(crc));
}

void check_trailer_lists(std::string_view value) {
  constexpr std::string_view kName = "Upload-Checksum";
  bool found;
  {
    AllocationFreeScope no_allocation;
    found = trailer_lists(value, kName);
  }
  RINGEST_CHECK(found == reference_trailer_lists(value, kName));
  // The input's own items, with the name added at an input-chosen place, in an input-chosen
  // case, with whitespace around it: always found. With every item naming it taken out: never.
  std::vector<std::string_view> items = split_commas(value);
  fuzz::Choices choices(value.size() * 31 + (value.empty() ? 7 : value.back()));
  std::string name(kName);
  for (char& c : name) {
    if (choices.below(2)) {
      c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : ascii_lower(c);
    }
  }
  constexpr std::string_view kSpace[] = {"", " ", "\t", " \t "};
  std::string added =
      std::string(kSpace[choices.below(4)]) + name + std::string(kSpace[choices.below(4)]);
  std::vector<std::string> with(items.begin(), items.end());
  with.insert(with.begin() + static_cast<long>(choices.below(items.size() + 1)), added);
  std::vector<std::string> without;
  for (std::string_view item : items) {
    if (!reference_equals_ignore_case(reference_trim(item), kName)) without.emplace_back(item);
  }
  auto join = [](const std::vector<std::string>& parts) {
    std::string out;
    for (size_t i = 0; i < parts.size(); ++i) out += (i ? "," : "") + parts[i];
    return out;
  };
  RINGEST_CHECK(trailer_lists(join(with), kName));
  RINGEST_CHECK(!trailer_lists(join(without), kName));
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
  check_checksum_path(value);
  check_digest_round_trip(value);
  check_trailer_lists(value);
  check_concat(value);
  return 0;
}
