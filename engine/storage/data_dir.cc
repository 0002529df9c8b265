#include "engine/storage/data_dir.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/base/log.h"
#include "engine/storage/upload_id.h"

namespace ringest::storage {
namespace {

int open_or_make_dir(int parent_fd, const char* name) {
  if (mkdirat(parent_fd, name, 0750) < 0 && errno != EEXIST) return -1;
  return openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

bool read_whole(int fd, std::vector<uint8_t>* out) {
  struct stat st {};
  if (fstat(fd, &st) < 0) return false;
  if (st.st_size > static_cast<off_t>(kHeaderOffset + kHeaderFixedBytes + kMaxMetadataBytes)) {
    return false;
  }
  out->resize(static_cast<size_t>(st.st_size));
  size_t got = 0;
  while (got < out->size()) {
    ssize_t n = pread(fd, out->data() + got, out->size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

DataDir::~DataDir() {
  for (int fd : {dir_fd_, uploads_fd_, quarantine_fd_, lock_fd_}) {
    if (fd >= 0) ::close(fd);
  }
}

int DataDir::open_direct(const std::string& id) {
  if (!direct_) return -1;
  // tmpfs and some other filesystems refuse O_DIRECT (EINVAL): such uploads stay buffered.
  return openat(uploads_fd_, (id + ".bin").c_str(), O_RDWR | O_DIRECT | O_CLOEXEC);
}

Status DataDir::open(const std::string& path, bool direct, std::string* error) {
  path_ = path;
  direct_ = direct;
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
  lock_fd_ = openat(dir_fd_, "ringestd.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) < 0) {
    *error = "data dir " + path + " is in use by another ringestd (ringestd.lock)";
    return Status::FromErrno(EBUSY);
  }
  uploads_fd_ = open_or_make_dir(dir_fd_, "uploads");
  quarantine_fd_ = open_or_make_dir(dir_fd_, "quarantine");
  if (uploads_fd_ < 0 || quarantine_fd_ < 0) {
    *error = "cannot create uploads/ or quarantine/ under " + path + ": " + std::strerror(errno);
    return Status::FromErrno(errno);
  }
  fsync(dir_fd_);
  return Status::Ok();
}

Result<UploadFiles> DataDir::create_upload_files(const std::string& id, uint64_t length) {
  std::string bin = id + ".bin";
  std::string rec = id + ".rec";
  UploadFiles files;
  files.data_fd = openat(uploads_fd_, bin.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (files.data_fd < 0) return Status::FromErrno(errno);
  int err = 0;
  if (length > 0) {
    // Reserve the space now: a full disk is a 507 at creation, not halfway through.
    int rc = posix_fallocate(files.data_fd, 0, static_cast<off_t>(length));
    if (rc == EOPNOTSUPP || rc == EINVAL) {
      rc = ftruncate(files.data_fd, static_cast<off_t>(length)) < 0 ? errno : 0;
    }
    err = rc;
  }
  if (err == 0) {
    files.record_fd = openat(uploads_fd_, rec.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (files.record_fd < 0) err = errno;
  }
  if (err == 0) files.direct_fd = open_direct(id);
  if (err != 0) {
    ::close(files.data_fd);
    unlinkat(uploads_fd_, bin.c_str(), 0);
    if (files.record_fd >= 0) {
      ::close(files.record_fd);
      unlinkat(uploads_fd_, rec.c_str(), 0);
    }
    return Status::FromErrno(err);
  }
  return files;
}

void DataDir::remove_upload_files(const std::string& id) {
  // The record goes first: a crash in between leaves an orphan .bin, which recovery removes.
  // The directory sync makes a 204 to DELETE stick across a crash.
  unlinkat(uploads_fd_, (id + ".rec").c_str(), 0);
  unlinkat(uploads_fd_, (id + ".bin").c_str(), 0);
  fsync(uploads_fd_);
}

void DataDir::quarantine(const std::string& id, const char* reason) {
  for (const char* suffix : {".rec", ".bin"}) {
    std::string name = id + suffix;
    if (renameat(uploads_fd_, name.c_str(), quarantine_fd_, name.c_str()) < 0 && errno != ENOENT) {
      RINGEST_LOG_ERROR("recovery: cannot move %s to quarantine: %s", name.c_str(),
                        std::strerror(errno));
    }
  }
  int fd = openat(quarantine_fd_, (id + ".reason").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  0640);
  if (fd >= 0) {
    ssize_t ignored = write(fd, reason, std::strlen(reason));
    (void)ignored;
    ::close(fd);
  }
  RINGEST_LOG_WARN("recovery: upload %s set aside in quarantine/: %s", id.c_str(), reason);
}

RecoveryReport DataDir::recover() {
  RecoveryReport report;
  int scan_fd = dup(uploads_fd_);
  DIR* dir = fdopendir(scan_fd);
  if (!dir) {
    ::close(scan_fd);
    return report;
  }
  std::vector<std::string> records, datas;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name.size() == kUploadIdChars + 4) {
      std::string id = name.substr(0, kUploadIdChars);
      std::string suffix = name.substr(kUploadIdChars);
      if (is_valid_upload_id(id) && suffix == ".rec") records.push_back(id);
      if (is_valid_upload_id(id) && suffix == ".bin") datas.push_back(id);
    }
  }
  closedir(dir);
  for (const std::string& id : datas) {
    bool has_record = false;
    for (const std::string& r : records) has_record |= (r == id);
    if (!has_record) {
      // A creation that never became durable was never acknowledged: drop its data file.
      unlinkat(uploads_fd_, (id + ".bin").c_str(), 0);
      ++report.orphans_removed;
    }
  }
  for (const std::string& id : records) {
    int record_fd = openat(uploads_fd_, (id + ".rec").c_str(), O_RDWR | O_CLOEXEC);
    std::vector<uint8_t> bytes;
    if (record_fd < 0 || !read_whole(record_fd, &bytes)) {
      if (record_fd >= 0) ::close(record_fd);
      quarantine(id, "record unreadable");
      ++report.quarantined;
      continue;
    }
    // What we read may exist only in the page cache (a crash between a slot write and its
    // fdatasync): make it durable before anything is reported from it.
    fdatasync(record_fd);
    DecodedRecord decoded = decode_record(bytes.data(), bytes.size(), id);
    if (decoded.error != RecordError::kOk) {
      ::close(record_fd);
      quarantine(id, record_error_name(decoded.error));
      ++report.quarantined;
      continue;
    }
    if (decoded.newest_slot_corrupt) {
      RINGEST_LOG_WARN(
          "recovery: upload %s: newest commit slot corrupt, fell back to the older one",
          id.c_str());
    }
    int data_fd = openat(uploads_fd_, (id + ".bin").c_str(), O_RDWR | O_CLOEXEC);
    struct stat st {};
    if (data_fd < 0 || fstat(data_fd, &st) < 0 ||
        static_cast<uint64_t>(st.st_size) < decoded.state.committed_offset) {
      if (data_fd >= 0) ::close(data_fd);
      ::close(record_fd);
      quarantine(id, "data file missing or shorter than the committed offset");
      ++report.quarantined;
      continue;
    }
    fdatasync(data_fd);
    const RecordHeaderView& h = decoded.header;
    RecoveredHeader header{h.version,
                           h.protocol,
                           h.length_deferred,
                           std::string(h.id),
                           h.created_unix_ms,
                           h.declared_length,
                           {h.metadata.begin(), h.metadata.end()}};
    report.uploads.push_back(
        {std::move(header), decoded.state, {data_fd, open_direct(id), record_fd}});
  }
  if (report.quarantined > 0 || report.orphans_removed > 0) {
    fsync(uploads_fd_);
    fsync(quarantine_fd_);
  }
  return report;
}

}  // namespace ringest::storage
