// The header fields of IETF Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload,
// interop versions 6 and 8): Structured Field items (RFC 9651) parsed without allocation, the
// Upload-Limit dictionary and problem-details bodies (RFC 9457) formatted into caller memory.
// Pure: bytes in, values out, so tables and a fuzzer drive it.
//
// Hand-written rather than a structured-fields library: the only C/C++ ones (e.g. in browsers)
// allocate, and these few items (an Integer, a Boolean) are a dozen lines each.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "http/http_parser.h"

namespace ringest::ietf {

// Interop versions this server speaks: 6 (drafts -04/-05: Apple URLSession on iOS 18.1+,
// tus-js-client `protocol: 'ietf-draft-05'`) and 8 (drafts -09..-11, the editor's copy).
inline constexpr int64_t kInteropDraft05 = 6;
inline constexpr int64_t kInteropCurrent = 8;

// The media type of an append's content.
inline constexpr std::string_view kPartialUpload = "application/partial-upload";

// An SF Boolean item: "?0" or "?1" (spaces around allowed; parameters are not). nullopt for
// anything else, which the draft says makes the field ignored.
std::optional<bool> parse_sf_boolean(std::string_view value);
// A non-negative SF Integer item: 1 to 15 digits (spaces around allowed, no sign, no
// parameters). nullopt otherwise.
std::optional<uint64_t> parse_sf_offset(std::string_view value);

// A field's value when it came on exactly one field line: `present` false when absent,
// `duplicated` when it came more than once (an Item field sent twice is invalid: its lines
// combine into a list).
struct SingleField {
  bool present = false;
  bool duplicated = false;
  std::string_view value;
};
SingleField single_field(const http::RequestHead& head, std::string_view name);

// Upload-Draft-Interop-Version as an integer, or -1 when absent, duplicated or not an Integer.
int64_t interop_version(const http::RequestHead& head);
inline bool supported_version(int64_t version) {
  return version == kInteropDraft05 || version == kInteropCurrent;
}

// True when a request on the uploads route speaks this draft, not tus: it names an interop
// version, or carries Upload-Complete without Tus-Resumable (a creation by a client that
// follows the final RFC and sends no version). GET is never one (downloads are shared).
bool is_ietf_request(const http::RequestHead& head);

// The byte the IETF adapter keeps per request (RequestContext::route_choice()), so that the
// answer after a body still knows the interop version: kIetfChoice | the version when it is one
// we speak, kIetfChoice alone otherwise.
inline constexpr uint8_t kIetfChoice = 0x80;
inline uint8_t ietf_choice(const http::RequestHead& head) {
  int64_t version = interop_version(head);
  return static_cast<uint8_t>(kIetfChoice | (supported_version(version) ? version : 0));
}

// True when Content-Type is `application/partial-upload` (case-insensitive, parameters ignored).
bool is_partial_upload(std::string_view content_type);

// The `filename` parameter of a Content-Disposition value (RFC 6266: a token or a quoted-string;
// `filename*` is not read), as a view into it; empty when absent or when its quoted-string has
// escapes (rare; the name is only a download's suggestion).
std::string_view disposition_filename(std::string_view disposition);

// The Upload-Limit dictionary: max-size always, max-append-size when `max_append_bytes` > 0.
// Returns the characters written into `out` (kLimitChars is enough).
inline constexpr size_t kLimitChars = 96;
size_t format_upload_limit(uint64_t max_size, uint64_t max_append_bytes, char* out);

// Problem types of the draft (the URI fragment after "...http-problem-types#").
enum class Problem : uint8_t { kMismatchingOffset, kCompletedUpload, kInconsistentLength };
std::string_view problem_type_uri(Problem problem);

// A problem+json body: {"type":..,"title":..} and, for kMismatchingOffset, "expected-offset" and
// "provided-offset". Returns the bytes written, 0 when `capacity` is too small.
size_t format_problem(Problem problem, std::string_view title, uint64_t expected_offset,
                      uint64_t provided_offset, char* out, size_t capacity);

}  // namespace ringest::ietf
