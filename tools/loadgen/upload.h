// One upload from start to its last response: tus (creation-with-upload, or POST then PATCHes
// of --chunk-bytes) or a single PUT. Each runs on its own thread with its own blocking socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/loadgen/http_wire.h"
#include "tools/loadgen/options.h"

namespace ringest::loadgen {

using Clock = std::chrono::steady_clock;

struct UploadResult {
  bool ok = false;
  std::string target;  // path to GET the stored bytes back, e.g. "/files/<id>"
  std::string error;   // first failure, when !ok
  Clock::time_point start;
  Clock::time_point end;
  double seconds() const { return std::chrono::duration<double>(end - start).count(); }
};

// `name` is the PUT target name (ignored for tus, where the server picks the id).
// `checksums`: empty, or the Upload-Checksum value of each tus request with a body, in order
// (one per --chunk-bytes chunk; one for a single request), from request_checksums().
UploadResult run_upload(const Endpoint& endpoint, const Options& options, int source_fd,
                        const std::string& name, const std::vector<std::string>& checksums);

}  // namespace ringest::loadgen
