#include "engine/hooks/pre_create.h"

#include "engine/base/log.h"
#include "engine/io/io_ring.h"

namespace ringest::hooks {

PreCreateHook::PreCreateHook(PreCreateOptions options) : options_(std::move(options)) {}

PreCreateHook::~PreCreateHook() { stop(); }

bool PreCreateHook::start(std::string* error) {
  (void)error;
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { work(); });
  return true;
}

void PreCreateHook::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (std::thread& t : workers_) t.join();
  workers_.clear();
}

void PreCreateHook::submit(PreCreateTicket* ticket) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(ticket);
  }
  cv_.notify_one();
}

void PreCreateHook::work() {
  // Each worker: its own HTTP handle (kept alive between questions) and a small ring that only
  // posts answers into the reactors' rings.
  std::unique_ptr<HttpHook> http;
  std::unique_ptr<ExecHook> exec;
  if (!options_.url.empty()) http = std::make_unique<HttpHook>(options_.url, "", options_.timeout_ms);
  if (!options_.exec.empty()) exec = std::make_unique<ExecHook>(options_.exec, options_.timeout_ms);
  IoRing ring;
  if (!ring.init(8).ok()) {
    RINGEST_LOG_ERROR("pre-create hook: cannot make a ring for a worker");
    return;
  }
  for (;;) {
    PreCreateTicket* ticket = nullptr;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      ticket = queue_.front();
      queue_.pop_front();
    }
    HookCall call{"pre-create", "", ticket->json};
    ticket->reply = http != nullptr ? http->call(call) : exec->call(call);
    if (ticket->reply.kind == HookReply::Kind::kFailed) {
      RINGEST_LOG_WARN("pre-create hook failed: %s (%s the upload)", ticket->reply.message.c_str(),
                       options_.accept_on_failure ? "accepting" : "refusing");
    }
    ring.send_message(ticket->ring_fd, ticket->completion, 0);
    ring.run_once(false);
  }
}

}  // namespace ringest::hooks
