// What a run measured, and its two renderings: a table for people, one JSON object for scripts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ringest::loadgen {

// Text helpers shared with ringest-crowd: a number with `digits` decimals, a JSON string literal.
std::string fixed(double v, int digits);
std::string json_string(const std::string& s);

struct Summary {
  std::string url;
  std::string protocol;
  uint64_t uploads = 0;
  uint64_t bytes_each = 0;
  uint64_t chunk_bytes = 0;  // 0: one request per upload
  std::string checksum;      // --checksum algorithm, empty for none
  uint64_t checksum_requests = 0;  // digests computed (one per request of an upload)
  double checksum_s = 0;           // wall time computing them, before the upload phase
  uint64_t total_bytes = 0;  // bytes of the uploads that succeeded
  double wall_s = 0;         // first request to last response
  double throughput_mbps = 0;   // 1e6 bytes/s
  double throughput_mibps = 0;  // 2^20 bytes/s
  double upload_s_p50 = 0;
  double upload_s_p99 = 0;
  double upload_s_max = 0;
  uint64_t errors = 0;
  uint64_t verified = 0;
  std::string source_sha256;
  std::optional<int> server_pid;
  std::optional<double> server_cpu_s;  // over the upload phase (wall_s)
  std::optional<double> server_cpu_s_per_gib;
  std::optional<double> server_peak_rss_mib;  // VmHWM at the end of the upload phase
  double loadgen_cpu_s = 0;         // upload phase only
  double loadgen_verify_cpu_s = 0;  // GET + SHA-256 of every upload
};

// Nearest-rank percentile (p in [0, 1]) of unsorted samples; 0 for none.
double percentile(std::vector<double> samples, double p);

std::string format_table(const Summary& s);
std::string format_json(const Summary& s);

}  // namespace ringest::loadgen
