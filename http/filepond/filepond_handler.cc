#include "http/filepond/filepond_handler.h"

#include <llhttp.h>

#include <string>
#include <vector>

#include "engine/storage/upload_id.h"
#include "engine/storage/upload_record.h"
#include "http/filepond/filepond_request.h"
#include "http/download/file_download.h"
#include "http/tus/tus_headers.h"

namespace ringest::filepond {

using http::RequestHead;
namespace {

constexpr std::string_view kAllow = "OPTIONS, POST, HEAD, GET, PATCH, DELETE";

void error(RequestContext& ctx, int status, std::string_view message,
           const UploadView* view = nullptr) {
  ResponseBuilder rb = ctx.begin_response(status);
  if (status == 405) rb.header("Allow", kAllow);
  if (view != nullptr) rb.header("Upload-Offset", view->offset);  // where the next chunk starts
  http::send_text(ctx, rb, message);
}

// Upload-Length / Upload-Offset: a non-negative decimal (tus's rule, shared).
std::optional<uint64_t> number(const RequestHead& head, std::string_view name) {
  if (!head.has(name)) return std::nullopt;
  return tus::parse_offset(head.get(name));
}

// No such upload (404), or it expired and the node remembers it (410).
void missing(RequestContext& ctx, std::string_view id) {
  int status = ctx.missing_upload_status(id);
  error(ctx, status, status == 410 ? "the upload expired" : "no such upload");
}

// The id a query or a revert body names, found; answers (and returns null) otherwise.
Upload* found_upload(RequestContext& ctx, std::string_view id) {
  if (id.empty()) {
    error(ctx, 400, "an upload id is required");
    return nullptr;
  }
  if (!is_valid_upload_id(id)) {
    error(ctx, 400, "not an upload id");
    return nullptr;
  }
  Upload* upload = ctx.find_upload(id);
  if (upload == nullptr) {
    missing(ctx, id);
    return nullptr;
  }
  ctx.set_upload(upload);
  if (upload->view().deleted) {
    missing(ctx, id);  // deleted since it was found
    return nullptr;
  }
  return upload;
}

// restore / load: FilePond shows the file (inline), named from the metadata, else by its id.
http::DownloadStyle inline_style(RequestContext& ctx) {
  http::DownloadStyle style;
  style.disposition = "inline";
  style.fallback_name = ctx.upload()->id();
  return style;
}

}  // namespace

RouteFacts FilepondHandler::facts(std::string_view /*rest*/, uint8_t /*method*/) const {
  RouteFacts facts;
  facts.allow = kAllow;  // ids travel in the query or the body: no signed upload URLs here
  return facts;
}

void FilepondHandler::on_request(RequestContext& ctx) {
  if (!ctx.route_rest().empty()) return error(ctx, 404, "not found");
  Query query = parse_query(ctx.head().target);
  if (query.kind == QueryKind::kFetch) {
    return error(ctx, 403, "?fetch= is not served: ringestd never fetches a URL for a client");
  }
  if (query.kind == QueryKind::kInvalid) {
    return error(ctx, 400, "unknown, repeated or malformed query parameter "
                           "(one of ?patch=, ?restore=, ?load= is expected)");
  }
  uint8_t method = ctx.method();
  bool patch_query = query.kind == QueryKind::kPatch;
  bool read_query = query.kind == QueryKind::kRestore || query.kind == QueryKind::kLoad;
  switch (method) {
    case HTTP_OPTIONS: {
      ResponseBuilder rb = ctx.begin_response(204);
      rb.header("Allow", kAllow);
      rb.finish_no_content();
      return ctx.send(rb);
    }
    case HTTP_POST:
      if (query.kind != QueryKind::kNone) return error(ctx, 400, "POST takes no query");
      return create(ctx);
    case HTTP_DELETE:
      if (query.kind != QueryKind::kNone) {
        return error(ctx, 400, "DELETE takes the id as its body, not in the query");
      }
      return ctx.read_small_body(kMaxRevertBodyBytes);  // on_small_body() reverts
    case HTTP_PATCH:
      if (!patch_query) return error(ctx, 400, "PATCH needs ?patch=<id>");
      return patch(ctx, query.value);
    case HTTP_HEAD:
      if (patch_query) return offset(ctx, query.value);
      if (read_query) return download(ctx, query.value);
      return error(ctx, 400, "HEAD needs ?patch=<id>, ?restore=<id> or ?load=<id>");
    case HTTP_GET:
      if (read_query) return download(ctx, query.value);
      return error(ctx, 400, "GET needs ?restore=<id> or ?load=<id>");
    default:
      return error(ctx, 405, "method not allowed");
  }
}

// POST: every check that can fail on the head is done before the form is read.
void FilepondHandler::create(RequestContext& ctx) const {
  const RequestHead& head = ctx.head();
  if (!head.has("Upload-Length")) return error(ctx, 400, "Upload-Length required");
  std::optional<uint64_t> length = number(head, "Upload-Length");
  if (!length) return error(ctx, 400, "Upload-Length must be a non-negative integer");
  if (*length > ctx.config().max_upload_bytes) {
    return error(ctx, 413, "Upload-Length exceeds the largest upload allowed");
  }
  if (!head.has_body()) return create_with_form(ctx, {});  // no form: no metadata
  std::string_view ignored;
  FormError form = parse_metadata_form(head.get("Content-Type"), {}, &ignored);
  if (form == FormError::kNotMultipart || form == FormError::kBoundary) {
    return error(ctx, form == FormError::kNotMultipart ? 415 : 400, form_error_message(form));
  }
  if (!head.chunked && head.content_length > kMaxFormBytes) {
    return error(ctx, 413, "the form is larger than 64 KiB: only metadata belongs there");
  }
  ctx.read_small_body(kMaxFormBytes);  // on_small_body() creates
}

void FilepondHandler::on_small_body(RequestContext& ctx, std::string_view body) {
  if (ctx.method() == HTTP_DELETE) return revert(ctx, body);
  create_with_form(ctx, body);
}

void FilepondHandler::create_with_form(RequestContext& ctx, std::string_view body) const {
  std::string_view json;
  if (!body.empty()) {
    FormError form = parse_metadata_form(ctx.head().get("Content-Type"), body, &json);
    if (form != FormError::kOk) return error(ctx, 400, form_error_message(form));
  }
  std::vector<MetadataPair> pairs;
  MetadataError metadata = metadata_pairs(json, &pairs);
  if (metadata == MetadataError::kNotJsonObject) {
    return error(ctx, 400, "the form's field must hold a JSON object (FilePond's metadata)");
  }
  if (metadata == MetadataError::kTooLarge) {
    return error(ctx, 413, "the metadata's string values exceed 4 KiB");
  }
  storage::MetadataBlockWriter writer;
  for (const MetadataPair& pair : pairs) writer.add(pair.key, pair.value);
  CreateSpec spec;
  spec.protocol = static_cast<uint8_t>(storage::Protocol::kFilepond);
  spec.length = *number(ctx.head(), "Upload-Length");  // (checked in create())
  spec.metadata_block = writer.block();
  ctx.create_upload(spec);  // (the record is encoded before this returns)
}

void FilepondHandler::on_created(RequestContext& ctx, Status status) {
  if (!status.ok()) {
    http::CreationError e = http::creation_error(ctx, status);
    return error(ctx, e.status, e.message);
  }
  // FilePond's default onload takes the whole response text as the transfer id.
  ResponseBuilder rb = ctx.begin_response(200);
  rb.header("Content-Type", "text/plain; charset=utf-8");
  rb.header("Cache-Control", "no-store");
  rb.finish(ctx.upload()->id());
  ctx.send(rb);
}

void FilepondHandler::revert(RequestContext& ctx, std::string_view body) const {
  // FilePond sends the id exactly; a trailing newline (curl, a text editor) is forgiven.
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.remove_suffix(1);
  Upload* upload = found_upload(ctx, body);
  if (upload == nullptr) return;
  AppendRequest request;
  request.upload = upload;
  request.intent = AppendIntent::kRemove;
  ctx.begin_append(request);  // a chunk in flight for it is cut off first
}

void FilepondHandler::offset(RequestContext& ctx, std::string_view id) const {
  Upload* upload = found_upload(ctx, id);
  if (upload == nullptr) return;
  UploadView view = upload->view();
  ResponseBuilder rb = ctx.begin_response(200);
  rb.header("Upload-Offset", view.offset);  // a chunk boundary: chunks commit whole
  if (view.length_known()) rb.header("Upload-Length", view.length);
  rb.header("Cache-Control", "no-store");
  rb.finish_no_content();
  ctx.send(rb);
}

void FilepondHandler::patch(RequestContext& ctx, std::string_view id) const {
  const RequestHead& head = ctx.head();
  if (!tus::is_offset_content_type(head.get("Content-Type"))) {
    return error(ctx, 415, "Content-Type must be application/offset+octet-stream");
  }
  std::optional<uint64_t> offset = number(head, "Upload-Offset");
  if (!offset) return error(ctx, 400, "Upload-Offset must be a non-negative integer");
  std::optional<uint64_t> length = number(head, "Upload-Length");
  if (!length) return error(ctx, 400, "Upload-Length must be a non-negative integer");
  if (!valid_upload_name(head.get("Upload-Name"))) {
    return error(ctx, 400, "Upload-Name required: the file's name, 1 to 1024 bytes");
  }
  Upload* upload = found_upload(ctx, id);
  if (upload == nullptr) return;
  UploadView view = upload->view();
  if (view.kind == UploadKind::kFinal) return error(ctx, 403, "a final upload takes no chunks");
  if (!view.length_known() || *length != view.length) {
    return error(ctx, 400, "Upload-Length differs from the upload's length", &view);
  }
  // A retried chunk whose answer was lost: exactly the chunk that ends at the committed offset
  // (committed offsets only grow, and only whole chunks commit). It is acknowledged without
  // reading it; the unread body makes the connection close after the answer (a lingering
  // close: the client reads the 204, not a reset).
  if (*offset < view.offset && !head.chunked && head.content_length > 0 &&
      head.content_length == view.offset - *offset) {
    ResponseBuilder rb = ctx.begin_response(204);
    rb.header("Upload-Offset", view.offset);
    rb.finish_no_content();
    return ctx.send(rb);
  }
  AppendRequest request;
  request.upload = upload;
  request.offset = *offset;
  request.body_bytes = http::declared_body_bytes(head);
  request.max_length = ctx.config().max_upload_bytes;
  request.all_or_nothing = true;  // FilePond resumes at chunk starts: only whole chunks count
  ctx.begin_append(request);
}

void FilepondHandler::download(RequestContext& ctx, std::string_view id) const {
  Upload* upload = found_upload(ctx, id);
  if (upload == nullptr) return;
  UploadView view = upload->view();
  // 409 (as tus downloads): the upload exists, its state does not allow this yet.
  if (!view.complete()) return error(ctx, 409, "upload is not complete");
  if (view.metadata_bytes > 0) return ctx.load_header();  // on_header_loaded() answers
  http::answer_download(ctx, view, {}, inline_style(ctx));
}

void FilepondHandler::on_header_loaded(RequestContext& ctx, Status status,
                                       std::span<const uint8_t> header) {
  if (status.code == Code::kNotFound) return missing(ctx, ctx.upload()->id());  // just deleted
  if (!status.ok()) return error(ctx, 500, "cannot read the upload's record");
  http::answer_download(ctx, ctx.upload()->view(), header, inline_style(ctx));
}

void FilepondHandler::on_append_ready(RequestContext& ctx, AppendOutcome outcome,
                                      const UploadView& view) {
  if (outcome != AppendOutcome::kOk) return outcome_error(ctx, outcome, view);
  if (ctx.method() == HTTP_DELETE) return ctx.remove_upload();
  ctx.receive_body();
}

void FilepondHandler::on_append_done(RequestContext& ctx, AppendOutcome outcome,
                                     const UploadView& view) {
  if (ctx.method() == HTTP_DELETE && outcome == AppendOutcome::kOk) {
    ResponseBuilder rb = ctx.begin_response(204);
    rb.finish_no_content();
    return ctx.send(rb);
  }
  if (outcome != AppendOutcome::kOk) return outcome_error(ctx, outcome, view);
  ResponseBuilder rb = ctx.begin_response(204);
  rb.header("Upload-Offset", view.offset);
  rb.finish_no_content();
  ctx.send(rb);
}

void FilepondHandler::outcome_error(RequestContext& ctx, AppendOutcome outcome,
                                    const UploadView& view) const {
  switch (outcome) {
    case AppendOutcome::kGone:
      return missing(ctx, ctx.upload()->id());
    case AppendOutcome::kSuperseded:
      return error(ctx, 409, "a newer request for this upload replaced this one", &view);
    case AppendOutcome::kOffsetMismatch:
      return error(ctx, 409, "Upload-Offset is not where the upload stands", &view);
    case AppendOutcome::kExceedsLength:
    case AppendOutcome::kOverrun:
      return error(ctx, 413, "the chunk would pass Upload-Length", &view);
    case AppendOutcome::kLengthConflict:
    case AppendOutcome::kLengthBelowOffset:
      return error(ctx, 400, "Upload-Length differs from the upload's length", &view);
    case AppendOutcome::kLengthTooLarge:
      return error(ctx, 413, "Upload-Length exceeds the largest upload allowed");
    case AppendOutcome::kNoSpace:
      return error(ctx, 507, "insufficient storage: nothing of this chunk was kept", &view);
    case AppendOutcome::kBusy:
      return error(ctx, 503, "server busy, try again");
    case AppendOutcome::kTimedOut:
      return error(ctx, 408, "chunk too slow: nothing of it was kept", &view);
    case AppendOutcome::kMalformed:
      return error(ctx, 400, "malformed request body: nothing of this chunk was kept", &view);
    case AppendOutcome::kFinalUpload:
      return error(ctx, 403, "a final upload takes no chunks");
    case AppendOutcome::kReferenced:
      return error(ctx, 409, "the upload is a part of a final upload: delete the final first");
    default:
      break;
  }
  error(ctx, 500, ctx.method() == HTTP_DELETE ? "cannot delete the upload" : "storage error");
}

}  // namespace ringest::filepond
