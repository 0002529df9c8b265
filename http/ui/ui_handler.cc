#include "http/ui/ui_handler.h"

#include <llhttp.h>

#include "http/download/file_download.h"  // match_etag_list: entity-tag lists (RFC 9110 13.1.2)

namespace ringest::http::ui {
namespace {

constexpr std::string_view kAllow = "GET, HEAD";

// True when an If-None-Match field line lists the asset's tag (or "*"): a 304 answers.
bool not_modified(const RequestHead& head, std::string_view etag) {
  for (uint32_t i = 0; i < head.header_count; ++i) {
    if (!equals_ignore_case(head.headers[i].name, "If-None-Match")) continue;
    if (match_etag_list(head.headers[i].value, etag, Comparison::kWeak) == TagMatch::kMatch) {
      return true;
    }
  }
  return false;
}

void add_fields(ResponseBuilder& rb, const Asset& asset) {
  rb.header("ETag", asset.etag);
  rb.header("Cache-Control", asset.cache_control);
}

}  // namespace

RouteFacts UiHandler::facts(std::string_view /*rest*/, uint8_t /*method*/) const {
  RouteFacts facts;
  facts.public_route = true;
  facts.allow = kAllow;
  return facts;
}

void UiHandler::on_request(RequestContext& ctx) {
  if (ctx.method() != HTTP_GET && ctx.method() != HTTP_HEAD) {
    respond_text(ctx, 405, "method not allowed", kAllow);
    return;
  }
  const Asset* asset = table_->find(ctx.path());
  if (asset == nullptr) {
    respond_text(ctx, 404, "not found");
    return;
  }
  if (not_modified(ctx.head(), asset->etag)) {
    ResponseBuilder rb = ctx.begin_response(304);
    add_fields(rb, *asset);
    rb.finish_no_content();
    ctx.send(rb);
    return;
  }
  ResponseBuilder rb = ctx.begin_response(200);
  rb.header("Content-Type", asset->content_type);
  add_fields(rb, *asset);
  rb.header("X-Content-Type-Options", "nosniff");
  if (asset->page) {
    rb.header("Content-Security-Policy", kContentSecurityPolicy);
    rb.header("Referrer-Policy", "no-referrer");
  }
  rb.finish_head(asset->bytes.size());
  ctx.send_with_static_bytes(rb, asset->body());
}

}  // namespace ringest::http::ui
