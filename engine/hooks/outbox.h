// HookOutbox: tells the rest of the pipeline about every upload's life (created, finished,
// terminated, expired), at least once, in order per upload, off the reactors.
//
// Where the events are durable (docs/operations.md, "Hooks"): an event needs no write of its own.
// The upload's record is its outbox entry, made durable by the very commit that changes the
// upload: a record in uploads/ means `created` happened, a record whose commit says complete
// means `finished` happened, and a removal moves the record to events/<id>.terminated or
// events/<id>.expired (a tombstone) in the removal's own chain. What is still owed is that set
// minus the events recorded as delivered in events/data.mdb (LMDB, written only here, after a
// sink said yes). So `kill -9` at any moment loses no event: start-up rebuilds the queue from the
// records and tombstones, and an event whose delivery was not yet recorded is sent again (same
// id: receivers drop duplicates by it).
//
// The queue in memory holds (upload id, kind) pairs; the JSON is built at delivery from the
// record. It is bounded (--hook-outbox-max): past the bound an event stays only on disk (it is
// picked up again once the queue drains) and new uploads are refused (503) until the receivers
// catch up, so a receiver that is down cannot make the outbox grow without bound.
//
// Threads: on_*() come from reactors and only queue (a mutex held for a push, once per upload
// event, never per byte). One delivery thread calls the sinks, with capped exponential backoff.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "engine/hooks/hook_call.h"
#include "engine/hooks/outbox_stats.h"
#include "engine/storage/data_dir.h"
#include "engine/storage/upload_record.h"
#include "engine/upload/upload_events.h"
#include "engine/upload/upload_store.h"

namespace ringest::hooks {

struct OutboxOptions {
  std::string url;         // --hook-url; empty: no HTTP sink
  std::string secret;      // --hook-secret-file's contents; empty: unsigned
  std::string exec;        // --hook-exec; empty: no exec sink
  uint32_t timeout_ms = 10000;
  uint32_t backoff_min_ms = 250;
  uint32_t backoff_max_ms = 60000;
  uint32_t max_events = 100000;
};

class HookOutbox final : public UploadEvents {
 public:
  HookOutbox(storage::DataDir& dir, UploadStore& store, OutboxOptions options);
  ~HookOutbox();
  HookOutbox(const HookOutbox&) = delete;
  HookOutbox& operator=(const HookOutbox&) = delete;

  // Opens events/data.mdb. False with `error` when it cannot.
  bool open(std::string* error);
  // After recovery has adopted the uploads: queues every event owed, drops delivery marks of
  // uploads that no longer exist, removes tombstones whose events were all delivered.
  void recover();
  void start();
  void stop();  // the call in progress ends (bounded by the timeout); the rest stays owed

  void on_created(Upload& upload) override;
  void on_finished(Upload& upload) override;
  void on_removed(Upload& upload, RemoveReason reason) override;
  bool accepting_uploads() override;

  OutboxStats& stats() { return stats_; }

 private:
  struct Queued {
    char id[storage::kIdChars];
    UploadEventKind kind;
    uint64_t queued_unix_ms;
  };
  struct Loaded;  // a record read for delivery

  void push(std::string_view id, UploadEventKind kind);
  void run();
  bool deliver_upto(const Queued& event);
  bool deliver_one(std::string_view id, UploadEventKind kind, const Loaded& loaded);
  bool call_sinks(std::string_view event, std::string_view id, const std::string& json);
  bool load(std::string_view id, UploadEventKind end_kind, Loaded* loaded);
  void finish_upload(std::string_view id, UploadEventKind end_kind);
  void rescan();
  void wait_backoff();

  bool delivered(std::string_view id, UploadEventKind kind);
  void mark_delivered(std::string_view id, UploadEventKind kind);
  void forget(std::string_view id);
  void set_hold(std::string_view id, bool hold);

  storage::DataDir& dir_;
  UploadStore& store_;
  OutboxOptions options_;
  OutboxStats stats_;
  std::unique_ptr<HttpHook> http_;
  std::unique_ptr<ExecHook> exec_;
  MDB_env* env_ = nullptr;
  MDB_dbi dbi_ = 0;

  std::mutex mu_;
  std::condition_variable cv_;
  // A ring of max_events entries, allocated once (pages become resident as they are used), so
  // a reactor's push never allocates.
  std::unique_ptr<Queued[]> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  bool overflow_ = false;   // an event was left on disk only: rescan once the queue drains
  bool stopping_ = false;
  bool full_logged_ = false;
  std::thread thread_;

  // Delivery thread only.
  uint32_t attempts_ = 0;      // failed attempts at the event in front
  bool failing_logged_ = false;
};

}  // namespace ringest::hooks
