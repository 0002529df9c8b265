// Proves that the tus header validators accept exactly the documented forms of Upload-Offset,
// Upload-Metadata and Content-Type, and reject everything else.
#include "http/tus/tus_headers.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::tus {
namespace {

// ---------------------------------------------------------------------------------------------
// parse_offset

struct OffsetCase {
  std::string input;
  std::optional<uint64_t> expected;
};

std::ostream& operator<<(std::ostream& os, const OffsetCase& c) {
  return os << ::testing::PrintToString(c.input);
}

class ParseOffsetTest : public ::testing::TestWithParam<OffsetCase> {};

TEST_P(ParseOffsetTest, ParsesOrRejects) {
  const OffsetCase& c = GetParam();
  EXPECT_EQ(parse_offset(c.input), c.expected) << "input '" << c.input << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Accepts, ParseOffsetTest,
    ::testing::Values(OffsetCase{"0", 0}, OffsetCase{"1", 1}, OffsetCase{"123", 123},
                      OffsetCase{"007", 7}, OffsetCase{"4294967296", 4294967296ull},
                      OffsetCase{"9223372036854775807", 9223372036854775807ull},
                      OffsetCase{"0000000000000000000", 0}));

INSTANTIATE_TEST_SUITE_P(
    Rejects, ParseOffsetTest,
    ::testing::Values(OffsetCase{"", std::nullopt}, OffsetCase{"-1", std::nullopt},
                      OffsetCase{"+1", std::nullopt}, OffsetCase{"abc", std::nullopt},
                      OffsetCase{"1e3", std::nullopt}, OffsetCase{" 1", std::nullopt},
                      OffsetCase{"1 ", std::nullopt}, OffsetCase{"\t1", std::nullopt},
                      OffsetCase{"0x10", std::nullopt}, OffsetCase{"1.0", std::nullopt},
                      OffsetCase{"1,000", std::nullopt},
                      OffsetCase{"9223372036854775808", std::nullopt},
                      OffsetCase{"9999999999999999999", std::nullopt},
                      OffsetCase{"10000000000000000000", std::nullopt},
                      OffsetCase{"18446744073709551615", std::nullopt},
                      OffsetCase{"18446744073709551616", std::nullopt},
                      OffsetCase{"00000000000000000001", std::nullopt},
                      OffsetCase{std::string("1\0", 2), std::nullopt}));

// ---------------------------------------------------------------------------------------------
// valid_metadata

struct MetadataCase {
  std::string input;
  bool valid;
};

std::ostream& operator<<(std::ostream& os, const MetadataCase& c) {
  return os << ::testing::PrintToString(c.input);
}

class ValidMetadataTest : public ::testing::TestWithParam<MetadataCase> {};

TEST_P(ValidMetadataTest, AcceptsOrRejects) {
  const MetadataCase& c = GetParam();
  EXPECT_EQ(valid_metadata(c.input), c.valid) << "input '" << c.input << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Accepts, ValidMetadataTest,
    ::testing::Values(MetadataCase{"", true}, MetadataCase{"filename d29ybGQudHh0", true},
                      MetadataCase{"a", true},          // key only, no space
                      MetadataCase{"a ,b YQ==", true},  // empty value with the space
                      MetadataCase{"a,b YQ==", true},   // empty value without the space
                      MetadataCase{"b YQ==,a", true},   // empty value last
                      MetadataCase{"k1 YQ==,k2 YWI=,k3 YWJj", true},
                      MetadataCase{"k1 YQ==, k2 YWI=", true},
                      MetadataCase{"filetype dGV4dC9wbGFpbg==", true},
                      MetadataCase{"x +/+/", true},  // the whole RFC 4648 alphabet is fine
                      MetadataCase{"is_confidential", true},
                      MetadataCase{"Key-With.Punct!~ YQ==", true}));

// Whitespace around a pair is optional whitespace, not an empty key: " YQ==" is the pair
// "YQ==" (a key with no value; '=' is a legal key character). This pins the trimming that
// valid_metadata applies to each comma-separated pair, which is what lets "k1 YQ==, k2 YWI="
// through.
TEST(ValidMetadataTrimmingTest, LeadingSpaceIsNotAnEmptyKey) {
  EXPECT_EQ(valid_metadata(" YQ=="), valid_metadata("YQ=="));
  EXPECT_TRUE(valid_metadata("YQ=="));
  EXPECT_TRUE(valid_metadata("a YQ==, b"));
  // ... but a pair that is only whitespace is an empty key.
  EXPECT_FALSE(valid_metadata("a YQ==, ,b"));
  EXPECT_FALSE(valid_metadata("a YQ==,  "));
  // And whitespace only is an empty header, which is valid.
  EXPECT_TRUE(valid_metadata("   "));
}

INSTANTIATE_TEST_SUITE_P(Rejects, ValidMetadataTest,
                         ::testing::Values(
                             // Duplicate keys.
                             MetadataCase{"a YQ==,a YWI=", false}, MetadataCase{"a,a", false},
                             MetadataCase{"k1 YQ==,k2 YWI=,k1", false},
                             // Empty keys.
                             MetadataCase{",a YQ==", false}, MetadataCase{"a YQ==,", false},
                             MetadataCase{"a YQ==,,b YQ==", false}, MetadataCase{",", false},
                             // Bad base64.
                             MetadataCase{"a Y", false}, MetadataCase{"a YQ=", false},
                             MetadataCase{"a Y!==", false}, MetadataCase{"a ====", false},
                             MetadataCase{"a Y===", false}, MetadataCase{"a =YQ=", false},
                             MetadataCase{"a YQ-_", false}, MetadataCase{"a YQ==YQ==", false},
                             MetadataCase{"a YQ== YQ==", false}, MetadataCase{"a d29y bGQ=", false},
                             // Keys with control characters or bytes outside printable ASCII.
                             MetadataCase{"a\x01 YQ==", false}, MetadataCase{"a\x7f YQ==", false},
                             MetadataCase{"a\tb YQ==", false},
                             MetadataCase{std::string("a\0b YQ==", 8), false},
                             MetadataCase{"caf\xc3\xa9 YQ==", false}));

TEST(ValidMetadataLimitsTest, ManyDistinctKeys) {
  std::string value;
  for (int i = 0; i < 64; ++i) {
    if (i) value += ',';
    value += "key" + std::to_string(i) + " YQ==";
  }
  EXPECT_TRUE(valid_metadata(value));
  // A duplicate far from its twin is still found.
  EXPECT_FALSE(valid_metadata(value + ",key0"));
}

// ---------------------------------------------------------------------------------------------
// is_offset_content_type

struct ContentTypeCase {
  std::string input;
  bool valid;
};

std::ostream& operator<<(std::ostream& os, const ContentTypeCase& c) {
  return os << ::testing::PrintToString(c.input);
}

class ContentTypeTest : public ::testing::TestWithParam<ContentTypeCase> {};

TEST_P(ContentTypeTest, AcceptsOrRejects) {
  const ContentTypeCase& c = GetParam();
  EXPECT_EQ(is_offset_content_type(c.input), c.valid) << "input '" << c.input << "'";
}

INSTANTIATE_TEST_SUITE_P(
    Accepts, ContentTypeTest,
    ::testing::Values(ContentTypeCase{"application/offset+octet-stream", true},
                      ContentTypeCase{"Application/Offset+Octet-Stream", true},
                      ContentTypeCase{"APPLICATION/OFFSET+OCTET-STREAM", true},
                      ContentTypeCase{"application/offset+octet-stream; charset=x", true},
                      ContentTypeCase{"application/offset+octet-stream;charset=x", true},
                      ContentTypeCase{"application/offset+octet-stream ; a=b; c=d", true}));

INSTANTIATE_TEST_SUITE_P(
    Rejects, ContentTypeTest,
    ::testing::Values(ContentTypeCase{"application/octet-stream", false},
                      ContentTypeCase{"", false}, ContentTypeCase{";", false},
                      ContentTypeCase{"application/offset+octet-streamx", false},
                      ContentTypeCase{"application/offset+octet-stream/x", false},
                      ContentTypeCase{"xapplication/offset+octet-stream", false},
                      ContentTypeCase{"application/offset octet-stream", false},
                      ContentTypeCase{"application/offset+octet-strea", false},
                      ContentTypeCase{"text/plain; x=application/offset+octet-stream", false}));

TEST(TusConstantsTest, Values) {
  EXPECT_EQ(kVersion, "1.0.0");
  EXPECT_EQ(kOffsetContentType, "application/offset+octet-stream");
  EXPECT_EQ(kExtensions,
            "creation,creation-with-upload,creation-defer-length,termination,checksum,"
            "checksum-trailer,concatenation");
  EXPECT_EQ(kExtensionsWithExpiration, std::string(kExtensions) + ",expiration");
  EXPECT_TRUE(trailer_lists("Upload-Checksum", "Upload-Checksum"));
  EXPECT_TRUE(trailer_lists("x-a, upload-checksum ,b", "Upload-Checksum"));
  EXPECT_FALSE(trailer_lists("Upload-Checksums, x", "Upload-Checksum"));
  EXPECT_FALSE(trailer_lists("", "Upload-Checksum"));
  char digest[kReprDigestChars];
  format_repr_digest(0x364B3FB7u, digest);  // CRC-32C of "abc"
  EXPECT_EQ(std::string_view(digest, sizeof digest), "crc32c=:Nks/tw==:");
}

}  // namespace
}  // namespace ringest::tus

// ---------------------------------------------------------------------------------------------
// MetadataDecoder, parse_checksum, parse_concat: the decoding iterator over Upload-Metadata
// yields exactly the pairs valid_metadata() describes and decodes them into the caller's
// buffer; the checksum and concatenation extension headers parse only in their documented
// forms.

namespace ringest::tus {
namespace {

struct DecodedPair {
  std::string key;
  std::string value;
  bool operator==(const DecodedPair&) const = default;
};

std::ostream& operator<<(std::ostream& os, const DecodedPair& p) {
  return os << ::testing::PrintToString(p.key) << "=" << ::testing::PrintToString(p.value);
}

// Decodes every pair with a generous buffer; *end is the Result that stopped the walk.
std::vector<DecodedPair> decode_all(std::string_view value, MetadataDecoder::Result* end) {
  std::vector<DecodedPair> out;
  MetadataDecoder decoder(value);
  char buffer[4096];
  MetadataPair pair;
  MetadataDecoder::Result r;
  while ((r = decoder.next(buffer, sizeof buffer, &pair)) == MetadataDecoder::Result::kPair) {
    out.push_back({std::string(pair.key), std::string(pair.value)});
  }
  *end = r;
  return out;
}

using DecodeResult = MetadataDecoder::Result;

TEST(MetadataDecoderTest, EmptyAndWhitespaceHaveNoPairs) {
  for (std::string_view value : {"", " ", "\t \t"}) {
    MetadataDecoder decoder(value);
    MetadataPair pair;
    EXPECT_EQ(decoder.next(nullptr, 0, &pair), DecodeResult::kEnd) << "'" << value << "'";
    EXPECT_EQ(decoder.next(nullptr, 0, &pair), DecodeResult::kEnd) << "kEnd is sticky";
  }
}

TEST(MetadataDecoderTest, DecodesTusJsClientMetadata) {
  DecodeResult end;
  std::vector<DecodedPair> pairs =
      decode_all("filename d29ybGQudHh0,filetype dGV4dC9wbGFpbg==", &end);
  EXPECT_EQ(end, DecodeResult::kEnd);
  EXPECT_EQ(pairs,
            (std::vector<DecodedPair>{{"filename", "world.txt"}, {"filetype", "text/plain"}}));
}

TEST(MetadataDecoderTest, DecodesEveryPaddingLength) {
  DecodeResult end;
  std::vector<DecodedPair> pairs = decode_all("a YQ==,b YWI=,c YWJj,d YWJjZA==", &end);
  EXPECT_EQ(end, DecodeResult::kEnd);
  EXPECT_EQ(pairs,
            (std::vector<DecodedPair>{{"a", "a"}, {"b", "ab"}, {"c", "abc"}, {"d", "abcd"}}));
}

TEST(MetadataDecoderTest, DecodesBinaryValues) {
  DecodeResult end;
  std::vector<DecodedPair> pairs = decode_all("bin AP8=,all +/+/", &end);
  EXPECT_EQ(end, DecodeResult::kEnd);
  EXPECT_EQ(pairs, (std::vector<DecodedPair>{{"bin", std::string("\x00\xff", 2)},
                                             {"all", "\xfb\xff\xbf"}}));
}

TEST(MetadataDecoderTest, KeysWithoutValuesAndOptionalWhitespace) {
  DecodeResult end;
  std::vector<DecodedPair> pairs = decode_all(" is_confidential , a  YQ==\t, b ,c", &end);
  EXPECT_EQ(end, DecodeResult::kEnd);
  EXPECT_EQ(pairs,
            (std::vector<DecodedPair>{{"is_confidential", ""}, {"a", "a"}, {"b", ""}, {"c", ""}}));
}

// Like valid_metadata(), a non-zero unused low bit in the last character is tolerated.
TEST(MetadataDecoderTest, NonCanonicalTrailingBitsAreDropped) {
  ASSERT_TRUE(valid_metadata("a YR=="));
  DecodeResult end;
  std::vector<DecodedPair> pairs = decode_all("a YR==,b YWJ=", &end);
  EXPECT_EQ(end, DecodeResult::kEnd);
  EXPECT_EQ(pairs, (std::vector<DecodedPair>{{"a", "a"}, {"b", "ab"}}));
}

TEST(MetadataDecoderTest, ValueFillsTheBufferExactly) {
  MetadataDecoder decoder("f d29ybGQudHh0");  // "world.txt", 9 bytes
  char buffer[9];
  MetadataPair pair;
  ASSERT_EQ(decoder.next(buffer, sizeof buffer, &pair), DecodeResult::kPair);
  EXPECT_EQ(pair.key, "f");
  EXPECT_EQ(pair.value, "world.txt");
  EXPECT_EQ(pair.value.data(), buffer);
  EXPECT_EQ(decoder.next(buffer, sizeof buffer, &pair), DecodeResult::kEnd);
}

TEST(MetadataDecoderTest, BufferTooSmallConsumesNothing) {
  MetadataDecoder decoder("k YQ==,f d29ybGQudHh0,g");
  char small[8];
  char large[9];
  MetadataPair pair;
  ASSERT_EQ(decoder.next(small, sizeof small, &pair), DecodeResult::kPair);
  EXPECT_EQ(pair.value, "a");
  EXPECT_EQ(decoder.next(small, sizeof small, &pair), DecodeResult::kBufferTooSmall);
  EXPECT_EQ(decoder.next(nullptr, 0, &pair), DecodeResult::kBufferTooSmall);
  ASSERT_EQ(decoder.next(large, sizeof large, &pair), DecodeResult::kPair);
  EXPECT_EQ(pair.key, "f");
  EXPECT_EQ(pair.value, "world.txt");
  ASSERT_EQ(decoder.next(nullptr, 0, &pair), DecodeResult::kPair);  // a key alone needs none
  EXPECT_EQ(pair.key, "g");
  EXPECT_TRUE(pair.value.empty());
  EXPECT_EQ(decoder.next(nullptr, 0, &pair), DecodeResult::kEnd);
}

TEST(MetadataDecoderTest, PairsBeforeAnErrorAreYieldedThenMalformedSticks) {
  MetadataDecoder decoder("a YQ==,b !!!!,c YQ==");
  char buffer[16];
  MetadataPair pair;
  ASSERT_EQ(decoder.next(buffer, sizeof buffer, &pair), DecodeResult::kPair);
  EXPECT_EQ(pair.key, "a");
  EXPECT_EQ(decoder.next(buffer, sizeof buffer, &pair), DecodeResult::kMalformed);
  EXPECT_EQ(decoder.next(buffer, sizeof buffer, &pair), DecodeResult::kMalformed);
}

TEST(MetadataDecoderTest, DuplicateKeyIsMalformedWhereItAppears) {
  DecodeResult end;
  std::vector<DecodedPair> pairs = decode_all("k1 YQ==,k2 YWI=,k1", &end);
  EXPECT_EQ(end, DecodeResult::kMalformed);
  EXPECT_EQ(pairs, (std::vector<DecodedPair>{{"k1", "a"}, {"k2", "ab"}}));
  // Keys that only share a prefix are different keys.
  pairs = decode_all("k YQ==,k1 YQ==,k12", &end);
  EXPECT_EQ(end, DecodeResult::kEnd);
  EXPECT_EQ(pairs.size(), 3u);
}

TEST(MetadataDecoderTest, AtMostSixtyFourPairs) {
  std::string value;
  for (int i = 0; i < 64; ++i) {
    if (i) value += ',';
    value += "key" + std::to_string(i) + " YQ==";
  }
  DecodeResult end;
  EXPECT_EQ(decode_all(value, &end).size(), 64u);
  EXPECT_EQ(end, DecodeResult::kEnd);
  std::vector<DecodedPair> pairs = decode_all(value + ",key64", &end);
  EXPECT_EQ(pairs.size(), 64u);
  EXPECT_EQ(end, DecodeResult::kMalformed);
  EXPECT_FALSE(valid_metadata(value + ",key64"));
}

// The decoder walks to kEnd exactly when valid_metadata() accepts the value.
TEST(MetadataDecoderTest, AgreesWithValidMetadata) {
  const std::string cases[] = {"",
                               "a",
                               "a ,b YQ==",
                               "a,b YQ==",
                               "b YQ==,a",
                               "k1 YQ==, k2 YWI=",
                               "x +/+/",
                               "Key-With.Punct!~ YQ==",
                               " YQ==",
                               "a YQ==, ,b",
                               "a YQ==,  ",
                               "a YQ==,a YWI=",
                               "a,a",
                               ",a YQ==",
                               "a YQ==,",
                               ",",
                               "a Y",
                               "a YQ=",
                               "a Y!==",
                               "a ====",
                               "a Y===",
                               "a =YQ=",
                               "a YQ-_",
                               "a YQ==YQ==",
                               "a YQ== YQ==",
                               "a d29y bGQ=",
                               "a\x01 YQ==",
                               "a\x7f YQ==",
                               "a\tb YQ==",
                               std::string("a\0b YQ==", 8),
                               "caf\xc3\xa9 YQ==",
                               "a\tYQ=="};
  for (const std::string& value : cases) {
    DecodeResult end;
    decode_all(value, &end);
    EXPECT_EQ(end == DecodeResult::kEnd, valid_metadata(value)) << ::testing::PrintToString(value);
    EXPECT_NE(end, DecodeResult::kBufferTooSmall);
  }
}

// ---------------------------------------------------------------------------------------------
// parse_checksum

std::string digest_string(const Checksum& c) {
  return std::string(reinterpret_cast<const char*>(c.digest), c.digest_bytes);
}

std::string hex_bytes(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

TEST(ParseChecksumTest, KnownAlgorithmsWithTheirDigests) {
  // The digests of "abc".
  std::optional<Checksum> c = parse_checksum("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->algorithm, "sha1");
  EXPECT_EQ(digest_string(*c), hex_bytes("a9993e364706816aba3e25717850c26c9cd0d89d"));

  c = parse_checksum("sha256 ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->algorithm, "sha256");
  EXPECT_EQ(digest_string(*c),
            hex_bytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));

  c = parse_checksum("md5 kAFQmDzST7DWlj99KOF/cg==");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->algorithm, "md5");
  EXPECT_EQ(digest_string(*c), hex_bytes("900150983cd24fb0d6963f7d28e17f72"));
}

TEST(ParseChecksumTest, OtherAlgorithmsAnyDigestLengthUpToTheLimit) {
  std::optional<Checksum> c = parse_checksum("crc32 EjRWeA==");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->algorithm, "crc32");
  EXPECT_EQ(digest_string(*c), "\x12\x34\x56\x78");

  c = parse_checksum(
      "sha512 3a81oZNherrMQXNJriBBMRLm+k6JqX6iCp7u5ktV05ohkpkqJ0/BqDa6PCOj/uu9RU1EI2Q86A4qmslPpUy"
      "knw==");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->digest_bytes, 64u);

  EXPECT_TRUE(parse_checksum("x-my.alg_2~ AP8="));
  EXPECT_TRUE(parse_checksum(std::string(32, 'a') + " AP8="));  // the longest algorithm name
  EXPECT_FALSE(parse_checksum(std::string(33, 'a') + " AP8="));
  EXPECT_TRUE(parse_checksum("x " + std::string(84, 'A') + "AA=="));   // 64 bytes
  EXPECT_FALSE(parse_checksum("x " + std::string(88, 'A')));           // 66 bytes
  EXPECT_FALSE(parse_checksum("x " + std::string(84, 'A') + "AAA="));  // 65 bytes
}

TEST(ParseChecksumTest, KnownAlgorithmWithTheWrongDigestLength) {
  EXPECT_FALSE(parse_checksum("sha1 kAFQmDzST7DWlj99KOF/cg=="));     // 16 bytes
  EXPECT_FALSE(parse_checksum("md5 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="));  // 20 bytes
  EXPECT_FALSE(parse_checksum("sha256 qZk+NkcGgWq6PiVxeFDCbJzQ2J0="));
  EXPECT_FALSE(parse_checksum("sha1 AP8="));
}

TEST(ParseChecksumTest, RejectsMalformedValues) {
  const std::string rejects[] = {
      "",
      "sha1",
      "sha1 ",
      " qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
      "SHA1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",  // uppercase algorithm
      "Sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
      "sha1  qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",     // two spaces
      "sha1\tqZk+NkcGgWq6PiVxeFDCbJzQ2J0=",     // tab
      " sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",     // leading space
      "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0= ",     // trailing space
      "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0",       // padding missing
      "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J1=",      // unused bits set: not canonical
      "md5 kAFQmDzST7DWlj99KOF/ch==",           // unused bits set: not canonical
      "sha1 qZk-NkcGgWq6PiVxeFDCbJzQ2J0=",      // base64url alphabet
      "sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=qZk=",  // padding inside
      "sha1 qZk+NkcG gWq6PiVxeFDCbJzQ2J0=",     // space inside the digest
      "sh a1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=",
      "sha1,md5 kAFQmDzST7DWlj99KOF/cg==",  // ',' is not a token character
      "sha/1 AP8=",
      "x ====",
      "x A===",
      std::string("sha\x01 AP8="),
      std::string("x\0 AP8=", 7),
      "x\xc3\xa9 AP8=",
  };
  for (const std::string& value : rejects) {
    EXPECT_FALSE(parse_checksum(value)) << ::testing::PrintToString(value);
  }
}

// ---------------------------------------------------------------------------------------------
// parse_concat

TEST(ParseConcatTest, Partial) {
  std::optional<Concat> c = parse_concat("partial");
  ASSERT_TRUE(c);
  EXPECT_FALSE(c->final);
  EXPECT_EQ(c->url_count, 0u);
}

TEST(ParseConcatTest, FinalWithRelativeAndAbsoluteUrls) {
  std::optional<Concat> c = parse_concat("final;/files/a https://example.com/files/b /files/c?x=1");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->final);
  ASSERT_EQ(c->url_count, 3u);
  EXPECT_EQ(c->urls[0], "/files/a");
  EXPECT_EQ(c->urls[1], "https://example.com/files/b");
  EXPECT_EQ(c->urls[2], "/files/c?x=1");
}

TEST(ParseConcatTest, ExtraSpacesBetweenUrlsAreOneSeparator) {
  std::optional<Concat> c = parse_concat("final; /files/a   /files/b ");
  ASSERT_TRUE(c);
  ASSERT_EQ(c->url_count, 2u);
  EXPECT_EQ(c->urls[0], "/files/a");
  EXPECT_EQ(c->urls[1], "/files/b");
}

TEST(ParseConcatTest, Limits) {
  std::string value = "final;";
  for (size_t i = 0; i < kMaxConcatUrls; ++i) value += " /files/" + std::to_string(i);
  std::optional<Concat> c = parse_concat(value);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->url_count, kMaxConcatUrls);
  EXPECT_EQ(c->urls[kMaxConcatUrls - 1], "/files/" + std::to_string(kMaxConcatUrls - 1));
  EXPECT_FALSE(parse_concat(value + " /files/x"));  // one URL too many

  std::string longest = "final;/" + std::string(kMaxConcatBytes - 7, 'a');
  ASSERT_EQ(longest.size(), kMaxConcatBytes);
  EXPECT_TRUE(parse_concat(longest));
  EXPECT_FALSE(parse_concat(longest + "a"));
}

TEST(ParseConcatTest, RejectsMalformedValues) {
  const std::string rejects[] = {
      "",
      "Partial",
      "PARTIAL",
      "partial ",
      " partial",
      "partial;",
      "partial;/files/a",
      "final",
      "final;",
      "final; ",
      "final;   ",
      "final /files/a",
      "final,/files/a",
      "Final;/files/a",
      " final;/files/a",
      "final;/files/a\t/files/b",
      "final;/files/a\x01",
      "final;/files/a\r\n",
      "final;/files/\x7f",
      "final;/files/caf\xc3\xa9",
      std::string("final;/files/a\0", 15),
  };
  for (const std::string& value : rejects) {
    EXPECT_FALSE(parse_concat(value)) << ::testing::PrintToString(value);
  }
}

// ---------------------------------------------------------------------------------------------
// concat_url_id: the upload id of a URL in Upload-Concat: final

TEST(ConcatUrlIdTest, RelativeAndAbsoluteUrlsUnderTheBase) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::pair<std::string, std::string> accepted[] = {
      {"/files/" + id, id},
      {"http://127.0.0.1:8080/files/" + id, id},
      {"https://uploads.example.com/files/" + id, id},
      {"HTTP://H/files/" + id, id},
      {"/files/" + id + "?expires=1&signature=x", id},  // a signed URL: the query is ignored
      {"http://h/files/" + id + "?a=b", id},
      {"/files/ABC", "ABC"},  // the shape is the caller's to check
  };
  for (const auto& [url, want] : accepted) {
    std::optional<std::string_view> got = concat_url_id(url, "/files/");
    ASSERT_TRUE(got) << url;
    EXPECT_EQ(*got, want) << url;
  }
}

TEST(ConcatUrlIdTest, AnythingElseIsNotAnUploadOfThisServer) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const std::string refused[] = {
      "",
      "/files/",
      "/files/?x=1",
      "/other/" + id,
      "files/" + id,
      "/files/" + id + "/more",
      "/files/" + id + "#frag",
      "/files//" + id,
      "//host/files/" + id,
      "http://host/uploads/" + id,
      "http://host" ,
      "http:///files/" + id,
      "http://host?x/files/" + id,
      "ftp://host/files/" + id,
      "http:/files/" + id,
      "/FILES/" + id,
  };
  for (const std::string& url : refused) {
    EXPECT_FALSE(concat_url_id(url, "/files/")) << url;
  }
  EXPECT_FALSE(concat_url_id("/files/" + id, ""));
}

}  // namespace
}  // namespace ringest::tus
