// /metrics: the server's counters in Prometheus text format (0.0.4), summed over all reactors.
#pragma once

#include <vector>

#include "engine/hooks/outbox_stats.h"
#include "engine/reactor/reactor.h"
#include "engine/upload/upload_store.h"
#include "http/handler.h"

namespace ringest::http {

class MetricsHandler final : public Handler {
 public:
  MetricsHandler(std::vector<Reactor*> reactors, UploadStore* store)
      : reactors_(std::move(reactors)), store_(store) {}
  // The hook outbox's counters (null: no hooks, no hook series).
  void set_hooks(const hooks::OutboxStats* stats) { hooks_ = stats; }
  RouteFacts facts(std::string_view rest, uint8_t method) const override;
  void on_request(RequestContext& ctx) override;

 private:
  std::vector<Reactor*> reactors_;
  UploadStore* store_;
  const hooks::OutboxStats* hooks_ = nullptr;
};

}  // namespace ringest::http
