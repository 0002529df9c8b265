#include "http/builtin/healthz_handler.h"

#include <llhttp.h>

namespace ringest::http {

RouteFacts HealthzHandler::facts(std::string_view /*rest*/, uint8_t /*method*/) const {
  RouteFacts facts;
  facts.public_route = true;
  facts.allow = "GET, HEAD";
  return facts;
}

void HealthzHandler::on_request(RequestContext& ctx) {
  if (ctx.method() != HTTP_GET && ctx.method() != HTTP_HEAD) {
    respond_text(ctx, 405, "method not allowed", "GET, HEAD");
    return;
  }
  respond_text(ctx, 200, "ok");
}

}  // namespace ringest::http
