// ExpiryCollector: deletes expired uploads (expiry.h) on one reactor, in the background, without
// ever stalling it or cutting a request off.
//
//   timer    -> one sweep step: visits at most kVisitsPerStep uploads of the registry (under its
//               lock, a bucket range at a time: registry.h sweep()) and picks those that have
//               expired and that nobody owns, waits for or pins (expired_and_free_locked()), at
//               most one per free removal slot.
//   claim    -> ownership, as a request would hold it, but only if still free
//               (claim_expired_upload(): never an abort), then UploadStore::remove(kExpired) on
//               this reactor's ring (unlinks and a directory fsync, all asynchronous), its id
//               first joining the remembered ones (410 Gone). The store emits `expired`.
//   done     -> ownership is released (a request that began waiting meanwhile is handed the
//               upload and finds it deleted), the counter uploads_expired grows; one log line
//               per batch.
//   next     -> the next step after kStepPauseMs while a sweep is under way, else after the
//               policy's sweep period.
// At most kSlots removals are in flight, so a backlog of thousands is worked off in small steps
// between the reactor's other completions. Restarts need nothing: recovered uploads carry their
// last commit time, and the first sweep after start finds the ones that expired meanwhile.
//
// Threads: everything runs on the reactor given to start(); requests on other reactors only
// meet it through an upload's ownership (and the abort messages they post, ignored here).
#pragma once

#include <cstddef>
#include <cstdint>

#include <linux/time_types.h>

#include "engine/io/completion.h"
#include "engine/reactor/reactor.h"
#include "engine/upload/expiry.h"
#include "engine/upload/upload_store.h"

namespace ringest {

class ExpiryCollector final : public CompletionHandler, public ReactorService {
 public:
  static constexpr size_t kSlots = 8;             // removals in flight at once
  static constexpr size_t kVisitsPerStep = 4096;  // uploads looked at under the registry lock
  static constexpr uint64_t kStepPauseMs = 5;     // between the steps of one sweep

  explicit ExpiryCollector(UploadStore* store);
  ExpiryCollector(const ExpiryCollector&) = delete;
  ExpiryCollector& operator=(const ExpiryCollector&) = delete;

  // On `reactor`'s thread, before it runs; the store's policy must be enabled.
  void start(Reactor* reactor);

  void begin_shutdown() override;
  bool drained() const override;
  void on_completion(Completion* completion, int res, uint32_t flags) override;

 private:
  struct Slot final : public StoreListener {
    ExpiryCollector* collector = nullptr;
    StoreOp op;
    UploadRef upload;
    UploadOwner me;
    bool removing = false;
    void on_store_done(StoreOp* op, Status status) override;
  };
  enum Tag : uint32_t { kTimer = 1, kMailbox = 2 };

  void step();
  void remove(Upload* upload, uint64_t now_unix_ms);
  void removed(Slot& slot, Status status);
  void let_go(Slot& slot);  // releases the slot's upload and frees the slot
  void arm(uint64_t delay_ms);
  size_t free_slots() const;

  UploadStore* store_;
  Reactor* reactor_ = nullptr;
  Slot slots_[kSlots];
  Completion timer_{this, kTimer};
  // Where requests that want an upload the collector owns post their abort: nothing to cut
  // off (the removal is short), so such messages are dropped; the request gets the upload
  // (deleted) when the removal releases it.
  Completion mailbox_{this, kMailbox};
  uint32_t generation_ = 0;
  __kernel_timespec delay_{};
  bool timer_armed_ = false;
  bool stopping_ = false;
  size_t cursor_ = 0;  // the sweep's position in the registry
  uint64_t batch_removed_ = 0;  // since the last log line
  uint64_t batch_failed_ = 0;
};

}  // namespace ringest
