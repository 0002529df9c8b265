#include "tools/loadgen/upload.h"

#include <algorithm>

namespace ringest::loadgen {
namespace {

constexpr const char* kTusBodyType = "application/offset+octet-stream";

// A request on a connection that reconnects when the previous answer said "close", and that
// still tries to read the server's answer when sending the body failed (a server may reject a
// request before its body, e.g. 413, and close: that status is the useful error, not EPIPE).
class Exchange {
 public:
  Exchange(const Endpoint& endpoint, int timeout_s) : conn_(endpoint, timeout_s) {}

  bool run(const std::string& head, int fd, uint64_t offset, uint64_t length, ResponseHead* out,
           std::string* error) {
    if (!conn_.is_open() && !conn_.connect(error)) return false;
    std::string send_error;
    bool sent = conn_.send_request(head, fd, offset, length, &send_error);
    std::string read_error;
    if (!conn_.read_head(out, &read_error)) {
      *error = sent ? read_error : send_error;
      conn_.close();
      return false;
    }
    // Drain the body so the connection can carry the next request.
    if (!conn_.read_body(*out, {}, &read_error)) {
      *error = read_error;
      conn_.close();
      return false;
    }
    if (out->close || !sent) conn_.close();
    if (!sent) {
      *error = send_error + " (server answered " + std::to_string(out->status) + ")";
      return false;
    }
    return true;
  }

 private:
  Connection conn_;
};

std::string status_error(const char* what, const ResponseHead& r) {
  return std::string(what) + " answered " + std::to_string(r.status);
}

// The Upload-Checksum header line of request `index`, or nothing without --checksum.
std::string checksum_line(const std::vector<std::string>& checksums, uint64_t index) {
  if (checksums.empty()) return {};
  return "\r\nUpload-Checksum: " + checksums.at(index);
}

bool tus_single(const Endpoint& ep, const Options& o, int fd,
                const std::vector<std::string>& checksums, Exchange& ex, UploadResult* res) {
  // creation-with-upload: the whole body rides on the POST, one request per upload.
  std::string head = "POST " + ep.base_path + "/files/ HTTP/1.1\r\nHost: " + ep.host_header +
                     "\r\nTus-Resumable: 1.0.0\r\nUpload-Length: " + std::to_string(o.bytes) +
                     "\r\nContent-Type: " + kTusBodyType + checksum_line(checksums, 0) +
                     "\r\nContent-Length: " + std::to_string(o.bytes) + "\r\n\r\n";
  ResponseHead r;
  if (!ex.run(head, fd, 0, o.bytes, &r, &res->error)) return false;
  if (r.status != 201 || r.location.empty()) {
    res->error = status_error("POST with body", r) + (r.status == 201 ? " without Location" : "");
    return false;
  }
  res->target = location_path(r.location, ep.base_path);
  if (r.upload_offset && *r.upload_offset != o.bytes) {
    res->error = "POST with body: Upload-Offset " + std::to_string(*r.upload_offset) + ", want " +
                 std::to_string(o.bytes);
    return false;
  }
  return true;
}

bool tus_chunked(const Endpoint& ep, const Options& o, int fd,
                 const std::vector<std::string>& checksums, Exchange& ex, UploadResult* res) {
  std::string post = "POST " + ep.base_path + "/files/ HTTP/1.1\r\nHost: " + ep.host_header +
                     "\r\nTus-Resumable: 1.0.0\r\nUpload-Length: " + std::to_string(o.bytes) +
                     "\r\nContent-Length: 0\r\n\r\n";
  ResponseHead r;
  if (!ex.run(post, fd, 0, 0, &r, &res->error)) return false;
  if (r.status != 201 || r.location.empty()) {
    res->error = status_error("POST", r) + (r.status == 201 ? " without Location" : "");
    return false;
  }
  res->target = location_path(r.location, ep.base_path);
  for (uint64_t offset = 0; offset < o.bytes;) {
    uint64_t n = std::min(o.chunk_bytes, o.bytes - offset);
    std::string patch = "PATCH " + res->target + " HTTP/1.1\r\nHost: " + ep.host_header +
                        "\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: " + std::to_string(offset) +
                        "\r\nContent-Type: " + kTusBodyType +
                        checksum_line(checksums, offset / o.chunk_bytes) +
                        "\r\nContent-Length: " + std::to_string(n) + "\r\n\r\n";
    if (!ex.run(patch, fd, offset, n, &r, &res->error)) {
      res->error = "PATCH at " + std::to_string(offset) + ": " + res->error;
      return false;
    }
    if (r.status != 204) {
      res->error = status_error(("PATCH at " + std::to_string(offset)).c_str(), r);
      return false;
    }
    if (r.upload_offset != offset + n) {
      res->error = "PATCH at " + std::to_string(offset) + ": Upload-Offset " +
                   (r.upload_offset ? std::to_string(*r.upload_offset) : "missing") + ", want " +
                   std::to_string(offset + n);
      return false;
    }
    offset += n;
  }
  return true;
}

bool put_single(const Endpoint& ep, const Options& o, int fd, const std::string& name,
                Exchange& ex, UploadResult* res) {
  res->target = ep.base_path + "/files/" + name;
  std::string head = "PUT " + res->target + " HTTP/1.1\r\nHost: " + ep.host_header +
                     "\r\nContent-Type: application/octet-stream\r\nContent-Length: " +
                     std::to_string(o.bytes) + "\r\n\r\n";
  ResponseHead r;
  if (!ex.run(head, fd, 0, o.bytes, &r, &res->error)) return false;
  if (r.status < 200 || r.status > 299) {
    res->error = status_error("PUT", r);
    return false;
  }
  return true;
}

}  // namespace

UploadResult run_upload(const Endpoint& endpoint, const Options& options, int source_fd,
                        const std::string& name, const std::vector<std::string>& checksums) {
  UploadResult res;
  res.start = Clock::now();
  Exchange ex(endpoint, options.timeout_s);
  if (options.protocol == Protocol::kPut) {
    res.ok = put_single(endpoint, options, source_fd, name, ex, &res);
  } else if (options.chunk_bytes == 0) {
    res.ok = tus_single(endpoint, options, source_fd, checksums, ex, &res);
  } else {
    res.ok = tus_chunked(endpoint, options, source_fd, checksums, ex, &res);
  }
  res.end = Clock::now();
  return res;
}

}  // namespace ringest::loadgen
