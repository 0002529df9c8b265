// The seam between the HTTP connection and the protocols. A Handler (one per protocol, shared by
// all connections, stateless per request) sees a RequestContext: the parsed request, ways to
// answer (final and interim responses), and the upload core (create, append, remove, read the
// record's header, stream an upload's bytes). It never sees a socket or a file.
//
// Asynchronous steps call the handler back on the same connection and reactor:
//   ctx.create_upload(spec)    -> on_created(ctx, status)          (ctx.upload() is the new one)
//   ctx.begin_append(request)  -> on_append_ready(ctx, outcome, view)
//     then ctx.receive_body()  -> on_append_done(ctx, outcome, view) (not called when the client
//                                 went away or a newer request cut the body off: nobody to answer)
//     or ctx.remove_upload()   -> on_append_done(ctx, outcome, view)  (after a kRemove append)
//   ctx.load_header()          -> on_header_loaded(ctx, status, header bytes)
//   ctx.capture_trailer(name)  -> on_trailer(ctx, value, valid) once a chunked body ended whole
//   ctx.read_small_body(max)   -> on_small_body(ctx, bytes)  (a short body held in memory: the
//                                 connection itself answers 413 past `max`, 400 for broken
//                                 framing, 408 when it is too slow, and closes when the client
//                                 goes away)
// Every request ends with exactly one final response (send()), or the connection closes.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "engine/base/config.h"
#include "engine/upload/append_session.h"
#include "engine/upload/upload.h"
#include "engine/upload/upload_store.h"
#include "http/http_parser.h"
#include "http/response.h"

namespace ringest::http {

// What the router and access control need to know about a route before the handler runs.
struct RouteFacts {
  bool upload_url = false;    // the path names one upload: a signature for "*" applies to it
  bool public_route = false;  // no credentials needed (a load balancer's health probe)
  std::string_view allow;     // the methods the path supports (for 405's Allow)
};

// The largest body read_small_body() takes: per-connection memory (resident only once used).
inline constexpr size_t kSmallBodyBytes = 64 * 1024;

// Room for an upload's Location (a signed one is the longest).
inline constexpr size_t kLocationBytes = 512;

// The method after X-HTTP-Method-Override: this value when the override names a method nobody
// here supports.
inline constexpr uint8_t kUnsupportedOverride = 0xFF;

class RequestContext {
 public:
  // The request. The head, method(), path() and route_rest() are valid until the response has
  // been sent (the connection keeps a copy of the head: the parser forgets it when a message
  // ends).
  virtual const RequestHead& head() const = 0;
  virtual uint8_t method() const = 0;  // effective (X-HTTP-Method-Override honoured on POST)
  virtual bool head_request() const = 0;  // answers carry no content
  virtual std::string_view path() const = 0;
  virtual std::string_view route_rest() const = 0;  // the path after the route's prefix
  virtual const Config& config() const = 0;
  // The upload with this id (a reference the caller owns), or null (also when it expired).
  virtual Upload* find_upload(std::string_view id) = 0;
  // The status for a request whose upload was not found, or found deleted: 410 when it expired
  // and the node still remembers it, else 404.
  virtual int missing_upload_status(std::string_view id) = 0;

  // Responses. begin_response() starts one in the connection's buffer with the fields every
  // response carries (Connection, CORS); the handler adds its own and finishes it, then send().
  virtual ResponseBuilder begin_response(int status) = 0;
  virtual void send(ResponseBuilder& response) = 0;
  // After a finished head: the upload's bytes [from, to) follow as the response body.
  virtual void send_with_upload_bytes(ResponseBuilder& response, uint64_t from, uint64_t to) = 0;
  // After a finished head (finish_head(body.size())): `body` follows as the response body, sent
  // straight from where it lies (no copy). The bytes must outlive the server's reactors (the
  // upload page's preloaded files); nothing is sent after a HEAD's head.
  virtual void send_with_static_bytes(ResponseBuilder& response, std::span<const char> body) = 0;
  // A 1xx response before the final one (a finished head with no body).
  virtual void send_interim(ResponseBuilder& response) = 0;

  // The upload this request works on: a reference held until the request ends.
  virtual Upload* upload() const = 0;
  virtual void set_upload(Upload* adopted_reference) = 0;
  // Creation first asks the disk budget (free-space reserve, the anonymous client's bounds); a
  // refusal comes back as on_created() with Code::kNoSpace and creation_refusal() says why.
  virtual void create_upload(const CreateSpec& spec) = 0;
  virtual Admission creation_refusal() const = 0;  // kOk: the budget did not refuse
  virtual void begin_append(const AppendRequest& request) = 0;
  virtual void receive_body() = 0;
  virtual void remove_upload() = 0;
  virtual void load_header() = 0;
  // A chunked body's trailer field `name` is kept and given to Handler::on_trailer() when the
  // body has ended whole (call before receive_body()).
  virtual void capture_trailer(std::string_view name) = 0;
  // From on_trailer(): the checksum the trailer named, or that it cannot be used.
  virtual void set_trailer_checksum(DigestAlgorithm algorithm, const DigestValue& expected) = 0;
  virtual void reject_trailer_checksum() = 0;

  // The request's whole body (Content-Length or chunked), up to `max_bytes` (at most
  // kSmallBodyBytes), into the connection's own small-body area; then Handler::on_small_body().
  // For short control bodies (a form, an id), never for upload bytes. Bounded in time like a
  // head (--head-timeout); no pool buffer is held while the client is slow.
  virtual void read_small_body(size_t max_bytes) = 0;

  // True while the server drains (SIGTERM): finish quickly, take no new body.
  virtual bool draining() const = 0;
  // Scratch memory for the handler's own formatting (also where load_header() puts the header:
  // its first bytes), valid until the response is sent.
  virtual std::span<uint8_t> scratch() = 0;

  // A byte the route's handler keeps for the request's life, 0 when a request starts: e.g.
  // which protocol a shared route chose, so later callbacks need not decide from the head again.
  virtual uint8_t route_choice() const = 0;
  virtual void set_route_choice(uint8_t choice) = 0;

  // The URL of an upload for a Location field (signed when a signature created it).
  virtual std::string_view upload_location(std::string_view prefix, std::string_view id,
                                           char* out, size_t capacity) = 0;

 protected:
  ~RequestContext() = default;
};

class Handler {
 public:
  virtual ~Handler() = default;
  virtual RouteFacts facts(std::string_view rest, uint8_t method) const = 0;
  virtual void on_request(RequestContext& ctx) = 0;
  virtual void on_created(RequestContext& /*ctx*/, Status /*status*/) {}
  // The pre-create hook refused the upload (or failed, and the policy refuses): answer `status`
  // with the hook's `message`. Nothing was created.
  virtual void on_create_refused(RequestContext& ctx, int status, std::string_view message);
  virtual void on_append_ready(RequestContext& /*ctx*/, AppendOutcome /*outcome*/,
                               const UploadView& /*view*/) {}
  virtual void on_append_done(RequestContext& /*ctx*/, AppendOutcome /*outcome*/,
                              const UploadView& /*view*/) {}
  virtual void on_header_loaded(RequestContext& /*ctx*/, Status /*status*/,
                                std::span<const uint8_t> /*header*/) {}
  // The trailer field asked for with capture_trailer() came (`valid` false: too long or twice);
  // the body is complete and not yet committed.
  virtual void on_trailer(RequestContext& /*ctx*/, std::string_view /*value*/, bool /*valid*/) {}
  // The body asked for with read_small_body(), whole; `body` stays valid until the response has
  // been sent.
  virtual void on_small_body(RequestContext& /*ctx*/, std::string_view /*body*/) {}
  // Fields every final response on this handler's routes carries, also the ones the connection
  // gives itself once the request is routed (401, 403, a CORS refusal).
  virtual void add_common_fields(ResponseBuilder& /*response*/) const {}
  // The same, for handlers whose fields depend on the request (a route shared by protocols that
  // are told apart by their headers): what the connection calls. ctx.head() may be incomplete
  // when the request was refused before routing finished.
  virtual void add_request_fields(const RequestContext& /*ctx*/, ResponseBuilder& response) const {
    add_common_fields(response);
  }
};

// The body size an append request declares: -1 when unknown until it ends (chunked); a
// Content-Length past INT64_MAX stays too large rather than wrapping.
inline int64_t declared_body_bytes(const RequestHead& head) {
  if (head.chunked) return -1;
  return head.content_length > static_cast<uint64_t>(INT64_MAX)
             ? INT64_MAX
             : static_cast<int64_t>(head.content_length);
}

// The answer to a creation that failed with `status` (Handler::on_created): 507 when there is no
// room (the disk, the free-space reserve, the client's bytes), 429 when the client already holds
// too many unfinished uploads, 503 when out of descriptors or memory (or the client table is
// full), 503 when the hook outbox is full (kBusy), else 500.
struct CreationError {
  int status;
  std::string_view message;
};
CreationError creation_error(const RequestContext& ctx, Status status);

// Ends `response` with a short text body ("message\n"; for HEAD only its length) and sends it.
void send_text(RequestContext& ctx, ResponseBuilder& response, std::string_view message);
// A short text answer with nothing else; `allow` fills a 405's Allow field.
void respond_text(RequestContext& ctx, int status, std::string_view message,
                  std::string_view allow = {});

}  // namespace ringest::http
