#include "engine/upload/disk_budget.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <chrono>
#include <cstring>

#include "engine/base/check.h"
#include "engine/base/log.h"

namespace ringest {

bool DiskBudget::open(int dir_fd, const DiskLimits& limits, std::string* error) {
  dir_fd_ = dir_fd;
  limits_ = limits;
  struct statvfs st {};
  if (fstatvfs(dir_fd_, &st) != 0) {
    *error = std::string("cannot examine the data directory's filesystem: ") +
             std::strerror(errno);
    return false;
  }
  total_ = static_cast<uint64_t>(st.f_blocks) * st.f_frsize;
  uint64_t by_percent = total_ / 100 * limits.min_free_percent;
  reserve_ = limits.min_free_bytes > by_percent ? limits.min_free_bytes : by_percent;
  if (reserve_ >= total_) {
    *error = "the free-space reserve (" + std::to_string(reserve_) +
             " bytes: --min-free-bytes, --min-free-percent) is not below the data directory's "
             "filesystem size (" + std::to_string(total_) + " bytes)";
    return false;
  }
  if (limits_.max_bytes_per_client == DiskLimits::kAutoBytes) {
    limits_.max_bytes_per_client = largest_upload() / 4;  // one client: a quarter of the room
  }
  if (limits_.max_uploads_per_client != 0 || limits_.max_bytes_per_client != 0) {
    clients_ = std::make_unique<ClientTable>(limits_.max_uploads_per_client,
                                             limits_.max_bytes_per_client);
  }
  sample();
  return true;
}

void DiskBudget::start() {
  RINGEST_CHECK(dir_fd_ >= 0 && !thread_.joinable());
  thread_ = std::thread([this] { sampler_loop(); });
}

void DiskBudget::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool DiskBudget::sample() {
  // What was settled or committed before this call is in the filesystem's numbers below.
  uint64_t settled = settled_.load();
  uint64_t uncounted = uncounted_.load();
  struct statvfs st {};
  if (fstatvfs(dir_fd_, &st) != 0) return false;  // keep the last sample
  free_.store(static_cast<uint64_t>(st.f_bavail) * st.f_frsize);
  promised_.fetch_sub(static_cast<int64_t>(settled));
  settled_.fetch_sub(settled);
  uncounted_.fetch_sub(uncounted);
  samples_.fetch_add(1);
  return true;
}

void DiskBudget::sampler_loop() {
  uint64_t failures = 0;
  std::unique_lock lock(mu_);
  while (!stopping_) {
    cv_.wait_for(lock, std::chrono::milliseconds(kSampleMs), [&] { return stopping_ || poked_; });
    if (stopping_) break;
    poked_ = false;
    lock.unlock();
    if (!sample() && failures++ % 600 == 0) {
      RINGEST_LOG_WARN("disk budget: fstatvfs of the data directory failed: %s (keeping the last "
                       "sample)", std::strerror(errno));
    }
    lock.lock();
  }
}

int64_t DiskBudget::available() const {
  return static_cast<int64_t>(free_.load(std::memory_order_relaxed)) -
         promised_.load(std::memory_order_relaxed) -
         static_cast<int64_t>(uncounted_.load(std::memory_order_relaxed));
}

Admission DiskBudget::admit(uint64_t length, const ClientKey* client, Charge* charge) {
  *charge = Charge{};
  const uint64_t need = length == kUnknownLength ? 0 : length;
  if (need > total_) return Admission::kReserve;  // (never: the maximum is below the size)
  const auto reserve = static_cast<int64_t>(reserve_);
  int64_t promised = promised_.load();
  for (;;) {
    int64_t available = static_cast<int64_t>(free_.load()) - promised -
                        static_cast<int64_t>(uncounted_.load());
    if (available - static_cast<int64_t>(need) < reserve) return Admission::kReserve;
    if (promised_.compare_exchange_weak(promised, promised + static_cast<int64_t>(need))) break;
  }
  charge->promised = need;
  if (client != nullptr && clients_ != nullptr) {
    switch (clients_->charge(*client, need)) {
      case ClientVerdict::kOk:
        break;
      case ClientVerdict::kTooManyUploads:
        abandon(*charge);
        return Admission::kClientUploads;
      case ClientVerdict::kTooManyBytes:
        abandon(*charge);
        return Admission::kClientBytes;
      case ClientVerdict::kTableFull:
        abandon(*charge);
        return Admission::kClientTable;
    }
    charge->client = true;
    charge->client_key = *client;
    charge->client_bytes = need;
  }
  return Admission::kOk;
}

void DiskBudget::abandon(const Charge& charge) {
  promised_.fetch_sub(static_cast<int64_t>(charge.promised));
  if (charge.client) clients_->credit(charge.client_key, charge.client_bytes);
}

void DiskBudget::creation_failed(const Charge& charge) {
  // The undo unlinks what the fallocate may have taken: the promise stays until a sample after
  // it (settled) rather than letting another creation count on space not yet given back.
  settled_.fetch_add(charge.promised);
  if (charge.client) clients_->credit(charge.client_key, charge.client_bytes);
  poke();
}

void DiskBudget::bind(Upload& upload, const Charge& charge, bool preallocated) {
  upload.preallocated = preallocated;
  if (preallocated) {
    // The file holds it now. A sample already under way may have read `settled` before this
    // and the filesystem after the fallocate: it counts these bytes twice (the safe way) until
    // the next sample, which is asked for at once.
    settled_.fetch_add(charge.promised);
    poke();
  } else {
    upload.promised_bytes.store(charge.promised);  // kept until written or removed
  }
  if (charge.client) {
    upload.client_key = charge.client_key;
    upload.client_bytes = charge.client_bytes;
    upload.client_charged.store(true);
  }
}

void DiskBudget::adopt(Upload& upload, uint64_t data_file_bytes) {
  if (upload.length == kUnknownLength || upload.committed_offset >= upload.length) return;
  if (data_file_bytes >= upload.length) {
    upload.preallocated = true;  // (the first sample, after recovery, sees the file)
    return;
  }
  uint64_t written = data_file_bytes > upload.committed_offset ? data_file_bytes
                                                               : upload.committed_offset;
  upload.promised_bytes.store(upload.length - written);
  promised_.fetch_add(static_cast<int64_t>(upload.length - written));
}

bool DiskBudget::append_allowed(const Upload& upload, int64_t body_bytes) const {
  if (upload.preallocated || body_bytes == 0) return true;  // no new space needed
  // A promised upload's bytes are already counted; a deferred one's body is new.
  int64_t need = upload.promised_bytes.load() > 0 || body_bytes < 0 ? 0 : body_bytes;
  return available() - need >= static_cast<int64_t>(reserve_);
}

void DiskBudget::committed(Upload& upload, uint64_t from, uint64_t to, bool complete) {
  if (to > from && !upload.preallocated) {
    uint64_t delta = to - from;
    uint64_t promised = upload.promised_bytes.load();
    uint64_t covered = delta < promised ? delta : promised;
    if (covered > 0) {
      upload.promised_bytes.fetch_sub(covered);
      promised_.fetch_sub(static_cast<int64_t>(covered));
    }
    uncounted_.fetch_add(delta);
  }
  if (complete) release_client(upload);
}

void DiskBudget::removed(Upload& upload) {
  uint64_t promised = upload.promised_bytes.exchange(0);
  promised_.fetch_sub(static_cast<int64_t>(promised));
  release_client(upload);
  poke();  // space came back: sample soon
}

void DiskBudget::poke() {
  {
    std::lock_guard lock(mu_);
    poked_ = true;
  }
  cv_.notify_one();
}

void DiskBudget::release_client(Upload& upload) {
  if (upload.client_charged.exchange(false)) {
    clients_->credit(upload.client_key, upload.client_bytes);
  }
}

DiskSnapshot DiskBudget::snapshot() const {
  DiskSnapshot s;
  s.total_bytes = total_;
  s.free_bytes = free_.load();
  int64_t promised = promised_.load() + static_cast<int64_t>(uncounted_.load());
  s.promised_bytes = promised > 0 ? static_cast<uint64_t>(promised) : 0;
  s.reserve_bytes = reserve_;
  s.samples = samples_.load();
  s.clients = clients_ != nullptr ? clients_->clients() : 0;
  return s;
}

}  // namespace ringest
