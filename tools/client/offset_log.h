// --log-offsets: one line per offset the server reports, appended as it arrives:
//   <unix_ms> <status> <method> <url> <offset>
// The crash-campaign test reads it to prove reported offsets never go backwards. Each line is
// one write(2) to an O_APPEND file, so it survives the client being killed right after, and
// lines of concurrent clients sharing the file do not interleave.
#pragma once

#include <cstdint>
#include <string>

namespace ringest::client {

class OffsetLog {
 public:
  OffsetLog() = default;  // disabled
  ~OffsetLog();
  OffsetLog(const OffsetLog&) = delete;
  OffsetLog& operator=(const OffsetLog&) = delete;

  // Opens (creating) `path` for appending; false with errno set on failure.
  bool open(const std::string& path);
  void record(long status, const std::string& method, const std::string& url, uint64_t offset);

 private:
  int fd_ = -1;
};

}  // namespace ringest::client
