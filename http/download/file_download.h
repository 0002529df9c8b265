// Downloads of a complete upload (issue #11), shared by the protocols that serve them (tus: GET,
// and HEAD without Tus-Resumable; FilePond: ?restore= and ?load=): they answer like a static
// file server. Content-Type and Content-Disposition come from the upload's metadata
// (`filetype` / `filename`, as tus-js-client and Uppy send them; `type` / `name` as fallbacks),
// sanitized so that nothing a client chose can break out of its header; a single byte range is
// served with 206 (RFC 9110 section 14); ETag, If-None-Match, If-Match and If-Range make a
// finished file fetchable resumably and revalidatable; Repr-Digest (RFC 9530) carries the
// whole-file CRC-32C when it is known.
//
// The parsers and formatters here are pure (bytes in, bytes out, no allocation) so tables drive
// them; answer_download() is the one piece that talks to the request context. Choices, also in
// docs/architecture.md ("Downloads"):
// - Range: one range only. A request for several ranges gets 200 and the whole file (RFC 9110
//   section 14.2 lets a server ignore Range), as does a Range that is not valid syntax, names
//   another unit, or comes in more than one field line.
// - An empty upload: 200 with no content; a range of it is unsatisfiable (416, `bytes */0`),
//   except a suffix range (`bytes=-n`, n > 0), which RFC 9110 calls satisfiable but which
//   selects no byte: that one is ignored (200).
// - ETag: strong, `"<crc32c as 8 hex>-<upload id>"` when the whole-file CRC-32C is known, else
//   `"<upload id>"`. A complete upload's bytes never change and ids are never reused, so either
//   names exactly one content.
// - Conditionals by entity tag only (If-Match, If-None-Match, If-Range). An If-Range date
//   matches when it is exactly the Last-Modified this server sends; If-Modified-Since and
//   If-Unmodified-Since are not evaluated (RFC 9110 lets If-None-Match take precedence).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "engine/storage/upload_record.h"
#include "http/handler.h"

namespace ringest::http {

// ---------------------------------------------------------------------------------------------
// Range (RFC 9110 section 14.2)

enum class RangeKind : uint8_t {
  kWhole,          // answer 200 with everything: no Range, or one that is ignored (see above)
  kPartial,        // answer 206 with [from, to)
  kUnsatisfiable,  // answer 416 with Content-Range: bytes */length
};

struct RangeRequest {
  RangeKind kind = RangeKind::kWhole;
  uint64_t from = 0;  // kPartial: first byte
  uint64_t to = 0;    // kPartial: one past the last byte; from < to <= length
};

// One Range field value against a representation of `length` bytes. Accepts `bytes=a-b`,
// `bytes=a-` and `bytes=-n` (unit case-insensitive, OWS around the range and list commas, empty
// list elements skipped); a number too large for 64 bits means "beyond any length".
RangeRequest parse_range(std::string_view value, uint64_t length);

// ---------------------------------------------------------------------------------------------
// Entity tags (RFC 9110 sections 8.8.3 and 13.1)

// '"' + 8 hex + '-' + 32 id characters + '"'.
inline constexpr size_t kEtagBytes = 43;

// The upload's strong entity tag (quotes included), written to `out`.
std::string_view format_etag(std::string_view id, bool crc32c_known, uint32_t crc32c,
                             std::span<char, kEtagBytes> out);

enum class TagMatch : uint8_t {
  kNoMatch,
  kMatch,
  kInvalid,  // not "*" nor a list of entity tags
};
enum class Comparison : uint8_t {
  kStrong,  // If-Match, If-Range: a weak tag never matches
  kWeak,    // If-None-Match: W/ is disregarded
};

// An If-Match / If-None-Match field value ("*", or a comma-separated list of entity tags)
// against `etag` (a strong tag, quotes included). "*" matches: the representation exists.
TagMatch match_etag_list(std::string_view list, std::string_view etag, Comparison comparison);

// An If-Range field value: one entity tag, compared strongly with `etag`, or an HTTP-date, which
// matches only when it is byte for byte `last_modified` (this server's Last-Modified; an empty
// one matches no date). Anything else does not match.
bool if_range_matches(std::string_view value, std::string_view etag,
                      std::string_view last_modified);

// ---------------------------------------------------------------------------------------------
// Formatting

// IMF-fixdate (RFC 9110 section 5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
inline constexpr size_t kHttpDateBytes = 29;
std::string_view format_http_date(uint64_t unix_seconds, std::span<char, kHttpDateBytes> out);

// ---------------------------------------------------------------------------------------------
// Metadata -> Content-Type and Content-Disposition

inline constexpr std::string_view kDefaultContentType = "application/octet-stream";

// The longest type and subtype names RFC 6838 section 4.2 allows, and their sum with the '/'.
inline constexpr size_t kMaxMediaTypeNameBytes = 127;
inline constexpr size_t kMediaTypeBytes = 2 * kMaxMediaTypeNameBytes + 1;

// A client's media type as a Content-Type value: `type/subtype`, each an RFC 6838
// restricted-name (a letter or digit, then letters, digits and !#$&-^_.+, at most 127), written
// lowercased to `out`; parameters (after ';') are dropped. Empty when the value is not that.
std::string_view sanitize_media_type(std::string_view value, std::span<char, kMediaTypeBytes> out);

// A file name is cut to this many bytes of UTF-8 (at a character boundary; an extension of up
// to kMaxExtensionBytes is kept), like the name limit of most filesystems.
inline constexpr size_t kMaxFilenameBytes = 255;
inline constexpr size_t kMaxExtensionBytes = 16;

// A client's file name made safe to offer: invalid UTF-8 bytes, control characters (C0, DEL,
// C1), bidirectional controls and line separators (which can disguise an extension), '/' and
// '\' each become '_'; spaces at either end are dropped; cut to kMaxFilenameBytes. Empty when
// nothing usable is left ("", ".", "..").
std::string_view sanitize_filename(std::string_view value, std::span<char, kMaxFilenameBytes> out);

// `attachment; filename="<fallback>"[; filename*=UTF-8''<percent-encoded>]` (RFC 6266, RFC 8187)
// for a sanitized name; `attachment` alone for an empty one. The fallback is printable ASCII
// without '"', '\' and '%' (each other character becomes '_'); filename* is added only when the
// fallback differs from the name.
inline constexpr size_t kDispositionBytes = 64 + 4 * kMaxFilenameBytes;
// `type` is the disposition type ("attachment", or "inline" for FilePond's restore and load).
std::string_view format_content_disposition(std::string_view sanitized_name,
                                            std::span<char, kDispositionBytes> out,
                                            std::string_view type = "attachment");

// What a download says about the file, from the upload's metadata pairs. Feed every pair to
// observe(): `filename` beats `name` and `filetype` beats `type`, whatever their order; a value
// that sanitizes to nothing is as if absent. Holds its own copies (a v1 record's values are
// decoded into a scratch each pair overwrites).
class FileFields {
 public:
  // `disposition` is the disposition type (a literal: it must outlive the object).
  explicit FileFields(std::string_view disposition = "attachment") : type_word_(disposition) {}
  void observe(std::string_view key, std::string_view value);
  // A name to offer when the metadata has none (any `filename` or `name` replaces it).
  void set_fallback_name(std::string_view name);
  std::string_view content_type() const;         // kDefaultContentType without a valid one
  std::string_view content_disposition() const;  // the type alone without a usable name

 private:
  char type_[kMediaTypeBytes];
  size_t type_bytes_ = 0;
  uint8_t type_rank_ = 0;
  char disposition_[kDispositionBytes];
  size_t disposition_bytes_ = 0;
  uint8_t name_rank_ = 0;
  std::string_view type_word_;
};

// Feeds a record's metadata pairs to `fields`; `scratch` decodes v1 values
// (metadata_scratch_bytes() of the metadata suffices). False when the metadata is malformed
// (pairs before the problem were fed).
bool read_file_fields(const storage::RecordHeaderView& header, std::span<uint8_t> scratch,
                      FileFields* fields);

// ---------------------------------------------------------------------------------------------
// The answer

// True for a request that is a download: GET, or HEAD without Tus-Resumable (a HEAD with it is
// the tus HEAD: Upload-Offset and friends).
bool is_download(const RequestContext& ctx);

// Starts a download of ctx.upload() (`view` its state): 409 while incomplete; otherwise
// answers now, or loads the record's header first when the upload has metadata (the handler's
// on_header_loaded() then calls answer_download()).
void start_download(RequestContext& ctx, const UploadView& view);

// The answer to a download of a complete upload: 200, 206, 304, 412 or 416, with the file's
// fields (and its bytes for GET). `header` is the record's header (empty without metadata).
// How a download presents the file: the disposition type, and a name to offer when the
// metadata has none (empty: none). tus answers `attachment`; FilePond's restore and load
// `inline` with the upload id as the fallback name.
struct DownloadStyle {
  std::string_view disposition = "attachment";
  std::string_view fallback_name;
};
void answer_download(RequestContext& ctx, const UploadView& view,
                     std::span<const uint8_t> header, const DownloadStyle& style = {});

}  // namespace ringest::http
