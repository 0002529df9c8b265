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
  EXPECT_EQ(kExtensions, "creation,creation-with-upload,termination");
}

}  // namespace
}  // namespace ringest::tus
