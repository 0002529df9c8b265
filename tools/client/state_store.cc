#include "tools/client/state_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <sstream>

namespace ringest::client {
namespace {

constexpr const char* kHeader = "# ringest upload state v1: <size> <mtime_ns> <url> <path>\n";

std::string escape(const std::string& s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

std::optional<std::string> unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    unsigned value = 0;
    if (i + 2 >= s.size()) return std::nullopt;
    auto [ptr, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, value, 16);
    if (ec != std::errc() || ptr != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(value);
    i += 2;
  }
  return out;
}

std::string errno_text(const std::string& what, const std::string& path) {
  return what + " " + path + ": " + std::strerror(errno);
}

// mkdir -p of the directory holding `file`, private to the user: the state names their files.
bool make_parent_dirs(const std::string& file, std::string* error) {
  size_t slash = file.rfind('/');
  if (slash == std::string::npos || slash == 0) return true;
  std::string dir = file.substr(0, slash);
  for (size_t pos = 1; pos <= dir.size(); ++pos) {
    if (pos != dir.size() && dir[pos] != '/') continue;
    std::string prefix = dir.substr(0, pos);
    if (::mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
      *error = errno_text("cannot create directory", prefix);
      return false;
    }
  }
  return true;
}

// Closes a descriptor (and so drops its flock) on every path out of a function.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

 private:
  int fd_;
};

bool write_all(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

std::string StateStore::default_path() {
  const char* xdg = std::getenv("XDG_STATE_HOME");
  if (xdg != nullptr && xdg[0] == '/') return std::string(xdg) + "/ringest/uploads";
  const char* home = std::getenv("HOME");
  if (home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.local/state/ringest/uploads";
  }
  return {};
}

bool StateStore::read_entries(std::vector<Entry>* entries, std::string* error) const {
  entries->clear();
  int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return true;  // nothing remembered yet
    *error = errno_text("cannot read state file", path_);
    return false;
  }
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = errno_text("cannot read state file", path_);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  std::istringstream in(text);
  std::string line;
  // A line that does not parse is skipped, not an error: the file is only a cache of URLs, and
  // one bad line must not cost the others.
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    Entry e;
    std::string url, path;
    if (!(fields >> e.key.size >> e.key.mtime_ns >> url >> path)) continue;
    auto u = unescape(url);
    auto p = unescape(path);
    if (!u || !p) continue;
    e.url = *u;
    e.key.path = *p;
    entries->push_back(std::move(e));
  }
  return true;
}

bool StateStore::lookup(const FileKey& key, std::optional<std::string>* url,
                        std::string* error) const {
  url->reset();
  if (!enabled()) return true;
  // No lock: the file is only ever replaced whole by rename, so a reader sees old or new.
  std::vector<Entry> entries;
  if (!read_entries(&entries, error)) return false;
  for (const Entry& e : entries) {
    if (e.key == key) *url = e.url;  // the last one wins
  }
  return true;
}

bool StateStore::update(const std::function<bool(std::vector<Entry>*)>& change,
                        std::string* error) {
  if (!enabled()) return true;
  if (!make_parent_dirs(path_, error)) return false;
  std::string lock_path = path_ + ".lock";
  int lock_fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    *error = errno_text("cannot open", lock_path);
    return false;
  }
  FdCloser lock_closer(lock_fd);
  while (::flock(lock_fd, LOCK_EX) != 0) {
    if (errno != EINTR) {
      *error = errno_text("cannot lock", lock_path);
      return false;
    }
  }
  std::vector<Entry> entries;
  if (!read_entries(&entries, error)) return false;
  if (!change(&entries)) return true;

  std::string text = kHeader;
  for (const Entry& e : entries) {
    text += std::to_string(e.key.size) + ' ' + std::to_string(e.key.mtime_ns) + ' ' +
            escape(e.url) + ' ' + escape(e.key.path) + '\n';
  }
  std::string tmp_path = path_ + ".tmp." + std::to_string(::getpid());
  int fd = ::open(tmp_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = errno_text("cannot create", tmp_path);
    return false;
  }
  // fsync before rename: after a crash the file is the old one or the new one, never empty.
  bool ok = write_all(fd, text) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok || ::rename(tmp_path.c_str(), path_.c_str()) != 0) {
    if (ok) saved = errno;
    ::unlink(tmp_path.c_str());
    errno = saved;
    *error = errno_text("cannot write state file", path_);
    return false;
  }
  return true;
}

bool StateStore::remember(const FileKey& key, const std::string& url, std::string* error) {
  return update(
      [&](std::vector<Entry>* entries) {
        // One entry per path: an entry for an older version of this file (other size or
        // mtime) can never match again, so it goes rather than piling up.
        std::erase_if(*entries, [&](const Entry& e) { return e.key.path == key.path; });
        entries->push_back(Entry{key, url});
        return true;
      },
      error);
}

bool StateStore::forget(const FileKey& key, std::string* error) {
  return update(
      [&](std::vector<Entry>* entries) {
        return std::erase_if(*entries, [&](const Entry& e) { return e.key == key; }) > 0;
      },
      error);
}

bool StateStore::forget_url(const std::string& url, std::string* error) {
  return update(
      [&](std::vector<Entry>* entries) {
        return std::erase_if(*entries, [&](const Entry& e) { return e.url == url; }) > 0;
      },
      error);
}

}  // namespace ringest::client
