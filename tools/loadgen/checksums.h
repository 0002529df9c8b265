// --checksum: the tus Upload-Checksum value of every request an upload sends, computed by the
// client from the source file before the measured phase. Every upload sends the same bytes at
// the same offsets, so one pass serves them all, and the client's hashing never competes with
// the uploads for CPU (the server's hashing is what the benchmark measures).
//
// Independent of the server's code on purpose: sha1, sha256 and md5 through OpenSSL's EVP
// interface, crc32 and crc32c through a table (slice-by-8) here, base64 through OpenSSL; so a
// server that accepts these digests agrees with an implementation that is not its own.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ringest::loadgen {

// For each request i of an upload, the header value "<algorithm> <base64 digest>" of bytes
// [i * request_bytes, min((i + 1) * request_bytes, total_bytes)) of `fd` (read with pread).
// `algorithm` is one of kChecksumAlgorithms (options.h).
// request_bytes 0: one request of total_bytes. False with *error on a read failure.
bool request_checksums(int fd, uint64_t total_bytes, uint64_t request_bytes,
                       const std::string& algorithm, std::vector<std::string>* values,
                       std::string* error);

}  // namespace ringest::loadgen
