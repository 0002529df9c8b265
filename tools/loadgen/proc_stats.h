// CPU and memory figures from /proc and getrusage: what the server spent on a run (when its pid
// is given) and what the load generator itself spent, to show it is not the bottleneck.
#pragma once

#include <optional>

namespace ringest::loadgen {

// utime + stime of every thread of `pid` and of its direct children (nginx's workers) so far, in
// seconds (/proc/PID/stat, clock ticks).
std::optional<double> process_cpu_seconds(int pid);
// VmHWM of `pid` plus that of its direct children, in MiB (/proc/PID/status): peak resident sets.
std::optional<double> process_peak_rss_mib(int pid);
// User + system CPU of this process so far (getrusage), all threads, in seconds.
double self_cpu_seconds();

}  // namespace ringest::loadgen
