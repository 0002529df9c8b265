// DataDir: the on-disk layout under --data-dir.
//
//   DIR/ringestd.lock        flock'd while a server runs on DIR (one server per directory)
//   DIR/uploads/<id>.bin     upload bytes at their offsets (preallocated when the length is known)
//   DIR/uploads/<id>.rec     the durable record (engine/storage/upload_record.h)
//   DIR/uploads/<id>.parts   a final upload's parts for an operator: their data files' absolute
//                            paths in order, one a line (`cat $(cat <id>.parts)` is its bytes)
//   DIR/events/              the hook outbox (engine/hooks/outbox.h): delivered.mdb (LMDB: which
//                            events reached their sinks) and tombstones, the records of removed
//                            uploads kept until their last event is delivered:
//                            <id>.terminated, <id>.expired
//   DIR/quarantine/          uploads whose files failed their checks at start-up, set aside with
//                            a .reason file and re-checked at every start-up
//
// Every path is built from a validated upload id (32 lowercase hex) and fixed suffixes,
// relative to directory fds opened once; nothing a client sends reaches a path, and files are
// opened beneath these directories without following symlinks.
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "engine/base/status.h"

namespace ringest::storage {

class DataDir {
 public:
  DataDir() = default;
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;
  ~DataDir();

  // Creates the layout if missing and takes the lock. Fails if another server holds it.
  Status open(const std::string& path, std::string* error);

  int uploads_dir_fd() const { return uploads_fd_; }
  int quarantine_dir_fd() const { return quarantine_fd_; }
  // events/ (the hook outbox), made and opened only when hooks are configured.
  bool open_events(std::string* error);
  int events_dir_fd() const { return events_fd_; }
  const std::string& path() const { return path_; }
  // The uploads directory's absolute path (symlinks resolved when the directory was opened).
  const std::string& uploads_path() const { return uploads_path_; }

 private:
  std::string path_;
  std::string uploads_path_;
  int dir_fd_ = -1;
  int uploads_fd_ = -1;
  int quarantine_fd_ = -1;
  int events_fd_ = -1;
  int lock_fd_ = -1;
};

// The text of a final upload's `<id>.parts`: for each part id, in order,
// `<uploads_path>/<part id>.bin` and a newline.
std::string parts_file_text(std::string_view uploads_path, std::span<const std::string_view> ids);

}  // namespace ringest::storage
