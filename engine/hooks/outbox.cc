#include "engine/hooks/outbox.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <unordered_set>

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/hooks/event_json.h"

namespace ringest::hooks {
namespace {

constexpr UploadEventKind kKinds[] = {UploadEventKind::kCreated, UploadEventKind::kFinished,
                                      UploadEventKind::kTerminated, UploadEventKind::kExpired};

const char* tombstone_suffix(UploadEventKind kind) {
  return kind == UploadEventKind::kExpired ? ".expired" : ".terminated";
}

bool is_end(UploadEventKind kind) {
  return kind == UploadEventKind::kTerminated || kind == UploadEventKind::kExpired;
}

// The LMDB key of a delivered event: the upload id and one digit for the kind.
struct Key {
  char bytes[storage::kIdChars + 1];
  Key(std::string_view id, UploadEventKind kind) {
    std::memcpy(bytes, id.data(), storage::kIdChars);
    bytes[storage::kIdChars] = static_cast<char>('0' + static_cast<int>(kind));
  }
  MDB_val val() { return MDB_val{sizeof bytes, bytes}; }
};

bool valid_id(std::string_view id) {
  if (id.size() != storage::kIdChars) return false;
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

struct HookOutbox::Loaded {
  std::vector<uint8_t> bytes;
  storage::DecodedRecord record;
  uint64_t removed_unix_ms = 0;  // a tombstone's: when the removal happened (its ctime)
};

HookOutbox::HookOutbox(storage::DataDir& dir, UploadStore& store, OutboxOptions options)
    : dir_(dir), store_(store), options_(std::move(options)),
      ring_(new Queued[options_.max_events]) {
  if (!options_.url.empty()) {
    http_ = std::make_unique<HttpHook>(options_.url, options_.secret, options_.timeout_ms);
  }
  if (!options_.exec.empty()) exec_ = std::make_unique<ExecHook>(options_.exec, options_.timeout_ms);
}

HookOutbox::~HookOutbox() {
  stop();
  if (env_ != nullptr) mdb_env_close(env_);
}

bool HookOutbox::open(std::string* error) {
  if (!dir_.open_events(error)) return false;
  std::string path = dir_.path() + "/events";
  int rc = mdb_env_create(&env_);
  if (rc == 0) rc = mdb_env_set_mapsize(env_, size_t{1} << 30);  // sparse; ~20M marks
  if (rc == 0) rc = mdb_env_open(env_, path.c_str(), MDB_NOTLS, 0640);
  MDB_txn* txn = nullptr;
  if (rc == 0) rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  if (rc == 0) rc = mdb_dbi_open(txn, nullptr, 0, &dbi_);
  if (rc == 0) rc = mdb_txn_commit(txn);
  if (rc != 0) {
    *error = "cannot open the hook outbox " + path + "/data.mdb: " + mdb_strerror(rc);
    return false;
  }
  return true;
}

// ---- what is delivered (LMDB; delivery thread, and recover() before it starts)

bool HookOutbox::delivered(std::string_view id, UploadEventKind kind) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return false;
  Key key(id, kind);
  MDB_val k = key.val();
  MDB_val v;
  bool found = mdb_get(txn, dbi_, &k, &v) == 0;
  mdb_txn_abort(txn);
  return found;
}

void HookOutbox::mark_delivered(std::string_view id, UploadEventKind kind) {
  MDB_txn* txn = nullptr;
  int rc = mdb_txn_begin(env_, nullptr, 0, &txn);
  Key key(id, kind);
  MDB_val k = key.val();
  MDB_val v{0, nullptr};
  if (rc == 0) rc = mdb_put(txn, dbi_, &k, &v, 0);
  if (rc == 0) {
    rc = mdb_txn_commit(txn);
  } else if (txn != nullptr) {
    mdb_txn_abort(txn);
  }
  // Not recorded: the event is sent again after a restart (a duplicate, never a loss).
  if (rc != 0) RINGEST_LOG_WARN("hook outbox: cannot record a delivery: %s", mdb_strerror(rc));
}

void HookOutbox::forget(std::string_view id) {
  MDB_txn* txn = nullptr;
  if (mdb_txn_begin(env_, nullptr, 0, &txn) != 0) return;
  for (UploadEventKind kind : kKinds) {
    Key key(id, kind);
    MDB_val k = key.val();
    mdb_del(txn, dbi_, &k, nullptr);
  }
  mdb_txn_commit(txn);
}

void HookOutbox::set_hold(std::string_view id, bool hold) {
  if (Upload* upload = store_.find(id)) {
    upload->events_hold.store(hold, std::memory_order_relaxed);
    upload_unref(upload);
  }
}

// ---- queueing (reactors)

void HookOutbox::push(std::string_view id, UploadEventKind kind) {
  Queued event{};
  std::memcpy(event.id, id.data(), storage::kIdChars);
  event.kind = kind;
  event.queued_unix_ms = unix_ms_now();
  {
    std::lock_guard lock(mu_);
    if (count_ >= options_.max_events) {
      overflow_ = true;  // durable in its record: picked up again once the queue drains
    } else {
      ring_[(head_ + count_) % options_.max_events] = event;
      ++count_;
    }
    stats_.depth.store(count_, std::memory_order_relaxed);
    if (count_ == 1) stats_.oldest_unix_ms.store(event.queued_unix_ms);
  }
  cv_.notify_one();
}

void HookOutbox::on_created(Upload& upload) { push(upload.id(), UploadEventKind::kCreated); }

void HookOutbox::on_finished(Upload& upload) {
  upload.events_hold.store(true, std::memory_order_relaxed);  // its files stay until delivered
  push(upload.id(), UploadEventKind::kFinished);
}

void HookOutbox::on_removed(Upload& upload, RemoveReason reason) {
  push(upload.id(), reason == RemoveReason::kExpired ? UploadEventKind::kExpired
                                                     : UploadEventKind::kTerminated);
}

bool HookOutbox::accepting_uploads() {
  std::lock_guard lock(mu_);
  bool full = overflow_ || count_ >= options_.max_events;
  if (full) {
    stats_.refused_uploads.fetch_add(1, std::memory_order_relaxed);
    if (!full_logged_) {
      full_logged_ = true;
      RINGEST_LOG_WARN(
          "hook outbox full: %zu events undelivered (--hook-outbox-max %u); new uploads get 503 "
          "until the hook receivers take them (nothing is dropped)",
          count_, options_.max_events);
    }
  } else {
    full_logged_ = false;
  }
  return !full;
}

// ---- delivery (the delivery thread)

void HookOutbox::start() { thread_ = std::thread([this] { run(); }); }

void HookOutbox::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void HookOutbox::run() {
  for (;;) {
    Queued event{};
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || count_ > 0 || overflow_; });
      if (stopping_) return;
      if (count_ == 0) {
        overflow_ = false;
        lock.unlock();
        rescan();  // what was left on disk only while the queue was full
        continue;
      }
      event = ring_[head_];
    }
    if (!deliver_upto(event)) {
      stats_.failures.fetch_add(1, std::memory_order_relaxed);
      wait_backoff();
      continue;
    }
    if (attempts_ > 0) {
      RINGEST_LOG_INFO("hook: delivering again after %u failed attempts", attempts_);
    }
    attempts_ = 0;
    failing_logged_ = false;
    std::lock_guard lock(mu_);
    head_ = (head_ + 1) % options_.max_events;
    --count_;
    stats_.depth.store(count_, std::memory_order_relaxed);
    stats_.oldest_unix_ms.store(count_ == 0 ? 0 : ring_[head_].queued_unix_ms,
                                std::memory_order_relaxed);
  }
}

void HookOutbox::wait_backoff() {
  uint32_t shift = attempts_ < 16 ? attempts_ : 16;
  uint64_t delay = uint64_t{options_.backoff_min_ms} << shift;
  if (delay > options_.backoff_max_ms) delay = options_.backoff_max_ms;
  ++attempts_;
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(delay), [this] { return stopping_; });
}

bool HookOutbox::load(std::string_view id, UploadEventKind kind, Loaded* loaded) {
  // A live upload's record is in uploads/; a removed one's is its tombstone in events/ (an end
  // event's own, or either for an earlier event still owed).
  std::string name(id);
  auto open_in = [&](int dir_fd, const char* suffix) {
    return openat(dir_fd, (name + suffix).c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  };
  int fd = is_end(kind) ? -1 : open_in(dir_.uploads_dir_fd(), ".rec");
  if (fd < 0 && kind != UploadEventKind::kExpired) {
    fd = open_in(dir_.events_dir_fd(), tombstone_suffix(UploadEventKind::kTerminated));
  }
  if (fd < 0 && kind != UploadEventKind::kTerminated) {
    fd = open_in(dir_.events_dir_fd(), tombstone_suffix(UploadEventKind::kExpired));
  }
  if (fd < 0) return false;
  struct stat st {};
  bool ok = fstat(fd, &st) == 0 && st.st_size > 0 && st.st_size <= (8 << 20);
  if (ok) {
    loaded->bytes.resize(static_cast<size_t>(st.st_size));
    ok = pread(fd, loaded->bytes.data(), loaded->bytes.size(), 0) == st.st_size;
    loaded->removed_unix_ms = static_cast<uint64_t>(st.st_ctim.tv_sec) * 1000 +
                              static_cast<uint64_t>(st.st_ctim.tv_nsec) / 1000000;
  }
  close(fd);
  if (!ok) return false;
  loaded->record = storage::decode_record(loaded->bytes.data(), loaded->bytes.size(), id);
  return loaded->record.error == storage::RecordError::kOk;
}

bool HookOutbox::call_sinks(std::string_view event, std::string_view id, const std::string& json) {
  HookCall call{event, id, json};
  for (int sink = 0; sink < 2; ++sink) {
    HookReply reply;
    if (sink == 0 && http_ != nullptr) reply = http_->call(call);
    if (sink == 1 && exec_ != nullptr) reply = exec_->call(call);
    if ((sink == 0 && http_ == nullptr) || (sink == 1 && exec_ == nullptr)) continue;
    if (reply.kind == HookReply::Kind::kAccepted) continue;
    if (!failing_logged_) {
      failing_logged_ = true;
      RINGEST_LOG_WARN("hook: %.*s not delivered to %s: %s%s; retrying with backoff up to %u ms "
                       "(the event stays owed, nothing is dropped)",
                       static_cast<int>(id.size()), id.data(),
                       sink == 0 ? http_->url().c_str() : exec_->program().c_str(),
                       reply.kind == HookReply::Kind::kRefused ? "refused, " : "",
                       reply.message.c_str(), options_.backoff_max_ms);
    }
    // (A sink that took it gets it again with the retry: at least once, same id.)
    return false;
  }
  return true;
}

bool HookOutbox::deliver_one(std::string_view id, UploadEventKind kind, const Loaded& loaded) {
  uint64_t when = loaded.record.header.created_unix_ms;
  if (kind == UploadEventKind::kFinished) when = loaded.record.state.updated_unix_ms;
  if (is_end(kind)) when = loaded.removed_unix_ms;
  std::string json = event_json(kind, loaded.record, when);
  return call_sinks(event_name(kind), event_id(id, kind), json);
}

bool HookOutbox::deliver_upto(const Queued& event) {
  std::string_view id(event.id, storage::kIdChars);
  Loaded loaded;
  if (!load(id, event.kind, &loaded)) {
    // No record (hooks were off when it went, or it was set aside in quarantine/): nothing to
    // tell that the record could say.
    RINGEST_LOG_WARN("hook: no record for %.*s: its %s event is dropped",
                     static_cast<int>(id.size()), id.data(), event_name(event.kind));
    return true;
  }
  bool complete = (loaded.record.state.flags & storage::kFlagComplete) != 0;
  // Per upload in order: whatever came before this event and is still owed goes first.
  UploadEventKind chain[3];
  int n = 0;
  chain[n++] = UploadEventKind::kCreated;
  if (event.kind != UploadEventKind::kCreated && complete) chain[n++] = UploadEventKind::kFinished;
  if (is_end(event.kind)) chain[n++] = event.kind;
  for (int i = 0; i < n; ++i) {
    if (delivered(id, chain[i])) continue;
    if (!deliver_one(id, chain[i], loaded)) return false;
    mark_delivered(id, chain[i]);
    stats_.delivered.fetch_add(1, std::memory_order_relaxed);
    if (chain[i] == UploadEventKind::kFinished) set_hold(id, false);
  }
  if (is_end(event.kind)) finish_upload(id, event.kind);
  return true;
}

void HookOutbox::finish_upload(std::string_view id, UploadEventKind end_kind) {
  // Its last event is delivered: the tombstone goes, then its delivery marks.
  std::string name = std::string(id) + tombstone_suffix(end_kind);
  unlinkat(dir_.events_dir_fd(), name.c_str(), 0);
  fsync(dir_.events_dir_fd());
  forget(id);
}

// ---- rebuilding the queue from disk

void HookOutbox::rescan() {
  struct Item {
    char id[storage::kIdChars];
    bool complete;
  };
  std::vector<Item> live;
  store_.for_each([&](Upload& upload) {
    Item item{};
    std::memcpy(item.id, upload.id_chars, storage::kIdChars);
    item.complete = upload.view().complete();
    live.push_back(item);
  });
  for (const Item& item : live) {
    std::string_view id(item.id, storage::kIdChars);
    if (!delivered(id, UploadEventKind::kCreated)) push(id, UploadEventKind::kCreated);
    if (item.complete && !delivered(id, UploadEventKind::kFinished)) {
      set_hold(id, true);
      push(id, UploadEventKind::kFinished);
    }
  }
  DIR* d = fdopendir(dup(dir_.events_dir_fd()));
  if (d == nullptr) return;
  while (dirent* entry = readdir(d)) {
    std::string_view name(entry->d_name);
    if (name.size() <= storage::kIdChars || !valid_id(name.substr(0, storage::kIdChars))) continue;
    std::string_view id = name.substr(0, storage::kIdChars);
    std::string_view suffix = name.substr(storage::kIdChars);
    UploadEventKind end = suffix == ".expired" ? UploadEventKind::kExpired
                                               : UploadEventKind::kTerminated;
    if (suffix != ".terminated" && suffix != ".expired") continue;
    // (A `finished` still owed is delivered with the removal's event, before it.)
    if (!delivered(id, UploadEventKind::kCreated)) push(id, UploadEventKind::kCreated);
    push(id, end);
  }
  closedir(d);
}

void HookOutbox::recover() {
  rescan();
  // Delivery marks of uploads that exist nowhere any more (a crash between a tombstone's unlink
  // and forget()) are dropped.
  std::vector<std::string> stale;
  MDB_txn* txn = nullptr;
  MDB_cursor* cursor = nullptr;
  if (mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn) != 0) return;
  if (mdb_cursor_open(txn, dbi_, &cursor) == 0) {
    MDB_val k;
    MDB_val v;
    std::string last;
    while (mdb_cursor_get(cursor, &k, &v, MDB_NEXT) == 0) {
      if (k.mv_size != storage::kIdChars + 1) continue;
      std::string id(static_cast<const char*>(k.mv_data), storage::kIdChars);
      if (id == last) continue;
      last = id;
      Upload* upload = store_.find(id);
      if (upload != nullptr) {
        upload_unref(upload);
        continue;
      }
      struct stat st {};
      bool tombstone = fstatat(dir_.events_dir_fd(), (id + ".terminated").c_str(), &st, 0) == 0 ||
                       fstatat(dir_.events_dir_fd(), (id + ".expired").c_str(), &st, 0) == 0;
      if (!tombstone) stale.push_back(id);
    }
    mdb_cursor_close(cursor);
  }
  mdb_txn_abort(txn);
  for (const std::string& id : stale) forget(id);
  std::lock_guard lock(mu_);
  RINGEST_LOG_INFO("hook outbox: %zu events owed at start-up", count_);
}

}  // namespace ringest::hooks
