// Proves that the pure pieces of a download parse and format exactly what RFC 9110 (Range,
// entity tags, If-Range, dates), RFC 6838 (media types) and RFC 6266 / RFC 8187
// (Content-Disposition) allow, and that no metadata value a client chose, however hostile (CR/LF,
// quotes, backslashes, controls, invalid UTF-8, bidirectional overrides, names of kilobytes),
// reaches a response header as anything but safe characters.
#include "http/download/file_download.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/storage/upload_record.h"

namespace ringest::http {
namespace {

// ---------------------------------------------------------------------------------------------
// parse_range

struct RangeCase {
  std::string value;
  uint64_t length;
  RangeKind kind;
  uint64_t from = 0;
  uint64_t to = 0;
};

std::ostream& operator<<(std::ostream& os, const RangeCase& c) {
  return os << ::testing::PrintToString(c.value) << " of " << c.length;
}

class ParseRangeTest : public ::testing::TestWithParam<RangeCase> {};

TEST_P(ParseRangeTest, SelectsTheRange) {
  const RangeCase& c = GetParam();
  RangeRequest r = parse_range(c.value, c.length);
  EXPECT_EQ(r.kind, c.kind);
  if (c.kind == RangeKind::kPartial) {
    EXPECT_EQ(r.from, c.from);
    EXPECT_EQ(r.to, c.to);
  }
}

constexpr RangeKind kPartial = RangeKind::kPartial;
constexpr RangeKind kWhole = RangeKind::kWhole;
constexpr RangeKind kUnsatisfiable = RangeKind::kUnsatisfiable;

INSTANTIATE_TEST_SUITE_P(
    SingleRanges, ParseRangeTest,
    ::testing::Values(
        RangeCase{"bytes=0-0", 10, kPartial, 0, 1}, RangeCase{"bytes=0-9", 10, kPartial, 0, 10},
        RangeCase{"bytes=2-5", 10, kPartial, 2, 6}, RangeCase{"bytes=2-", 10, kPartial, 2, 10},
        RangeCase{"bytes=9-", 10, kPartial, 9, 10}, RangeCase{"bytes=0-", 10, kPartial, 0, 10},
        RangeCase{"bytes=5-100", 10, kPartial, 5, 10},  // last-pos past the end
        RangeCase{"bytes=5-99999999999999999999999", 10, kPartial, 5, 10},
        RangeCase{"bytes=-3", 10, kPartial, 7, 10}, RangeCase{"bytes=-10", 10, kPartial, 0, 10},
        RangeCase{"bytes=-11", 10, kPartial, 0, 10},  // suffix longer than the file
        RangeCase{"bytes=-99999999999999999999999", 10, kPartial, 0, 10},
        RangeCase{"BYTES=1-2", 10, kPartial, 1, 3},  // the unit is case-insensitive
        RangeCase{"Bytes=1-2", 10, kPartial, 1, 3}, RangeCase{"  bytes=1-2\t", 10, kPartial, 1, 3},
        RangeCase{"bytes= 1-2 ", 10, kPartial, 1, 3},
        RangeCase{"bytes=1-2,", 10, kPartial, 1, 3},  // empty list elements
        RangeCase{"bytes=, ,1-2, ,", 10, kPartial, 1, 3},
        RangeCase{"bytes=007-008", 10, kPartial, 7, 9},
        RangeCase{"bytes=18446744073709551614-", UINT64_MAX, kPartial, 18446744073709551614ull,
                  UINT64_MAX}));

INSTANTIATE_TEST_SUITE_P(
    Unsatisfiable, ParseRangeTest,
    ::testing::Values(RangeCase{"bytes=10-", 10, kUnsatisfiable},
                      RangeCase{"bytes=10-20", 10, kUnsatisfiable},
                      RangeCase{"bytes=99999999999999999999-", 10, kUnsatisfiable},
                      RangeCase{"bytes=-0", 10, kUnsatisfiable},
                      RangeCase{"bytes=0-", 0, kUnsatisfiable},  // an empty upload
                      RangeCase{"bytes=0-0", 0, kUnsatisfiable},
                      RangeCase{"bytes=-0", 0, kUnsatisfiable}));

INSTANTIATE_TEST_SUITE_P(
    IgnoredForTheWholeFile, ParseRangeTest,
    ::testing::Values(
        RangeCase{"", 10, kWhole}, RangeCase{"bytes", 10, kWhole}, RangeCase{"bytes=", 10, kWhole},
        RangeCase{"bytes=,", 10, kWhole}, RangeCase{"bytes=-", 10, kWhole},
        RangeCase{"bytes=5-2", 10, kWhole},  // last below first: invalid
        RangeCase{"bytes=a-b", 10, kWhole}, RangeCase{"bytes=1-2x", 10, kWhole},
        RangeCase{"bytes=+1-2", 10, kWhole}, RangeCase{"bytes=1 - 2", 10, kWhole},
        RangeCase{"bytes=--1", 10, kWhole}, RangeCase{"bytes=1-2-3", 10, kWhole},
        RangeCase{"bytes=0x10-", 10, kWhole}, RangeCase{"bytes =1-2", 10, kWhole},
        RangeCase{"bytes=1-2;x", 10, kWhole}, RangeCase{"items=1-2", 10, kWhole},  // another unit
        RangeCase{"1-2", 10, kWhole},
        RangeCase{"bytes=0-1,3-4", 10, kWhole},  // several ranges: our choice
        RangeCase{"bytes=0-1, -2", 10, kWhole}, RangeCase{"bytes=0-1,0-1", 10, kWhole},
        RangeCase{"bytes=20-30,40-50", 10, kWhole},  // even when unsatisfiable
        RangeCase{"bytes=-5", 0, kWhole},            // satisfiable, selects nothing
        RangeCase{std::string("bytes=1-2\0", 10), 10, kWhole},
        RangeCase{"bytes=1-2\r\nX-Evil: 1", 10, kWhole}));

// ---------------------------------------------------------------------------------------------
// Entity tags

constexpr std::string_view kId = "0123456789abcdef0123456789abcdef";

TEST(Etag, IsStrongAndCarriesTheDigestWhenKnown) {
  char out[kEtagBytes];
  EXPECT_EQ(format_etag(kId, true, 0x0a0b0c0d, out),
            "\"0a0b0c0d-0123456789abcdef0123456789abcdef\"");
  EXPECT_EQ(format_etag(kId, true, 0xFFFFFFFF, out),
            "\"ffffffff-0123456789abcdef0123456789abcdef\"");
  EXPECT_EQ(format_etag(kId, false, 0x12345678, out), "\"0123456789abcdef0123456789abcdef\"");
}

struct TagCase {
  std::string list;
  Comparison comparison;
  TagMatch expected;
};

std::ostream& operator<<(std::ostream& os, const TagCase& c) {
  return os << ::testing::PrintToString(c.list);
}

class MatchEtagListTest : public ::testing::TestWithParam<TagCase> {};

TEST_P(MatchEtagListTest, Matches) {
  const TagCase& c = GetParam();
  EXPECT_EQ(match_etag_list(c.list, "\"abc\"", c.comparison), c.expected);
}

constexpr Comparison kWeak = Comparison::kWeak;
constexpr Comparison kStrong = Comparison::kStrong;

INSTANTIATE_TEST_SUITE_P(
    Lists, MatchEtagListTest,
    ::testing::Values(
        TagCase{"\"abc\"", kWeak, TagMatch::kMatch}, TagCase{"\"abc\"", kStrong, TagMatch::kMatch},
        TagCase{"W/\"abc\"", kWeak, TagMatch::kMatch},  // W/ is disregarded
        TagCase{"W/\"abc\"", kStrong, TagMatch::kNoMatch}, TagCase{"*", kWeak, TagMatch::kMatch},
        TagCase{" * ", kStrong, TagMatch::kMatch},
        TagCase{"\"x\", \"abc\"", kWeak, TagMatch::kMatch},
        TagCase{"\"x\",\"abc\",\"y\"", kWeak, TagMatch::kMatch},
        TagCase{"\"x\" , W/\"y\" ,\t\"abc\"", kStrong, TagMatch::kMatch},
        TagCase{", \"abc\",,", kWeak, TagMatch::kMatch},  // empty elements
        TagCase{"\"x\", \"y\"", kWeak, TagMatch::kNoMatch},
        TagCase{"\"ABC\"", kWeak, TagMatch::kNoMatch},   // case-sensitive
        TagCase{"\"abc \"", kWeak, TagMatch::kInvalid},  // no space in a tag
        TagCase{"\"\"", kWeak, TagMatch::kNoMatch},      // empty tag is valid
        TagCase{"\"a,b\", \"abc\"", kWeak, TagMatch::kMatch},
        TagCase{"abc", kWeak, TagMatch::kInvalid},  // unquoted
        TagCase{"\"abc", kWeak, TagMatch::kInvalid}, TagCase{"\"abc\"x", kWeak, TagMatch::kInvalid},
        TagCase{"w/\"abc\"", kWeak, TagMatch::kInvalid},  // W/ is case-sensitive
        TagCase{"*, \"abc\"", kWeak, TagMatch::kInvalid}, TagCase{"", kWeak, TagMatch::kInvalid},
        TagCase{" , ", kWeak, TagMatch::kInvalid}, TagCase{"\"a\x7f\"", kWeak, TagMatch::kInvalid},
        TagCase{"\"\xc3\xa9\"", kWeak, TagMatch::kNoMatch}));  // obs-text is valid

TEST(IfRange, MatchesAStrongEqualTagOrTheExactLastModified) {
  std::string_view etag = "\"abc\"";
  std::string_view date = "Sun, 06 Nov 1994 08:49:37 GMT";
  EXPECT_TRUE(if_range_matches("\"abc\"", etag, date));
  EXPECT_TRUE(if_range_matches(" \"abc\" ", etag, date));
  EXPECT_FALSE(if_range_matches("W/\"abc\"", etag, date));  // weak never matches
  EXPECT_FALSE(if_range_matches("\"abd\"", etag, date));
  EXPECT_FALSE(if_range_matches("\"abc\", \"abc\"", etag, date));  // one tag, not a list
  EXPECT_FALSE(if_range_matches("*", etag, date));
  EXPECT_FALSE(if_range_matches("", etag, date));
  EXPECT_TRUE(if_range_matches("Sun, 06 Nov 1994 08:49:37 GMT", etag, date));
  EXPECT_FALSE(if_range_matches("Sun, 06 Nov 1994 08:49:38 GMT", etag, date));
  EXPECT_FALSE(if_range_matches("Sunday, 06-Nov-94 08:49:37 GMT", etag, date));
  EXPECT_FALSE(if_range_matches("Sun, 06 Nov 1994 08:49:37 GMT", etag, ""));
}

// ---------------------------------------------------------------------------------------------
// Dates

TEST(HttpDate, FormatsImfFixdate) {
  char out[kHttpDateBytes];
  EXPECT_EQ(format_http_date(0, out), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(format_http_date(784111777, out), "Sun, 06 Nov 1994 08:49:37 GMT");  // RFC 9110
  EXPECT_EQ(format_http_date(951782400, out), "Tue, 29 Feb 2000 00:00:00 GMT");  // leap day
  EXPECT_EQ(format_http_date(4107542399, out), "Sun, 28 Feb 2100 23:59:59 GMT");
  EXPECT_EQ(format_http_date(4107542400, out), "Mon, 01 Mar 2100 00:00:00 GMT");  // no leap
  EXPECT_EQ(format_http_date(1767225599, out), "Wed, 31 Dec 2025 23:59:59 GMT");
  EXPECT_EQ(format_http_date(UINT64_MAX, out), "Fri, 31 Dec 9999 23:59:59 GMT");  // clamped
}

// ---------------------------------------------------------------------------------------------
// Media types

std::string media_type(std::string_view value) {
  char out[kMediaTypeBytes];
  return std::string(sanitize_media_type(value, out));
}

TEST(MediaType, KeepsTypeAndSubtypeLowercasedAndDropsParameters) {
  EXPECT_EQ(media_type("image/png"), "image/png");
  EXPECT_EQ(media_type("Text/HTML"), "text/html");
  EXPECT_EQ(media_type("text/plain; charset=utf-8"), "text/plain");
  EXPECT_EQ(media_type(" application/json ;x=\"y\r\nz\""), "application/json");
  EXPECT_EQ(media_type("image/svg+xml"), "image/svg+xml");
  EXPECT_EQ(media_type("application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  EXPECT_EQ(media_type("video/x-ms.wmv"), "video/x-ms.wmv");
  std::string longest = std::string(127, 'a') + "/" + std::string(127, 'b');
  EXPECT_EQ(media_type(longest), longest);
}

TEST(MediaType, RefusesAnythingElse) {
  for (std::string_view bad : {"",
                               "png",
                               "image/",
                               "/png",
                               "image//png",
                               "image/png/x",
                               "*/*",
                               "image/*",
                               "text/html\r\nSet-Cookie: a=b",
                               "text/ html",
                               "text /html",
                               "te xt/html",
                               "text/html\"",
                               "text/ht\\ml",
                               "-text/html",
                               "text/.html",
                               "\xc3\xa9/x",
                               "text/h\x7fml",
                               "text\0/x",
                               "a/b\n"}) {
    EXPECT_EQ(media_type(bad), "") << ::testing::PrintToString(bad);
  }
  std::string too_long = std::string(128, 'a') + "/b";
  EXPECT_EQ(media_type(too_long), "");
  EXPECT_EQ(media_type(std::string_view("text\0/x", 7)), "");
}

// ---------------------------------------------------------------------------------------------
// File names and Content-Disposition

std::string disposition(std::string_view raw_name) {
  char name[kMaxFilenameBytes];
  char out[kDispositionBytes];
  return std::string(format_content_disposition(sanitize_filename(raw_name, name), out));
}

std::string sanitized(std::string_view raw_name) {
  char name[kMaxFilenameBytes];
  return std::string(sanitize_filename(raw_name, name));
}

// Nothing that could end or split a field: only visible ASCII and spaces.
void expect_header_safe(std::string_view value) {
  for (char c : value) {
    unsigned char b = static_cast<unsigned char>(c);
    ASSERT_TRUE(b >= 0x20 && b < 0x7F) << "byte " << int(b) << " in " << value;
  }
}

TEST(ContentDisposition, PlainAsciiNameNeedsNoExtendedForm) {
  EXPECT_EQ(disposition("report.pdf"), "attachment; filename=\"report.pdf\"");
  EXPECT_EQ(disposition("my file (1).tar.gz"), "attachment; filename=\"my file (1).tar.gz\"");
  EXPECT_EQ(disposition("a;b,c=d.txt"), "attachment; filename=\"a;b,c=d.txt\"");
}

TEST(ContentDisposition, NoUsableNameIsAttachmentAlone) {
  EXPECT_EQ(disposition(""), "attachment");
  EXPECT_EQ(disposition("   "), "attachment");
  EXPECT_EQ(disposition("."), "attachment");
  EXPECT_EQ(disposition(".."), "attachment");
}

TEST(ContentDisposition, NonAsciiNameGetsAsciiFallbackAndUtf8Form) {
  EXPECT_EQ(disposition("r\xc3\xa9sum\xc3\xa9.pdf"),
            "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf");
  EXPECT_EQ(disposition("\xe6\x97\xa5\xe6\x9c\xac.txt"),  // two CJK characters
            "attachment; filename=\"__.txt\"; filename*=UTF-8''%E6%97%A5%E6%9C%AC.txt");
  EXPECT_EQ(disposition("\xf0\x9f\x98\x80 smile.png"),  // U+1F600, four bytes
            "attachment; filename=\"_ smile.png\"; filename*=UTF-8''%F0%9F%98%80%20smile.png");
}

TEST(ContentDisposition, QuotesBackslashesAndPercentNeverReachTheQuotedForm) {
  EXPECT_EQ(disposition("a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt");
  EXPECT_EQ(disposition("100%.txt"),
            "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt");
  EXPECT_EQ(disposition("\"; filename=evil.exe"),
            "attachment; filename=\"_; filename=evil.exe\"; "
            "filename*=UTF-8''%22%3B%20filename%3Devil.exe");
  // A backslash is a path separator on Windows: it becomes '_' in the name itself.
  EXPECT_EQ(sanitized("..\\..\\windows\\evil.dll"), ".._.._windows_evil.dll");
  EXPECT_EQ(sanitized("../../etc/passwd"), ".._.._etc_passwd");
}

TEST(ContentDisposition, CrLfAndControlsBecomeUnderscores) {
  EXPECT_EQ(sanitized("a\r\nSet-Cookie: x=y.txt"), "a__Set-Cookie: x=y.txt");
  EXPECT_EQ(sanitized(std::string_view("a\0b\tc\x7f"
                                       "d\x1b.txt",
                                       12)),
            "a_b_c_d_.txt");
  EXPECT_EQ(sanitized("x\xc2\x85y"), "x_y");  // U+0085 NEL, a C1 control
  // What is left is safe in the quoted form: no extended form is needed.
  std::string d = disposition("evil\r\n\r\n<html>.txt");
  expect_header_safe(d);
  EXPECT_EQ(d, "attachment; filename=\"evil____<html>.txt\"");
}

TEST(ContentDisposition, BidirectionalControlsCannotDisguiseTheExtension) {
  // "invoice<U+202E>fdp.exe" displays as "invoiceexe.pdf".
  EXPECT_EQ(sanitized("invoice\xe2\x80\xae"
                      "fdp.exe"),
            "invoice_fdp.exe");
  EXPECT_EQ(sanitized("a\xe2\x80\x8f"
                      "b\xe2\x81\xa6"
                      "c\xef\xbb\xbf"
                      "d\xe2\x80\xa8"
                      "e"),
            "a_b_c_d_e");
}

TEST(ContentDisposition, InvalidUtf8BytesBecomeUnderscores) {
  EXPECT_EQ(sanitized("a\xff"
                      "b"),
            "a_b");
  EXPECT_EQ(sanitized("a\xc3"), "a_");  // truncated sequence
  EXPECT_EQ(sanitized("a\xc0\xaf"
                      "b"),
            "a__b");  // overlong '/'
  EXPECT_EQ(sanitized("a\xed\xa0\x80"
                      "b"),
            "a___b");                                  // a surrogate
  EXPECT_EQ(sanitized("a\xf4\x90\x80\x80"), "a____");  // past U+10FFFF
  EXPECT_EQ(sanitized("\x80\x80.txt"), "__.txt");      // stray continuation bytes
  std::string d = disposition("caf\xe9.txt");          // Latin-1, not UTF-8
  expect_header_safe(d);
  EXPECT_EQ(d, "attachment; filename=\"caf_.txt\"");
}

TEST(ContentDisposition, SpacesAtTheEndsAreDropped) {
  EXPECT_EQ(sanitized("  a b.txt  "), "a b.txt");
}

TEST(ContentDisposition, LongNamesAreCutAtACharacterKeepingTheExtension) {
  std::string name = sanitized(std::string(10000, 'a') + ".tar.gz");
  EXPECT_EQ(name.size(), kMaxFilenameBytes);
  EXPECT_EQ(name, std::string(kMaxFilenameBytes - 3, 'a') + ".gz");
  // Two-byte characters: the cut never splits one.
  std::string e_acute;
  for (int i = 0; i < 200; ++i) e_acute += "\xc3\xa9";
  name = sanitized(e_acute + ".jpeg");
  EXPECT_EQ(name, e_acute.substr(0, 250) + ".jpeg");  // 125 characters of 2 bytes
  name = sanitized("x" + e_acute + ".jpeg");
  EXPECT_EQ(name, "x" + e_acute.substr(0, 248) + ".jpeg");  // 254 bytes: no half character
  // No extension worth keeping (too long): plain cut.
  name = sanitized(std::string(300, 'b') + "." + std::string(40, 'x'));
  EXPECT_EQ(name, std::string(kMaxFilenameBytes, 'b'));
  // Exactly at the limit: untouched.
  std::string exact = std::string(kMaxFilenameBytes - 4, 'c') + ".txt";
  EXPECT_EQ(sanitized(exact), exact);
  // The longest extended form still fits its buffer.
  std::string worst;
  for (int i = 0; i < 300; ++i) worst += "\"";
  std::string d = disposition(worst);
  expect_header_safe(d);
  EXPECT_LE(d.size(), kDispositionBytes);
}

TEST(ContentDisposition, FormatterIsSafeEvenOnAnUnsanitizedName) {
  char out[kDispositionBytes];
  std::string_view d = format_content_disposition("a\r\n\"\\b\xff", out);
  expect_header_safe(d);
  EXPECT_EQ(d, "attachment; filename=\"a____b_\"; filename*=UTF-8''a%0D%0A%22%5Cb%FF");
}

// ---------------------------------------------------------------------------------------------
// Invariants over many random values (deterministic), for what the tables above do not reach

// xorshift64*: the same sequence on every run.
uint64_t next_random(uint64_t* state) {
  *state ^= *state >> 12;
  *state ^= *state << 25;
  *state ^= *state >> 27;
  return *state * 2685821657736338717ull;
}

// Bytes biased towards what breaks things: controls, quotes, separators, lead and continuation
// bytes of UTF-8, digits, '-', ',', '=' and letters.
std::string random_value(uint64_t* state, size_t max_bytes) {
  static constexpr char kInteresting[] =
      "\r\n\t\"\\%/;,=-. *W0123456789aZ\x7f\x80\xbf\xc3\xa9\xe2\x80\xae\xf0\x9f\xff";
  size_t n = next_random(state) % (max_bytes + 1);
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    uint64_t r = next_random(state);
    out += (r & 1) ? static_cast<char>(r >> 8) : kInteresting[(r >> 8) % (sizeof kInteresting - 1)];
  }
  return out;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    size_t n = b < 0x80             ? 1
               : (b & 0xE0) == 0xC0 ? 2
               : (b & 0xF0) == 0xE0 ? 3
               : (b & 0xF8) == 0xF0 ? 4
                                    : 0;
    if (n == 0 || i + n > s.size()) return false;
    for (size_t k = 1; k < n; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n;
  }
  return true;
}

TEST(DownloadInvariants, AnyNameGivesASafeBoundedHeader) {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  for (int i = 0; i < 20000; ++i) {
    std::string raw = random_value(&state, i % 10 == 0 ? 1200 : 40);
    char name_buffer[kMaxFilenameBytes];
    std::string_view name = sanitize_filename(raw, name_buffer);
    ASSERT_LE(name.size(), kMaxFilenameBytes);
    ASSERT_TRUE(valid_utf8(name)) << ::testing::PrintToString(raw);
    for (char c : name) {
      unsigned char b = static_cast<unsigned char>(c);
      ASSERT_TRUE(b >= 0x20 && b != 0x7F && c != '/' && c != '\\') << ::testing::PrintToString(raw);
    }
    char out[kDispositionBytes];
    std::string_view d = format_content_disposition(name, out);
    expect_header_safe(d);
    ASSERT_EQ(d.find('"', 22), d.rfind('"')) << "one quoted string only: " << d;
    char type_buffer[kMediaTypeBytes];
    std::string_view type = sanitize_media_type(raw, type_buffer);
    expect_header_safe(type);
    ASSERT_EQ(type.find_first_of(" ;,\"\\"), std::string_view::npos) << type;
  }
}

TEST(DownloadInvariants, AnyRangeIsWithinTheFile) {
  uint64_t state = 12345;
  for (int i = 0; i < 20000; ++i) {
    std::string value = "bytes=" + random_value(&state, 24);
    uint64_t length = next_random(&state) % 4 == 0 ? 0 : next_random(&state) % 5000;
    RangeRequest r = parse_range(value, length);
    if (r.kind == RangeKind::kPartial) {
      ASSERT_LT(r.from, r.to) << ::testing::PrintToString(value);
      ASSERT_LE(r.to, length) << ::testing::PrintToString(value);
    }
    char etag[kEtagBytes];
    std::string_view tag = format_etag(kId, true, static_cast<uint32_t>(i), etag);
    TagMatch m = match_etag_list(value.substr(6), tag, Comparison::kWeak);
    ASSERT_TRUE(m == TagMatch::kNoMatch || m == TagMatch::kInvalid ||
                value.find('*') != std::string::npos);
  }
}

// ---------------------------------------------------------------------------------------------
// FileFields

TEST(FileFields, DefaultsWithoutMetadata) {
  FileFields f;
  EXPECT_EQ(f.content_type(), "application/octet-stream");
  EXPECT_EQ(f.content_disposition(), "attachment");
}

TEST(FileFields, FilenameAndFiletypeBeatNameAndTypeInAnyOrder) {
  FileFields f;
  f.observe("name", "fallback.bin");
  f.observe("type", "application/x-fallback");
  f.observe("filetype", "image/png");
  f.observe("filename", "cat.png");
  f.observe("name", "late.bin");
  f.observe("type", "text/plain");
  EXPECT_EQ(f.content_type(), "image/png");
  EXPECT_EQ(f.content_disposition(), "attachment; filename=\"cat.png\"");
}

TEST(FileFields, UppyStyleNameAndTypeAlone) {
  FileFields f;
  f.observe("relativePath", "null");
  f.observe("name", "photo.jpg");
  f.observe("type", "image/jpeg");
  EXPECT_EQ(f.content_type(), "image/jpeg");
  EXPECT_EQ(f.content_disposition(), "attachment; filename=\"photo.jpg\"");
}

TEST(FileFields, AnUnusableValueLeavesTheFallbackInPlace) {
  FileFields f;
  f.observe("name", "good.txt");
  f.observe("filename", "..");  // nothing usable
  f.observe("type", "text/plain");
  f.observe("filetype", "text/html\r\nX: y");  // refused
  EXPECT_EQ(f.content_disposition(), "attachment; filename=\"good.txt\"");
  EXPECT_EQ(f.content_type(), "text/plain");
}

TEST(FileFields, OtherKeysAndKeyCaseAreIgnored) {
  FileFields f;
  f.observe("FileName", "x.txt");
  f.observe("FILETYPE", "text/plain");
  f.observe("content-type", "text/plain");
  EXPECT_EQ(f.content_type(), "application/octet-stream");
  EXPECT_EQ(f.content_disposition(), "attachment");
}

TEST(FileFields, ReadsARecordsMetadataBlock) {
  storage::MetadataBlockWriter writer;
  ASSERT_TRUE(writer.add("filetype", "text/csv"));
  ASSERT_TRUE(writer.add("other", std::string(1000, 'x')));
  ASSERT_TRUE(writer.add("filename", "data \xe2\x82\xac.csv"));  // a euro sign
  storage::RecordHeaderView header;
  header.version = storage::kFormatVersion;
  header.metadata = writer.block();
  FileFields f;
  ASSERT_TRUE(read_file_fields(header, {}, &f));
  EXPECT_EQ(f.content_type(), "text/csv");
  EXPECT_EQ(f.content_disposition(),
            "attachment; filename=\"data _.csv\"; filename*=UTF-8''data%20%E2%82%AC.csv");
}

TEST(FileFields, ReadsVersionOneMetadataThroughTheScratch) {
  // v1 kept the client's Upload-Metadata text: values in base64, decoded pair by pair into one
  // scratch that each pair overwrites (FileFields keeps copies).
  std::string text = "filename Y2F0LnBuZw==,filetype aW1hZ2UvcG5n,x eHh4eHh4eHh4eA==";
  storage::RecordHeaderView header;
  header.version = storage::kFormatVersionV1;
  header.metadata =
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::vector<uint8_t> scratch(storage::metadata_scratch_bytes(text.size()));
  FileFields f;
  ASSERT_TRUE(read_file_fields(header, scratch, &f));
  EXPECT_EQ(f.content_type(), "image/png");
  EXPECT_EQ(f.content_disposition(), "attachment; filename=\"cat.png\"");
}

TEST(FileFields, MalformedMetadataIsReported) {
  std::string text = "filename !!!";
  storage::RecordHeaderView header;
  header.version = storage::kFormatVersionV1;
  header.metadata =
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(text.data()), text.size());
  std::vector<uint8_t> scratch(64);
  FileFields f;
  EXPECT_FALSE(read_file_fields(header, scratch, &f));
}

}  // namespace
}  // namespace ringest::http
