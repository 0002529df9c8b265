// Remembers the upload URL of each unfinished upload so a restarted client resumes it.
//
// The key is the file's absolute path (symlinks resolved) + size + modification time in
// nanoseconds: a file that was edited, replaced or appended to no longer matches and is uploaded
// anew instead of resuming an upload of different bytes. The file is text, one entry a line,
//   <size> <mtime_ns> <url> <path>
// with url and path %-escaped (bytes <= 0x20, >= 0x7f and '%') so every field is one word.
// There is one entry per path: remembering a new upload for a path drops any older entry for
// it. Updates take an exclusive flock on "<file>.lock" and replace the file by rename, so clients
// running side by side do not lose each other's entries and a crash never leaves a torn file.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace ringest::client {

struct FileKey {
  std::string path;
  uint64_t size = 0;
  int64_t mtime_ns = 0;
  bool operator==(const FileKey&) const = default;
};

class StateStore {
 public:
  // An empty path disables the store: lookups find nothing and updates do nothing.
  explicit StateStore(std::string path) : path_(std::move(path)) {}

  // $XDG_STATE_HOME/ringest/uploads if XDG_STATE_HOME is an absolute path, else
  // $HOME/.local/state/ringest/uploads; empty if neither is set.
  static std::string default_path();

  const std::string& path() const { return path_; }
  bool enabled() const { return !path_.empty(); }

  // Each returns false and fills `error` when the file cannot be read or written; callers treat
  // that as "resume across restarts unavailable", never as a failed upload.
  bool lookup(const FileKey& key, std::optional<std::string>* url, std::string* error) const;
  bool remember(const FileKey& key, const std::string& url, std::string* error);
  bool forget(const FileKey& key, std::string* error);
  bool forget_url(const std::string& url, std::string* error);

 private:
  struct Entry {
    FileKey key;
    std::string url;
  };
  bool read_entries(std::vector<Entry>* entries, std::string* error) const;
  // Runs `change` on the entries under the lock and writes them back if it returns true.
  bool update(const std::function<bool(std::vector<Entry>*)>& change, std::string* error);

  std::string path_;
};

}  // namespace ringest::client
