// The bytes every upload sends: a file the kernel can sendfile(2) from, and the SHA-256 of its
// first `bytes` bytes, computed once so verification compares against a known answer.
#pragma once

#include <cstdint>
#include <string>

namespace ringest::loadgen {

class SourceFile {
 public:
  SourceFile() = default;
  ~SourceFile();
  SourceFile(const SourceFile&) = delete;
  SourceFile& operator=(const SourceFile&) = delete;

  // `path` empty: a temporary file of `bytes` pseudo-random bytes under $TMPDIR (or /tmp),
  // unlinked at once so it disappears at exit however the process ends. Otherwise `path` must
  // hold at least `bytes` bytes. False with *error on failure.
  bool open(const std::string& path, uint64_t bytes, std::string* error);

  int fd() const { return fd_; }
  const std::string& sha256_hex() const { return sha256_hex_; }

 private:
  bool create_random(uint64_t bytes, std::string* error);
  bool hash_existing(uint64_t bytes, std::string* error);

  int fd_ = -1;
  std::string sha256_hex_;
};

// Lowercase hex of a digest.
std::string to_hex(const unsigned char* digest, unsigned length);

}  // namespace ringest::loadgen
