#include "tools/client/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>

namespace ringest::client {
namespace {

constexpr auto kBarInterval = std::chrono::milliseconds(100);
constexpr auto kLineInterval = std::chrono::seconds(2);
constexpr auto kRateWindow = std::chrono::seconds(5);
constexpr int kBarWidth = 24;

std::string format_eta(double seconds) {
  if (!(seconds >= 0) || seconds > 99 * 3600) return "--:--";
  auto s = static_cast<uint64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64, s / 3600, s / 60 % 60,
                  s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%" PRIu64 ":%02" PRIu64, s / 60, s % 60);
  }
  return buf;
}

}  // namespace

Progress::Mode Progress::mode_for_stderr(bool quiet) {
  if (quiet) return Mode::kQuiet;
  return ::isatty(STDERR_FILENO) ? Mode::kBar : Mode::kLines;
}

std::string Progress::human_bytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof buf, "%" PRIu64 " B", bytes);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f %s", v, kUnits[unit]);
  }
  return buf;
}

void Progress::start(uint64_t total, uint64_t done) {
  started_ = true;
  total_ = total;
  done_ = done;
  first_done_ = done;
  start_time_ = Clock::now();
  samples_.clear();
  samples_.emplace_back(start_time_, done);
  last_draw_ = start_time_;
  if (mode_ == Mode::kBar) draw(start_time_);
}

void Progress::update(uint64_t done) {
  if (!started_ || mode_ == Mode::kQuiet) return;
  Clock::time_point now = Clock::now();
  if (done < done_) samples_.clear();
  done_ = done;
  if (samples_.empty() || now - samples_.back().first >= kBarInterval) {
    samples_.emplace_back(now, done);
    while (samples_.size() > 2 && now - samples_[1].first >= kRateWindow) samples_.pop_front();
  }
  auto interval = mode_ == Mode::kBar ? std::chrono::duration_cast<Clock::duration>(kBarInterval)
                                      : std::chrono::duration_cast<Clock::duration>(kLineInterval);
  if (now - last_draw_ >= interval) draw(now);
}

void Progress::finish(uint64_t done) {
  if (!started_ || mode_ == Mode::kQuiet) return;
  done_ = done;
  Clock::time_point now = Clock::now();
  double seconds = std::chrono::duration<double>(now - start_time_).count();
  double rate = seconds > 0 ? static_cast<double>(done - first_done_) / seconds : 0;
  if (mode_ == Mode::kBar) {
    draw(now, /*final=*/true);
    std::fputc('\n', stderr);
    bar_drawn_ = false;
  } else {
    std::fprintf(stderr, "ringest: %s sent in %.1f s (%s/s)\n",
                 human_bytes(done - first_done_).c_str(), seconds,
                 human_bytes(static_cast<uint64_t>(rate)).c_str());
  }
  started_ = false;
}

void Progress::note(const std::string& line) {
  if (mode_ == Mode::kQuiet) return;
  clear_bar();
  std::fprintf(stderr, "ringest: %s\n", line.c_str());
  if (started_ && mode_ == Mode::kBar) draw(Clock::now());
}

void Progress::error(const std::string& line) {
  clear_bar();
  std::fprintf(stderr, "ringest: %s\n", line.c_str());
}

void Progress::clear_bar() {
  if (!bar_drawn_) return;
  std::fputs("\r\x1b[K", stderr);  // carriage return, erase to end of line
  bar_drawn_ = false;
}

double Progress::rate_bytes_per_s(Clock::time_point now) const {
  if (samples_.empty()) return 0;
  const auto& [t0, b0] = samples_.front();
  double seconds = std::chrono::duration<double>(now - t0).count();
  if (seconds < 0.2 || done_ < b0) return 0;  // too little to say
  return static_cast<double>(done_ - b0) / seconds;
}

void Progress::draw(Clock::time_point now, bool final) {
  last_draw_ = now;
  double rate = rate_bytes_per_s(now);
  double fraction = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  fraction = std::min(fraction, 1.0);
  uint64_t left = total_ > done_ ? total_ - done_ : 0;
  std::string eta = "ETA " + (rate > 0 ? format_eta(static_cast<double>(left) / rate) : "--:--");
  if (final) {
    // The whole run's average and duration say more than the last window's once it is over.
    double seconds = std::chrono::duration<double>(now - start_time_).count();
    rate = seconds > 0 ? static_cast<double>(done_ - first_done_) / seconds : 0;
    eta = "in " + format_eta(seconds);
  }
  std::string rate_text = rate > 0 ? human_bytes(static_cast<uint64_t>(rate)) + "/s" : "-";
  if (mode_ == Mode::kBar) {
    char bar[kBarWidth + 1];
    int filled = static_cast<int>(fraction * kBarWidth);
    for (int i = 0; i < kBarWidth; ++i) bar[i] = i < filled ? '#' : '-';
    bar[kBarWidth] = '\0';
    std::fprintf(stderr, "\r%10s / %-10s [%s] %3d%% %12s  %s\x1b[K", human_bytes(done_).c_str(),
                 human_bytes(total_).c_str(), bar, static_cast<int>(fraction * 100),
                 rate_text.c_str(), eta.c_str());
    bar_drawn_ = true;
  } else {
    std::fprintf(stderr, "ringest: %s / %s (%d%%), %s, %s\n", human_bytes(done_).c_str(),
                 human_bytes(total_).c_str(), static_cast<int>(fraction * 100), rate_text.c_str(),
                 eta.c_str());
  }
  std::fflush(stderr);
}

}  // namespace ringest::client
