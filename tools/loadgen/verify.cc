#include "tools/loadgen/verify.h"

#include <openssl/evp.h>

#include <memory>

#include "tools/loadgen/source_file.h"

namespace ringest::loadgen {

bool verify_upload(const Endpoint& endpoint, int timeout_s, const std::string& target,
                   uint64_t bytes, const std::string& expected_hex, std::string* error) {
  Connection conn(endpoint, timeout_s);
  if (!conn.connect(error)) return false;
  std::string head = "GET " + target + " HTTP/1.1\r\nHost: " + endpoint.host_header +
                     "\r\nConnection: close\r\n\r\n";
  ResponseHead r;
  if (!conn.send_request(head, -1, 0, 0, error) || !conn.read_head(&r, error)) return false;
  if (r.status != 200) {
    *error = "GET " + target + " answered " + std::to_string(r.status);
    return false;
  }
  if (r.content_length && *r.content_length != bytes) {
    *error = "GET " + target + ": Content-Length " + std::to_string(*r.content_length) +
             ", want " + std::to_string(bytes);
    return false;
  }
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    *error = "EVP SHA-256 unavailable";
    return false;
  }
  // Streamed: each received span is hashed and dropped, so memory stays at one receive buffer.
  uint64_t received = 0;
  auto sink = [&](const unsigned char* data, size_t n) {
    EVP_DigestUpdate(ctx.get(), data, n);
    received += n;
  };
  if (!conn.read_body(r, sink, error)) {
    *error = "GET " + target + ": " + *error;
    return false;
  }
  if (received != bytes) {
    *error = "GET " + target + ": " + std::to_string(received) + " bytes, want " +
             std::to_string(bytes);
    return false;
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned length = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &length);
  std::string got = to_hex(digest, length);
  if (got != expected_hex) {
    *error = "GET " + target + ": SHA-256 " + got + ", want " + expected_hex;
    return false;
  }
  return true;
}

}  // namespace ringest::loadgen
