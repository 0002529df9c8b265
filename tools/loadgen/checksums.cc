#include "tools/loadgen/checksums.h"

#include <openssl/evp.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

namespace ringest::loadgen {
namespace {

constexpr size_t kReadBlock = size_t{1} << 20;

// Reflected CRC-32, slice-by-8 (about 1-2 GB/s: plenty for a pass before the measured phase).
class CrcTable {
 public:
  explicit constexpr CrcTable(uint32_t poly) {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ poly : c >> 1;
      t_[0][i] = c;
    }
    for (int k = 1; k < 8; ++k) {
      for (uint32_t i = 0; i < 256; ++i)
        t_[k][i] = (t_[k - 1][i] >> 8) ^ t_[0][t_[k - 1][i] & 0xFF];
    }
  }

  // `reg` is the inverted register (~0 before any byte).
  uint32_t update(uint32_t reg, const unsigned char* p, size_t n) const {
    while (n >= 8) {
      uint32_t lo = reg ^ (uint32_t{p[0]} | uint32_t{p[1]} << 8 | uint32_t{p[2]} << 16 |
                           uint32_t{p[3]} << 24);
      uint32_t hi =
          uint32_t{p[4]} | uint32_t{p[5]} << 8 | uint32_t{p[6]} << 16 | uint32_t{p[7]} << 24;
      reg = t_[7][lo & 0xFF] ^ t_[6][(lo >> 8) & 0xFF] ^ t_[5][(lo >> 16) & 0xFF] ^
            t_[4][lo >> 24] ^ t_[3][hi & 0xFF] ^ t_[2][(hi >> 8) & 0xFF] ^
            t_[1][(hi >> 16) & 0xFF] ^ t_[0][hi >> 24];
      p += 8;
      n -= 8;
    }
    while (n--) reg = t_[0][(reg ^ *p++) & 0xFF] ^ (reg >> 8);
    return reg;
  }

 private:
  std::array<std::array<uint32_t, 256>, 8> t_{};
};

constexpr CrcTable kCrc32(0xEDB88320u);   // IEEE (gzip, zlib)
constexpr CrcTable kCrc32c(0x82F63B78u);  // Castagnoli

const EVP_MD* evp_for(std::string_view name) {
  if (name == "sha1") return EVP_sha1();
  if (name == "sha256") return EVP_sha256();
  if (name == "md5") return EVP_md5();
  return nullptr;
}

const CrcTable* crc_for(std::string_view name) {
  if (name == "crc32") return &kCrc32;
  if (name == "crc32c") return &kCrc32c;
  return nullptr;
}

struct EvpDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// One digest in progress, of either kind.
class Hasher {
 public:
  bool begin(std::string_view algorithm) {
    crc_ = crc_for(algorithm);
    reg_ = ~0u;
    if (crc_) return true;
    const EVP_MD* md = evp_for(algorithm);
    if (!md) return false;
    if (!ctx_) ctx_.reset(EVP_MD_CTX_new());
    return ctx_ && EVP_DigestInit_ex(ctx_.get(), md, nullptr) == 1;
  }

  void update(const unsigned char* p, size_t n) {
    if (crc_) {
      reg_ = crc_->update(reg_, p, n);
    } else {
      EVP_DigestUpdate(ctx_.get(), p, n);
    }
  }

  std::string finish() {
    if (crc_) {
      uint32_t v = ~reg_;
      const char be[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                          static_cast<char>(v >> 8), static_cast<char>(v)};
      return std::string(be, 4);
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned length = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), digest, &length) != 1) return {};
    return std::string(reinterpret_cast<char*>(digest), length);
  }

 private:
  const CrcTable* crc_ = nullptr;
  uint32_t reg_ = ~0u;
  std::unique_ptr<EVP_MD_CTX, EvpDeleter> ctx_;
};

std::string base64(const std::string& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');  // EVP_EncodeBlock adds a NUL
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()),
                          static_cast<int>(bytes.size()));
  out.resize(n < 0 ? 0 : static_cast<size_t>(n));
  return out;
}

}  // namespace

bool request_checksums(int fd, uint64_t total_bytes, uint64_t request_bytes,
                       const std::string& algorithm, std::vector<std::string>* values,
                       std::string* error) {
  if (request_bytes == 0) request_bytes = total_bytes;
  values->clear();
  std::vector<unsigned char> buf(kReadBlock);
  Hasher h;
  for (uint64_t start = 0; start < total_bytes; start += request_bytes) {
    const uint64_t end = std::min(total_bytes, start + request_bytes);
    if (!h.begin(algorithm)) {
      *error = "checksum: cannot start " + algorithm;
      return false;
    }
    for (uint64_t at = start; at < end;) {
      size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end - at));
      ssize_t n = pread(fd, buf.data(), want, static_cast<off_t>(at));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = "checksum: read at " + std::to_string(at) + ": " +
                 (n == 0 ? std::string("unexpected end of file") : std::strerror(errno));
        return false;
      }
      h.update(buf.data(), static_cast<size_t>(n));
      at += static_cast<uint64_t>(n);
    }
    std::string digest = h.finish();
    if (digest.empty()) {
      *error = "checksum: " + algorithm + " failed";
      return false;
    }
    values->push_back(algorithm + " " + base64(digest));
  }
  return true;
}

}  // namespace ringest::loadgen
