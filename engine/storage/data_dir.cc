#include "engine/storage/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace ringest::storage {
namespace {

int open_or_make_dir(int parent_fd, const char* name) {
  if (mkdirat(parent_fd, name, 0750) < 0 && errno != EEXIST) return -1;
  return openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

}  // namespace

DataDir::~DataDir() {
  for (int fd : {dir_fd_, uploads_fd_, quarantine_fd_, events_fd_, lock_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

Status DataDir::open(const std::string& path, std::string* error) {
  path_ = path;
  // mkdir -p for the data dir itself.
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      std::string prefix = path.substr(0, i);
      if (mkdir(prefix.c_str(), 0750) < 0 && errno != EEXIST) {
        *error = "cannot create " + prefix + ": " + std::strerror(errno);
        return Status::FromErrno(errno);
      }
    }
  }
  dir_fd_ = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd_ < 0) {
    *error = "cannot open " + path + ": " + std::strerror(errno);
    return Status::FromErrno(errno);
  }
  lock_fd_ = openat(dir_fd_, "ringestd.lock", O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) < 0) {
    *error = "data dir " + path + " is in use by another ringestd (ringestd.lock)";
    return Status::FromErrno(EBUSY);
  }
  uploads_fd_ = open_or_make_dir(dir_fd_, "uploads");
  quarantine_fd_ = open_or_make_dir(dir_fd_, "quarantine");
  if (uploads_fd_ < 0 || quarantine_fd_ < 0) {
    *error = "cannot open uploads/ or quarantine/ under " + path + ": " + std::strerror(errno);
    return Status::FromErrno(errno);
  }
  // Absolute, for the paths the operator's manifests of final uploads list.
  char* real = realpath(path.c_str(), nullptr);
  uploads_path_ = std::string(real != nullptr ? real : path.c_str()) + "/uploads";
  free(real);
  fsync(dir_fd_);
  return Status::Ok();
}

bool DataDir::open_events(std::string* error) {
  if (events_fd_ >= 0) return true;
  events_fd_ = open_or_make_dir(dir_fd_, "events");
  if (events_fd_ < 0) {
    *error = "cannot open events/ under " + path_ + ": " + std::strerror(errno);
    return false;
  }
  fsync(dir_fd_);  // the new directory's entry
  return true;
}

std::string parts_file_text(std::string_view uploads_path, std::span<const std::string_view> ids) {
  std::string text;
  text.reserve(ids.size() * (uploads_path.size() + 38));
  for (std::string_view id : ids) {
    text += uploads_path;
    text += '/';
    text += id;
    text += ".bin\n";
  }
  return text;
}

}  // namespace ringest::storage
