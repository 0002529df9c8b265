// Everything the upload says on stderr goes through here, so notes ("retrying in 400 ms") never
// land in the middle of a progress bar. Three modes: a redrawn bar with rate and ETA when stderr
// is a terminal, a plain line every 2 s otherwise (logs, CI), nothing but errors with --quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <string>

namespace ringest::client {

class Progress {
 public:
  enum class Mode { kQuiet, kLines, kBar };
  using Clock = std::chrono::steady_clock;

  // kBar if stderr is a terminal, kLines if not, kQuiet if asked.
  static Mode mode_for_stderr(bool quiet);

  explicit Progress(Mode mode) : mode_(mode) {}

  // Starts showing progress of `total` bytes of which `done` are on the server already.
  void start(uint64_t total, uint64_t done);
  // `done` may go down (a retry resumes from the server's offset): the rate starts over.
  void update(uint64_t done);
  // Final state; ends the bar's line.
  void finish(uint64_t done);
  // An informational line (not in quiet mode).
  void note(const std::string& line);
  // An error line (in every mode).
  void error(const std::string& line);

  static std::string human_bytes(uint64_t bytes);

 private:
  // `final`: the whole run's average rate and duration instead of the window's rate and ETA.
  void draw(Clock::time_point now, bool final = false);
  void clear_bar();
  double rate_bytes_per_s(Clock::time_point now) const;

  Mode mode_;
  bool started_ = false;
  bool bar_drawn_ = false;
  uint64_t total_ = 0;
  uint64_t done_ = 0;
  uint64_t first_done_ = 0;
  Clock::time_point start_time_;
  Clock::time_point last_draw_;
  // (time, bytes done) samples over the last few seconds: the rate follows the link as it is
  // now, not the average since start.
  std::deque<std::pair<Clock::time_point, uint64_t>> samples_;
};

}  // namespace ringest::client
