// FilesRoute: the /files/ route, shared by tus and IETF Resumable Uploads, told apart per
// request by their headers as tusd does (ietf::is_ietf_request(): Upload-Draft-Interop-Version,
// or Upload-Complete without Tus-Resumable, means IETF; anything else, including a request
// without either protocol's fields, is tus as before: downloads, OPTIONS). Every callback of a
// request goes to the adapter that started it: the choice is made again from ctx.head(), which
// is stable for the request's life. OPTIONS (tus's capabilities) also carries the IETF
// `Upload-Limit` and `Accept-Patch` (RUFH-LIM-02), so one OPTIONS answers both protocols.
#pragma once

#include "http/handler.h"
#include "http/ietf/ietf_handler.h"
#include "http/tus/tus_handler.h"

namespace ringest::http {

class FilesRoute final : public Handler {
 public:
  FilesRoute(tus::TusHandler* tus, ietf::IetfHandler* ietf, uint64_t max_upload_bytes,
             uint64_t max_append_bytes)
      : tus_(tus),
        ietf_(ietf),
        max_upload_bytes_(max_upload_bytes),
        max_append_bytes_(max_append_bytes) {}

  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;
  void on_created(RequestContext& ctx, Status status) override;
  void on_append_ready(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) override;
  void on_append_done(RequestContext& ctx, AppendOutcome outcome, const UploadView& view) override;
  void on_header_loaded(RequestContext& ctx, Status status,
                        std::span<const uint8_t> header) override;
  void on_trailer(RequestContext& ctx, std::string_view value, bool valid) override;
  void add_request_fields(const RequestContext& ctx, ResponseBuilder& response) const override;

 private:
  Handler* pick(const RequestContext& ctx) const;

  tus::TusHandler* tus_;
  ietf::IetfHandler* ietf_;
  uint64_t max_upload_bytes_;
  uint64_t max_append_bytes_;
};

}  // namespace ringest::http
