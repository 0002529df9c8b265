// `ringest upload FILE URL`: resume a remembered upload or create one, then PATCH the file in
// chunks until the server has every byte, re-syncing with HEAD after any failure.
#pragma once

#include <string>

#include "tools/client/cli.h"
#include "tools/client/progress.h"
#include "tools/client/retry.h"
#include "tools/client/state_store.h"
#include "tools/client/tus_client.h"

namespace ringest::client {

class Uploader {
 public:
  Uploader(const Options& options, TusClient* tus, StateStore* state, Progress* progress);
  ~Uploader();
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Returns the process exit code; on success the upload URL was printed on stdout.
  int run();

 private:
  int open_file();
  // Sets url_ and offset_ from a live remembered upload, or from a new one.
  int resume_or_create();
  int create();
  int send_chunks();
  // After a failed PATCH: back off, ask the server for its offset, repeat while that fails.
  int resync(TusReply failed);
  // kExitOk, or kExitFileChanged (with a message) if the file is no longer what was keyed.
  int check_file_unchanged();
  // An answer that ends the upload: say why and return its exit code.
  int fail(const TusReply& reply);
  void remember();
  void forget();

  const Options& options_;
  TusClient* tus_;
  StateStore* state_;
  Progress* progress_;
  Backoff backoff_;
  int fd_ = -1;
  FileKey key_;
  std::string url_;
  uint64_t offset_ = 0;
};

}  // namespace ringest::client
