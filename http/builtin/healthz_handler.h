// /healthz: 200 "ok" while the server runs; needs no credentials (load balancers probe it).
#pragma once

#include "http/handler.h"

namespace ringest::http {

class HealthzHandler final : public Handler {
 public:
  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;
};

}  // namespace ringest::http
