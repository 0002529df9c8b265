// FilePond 4.x's chunk protocol, the parsing half: what a request to the /filepond route asks
// for (its query), the creation form (multipart/form-data holding one metadata JSON field), the
// metadata pairs kept from that JSON, and the chunk headers. Pure (bytes in, values out), so
// unit tests and the fuzzer drive it; filepond_handler.h does the rest.
//
// What FilePond sends (src/js/app/utils/processFileChunked.js, createServerAPI.js, sendRequest.js):
//   POST   <url>              Upload-Length; FormData { <name>: JSON.stringify(metadata) }
//   HEAD   <url>?patch=<id>   (resume: where to go on)
//   PATCH  <url>?patch=<id>   Content-Type: application/offset+octet-stream, Upload-Offset,
//                             Upload-Length, Upload-Name (the name's UTF-8 bytes)
//   DELETE <url>              the id as the body (revert)
//   GET    <url>?restore=<id>, ?load=<id>   (and ?fetch=<url>, which is never served)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ringest::filepond {

// ---------------------------------------------------------------------------------------------
// The query

enum class QueryKind : uint8_t {
  kNone,     // no query: POST (process) and DELETE (revert)
  kPatch,    // ?patch=<id>
  kRestore,  // ?restore=<id>
  kLoad,     // ?load=<id>
  kFetch,    // ?fetch=<anything>: refused (the server would fetch a URL a client chose)
  kInvalid,  // anything else: an unknown or repeated parameter, a second one, no '=' ...
};

struct Query {
  QueryKind kind = QueryKind::kNone;
  std::string_view value;  // raw (ids never need percent-decoding; a %-escape is not an id)
};

// The query of a request target ("/filepond?patch=abc"): exactly one known parameter, or none.
// An empty query ("/filepond?") is none.
Query parse_query(std::string_view target);

// ---------------------------------------------------------------------------------------------
// The creation form

enum class FormError : uint8_t {
  kOk,
  kNotMultipart,  // Content-Type is not multipart/form-data (415)
  kBoundary,      // no usable boundary parameter (400)
  kMalformed,     // the body is not a multipart body with that boundary (400)
  kTooManyParts,  // more than one field: only the metadata belongs here (400)
  kFilePart,      // a file part: the file comes in PATCH chunks (400)
};
const char* form_error_message(FormError error);

// The longest boundary RFC 2046 allows.
inline constexpr size_t kMaxBoundaryBytes = 70;

// The one field of a multipart/form-data `body` (with the boundary named in `content_type`):
// *value is its value, empty when the form has no part. A field is a part whose
// Content-Disposition is form-data with a name and no filename; its name is not checked
// (FilePond's `name` option chooses it, default "filepond").
FormError parse_metadata_form(std::string_view content_type, std::string_view body,
                              std::string_view* value);

// ---------------------------------------------------------------------------------------------
// The metadata

enum class MetadataError : uint8_t {
  kOk,
  kNotJsonObject,  // not JSON, or JSON but not an object (400)
  kTooLarge,       // the pairs kept would pass kMaxKeptMetadataBytes (413)
};

// What is kept of the metadata: bounded so that the tus HEAD (Upload-Metadata, base64) and a
// download's record read of the same upload fit their per-connection buffers.
inline constexpr size_t kMaxKeptMetadataBytes = 4096;
inline constexpr size_t kMaxKeptKeyBytes = 128;

struct MetadataPair {
  std::string key;
  std::string value;
};

// The top-level string members of a JSON object, in order, as metadata pairs: a member whose
// key is not a tus metadata key (1..kMaxKeptKeyBytes of visible ASCII without ',') or whose
// value is not a string (a number, an object ...) is skipped, as is a repeated key after its
// first. An empty `json` is an empty object. Creation only (it allocates): parsed by
// nlohmann::json's SAX interface, so no document tree is built and nesting depth costs no stack.
MetadataError metadata_pairs(std::string_view json, std::vector<MetadataPair>* pairs);

// ---------------------------------------------------------------------------------------------
// Chunk headers

// Upload-Name: present, 1..kMaxUploadNameBytes, no control characters (it is informative: the
// name stored is the metadata's; FilePond sends it on every PATCH).
inline constexpr size_t kMaxUploadNameBytes = 1024;
bool valid_upload_name(std::string_view value);

}  // namespace ringest::filepond
