// Retries: exponential backoff with jitter, and the loop that applies it. The budget counts
// consecutive failures: progress (a chunk the server took) calls reset(), so a long upload over a
// flaky link is bounded per outage, not over its whole life.
#pragma once

#include <cstdint>
#include <functional>
#include <random>

#include "tools/client/progress.h"
#include "tools/client/tus_client.h"

namespace ringest::client {

class Backoff {
 public:
  Backoff(int max_retries, uint32_t base_delay_ms, uint32_t max_delay_ms);

  // True while another retry is allowed after the failures seen so far.
  bool can_retry() const { return failures_ < max_retries_; }
  // Counts one failure and returns how long to wait before the retry: min(max, base * 2^k) for
  // the k-th consecutive failure (k from 0), then a uniform draw from [half of that, all of
  // it]. Half keeps a floor under the delay; the random half spreads clients that failed
  // together (a server restart) so they do not come back in lockstep.
  uint32_t next_delay_ms();
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }
  int max_retries() const { return max_retries_; }

 private:
  int max_retries_;
  uint32_t base_ms_;
  uint32_t max_ms_;
  int failures_ = 0;
  std::minstd_rand rng_;
};

// Runs `attempt` until it is not kRetryable or the budget is spent, waiting the backoff delay
// before each retry and saying so on `progress`. Returns the last reply (still kRetryable when
// it gave up). For HEAD, POST and DELETE: a 409 comes back as kRefused.
TusReply with_retries(const std::function<TusReply()>& attempt, Backoff* backoff,
                      Progress* progress);

// Notes the failure, sleeps the next delay and returns true, or returns false if the budget is
// spent.
bool wait_before_retry(const TusReply& failed, Backoff* backoff, Progress* progress);

// The exit code for a reply that ends the command (see cli.h).
int exit_code_for(const TusReply& reply);

// Says why the command ends ("giving up after N retries: ..." when the budget ran out) and
// returns exit_code_for(reply).
int report_failure(const TusReply& reply, const Backoff& backoff, Progress* progress);

}  // namespace ringest::client
