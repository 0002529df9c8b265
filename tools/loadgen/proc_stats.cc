#include "tools/loadgen/proc_stats.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <cstdlib>
#include <string>
#include <vector>

namespace ringest::loadgen {

namespace {

// The server and its direct children: nginx serves from worker processes under its master.
std::vector<int> process_tree(int pid) {
  std::vector<int> pids = {pid};
  DIR* proc = opendir("/proc");
  if (!proc) return pids;
  while (dirent* e = readdir(proc)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + e->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;
    size_t close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(line.substr(close + 1));
    std::string state;
    int ppid = 0;
    if (fields >> state >> ppid && ppid == pid) pids.push_back(std::atoi(e->d_name));
  }
  closedir(proc);
  return pids;
}

std::optional<double> one_process_cpu_seconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return std::nullopt;
  // The command name (field 2) is in parentheses and may hold spaces: count after the last ')'.
  size_t close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(line.substr(close + 1));
  // After ')': field 3 (state) ... field 14 (utime), field 15 (stime).
  std::string skip;
  for (int field = 3; field <= 13; ++field) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  if (!(fields >> utime >> stime)) return std::nullopt;
  long ticks = sysconf(_SC_CLK_TCK);
  if (ticks <= 0) return std::nullopt;
  return static_cast<double>(utime + stime) / static_cast<double>(ticks);
}

std::optional<double> one_process_peak_rss_mib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      std::istringstream value(line.substr(6));
      unsigned long long kib = 0;
      if (!(value >> kib)) return std::nullopt;
      return static_cast<double>(kib) / 1024.0;
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> process_cpu_seconds(int pid) {
  std::optional<double> total = one_process_cpu_seconds(pid);
  if (!total) return std::nullopt;
  for (int child : process_tree(pid)) {
    if (child == pid) continue;
    if (auto c = one_process_cpu_seconds(child)) *total += *c;
  }
  return total;
}

std::optional<double> process_peak_rss_mib(int pid) {
  std::optional<double> total = one_process_peak_rss_mib(pid);
  if (!total) return std::nullopt;
  for (int child : process_tree(pid)) {
    if (child == pid) continue;
    if (auto c = one_process_peak_rss_mib(child)) *total += *c;
  }
  return total;
}

double self_cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  return seconds(ru.ru_utime) + seconds(ru.ru_stime);
}

}  // namespace ringest::loadgen
