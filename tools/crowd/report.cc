#include "tools/crowd/report.h"

#include <algorithm>
#include <cstdio>
#include <vector>

#include "tools/loadgen/report.h"

namespace ringest::crowd {
namespace {

using loadgen::fixed;
using loadgen::json_string;

std::string json_occurrences(const Occurrences& o) {
  std::string out = "{\"count\":" + std::to_string(o.count) +
                    ",\"first_s\":" + fixed(o.first_s, 3) + ",\"last_s\":" + fixed(o.last_s, 3) +
                    ",\"per_second\":{";
  bool first = true;
  for (const auto& [second, n] : o.per_second) {
    if (!first) out += ",";
    first = false;
    out += "\"" + std::to_string(second) + "\":" + std::to_string(n);
  }
  return out + "}}";
}

std::string json_kind(const KindStats& k) {
  std::string out = "{\"planned\":" + std::to_string(k.planned);
  out += ",\"connect_failed\":" + std::to_string(k.connect_failed);
  out += ",\"established\":" + std::to_string(k.established);
  out += ",\"ready\":" + std::to_string(k.ready);
  out += ",\"setup_failed\":" + std::to_string(k.setup_failed);
  out += ",\"held_at_end\":" + std::to_string(k.held_at_end);
  out += ",\"expected_responses\":" + std::to_string(k.expected_responses);
  out += ",\"closed_without_answer\":" + json_occurrences(k.closed_without_answer);
  out += ",\"resets\":" + std::to_string(k.resets);
  out += ",\"closed_by_server\":" + json_occurrences(k.closed_by_server);
  out += ",\"reconnects\":" + std::to_string(k.reconnects);
  out += ",\"answers\":{";
  bool first = true;
  for (const auto& [status, occ] : k.answers) {
    if (!first) out += ",";
    first = false;
    out += "\"" + std::to_string(status) + "\":" + json_occurrences(occ);
  }
  return out + "}}";
}

// "408 x 12 (at 30.1-31.0 s)" for each status; status 0 is a malformed or cut-off answer.
std::string answers_text(const KindStats& k) {
  std::string out;
  for (const auto& [status, occ] : k.answers) {
    if (!out.empty()) out += ", ";
    out += (status == 0 ? std::string("malformed") : std::to_string(status)) + " x " +
           std::to_string(occ.count) + " (at " + fixed(occ.first_s, 1) + "-" +
           fixed(occ.last_s, 1) + " s)";
  }
  const Occurrences& c = k.closed_without_answer;
  if (c.count) {
    if (!out.empty()) out += ", ";
    out += "closed without answer x " + std::to_string(c.count) + " (" + std::to_string(k.resets) +
           " resets; at " + fixed(c.first_s, 1) + "-" + fixed(c.last_s, 1) + " s)";
  }
  // Attack kinds keep a connection after its answer; their closes after one are counted here.
  const Occurrences& all = k.closed_by_server;
  if (all.count > c.count) {
    if (!out.empty()) out += ", ";
    out += "closed after an answer x " + std::to_string(all.count - c.count) + " (closes at " +
           fixed(all.first_s, 1) + "-" + fixed(all.last_s, 1) + " s)";
  }
  if (k.reconnects) {
    if (!out.empty()) out += ", ";
    out += "reconnects x " + std::to_string(k.reconnects);
  }
  return out.empty() ? "none" : out;
}

struct BusySummary {
  uint64_t requests = 0;  // answered, any status
  double requests_per_s = 0;
  double p50_us = 0, p99_us = 0, max_us = 0;
};

BusySummary summarize_busy(const CrowdStats& s) {
  BusySummary b;
  std::vector<uint32_t> v = s.busy_latency_us;
  b.requests = s.busy.expected_responses;
  for (const auto& [status, occ] : s.busy.answers) b.requests += occ.count;
  double window_s = s.run_s - s.busy_start_s;
  if (window_s > 0) b.requests_per_s = static_cast<double>(b.requests) / window_s;
  if (v.empty()) return b;
  std::sort(v.begin(), v.end());
  auto at = [&v](double p) {
    size_t rank = static_cast<size_t>(p * static_cast<double>(v.size()));
    return static_cast<double>(v[std::min(rank, v.size() - 1)]);
  };
  b.p50_us = at(0.50);
  b.p99_us = at(0.99);
  b.max_us = static_cast<double>(v.back());
  return b;
}

}  // namespace

std::string format_table(const CrowdStats& s) {
  std::string out = "ringest-crowd " + s.url + "  (" + fixed(s.run_s, 1) + " s" +
                    (s.interrupted ? ", interrupted" : "") + ")\n";
  char line[512];
  std::snprintf(line, sizeof line, "  %-10s %8s %8s %8s %8s %8s %8s  %s\n", "kind", "planned",
                "estab", "failed", "ready", "setupErr", "held", "server answers and closes");
  out += line;
  auto kind_row = [&](const char* name, const KindStats& k) {
    if (k.planned == 0) return;
    std::snprintf(
        line, sizeof line, "  %-10s %8llu %8llu %8llu %8llu %8llu %8llu  %s\n", name,
        static_cast<unsigned long long>(k.planned), static_cast<unsigned long long>(k.established),
        static_cast<unsigned long long>(k.connect_failed), static_cast<unsigned long long>(k.ready),
        static_cast<unsigned long long>(k.setup_failed),
        static_cast<unsigned long long>(k.held_at_end), answers_text(k).c_str());
    out += line;
  };
  kind_row("idle", s.idle);
  kind_row("silent", s.silent);
  kind_row("trickle", s.trickle);
  kind_row("slow-head", s.slow_head);
  kind_row("busy", s.busy);
  kind_row("slow-read", s.slow_reader);
  kind_row("linger", s.lingerer);
  kind_row("silent-rc", s.silent_attack);
  if (s.busy.planned) {
    BusySummary b = summarize_busy(s);
    out += "  busy: " + std::to_string(b.requests) + " requests, " + fixed(b.requests_per_s, 0) +
           " requests/s, latency p50 " + fixed(b.p50_us, 0) + " us, p99 " + fixed(b.p99_us, 0) +
           " us, max " + fixed(b.max_us, 0) + " us\n";
  }
  out += "  set-up " + fixed(s.setup_s, 1) + " s, peak open " + std::to_string(s.peak_open) +
         ", held at end " + std::to_string(s.held_at_end());
  if (s.trickle.planned + s.slow_head.planned + s.lingerer.planned > 0) {
    out += ", trickled " + std::to_string(s.bytes_trickled) + " bytes (";
    if (s.trickle.planned + s.slow_head.planned > 0) {
      out += std::to_string(s.trickle_chunk_bytes) + " every " +
             std::to_string(s.trickle_interval_ms) + " ms" + (s.lingerer.planned ? ", " : "");
    }
    if (s.lingerer.planned) {
      out += "lingerers 1 every " + std::to_string(s.linger_interval_ms) + " ms";
    }
    out += ")";
  }
  out += ", crowd CPU " + fixed(s.cpu_s, 2) + " s, RLIMIT_NOFILE " +
         std::to_string(s.rlimit_nofile) + "\n";
  if (!s.connect_errors.empty()) {
    out += "  connect errors:";
    for (const auto& [name, count] : s.connect_errors) {
      out += " " + name + " x " + std::to_string(count);
    }
    out += "\n";
  }
  return out;
}

std::string format_json(const CrowdStats& s) {
  std::string out = "{\"url\":" + json_string(s.url);
  out += ",\"duration_s\":" + std::to_string(s.duration_s);
  out += ",\"run_s\":" + fixed(s.run_s, 3);
  out += ",\"interrupted\":" + std::string(s.interrupted ? "true" : "false");
  out += ",\"setup_s\":" + fixed(s.setup_s, 3);
  out += ",\"peak_open\":" + std::to_string(s.peak_open);
  out += ",\"held_at_end\":" + std::to_string(s.held_at_end());
  out += ",\"trickle_rate_bytes_per_s\":" + std::to_string(s.trickle_rate_bytes_per_s);
  out += ",\"trickle_chunk_bytes\":" + std::to_string(s.trickle_chunk_bytes);
  out += ",\"trickle_interval_ms\":" + std::to_string(s.trickle_interval_ms);
  out += ",\"linger_interval_ms\":" + std::to_string(s.linger_interval_ms);
  out += ",\"reconnect_delay_ms\":" + std::to_string(s.reconnect_delay_ms);
  out += ",\"bytes_trickled\":" + std::to_string(s.bytes_trickled);
  out += ",\"cpu_s\":" + fixed(s.cpu_s, 3);
  out += ",\"rlimit_nofile\":" + std::to_string(s.rlimit_nofile);
  out += ",\"idle\":" + json_kind(s.idle);
  out += ",\"silent\":" + json_kind(s.silent);
  out += ",\"trickle\":" + json_kind(s.trickle);
  out += ",\"slow_head\":" + json_kind(s.slow_head);
  out += ",\"busy\":" + json_kind(s.busy);
  out += ",\"slow_reader\":" + json_kind(s.slow_reader);
  out += ",\"lingerer\":" + json_kind(s.lingerer);
  out += ",\"silent_attack\":" + json_kind(s.silent_attack);
  BusySummary b = summarize_busy(s);
  out += ",\"busy_requests\":" + std::to_string(b.requests);
  out += ",\"busy_requests_per_s\":" + fixed(b.requests_per_s, 1);
  out += ",\"busy_latency_us\":{\"p50\":" + fixed(b.p50_us, 0) + ",\"p99\":" + fixed(b.p99_us, 0) +
         ",\"max\":" + fixed(b.max_us, 0) + "}";
  out += ",\"connect_errors\":{";
  bool first = true;
  for (const auto& [name, count] : s.connect_errors) {
    if (!first) out += ",";
    first = false;
    out += json_string(name) + ":" + std::to_string(count);
  }
  return out + "}}\n";
}

}  // namespace ringest::crowd
