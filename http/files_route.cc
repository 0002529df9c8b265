#include "http/files_route.h"

#include <llhttp.h>

namespace ringest::http {

namespace {
constexpr uint8_t kChoseTus = 1;  // (the IETF adapter's choices have ietf::kIetfChoice set)

// Decided once per request, from its head, in on_request(); kept in ctx.route_choice() so the
// later callbacks reach the same adapter without parsing the head again. OPTIONS stays with tus (its capabilities), plus
// the IETF fields (add_request_fields()).
uint8_t choose(const RequestHead& head) {
  if (head.method == HTTP_OPTIONS || !ietf::is_ietf_request(head)) return kChoseTus;
  return ietf::ietf_choice(head);
}
}  // namespace

Handler* FilesRoute::pick(const RequestContext& ctx) const {
  uint8_t choice = ctx.route_choice();
  if (choice == 0) choice = choose(ctx.head());  // refused before on_request() (401, 403)
  return (choice & ietf::kIetfChoice) != 0 ? static_cast<Handler*>(ietf_) : tus_;
}

RouteFacts FilesRoute::facts(std::string_view rest, uint8_t method) const {
  return tus_->facts(rest, method);  // (the IETF adapter's URLs and methods are the same)
}

void FilesRoute::on_request(RequestContext& ctx) {
  ctx.set_route_choice(choose(ctx.head()));
  pick(ctx)->on_request(ctx);
}

void FilesRoute::on_created(RequestContext& ctx, Status status) {
  pick(ctx)->on_created(ctx, status);
}

void FilesRoute::on_append_ready(RequestContext& ctx, AppendOutcome outcome,
                                 const UploadView& view) {
  pick(ctx)->on_append_ready(ctx, outcome, view);
}

void FilesRoute::on_append_done(RequestContext& ctx, AppendOutcome outcome,
                                const UploadView& view) {
  pick(ctx)->on_append_done(ctx, outcome, view);
}

void FilesRoute::on_header_loaded(RequestContext& ctx, Status status,
                                  std::span<const uint8_t> header) {
  pick(ctx)->on_header_loaded(ctx, status, header);
}

void FilesRoute::on_trailer(RequestContext& ctx, std::string_view value, bool valid) {
  pick(ctx)->on_trailer(ctx, value, valid);
}

void FilesRoute::add_request_fields(const RequestContext& ctx, ResponseBuilder& rb) const {
  pick(ctx)->add_request_fields(ctx, rb);
  if (ctx.method() != HTTP_OPTIONS) return;
  char limit[ietf::kLimitChars];
  size_t n = ietf::format_upload_limit(max_upload_bytes_, max_append_bytes_, limit);
  rb.header("Upload-Limit", std::string_view(limit, n));
  rb.header("Accept-Patch", ietf::kPartialUpload);
}

}  // namespace ringest::http
