// Access control of HttpConnection: the gate every request passes before routing (bearer
// tokens, signed URLs, CORS preflights). The decision itself is AccessPolicy::check(); this
// file gathers the request's facts and answers refusals and preflights.
#include <llhttp.h>

#include "engine/base/clock.h"
#include "http/access/access_policy.h"
#include "http/connection.h"

namespace ringest::http {

bool HttpConnection::admit_request(std::string_view path, uint8_t method) {
  const AccessPolicy* policy = context_->access;
  if (policy == nullptr) return true;
  const RequestHead& head = parser_.head();
  constexpr std::string_view kFilesPrefix = "/files/";
  RequestFacts facts;
  // 0xFF: an X-HTTP-Method-Override nobody supports; it signs nothing (routing answers 405).
  facts.method = method == 0xFF ? std::string_view()
                                : llhttp_method_name(static_cast<llhttp_method_t>(method));
  facts.options = head.method == HTTP_OPTIONS;
  facts.path = path;
  size_t question = head.target.find('?');
  if (question != std::string_view::npos) facts.query = head.target.substr(question + 1);
  facts.authorization = head.get("Authorization");
  facts.origin = head.get("Origin");
  facts.has_preflight_method = head.has("Access-Control-Request-Method");
  bool upload_method =
      method == HTTP_HEAD || method == HTTP_GET || method == HTTP_PATCH || method == HTTP_DELETE;
  facts.upload_url = upload_method && path.size() > kFilesPrefix.size() &&
                     path.substr(0, kFilesPrefix.size()) == kFilesPrefix;
  facts.exempt = path == "/healthz";

  access_.generation = generation_;
  switch (policy->check(facts, unix_ms_now() / 1000, &access_)) {
    case Verdict::kAllow:
      return true;
    case Verdict::kPreflight: {
      bool close_after = !ready_for_early_response();
      ResponseBuilder rb = begin_response(204, close_after);  // adds the preflight headers
      rb.finish_no_content();
      finish_and_send(rb, close_after);
      return false;
    }
    case Verdict::kOriginRefused:
      respond_error(403, "origin not allowed");
      return false;
    case Verdict::kNoCredentials:
      respond_error(401, "credentials required (Authorization: Bearer, or a signed URL)");
      return false;
    case Verdict::kTokenRefused:
      respond_error(403, "bearer token not accepted");
      return false;
    case Verdict::kSignatureWrong:
      respond_error(403, "invalid URL signature");
      return false;
    case Verdict::kSignatureExpired:
      respond_error(403, "signed URL expired");
      return false;
  }
  return false;
}

}  // namespace ringest::http
