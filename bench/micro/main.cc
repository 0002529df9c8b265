// ringest_micro_bench: Google Benchmark's main plus run context (kernel, scratch filesystem)
// and removal of the scratch directory afterwards.
#include <benchmark/benchmark.h>
#include <sys/utsname.h>

#include <cstdlib>

#include "bench/micro/bench_dir.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  utsname u{};
  if (uname(&u) == 0) benchmark::AddCustomContext("kernel", u.release);
  const char* tmp = std::getenv("TMPDIR");
  benchmark::AddCustomContext("scratch_dir", (tmp && *tmp) ? tmp : "/tmp");
  benchmark::AddCustomContext("scratch_fs", ringest::bench::bench_fs_type());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  ringest::bench::remove_bench_dir();
  return 0;
}
