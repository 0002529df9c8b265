#include "tools/client/offset_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>

namespace ringest::client {

OffsetLog::~OffsetLog() {
  if (fd_ >= 0) ::close(fd_);
}

bool OffsetLog::open(const std::string& path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  return fd_ >= 0;
}

void OffsetLog::record(long status, const std::string& method, const std::string& url,
                       uint64_t offset) {
  if (fd_ < 0) return;
  auto now = std::chrono::system_clock::now().time_since_epoch();
  long long ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count();
  std::string line = std::to_string(ms) + ' ' + std::to_string(status) + ' ' + method + ' ' + url +
                     ' ' + std::to_string(offset) + '\n';
  // Best effort: the log is evidence for tests, never a reason to fail an upload.
  [[maybe_unused]] ssize_t n = ::write(fd_, line.data(), line.size());
}

}  // namespace ringest::client
