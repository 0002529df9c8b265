#include "tools/loadgen/source_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

namespace ringest::loadgen {
namespace {

constexpr size_t kBlock = size_t{1} << 20;

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
using Digest = std::unique_ptr<EVP_MD_CTX, DigestDeleter>;

Digest new_sha256() {
  Digest ctx(EVP_MD_CTX_new());
  if (ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) ctx.reset();
  return ctx;
}

std::string finish_hex(EVP_MD_CTX* ctx) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  if (EVP_DigestFinal_ex(ctx, digest, &length) != 1) return {};
  return to_hex(digest, length);
}

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

}  // namespace

std::string to_hex(const unsigned char* digest, unsigned length) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(length * 2);
  for (unsigned i = 0; i < length; ++i) {
    out.push_back(kHex[digest[i] >> 4]);
    out.push_back(kHex[digest[i] & 15]);
  }
  return out;
}

SourceFile::~SourceFile() {
  if (fd_ >= 0) ::close(fd_);
}

bool SourceFile::open(const std::string& path, uint64_t bytes, std::string* error) {
  if (path.empty()) return create_random(bytes, error);
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) {
    *error = errno_text(("open " + path).c_str());
    return false;
  }
  struct stat st;
  if (fstat(fd_, &st) < 0 || static_cast<uint64_t>(st.st_size) < bytes) {
    *error = path + " is shorter than --bytes";
    return false;
  }
  return hash_existing(bytes, error);
}

bool SourceFile::create_random(uint64_t bytes, std::string* error) {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/ringest-loadgen-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd_ = mkostemp(name.data(), O_CLOEXEC);
  if (fd_ < 0) {
    *error = errno_text(("mkstemp " + pattern).c_str());
    return false;
  }
  // Unlinked now: the open descriptor keeps the data for sendfile, and no exit path leaks it.
  ::unlink(name.data());

  // One MiB of real randomness, then every MiB block is that base with its block number xored
  // into each 64-bit word: no two blocks are alike (so nothing can dedupe or compress them) and
  // the cost is a pass over memory, not a random generator per byte.
  std::vector<uint64_t> base(kBlock / sizeof(uint64_t));
  std::vector<uint64_t> block(base.size());
  auto* raw = reinterpret_cast<unsigned char*>(base.data());
  for (size_t got = 0; got < kBlock;) {
    ssize_t n = getrandom(raw + got, kBlock - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = errno_text("getrandom");
      return false;
    }
    got += static_cast<size_t>(n);
  }
  Digest ctx = new_sha256();
  if (!ctx) {
    *error = "EVP SHA-256 unavailable";
    return false;
  }
  for (uint64_t offset = 0, index = 0; offset < bytes; offset += kBlock, ++index) {
    for (size_t w = 0; w < base.size(); ++w) block[w] = base[w] ^ index;
    size_t n = bytes - offset < kBlock ? static_cast<size_t>(bytes - offset) : kBlock;
    const auto* p = reinterpret_cast<const unsigned char*>(block.data());
    // Hash while the block is still in cache: the expected digest costs no second read.
    EVP_DigestUpdate(ctx.get(), p, n);
    for (size_t done = 0; done < n;) {
      ssize_t w = ::pwrite(fd_, p + done, n - done, static_cast<off_t>(offset + done));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) {
        *error = errno_text("pwrite source file");
        return false;
      }
      done += static_cast<size_t>(w);
    }
  }
  sha256_hex_ = finish_hex(ctx.get());
  return !sha256_hex_.empty();
}

bool SourceFile::hash_existing(uint64_t bytes, std::string* error) {
  Digest ctx = new_sha256();
  if (!ctx) {
    *error = "EVP SHA-256 unavailable";
    return false;
  }
  std::vector<unsigned char> buf(kBlock);
  for (uint64_t offset = 0; offset < bytes;) {
    size_t want = bytes - offset < kBlock ? static_cast<size_t>(bytes - offset) : kBlock;
    ssize_t n = ::pread(fd_, buf.data(), want, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      *error = n == 0 ? "source file ended early" : errno_text("read source file");
      return false;
    }
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n));
    offset += static_cast<uint64_t>(n);
  }
  sha256_hex_ = finish_hex(ctx.get());
  return !sha256_hex_.empty();
}

}  // namespace ringest::loadgen
