// IetfHandler: IETF Resumable Uploads for HTTP (draft-ietf-httpbis-resumable-upload), interop
// versions 8 (drafts -09..-11) and 6 (-04/-05), as a thin translation onto the upload core:
// creation by a POST carrying Upload-Complete (with or without content, announced by a 104
// Upload Resumption Supported interim response when the request names a version we speak),
// offset retrieval with HEAD, append with PATCH (application/partial-upload), cancellation with
// DELETE, Upload-Limit, and problem-details errors. Every check that can fail happens before a
// body byte is read. Shares the /files/ route with tus (http/files_route.h picks the adapter
// per request from its headers); downloads (GET) and OPTIONS stay with the tus handler.
//
// Where the draft and the core differ: the core completes an upload when its offset reaches a
// known length, whereas the draft waits for `Upload-Complete: ?1`; a later empty `?1` append at
// that offset is therefore answered as a replay of the completion (RUFH-APP-08).
#pragma once

#include <string_view>

#include "http/handler.h"
#include "http/ietf/ietf_headers.h"

namespace ringest::ietf {

using http::Handler;
using http::RequestContext;
using http::ResponseBuilder;
using http::RouteFacts;

class IetfHandler final : public Handler {
 public:
  // `base` is the route's prefix, e.g. "/files/": uploads live at base + id.
  explicit IetfHandler(std::string_view base) : base_(base) {}

  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;
  void on_created(RequestContext& ctx, Status status) override;
  void on_append_ready(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) override;
  void on_append_done(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) override;
  // Upload-Draft-Interop-Version echoed on every answer to a request naming one we speak.
  void add_request_fields(const RequestContext& ctx, ResponseBuilder& response) const override;

 private:
  // The request's interop version (-1 or 0 when none we speak), kept in ctx.route_choice().
  static int64_t version(const RequestContext& ctx);
  void create(RequestContext& ctx) const;
  void send_resumption_supported(RequestContext& ctx) const;
  void on_upload_url(RequestContext& ctx, std::string_view id) const;
  void offset(RequestContext& ctx, const UploadView& view) const;
  void append(RequestContext& ctx, const UploadView& view) const;
  void answer(RequestContext& ctx, int status, const UploadView& view) const;
  void add_limit(RequestContext& ctx, ResponseBuilder& response) const;
  void add_location(RequestContext& ctx, ResponseBuilder& response) const;
  void error(RequestContext& ctx, int status, std::string_view message,
             const UploadView* view = nullptr) const;
  void problem(RequestContext& ctx, int status, Problem problem, std::string_view title,
               const UploadView* view, uint64_t provided_offset = 0) const;
  void outcome_error(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) const;
  // No such upload (404), or it expired and the node remembers it (410).
  void missing(RequestContext& ctx, std::string_view id) const;

  std::string_view base_;
};

}  // namespace ringest::ietf
