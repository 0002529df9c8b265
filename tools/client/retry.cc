#include "tools/client/retry.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>

#include "tools/client/cli.h"

namespace ringest::client {

Backoff::Backoff(int max_retries, uint32_t base_delay_ms, uint32_t max_delay_ms)
    : max_retries_(max_retries),
      base_ms_(base_delay_ms),
      max_ms_(max_delay_ms),
      rng_(static_cast<std::minstd_rand::result_type>(std::random_device{}())) {}

uint32_t Backoff::next_delay_ms() {
  // Doubling stops once the cap is reached, so the shift never overflows.
  uint64_t delay = base_ms_;
  for (int i = 0; i < failures_ && delay < max_ms_; ++i) delay *= 2;
  delay = std::min<uint64_t>(delay, max_ms_);
  ++failures_;
  if (delay == 0) return 0;
  std::uniform_int_distribution<uint64_t> jitter(delay / 2, delay);
  return static_cast<uint32_t>(jitter(rng_));
}

bool wait_before_retry(const TusReply& failed, Backoff* backoff, Progress* progress) {
  if (!backoff->can_retry()) return false;
  uint32_t delay = backoff->next_delay_ms();
  progress->note(failed.message + "; retry " + std::to_string(backoff->failures()) + "/" +
                 std::to_string(backoff->max_retries()) + " in " + std::to_string(delay) + " ms");
  std::this_thread::sleep_for(std::chrono::milliseconds(delay));  // resumes after signals
  return true;
}

TusReply with_retries(const std::function<TusReply()>& attempt, Backoff* backoff,
                      Progress* progress) {
  TusReply reply = attempt();
  while (reply.outcome == Outcome::kRetryable && wait_before_retry(reply, backoff, progress)) {
    reply = attempt();
  }
  // Only a PATCH can meet an offset mismatch (and re-syncs, outside this loop); a 409 to a
  // HEAD, POST or DELETE is a plain refusal.
  if (reply.outcome == Outcome::kConflict) reply.outcome = Outcome::kRefused;
  return reply;
}

int exit_code_for(const TusReply& reply) {
  switch (reply.outcome) {
    case Outcome::kOk:
      return kExitOk;
    case Outcome::kRetryable:
    case Outcome::kConflict:
      return kExitGaveUp;
    case Outcome::kGone:
    case Outcome::kRefused:
      return kExitRefused;
    case Outcome::kFileChanged:
      return kExitFileChanged;
    case Outcome::kLocalError:
      return kExitOther;
  }
  return kExitOther;
}

int report_failure(const TusReply& reply, const Backoff& backoff, Progress* progress) {
  if (reply.outcome == Outcome::kRetryable || reply.outcome == Outcome::kConflict) {
    progress->error("giving up after " + std::to_string(backoff.failures()) +
                    " retries: " + reply.message);
  } else {
    progress->error(reply.message);
  }
  return exit_code_for(reply);
}

}  // namespace ringest::client
