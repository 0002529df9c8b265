#include "http/download/file_download.h"

#include <llhttp.h>

#include <charconv>
#include <cstring>
#include <optional>

#include "engine/base/base64.h"
#include "engine/base/check.h"
#include "http/tus/tus_headers.h"

namespace ringest::http {


namespace {

bool is_ows(char c) { return c == ' ' || c == '\t'; }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alnum(char c) { return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
  return s;
}

// A run of at least one digit, saturating at UINT64_MAX (a position past any length).
bool parse_position(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (!is_digit(c)) return false;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    v = v > (UINT64_MAX - digit) / 10 ? UINT64_MAX : v * 10 + digit;
  }
  *out = v;
  return true;
}

// One range-spec: int-range `first-[last]` or suffix-range `-length`.
struct RangeSpec {
  bool suffix = false;
  bool has_last = false;
  uint64_t first = 0;
  uint64_t last = 0;  // suffix: the suffix length
};

bool parse_range_spec(std::string_view text, RangeSpec* spec) {
  size_t dash = text.find('-');
  if (dash == std::string_view::npos) return false;
  std::string_view first = text.substr(0, dash);
  std::string_view last = text.substr(dash + 1);
  if (first.empty()) {
    spec->suffix = true;
    return parse_position(last, &spec->last);
  }
  if (!parse_position(first, &spec->first)) return false;
  if (last.empty()) return true;
  spec->has_last = true;
  // RFC 9110 section 14.1.1: a last-pos below the first-pos makes the range-set invalid.
  return parse_position(last, &spec->last) && spec->last >= spec->first;
}

RangeRequest select_range(const RangeSpec& spec, uint64_t length) {
  RangeRequest r;
  if (spec.suffix) {
    if (spec.last == 0) {
      r.kind = RangeKind::kUnsatisfiable;  // only a nonzero suffix-length is satisfiable
      return r;
    }
    if (length == 0) return r;  // satisfiable, yet selects no byte: the (empty) whole
    r.kind = RangeKind::kPartial;
    r.from = length - (spec.last < length ? spec.last : length);
    r.to = length;
    return r;
  }
  if (spec.first >= length) {
    r.kind = RangeKind::kUnsatisfiable;
    return r;
  }
  r.kind = RangeKind::kPartial;
  r.from = spec.first;
  r.to = !spec.has_last || spec.last >= length - 1 ? length : spec.last + 1;
  return r;
}

// An entity-tag at the start of `s` (RFC 9110 section 8.8.3: [W/] DQUOTE *etagc DQUOTE, etagc
// being %x21 / %x23-7E / obs-text): its opaque part with the quotes, and the bytes it took;
// 0 when `s` does not start with one.
size_t parse_entity_tag(std::string_view s, bool* weak, std::string_view* opaque) {
  size_t i = 0;
  *weak = s.size() >= 2 && s[0] == 'W' && s[1] == '/';
  if (*weak) i = 2;
  if (i >= s.size() || s[i] != '"') return 0;
  size_t start = i++;
  for (; i < s.size() && s[i] != '"'; ++i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x21 || c == 0x7F) return 0;
  }
  if (i >= s.size()) return 0;
  ++i;
  *opaque = s.substr(start, i - start);
  return i;
}

constexpr char kHex[] = "0123456789abcdef";
constexpr char kUpperHex[] = "0123456789ABCDEF";

}  // namespace

// ---------------------------------------------------------------------------------------------
// Range

RangeRequest parse_range(std::string_view value, uint64_t length) {
  RangeRequest whole;
  value = trim_ows(value);
  size_t equals = value.find('=');
  if (equals == std::string_view::npos ||
      !equals_ignore_case(value.substr(0, equals), "bytes")) {
    return whole;  // no unit, or one we do not know: ignored
  }
  std::string_view set = value.substr(equals + 1);
  RangeSpec spec;
  int specs = 0;
  while (!set.empty()) {
    size_t comma = set.find(',');
    std::string_view element = trim_ows(set.substr(0, comma));
    set = comma == std::string_view::npos ? std::string_view() : set.substr(comma + 1);
    if (element.empty()) continue;  // RFC 9110 section 5.6.1: empty list elements are allowed
    if (++specs > 1) return whole;  // several ranges: the whole file (our choice, see header)
    if (!parse_range_spec(element, &spec)) return whole;  // invalid: ignored
  }
  if (specs == 0) return whole;
  return select_range(spec, length);
}

// ---------------------------------------------------------------------------------------------
// Entity tags

std::string_view format_etag(std::string_view id, bool crc32c_known, uint32_t crc32c,
                             std::span<char, kEtagBytes> out) {
  RINGEST_CHECK(id.size() <= kEtagBytes - 11);
  size_t n = 0;
  out[n++] = '"';
  if (crc32c_known) {
    for (int shift = 28; shift >= 0; shift -= 4) out[n++] = kHex[(crc32c >> shift) & 0xF];
    out[n++] = '-';
  }
  std::memcpy(out.data() + n, id.data(), id.size());
  n += id.size();
  out[n++] = '"';
  return std::string_view(out.data(), n);
}

TagMatch match_etag_list(std::string_view list, std::string_view etag, Comparison comparison) {
  list = trim_ows(list);
  if (list == "*") return TagMatch::kMatch;
  bool matched = false;
  size_t tags = 0;
  size_t i = 0;
  while (i < list.size()) {
    if (list[i] == ',' || is_ows(list[i])) {
      ++i;
      continue;
    }
    bool weak = false;
    std::string_view opaque;
    size_t n = parse_entity_tag(list.substr(i), &weak, &opaque);
    if (n == 0) return TagMatch::kInvalid;
    ++tags;
    i += n;
    while (i < list.size() && is_ows(list[i])) ++i;
    if (i < list.size() && list[i] != ',') return TagMatch::kInvalid;
    // `etag` is strong: strong comparison only needs the client's to be strong too.
    if (opaque == etag && (comparison == Comparison::kWeak || !weak)) matched = true;
  }
  if (tags == 0) return TagMatch::kInvalid;
  return matched ? TagMatch::kMatch : TagMatch::kNoMatch;
}

bool if_range_matches(std::string_view value, std::string_view etag,
                      std::string_view last_modified) {
  value = trim_ows(value);
  if (value.empty()) return false;
  // RFC 9110 section 13.1.5: an entity tag starts with DQUOTE (or W/ and then DQUOTE).
  if (value[0] == '"' || value.substr(0, 2) == "W/") {
    bool weak = false;
    std::string_view opaque;
    size_t n = parse_entity_tag(value, &weak, &opaque);
    return n == value.size() && !weak && opaque == etag;
  }
  return !last_modified.empty() && value == last_modified;
}

// ---------------------------------------------------------------------------------------------
// Formatting

std::string_view format_http_date(uint64_t unix_seconds, std::span<char, kHttpDateBytes> out) {
  constexpr uint64_t kLastFourDigitYear = 253402300799;  // 9999-12-31T23:59:59Z
  if (unix_seconds > kLastFourDigitYear) unix_seconds = kLastFourDigitYear;
  uint64_t days = unix_seconds / 86400;
  uint64_t seconds = unix_seconds % 86400;
  // Civil date from days since 1970-01-01 (H. Hinnant's algorithm, for non-negative days).
  uint64_t z = days + 719468;
  uint64_t era = z / 146097;
  uint64_t day_of_era = z - era * 146097;
  uint64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  uint64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  uint64_t mp = (5 * day_of_year + 2) / 153;
  uint64_t day = day_of_year - (153 * mp + 2) / 5 + 1;
  uint64_t month = mp < 10 ? mp + 3 : mp - 9;
  uint64_t year = year_of_era + era * 400 + (month <= 2 ? 1 : 0);

  static constexpr char kWeekdays[] = "ThuFriSatSunMonTueWed";  // 1970-01-01 was a Thursday
  static constexpr char kMonths[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char* o = out.data();
  auto two = [&](uint64_t v) {
    *o++ = static_cast<char>('0' + v / 10);
    *o++ = static_cast<char>('0' + v % 10);
  };
  std::memcpy(o, kWeekdays + 3 * (days % 7), 3);
  o += 3;
  *o++ = ',';
  *o++ = ' ';
  two(day);
  *o++ = ' ';
  std::memcpy(o, kMonths + 3 * (month - 1), 3);
  o += 3;
  *o++ = ' ';
  two(year / 100);
  two(year % 100);
  *o++ = ' ';
  two(seconds / 3600);
  *o++ = ':';
  two(seconds / 60 % 60);
  *o++ = ':';
  two(seconds % 60);
  std::memcpy(o, " GMT", 4);
  return std::string_view(out.data(), kHttpDateBytes);
}

// ---------------------------------------------------------------------------------------------
// Media type

namespace {

// RFC 6838 section 4.2 restricted-name: a letter or digit, then up to 126 of letters, digits and
// "!#$&-^_.+".
bool restricted_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxMediaTypeNameBytes || !is_alnum(name[0])) return false;
  for (char c : name) {
    if (!is_alnum(c) && (c == '\0' || std::strchr("!#$&-^_.+", c) == nullptr)) return false;
  }
  return true;
}

}  // namespace

std::string_view sanitize_media_type(std::string_view value, std::span<char, kMediaTypeBytes> out) {
  std::string_view type = trim_ows(value.substr(0, value.find(';')));  // parameters dropped
  size_t slash = type.find('/');
  if (slash == std::string_view::npos) return {};
  if (!restricted_name(type.substr(0, slash)) || !restricted_name(type.substr(slash + 1))) {
    return {};
  }
  for (size_t i = 0; i < type.size(); ++i) out[i] = to_lower(type[i]);
  return std::string_view(out.data(), type.size());
}

// ---------------------------------------------------------------------------------------------
// File name

namespace {

// The length of the well-formed UTF-8 character (RFC 3629: shortest form, no surrogates, at
// most U+10FFFF) at the start of non-empty `s`, and its code point; 0 when there is none.
size_t utf8_char(std::string_view s, uint32_t* code_point) {
  unsigned char b0 = static_cast<unsigned char>(s[0]);
  if (b0 < 0x80) {
    *code_point = b0;
    return 1;
  }
  // A lead byte 110xxxxx, 1110xxxx or 11110xxx starts a character of 2, 3 or 4 bytes.
  size_t n = (b0 & 0xE0) == 0xC0 ? 2 : (b0 & 0xF0) == 0xE0 ? 3 : (b0 & 0xF8) == 0xF0 ? 4 : 0;
  if (n == 0 || s.size() < n) return 0;
  static constexpr uint32_t kLeast[5] = {0, 0, 0x80, 0x800, 0x10000};  // shortest form
  uint32_t c = b0 & (0x7Fu >> n);
  for (size_t i = 1; i < n; ++i) {
    unsigned char b = static_cast<unsigned char>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    c = (c << 6) | (b & 0x3F);
  }
  if (c < kLeast[n] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *code_point = c;
  return n;
}

// Characters a name offered for saving must not contain: controls (C0, DEL, C1), path
// separators, and the invisible ones that reorder or break what a user sees (bidirectional
// controls can show "evil.exe" as "exe.txt"; line separators, the byte order mark).
bool unsafe_in_name(uint32_t c) {
  return c < 0x20 || (c >= 0x7F && c <= 0x9F) || c == '/' || c == '\\' || c == 0x061C ||
         c == 0x200E || c == 0x200F || (c >= 0x2028 && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069) || c == 0xFEFF;
}

// Copies `in` to `out` character by character, each unsafe character or invalid byte as '_',
// stopping before a character that would pass `budget` bytes (then *truncated).
size_t sanitize_into(std::string_view in, char* out, size_t budget, bool* truncated) {
  size_t n = 0;
  *truncated = false;
  while (!in.empty()) {
    uint32_t c = 0;
    size_t taken = utf8_char(in, &c);
    std::string_view put = in.substr(0, taken);
    if (taken == 0 || unsafe_in_name(c)) put = "_";
    if (put.size() > budget - n) {
      *truncated = true;
      break;
    }
    std::memcpy(out + n, put.data(), put.size());
    n += put.size();
    in.remove_prefix(taken == 0 ? 1 : taken);
  }
  return n;
}

// ".ext" of a name when it is short enough to keep through a cut (and not the whole name).
std::string_view extension(std::string_view name) {
  size_t dot = name.rfind('.');
  if (dot == std::string_view::npos || dot == 0) return {};
  size_t bytes = name.size() - dot;
  return bytes >= 2 && bytes <= kMaxExtensionBytes ? name.substr(dot) : std::string_view();
}

// RFC 8187 attr-char: what filename* carries unencoded.
bool attr_char(char c) { return is_alnum(c) || (c != '\0' && std::strchr("!#$&+-.^_`|~", c)); }

// What the quoted fallback may carry as is: printable ASCII but '"', '\' (quoted-string escapes,
// which browsers handle unevenly) and '%' (some browsers percent-decode the fallback).
bool fallback_char(uint32_t c) {
  return c >= 0x20 && c < 0x7F && c != '"' && c != '\\' && c != '%';
}

}  // namespace

std::string_view sanitize_filename(std::string_view value, std::span<char, kMaxFilenameBytes> out) {
  while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
  bool truncated = false;
  size_t n = sanitize_into(value, out.data(), out.size(), &truncated);
  if (truncated) {  // cut the stem, keep the extension
    std::string_view ext = extension(value);
    char ext_out[kMaxExtensionBytes];
    size_t ext_bytes = sanitize_into(ext, ext_out, sizeof ext_out, &truncated);
    n = sanitize_into(value.substr(0, value.size() - ext.size()), out.data(),
                      out.size() - ext_bytes, &truncated);
    std::memcpy(out.data() + n, ext_out, ext_bytes);
    n += ext_bytes;
  }
  std::string_view name(out.data(), n);
  if (name == "." || name == "..") return {};
  return name;
}

std::string_view format_content_disposition(std::string_view name,
                                            std::span<char, kDispositionBytes> out,
                                            std::string_view type) {
  RINGEST_CHECK(type.size() <= 16);
  RINGEST_CHECK(name.size() <= kMaxFilenameBytes);
  char* o = out.data();
  auto put = [&](std::string_view text) {
    std::memcpy(o, text.data(), text.size());
    o += text.size();
  };
  put(type);
  if (name.empty()) return std::string_view(out.data(), static_cast<size_t>(o - out.data()));
  put("; filename=\"");
  bool differs = false;
  for (std::string_view rest = name; !rest.empty();) {
    uint32_t c = 0;
    size_t taken = utf8_char(rest, &c);
    bool keep = taken != 0 && fallback_char(c);
    *o++ = keep ? static_cast<char>(c) : '_';
    differs = differs || !keep;
    rest.remove_prefix(taken == 0 ? 1 : taken);
  }
  put("\"");
  if (differs) {
    put("; filename*=UTF-8''");
    for (char c : name) {
      if (attr_char(c)) {
        *o++ = c;
        continue;
      }
      unsigned char b = static_cast<unsigned char>(c);
      *o++ = '%';
      *o++ = kUpperHex[b >> 4];
      *o++ = kUpperHex[b & 0xF];
    }
  }
  return std::string_view(out.data(), static_cast<size_t>(o - out.data()));
}

// ---------------------------------------------------------------------------------------------
// FileFields

void FileFields::observe(std::string_view key, std::string_view value) {
  uint8_t name_rank = key == "filename" ? 2 : key == "name" ? 1 : 0;
  if (name_rank > name_rank_) {
    char name[kMaxFilenameBytes];
    std::string_view clean = sanitize_filename(value, name);
    if (clean.empty()) return;
    disposition_bytes_ = format_content_disposition(clean, disposition_, type_word_).size();
    name_rank_ = name_rank;
    return;
  }
  uint8_t type_rank = key == "filetype" ? 2 : key == "type" ? 1 : 0;
  if (type_rank > type_rank_) {
    size_t bytes = sanitize_media_type(value, type_).size();
    if (bytes == 0) return;
    type_bytes_ = bytes;
    type_rank_ = type_rank;
  }
}

void FileFields::set_fallback_name(std::string_view name) {
  if (name_rank_ > 0) return;  // the metadata's name stands
  char clean_bytes[kMaxFilenameBytes];
  std::string_view clean = sanitize_filename(name, clean_bytes);
  if (!clean.empty()) {
    disposition_bytes_ = format_content_disposition(clean, disposition_, type_word_).size();
  }
}

std::string_view FileFields::content_type() const {
  return type_bytes_ > 0 ? std::string_view(type_, type_bytes_) : kDefaultContentType;
}

std::string_view FileFields::content_disposition() const {
  return disposition_bytes_ > 0 ? std::string_view(disposition_, disposition_bytes_)
                                : type_word_;
}

bool read_file_fields(const storage::RecordHeaderView& header, std::span<uint8_t> scratch,
                      FileFields* fields) {
  storage::MetadataReader reader(header.version, header.metadata, scratch);
  std::string_view key, value;
  for (;;) {
    storage::MetadataReader::Result r = reader.next(&key, &value);
    if (r == storage::MetadataReader::Result::kEnd) return true;
    if (r != storage::MetadataReader::Result::kPair) return false;
    fields->observe(key, value);
  }
}

// ---------------------------------------------------------------------------------------------
// The answer

namespace {

// How many field lines named `name` the request has; *value is the first one's.
size_t field_lines(const RequestHead& head, std::string_view name, std::string_view* value) {
  size_t lines = 0;
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (!equals_ignore_case(head.headers[i].name, name)) continue;
    if (lines++ == 0) *value = head.headers[i].value;
  }
  return lines;
}

// An If-Match / If-None-Match condition over all its field lines (a list may be split across
// lines, RFC 9110 section 5.3); nullopt when absent.
std::optional<TagMatch> match_condition(const RequestHead& head, std::string_view name,
                                        std::string_view etag, Comparison comparison) {
  std::optional<TagMatch> result;
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (!equals_ignore_case(head.headers[i].name, name)) continue;
    TagMatch m = match_etag_list(head.headers[i].value, etag, comparison);
    if (m == TagMatch::kInvalid || result == TagMatch::kInvalid) {
      result = TagMatch::kInvalid;
    } else if (m == TagMatch::kMatch || result == TagMatch::kMatch) {
      result = TagMatch::kMatch;
    } else {
      result = TagMatch::kNoMatch;
    }
  }
  return result;
}

// The range to answer with: Range honoured when it is one field line and If-Range (if sent, as
// one line) holds; RFC 9110 section 13.1.5 ignores Range when If-Range does not.
RangeRequest requested_range(const RequestHead& head, uint64_t length, std::string_view etag,
                             std::string_view last_modified) {
  std::string_view range;
  if (field_lines(head, "Range", &range) != 1) return {};  // none, or a list over several lines
  std::string_view condition;
  size_t conditions = field_lines(head, "If-Range", &condition);
  if (conditions > 1) return {};
  if (conditions == 1 && !if_range_matches(condition, etag, last_modified)) return {};
  return parse_range(range, length);
}

// "bytes first-last/length" for [from, to), or "bytes */length" (416).
constexpr size_t kContentRangeBytes = 6 + 3 * 20 + 2;
std::string_view format_content_range(bool satisfied, uint64_t from, uint64_t to, uint64_t length,
                                      char (&out)[kContentRangeBytes]) {
  char* o = out;
  char* end = out + sizeof out;
  std::memcpy(o, "bytes ", 6);
  o += 6;
  if (satisfied) {
    o = std::to_chars(o, end, from).ptr;
    *o++ = '-';
    o = std::to_chars(o, end, to - 1).ptr;
  } else {
    *o++ = '*';
  }
  *o++ = '/';
  o = std::to_chars(o, end, length).ptr;
  return std::string_view(out, static_cast<size_t>(o - out));
}

// What every download answer that names the representation carries.
struct Validators {
  char etag_text[kEtagBytes];
  char date_text[kHttpDateBytes];
  char digest_text[tus::kReprDigestChars];  // Repr-Digest, RFC 9530 (tus_headers.h)
  std::string_view etag, last_modified, digest;

  Validators(std::string_view id, const UploadView& view) {
    etag = format_etag(id, view.crc32c_known, view.crc32c, etag_text);
    if (view.updated_unix_ms > 0) {
      last_modified = format_http_date(view.updated_unix_ms / 1000, date_text);
    }
    if (view.crc32c_known) {
      tus::format_repr_digest(view.crc32c, digest_text);
      digest = std::string_view(digest_text, sizeof digest_text);
    }
  }
  void add(ResponseBuilder& rb) const {
    rb.header("ETag", etag);
    if (!last_modified.empty()) rb.header("Last-Modified", last_modified);
    // No shared cache keeps an upload (it may be behind a token or a signed URL); a client's own
    // cache revalidates every time, which If-None-Match makes a 304.
    rb.header("Cache-Control", "private, no-cache");
  }
};

// 412 / 304 when a condition decides the answer (RFC 9110 section 13.2.2's order: If-Match,
// then If-None-Match); false when the request goes on.
bool answered_by_condition(RequestContext& ctx, const Validators& v) {
  const RequestHead& head = ctx.head();
  std::optional<TagMatch> match = match_condition(head, "If-Match", v.etag, Comparison::kStrong);
  // An unreadable If-Match proves no more than a false one.
  if (match && *match != TagMatch::kMatch) {
    ResponseBuilder rb = ctx.begin_response(412);
    rb.header("ETag", v.etag);
    send_text(ctx, rb, "If-Match does not match the upload");
    return true;
  }
  // An unreadable If-None-Match is ignored: the file is sent.
  if (match_condition(head, "If-None-Match", v.etag, Comparison::kWeak) == TagMatch::kMatch) {
    ResponseBuilder rb = ctx.begin_response(304);
    v.add(rb);
    rb.finish_no_content();
    ctx.send(rb);
    return true;
  }
  return false;
}

void answer_unsatisfiable(RequestContext& ctx, const Validators& v, uint64_t length) {
  ResponseBuilder rb = ctx.begin_response(416);
  char text[kContentRangeBytes];
  rb.header("Content-Range", format_content_range(false, 0, 0, length, text));
  rb.header("Accept-Ranges", "bytes");
  rb.header("ETag", v.etag);
  send_text(ctx, rb, "range not satisfiable");
}

}  // namespace

bool is_download(const RequestContext& ctx) {
  uint8_t method = ctx.method();
  return method == HTTP_GET || (method == HTTP_HEAD && !ctx.head().has("Tus-Resumable"));
}

void start_download(RequestContext& ctx, const UploadView& view) {
  if (!view.complete()) return respond_text(ctx, 409, "upload is not complete");
  if (view.metadata_bytes > 0) return ctx.load_header();  // on_header_loaded() answers
  answer_download(ctx, view, {});
}

void answer_download(RequestContext& ctx, const UploadView& view,
                     std::span<const uint8_t> header, const DownloadStyle& style) {
  RINGEST_CHECK(view.complete());
  Validators v(ctx.upload()->id(), view);
  if (answered_by_condition(ctx, v)) return;
  RangeRequest range = requested_range(ctx.head(), view.length, v.etag, v.last_modified);
  if (range.kind == RangeKind::kUnsatisfiable) return answer_unsatisfiable(ctx, v, view.length);

  FileFields fields(style.disposition);
  if (!style.fallback_name.empty()) fields.set_fallback_name(style.fallback_name);
  if (!header.empty()) {
    storage::HeaderDecode decoded = storage::decode_header(header.data(), header.size());
    // The header lies in the scratch's first third (load_header()); v1 values decode into the
    // second, as for the tus HEAD.
    std::span<uint8_t> scratch = ctx.scratch();
    size_t third = scratch.size() / 3;
    if (decoded.error != storage::RecordError::kOk ||
        !read_file_fields(decoded.header, scratch.subspan(third, third), &fields)) {
      return respond_text(ctx, 500, "cannot read the upload's metadata");
    }
  }
  bool partial = range.kind == RangeKind::kPartial;
  uint64_t from = partial ? range.from : 0;
  uint64_t to = partial ? range.to : view.length;
  ResponseBuilder rb = ctx.begin_response(partial ? 206 : 200);
  rb.header("Content-Type", fields.content_type());
  rb.header("Content-Disposition", fields.content_disposition());
  rb.header("X-Content-Type-Options", "nosniff");
  rb.header("Accept-Ranges", "bytes");
  v.add(rb);
  if (!v.digest.empty()) rb.header("Repr-Digest", v.digest);
  char content_range[kContentRangeBytes];
  if (partial) {
    rb.header("Content-Range", format_content_range(true, from, to, view.length, content_range));
  }
  rb.finish_head(to - from);
  ctx.send_with_upload_bytes(rb, from, to);  // (HEAD: the head alone)
}

}  // namespace ringest::http
