// UploadEvents: what the upload core tells the rest of the node about an upload's life, once
// each change is durable. The hook outbox (engine/hooks) implements it; with no hook sink
// configured the store has none and nothing is emitted.
//
// Threads: each call comes on the reactor that made the change durable and must not block (the
// implementation queues and returns). Per upload the calls come in order: created, finished
// (at most once), then terminated or expired.
#pragma once

#include <cstdint>

namespace ringest {

class Upload;

enum class UploadEventKind : uint8_t { kCreated = 0, kFinished = 1, kTerminated = 2, kExpired = 3 };

// Why an upload leaves the store (UploadStore::remove).
enum class RemoveReason : uint8_t {
  kTerminated,  // a client deleted it (tus termination, IETF cancel, FilePond revert)
  kExpired,     // the collector removed it (--expire-after, --finished-retention)
};

class UploadEvents {
 public:
  // The upload's record is durable and it is in the registry.
  virtual void on_created(Upload& upload) = 0;
  // The commit that made the upload complete is durable (a final: at its creation).
  virtual void on_finished(Upload& upload) = 0;
  // The upload left the store for `reason`; its record is kept as a tombstone (events/) until
  // the event is delivered, and that is durable.
  virtual void on_removed(Upload& upload, RemoveReason reason) = 0;
  // False while the events owed are at their bound: new uploads are refused (503) so that a
  // receiver that is down cannot make them grow without bound.
  virtual bool accepting_uploads() { return true; }

 protected:
  ~UploadEvents() = default;
};

}  // namespace ringest
