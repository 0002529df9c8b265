// HttpConnection: from a parsed head to a handler. Generic request checks, routing, access
// control (bearer tokens, signed URLs, CORS preflights: decided by AccessPolicy with the facts
// the route gives), and the parts of the request context that ask the upload store.
#include <llhttp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "http/connection.h"
#include "http/request_checks.h"

namespace ringest::http {
namespace {

static_assert(kLocationBytes >= kMaxLocationBytes, "a signed Location must fit");

// The method after X-HTTP-Method-Override, honoured on POST only (for clients behind proxies
// that pass nothing but GET and POST).
uint8_t effective_method(const RequestHead& head) {
  if (head.method != HTTP_POST) return head.method;
  std::string_view override_value = head.get("X-HTTP-Method-Override");
  if (override_value.empty()) return head.method;
  // PATCH and DELETE only: a POST answered as a HEAD or GET would confuse the client's framing.
  if (equals_ignore_case(override_value, "PATCH")) return HTTP_PATCH;
  if (equals_ignore_case(override_value, "DELETE")) return HTTP_DELETE;
  return kUnsupportedOverride;
}

}  // namespace

void HttpConnection::handle_request() {
  const RequestHead& head = parser_.head();
  request_head_ = head;
  keep_alive_ = head.keep_alive;
  head_request_ = head.method == HTTP_HEAD;
  state_ = State::kHandling;
  if (!head.has_body()) park_pipelined();  // the slot is not held while this is handled
  RequestVerdict verdict = check_request(head);  // version, target, Host, framing, Expect
  if (!verdict.ok()) {
    respond_error(verdict.status, verdict.reason, verdict.close);
    return;
  }
  path_ = request_path(head.target);
  method_ = effective_method(head);
  Route route = context_->router->route(path_);
  handler_ = route.handler;
  route_rest_ = route.rest;
  route_choice_ = 0;
  RouteFacts facts;
  if (handler_ != nullptr) facts = handler_->facts(route_rest_, method_);
  if (!admit_request(facts)) return;  // 401, 403 or a CORS preflight
  if (handler_ == nullptr) {
    respond_error(404, "not found");
    return;
  }
  handler_->on_request(*this);
}

bool HttpConnection::admit_request(const RouteFacts& route) {
  const AccessPolicy* policy = context_->access;
  if (policy == nullptr) return true;
  const RequestHead& head = parser_.head();
  RequestFacts facts;
  // An X-HTTP-Method-Override nobody supports signs nothing (the handler answers 405).
  facts.method = method_ == kUnsupportedOverride
                     ? std::string_view()
                     : llhttp_method_name(static_cast<llhttp_method_t>(method_));
  facts.options = head.method == HTTP_OPTIONS;
  facts.path = path_;
  size_t question = head.target.find('?');
  if (question != std::string_view::npos) facts.query = head.target.substr(question + 1);
  facts.authorization = head.get("Authorization");
  facts.origin = head.get("Origin");
  facts.has_preflight_method = head.has("Access-Control-Request-Method");
  facts.upload_url = route.upload_url;
  facts.exempt = route.public_route;

  access_.generation = generation_;
  switch (policy->check(facts, unix_ms_now() / 1000, &access_)) {
    case Verdict::kAllow:
      return true;
    case Verdict::kPreflight: {
      ResponseBuilder rb = begin_response(204);  // adds the preflight headers
      rb.finish_no_content();
      send(rb);
      return false;
    }
    case Verdict::kOriginRefused:
      respond_error(403, "origin not allowed");
      return false;
    case Verdict::kNoCredentials:
      respond_error(401, "credentials required (Authorization: Bearer, or a signed URL)");
      return false;
    case Verdict::kTokenRefused:
      respond_error(403, "bearer token not accepted");
      return false;
    case Verdict::kSignatureWrong:
      respond_error(403, "invalid URL signature");
      return false;
    case Verdict::kSignatureExpired:
      respond_error(403, "signed URL expired");
      return false;
    case Verdict::kSignatureTooLong:
      respond_error(403, "signed URL expires too far ahead (--signed-url-max-lifetime)");
      return false;
  }
  return false;
}

void HttpConnection::respond_error(int status, std::string_view message, bool close_after) {
  // Answers the connection gives itself (malformed or refused requests, no route): no protocol's
  // fields. A head that failed to parse never reached handle_request(), so whether it was a HEAD
  // comes from the parser (a response to HEAD never carries content, even an error).
  if (state_ == State::kReadHead) head_request_ = parser_.method_seen() == HTTP_HEAD;
  close_after_response_ = close_after_response_ || close_after;
  ResponseBuilder rb = begin_response(status);
  if (status == 401 && context_->access != nullptr && !context_->access->challenge().empty()) {
    rb.header("WWW-Authenticate", context_->access->challenge());
  }
  send_text(*this, rb, message);
}

void HttpConnection::create_upload(const CreateSpec& spec) {
  RINGEST_CHECK(state_ == State::kHandling && !store_op_.busy());
  UploadEvents* events = context_->store->events();
  if (events != nullptr && !events->accepting_uploads()) {
    // The hook outbox is at its bound (receivers down): no new upload until it drains.
    close_after_response_ = true;  // a body that may follow is not read
    handler_->on_created(*this, Status{Code::kBusy, EAGAIN});
    return;
  }
  if (context_->pre_create != nullptr) {
    ask_pre_create(spec);  // http/connection_pre_create.cc; then admit_and_create()
    return;
  }
  admit_and_create(spec);
}

void HttpConnection::admit_and_create(const CreateSpec& spec) {
  refusal_ = Admission::kOk;
  DiskBudget* budget = context_->store->budget();
  if (budget == nullptr || spec.parts != nullptr) {  // a final takes no new space
    context_->store->create(store_op_, reactor_->ring(), spec, this);
    return;
  }
  ClientKey client;
  bool anonymous = anonymous_client(&client);
  DiskBudget::Charge charge;
  refusal_ = budget->admit(spec.length, anonymous ? &client : nullptr, &charge);
  if (refusal_ != Admission::kOk) {
    close_after_response_ = true;  // a body that may follow is not read
    handler_->on_created(*this, Status{Code::kNoSpace, 0});
    return;
  }
  CreateSpec charged = spec;
  charged.charge = &charge;  // (copied into the store's op before create() returns)
  context_->store->create(store_op_, reactor_->ring(), charged, this);
}

bool HttpConnection::anonymous_client(ClientKey* key) const {
  // Bearer tokens or signed URLs: every creation carried credentials, no per-client bound.
  const AccessPolicy* policy = context_->access;
  if (policy != nullptr && (policy->tokens_enabled() || policy->signing_enabled())) return false;
  // The peer's address: getpeername() reads the socket's state and never blocks; once per
  // creation, not per request.
  sockaddr_storage peer{};
  socklen_t len = sizeof peer;
  if (getpeername(fd_, reinterpret_cast<sockaddr*>(&peer), &len) != 0) return false;
  if (peer.ss_family == AF_INET) {
    *key = ClientKey::ipv4(reinterpret_cast<const sockaddr_in*>(&peer)->sin_addr.s_addr);
    return true;
  }
  if (peer.ss_family == AF_INET6) {
    *key = ClientKey::ipv6(reinterpret_cast<const sockaddr_in6*>(&peer)->sin6_addr.s6_addr);
    return true;
  }
  return false;
}

void HttpConnection::load_header() {
  RINGEST_CHECK(state_ == State::kHandling && upload_ && !store_op_.busy());
  // Into the scratch's first third (see TusHandler::head_response).
  context_->store->read_header(store_op_, reactor_->ring(), *upload_, memory_.scratch,
                               memory_.scratch_bytes / 3, this);
}

void HttpConnection::on_store_done(StoreOp* op, Status status) {
  if (op->kind() == StoreOp::Kind::kCreate) {
    on_upload_created(op, status);
    return;
  }
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  handler_->on_header_loaded(*this, status,
                             std::span<const uint8_t>(memory_.scratch, op->bytes_read()));
}

void HttpConnection::on_upload_created(StoreOp* op, Status status) {
  UploadRef created = op->take_upload();
  UploadFiles files = op->take_files();
  if (created) {
    // The new upload's descriptors go to the file cache, where the append that may follow
    // (creation with upload) takes them.
    UploadView view = created->view();
    context_->store->release_files(reactor_->ring(), *created, files, !view.complete(),
                                   monotonic_ms_now());
    reactor_->stats().uploads_created.fetch_add(1, std::memory_order_relaxed);
    if (view.complete()) {
      reactor_->stats().uploads_completed.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (state_ == State::kClosing) {
    maybe_free();
    return;
  }
  upload_ = std::move(created);
  if (!status.ok()) close_after_response_ = true;
  handler_->on_created(*this, status);
}

std::string_view HttpConnection::upload_location(std::string_view prefix, std::string_view id,
                                                 char* out, size_t capacity) {
  const RequestAccess* state = access_.generation == generation_ ? &access_ : nullptr;
  return format_upload_location(context_->access, prefix, id, state, out, capacity);
}

}  // namespace ringest::http
