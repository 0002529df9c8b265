// Request handling of HttpConnection: routing, tus 1.0.0 (core, creation,
// creation-with-upload, termination), GET of complete uploads, /metrics and /healthz.
// Every check that can fail happens before a body byte is read.
#include <llhttp.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/base/alloc_counter.h"
#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/storage/upload_id.h"
#include "engine/storage/upload_record.h"
#include "engine/upload/offset_rules.h"
#include "http/connection.h"
#include "http/request_checks.h"
#include "http/tus/tus_headers.h"

namespace ringest::http {
namespace {

constexpr std::string_view kFilesPrefix = "/files/";

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && s.substr(0, prefix.size()) == prefix;
}

// The method after X-HTTP-Method-Override (honoured on POST only, as tus specifies).
uint8_t effective_method(const RequestHead& head) {
  if (head.method != HTTP_POST) return head.method;
  std::string_view override_value = head.get("X-HTTP-Method-Override");
  if (override_value.empty()) return head.method;
  // PATCH and DELETE only: a POST answered as a HEAD or GET would confuse the client's framing.
  if (equals_ignore_case(override_value, "PATCH")) return HTTP_PATCH;
  if (equals_ignore_case(override_value, "DELETE")) return HTTP_DELETE;
  return 0xFF;  // any other override: 405
}

}  // namespace

ResponseBuilder HttpConnection::begin_response(int status, bool close_after) {
  ResponseBuilder rb(memory_.response, memory_.response_bytes);
  rb.status(status);
  rb.header("Tus-Resumable", tus::kVersion);
  if (context_->access != nullptr && access_.generation == generation_) {
    context_->access->add_response_headers(rb, access_);  // CORS, on errors too
  }
  if (close_after || !keep_alive_ || shutting_down_) rb.header("Connection", "close");
  return rb;
}

void HttpConnection::finish_and_send(ResponseBuilder& rb, bool close_after) {
  if (!rb.ok()) {
    RINGEST_LOG_ERROR("response did not fit its buffer; answering 500");
    rb.status(500);
    rb.header("Connection", "close");
    rb.finish("response too large\n");
    close_after = true;
  }
  send_len_ = static_cast<uint32_t>(rb.size());
  send_response(close_after);
}

bool HttpConnection::ready_for_early_response() {
  if (parser_.in_head()) return parser_.error() == ParseError::kNone;
  if (parser_.head().has_body()) return false;
  const char* data = read_slot_ >= 0 ? reactor_->pool().data(read_slot_) + parse_pos_ : "";
  HttpParser::Step step = parser_.feed(data, 0, nullptr);
  // Anything but a clean end (e.g. a transfer coding llhttp cannot frame) means the rest of
  // the stream cannot be trusted: answer, then close.
  return step.event == HttpParser::Event::kMessageComplete;
}

void HttpConnection::respond_error(int status, std::string_view message, bool close_after) {
  // The target's methods (RFC 9110 15.5.6: a 405 MUST list them), decided while the parser
  // still holds the request: ready_for_early_response() may move it on to the next one.
  std::string_view path = request_path(parser_.head().target);
  std::string_view allow = "OPTIONS, HEAD, GET, PATCH, DELETE";  // an upload's URL
  if (path == "/healthz" || path == "/metrics") allow = "GET, HEAD";
  if (path == "/files" || path == "/files/") allow = "OPTIONS, POST";
  close_after = close_after || !ready_for_early_response();
  ResponseBuilder rb = begin_response(status, close_after);
  if (status == 405) rb.header("Allow", allow);
  if (status == 412) rb.header("Tus-Version", tus::kVersion);
  if (status == 401 && context_->access != nullptr && !context_->access->challenge().empty()) {
    rb.header("WWW-Authenticate", context_->access->challenge());
  }
  if ((status == 409 || status == 408) && upload_ != nullptr) {
    uint64_t committed;
    {
      std::lock_guard lock(upload_->mu);
      committed = upload_->committed_offset;
    }
    rb.header("Upload-Offset", committed);
  }
  rb.header("Content-Type", "text/plain; charset=utf-8");
  char body[256];
  size_t n = message.size() < sizeof body - 1 ? message.size() : sizeof body - 1;
  std::memcpy(body, message.data(), n);
  body[n++] = '\n';
  // A head that failed to parse never reached handle_request(): head_request_ would still
  // describe the connection's previous request.
  bool head_parsed = !(parser_.in_head() && parser_.error() != ParseError::kNone);
  if (head_request_ && head_parsed) {
    rb.finish_head(n);  // no body, but the length a GET would get (RFC 9110 8.6)
  } else {
    rb.finish(std::string_view(body, n));
  }
  finish_and_send(rb, close_after);
}

void HttpConnection::handle_request() {
  const RequestHead& head = parser_.head();
  keep_alive_ = head.keep_alive;
  head_request_ = head.method == HTTP_HEAD;
  RequestVerdict verdict = check_request(head);  // version, target, Host, framing, Expect
  if (!verdict.ok()) {
    respond_error(verdict.status, verdict.reason, verdict.close);
    return;
  }
  std::string_view path = request_path(head.target);
  if (!admit_request(path, effective_method(head))) return;  // 401, 403 or a CORS preflight
  if (path == "*") {  // OPTIONS *, about the server as a whole: its tus capabilities
    handle_options();
    return;
  }
  if (path == "/files" || path == "/files/") {
    handle_files_collection();
  } else if (starts_with(path, kFilesPrefix)) {
    handle_upload(path.substr(kFilesPrefix.size()));
  } else if (path == "/metrics" || path == "/healthz") {
    if (head.method != HTTP_GET && head.method != HTTP_HEAD) {  // HEAD: GET without the body
      respond_error(405, "method not allowed");
    } else if (path == "/healthz") {
      respond_error(200, "ok");
    } else {
      handle_metrics();
    }
  } else {
    respond_error(404, "not found");
  }
}

void HttpConnection::handle_options() {
  bool close_after = !ready_for_early_response();
  ResponseBuilder rb = begin_response(204, close_after);
  rb.header("Tus-Version", tus::kVersion);
  rb.header("Tus-Extension", tus::kExtensions);
  rb.header("Tus-Max-Size", context_->config->max_upload_bytes);
  rb.finish_no_content();
  finish_and_send(rb, close_after);
}

void HttpConnection::handle_files_collection() {
  const RequestHead& head = parser_.head();
  uint8_t method = effective_method(head);
  if (method == HTTP_OPTIONS) {
    handle_options();
  } else if (method == HTTP_POST) {
    handle_create();
  } else {
    respond_error(405, "method not allowed");
  }
}

// Tus-Resumable must be 1.0.0 when present, and present when `required`. 412 otherwise.
static bool tus_version_ok(const RequestHead& head, bool required) {
  std::string_view v = head.get("Tus-Resumable");
  if (v.empty()) return !required && !head.has("Tus-Resumable");
  return v == tus::kVersion;
}

// Headers of extensions ringestd does not offer (checksum, concatenation): a malformed value
// is still a bad request; a well-formed one is ignored (RFC 9110 section 5.1), except where
// ignoring it would change what the client gets (Upload-Concat on creation). Returns the
// 400 message, or nullptr.
static const char* unsupported_extension_error(const RequestHead& head, bool creation) {
  if (head.has("Upload-Checksum") && !tus::parse_checksum(head.get("Upload-Checksum"))) {
    return "invalid Upload-Checksum";
  }
  if (head.has("Upload-Concat")) {
    if (!tus::parse_concat(head.get("Upload-Concat"))) return "invalid Upload-Concat";
    if (creation) return "concatenation is not supported";
  }
  return nullptr;
}

void HttpConnection::handle_create() {
  const RequestHead& head = parser_.head();
  const Config& config = *context_->config;
  if (!tus_version_ok(head, true)) {
    respond_error(412, "Tus-Resumable 1.0.0 required");
    return;
  }
  if (head.has("Upload-Defer-Length")) {
    respond_error(400, "creation-defer-length is not supported: send Upload-Length");
    return;
  }
  if (const char* error = unsupported_extension_error(head, true)) {
    respond_error(400, error);
    return;
  }
  std::string_view length_text = head.get("Upload-Length");
  if (length_text.empty()) {
    respond_error(400, "Upload-Length required");
    return;
  }
  std::optional<uint64_t> length = tus::parse_offset(length_text);
  if (!length) {
    respond_error(400, "Upload-Length must be a non-negative integer");
    return;
  }
  if (*length > config.max_upload_bytes) {
    respond_error(413, "Upload-Length exceeds Tus-Max-Size");
    return;
  }
  std::string_view metadata = head.get("Upload-Metadata");
  if (!tus::valid_metadata(metadata)) {
    respond_error(400, "invalid Upload-Metadata");
    return;
  }
  // The record keeps the decoded pairs (format v2), not the header text.
  storage::MetadataBlockWriter metadata_block;
  {
    std::vector<char> value(metadata.size());  // a value decodes to fewer bytes than its text
    tus::MetadataDecoder decoder(metadata);
    tus::MetadataPair pair;
    while (decoder.next(value.data(), value.size(), &pair) == tus::MetadataDecoder::Result::kPair) {
      if (!metadata_block.add(pair.key, pair.value)) {  // keys are unique: valid_metadata()
        respond_error(400, "Upload-Metadata cannot be recorded (keys are limited to 1024 bytes)");
        return;
      }
    }
  }
  if (head.has_body()) {
    if (!tus::is_offset_content_type(head.get("Content-Type"))) {
      respond_error(415, "Content-Type must be application/offset+octet-stream");
      return;
    }
    if (head.has_content_length && head.content_length > *length) {
      respond_error(413, "body is longer than Upload-Length");
      return;
    }
  }
  std::string id = new_upload_id();
  Result<storage::UploadFiles> files = context_->data_dir->create_upload_files(id, *length);
  if (!files.ok()) {
    bool full = files.status().code == Code::kNoSpace;
    RINGEST_LOG_ERROR("create %s: %s", id.c_str(), std::strerror(files.status().err));
    respond_error(full ? 507 : 500, full ? "no space for the upload" : "cannot create upload");
    return;
  }
  auto* upload = new Upload();
  upload->id = std::move(id);
  upload->length = *length;
  upload->metadata = std::string(metadata);
  upload->created_unix_ms = unix_ms_now();
  upload->updated_unix_ms = upload->created_unix_ms;
  upload->data_fd = files.value().data_fd;
  upload->direct_fd = files.value().direct_fd;
  upload->record_fd = files.value().record_fd;
  storage::NewRecord record{upload->id, upload->created_unix_ms, upload->length,
                            storage::Protocol::kTus, metadata_block.block()};
  storage::CommitSlot first;
  first.sequence = 1;
  first.committed_offset = 0;
  first.upload_length = upload->length;
  first.flags = upload->length == 0 ? storage::kFlagComplete : 0;
  first.updated_unix_ms = upload->created_unix_ms;
  upload->initial_record = storage::encode_new_record(record, first);
  upload_ = upload;  // our reference
  op_ = Op::kCreate;
  state_ = State::kCreating;
  writer_.create_record(upload, context_->data_dir->uploads_dir_fd());
}

void HttpConnection::on_record_created(Status status) {
  if (!status.ok()) {
    RINGEST_LOG_ERROR("create %s: record not durable: %s", upload_->id.c_str(),
                      std::strerror(status.err));
    context_->data_dir->remove_upload_files(upload_->id);
    state_ = State::kSending;
    bool full = status.code == Code::kNoSpace;
    respond_error(full ? 507 : 500, full ? "no space for the upload" : "cannot create upload",
                  true);
    return;
  }
  {
    std::lock_guard lock(upload_->mu);
    upload_->sequence = 1;
    upload_->committed_offset = 0;
  }
  context_->registry->insert(upload_);
  reactor_->stats().uploads_created.fetch_add(1, std::memory_order_relaxed);
  if (upload_->length == 0) {
    reactor_->stats().uploads_completed.fetch_add(1, std::memory_order_relaxed);
  }
  if (parser_.head().has_body() && !shutting_down_) {
    AcquireOutcome out = acquire_upload(*upload_, self_owner());
    RINGEST_CHECK(out.result == AcquireOutcome::Result::kAcquired);
    owns_upload_ = true;
    request_offset_ = 0;
    start_patch_body();
    return;
  }
  state_ = State::kSending;
  bool close_after = !ready_for_early_response();
  ResponseBuilder rb = begin_response(201, close_after);
  char location[kMaxLocationBytes];  // signed for the upload when a signature created it
  rb.header("Location", format_upload_location(context_->access, upload_->id, &access_, location));
  rb.header("Upload-Offset", uint64_t{0});
  rb.finish("");
  finish_and_send(rb, close_after);
}

void HttpConnection::handle_upload(std::string_view id) {
  const RequestHead& head = parser_.head();
  uint8_t method = effective_method(head);
  if (!is_valid_upload_id(id)) {
    respond_error(404, "no such upload");
    return;
  }
  if (method == HTTP_OPTIONS) {
    handle_options();
    return;
  }
  if (method != HTTP_HEAD && method != HTTP_GET && method != HTTP_PATCH && method != HTTP_DELETE) {
    upload_ = context_->registry->find(id);  // for the Allow header's wording
    respond_error(405, "method not allowed");
    return;
  }
  bool modifies = method == HTTP_PATCH || method == HTTP_DELETE;
  if (!tus_version_ok(head, modifies)) {
    respond_error(412, "Tus-Resumable 1.0.0 required");
    return;
  }
  if (method == HTTP_PATCH) {
    if (!tus::is_offset_content_type(head.get("Content-Type"))) {
      respond_error(415, "Content-Type must be application/offset+octet-stream");
      return;
    }
    std::optional<uint64_t> offset = tus::parse_offset(head.get("Upload-Offset"));
    if (!offset) {
      respond_error(400, "Upload-Offset must be a non-negative integer");
      return;
    }
    if (const char* error = unsupported_extension_error(head, false)) {
      respond_error(400, error);
      return;
    }
    request_offset_ = *offset;
  }
  upload_ = context_->registry->find(id);
  if (upload_ == nullptr) {
    respond_error(404, "no such upload");
    return;
  }
  switch (method) {
    case HTTP_HEAD: handle_head(upload_); return;
    case HTTP_GET: handle_get(upload_); return;
    case HTTP_PATCH: handle_patch_or_delete(upload_, Op::kPatch); return;
    default: handle_patch_or_delete(upload_, Op::kDelete); return;
  }
}

void HttpConnection::handle_head(Upload* upload) {
  uint64_t committed;
  {
    std::lock_guard lock(upload->mu);
    committed = upload->committed_offset;
  }
  bool close_after = !ready_for_early_response();
  ResponseBuilder rb = begin_response(200, close_after);
  rb.header("Upload-Offset", committed);
  rb.header("Upload-Length", upload->length);
  if (!upload->metadata.empty()) rb.header("Upload-Metadata", upload->metadata);
  rb.header("Cache-Control", "no-store");
  rb.finish_no_content();
  finish_and_send(rb, close_after);
}

void HttpConnection::handle_get(Upload* upload) {
  uint64_t committed;
  {
    std::lock_guard lock(upload->mu);
    committed = upload->committed_offset;
  }
  if (committed < upload->length) {
    respond_error(409, "upload is not complete");
    return;
  }
  bool close_after = !ready_for_early_response();
  ResponseBuilder rb = begin_response(200, close_after);
  rb.header("Content-Type", "application/octet-stream");
  rb.header("Cache-Control", "no-store");
  rb.finish_head(upload->length);
  file_pos_ = 0;
  file_end_ = upload->length;
  state_ = State::kStreamFile;
  finish_and_send(rb, close_after);
}

void HttpConnection::stream_next_chunk() {
  BufferPool& pool = reactor_->pool();
  if (file_pos_ >= file_end_) {
    if (file_slot_ >= 0) pool.unref(file_slot_);
    file_slot_ = -1;
    state_ = State::kSending;
    after_response();
    return;
  }
  if (file_slot_ < 0) {
    file_slot_ = pool.acquire();
    if (file_slot_ < 0) {
      pool.add_waiter(this);
      return;
    }
  }
  uint64_t remaining = file_end_ - file_pos_;
  size_t n = remaining < pool.slot_bytes() ? static_cast<size_t>(remaining) : pool.slot_bytes();
  reactor_->ring().read_fixed(&file_read_, upload_->data_fd, pool.data(file_slot_), n, file_pos_);
  file_read_pending_ = true;
}

void HttpConnection::handle_patch_or_delete(Upload* upload, Op op) {
  op_ = op;
  UploadOwner me = self_owner();
  AcquireOutcome out = acquire_upload(*upload, me);
  if (out.send_superseded) {
    reactor_->post_message(out.superseded,
                           encode_message(UploadMessage::kSuperseded, out.superseded.generation));
  }
  if (out.send_abort) {
    reactor_->post_message(out.abort_target,
                           encode_message(UploadMessage::kAbort, out.abort_target.generation));
  }
  switch (out.result) {
    case AcquireOutcome::Result::kAcquired:
      owns_upload_ = true;
      on_upload_owned();
      return;
    case AcquireOutcome::Result::kWait:
      state_ = State::kWaitUpload;  // the owner commits and hands over (kHandoff)
      return;
    case AcquireOutcome::Result::kDeleted:
      respond_error(404, "no such upload");
      return;
  }
}

void HttpConnection::on_upload_owned() {
  state_ = State::kSending;  // until a body starts
  bool deleted;
  uint64_t committed;
  {
    std::lock_guard lock(upload_->mu);
    deleted = upload_->deleted;
    committed = upload_->committed_offset;
  }
  if (deleted) {
    release_upload_ownership();
    respond_error(404, "no such upload");
    return;
  }
  if (op_ == Op::kDelete) {
    do_delete();
    return;
  }
  bool newer_waiting;
  {
    std::lock_guard lock(upload_->mu);
    newer_waiting = upload_->has_waiter;
  }
  if (newer_waiting) {
    // A newer request asked for this upload while this one waited: it wins (its abort may
    // have arrived before our handoff).
    release_upload_ownership();
    respond_error(409, "a newer request for this upload replaced this one");
    return;
  }
  const RequestHead& head = parser_.head();
  int64_t body_bytes = head.chunked ? -1
                       : head.content_length > static_cast<uint64_t>(INT64_MAX)
                           ? INT64_MAX
                           : static_cast<int64_t>(head.content_length);
  switch (check_append(committed, upload_->length, request_offset_, body_bytes)) {
    case AppendCheck::kOffsetMismatch:
      release_upload_ownership();
      respond_error(409, "Upload-Offset does not match the upload's offset");
      return;
    case AppendCheck::kExceedsLength:
      release_upload_ownership();
      respond_error(413, "body would pass Upload-Length");
      return;
    case AppendCheck::kOk:
      start_patch_body();
      return;
  }
}

void HttpConnection::start_patch_body() {
  send_continue_if_expected();
  {
    std::lock_guard lock(upload_->mu);
    committed_before_ = upload_->committed_offset;
  }
  acc_slot_ = -1;
  stash_len_ = 0;
  direct_ = upload_->direct_fd >= 0 && direct_begin();
  splice_ = !direct_ && context_->config->io_mode == IoMode::kSplice &&
            parser_.body_remaining() > 0 && ensure_pipe();
  // slow_reader_ carries over from the receive that brought the head: a small one (a head
  // alone, or a head and a few body bytes) means the body is awaited without a slot.
  held_since_ms_ = 0;
  start_body_window();
  writer_.begin(upload_, request_offset_,
                direct_ ? request_offset_ - request_offset_ % kDirectBlock : request_offset_,
                direct_);
  state_ = State::kReadBody;
  process_body();
}

void HttpConnection::do_delete() {
  {
    std::lock_guard lock(upload_->mu);
    upload_->deleted = true;
  }
  context_->registry->remove(upload_);
  context_->data_dir->remove_upload_files(upload_->id);
  release_upload_ownership();
  bool close_after = !ready_for_early_response();
  ResponseBuilder rb = begin_response(204, close_after);
  rb.finish_no_content();
  finish_and_send(rb, close_after);
}

void HttpConnection::finish_request_response(Status status) {
  uint64_t committed;
  {
    std::lock_guard lock(upload_->mu);
    committed = upload_->committed_offset;
  }
  if (committed == upload_->length && committed_before_ < upload_->length) {
    reactor_->stats().uploads_completed.fetch_add(1, std::memory_order_relaxed);
  }
  release_upload_ownership();
  state_ = State::kSending;
  if (body_end_ == BodyEnd::kPeerGone || body_end_ == BodyEnd::kAborted) {
    close();  // nobody to answer, or a newer request took over: bytes are committed
    return;
  }
  if (!status.ok()) {
    bool full = status.code == Code::kNoSpace;
    RINGEST_LOG_ERROR("upload %s: write failed at or after offset %llu: %s", upload_->id.c_str(),
                      static_cast<unsigned long long>(committed), std::strerror(status.err));
    respond_error(full ? 507 : 500, full ? "insufficient storage" : "storage error", true);
    return;
  }
  if (body_end_ == BodyEnd::kOverrun) {
    respond_error(413, "body would pass Upload-Length", true);
    return;
  }
  if (body_end_ == BodyEnd::kMalformed) {
    respond_error(400, parser_.error_reason(), true);
    return;
  }
  if (body_end_ == BodyEnd::kTimedOut) {
    // Slower than --min-body-rate: what arrived is committed; the client may resume.
    keep_alive_ = false;
    respond_error(408, "request body too slow", true);
    return;
  }
  ResponseBuilder rb = begin_response(op_ == Op::kCreate ? 201 : 204, false);
  if (op_ == Op::kCreate) {
    char location[kMaxLocationBytes];
    rb.header("Location",
              format_upload_location(context_->access, upload_->id, &access_, location));
  }
  rb.header("Upload-Offset", committed);
  if (op_ == Op::kCreate) {
    rb.finish("");
  } else {
    rb.finish_no_content();
  }
  finish_and_send(rb, false);
}

void HttpConnection::handle_metrics() {
  ReactorStats sum;
  auto add = [](std::atomic<uint64_t>& to, const std::atomic<uint64_t>& from) {
    to.fetch_add(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
  };
  for (Reactor* r : context_->reactors) {
    ReactorStats& s = r->stats();
    add(sum.connections_accepted, s.connections_accepted);
    add(sum.connections_refused, s.connections_refused);
    add(sum.requests, s.requests);
    add(sum.body_bytes_received, s.body_bytes_received);
    add(sum.body_bytes_written, s.body_bytes_written);
    add(sum.commits, s.commits);
    add(sum.uploads_created, s.uploads_created);
    add(sum.uploads_completed, s.uploads_completed);
    add(sum.heap_allocations, s.heap_allocations);
    add(sum.timeouts, s.timeouts);
    add(sum.body_bytes_spliced, s.body_bytes_spliced);
  }
  char body[2048];
  int n = std::snprintf(
      body, sizeof body,
      "# TYPE ringest_connections_accepted_total counter\n"
      "ringest_connections_accepted_total %llu\n"
      "# TYPE ringest_connections_refused_total counter\n"
      "ringest_connections_refused_total %llu\n"
      "# TYPE ringest_requests_total counter\n"
      "ringest_requests_total %llu\n"
      "# TYPE ringest_body_bytes_received_total counter\n"
      "ringest_body_bytes_received_total %llu\n"
      "# TYPE ringest_body_bytes_written_total counter\n"
      "ringest_body_bytes_written_total %llu\n"
      "# TYPE ringest_commits_total counter\n"
      "ringest_commits_total %llu\n"
      "# TYPE ringest_uploads_created_total counter\n"
      "ringest_uploads_created_total %llu\n"
      "# TYPE ringest_uploads_completed_total counter\n"
      "ringest_uploads_completed_total %llu\n"
      "# TYPE ringest_body_bytes_spliced_total counter\n"
      "ringest_body_bytes_spliced_total %llu\n"
      "# TYPE ringest_timeouts_total counter\n"
      "ringest_timeouts_total %llu\n"
      "# TYPE ringest_uploads gauge\n"
      "ringest_uploads %zu\n"
      "# TYPE ringest_reactor_heap_allocations_total counter\n"
      "ringest_reactor_heap_allocations_total %llu\n"
      "# TYPE ringest_alloc_counting_enabled gauge\n"
      "ringest_alloc_counting_enabled %d\n",
      static_cast<unsigned long long>(sum.connections_accepted.load()),
      static_cast<unsigned long long>(sum.connections_refused.load()),
      static_cast<unsigned long long>(sum.requests.load()),
      static_cast<unsigned long long>(sum.body_bytes_received.load()),
      static_cast<unsigned long long>(sum.body_bytes_written.load()),
      static_cast<unsigned long long>(sum.commits.load()),
      static_cast<unsigned long long>(sum.uploads_created.load()),
      static_cast<unsigned long long>(sum.uploads_completed.load()),
      static_cast<unsigned long long>(sum.body_bytes_spliced.load()),
      static_cast<unsigned long long>(sum.timeouts.load()),
      context_->registry->size(),
      static_cast<unsigned long long>(sum.heap_allocations.load()),
      g_alloc_counting_enabled.load() ? 1 : 0);
  bool close_after = !ready_for_early_response();
  ResponseBuilder rb = begin_response(200, close_after);
  rb.header("Content-Type", "text/plain; version=0.0.4");
  if (head_request_) {
    rb.finish_head(static_cast<uint64_t>(n));
  } else {
    rb.finish(std::string_view(body, static_cast<size_t>(n)));
  }
  finish_and_send(rb, close_after);
}

}  // namespace ringest::http
