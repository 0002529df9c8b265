// DiskBudget: keeps a free-space reserve on the data directory's filesystem and bounds what one
// anonymous client holds (docs/operations.md, "Disk budget").
//
// Space. Free bytes come from fstatvfs() of the uploads directory, sampled by a small thread of
// its own every kSampleMs (and at once after a creation or a removal): reactors only read atomics, never make the
// call. Creation preallocates a known length (fallocate: the upload's space is physically taken
// then, the file grows in place, and O_DIRECT writes stay inside the file), so a preallocated
// upload needs no further accounting once a sample has seen its file. What the samples cannot
// see yet is `promised`:
//   - a creation's length from its admission until a sample taken after its fallocate (settled),
//   - the unwritten rest of an upload that has a known length but no preallocation (the
//     filesystem cannot fallocate, or a recovered file shorter than its length),
//   - `uncounted`: bytes committed by non-preallocated uploads since the last sample began.
// available = free - promised - uncounted. A creation of length L is admitted only while
// available - L >= reserve (atomically: two reactors cannot both take the last bytes). An
// append that needs new space (an upload without preallocation) is refused before a byte is
// written while available - its body < reserve. Preallocated uploads' appends are never refused:
// their space is theirs.
//
// Clients. A creation by an anonymous client (no bearer token, no signed URL) is charged to its
// address in a ClientTable: one unfinished upload and its declared length (0 when deferred),
// given back when the upload completes or is removed. Kept in memory: recovered uploads count
// for nobody after a restart.
//
// Threads: any reactor calls; the sampler thread writes `free`; all counters are atomics.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine/upload/client_table.h"
#include "engine/upload/upload.h"

namespace ringest {

// Why a creation was refused (kOk: admitted).
enum class Admission : uint8_t { kOk, kReserve, kClientUploads, kClientBytes, kClientTable };

struct DiskLimits {
  uint64_t min_free_bytes = 0;        // the reserve is the larger of these two
  uint32_t min_free_percent = 0;      // of the filesystem's size
  uint32_t max_uploads_per_client = 0;  // 0: no bound
  uint64_t max_bytes_per_client = 0;    // 0: no bound; kAutoBytes: largest_upload() / 4
  static constexpr uint64_t kAutoBytes = UINT64_MAX;
};

struct DiskSnapshot {
  uint64_t total_bytes = 0;
  uint64_t free_bytes = 0;  // the last sample (available to unprivileged users)
  uint64_t promised_bytes = 0;
  uint64_t reserve_bytes = 0;
  uint64_t samples = 0;  // samples taken so far
  uint32_t clients = 0;  // anonymous clients holding unfinished uploads
};

class DiskBudget {
 public:
  static constexpr uint32_t kSampleMs = 100;

  DiskBudget() = default;
  DiskBudget(const DiskBudget&) = delete;
  DiskBudget& operator=(const DiskBudget&) = delete;
  ~DiskBudget() { stop(); }

  // Samples the filesystem of `dir_fd` once (on the calling thread, before any reactor runs).
  // False, with `error`, when it cannot be examined or the reserve leaves nothing for uploads.
  bool open(int dir_fd, const DiskLimits& limits, std::string* error);
  void start();  // the sampler thread
  void stop();

  uint64_t reserve_bytes() const { return reserve_; }
  uint64_t total_bytes() const { return total_; }
  // The largest upload that could ever be admitted: the filesystem's size less the reserve.
  uint64_t largest_upload() const { return total_ > reserve_ ? total_ - reserve_ : 0; }
  const DiskLimits& limits() const { return limits_; }

  // Creation. `length` is kUnknownLength when deferred; `client` is null for an authenticated
  // request. On kOk the caller passes `charge` on to the new Upload (bind()), or gives it back
  // with abandon() when the creation fails before that.
  struct Charge {
    uint64_t promised = 0;  // bytes added to `promised`
    bool client = false;
    ClientKey client_key;
    uint64_t client_bytes = 0;
  };
  Admission admit(uint64_t length, const ClientKey* client, Charge* charge);
  void abandon(const Charge& charge);
  // The creation's files and record are durable; `preallocated`: the data file holds the whole
  // length. Sets the upload's budget fields (before it is published).
  void bind(Upload& upload, const Charge& charge, bool preallocated);
  // A failed creation: its fallocate may have taken space until the undo removes the file.
  void creation_failed(const Charge& charge);
  // Start-up: a recovered upload whose data file has `data_file_bytes`.
  void adopt(Upload& upload, uint64_t data_file_bytes);

  // Appends: false when an append of `body_bytes` (-1: unknown, chunked) would need new space
  // that the reserve does not allow. Call before any byte is written.
  bool append_allowed(const Upload& upload, int64_t body_bytes) const;
  // The committed offset moved from `from` to `to` (the upload's owner calls it).
  void committed(Upload& upload, uint64_t from, uint64_t to, bool complete);
  // The upload is gone (its files are unlinked).
  void removed(Upload& upload);

  DiskSnapshot snapshot() const;

 private:
  int64_t available() const;
  bool sample();
  void release_client(Upload& upload);
  void poke();  // asks the sampler for a sample now
  void sampler_loop();

  int dir_fd_ = -1;
  DiskLimits limits_;
  uint64_t reserve_ = 0;
  uint64_t total_ = 0;
  std::atomic<uint64_t> free_{0};
  std::atomic<int64_t> promised_{0};
  std::atomic<uint64_t> settled_{0};    // promised bytes the next sample's start will cover
  std::atomic<uint64_t> uncounted_{0};  // committed by non-preallocated uploads since a sample
  std::atomic<uint64_t> samples_{0};
  std::unique_ptr<ClientTable> clients_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool poked_ = false;
  std::thread thread_;
};

}  // namespace ringest
