// Upload: the in-memory state of one known upload, shared by all reactors. It is small (about
// 200 bytes) and independent of the upload's size and metadata: the metadata stays in the
// record on disk and is read when asked for, and an upload nobody is writing holds no file
// descriptor (FileCache keeps a bounded number of recently used ones open).
//
// Threads: the immutable fields are set before the upload is published in the registry. The
// committed state is guarded by `mu` and touched once per request and per commit (never per
// byte). The cache fields belong to FileCache (its own lock).
//
// One writer at a time: a request that wants to change an upload (append, delete) must own it.
// acquire_upload() either grants ownership or makes the caller the (single) waiter and says
// whom to ask to let go; release_upload() hands ownership straight to the waiter. Messages
// between reactors are sent by the caller with the addresses returned here (AppendSession), so
// this layer knows nothing about rings or threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>

#include "engine/reactor/mailbox.h"
#include "engine/upload/client_table.h"

namespace ringest {

// The length of an upload created without one (deferred): a later request declares it.
inline constexpr uint64_t kUnknownLength = UINT64_MAX;

// What an upload is to concatenation (protocol-neutral: tus Upload-Concat, later S3 multipart).
enum class UploadKind : uint8_t {
  kPlain,    // an ordinary upload
  kPartial,  // an ordinary upload that final uploads may list as a part
  kFinal,    // created complete from partial uploads; its bytes are theirs, in order, and it
             // has no data file of its own (engine/upload/final_parts.h)
};

class FinalParts;

// Who owns or waits for an upload: enough to send that request's connection a message.
using UploadOwner = MailboxAddress;

// Message kinds posted into an AppendSession's mailbox.
enum class UploadMessage : uint32_t {
  kAbort = 1,       // "a newer request wants this upload: cut yours off and commit"
  kHandoff = 2,     // "you own the upload now"
  kSuperseded = 3,  // "a newer request replaced you as the waiter"
};
inline uint32_t encode_message(UploadMessage kind, uint32_t generation) {
  return encode_mailbox(static_cast<uint32_t>(kind), generation);
}
inline UploadMessage message_kind(uint32_t payload) {
  return static_cast<UploadMessage>(mailbox_kind(payload));
}
inline uint32_t message_generation(uint32_t payload) { return mailbox_generation(payload); }
inline bool generation_matches(uint32_t payload, uint32_t generation) {
  return mailbox_generation_matches(payload, generation);
}

// An upload's open descriptors: the data file (buffered: reads, fdatasync, partial blocks), the
// same file opened O_DIRECT (-1 when writes are buffered or the filesystem refuses it), and the
// record.
struct UploadFiles {
  int data_fd = -1;
  int direct_fd = -1;
  int record_fd = -1;
  bool open() const { return data_fd >= 0 && record_fd >= 0; }
};

// The committed state, as a snapshot any reactor may take (Upload::view()).
struct UploadView {
  uint64_t offset = 0;                 // durable: data synced and the record says so
  uint64_t length = kUnknownLength;    // kUnknownLength while deferred
  uint64_t created_unix_ms = 0;
  uint64_t updated_unix_ms = 0;
  uint64_t expires_unix_ms = 0;        // 0: never
  uint32_t flags = 0;                  // record slot flags (storage::kFlag*)
  uint32_t metadata_bytes = 0;         // size of the metadata block in the record; 0: none
  uint16_t record_version = 0;         // format of the record's header (how metadata is kept)
  uint8_t protocol = 0;                // storage::Protocol that created it
  UploadKind kind = UploadKind::kPlain;
  uint32_t final_refs = 0;             // a partial: how many parts of live finals it is
  bool deleted = false;
  // CRC-32C of the bytes [0, offset), when every one of them was hashed as it arrived (false
  // for bytes that never entered memory: --io-mode splice, or a record from before digests).
  bool crc32c_known = false;
  uint32_t crc32c = 0;
  bool length_known() const { return length != kUnknownLength; }
  bool complete() const { return length_known() && offset == length; }
};

class Upload {
 public:
  Upload() = default;
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;
  ~Upload();

  std::string_view id() const { return std::string_view(id_chars, sizeof id_chars); }
  UploadView view();

  // Immutable once published.
  char id_chars[32] = {};
  uint64_t created_unix_ms = 0;
  uint32_t metadata_bytes = 0;
  uint16_t record_version = 0;
  uint8_t protocol = 0;
  UploadKind kind = UploadKind::kPlain;
  // A final's parts (immutable; shared with readers streaming them), null otherwise.
  std::shared_ptr<const FinalParts> parts;

  // Guarded by mu.
  std::mutex mu;
  uint64_t committed_offset = 0;
  uint64_t length = kUnknownLength;
  uint64_t sequence = 0;  // of the newest durable commit slot
  uint64_t updated_unix_ms = 0;
  uint64_t expires_unix_ms = 0;
  uint32_t flags = 0;
  uint32_t content_crc32c = 0;  // of [0, committed_offset), when flags has kFlagContentCrc
  bool deleted = false;
  // A partial: parts of live finals that list it (once per listing). While it is above zero
  // the partial cannot be removed (UploadStore::remove() refuses; so must expiry), because a
  // final's bytes are read from its parts' data files. Set by FinalParts, never by hand.
  uint32_t final_refs = 0;
  // Set by the hook outbox while this upload's `finished` event is undelivered: its files must
  // stay (a receiver will read them), so expiry skips it.
  std::atomic<bool> events_hold{false};
  // The disk budget's (engine/upload/disk_budget.h), set before the upload is published: the data
  // file holds the whole known length; else the unwritten rest still counted as promised; and
  // the anonymous client this unfinished upload is charged to.
  bool preallocated = false;
  std::atomic<uint64_t> promised_bytes{0};
  std::atomic<bool> client_charged{false};
  ClientKey client_key;
  uint64_t client_bytes = 0;
  bool has_owner = false;
  UploadOwner owner;
  bool has_waiter = false;
  UploadOwner waiter;

  // Guarded by FileCache: descriptors kept open while nobody owns the upload, and the cache's
  // least-recently-used list. While an owner holds them they are the owner's, not here.
  UploadFiles cached_files;
  Upload* lru_prev = nullptr;
  Upload* lru_next = nullptr;
  uint64_t idle_since_ms = 0;
  bool in_cache = false;

  std::atomic<int> refs{1};
};

void upload_ref(Upload* upload);
void upload_unref(Upload* upload);  // the last reference frees it

// A reference held for a scope (or a request): null or one reference.
class UploadRef {
 public:
  UploadRef() = default;
  explicit UploadRef(Upload* adopted) : upload_(adopted) {}
  UploadRef(const UploadRef&) = delete;
  UploadRef& operator=(const UploadRef&) = delete;
  UploadRef(UploadRef&& other) noexcept : upload_(other.release()) {}
  UploadRef& operator=(UploadRef&& other) noexcept {
    reset(other.release());
    return *this;
  }
  ~UploadRef() { reset(); }
  void reset(Upload* adopted = nullptr) {
    if (upload_ != nullptr) upload_unref(upload_);
    upload_ = adopted;
  }
  Upload* release() {
    Upload* u = upload_;
    upload_ = nullptr;
    return u;
  }
  Upload* get() const { return upload_; }
  Upload* operator->() const { return upload_; }
  Upload& operator*() const { return *upload_; }
  explicit operator bool() const { return upload_ != nullptr; }

 private:
  Upload* upload_ = nullptr;
};

struct AcquireOutcome {
  enum class Result { kAcquired, kWait, kDeleted } result = Result::kAcquired;
  bool send_abort = false;  // ask `abort_target` to cut off its request
  UploadOwner abort_target;
  bool send_superseded = false;  // tell `superseded` it is no longer waiting
  UploadOwner superseded;
};
AcquireOutcome acquire_upload(Upload& upload, const UploadOwner& me);

struct ReleaseOutcome {
  bool send_handoff = false;  // tell `handoff_to` it owns the upload now
  UploadOwner handoff_to;
};
// `me` must be the owner.
ReleaseOutcome release_upload(Upload& upload, const UploadOwner& me);
// For a request that goes away while waiting or owning: undoes whichever applies.
ReleaseOutcome abandon_upload(Upload& upload, const UploadOwner& me);

}  // namespace ringest
