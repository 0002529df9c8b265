#include "http/tus/tus_handler.h"

#include <llhttp.h>

#include <cstring>
#include <string>

#include "engine/base/base64.h"
#include "engine/storage/upload_id.h"
#include "engine/storage/upload_record.h"
#include "http/download/file_download.h"
#include "http/tus/tus_headers.h"

namespace ringest::tus {

using http::RequestHead;
// Downloads are shared with other protocols (http/download/file_download.h).
using http::answer_download;
using http::is_download;
using http::start_download;
namespace {

constexpr std::string_view kCollectionAllow = "OPTIONS, POST";
constexpr std::string_view kUploadAllow = "OPTIONS, HEAD, GET, PATCH, DELETE";

// Tus-Resumable must be 1.0.0 when present, and present when `required`. 412 otherwise.
bool version_ok(const RequestHead& head, bool required) {
  std::string_view v = head.get("Tus-Resumable");
  if (v.empty()) return !required && !head.has("Tus-Resumable");
  return v == kVersion;
}

// Upload-Concat must be well formed everywhere; it means something on creation only
// (create()). Returns the 400 message, or nullptr.
const char* unsupported_extension_error(const RequestHead& head, bool /*creation*/) {
  if (head.has("Upload-Concat") && !parse_concat(head.get("Upload-Concat"))) {
    return "invalid Upload-Concat";
  }
  return nullptr;
}

// True when `Trailer` names Upload-Checksum. Trailer is a list: it may come on several field
// lines, which together make one list (RFC 9110 5.3).
bool announces_checksum_trailer(const RequestHead& head) {
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (http::equals_ignore_case(head.headers[i].name, "Trailer") &&
        trailer_lists(head.headers[i].value, "Upload-Checksum")) {
      return true;
    }
  }
  return false;
}

// The checksum a request with a body carries (checksum, checksum-trailer): in Upload-Checksum,
// or announced in `Trailer` for a chunked body. Returns the 400 message, or nullptr; every
// problem is found before a body byte is read.
const char* checksum_of(const RequestHead& head, ChecksumSpec* spec) {
  bool in_trailer = head.chunked && announces_checksum_trailer(head);
  if (!head.has("Upload-Checksum")) {
    spec->in_trailer = in_trailer;
    return nullptr;
  }
  std::optional<Checksum> parsed = parse_checksum(head.get("Upload-Checksum"));
  if (!parsed) return "invalid Upload-Checksum";
  std::optional<DigestAlgorithm> algorithm = digest_algorithm(parsed->algorithm);
  if (!algorithm) return "unsupported checksum algorithm (see Tus-Checksum-Algorithm)";
  if (in_trailer) return "Upload-Checksum in both the header and the trailer";
  if (parsed->digest_bytes != digest_bytes(*algorithm)) return "invalid Upload-Checksum";
  spec->algorithm = *algorithm;
  std::memcpy(spec->expected.bytes, parsed->digest, parsed->digest_bytes);
  spec->expected.size = parsed->digest_bytes;
  return nullptr;
}

// The decoded pairs of a valid Upload-Metadata value as a storage metadata block.
std::vector<uint8_t> metadata_block(std::string_view header) {
  storage::MetadataBlockWriter writer;
  MetadataDecoder decoder(header);
  std::string value(header.size(), '\0');
  MetadataPair pair;
  while (decoder.next(value.data(), value.size(), &pair) == MetadataDecoder::Result::kPair) {
    writer.add(pair.key, pair.value);
  }
  std::span<const uint8_t> block = writer.block();
  return std::vector<uint8_t>(block.begin(), block.end());
}

// Upload-Metadata from stored pairs: `key SP base64(value)`, or the key alone for an empty
// value, joined by commas (a value as the client sent it, when it sent canonical base64).
// False when the pairs cannot be read or do not fit `out`.
bool format_metadata(const storage::RecordHeaderView& header, std::span<uint8_t> scratch,
                     char* out, size_t capacity, size_t* length) {
  storage::MetadataReader reader(header.version, header.metadata, scratch);
  std::string_view key, value;
  size_t n = 0;
  for (;;) {
    storage::MetadataReader::Result r = reader.next(&key, &value);
    if (r == storage::MetadataReader::Result::kEnd) break;
    if (r != storage::MetadataReader::Result::kPair) return false;
    size_t need = (n > 0 ? 1 : 0) + key.size() +
                  (value.empty() ? 0 : 1 + base64_encoded_chars(value.size()));
    if (need > capacity - n) return false;
    if (n > 0) out[n++] = ',';
    std::memcpy(out + n, key.data(), key.size());
    n += key.size();
    if (!value.empty()) {
      out[n++] = ' ';
      n += base64_encode(value.data(), value.size(), out + n);
    }
  }
  *length = n;
  return true;
}

// Upload-Concat on a HEAD: `partial`, or `final;` and the parts' URLs (relative, `base` + id).
// False when the value does not fit `out`.
bool format_concat(const Upload& upload, std::string_view base, char* out, size_t capacity,
                   size_t* length) {
  std::string_view word = upload.kind == UploadKind::kPartial ? "partial" : "final;";
  if (word.size() > capacity) return false;
  std::memcpy(out, word.data(), word.size());
  size_t n = word.size();
  if (upload.kind == UploadKind::kFinal) {
    for (size_t i = 0; i < upload.parts->count(); ++i) {
      std::string_view id = upload.parts->part(i).upload->id();
      if ((i > 0 ? 1 : 0) + base.size() + id.size() > capacity - n) return false;
      if (i > 0) out[n++] = ' ';
      std::memcpy(out + n, base.data(), base.size());
      std::memcpy(out + n + base.size(), id.data(), id.size());
      n += base.size() + id.size();
    }
  }
  *length = n;
  return true;
}

// Upload-Expires (tus expiration): when the upload expires as it now stands, if it ever does
// (engine/upload/expiry.h), as an IMF-fixdate.
void add_expires(ResponseBuilder& rb, const Config& config, const UploadView& view) {
  uint64_t at_ms = expiry_policy_of(config).expires_unix_ms(view);
  if (at_ms == 0) return;
  char date[http::kHttpDateBytes];
  rb.header("Upload-Expires", http::format_http_date(at_ms / 1000, date));
}

}  // namespace

RouteFacts TusHandler::facts(std::string_view rest, uint8_t method) const {
  RouteFacts facts;
  if (rest.empty()) {
    facts.allow = kCollectionAllow;
    return facts;
  }
  facts.allow = kUploadAllow;
  facts.upload_url =
      method == HTTP_HEAD || method == HTTP_GET || method == HTTP_PATCH || method == HTTP_DELETE;
  return facts;
}

void TusHandler::add_common_fields(ResponseBuilder& rb) const {
  rb.header("Tus-Resumable", kVersion);
}

ResponseBuilder TusHandler::begin(RequestContext& ctx, int status) const {
  return ctx.begin_response(status);  // with add_common_fields()
}

void TusHandler::error(RequestContext& ctx, int status, std::string_view message,
                       const UploadView* view) const {
  ResponseBuilder rb = begin(ctx, status);
  if (status == 405) rb.header("Allow", ctx.route_rest().empty() ? kCollectionAllow : kUploadAllow);
  if (status == 412) rb.header("Tus-Version", kVersion);
  if (view != nullptr && ctx.method() == HTTP_POST && ctx.upload() != nullptr) {
    // The upload exists although its first bytes did not count: the client resumes there.
    char location[http::kLocationBytes];
    rb.header("Location", ctx.upload_location(base_, ctx.upload()->id(), location, sizeof location));
  }
  if (view != nullptr) rb.header("Upload-Offset", view->offset);
  http::send_text(ctx, rb, message);
}

void TusHandler::on_request(RequestContext& ctx) {
  std::string_view rest = ctx.route_rest();
  uint8_t method = ctx.method();
  if (ctx.path() == "*") {  // OPTIONS *, about the server as a whole: its tus capabilities
    options(ctx);
  } else if (!rest.empty()) {
    on_upload_url(ctx, rest);
  } else if (method == HTTP_OPTIONS) {
    options(ctx);
  } else if (method == HTTP_POST) {
    create(ctx);
  } else {
    error(ctx, 405, "method not allowed");
  }
}

void TusHandler::options(RequestContext& ctx) const {
  ResponseBuilder rb = begin(ctx, 204);
  rb.header("Tus-Version", kVersion);
  rb.header("Tus-Extension", expiry_policy_of(ctx.config()).enabled()
                                 ? kExtensionsWithExpiration
                                 : kExtensions);
  rb.header("Tus-Max-Size", ctx.config().max_upload_bytes);
  rb.header("Tus-Checksum-Algorithm", kDigestAlgorithmList);
  rb.finish_no_content();
  ctx.send(rb);
}

void TusHandler::create(RequestContext& ctx) const {
  const RequestHead& head = ctx.head();
  const Config& config = ctx.config();
  if (!version_ok(head, true)) return error(ctx, 412, "Tus-Resumable 1.0.0 required");
  bool deferred = head.has("Upload-Defer-Length");
  if (deferred && head.get("Upload-Defer-Length") != "1") {
    return error(ctx, 400, "Upload-Defer-Length must be 1");
  }
  if (deferred && head.has("Upload-Length")) {
    return error(ctx, 400, "send Upload-Length or Upload-Defer-Length, not both");
  }
  if (const char* message = unsupported_extension_error(head, true)) {
    return error(ctx, 400, message);
  }
  std::optional<Concat> concat;
  if (head.has("Upload-Concat")) concat = parse_concat(head.get("Upload-Concat"));
  if (concat && concat->final) return create_final(ctx, *concat);
  uint64_t length = kUnknownLength;
  if (!deferred) {
    std::string_view text = head.get("Upload-Length");
    if (text.empty()) return error(ctx, 400, "Upload-Length or Upload-Defer-Length: 1 required");
    std::optional<uint64_t> parsed = parse_offset(text);
    if (!parsed) return error(ctx, 400, "Upload-Length must be a non-negative integer");
    if (*parsed > config.max_upload_bytes) {
      return error(ctx, 413, "Upload-Length exceeds Tus-Max-Size");
    }
    length = *parsed;
  }
  std::string_view metadata = head.get("Upload-Metadata");
  if (!valid_metadata(metadata)) return error(ctx, 400, "invalid Upload-Metadata");
  ChecksumSpec checksum;
  if (const char* message = checksum_of(head, &checksum)) return error(ctx, 400, message);
  if (head.has_body()) {
    if (!is_offset_content_type(head.get("Content-Type"))) {
      return error(ctx, 415, "Content-Type must be application/offset+octet-stream");
    }
    uint64_t most = deferred ? config.max_upload_bytes : length;
    if (head.has_content_length && head.content_length > most) {
      return error(ctx, 413, "body is longer than Upload-Length");
    }
  }
  std::vector<uint8_t> block = metadata_block(metadata);
  CreateSpec spec;
  spec.protocol = static_cast<uint8_t>(storage::Protocol::kTus);
  spec.length = length;
  spec.metadata_block = block;
  spec.partial = concat.has_value();  // Upload-Concat: partial
  ctx.create_upload(spec);
}

// POST with Upload-Concat: final;<urls>: a final upload made of the listed partial uploads, in
// order, complete at once (concatenation). Its metadata is its own (the partials' is not
// copied); it has no Upload-Length (the parts' sum) and no body.
void TusHandler::create_final(RequestContext& ctx, const Concat& concat) const {
  const RequestHead& head = ctx.head();
  if (head.has("Upload-Length") || head.has("Upload-Defer-Length")) {
    return error(ctx, 400, "a final upload has no Upload-Length: it is the sum of its parts");
  }
  if (head.has_body()) return error(ctx, 400, "a final upload takes no body");
  std::string_view metadata = head.get("Upload-Metadata");
  if (!valid_metadata(metadata)) return error(ctx, 400, "invalid Upload-Metadata");
  for (size_t i = 0; i < concat.url_count; ++i) {
    std::optional<std::string_view> id = concat_url_id(concat.urls[i], base_);
    if (!id || !is_valid_upload_id(*id)) {
      return error(ctx, 400, "Upload-Concat: not an upload URL of this server: " +
                                 std::string(concat.urls[i]));
    }
  }
  Upload* found[kMaxConcatUrls];
  for (size_t i = 0; i < concat.url_count; ++i) {
    found[i] = ctx.find_upload(*concat_url_id(concat.urls[i], base_));
  }
  CreateSpec spec;
  PartsCheck check = FinalParts::make(std::span<Upload* const>(found, concat.url_count),
                                      ctx.config().max_upload_bytes, &spec.parts);
  if (check.outcome != PartsOutcome::kOk) {
    std::string url(concat.urls[check.index]);
    switch (check.outcome) {
      case PartsOutcome::kUnknown:
        return error(ctx, 404, "Upload-Concat: no such upload: " + url);
      case PartsOutcome::kNotPartial:
        return error(ctx, 400, "Upload-Concat: not a partial upload: " + url);
      case PartsOutcome::kIncomplete:
        return error(ctx, 400, "Upload-Concat: partial upload not complete: " + url);
      case PartsOutcome::kTooLong:
        return error(ctx, 413, "the partial uploads add up to more than Tus-Max-Size");
      default:
        return error(ctx, 400, "invalid Upload-Concat");
    }
  }
  std::vector<uint8_t> block = metadata_block(metadata);
  spec.protocol = static_cast<uint8_t>(storage::Protocol::kTus);
  spec.metadata_block = block;
  ctx.create_upload(spec);
}

void TusHandler::on_created(RequestContext& ctx, Status status) {
  if (!status.ok()) {
    http::CreationError e = http::creation_error(ctx, status);
    return error(ctx, e.status, e.message);
  }
  const RequestHead& head = ctx.head();
  if (head.has_body() && !ctx.draining()) {
    AppendRequest request;
    request.upload = ctx.upload();
    request.offset = 0;
    request.body_bytes = http::declared_body_bytes(head);
    request.max_length = ctx.config().max_upload_bytes;
    checksum_of(head, &request.checksum);  // (checked before the upload was created)
    if (head.chunked) ctx.capture_trailer("Upload-Checksum");
    ctx.begin_append(request);
    return;
  }
  // (While draining, a body is not read: the client learns where its upload is and resumes.)
  answer_offset(ctx, 201, ctx.upload()->view());
}

void TusHandler::on_upload_url(RequestContext& ctx, std::string_view id) const {
  const RequestHead& head = ctx.head();
  uint8_t method = ctx.method();
  if (!is_valid_upload_id(id)) return error(ctx, 404, "no such upload");
  if (method == HTTP_OPTIONS) return options(ctx);
  if (method != HTTP_HEAD && method != HTTP_GET && method != HTTP_PATCH &&
      method != HTTP_DELETE) {
    return error(ctx, 405, "method not allowed");
  }
  bool modifies = method == HTTP_PATCH || method == HTTP_DELETE;
  if (!version_ok(head, modifies)) return error(ctx, 412, "Tus-Resumable 1.0.0 required");
  if (method == HTTP_PATCH) {
    if (!is_offset_content_type(head.get("Content-Type"))) {
      return error(ctx, 415, "Content-Type must be application/offset+octet-stream");
    }
    if (!parse_offset(head.get("Upload-Offset"))) {
      return error(ctx, 400, "Upload-Offset must be a non-negative integer");
    }
    if (head.has("Upload-Length") && !parse_offset(head.get("Upload-Length"))) {
      return error(ctx, 400, "Upload-Length must be a non-negative integer");
    }
    if (const char* message = unsupported_extension_error(head, false)) {
      return error(ctx, 400, message);
    }
    ChecksumSpec checksum;
    if (const char* message = checksum_of(head, &checksum)) return error(ctx, 400, message);
  }
  Upload* upload = ctx.find_upload(id);
  if (upload == nullptr) return missing(ctx, id);
  ctx.set_upload(upload);
  UploadView view = upload->view();
  if (view.deleted) return missing(ctx, id);  // deleted since it was found
  if (method == HTTP_PATCH && view.kind == UploadKind::kFinal) {
    return error(ctx, 403, "a final upload cannot be patched: its bytes are its parts'");
  }
  switch (method) {
    case HTTP_HEAD:
      if (is_download(ctx)) return start_download(ctx, view);  // without Tus-Resumable
      if (view.metadata_bytes > 0) return ctx.load_header();  // on_header_loaded() answers
      return head_response(ctx, view, {});
    case HTTP_GET:
      return start_download(ctx, view);
    case HTTP_PATCH:
      return patch(ctx);
    default: {
      AppendRequest request;
      request.upload = upload;
      request.intent = AppendIntent::kRemove;
      ctx.begin_append(request);  // a request writing to it is cut off first
      return;
    }
  }
}

void TusHandler::missing(RequestContext& ctx, std::string_view id) const {
  int status = ctx.missing_upload_status(id);
  error(ctx, status, status == 410 ? "the upload expired" : "no such upload");
}

void TusHandler::on_header_loaded(RequestContext& ctx, Status status,
                                  std::span<const uint8_t> header) {
  if (status.code == Code::kNotFound) return missing(ctx, ctx.upload()->id());  // just deleted
  if (!status.ok()) return error(ctx, 500, "cannot read the upload's record");
  if (is_download(ctx)) return answer_download(ctx, ctx.upload()->view(), header);
  head_response(ctx, ctx.upload()->view(), header);
}

void TusHandler::head_response(RequestContext& ctx, const UploadView& view,
                               std::span<const uint8_t> header) const {
  ResponseBuilder rb = begin(ctx, 200);
  rb.header("Upload-Offset", view.offset);
  if (view.length_known()) {
    rb.header("Upload-Length", view.length);
  } else {
    rb.header("Upload-Defer-Length", "1");
  }
  if (view.kind != UploadKind::kPlain) {
    // Formatted in the scratch's last third, which the metadata below reuses afterwards.
    std::span<uint8_t> scratch = ctx.scratch();
    size_t third = scratch.size() / 3;
    char* out = reinterpret_cast<char*>(scratch.data() + 2 * third);
    size_t n = 0;
    if (!format_concat(*ctx.upload(), base_, out, third, &n)) {
      return error(ctx, 500, "Upload-Concat does not fit the response");
    }
    rb.header("Upload-Concat", std::string_view(out, n));
  }
  if (!header.empty()) {
    storage::HeaderDecode decoded = storage::decode_header(header.data(), header.size());
    // The scratch's first third holds the record's header; the second decodes values (v1
    // records keep them in base64); the third takes the formatted field.
    std::span<uint8_t> scratch = ctx.scratch();
    size_t third = scratch.size() / 3;
    char* out = reinterpret_cast<char*>(scratch.data() + 2 * third);
    size_t n = 0;
    if (decoded.error != storage::RecordError::kOk) {
      return error(ctx, 500, "cannot read the upload's metadata");
    }
    if (decoded.header.version == storage::kFormatVersionV1) {
      // A version 1 record kept the client's Upload-Metadata text, validated: as it was sent.
      std::span<const uint8_t> text = decoded.header.metadata;
      if (!text.empty()) {
        rb.header("Upload-Metadata",
                  std::string_view(reinterpret_cast<const char*>(text.data()), text.size()));
      }
    } else if (!format_metadata(decoded.header, scratch.subspan(third, third), out, third, &n)) {
      return error(ctx, 500, "cannot read the upload's metadata");
    } else if (n > 0) {
      rb.header("Upload-Metadata", std::string_view(out, n));
    }
  }
  if (view.complete() && view.crc32c_known) {
    char digest[kReprDigestChars];
    format_repr_digest(view.crc32c, digest);
    rb.header("Repr-Digest", std::string_view(digest, sizeof digest));
  }
  rb.header("Cache-Control", "no-store");
  rb.finish_no_content();
  ctx.send(rb);
}

void TusHandler::patch(RequestContext& ctx) const {
  const RequestHead& head = ctx.head();
  AppendRequest request;
  request.upload = ctx.upload();
  request.offset = *parse_offset(head.get("Upload-Offset"));
  request.body_bytes = http::declared_body_bytes(head);
  if (head.has("Upload-Length")) request.declare_length = *parse_offset(head.get("Upload-Length"));
  request.max_length = ctx.config().max_upload_bytes;
  checksum_of(head, &request.checksum);  // (checked in on_upload_url())
  if (head.chunked) ctx.capture_trailer("Upload-Checksum");
  ctx.begin_append(request);
}

void TusHandler::on_trailer(RequestContext& ctx, std::string_view value, bool valid) {
  std::optional<Checksum> parsed;
  if (valid) parsed = parse_checksum(value);
  std::optional<DigestAlgorithm> algorithm;
  if (parsed) algorithm = digest_algorithm(parsed->algorithm);
  if (!algorithm || parsed->digest_bytes != digest_bytes(*algorithm)) {
    return ctx.reject_trailer_checksum();  // answered 400 once the body is settled
  }
  DigestValue expected;
  std::memcpy(expected.bytes, parsed->digest, parsed->digest_bytes);
  expected.size = parsed->digest_bytes;
  ctx.set_trailer_checksum(*algorithm, expected);
}

void TusHandler::on_append_ready(RequestContext& ctx, AppendOutcome outcome,
                                 const UploadView& view) {
  if (outcome != AppendOutcome::kOk) return outcome_error(ctx, outcome, view);
  if (ctx.method() == HTTP_DELETE) return ctx.remove_upload();
  ctx.receive_body();
}

void TusHandler::on_append_done(RequestContext& ctx, AppendOutcome outcome,
                                const UploadView& view) {
  if (ctx.method() == HTTP_DELETE) {
    if (outcome == AppendOutcome::kReferenced) {
      return error(ctx, 409, "the upload is a part of a final upload: delete the final first");
    }
    if (outcome != AppendOutcome::kOk) return error(ctx, 500, "cannot delete the upload");
    ResponseBuilder rb = begin(ctx, 204);
    rb.finish_no_content();
    ctx.send(rb);
    return;
  }
  if (outcome != AppendOutcome::kOk) return outcome_error(ctx, outcome, view);
  answer_offset(ctx, ctx.method() == HTTP_POST ? 201 : 204, view);
}

void TusHandler::answer_offset(RequestContext& ctx, int status, const UploadView& view) const {
  ResponseBuilder rb = begin(ctx, status);
  if (status == 201) {
    char location[http::kLocationBytes];  // signed when a signature created it
    rb.header("Location",
              ctx.upload_location(base_, ctx.upload()->id(), location, sizeof location));
  }
  rb.header("Upload-Offset", view.offset);
  add_expires(rb, ctx.config(), view);
  if (status == 201) {
    rb.finish("");
  } else {
    rb.finish_no_content();
  }
  ctx.send(rb);
}

void TusHandler::outcome_error(RequestContext& ctx, AppendOutcome outcome,
                               const UploadView& view) const {
  switch (outcome) {
    case AppendOutcome::kGone:
      return missing(ctx, ctx.upload()->id());
    case AppendOutcome::kSuperseded:
      return error(ctx, 409, "a newer request for this upload replaced this one", &view);
    case AppendOutcome::kOffsetMismatch:
      return error(ctx, 409, "Upload-Offset does not match the upload's offset", &view);
    case AppendOutcome::kExceedsLength:
    case AppendOutcome::kOverrun:
      return error(ctx, 413, "body would pass Upload-Length");
    case AppendOutcome::kLengthConflict:
      return error(ctx, 400, "Upload-Length differs from the upload's length");
    case AppendOutcome::kLengthBelowOffset:
      return error(ctx, 400, "Upload-Length is below the upload's offset");
    case AppendOutcome::kLengthTooLarge:
      return error(ctx, 413, "Upload-Length exceeds Tus-Max-Size");
    case AppendOutcome::kNoSpace:
      return error(ctx, 507, "insufficient storage");
    case AppendOutcome::kBusy:
      return error(ctx, 503, "server busy, try again");
    case AppendOutcome::kTimedOut:
      // Slower than --min-body-rate: what arrived is committed; the client may resume.
      return error(ctx, 408, "request body too slow", &view);
    case AppendOutcome::kMalformed:
      return error(ctx, 400, "malformed request body");
    case AppendOutcome::kChecksumMismatch:
      return error(ctx, 460, "checksum mismatch: nothing of this request was kept", &view);
    case AppendOutcome::kChecksumInvalid:
      return error(ctx, 400,
                   "Upload-Checksum trailer missing, malformed, unsupported or not announced in "
                   "Trailer: no byte of this request past Upload-Offset counts",
                   &view);
    case AppendOutcome::kFinalUpload:
      return error(ctx, 403, "a final upload cannot be patched: its bytes are its parts'");
    case AppendOutcome::kReferenced:
      return error(ctx, 409, "the upload is a part of a final upload: delete the final first");
    case AppendOutcome::kOk:
    case AppendOutcome::kCutOff:
    case AppendOutcome::kPeerGone:
    case AppendOutcome::kStorageError:
      break;
  }
  error(ctx, 500, "storage error");
}

}  // namespace ringest::tus
