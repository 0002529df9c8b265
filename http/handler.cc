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

CreationError creation_error(const RequestContext& ctx, Status status) {
  if (status.code == Code::kNoSpace) {
    switch (ctx.creation_refusal()) {
      case Admission::kOk:
        return {507, "no space for the upload"};
      case Admission::kReserve:
        return {507, "no space for the upload: the server keeps a free-space reserve "
                     "(--min-free-bytes) and space promised to unfinished uploads"};
      case Admission::kClientBytes:
        return {507, "this client's unfinished uploads would pass their total size bound "
                     "(--max-bytes-per-client): finish or delete some first"};
      case Admission::kClientUploads:
        return {429, "this client holds too many unfinished uploads "
                     "(--max-uploads-per-client): finish or delete some first"};
      case Admission::kClientTable:
        return {503, "too many clients hold unfinished uploads, try again later"};
    }
  }
  if (status.code == Code::kNoDescriptors || status.code == Code::kNoMemory) {
    return {503, "server busy, try again"};
  }
  if (status.code == Code::kBusy) {
    return {503, "undelivered hook events are at their bound (--hook-outbox-max): try again "
                 "once the hook receivers catch up"};
  }
  return {500, "cannot create upload"};
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
