#include "bench/micro/bench_dir.h"

#include <fcntl.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace ringest::bench {
namespace {

std::string& dir_storage() {
  static std::string dir;
  return dir;
}

std::string base_dir() {
  const char* tmp = std::getenv("TMPDIR");
  return (tmp && *tmp) ? tmp : "/tmp";
}

}  // namespace

const std::string& bench_dir() {
  std::string& dir = dir_storage();
  if (dir.empty()) {
    std::string pattern = base_dir() + "/ringest-micro-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::fprintf(stderr, "mkdtemp(%s): %s\n", pattern.c_str(), std::strerror(errno));
      std::abort();
    }
    dir = pattern;
  }
  return dir;
}

void remove_bench_dir() {
  std::string& dir = dir_storage();
  if (dir.empty()) return;
  if (rmdir(dir.c_str()) != 0) {
    std::fprintf(stderr, "rmdir(%s): %s\n", dir.c_str(), std::strerror(errno));
  }
  dir.clear();
}

std::string bench_fs_type() {
  struct statfs st {};
  if (statfs(base_dir().c_str(), &st) != 0) return "unknown";
  switch (static_cast<unsigned long>(st.f_type)) {
    case 0xEF53:
      return "ext4";
    case 0x01021994:
      return "tmpfs";
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x794C7630:
      return "overlayfs";
    default:
      break;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(st.f_type));
  return buf;
}

TempFile::TempFile(const char* name) : path_(bench_dir() + "/" + name) {
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    std::fprintf(stderr, "open(%s): %s\n", path_.c_str(), std::strerror(errno));
    std::abort();
  }
}

TempFile::~TempFile() {
  ::unlink(path_.c_str());
  ::close(fd_);
}

int TempFile::allocate(uint64_t bytes) {
  return posix_fallocate(fd_, 0, static_cast<off_t>(bytes));
}

}  // namespace ringest::bench
