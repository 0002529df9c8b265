#include "http/builtin/metrics_handler.h"

#include <llhttp.h>

#include <cstdio>

#include "engine/base/alloc_counter.h"
#include "engine/base/clock.h"

namespace ringest::http {
namespace {

// Appends one metric ("# TYPE" line and value) to a fixed buffer.
class MetricsText {
 public:
  MetricsText(char* out, size_t capacity) : out_(out), capacity_(capacity) {}
  void add(const char* name, const char* type, unsigned long long value) {
    if (len_ >= capacity_) return;
    int n = std::snprintf(out_ + len_, capacity_ - len_, "# TYPE %s %s\n%s %llu\n", name, type,
                          name, value);
    if (n > 0) len_ += static_cast<size_t>(n);
    if (len_ > capacity_) len_ = capacity_;
  }
  std::string_view text() const { return std::string_view(out_, len_); }

 private:
  char* out_;
  size_t capacity_;
  size_t len_ = 0;
};

// Every reactor counter, summed over the reactors.
struct Counter {
  const char* name;
  const char* type;
  std::atomic<uint64_t> ReactorStats::*field;
};
constexpr Counter kCounters[] = {
    {"ringest_connections_accepted_total", "counter", &ReactorStats::connections_accepted},
    {"ringest_connections_refused_total", "counter", &ReactorStats::connections_refused},
    {"ringest_connections_shed_total", "counter", &ReactorStats::connections_shed},
    {"ringest_requests_total", "counter", &ReactorStats::requests},
    {"ringest_body_bytes_received_total", "counter", &ReactorStats::body_bytes_received},
    {"ringest_body_bytes_written_total", "counter", &ReactorStats::body_bytes_written},
    {"ringest_body_bytes_direct_total", "counter", &ReactorStats::body_bytes_direct},
    {"ringest_body_bytes_spliced_total", "counter", &ReactorStats::body_bytes_spliced},
    {"ringest_commits_total", "counter", &ReactorStats::commits},
    {"ringest_uploads_created_total", "counter", &ReactorStats::uploads_created},
    {"ringest_uploads_completed_total", "counter", &ReactorStats::uploads_completed},
    {"ringest_uploads_expired_total", "counter", &ReactorStats::uploads_expired},
    {"ringest_timeouts_total", "counter", &ReactorStats::timeouts},
    {"ringest_reactor_heap_allocations_total", "counter", &ReactorStats::heap_allocations},
};

}  // namespace

RouteFacts MetricsHandler::facts(std::string_view /*rest*/, uint8_t /*method*/) const {
  RouteFacts facts;
  facts.allow = "GET, HEAD";
  return facts;
}

void MetricsHandler::on_request(RequestContext& ctx) {
  if (ctx.method() != HTTP_GET && ctx.method() != HTTP_HEAD) {
    respond_text(ctx, 405, "method not allowed", "GET, HEAD");
    return;
  }
  std::span<uint8_t> scratch = ctx.scratch();
  MetricsText m(reinterpret_cast<char*>(scratch.data()), scratch.size());
  for (const Counter& counter : kCounters) {
    uint64_t total = 0;
    for (Reactor* r : reactors_) {
      total += (r->stats().*counter.field).load(std::memory_order_relaxed);
    }
    m.add(counter.name, counter.type, total);
  }
  m.add("ringest_uploads", "gauge", store_->size());
  m.add("ringest_upload_files_cached", "gauge", store_->files().idle_count());
  if (hooks_ != nullptr) {
    m.add("ringest_hook_outbox_events", "gauge", hooks_->depth.load(std::memory_order_relaxed));
    uint64_t oldest = hooks_->oldest_unix_ms.load(std::memory_order_relaxed);
    uint64_t now = unix_ms_now();
    m.add("ringest_hook_oldest_undelivered_age_seconds", "gauge",
          oldest != 0 && now > oldest ? (now - oldest) / 1000 : 0);
    m.add("ringest_hook_events_delivered_total", "counter",
          hooks_->delivered.load(std::memory_order_relaxed));
    m.add("ringest_hook_delivery_failures_total", "counter",
          hooks_->failures.load(std::memory_order_relaxed));
    m.add("ringest_hook_uploads_refused_total", "counter",
          hooks_->refused_uploads.load(std::memory_order_relaxed));
  }
  if (const DiskBudget* budget = store_->budget()) {
    DiskSnapshot disk = budget->snapshot();
    m.add("ringest_disk_free_bytes", "gauge", disk.free_bytes);
    m.add("ringest_disk_promised_bytes", "gauge", disk.promised_bytes);
    m.add("ringest_disk_reserve_bytes", "gauge", disk.reserve_bytes);
    m.add("ringest_disk_samples_total", "counter", disk.samples);
    m.add("ringest_anonymous_clients_holding_uploads", "gauge", disk.clients);
  }
  m.add("ringest_alloc_counting_enabled", "gauge", g_alloc_counting_enabled.load() ? 1 : 0);
  ResponseBuilder rb = ctx.begin_response(200);
  rb.header("Content-Type", "text/plain; version=0.0.4");
  if (ctx.head_request()) {
    rb.finish_head(m.text().size());
  } else {
    rb.finish(m.text());
  }
  ctx.send(rb);
}

}  // namespace ringest::http
