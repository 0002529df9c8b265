// Fuzzes the IETF Resumable Uploads field parsers (http/ietf/ietf_headers.*) with the input as a
// field value: parse_sf_boolean (Upload-Complete), parse_sf_offset (Upload-Offset,
// Upload-Length, Upload-Draft-Interop-Version), is_partial_upload (Content-Type), and, with the
// value on one or two field lines of a request head, single_field, interop_version and
// is_ietf_request; disposition_filename (Content-Disposition). Each is compared with a reference
// written here from RFC 9651 and the header comments in the plainest way (std::string). Also
// checked: no crash or UB (ASan, UBSan), none of them allocates, and the formatted Upload-Limit and
// problem bodies always fit and say what they were given.
#include <llhttp.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/base/check.h"
#include "http/http_parser.h"
#include "http/ietf/ietf_headers.h"
#include "tests/fuzz/fuzz_support.h"

namespace ringest::ietf {
namespace {

using fuzz::AllocationFreeScope;

std::string reference_trim(std::string_view v) {
  size_t begin = v.find_first_not_of(" \t");
  if (begin == std::string_view::npos) return {};
  size_t end = v.find_last_not_of(" \t");
  return std::string(v.substr(begin, end - begin + 1));
}

std::optional<uint64_t> reference_offset(std::string_view v) {
  std::string t = reference_trim(v);
  if (t.empty() || t.size() > 15) return std::nullopt;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  return std::stoull(t);
}

void check_items(std::string_view value) {
  std::optional<bool> flag;
  std::optional<uint64_t> offset;
  bool partial;
  {
    AllocationFreeScope no_allocation;
    flag = parse_sf_boolean(value);
    offset = parse_sf_offset(value);
    partial = is_partial_upload(value);
  }
  std::string t = reference_trim(value);
  std::optional<bool> expected_flag;
  if (t == "?1") expected_flag = true;
  if (t == "?0") expected_flag = false;
  RINGEST_CHECK(flag == expected_flag);
  RINGEST_CHECK(offset == reference_offset(value));
  std::string type = reference_trim(value.substr(0, value.find(';')));
  for (char& c : type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  RINGEST_CHECK(partial == (type == "application/partial-upload"));
  std::string_view name;
  {
    AllocationFreeScope no_allocation;
    name = disposition_filename(value);
  }
  // A view into the value, never with a quote in it.
  RINGEST_CHECK(name.empty() || (name.data() >= value.data() &&
                                 name.data() + name.size() <= value.data() + value.size()));
  RINGEST_CHECK(name.find('"') == std::string_view::npos);
}

// The value on one field line, and (when `twice`) on a second one too.
void check_head(std::string_view value, bool twice, uint8_t method) {
  http::Header headers[3] = {{"Upload-Complete", value},
                             {"upload-draft-interop-version", value},
                             {"UPLOAD-COMPLETE", value}};
  http::RequestHead head;
  head.method = method;
  head.headers = headers;
  head.header_count = twice ? 3 : 2;
  SingleField field;
  int64_t version;
  bool is_ietf;
  {
    AllocationFreeScope no_allocation;
    field = single_field(head, "upload-complete");
    version = interop_version(head);
    is_ietf = is_ietf_request(head);
  }
  RINGEST_CHECK(field.present && field.duplicated == twice);
  if (!twice) RINGEST_CHECK(field.value.data() == value.data());
  std::optional<uint64_t> v = reference_offset(value);
  RINGEST_CHECK(version == (v ? static_cast<int64_t>(*v) : -1));
  RINGEST_CHECK(is_ietf == (method != HTTP_GET));
  uint8_t choice = ietf_choice(head);
  RINGEST_CHECK((choice & kIetfChoice) != 0);
  RINGEST_CHECK((choice & ~kIetfChoice) == (supported_version(version) ? version : 0));
}

void check_formats(std::string_view value) {
  uint64_t a = 0, b = 0;
  std::memcpy(&a, value.data(), value.size() < 8 ? value.size() : 8);
  if (value.size() > 8) std::memcpy(&b, value.data() + 8, value.size() < 16 ? value.size() - 8 : 8);
  char limit[kLimitChars];
  char body[512];
  size_t n, m;
  {
    AllocationFreeScope no_allocation;
    n = format_upload_limit(a, b, limit);
    m = format_problem(static_cast<Problem>(b % 3), "title", a, b, body, sizeof body);
  }
  std::string expected = "max-size=" + std::to_string(a);
  if (b > 0) expected += ", max-append-size=" + std::to_string(b);
  RINGEST_CHECK(std::string_view(limit, n) == expected);
  RINGEST_CHECK(m > 0 && body[0] == '{' && body[m - 1] == '\n');
  std::string_view text(body, m);
  RINGEST_CHECK(text.find(problem_type_uri(static_cast<Problem>(b % 3))) != std::string_view::npos);
  if (b % 3 == 0) {
    RINGEST_CHECK(text.find("\"expected-offset\":" + std::to_string(a) + ",") !=
                  std::string_view::npos);
  }
}

}  // namespace
}  // namespace ringest::ietf

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ringest::fuzz::install_allocation_hooks();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ringest::ietf;
  // An exactly sized copy: ASan sees any read past the end of the value.
  std::unique_ptr<char[]> copy(new char[size ? size : 1]);
  if (size) std::memcpy(copy.get(), data, size);
  std::string_view value(copy.get(), size);
  check_items(value);
  check_head(value, false, HTTP_POST);
  check_head(value, true, size > 0 && data[0] == 'G' ? HTTP_GET : HTTP_PATCH);
  check_formats(value);
  return 0;
}
