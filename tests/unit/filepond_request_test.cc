// The pure half of FilePond's chunk protocol (http/filepond/filepond_request.h), table-driven:
// the query (one known parameter, nothing else), the creation form as browsers encode FormData
// (one metadata field; a file part, a second field, a broken boundary or framing refused), the
// metadata kept from its JSON (top-level strings with tus-safe keys, bounded), and Upload-Name.
#include "http/filepond/filepond_request.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ringest::filepond {
namespace {

TEST(FilepondQuery, OneKnownParameterOrNone) {
  struct Case {
    const char* target;
    QueryKind kind;
    const char* value;
  } cases[] = {
      {"/filepond", QueryKind::kNone, ""},
      {"/filepond?", QueryKind::kNone, ""},
      {"/filepond?patch=abc", QueryKind::kPatch, "abc"},
      {"/filepond?restore=abc", QueryKind::kRestore, "abc"},
      {"/filepond?load=abc", QueryKind::kLoad, "abc"},
      {"/filepond?fetch=http://x/y?z=1", QueryKind::kFetch, "http://x/y?z=1"},
      {"/filepond?patch=", QueryKind::kPatch, ""},
      {"/filepond?patch=a&patch=b", QueryKind::kInvalid, ""},
      {"/filepond?patch=a&load=b", QueryKind::kInvalid, ""},
      {"/filepond?patch", QueryKind::kInvalid, ""},
      {"/filepond?Patch=a", QueryKind::kInvalid, ""},
      {"/filepond?x=1", QueryKind::kInvalid, ""},
      {"/filepond?=a", QueryKind::kInvalid, ""},
      {"http://h/filepond?load=q", QueryKind::kLoad, "q"},
  };
  for (const Case& c : cases) {
    Query q = parse_query(c.target);
    EXPECT_EQ(q.kind, c.kind) << c.target;
    if (c.kind != QueryKind::kInvalid) {
      EXPECT_EQ(q.value, c.value) << c.target;
    }
  }
}

constexpr char kType[] = "multipart/form-data; boundary=----WebKitFormBoundaryAbC";

std::string field(const std::string& disposition, const std::string& value,
                  const std::string& more_headers = {}) {
  return "------WebKitFormBoundaryAbC\r\nContent-Disposition: " + disposition + "\r\n" +
         more_headers + "\r\n" + value + "\r\n";
}
const std::string kClose = "------WebKitFormBoundaryAbC--\r\n";

TEST(FilepondForm, TheOneMetadataFieldAsBrowsersSendIt) {
  std::string_view value;
  std::string body = field("form-data; name=\"filepond\"", "{\"a\":\"b\"}") + kClose;
  ASSERT_EQ(parse_metadata_form(kType, body, &value), FormError::kOk);
  EXPECT_EQ(value, "{\"a\":\"b\"}");
  // Another field name (FilePond's `name` option), a part Content-Type, a preamble, an epilogue,
  // a quoted boundary, a value holding CRLF and the boundary without its leading CRLF.
  body = "preamble\r\n" +
         field("form-data; name=\"files[]\"", "{\"x\":\"1\r\n------WebKitFormBoundaryAb\"}",
               "Content-Type: text/plain\r\n") +
         kClose + "epilogue";
  ASSERT_EQ(parse_metadata_form("Multipart/Form-Data;boundary=\"----WebKitFormBoundaryAbC\"",
                                body, &value),
            FormError::kOk);
  EXPECT_EQ(value, "{\"x\":\"1\r\n------WebKitFormBoundaryAb\"}");
  ASSERT_EQ(parse_metadata_form(kType, kClose, &value), FormError::kOk);  // no part at all
  EXPECT_TRUE(value.empty());
}

TEST(FilepondForm, EverythingElseIsRefused) {
  std::string one = field("form-data; name=\"filepond\"", "{}");
  struct Case {
    std::string type;
    std::string body;
    FormError error;
  } cases[] = {
      {"application/json", "{}", FormError::kNotMultipart},
      {"multipart/mixed; boundary=x", one + kClose, FormError::kNotMultipart},
      {"multipart/form-data", one + kClose, FormError::kBoundary},
      {"multipart/form-data; boundary=", one + kClose, FormError::kBoundary},
      {"multipart/form-data; boundary=a; boundary=b", one + kClose, FormError::kBoundary},
      {"multipart/form-data; boundary=" + std::string(71, 'a'), one, FormError::kBoundary},
      {"multipart/form-data; boundary=\"a b \"", one, FormError::kBoundary},
      {"multipart/form-data; boundary=a<b", one, FormError::kBoundary},
      {"multipart/form-data; boundary=\"abc", one, FormError::kBoundary},
      {kType, "", FormError::kMalformed},
      {kType, one, FormError::kMalformed},  // no close delimiter
      {kType, one.substr(0, 30), FormError::kMalformed},
      {kType, "------WebKitFormBoundaryAbCx\r\n\r\n{}\r\n" + kClose, FormError::kMalformed},
      {kType, field("form-data", "{}") + kClose, FormError::kMalformed},  // no name
      {kType, field("attachment; name=\"a\"", "{}") + kClose, FormError::kMalformed},
      {kType, "------WebKitFormBoundaryAbC\r\nX: y\r\n\r\n{}\r\n" + kClose,
       FormError::kMalformed},  // no Content-Disposition
      {kType, field("form-data; name=\"a\"", "{}", "Content-Disposition: form-data\r\n") + kClose,
       FormError::kMalformed},
      {kType, field("form-data; name=\"a\"; filename=\"f.bin\"", "xyz") + kClose,
       FormError::kFilePart},
      {kType, one + one + kClose, FormError::kTooManyParts},
      {kType, "------WebKitFormBoundaryAbC\r\nContent-Disposition: form-data; name=\"a\"\r\n",
       FormError::kMalformed},
  };
  for (const Case& c : cases) {
    std::string_view value;
    EXPECT_EQ(parse_metadata_form(c.type, c.body, &value), c.error) << c.type << "\n" << c.body;
  }
}

std::vector<MetadataPair> pairs_of(std::string_view json, MetadataError expected) {
  std::vector<MetadataPair> pairs;
  EXPECT_EQ(metadata_pairs(json, &pairs), expected) << json;
  return pairs;
}

TEST(FilepondMetadata, TopLevelStringsWithTusSafeKeysFirstOneWins) {
  auto pairs = pairs_of(R"({"filename":"caf\u00e9 \ud83d\ude00.png","size":12,"ok":true,)"
                        R"("nested":{"filename":"no"},"list":["no"],"bad key":"no",)"
                        R"("a,b":"no","":"no","filetype":"image/png","filename":"second"})",
                        MetadataError::kOk);
  ASSERT_EQ(pairs.size(), 2u);
  EXPECT_EQ(pairs[0].key, "filename");
  EXPECT_EQ(pairs[0].value, "caf\xc3\xa9 \xf0\x9f\x98\x80.png");
  EXPECT_EQ(pairs[1].key, "filetype");
  EXPECT_EQ(pairs[1].value, "image/png");
  EXPECT_TRUE(pairs_of("", MetadataError::kOk).empty());
  EXPECT_TRUE(pairs_of(" {} ", MetadataError::kOk).empty());
  EXPECT_TRUE(pairs_of(std::string(20000, '[') + std::string(20000, ']'),
                       MetadataError::kNotJsonObject).empty());
  std::string deep = "{\"a\":" + std::string(30000, '[') + std::string(30000, ']') + "}";
  EXPECT_TRUE(pairs_of(deep, MetadataError::kOk).empty());  // no stack for depth
}

TEST(FilepondMetadata, NotAnObjectOrTooMuchIsRefused) {
  for (const char* json : {"[]", "\"x\"", "12", "null", "{", "{\"a\":}", "{} {}", "{'a':'b'}",
                           "{\"a\":\"\xff\"}"}) {
    pairs_of(json, MetadataError::kNotJsonObject);
  }
  std::string big = "{\"a\":\"" + std::string(kMaxKeptMetadataBytes, 'x') + "\"}";
  pairs_of(big, MetadataError::kTooLarge);
  std::string long_key = "{\"" + std::string(kMaxKeptKeyBytes + 1, 'k') + "\":\"v\"}";
  EXPECT_TRUE(pairs_of(long_key, MetadataError::kOk).empty());
}

TEST(FilepondUploadName, PresentBoundedNoControls) {
  EXPECT_TRUE(valid_upload_name("cat.png"));
  EXPECT_TRUE(valid_upload_name("\xc3\xa9t\xc3\xa9.txt"));  // UTF-8 bytes, as sendRequest sends
  EXPECT_FALSE(valid_upload_name(""));
  EXPECT_FALSE(valid_upload_name(std::string(kMaxUploadNameBytes + 1, 'a')));
  EXPECT_FALSE(valid_upload_name("a\tb"));
  EXPECT_FALSE(valid_upload_name(std::string("a\0b", 3)));
  EXPECT_FALSE(valid_upload_name("a\x7f"));
}

}  // namespace
}  // namespace ringest::filepond
