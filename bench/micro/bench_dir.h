// Scratch files for the file benchmarks: one directory per process, made with mkdtemp under
// $TMPDIR (or /tmp) on first use and removed when the run ends. Each benchmark removes its own
// files when it returns, so an interrupted run leaves at most one directory behind.
#pragma once

#include <cstdint>
#include <string>

namespace ringest::bench {

// The directory (created on first call). Aborts the process if it cannot be created.
const std::string& bench_dir();
// Removes the directory if it was created (after the benchmarks ran).
void remove_bench_dir();
// Filesystem type of the directory where bench_dir() goes ("ext4", "tmpfs", ... or hex).
std::string bench_fs_type();

// A file in bench_dir(), opened O_RDWR | O_CREAT | O_TRUNC; unlinked and closed on destruction.
class TempFile {
 public:
  explicit TempFile(const char* name);
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile();

  int fd() const { return fd_; }
  const std::string& path() const { return path_; }
  // posix_fallocate(0, bytes); returns 0 or the error number.
  int allocate(uint64_t bytes);

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace ringest::bench
