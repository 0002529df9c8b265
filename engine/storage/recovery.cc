#include "engine/storage/recovery.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "engine/base/log.h"
#include "engine/io/fault_plan.h"
#include "engine/storage/upload_id.h"

namespace ringest::storage {
namespace {

enum class Verdict { kOk, kQuarantine, kFatal, kGone };

// Threads that check records at start-up (I/O bound: they mostly wait on the disk).
constexpr size_t kRecoveryThreads = 8;

bool out_of_resources(int err) {
  return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}

std::string name_of(std::string_view id, const char* suffix) {
  std::string name(id);
  name += suffix;
  return name;
}

// Lists the ids of `<id>.rec`, `<id>.bin` and `<id>.parts` files in a directory.
bool scan(int dir_fd, std::vector<std::string>* records, std::vector<std::string>* datas,
          std::string* error, std::vector<std::string>* manifests = nullptr) {
  int scan_fd = dup(dir_fd);
  DIR* dir = scan_fd >= 0 ? fdopendir(scan_fd) : nullptr;
  if (dir == nullptr) {
    *error = std::string("cannot list a data directory: ") + std::strerror(errno);
    if (scan_fd >= 0) ::close(scan_fd);
    return false;
  }
  rewinddir(dir);
  errno = 0;
  while (dirent* entry = readdir(dir)) {
    std::string_view name = entry->d_name;
    if (name.size() != kUploadIdChars + 4 && name.size() != kUploadIdChars + 6) continue;
    std::string_view id = name.substr(0, kUploadIdChars);
    std::string_view suffix = name.substr(kUploadIdChars);
    if (!is_valid_upload_id(id)) continue;
    if (suffix == ".rec") records->emplace_back(id);
    if (suffix == ".bin" && datas != nullptr) datas->emplace_back(id);
    if (suffix == ".parts" && manifests != nullptr) manifests->emplace_back(id);
  }
  int err = errno;
  closedir(dir);
  if (err != 0) {
    *error = std::string("cannot list a data directory: ") + std::strerror(err);
    return false;
  }
  return true;
}

// openat(), through the fault seam: "open" rules of a test's --fault-plan apply to recovery's
// opens of existing uploads too (the only way to make one fail for lack of descriptors when
// recovery holds at most one at a time).
int open_existing(int dir_fd, const char* name) {
  uint32_t delay_ms = 0;
  if (g_fault_plan != nullptr) {
    if (int err = g_fault_plan->at_submit(FaultOp::kOpen, &delay_ms)) {
      errno = -err;
      return -1;
    }
  }
  return openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
}

// Reads a whole record file into `buf`.
Verdict read_record(int dir_fd, std::string_view id, std::vector<uint8_t>* buf,
                    std::string* reason) {
  std::string name = name_of(id, ".rec");
  int fd = open_existing(dir_fd, name.c_str());
  if (fd < 0) {
    int err = errno;
    *reason = std::string("record cannot be opened: ") + std::strerror(err);
    if (err == ENOENT) return Verdict::kGone;
    if (err == ELOOP) *reason = "record is a symbolic link";
    return out_of_resources(err) ? Verdict::kFatal : Verdict::kQuarantine;
  }
  struct stat st {};
  Verdict verdict = Verdict::kOk;
  if (fstat(fd, &st) < 0) {
    *reason = std::string("record cannot be examined: ") + std::strerror(errno);
    verdict = out_of_resources(errno) ? Verdict::kFatal : Verdict::kQuarantine;
  } else if (!S_ISREG(st.st_mode)) {
    *reason = "record is not a regular file";
    verdict = Verdict::kQuarantine;
  } else if (static_cast<uint64_t>(st.st_size) >
             kHeaderOffset + kHeaderFixedBytes + kMaxMetadataBytes + kMaxPartsBytes) {
    *reason = "record is larger than any valid record";
    verdict = Verdict::kQuarantine;
  } else {
    buf->resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < buf->size() && verdict == Verdict::kOk) {
      ssize_t n = pread(fd, buf->data() + got, buf->size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *reason = std::string("record unreadable: ") + (n < 0 ? std::strerror(errno) : "short");
        verdict = n < 0 && out_of_resources(errno) ? Verdict::kFatal : Verdict::kQuarantine;
        break;
      }
      got += static_cast<size_t>(n);
    }
  }
  ::close(fd);
  return verdict;
}

// Checks one upload in `dir_fd`; fills `out` when it is sound.
Verdict check_upload(int dir_fd, std::string_view id, std::vector<uint8_t>* buf,
                     RecoveredUpload* out, std::string* reason, bool* fell_back) {
  Verdict verdict = read_record(dir_fd, id, buf, reason);
  if (verdict != Verdict::kOk) return verdict;
  DecodedRecord decoded = decode_record(buf->data(), buf->size(), id);
  if (decoded.error != RecordError::kOk) {
    *reason = record_error_name(decoded.error);
    return Verdict::kQuarantine;
  }
  *fell_back = decoded.newest_slot_corrupt;
  std::memcpy(out->id, id.data(), kIdChars);
  out->created_unix_ms = decoded.header.created_unix_ms;
  out->metadata_bytes = static_cast<uint32_t>(decoded.header.metadata.size());
  out->record_version = decoded.header.version;
  out->protocol = static_cast<uint8_t>(decoded.header.protocol);
  out->partial = decoded.header.partial;
  out->final = decoded.header.final;
  out->state = decoded.state;
  out->parts.clear();
  if (decoded.header.final) {
    // No data file: its bytes are its parts' (checked against the other uploads afterwards).
    out->parts.resize(decoded.header.part_count);
    for (uint32_t i = 0; i < decoded.header.part_count; ++i) {
      PartEntry part = part_at(decoded.header, i);
      std::memcpy(out->parts[i].id, part.id.data(), kIdChars);
      out->parts[i].length = part.length;
    }
    return Verdict::kOk;
  }
  std::string data = name_of(id, ".bin");
  struct stat st {};
  if (fstatat(dir_fd, data.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    int err = errno;
    *reason = err == ENOENT ? "data file missing"
                            : std::string("data file cannot be examined: ") + std::strerror(err);
    return out_of_resources(err) ? Verdict::kFatal : Verdict::kQuarantine;
  }
  if (!S_ISREG(st.st_mode)) {
    *reason = "data file is not a regular file";
    return Verdict::kQuarantine;
  }
  if (static_cast<uint64_t>(st.st_size) < decoded.state.committed_offset) {
    *reason = "data file is " + std::to_string(st.st_size) +
              " bytes, shorter than the committed offset " +
              std::to_string(decoded.state.committed_offset);
    return Verdict::kQuarantine;
  }
  out->data_file_bytes = static_cast<uint64_t>(st.st_size);
  return Verdict::kOk;
}

using KnownUploads = std::unordered_map<std::string_view, const RecoveredUpload*>;

// Why a final upload cannot be served from the uploads in `known`, or "" when it can: every part
// must be there (sound), a partial, complete, and as long as the final says.
std::string check_parts(const RecoveredUpload& final, const KnownUploads& known) {
  for (const RecoveredPart& part : final.parts) {
    std::string_view id(part.id, kIdChars);
    auto it = known.find(id);
    std::string name = "part " + std::string(id);
    if (it == known.end()) return name + " is missing (or was set aside in quarantine/)";
    const RecoveredUpload& u = *it->second;
    if (!u.partial) return name + " is not a partial upload";
    const CommitSlot& s = u.state;
    if (s.upload_length == kUnknownLength || s.committed_offset != s.upload_length) {
      return name + " is not complete";
    }
    if (s.upload_length != part.length) {
      return name + " is " + std::to_string(s.upload_length) + " bytes, the final lists " +
             std::to_string(part.length);
    }
  }
  return {};
}

KnownUploads known_uploads(const std::vector<RecoveredUpload>& uploads) {
  KnownUploads known;
  known.reserve(uploads.size());
  for (const RecoveredUpload& u : uploads) known.emplace(std::string_view(u.id, kIdChars), &u);
  return known;
}

void move_files(int from_fd, int to_fd, std::string_view id) {
  for (const char* suffix : {".rec", ".bin", ".parts"}) {
    std::string name = name_of(id, suffix);
    if (renameat(from_fd, name.c_str(), to_fd, name.c_str()) < 0 && errno != ENOENT) {
      RINGEST_LOG_ERROR("recovery: cannot move %s: %s", name.c_str(), std::strerror(errno));
    }
  }
}

void quarantine(DataDir& dir, std::string_view id, const std::string& reason) {
  move_files(dir.uploads_dir_fd(), dir.quarantine_dir_fd(), id);
  std::string name = name_of(id, ".reason");
  int fd = openat(dir.quarantine_dir_fd(), name.c_str(),
                  O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
  if (fd >= 0) {
    std::string line = reason + "\n";
    ssize_t ignored = write(fd, line.data(), line.size());
    (void)ignored;
    ::close(fd);
  }
  RINGEST_LOG_WARN("recovery: upload %.*s set aside in quarantine/: %s",
                   static_cast<int>(id.size()), id.data(), reason.c_str());
}

void log_fallback(std::string_view id, const RecoveredUpload& u) {
  RINGEST_LOG_WARN("recovery: upload %.*s: newest commit slot corrupt, fell back to the older one "
                   "(sequence %llu, offset %llu)",
                   static_cast<int>(id.size()), id.data(),
                   static_cast<unsigned long long>(u.state.sequence),
                   static_cast<unsigned long long>(u.state.committed_offset));
}

// quarantine/: what checks out now goes back to uploads/. Finals go last, once every upload
// that may be one of their parts is known.
bool readmit(DataDir& dir, RecoveryReport* report, std::vector<uint8_t>* buf,
             std::string* error) {
  std::vector<std::string> ids;
  if (!scan(dir.quarantine_dir_fd(), &ids, nullptr, error)) return false;
  std::vector<std::string> finals;
  std::vector<RecoveredUpload> admitted_finals;  // (appended after: `known` points into uploads)
  for (int round = 0; round < 2; ++round) {
    KnownUploads known;
    if (round == 1) {
      if (finals.empty()) break;
      known = known_uploads(report->uploads);
    }
    for (const std::string& id : round == 0 ? ids : finals) {
      RecoveredUpload upload;
      std::string reason;
      bool fell_back = false;
      Verdict verdict =
          check_upload(dir.quarantine_dir_fd(), id, buf, &upload, &reason, &fell_back);
      if (verdict == Verdict::kFatal) {
        *error = "quarantine/" + id + ": " + reason;
        return false;
      }
      if (verdict != Verdict::kOk) continue;
      if (upload.final && round == 0) {
        finals.push_back(id);
        continue;
      }
      if (upload.final && !check_parts(upload, known).empty()) continue;
      struct stat st {};
      if (fstatat(dir.uploads_dir_fd(), name_of(id, ".rec").c_str(), &st, AT_SYMLINK_NOFOLLOW) ==
          0) {
        continue;  // an upload of that id exists again: leave the old copy where it is
      }
      move_files(dir.quarantine_dir_fd(), dir.uploads_dir_fd(), id);
      unlinkat(dir.quarantine_dir_fd(), name_of(id, ".reason").c_str(), 0);
      RINGEST_LOG_INFO("recovery: upload %s checks out again and left quarantine/", id.c_str());
      if (fell_back) log_fallback(id, upload);
      (upload.final ? admitted_finals : report->uploads).push_back(std::move(upload));
      ++report->readmitted;
    }
  }
  for (RecoveredUpload& u : admitted_finals) report->uploads.push_back(std::move(u));
  return true;
}

// Sets aside every final upload of the report whose parts are not all there, sound, complete
// partials of the listed lengths.
void settle_finals(DataDir& dir, RecoveryReport* report) {
  KnownUploads known = known_uploads(report->uploads);
  std::vector<std::string> refused;
  for (const RecoveredUpload& u : report->uploads) {
    if (!u.final) continue;
    std::string reason = check_parts(u, known);
    if (reason.empty()) continue;
    std::string id(u.id, kIdChars);
    quarantine(dir, id, reason);
    ++report->quarantined;
    refused.push_back(std::move(id));
  }
  if (refused.empty()) return;
  std::unordered_set<std::string_view> gone(refused.begin(), refused.end());
  std::erase_if(report->uploads, [&gone](const RecoveredUpload& u) {
    return gone.count(std::string_view(u.id, kIdChars)) > 0;
  });
}

// Reads a small file whole; "" when it cannot be read.
std::string read_small_file(int dir_fd, const std::string& name) {
  std::string text;
  int fd = openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return text;
  char chunk[4096];
  for (;;) {
    ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(chunk, static_cast<size_t>(n));
  }
  ::close(fd);
  return text;
}

// A final's operator manifest (<id>.parts) says what its record says, with this directory's
// path: rewritten when missing, torn (a crash before the creation was acknowledged) or stale
// (the data directory moved). The syncfs at the end makes it durable.
void write_manifests(DataDir& dir, RecoveryReport* report) {
  for (const RecoveredUpload& u : report->uploads) {
    if (!u.final) continue;
    std::vector<std::string_view> ids;
    ids.reserve(u.parts.size());
    for (const RecoveredPart& part : u.parts) ids.emplace_back(part.id, kIdChars);
    std::string want = parts_file_text(dir.uploads_path(), ids);
    std::string id(u.id, kIdChars);
    std::string name = name_of(id, ".parts");
    if (read_small_file(dir.uploads_dir_fd(), name) == want) continue;
    int fd = openat(dir.uploads_dir_fd(), name.c_str(),
                    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    bool ok = fd >= 0;
    for (size_t done = 0; ok && done < want.size();) {
      ssize_t n = write(fd, want.data() + done, want.size() - done);
      if (n < 0 && errno == EINTR) continue;
      ok = n > 0;
      if (ok) done += static_cast<size_t>(n);
    }
    if (fd >= 0) ::close(fd);
    if (!ok) {
      RINGEST_LOG_ERROR("recovery: cannot write %s: %s", name.c_str(), std::strerror(errno));
      continue;
    }
    ++report->manifests_written;
  }
}

// The verdict on one upload of uploads/.
struct Checked {
  Verdict verdict = Verdict::kGone;
  bool fell_back = false;
  RecoveredUpload upload;
  std::string reason;
};

// Checks every record, on several threads: on a cold page cache start-up waits on the disk for
// every record and inode, and the device serves many reads at once. Each thread takes every
// n-th record and keeps its own read buffer; the verdicts are acted on afterwards, in order.
std::vector<Checked> check_all(int dir_fd, const std::vector<std::string>& ids) {
  std::vector<Checked> checked(ids.size());
  size_t threads = std::min<size_t>(kRecoveryThreads, ids.size() / 256 + 1);
  auto work = [&](size_t first) {
    std::vector<uint8_t> buf;
    for (size_t i = first; i < ids.size(); i += threads) {
      Checked& c = checked[i];
      c.verdict = check_upload(dir_fd, ids[i], &buf, &c.upload, &c.reason, &c.fell_back);
    }
  };
  std::vector<std::thread> pool;
  for (size_t t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& t : pool) t.join();
  return checked;
}

}  // namespace

bool recover(DataDir& dir, RecoveryReport* report, std::string* error) {
  std::vector<std::string> records, datas, manifests;
  if (!scan(dir.uploads_dir_fd(), &records, &datas, error, &manifests)) return false;
  std::unordered_set<std::string_view> with_record(records.begin(), records.end());
  for (const std::string& id : datas) {
    if (with_record.count(id) > 0) continue;
    // A creation that never became durable was never acknowledged: drop its data file.
    unlinkat(dir.uploads_dir_fd(), name_of(id, ".bin").c_str(), 0);
    ++report->orphans_removed;
  }
  for (const std::string& id : manifests) {
    if (with_record.count(id) > 0) continue;
    unlinkat(dir.uploads_dir_fd(), name_of(id, ".parts").c_str(), 0);  // the same, for a final
    ++report->orphans_removed;
  }
  std::vector<Checked> checked = check_all(dir.uploads_dir_fd(), records);
  for (size_t i = 0; i < records.size(); ++i) {
    if (checked[i].verdict == Verdict::kFatal) {
      *error = "uploads/" + records[i] + ": " + checked[i].reason +
               " (start-up stopped: nothing was set aside; raise the limit and start again)";
      return false;
    }
  }
  report->uploads.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    Checked& c = checked[i];
    if (c.verdict == Verdict::kQuarantine) {
      quarantine(dir, records[i], c.reason);
      ++report->quarantined;
    } else if (c.verdict == Verdict::kOk) {
      if (c.fell_back) {
        log_fallback(records[i], c.upload);
        ++report->fell_back;
      }
      report->uploads.push_back(std::move(c.upload));
    }
  }
  checked.clear();
  checked.shrink_to_fit();
  settle_finals(dir, report);
  std::vector<uint8_t> buf;
  if (!readmit(dir, report, &buf, error)) return false;
  write_manifests(dir, report);
  std::stable_partition(report->uploads.begin(), report->uploads.end(),
                        [](const RecoveredUpload& u) { return !u.final; });
  // One sync for everything read above (and the moves): see the top of recovery.h.
  if (syncfs(dir.uploads_dir_fd()) < 0) {
    *error = std::string("syncfs of the data directory failed: ") + std::strerror(errno);
    return false;
  }
  if (report->quarantined > 0 || report->orphans_removed > 0 || report->readmitted > 0 ||
      report->manifests_written > 0) {
    fsync(dir.uploads_dir_fd());
    fsync(dir.quarantine_dir_fd());
  }
  return true;
}

}  // namespace ringest::storage
