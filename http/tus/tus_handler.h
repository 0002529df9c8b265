// TusHandler: tus 1.0.0 (core, creation, creation-with-upload, creation-defer-length,
// termination, checksum, checksum-trailer, concatenation) and downloads of a finished upload
// (GET, and HEAD without Tus-Resumable: see http/download/file_download.h), as a thin
// translation onto the upload core (concatenation: FinalParts and the partial/final kinds of
// engine/upload): every check that can fail happens before a body byte is read, and every
// answer carries Tus-Resumable. Shared by all connections; it keeps no state of its own between
// calls.
#pragma once

#include <string_view>

#include "http/handler.h"
#include "http/tus/tus_headers.h"

namespace ringest::tus {

using http::Handler;
using http::RequestContext;
using http::ResponseBuilder;
using http::RouteFacts;

class TusHandler final : public Handler {
 public:
  // `base` is the route's prefix, e.g. "/files/": uploads live at base + id.
  explicit TusHandler(std::string_view base) : base_(base) {}

  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;
  void on_created(RequestContext& ctx, Status status) override;
  void on_append_ready(RequestContext& ctx, AppendOutcome outcome,
                       const UploadView& view) override;
  void on_append_done(RequestContext& ctx, AppendOutcome outcome,
                      const UploadView& view) override;
  void on_header_loaded(RequestContext& ctx, Status status,
                        std::span<const uint8_t> header) override;
  void on_trailer(RequestContext& ctx, std::string_view value, bool valid) override;
  // Tus-Resumable, on every response of the route.
  void add_common_fields(ResponseBuilder& response) const override;

 private:
  void options(RequestContext& ctx) const;
  void create(RequestContext& ctx) const;
  void create_final(RequestContext& ctx, const Concat& concat) const;
  void on_upload_url(RequestContext& ctx, std::string_view id) const;
  void head_response(RequestContext& ctx, const UploadView& view,
                     std::span<const uint8_t> header) const;
  void patch(RequestContext& ctx) const;
  void answer_offset(RequestContext& ctx, int status, const UploadView& view) const;
  ResponseBuilder begin(RequestContext& ctx, int status) const;
  void error(RequestContext& ctx, int status, std::string_view message,
             const UploadView* view = nullptr) const;
  void outcome_error(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) const;
  // No such upload (404), or it expired and the node remembers it (410).
  void missing(RequestContext& ctx, std::string_view id) const;

  std::string_view base_;
};

}  // namespace ringest::tus
