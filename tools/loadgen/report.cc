#include "tools/loadgen/report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace ringest::loadgen {

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, v);
  return buf;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

namespace {

std::string opt_fixed(const std::optional<double>& v, int digits, const char* none) {
  return v ? fixed(*v, digits) : none;
}

std::string row(const char* name, const std::string& value) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "  %-24s %s\n", name, value.c_str());
  return buf;
}

}  // namespace

double percentile(std::vector<double> samples, double p) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<size_t>(std::ceil(p * static_cast<double>(samples.size())));
  return samples[std::clamp<size_t>(rank, 1, samples.size()) - 1];
}

std::string format_table(const Summary& s) {
  std::string out = "ringest-loadgen " + s.url + "\n";
  out += row("protocol", s.protocol + (s.chunk_bytes ? " (chunks of " +
                                           std::to_string(s.chunk_bytes) + " bytes)"
                                                     : " (one request per upload)"));
  if (!s.checksum.empty()) {
    out += row("Upload-Checksum", s.checksum + " per request (" +
                                      std::to_string(s.checksum_requests) + " digests in " +
                                      fixed(s.checksum_s, 3) + " s, before the uploads)");
  }
  out += row("uploads x bytes", std::to_string(s.uploads) + " x " + std::to_string(s.bytes_each));
  out += row("total bytes", std::to_string(s.total_bytes));
  out += row("wall s", fixed(s.wall_s, 3));
  out += row("throughput", fixed(s.throughput_mbps, 1) + " MB/s  (" +
                               fixed(s.throughput_mibps, 1) + " MiB/s)");
  out += row("upload s p50/p99/max", fixed(s.upload_s_p50, 3) + " / " + fixed(s.upload_s_p99, 3) +
                                         " / " + fixed(s.upload_s_max, 3));
  out += row("errors", std::to_string(s.errors));
  out += row("verified (SHA-256)", std::to_string(s.verified) + " of " + std::to_string(s.uploads));
  if (s.server_pid) {
    out += row("server pid", std::to_string(*s.server_pid));
    out += row("server CPU s", opt_fixed(s.server_cpu_s, 2, "n/a"));
    out += row("server CPU s per GiB", opt_fixed(s.server_cpu_s_per_gib, 3, "n/a"));
    out += row("server peak RSS MiB", opt_fixed(s.server_peak_rss_mib, 1, "n/a"));
  }
  out += row("loadgen CPU s", fixed(s.loadgen_cpu_s, 2) + " (upload), " +
                                  fixed(s.loadgen_verify_cpu_s, 2) + " (verify)");
  return out;
}

std::string format_json(const Summary& s) {
  auto num = [](double v) { return fixed(v, 6); };
  auto opt = [&](const std::optional<double>& v) { return v ? num(*v) : std::string("null"); };
  std::string out = "{";
  out += "\"url\":" + json_string(s.url);
  out += ",\"protocol\":" + json_string(s.protocol);
  out += ",\"uploads\":" + std::to_string(s.uploads);
  out += ",\"bytes_each\":" + std::to_string(s.bytes_each);
  out += ",\"chunk_bytes\":" + std::to_string(s.chunk_bytes);
  out += ",\"checksum\":" + (s.checksum.empty() ? std::string("null") : json_string(s.checksum));
  out += ",\"checksum_requests\":" + std::to_string(s.checksum_requests);
  out += ",\"checksum_s\":" + num(s.checksum_s);
  out += ",\"total_bytes\":" + std::to_string(s.total_bytes);
  out += ",\"wall_s\":" + num(s.wall_s);
  out += ",\"throughput_mbps\":" + num(s.throughput_mbps);
  out += ",\"throughput_mibps\":" + num(s.throughput_mibps);
  out += ",\"upload_s_p50\":" + num(s.upload_s_p50);
  out += ",\"upload_s_p99\":" + num(s.upload_s_p99);
  out += ",\"upload_s_max\":" + num(s.upload_s_max);
  out += ",\"errors\":" + std::to_string(s.errors);
  out += ",\"verified\":" + std::to_string(s.verified);
  out += ",\"source_sha256\":" + json_string(s.source_sha256);
  out += ",\"server_pid\":" + (s.server_pid ? std::to_string(*s.server_pid) : "null");
  out += ",\"server_cpu_s\":" + opt(s.server_cpu_s);
  out += ",\"server_cpu_s_per_gib\":" + opt(s.server_cpu_s_per_gib);
  out += ",\"server_peak_rss_mib\":" + opt(s.server_peak_rss_mib);
  out += ",\"loadgen_cpu_s\":" + num(s.loadgen_cpu_s);
  out += ",\"loadgen_verify_cpu_s\":" + num(s.loadgen_verify_cpu_s);
  return out + "}\n";
}

}  // namespace ringest::loadgen
