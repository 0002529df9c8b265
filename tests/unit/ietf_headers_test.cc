// Proves that the IETF resumable-upload field parsers accept exactly the Structured Field forms
// the draft names (an SF Boolean for Upload-Complete, a non-negative SF Integer of at most 15
// digits for Upload-Offset, Upload-Length and Upload-Draft-Interop-Version), that a field on two
// lines counts as invalid, which requests are IETF rather than tus, and that Upload-Limit and the
// problem-details bodies come out as the draft spells them.
#include "http/ietf/ietf_headers.h"

#include <gtest/gtest.h>
#include <llhttp.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::ietf {
namespace {

TEST(IetfHeaders, BooleanIsExactlyQuestionZeroOrOne) {
  EXPECT_EQ(parse_sf_boolean("?1"), std::optional<bool>(true));
  EXPECT_EQ(parse_sf_boolean("?0"), std::optional<bool>(false));
  EXPECT_EQ(parse_sf_boolean(" \t?1 "), std::optional<bool>(true));
  for (std::string_view bad :
       {"", "1", "0", "true", "?", "?2", "?1;a", "?1,?0", "? 1", "?10", "?T"}) {
    EXPECT_EQ(parse_sf_boolean(bad), std::nullopt) << bad;
  }
}

TEST(IetfHeaders, OffsetIsANonNegativeIntegerOfAtMost15Digits) {
  EXPECT_EQ(parse_sf_offset("0"), std::optional<uint64_t>(0));
  EXPECT_EQ(parse_sf_offset(" 42 "), std::optional<uint64_t>(42));
  EXPECT_EQ(parse_sf_offset("007"), std::optional<uint64_t>(7));
  EXPECT_EQ(parse_sf_offset("999999999999999"), std::optional<uint64_t>(999999999999999));
  for (std::string_view bad :
       {"", " ", "-1", "+1", "1000000000000000", "1.0", "1e3", "0x10", "1;a=b", "1, 2", "١"}) {
    EXPECT_EQ(parse_sf_offset(bad), std::nullopt) << bad;
  }
}

http::RequestHead head_with(uint8_t method, const std::vector<http::Header>& headers) {
  http::RequestHead head;
  head.method = method;
  head.headers = headers.data();
  head.header_count = static_cast<uint32_t>(headers.size());
  return head;
}

TEST(IetfHeaders, AFieldOnTwoLinesIsDuplicated) {
  std::vector<http::Header> once = {{"Upload-Offset", "5"}};
  std::vector<http::Header> twice = {{"Upload-Offset", "5"}, {"upload-offset", "5"}};
  SingleField f = single_field(head_with(HTTP_PATCH, once), "upload-offset");
  EXPECT_TRUE(f.present);
  EXPECT_FALSE(f.duplicated);
  EXPECT_EQ(f.value, "5");
  f = single_field(head_with(HTTP_PATCH, twice), "Upload-Offset");
  EXPECT_TRUE(f.present && f.duplicated);
  EXPECT_FALSE(single_field(head_with(HTTP_PATCH, {}), "Upload-Offset").present);
}

TEST(IetfHeaders, InteropVersionIsAnIntegerOnOneLine) {
  EXPECT_EQ(interop_version(head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "8"}})), 8);
  EXPECT_EQ(interop_version(head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "6"}})), 6);
  EXPECT_EQ(interop_version(head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "x"}})), -1);
  EXPECT_EQ(interop_version(head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "8"},
                                                  {"Upload-Draft-Interop-Version", "8"}})),
            -1);
  EXPECT_EQ(interop_version(head_with(HTTP_POST, {})), -1);
  EXPECT_TRUE(supported_version(6));
  EXPECT_TRUE(supported_version(8));
  EXPECT_FALSE(supported_version(7));
  EXPECT_FALSE(supported_version(-1));
}

TEST(IetfHeaders, WhichRequestsAreIetf) {
  EXPECT_TRUE(is_ietf_request(head_with(HTTP_HEAD, {{"Upload-Draft-Interop-Version", "6"}})));
  EXPECT_TRUE(is_ietf_request(head_with(HTTP_POST, {{"Upload-Complete", "?1"}})));
  EXPECT_TRUE(is_ietf_request(
      head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "8"}, {"Tus-Resumable", "1.0.0"}})));
  EXPECT_FALSE(is_ietf_request(
      head_with(HTTP_POST, {{"Upload-Complete", "?1"}, {"Tus-Resumable", "1.0.0"}})));
  EXPECT_FALSE(is_ietf_request(head_with(HTTP_HEAD, {})));
  EXPECT_FALSE(is_ietf_request(head_with(HTTP_GET, {{"Upload-Draft-Interop-Version", "8"}})));
  EXPECT_EQ(ietf_choice(head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "8"}})),
            kIetfChoice | 8);
  EXPECT_EQ(ietf_choice(head_with(HTTP_POST, {{"Upload-Draft-Interop-Version", "7"}})),
            kIetfChoice);
}

TEST(IetfHeaders, PartialUploadMediaType) {
  EXPECT_TRUE(is_partial_upload("application/partial-upload"));
  EXPECT_TRUE(is_partial_upload(" Application/Partial-Upload ; x=y"));
  EXPECT_FALSE(is_partial_upload("application/offset+octet-stream"));
  EXPECT_FALSE(is_partial_upload("application/partial-uploads"));
  EXPECT_FALSE(is_partial_upload(""));
}

TEST(IetfHeaders, DispositionFilename) {
  EXPECT_EQ(disposition_filename("inline; filename=\"a b.jpg\""), "a b.jpg");
  EXPECT_EQ(disposition_filename("attachment; FileName=plain.txt; x=y"), "plain.txt");
  EXPECT_EQ(disposition_filename("inline; filename=\"a; b\"; size=3"), "a; b");
  EXPECT_EQ(disposition_filename("inline; filename*=UTF-8''x.txt"), "");
  EXPECT_EQ(disposition_filename("inline; filename=\"esc\\\"aped\""), "");
  EXPECT_EQ(disposition_filename("inline; filename=\"unclosed"), "");
  EXPECT_EQ(disposition_filename("inline"), "");
}

TEST(IetfHeaders, UploadLimitAndProblemBodies) {
  char limit[kLimitChars];
  EXPECT_EQ(std::string_view(limit, format_upload_limit(1024, 0, limit)), "max-size=1024");
  EXPECT_EQ(std::string_view(limit, format_upload_limit(1024, 16, limit)),
            "max-size=1024, max-append-size=16");
  char body[512];
  size_t n = format_problem(Problem::kMismatchingOffset, "t", 4, 2, body, sizeof body);
  EXPECT_EQ(std::string_view(body, n),
            "{\"type\":\"https://iana.org/assignments/http-problem-types#mismatching-upload-"
            "offset\",\"title\":\"t\",\"expected-offset\":4,\"provided-offset\":2}\n");
  n = format_problem(Problem::kCompletedUpload, "done", 0, 0, body, sizeof body);
  EXPECT_EQ(std::string_view(body, n),
            "{\"type\":\"https://iana.org/assignments/http-problem-types#completed-upload\","
            "\"title\":\"done\"}\n");
  EXPECT_EQ(problem_type_uri(Problem::kInconsistentLength),
            "https://iana.org/assignments/http-problem-types#inconsistent-upload-length");
  EXPECT_EQ(format_problem(Problem::kCompletedUpload, "done", 0, 0, body, 10), 0u)
      << "too small: nothing";
}

}  // namespace
}  // namespace ringest::ietf
