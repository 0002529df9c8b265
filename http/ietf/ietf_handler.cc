#include "http/ietf/ietf_handler.h"

#include <llhttp.h>

#include "engine/storage/upload_id.h"
#include "engine/storage/upload_record.h"

namespace ringest::ietf {

using http::RequestHead;
namespace {

constexpr std::string_view kCollectionAllow = "OPTIONS, POST, PUT";
constexpr std::string_view kUploadAllow = "OPTIONS, HEAD, GET, PATCH, DELETE";

// What a creation or append request says about the upload, each field checked: an invalid
// Structured Field value is refused with 400 rather than silently ignored, so a client learns
// at once that its request was not understood.
struct Fields {
  bool complete = false;    // Upload-Complete
  bool has_offset = false;  // Upload-Offset
  uint64_t offset = 0;
  uint64_t length = kUnknownLength;  // Upload-Length, or offset + Content-Length with ?1
  const char* error = nullptr;       // the 400 message
  bool inconsistent = false;         // the two length indications differ
};

Fields read_fields(const RequestHead& head, uint64_t base_offset_if_absent) {
  Fields f;
  SingleField complete = single_field(head, "Upload-Complete");
  std::optional<bool> flag;
  if (complete.present && !complete.duplicated) flag = parse_sf_boolean(complete.value);
  if (!flag) {
    f.error = "Upload-Complete must be ?0 or ?1 (once)";
    return f;
  }
  f.complete = *flag;
  SingleField offset = single_field(head, "Upload-Offset");
  if (offset.present) {
    std::optional<uint64_t> parsed;
    if (!offset.duplicated) parsed = parse_sf_offset(offset.value);
    if (!parsed) {
      f.error = "Upload-Offset must be a non-negative integer of at most 15 digits (once)";
      return f;
    }
    f.has_offset = true;
    f.offset = *parsed;
  }
  uint64_t at = f.has_offset ? f.offset : base_offset_if_absent;
  SingleField length = single_field(head, "Upload-Length");
  if (length.present) {
    std::optional<uint64_t> parsed;
    if (!length.duplicated) parsed = parse_sf_offset(length.value);
    if (!parsed) {
      f.error = "Upload-Length must be a non-negative integer of at most 15 digits (once)";
      return f;
    }
    f.length = *parsed;
  }
  if (f.complete && !head.chunked) {
    // (Content-Length absent means an empty body: the upload ends where it stands.)
    uint64_t end = at + head.content_length;
    if (f.length != kUnknownLength && f.length != end) f.inconsistent = true;
    f.length = end;
  }
  return f;
}

bool body_over_append_limit(const RequestHead& head, const Config& config) {
  return config.max_append_bytes > 0 && head.has_content_length &&
         head.content_length > config.max_append_bytes;
}

}  // namespace

RouteFacts IetfHandler::facts(std::string_view rest, uint8_t method) const {
  RouteFacts facts;
  facts.allow = rest.empty() ? kCollectionAllow : kUploadAllow;
  facts.upload_url = !rest.empty() && (method == HTTP_HEAD || method == HTTP_GET ||
                                       method == HTTP_PATCH || method == HTTP_DELETE);
  return facts;
}

int64_t IetfHandler::version(const RequestContext& ctx) {
  uint8_t choice = ctx.route_choice();
  if ((choice & kIetfChoice) != 0) return choice & ~kIetfChoice;
  return interop_version(ctx.head());  // (the head is whole until a body is read)
}

void IetfHandler::add_request_fields(const RequestContext& ctx, ResponseBuilder& rb) const {
  int64_t v = version(ctx);
  if (supported_version(v)) rb.header("Upload-Draft-Interop-Version", static_cast<uint64_t>(v));
}

void IetfHandler::add_limit(RequestContext& ctx, ResponseBuilder& rb) const {
  char limit[kLimitChars];
  const Config& config = ctx.config();
  size_t n = format_upload_limit(config.max_upload_bytes, config.max_append_bytes, limit);
  rb.header("Upload-Limit", std::string_view(limit, n));
}

void IetfHandler::add_location(RequestContext& ctx, ResponseBuilder& rb) const {
  char location[http::kLocationBytes];  // signed when a signature created it
  rb.header("Location", ctx.upload_location(base_, ctx.upload()->id(), location, sizeof location));
}

void IetfHandler::error(RequestContext& ctx, int status, std::string_view message,
                        const UploadView* view) const {
  ResponseBuilder rb = ctx.begin_response(status);
  if (status == 405) rb.header("Allow", ctx.route_rest().empty() ? kCollectionAllow : kUploadAllow);
  if (status == 413) add_limit(ctx, rb);
  if (view != nullptr) {
    // The upload exists and is resumable from here (a creation's first bytes may not count).
    if (ctx.route_rest().empty() && ctx.upload() != nullptr) add_location(ctx, rb);
    rb.header("Upload-Complete", view->complete() ? "?1" : "?0");
    rb.header("Upload-Offset", view->offset);
  }
  http::send_text(ctx, rb, message);
}

void IetfHandler::problem(RequestContext& ctx, int status, Problem kind, std::string_view title,
                          const UploadView* view, uint64_t provided_offset) const {
  ResponseBuilder rb = ctx.begin_response(status);
  if (view != nullptr) {
    rb.header("Upload-Complete", view->complete() ? "?1" : "?0");
    rb.header("Upload-Offset", view->offset);
  }
  std::span<uint8_t> scratch = ctx.scratch();  // (no heap on the data path)
  char* out = reinterpret_cast<char*>(scratch.data());
  size_t n = format_problem(kind, title, view != nullptr ? view->offset : 0, provided_offset, out,
                            scratch.size());
  rb.header("Content-Type", "application/problem+json");
  if (ctx.head_request()) {
    rb.finish_head(n);
  } else {
    rb.finish(std::string_view(out, n));
  }
  ctx.send(rb);
}

void IetfHandler::on_request(RequestContext& ctx) {
  if (ctx.route_choice() == 0) ctx.set_route_choice(ietf_choice(ctx.head()));
  std::string_view rest = ctx.route_rest();
  if (!rest.empty()) return on_upload_url(ctx, rest);
  // Upload creation is any request with content and Upload-Complete: POST, or PUT as a client
  // of the draft may send it (Apple's URLSession keeps the method the app chose).
  if (ctx.method() == HTTP_POST || ctx.method() == HTTP_PUT) return create(ctx);
  error(ctx, 405, "method not allowed");
}

void IetfHandler::create(RequestContext& ctx) const {
  const RequestHead& head = ctx.head();
  const Config& config = ctx.config();
  Fields f = read_fields(head, 0);
  if (f.error != nullptr) return error(ctx, 400, f.error);
  if (f.has_offset) return error(ctx, 400, "a creation request carries no Upload-Offset");
  if (f.inconsistent) {
    return problem(ctx, 400, Problem::kInconsistentLength,
                   "Upload-Length differs from Content-Length with Upload-Complete: ?1", nullptr);
  }
  if (f.length != kUnknownLength && f.length > config.max_upload_bytes) {
    return error(ctx, 413, "the upload is longer than Upload-Limit max-size");
  }
  if (head.has_content_length && head.content_length > config.max_upload_bytes) {
    return error(ctx, 413, "the body is longer than Upload-Limit max-size");
  }
  if (f.length != kUnknownLength && head.has_content_length && head.content_length > f.length) {
    // Refused before an upload exists: no 104 and no Location for an upload nobody can finish.
    return problem(ctx, 400, Problem::kInconsistentLength,
                   "Content-Length is longer than Upload-Length", nullptr);
  }
  if (body_over_append_limit(head, config)) {
    return error(ctx, 413, "the body is longer than Upload-Limit max-append-size");
  }
  // The representation's metadata, as tus keeps it: a download of the upload is named and typed
  // by it (`filetype`, `filename`; see http/download/file_download.h, which sanitizes both).
  storage::MetadataBlockWriter writer;
  std::string_view type = head.get("Content-Type");
  if (!type.empty()) writer.add("filetype", type);
  std::string_view name = disposition_filename(head.get("Content-Disposition"));
  if (!name.empty()) writer.add("filename", name);
  std::span<const uint8_t> block = writer.block();
  CreateSpec spec;
  spec.protocol = static_cast<uint8_t>(storage::Protocol::kIetf);
  spec.length = f.length;
  spec.metadata_block = block;
  ctx.create_upload(spec);
}

// 104 Upload Resumption Supported: only to a client naming an interop version we speak
// (RUFH-VER-01), with that version, the upload's Location and its limits. Sent before the body
// is read; a 100 Continue for `Expect: 100-continue` still follows (RUFH-100-01).
void IetfHandler::send_resumption_supported(RequestContext& ctx) const {
  int64_t v = version(ctx);
  if (!supported_version(v)) return;
  ResponseBuilder rb = ctx.begin_response(104);
  add_location(ctx, rb);
  add_limit(ctx, rb);
  rb.header("Upload-Draft-Interop-Version", static_cast<uint64_t>(v));
  rb.finish_no_content();
  ctx.send_interim(rb);
}

void IetfHandler::on_created(RequestContext& ctx, Status status) {
  if (!status.ok()) {
    http::CreationError e = http::creation_error(ctx, status);
    return error(ctx, e.status, e.message);
  }
  send_resumption_supported(ctx);
  const RequestHead& head = ctx.head();
  if (head.has_body() && !ctx.draining()) {
    Fields f = read_fields(head, 0);  // (checked in create())
    AppendRequest request;
    request.upload = ctx.upload();
    request.offset = 0;
    request.body_bytes = http::declared_body_bytes(head);
    request.max_length = ctx.config().max_upload_bytes;
    request.ends_upload = f.complete;
    ctx.begin_append(request);
    return;
  }
  // (While draining, a body is not read: the client learns where its upload is and resumes.)
  answer(ctx, 201, ctx.upload()->view());
}

void IetfHandler::on_upload_url(RequestContext& ctx, std::string_view id) const {
  uint8_t method = ctx.method();
  if (method != HTTP_HEAD && method != HTTP_PATCH && method != HTTP_DELETE) {
    return error(ctx, 405, "method not allowed");
  }
  if (!is_valid_upload_id(id)) return error(ctx, 404, "no such upload");
  const RequestHead& head = ctx.head();
  if (method == HTTP_PATCH) {
    if (!is_partial_upload(head.get("Content-Type"))) {
      return error(ctx, 415, "Content-Type must be application/partial-upload");
    }
    Fields f = read_fields(head, 0);
    if (f.error != nullptr) return error(ctx, 400, f.error);
    if (!f.has_offset) return error(ctx, 400, "Upload-Offset required");
    if (f.inconsistent) {
      return problem(ctx, 400, Problem::kInconsistentLength,
                     "Upload-Length differs from Upload-Offset + Content-Length", nullptr);
    }
    if (body_over_append_limit(head, ctx.config())) {
      return error(ctx, 413, "the body is longer than Upload-Limit max-append-size");
    }
  }
  Upload* upload = ctx.find_upload(id);
  if (upload == nullptr) return missing(ctx, id);
  ctx.set_upload(upload);
  UploadView view = upload->view();
  if (view.deleted) return missing(ctx, id);  // deleted since it was found
  if (method == HTTP_HEAD) return offset(ctx, view);
  if (method == HTTP_PATCH) return append(ctx, view);
  AppendRequest request;
  request.upload = upload;
  request.intent = AppendIntent::kRemove;
  ctx.begin_append(request);  // a request writing to it is cut off first (RUFH-CAN-01)
}

void IetfHandler::offset(RequestContext& ctx, const UploadView& view) const {
  ResponseBuilder rb = ctx.begin_response(200);
  rb.header("Upload-Offset", view.offset);
  rb.header("Upload-Complete", view.complete() ? "?1" : "?0");
  if (view.length_known()) rb.header("Upload-Length", view.length);
  add_limit(ctx, rb);
  rb.header("Cache-Control", "no-store");
  rb.finish_no_content();
  ctx.send(rb);
}

void IetfHandler::append(RequestContext& ctx, const UploadView& view) const {
  const RequestHead& head = ctx.head();
  Fields f = read_fields(head, view.offset);  // (checked in on_upload_url())
  if (view.kind == UploadKind::kFinal) {
    return error(ctx, 403, "a final upload cannot be appended to: its bytes are its parts'");
  }
  if (view.complete()) {
    bool empty = !head.has_body();
    if (empty && f.complete && f.offset == view.offset) {
      return answer(ctx, 204, view);  // the completion again (a lost answer): replayed
    }
    if (version(ctx) != kInteropDraft05 && !empty) {
      return problem(ctx, 400, Problem::kInconsistentLength,
                     "the upload is complete: no more bytes fit", &view);
    }
    return problem(ctx, version(ctx) == kInteropDraft05 ? 400 : 410, Problem::kCompletedUpload,
                   "the upload is already complete", &view);
  }
  AppendRequest request;
  request.upload = ctx.upload();
  request.offset = f.offset;
  request.body_bytes = http::declared_body_bytes(head);
  request.declare_length = f.length;
  request.max_length = ctx.config().max_upload_bytes;
  request.ends_upload = f.complete;
  ctx.begin_append(request);
}

void IetfHandler::on_append_ready(RequestContext& ctx, AppendOutcome outcome,
                                  const UploadView& view) {
  if (outcome != AppendOutcome::kOk) return outcome_error(ctx, outcome, view);
  if (ctx.method() == HTTP_DELETE) return ctx.remove_upload();
  ctx.receive_body();
}

void IetfHandler::on_append_done(RequestContext& ctx, AppendOutcome outcome,
                                 const UploadView& view) {
  if (ctx.method() == HTTP_DELETE) {
    if (outcome == AppendOutcome::kReferenced) {
      return error(ctx, 409, "the upload is a part of a final upload: delete the final first");
    }
    if (outcome != AppendOutcome::kOk) return error(ctx, 500, "cannot delete the upload");
    ResponseBuilder rb = ctx.begin_response(204);
    rb.finish_no_content();
    ctx.send(rb);
    return;
  }
  if (outcome != AppendOutcome::kOk) return outcome_error(ctx, outcome, view);
  answer(ctx, ctx.route_rest().empty() ? 201 : 204, view);
}

// A creation (201) or append (204) fully processed: where the upload stands, durable.
void IetfHandler::answer(RequestContext& ctx, int status, const UploadView& view) const {
  ResponseBuilder rb = ctx.begin_response(status);
  if (status == 201) add_location(ctx, rb);
  rb.header("Upload-Complete", view.complete() ? "?1" : "?0");
  rb.header("Upload-Offset", view.offset);
  if (view.length_known()) rb.header("Upload-Length", view.length);
  add_limit(ctx, rb);
  if (status == 201) {
    rb.finish("");
  } else {
    rb.finish_no_content();
  }
  ctx.send(rb);
}

void IetfHandler::missing(RequestContext& ctx, std::string_view id) const {
  int status = ctx.missing_upload_status(id);
  error(ctx, status, status == 410 ? "the upload expired" : "no such upload");
}

void IetfHandler::outcome_error(RequestContext& ctx, AppendOutcome outcome,
                                const UploadView& view) const {
  switch (outcome) {
    case AppendOutcome::kGone:
      return missing(ctx, ctx.upload()->id());
    case AppendOutcome::kSuperseded:
      return error(ctx, 409, "a newer request for this upload replaced this one", &view);
    case AppendOutcome::kOffsetMismatch: {
      std::optional<uint64_t> provided = parse_sf_offset(ctx.head().get("Upload-Offset"));
      return problem(ctx, 409, Problem::kMismatchingOffset,
                     "Upload-Offset does not match the upload's offset", &view,
                     provided.value_or(0));
    }
    case AppendOutcome::kExceedsLength:
    case AppendOutcome::kOverrun:
      if (!view.length_known()) return error(ctx, 413, "body would pass Upload-Limit max-size");
      [[fallthrough]];
    case AppendOutcome::kLengthConflict:
    case AppendOutcome::kLengthBelowOffset:
      return problem(ctx, 400, Problem::kInconsistentLength,
                     "the request's length differs from the upload's length", &view);
    case AppendOutcome::kLengthTooLarge:
      return error(ctx, 413, "Upload-Length exceeds Upload-Limit max-size");
    case AppendOutcome::kNoSpace:
      return error(ctx, 507, "insufficient storage", &view);
    case AppendOutcome::kBusy:
      return error(ctx, 503, "server busy, try again");
    case AppendOutcome::kTimedOut:
      // Slower than --min-body-rate: what arrived is committed; the client may resume.
      return error(ctx, 408, "request body too slow", &view);
    case AppendOutcome::kMalformed:
      return error(ctx, 400, "malformed request body", &view);
    case AppendOutcome::kFinalUpload:
      return error(ctx, 403, "a final upload cannot be appended to: its bytes are its parts'");
    case AppendOutcome::kReferenced:
      return error(ctx, 409, "the upload is a part of a final upload: delete the final first");
    case AppendOutcome::kOk:
    case AppendOutcome::kCutOff:
    case AppendOutcome::kPeerGone:
    case AppendOutcome::kStorageError:
    case AppendOutcome::kChecksumMismatch:
    case AppendOutcome::kChecksumInvalid:
      break;
  }
  error(ctx, 500, "storage error");
}

}  // namespace ringest::ietf
