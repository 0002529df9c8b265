// Upload: the in-memory state of one upload, shared by all reactors.
//
// Threads: immutable fields are set before the upload is published in the registry. Mutable
// state is guarded by `mu` and touched once per request (never per byte). The commit buffer
// `slot_buf` belongs to the current owner only.
//
// One writer at a time: a request that wants to change an upload (append, delete) must own it.
// acquire_upload() either grants ownership or makes the caller the (single) waiter and says
// whom to ask to let go; release_upload() hands ownership straight to the waiter. Messages
// between reactors are sent by the caller with the UploadOwner addresses returned here, so
// this layer knows nothing about rings or threads.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "engine/io/completion.h"

namespace ringest {

class Reactor;

// Who owns or waits for an upload: enough to send that connection a message.
struct UploadOwner {
  Reactor* reactor = nullptr;
  Completion* mailbox = nullptr;
  uint32_t generation = 0;
  bool same_as(const UploadOwner& other) const {
    return mailbox == other.mailbox && generation == other.generation;
  }
};

// Message payloads posted into a connection's mailbox (IORING_OP_MSG_RING res field).
enum class UploadMessage : uint32_t {
  kAbort = 1,       // "a newer request wants this upload: cut yours off and commit"
  kHandoff = 2,     // "you own the upload now"
  kSuperseded = 3,  // "a newer request replaced you as the waiter"
};
inline uint32_t encode_message(UploadMessage kind, uint32_t generation) {
  return (static_cast<uint32_t>(kind) << 28) | (generation & 0x0FFFFFFFu);
}
inline UploadMessage message_kind(uint32_t payload) {
  return static_cast<UploadMessage>(payload >> 28);
}
inline uint32_t message_generation(uint32_t payload) { return payload & 0x0FFFFFFFu; }
inline bool generation_matches(uint32_t payload, uint32_t generation) {
  return message_generation(payload) == (generation & 0x0FFFFFFFu);
}

class Upload {
 public:
  Upload() = default;
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;
  ~Upload();

  // Immutable once published.
  std::string id;
  uint64_t length = 0;
  std::string metadata;
  uint64_t created_unix_ms = 0;
  int data_fd = -1;
  int direct_fd = -1;  // O_DIRECT descriptor of the data file, -1 when writes are buffered
  int record_fd = -1;

  // Guarded by mu.
  std::mutex mu;
  uint64_t committed_offset = 0;  // durable: data fdatasync'd and the record says so
  uint64_t sequence = 0;          // of the newest durable commit slot
  uint64_t updated_unix_ms = 0;
  bool deleted = false;
  bool has_owner = false;
  UploadOwner owner;
  bool has_waiter = false;
  UploadOwner waiter;

  // Owner-only: the commit slot being written, and the initial record during creation.
  alignas(64) uint8_t slot_buf[512];
  std::vector<uint8_t> initial_record;

  std::atomic<int> refs{1};
};

void upload_ref(Upload* upload);
void upload_unref(Upload* upload);  // the last reference closes the files and frees it

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

// The registry of live uploads, shared by all reactors. Lookups take a reference.
class UploadRegistry {
 public:
  ~UploadRegistry();
  Upload* find(std::string_view id);  // nullptr if unknown; else the caller owns a reference
  void insert(Upload* upload);        // the registry takes its own reference
  void remove(Upload* upload);        // drops the registry's reference
  size_t size();

 private:
  std::mutex mu_;
  std::unordered_map<std::string_view, Upload*> uploads_;
};

}  // namespace ringest
