// UploadStore: the protocol-neutral home of every upload. It creates uploads (the record is
// durable before the upload becomes visible), finds them, removes them (invisible first, then
// unlinked and the directory synced), iterates them, and opens their files when a request needs
// them. Protocol handlers use it through the HTTP request context and never see a file.
//
// Every file-system operation runs on the calling reactor's ring (openat2 beneath the uploads
// directory with no symlinks, fallocate, write, fsync, unlinkat, close), driven by a StoreOp the
// caller embeds (it must outlive the operation), so a slow disk never stalls a reactor.
//
// Threads: the store itself is shared by all reactors (the registry and the file cache have
// their own locks); a StoreOp belongs to one reactor.
#pragma once

#include <linux/openat2.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/base/status.h"
#include "engine/io/io_ring.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/recovery.h"
#include "engine/upload/disk_budget.h"
#include "engine/upload/file_cache.h"
#include "engine/upload/final_parts.h"
#include "engine/upload/expiry.h"
#include "engine/upload/registry.h"
#include "engine/upload/upload.h"
#include "engine/upload/upload_events.h"

namespace ringest {

class StoreOp;
class UploadStore;

class StoreListener {
 public:
  // The operation `op` finished; its results are in `op` (see StoreOp).
  virtual void on_store_done(StoreOp* op, Status status) = 0;

 protected:
  ~StoreListener() = default;
};

// What a new upload is.
struct CreateSpec {
  uint8_t protocol = 0;                      // storage::Protocol
  uint64_t length = kUnknownLength;          // kUnknownLength: deferred
  std::span<const uint8_t> metadata_block;   // storage v2 metadata block (may be empty)
  uint64_t expires_unix_ms = 0;              // 0: never
  bool partial = false;                      // a partial upload (finals may list it)
  // A final upload of these parts (FinalParts::make): complete at once, `length` is ignored (the
  // parts' sum), no data file. The upload keeps the parts (and their pins).
  std::shared_ptr<const FinalParts> parts;
  // What DiskBudget::admit() charged for it (the store binds it to the upload, or gives it back
  // when the creation fails); null: not budgeted.
  const DiskBudget::Charge* charge = nullptr;
};

// One store operation in flight, embedded in its caller. Results are read in on_store_done().
class StoreOp final : public CompletionHandler {
 public:
  enum class Kind : uint8_t { kIdle, kCreate, kOpenForAppend, kOpenForRead, kRemove, kReadHeader };

  StoreOp();
  StoreOp(const StoreOp&) = delete;
  StoreOp& operator=(const StoreOp&) = delete;

  bool busy() const { return listener_ != nullptr; }
  // The operation in flight, or the last one (still set while its listener runs).
  Kind kind() const { return kind_; }
  // kCreate: the new upload; the caller takes the op's reference.
  UploadRef take_upload() { return std::move(upload_); }
  // kCreate, kOpenForAppend, kOpenForRead: the descriptors, now the caller's.
  UploadFiles take_files();
  // kReadHeader: bytes read into the caller's buffer.
  size_t bytes_read() const { return bytes_read_; }

  void on_completion(Completion* completion, int res, uint32_t flags) override;

 private:
  friend class UploadStore;
  // One completion per operation that may be in flight together: the three opens (a final's
  // creation opens its manifest, <id>.parts, in kData's place), and up to four chained steps.
  enum Slot : uint8_t { kData, kDirect, kRecord, kStep0, kStep1, kStep2, kStep3, kSlots };
  enum class Phase : uint8_t { kOpen, kChain, kRetryChain, kUndo, kRead };

  void begin(Kind kind, UploadStore* store, IoRing* ring, Upload* upload, StoreListener* l);
  void name_files(std::string_view id, const char* data_suffix = ".bin");
  void open_file(Slot slot, const char* name, uint64_t flags, FaultOp fault);
  void on_result(Slot slot, int res);
  void next_phase();
  void submit_create_chain();
  void submit_undo();
  void submit_read();
  void emit_events();
  void finish(Status status);
  void close_files();

  Kind kind_ = Kind::kIdle;
  Phase phase_ = Phase::kOpen;
  UploadStore* store_ = nullptr;
  IoRing* ring_ = nullptr;
  StoreListener* listener_ = nullptr;
  UploadRef upload_;
  int pending_ = 0;
  Status error_;
  int fds_[3] = {-1, -1, -1};  // kData, kDirect, kRecord
  Completion ops_[kSlots];
  open_how how_[3]{};
  char data_name_[40] = {};
  char record_name_[40] = {};
  char tombstone_name_[48] = {};  // removal with events: events/<id>.terminated or .expired
  RemoveReason reason_ = RemoveReason::kTerminated;
  bool preallocate_ = false;
  uint64_t length_ = 0;
  std::vector<uint8_t> record_;  // creation only: the whole initial record
  std::string manifest_;         // a final's creation only: the text of <id>.parts
  bool final_ = false;           // the upload is a final (files: record and manifest)
  bool charged_ = false;         // creation: charge_ is the disk budget's
  DiskBudget::Charge charge_;
  uint8_t* read_into_ = nullptr;
  size_t read_bytes_ = 0;
  size_t bytes_read_ = 0;
};

class UploadStore {
 public:
  UploadStore(storage::DataDir* data_dir, bool direct_io, uint32_t max_idle_files,
              uint64_t idle_files_ms);
  UploadStore(const UploadStore&) = delete;
  UploadStore& operator=(const UploadStore&) = delete;

  // Start-up: makes a recovered upload known (no descriptors are opened). A final's parts must
  // have been adopted before it (recovery lists finals last).
  void adopt(const storage::RecoveredUpload& recovered);

  Upload* find(std::string_view id) { return registry_.find(id); }  // a reference, or null
  // For requests: as find(), but null for an upload whose expiry has passed (expiry.h), even
  // before the collector has removed it.
  Upload* find_live(std::string_view id, uint64_t now_unix_ms);
  // A request found no upload `id`: true when it expired and the node still remembers it (the
  // answer is 410 Gone rather than 404).
  bool remembers_expired(std::string_view id, uint64_t now_unix_ms);
  // The expiry rule (from the flags; set before serving, read-only afterwards) and the ids of
  // recently expired uploads (the collector adds to it).
  void set_expiry(const ExpiryPolicy& policy) { expiry_ = policy; }
  const ExpiryPolicy& expiry() const { return expiry_; }
  ExpiredIds& expired_ids() { return expired_ids_; }
  // How many expired ids are remembered for 410 (about 100 bytes each).
  static constexpr size_t kRememberedExpiredIds = 4096;
  size_t size() { return registry_.size(); }
  template <typename Visit>
  void for_each(Visit&& visit) {
    registry_.for_each(visit);
  }
  FileCache& files() { return cache_; }
  UploadRegistry& registry() { return registry_; }

  // Creates a new upload: its files, its record (durable, with its directory entry), and only
  // then its registry entry. The op's result holds the upload and its open descriptors (none for
  // a final: its record is written and synced, then its operator manifest <id>.parts listing the
  // parts' data files is written, the directory synced, and both closed).
  void create(StoreOp& op, IoRing& ring, const CreateSpec& spec, StoreListener* listener);
  // Opens an existing upload's files for appending (the caller owns the upload).
  void open_for_append(StoreOp& op, IoRing& ring, Upload& upload, StoreListener* listener);
  // Opens the data file read-only (downloads).
  void open_for_read(StoreOp& op, IoRing& ring, Upload& upload, StoreListener* listener);
  // Reads the record's header and metadata block (storage v2 layout at offset 1024;
  // `upload.metadata_bytes` says how much) into `dst`.
  void read_header(StoreOp& op, IoRing& ring, Upload& upload, uint8_t* dst, size_t capacity,
                   StoreListener* listener);
  // Removes an upload the caller owns: it leaves the registry at once (so no new request finds
  // it), its cached descriptors are closed, then its record and data file (a final: its
  // manifest) are unlinked and the directory synced before the listener hears of it; a final's
  // parts are unpinned then. Returns false, and does nothing (no listener call), for a partial
  // that a live final lists (final_refs > 0): its data file is that final's bytes. Expiry
  // (ExpiryCollector) goes through here and so skips such partials too.
  // `reason` is what the upload's last event says (UploadEvents::on_removed).
  bool remove(StoreOp& op, IoRing& ring, Upload& upload, StoreListener* listener,
              RemoveReason reason = RemoveReason::kTerminated);

  // The node's event sink (the hook outbox), or null: nothing is emitted. Set before serving.
  void set_events(UploadEvents* events) { events_ = events; }
  UploadEvents* events() const { return events_; }
  // The disk budget (free-space reserve, per-client bounds), or null: none. Set before serving
  // (and before adopt(), so recovered uploads are counted).
  void set_budget(DiskBudget* budget) { budget_ = budget; }
  DiskBudget* budget() const { return budget_; }

  // The caller owned `upload` and is done with its descriptors: they go back to the cache (or are
  // closed, on `ring`, when the upload is complete or the cache evicts).
  void release_files(IoRing& ring, Upload& upload, UploadFiles& files, bool keep, uint64_t now_ms);

  int uploads_dir_fd() const { return data_dir_->uploads_dir_fd(); }
  const std::string& uploads_path() const { return data_dir_->uploads_path(); }
  bool direct_io() const { return direct_io_; }

 private:
  friend class StoreOp;
  void submit_tombstone_chain(StoreOp& op, IoRing& ring, std::string_view id, RemoveReason reason);
  storage::DataDir* data_dir_;
  bool direct_io_;
  UploadRegistry registry_;
  FileCache cache_;
  UploadEvents* events_ = nullptr;
  ExpiryPolicy expiry_;
  ExpiredIds expired_ids_{kRememberedExpiredIds};
  DiskBudget* budget_ = nullptr;
};

// Closes descriptors on the ring without waiting for the result.
void close_on_ring(IoRing& ring, UploadFiles& files);

}  // namespace ringest
