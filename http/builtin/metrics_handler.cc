#include "http/builtin/metrics_handler.h"

#include <llhttp.h>

#include <cstdio>

#include "engine/base/alloc_counter.h"

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
  ReactorStats sum;
  auto add = [](std::atomic<uint64_t>& to, const std::atomic<uint64_t>& from) {
    to.fetch_add(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
  };
  for (Reactor* r : reactors_) {
    ReactorStats& s = r->stats();
    add(sum.connections_accepted, s.connections_accepted);
    add(sum.connections_refused, s.connections_refused);
    add(sum.requests, s.requests);
    add(sum.body_bytes_received, s.body_bytes_received);
    add(sum.body_bytes_written, s.body_bytes_written);
    add(sum.body_bytes_direct, s.body_bytes_direct);
    add(sum.commits, s.commits);
    add(sum.uploads_created, s.uploads_created);
    add(sum.uploads_completed, s.uploads_completed);
    add(sum.heap_allocations, s.heap_allocations);
    add(sum.timeouts, s.timeouts);
    add(sum.body_bytes_spliced, s.body_bytes_spliced);
  }
  std::span<uint8_t> scratch = ctx.scratch();
  MetricsText m(reinterpret_cast<char*>(scratch.data()), scratch.size());
  m.add("ringest_connections_accepted_total", "counter", sum.connections_accepted.load());
  m.add("ringest_connections_refused_total", "counter", sum.connections_refused.load());
  m.add("ringest_requests_total", "counter", sum.requests.load());
  m.add("ringest_body_bytes_received_total", "counter", sum.body_bytes_received.load());
  m.add("ringest_body_bytes_written_total", "counter", sum.body_bytes_written.load());
  m.add("ringest_body_bytes_direct_total", "counter", sum.body_bytes_direct.load());
  m.add("ringest_commits_total", "counter", sum.commits.load());
  m.add("ringest_uploads_created_total", "counter", sum.uploads_created.load());
  m.add("ringest_uploads_completed_total", "counter", sum.uploads_completed.load());
  m.add("ringest_body_bytes_spliced_total", "counter", sum.body_bytes_spliced.load());
  m.add("ringest_timeouts_total", "counter", sum.timeouts.load());
  m.add("ringest_uploads", "gauge", store_->size());
  m.add("ringest_upload_files_cached", "gauge", store_->files().idle_count());
  m.add("ringest_reactor_heap_allocations_total", "counter", sum.heap_allocations.load());
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
