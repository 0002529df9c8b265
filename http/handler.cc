#include "http/handler.h"

#include <cstring>

namespace ringest::http {

void send_text(RequestContext& ctx, ResponseBuilder& rb, std::string_view message) {
  rb.header("Content-Type", "text/plain; charset=utf-8");
  char body[256];
  size_t n = message.size() < sizeof body - 1 ? message.size() : sizeof body - 1;
  std::memcpy(body, message.data(), n);
  body[n++] = '\n';
  if (ctx.head_request()) {
    rb.finish_head(n);  // no body, but the length a GET would get (RFC 9110 8.6)
  } else {
    rb.finish(std::string_view(body, n));
  }
  ctx.send(rb);
}

void respond_text(RequestContext& ctx, int status, std::string_view message,
                  std::string_view allow) {
  ResponseBuilder rb = ctx.begin_response(status);
  if (status == 405 && !allow.empty()) rb.header("Allow", allow);
  send_text(ctx, rb, message);
}

void Handler::on_create_refused(RequestContext& ctx, int status, std::string_view message) {
  respond_text(ctx, status, message);
}

}  // namespace ringest::http
