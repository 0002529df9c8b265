// FilepondHandler: FilePond 4.x's chunk protocol (docs/protocols.md, "FilePond chunk protocol")
// at one route, as a thin translation onto the upload core, like TusHandler:
//   POST   (process)           Upload-Length + a multipart form holding the metadata JSON ->
//                              200, the new id as the whole text/plain body
//   PATCH  ?patch=<id>         one chunk, all or nothing (AppendRequest::all_or_nothing): the
//                              committed offset is always a chunk boundary -> 204
//   HEAD   ?patch=<id>         200, Upload-Offset (where FilePond resumes)
//   DELETE (revert)            the id as the body -> 204
//   GET    ?restore=<id>, ?load=<id>   the finished file, Content-Disposition: inline
//   ?fetch=<url>               403, always: the server never fetches a URL a client names
// Uploads share the tus id space: a FilePond upload is also /files/<id>. Completion comes
// from the length (no finish request). Shared by all connections; no state between calls.
#pragma once

#include <string_view>

#include "http/handler.h"

namespace ringest::filepond {

using http::Handler;
using http::RequestContext;
using http::ResponseBuilder;
using http::RouteFacts;

// The most a creation form may be (413 past it) and a revert body (an id, maybe a newline).
inline constexpr size_t kMaxFormBytes = http::kSmallBodyBytes;
inline constexpr size_t kMaxRevertBodyBytes = 256;

class FilepondHandler final : public Handler {
 public:
  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;
  void on_small_body(RequestContext& ctx, std::string_view body) override;
  void on_created(RequestContext& ctx, Status status) override;
  void on_append_ready(RequestContext& ctx, AppendOutcome outcome,
                       const UploadView& view) override;
  void on_append_done(RequestContext& ctx, AppendOutcome outcome,
                      const UploadView& view) override;
  void on_header_loaded(RequestContext& ctx, Status status,
                        std::span<const uint8_t> header) override;

 private:
  void create(RequestContext& ctx) const;
  void create_with_form(RequestContext& ctx, std::string_view body) const;
  void revert(RequestContext& ctx, std::string_view body) const;
  void offset(RequestContext& ctx, std::string_view id) const;
  void patch(RequestContext& ctx, std::string_view id) const;
  void download(RequestContext& ctx, std::string_view id) const;
  void outcome_error(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) const;
};

}  // namespace ringest::filepond
