// DataDir: the on-disk layout under --data-dir, and recovery at start-up.
//
//   DIR/ringestd.lock        flock'd while a server runs on DIR (one server per directory)
//   DIR/uploads/<id>.bin     upload bytes at their offsets (preallocated to Upload-Length)
//   DIR/uploads/<id>.rec     the durable record (engine/storage/upload_record.h)
//   DIR/quarantine/          records that failed their checks, set aside with a .reason file
//
// Every path is built from a validated upload id (32 lowercase hex) and fixed suffixes,
// relative to directory fds opened once; nothing a client sends reaches a path.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/base/status.h"
#include "engine/storage/upload_record.h"

namespace ringest::storage {

struct UploadFiles {
  int data_fd = -1;    // buffered: reads (GET), recovery, fdatasync
  int direct_fd = -1;  // the same file opened O_DIRECT, or -1 (buffered mode / unsupported)
  int record_fd = -1;
};

// The header of a recovered record, copied out of the record's bytes.
struct RecoveredHeader {
  uint16_t version = 0;
  Protocol protocol = Protocol::kUnknown;
  bool length_deferred = false;
  std::string id;
  uint64_t created_unix_ms = 0;
  uint64_t declared_length = 0;
  std::vector<uint8_t> metadata;  // as stored: read with MetadataReader(version, metadata)
};

struct RecoveredUpload {
  RecoveredHeader header;
  CommitSlot state;
  UploadFiles files;
};

struct RecoveryReport {
  std::vector<RecoveredUpload> uploads;
  int quarantined = 0;
  int orphans_removed = 0;
};

class DataDir {
 public:
  DataDir() = default;
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;
  ~DataDir();

  // Creates the layout if missing and takes the lock. Fails if another server holds it.
  // `direct`: also open data files with O_DIRECT where the filesystem supports it.
  Status open(const std::string& path, bool direct, std::string* error);

  // Creates both files of a new upload (O_EXCL) and preallocates the data file. On failure
  // nothing is left behind.
  Result<UploadFiles> create_upload_files(const std::string& id, uint64_t length);
  void remove_upload_files(const std::string& id);

  // Scans uploads/: returns every upload whose record checks out and whose data file is
  // present and long enough; sets everything else aside in quarantine/ and logs why.
  RecoveryReport recover();

  int uploads_dir_fd() const { return uploads_fd_; }
  const std::string& path() const { return path_; }

 private:
  void quarantine(const std::string& id, const char* reason);
  int open_direct(const std::string& id);

  std::string path_;
  int dir_fd_ = -1;
  int uploads_fd_ = -1;
  int quarantine_fd_ = -1;
  int lock_fd_ = -1;
  bool direct_ = false;
};

}  // namespace ringest::storage
