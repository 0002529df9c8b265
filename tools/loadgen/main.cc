// ringest-loadgen: N concurrent uploads of SIZE bytes against a server, one thread and one
// blocking socket per upload, bodies sent with sendfile(2) from one shared source file; then a
// SHA-256 check of every stored upload and a report (table or JSON). Exit 0 only when every
// upload was stored and verified; 1 on any error; 2 on bad usage. With --checksum, the digest
// of every request's bytes is computed once, before the measured phase (the uploads share them).
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <latch>
#include <optional>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "tools/loadgen/checksums.h"
#include "tools/loadgen/http_wire.h"
#include "tools/loadgen/options.h"
#include "tools/loadgen/proc_stats.h"
#include "tools/loadgen/report.h"
#include "tools/loadgen/source_file.h"
#include "tools/loadgen/upload.h"
#include "tools/loadgen/verify.h"

namespace ringest::loadgen {
namespace {

constexpr double kGiB = double(uint64_t{1} << 30);

// Runs fn(i) for i in [0, n) on n threads that start together, and waits for all of them.
// False when the threads could not be created (those that were are still released and joined).
template <typename Fn>
bool run_concurrently(size_t n, Fn fn, std::string* error) {
  std::latch go(1);
  std::vector<std::thread> threads;
  threads.reserve(n);
  bool ok = true;
  try {
    for (size_t i = 0; i < n; ++i) {
      threads.emplace_back([&go, &fn, i] {
        go.wait();
        fn(i);
      });
    }
  } catch (const std::system_error& e) {
    *error = std::string("cannot start thread: ") + e.what();
    ok = false;
  }
  go.count_down();
  for (auto& t : threads) t.join();
  return ok;
}

void report_error(const std::string& what, uint64_t* errors) {
  // Enough lines to diagnose, not one per upload when a thousand fail the same way.
  if (*errors < 10) std::fprintf(stderr, "ringest-loadgen: %s\n", what.c_str());
  if (*errors == 10) std::fprintf(stderr, "ringest-loadgen: (further errors not shown)\n");
  ++*errors;
}

int run(const Options& o) {
  std::string error;
  Endpoint endpoint;
  if (!resolve(o.url, &endpoint, &error)) {
    std::fprintf(stderr, "ringest-loadgen: %s\n", error.c_str());
    return 1;
  }
  SourceFile source;
  if (!source.open(o.source_path, o.bytes, &error)) {
    std::fprintf(stderr, "ringest-loadgen: source: %s\n", error.c_str());
    return 1;
  }
  // Before the measured phase: the client's hashing must neither slow the uploads nor compete
  // with the server for CPU. The report says how long it took.
  std::vector<std::string> checksums;
  double checksum_s = 0;
  if (!o.checksum.empty()) {
    auto t0 = Clock::now();
    if (!request_checksums(source.fd(), o.bytes, o.chunk_bytes, o.checksum, &checksums, &error)) {
      std::fprintf(stderr, "ringest-loadgen: %s\n", error.c_str());
      return 1;
    }
    checksum_s = std::chrono::duration<double>(Clock::now() - t0).count();
  }
  std::optional<double> server_cpu_before;
  if (o.server_pid) {
    server_cpu_before = process_cpu_seconds(o.server_pid);
    if (!server_cpu_before) {
      std::fprintf(stderr, "ringest-loadgen: cannot read /proc/%d/stat\n", o.server_pid);
      return 1;
    }
  }

  // Unique PUT names per run, so a rerun against the same server never overwrites or collides.
  auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  std::string name_prefix =
      "loadgen-" + std::to_string(getpid()) + "-" + std::to_string(now_ms) + "-";

  std::vector<UploadResult> results(o.uploads);
  double cpu_before = self_cpu_seconds();
  bool started = run_concurrently(
      o.uploads,
      [&](size_t i) {
        results[i] =
            run_upload(endpoint, o, source.fd(), name_prefix + std::to_string(i), checksums);
      },
      &error);
  double cpu_after = self_cpu_seconds();

  Summary s;
  s.url = o.url.text;
  s.protocol = o.protocol == Protocol::kTus ? "tus" : "put";
  s.uploads = o.uploads;
  s.bytes_each = o.bytes;
  s.chunk_bytes = o.chunk_bytes;
  s.checksum = o.checksum;
  s.checksum_requests = checksums.size();
  s.checksum_s = checksum_s;
  s.source_sha256 = source.sha256_hex();
  s.loadgen_cpu_s = cpu_after - cpu_before;
  if (!started) report_error(error, &s.errors);
  if (o.server_pid) {
    s.server_pid = o.server_pid;
    if (auto after = process_cpu_seconds(o.server_pid)) s.server_cpu_s = *after - *server_cpu_before;
    s.server_peak_rss_mib = process_peak_rss_mib(o.server_pid);
  }

  std::optional<Clock::time_point> first, last;
  std::vector<double> seconds;
  for (const UploadResult& r : results) {
    if (r.start == Clock::time_point{}) continue;  // never ran (thread creation failed)
    if (!first || r.start < *first) first = r.start;
    if (!last || r.end > *last) last = r.end;
    if (!r.ok) {
      report_error(r.error, &s.errors);
      continue;
    }
    seconds.push_back(r.seconds());
    s.total_bytes += o.bytes;
  }
  if (first) s.wall_s = std::chrono::duration<double>(*last - *first).count();
  if (s.wall_s > 0) {
    s.throughput_mbps = static_cast<double>(s.total_bytes) / s.wall_s / 1e6;
    s.throughput_mibps = static_cast<double>(s.total_bytes) / s.wall_s / double(1 << 20);
  }
  s.upload_s_p50 = percentile(seconds, 0.50);
  s.upload_s_p99 = percentile(seconds, 0.99);
  s.upload_s_max = percentile(seconds, 1.0);
  if (s.server_cpu_s && s.total_bytes > 0)
    s.server_cpu_s_per_gib = *s.server_cpu_s / (static_cast<double>(s.total_bytes) / kGiB);

  // Verification after the measured phase, so hashing never competes with the uploads.
  std::vector<std::string> verify_errors(o.uploads);
  std::vector<char> verified(o.uploads, 0);
  double verify_cpu_before = self_cpu_seconds();
  std::string verify_start_error;
  if (o.no_verify) {
    std::fputs(o.json ? format_json(s).c_str() : format_table(s).c_str(), stdout);
    std::fflush(stdout);
    return s.errors == 0 ? 0 : 1;
  }
  if (!run_concurrently(
          o.uploads,
          [&](size_t i) {
            if (!results[i].ok) return;
            verified[i] = verify_upload(endpoint, o.timeout_s, results[i].target, o.bytes,
                                        source.sha256_hex(), &verify_errors[i]);
          },
          &verify_start_error)) {
    report_error(verify_start_error, &s.errors);
  }
  s.loadgen_verify_cpu_s = self_cpu_seconds() - verify_cpu_before;
  for (size_t i = 0; i < o.uploads; ++i) {
    if (verified[i]) {
      ++s.verified;
    } else if (results[i].ok) {
      report_error("verify: " + verify_errors[i], &s.errors);
    }
  }

  std::fputs(o.json ? format_json(s).c_str() : format_table(s).c_str(), stdout);
  std::fflush(stdout);
  return s.errors == 0 && s.verified == s.uploads ? 0 : 1;
}

}  // namespace
}  // namespace ringest::loadgen

int main(int argc, char** argv) {
  using namespace ringest::loadgen;
  ParseResult parsed = parse_options(argc, argv);
  if (parsed.kind == ParseResult::Kind::kHelp) {
    std::fputs(usage_text(), stdout);
    return 0;
  }
  if (parsed.kind == ParseResult::Kind::kError) {
    std::fprintf(stderr, "ringest-loadgen: %s\n%s", parsed.error.c_str(), usage_text());
    return 2;
  }
  // A server that closes mid-body must surface as EPIPE from send/sendfile, not kill us.
  signal(SIGPIPE, SIG_IGN);
  return run(parsed.options);
}
