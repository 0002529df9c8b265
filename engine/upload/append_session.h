// AppendSession: one request's claim on one upload, the same for every protocol. Embedded in a
// connection and reused request after request.
//
//   open(request)  -> takes ownership (a request already writing that upload is asked to stop
//                     and commit first: takeover), checks the request against the committed
//                     state (offset, declared length, body size), makes sure the upload's files
//                     are open (file cache, or opened on the ring), then on_append_ready().
//   body           -> an ingest strategy hands bytes to writer(); on_append_cut() asks the
//                     caller to stop the body when a newer request wants the upload.
//   finish(end)    -> the writer commits what landed; ownership moves on (to a waiting newer
//                     request); on_append_done() reports the committed state.
//   remove()       -> (after open() with kRemove) the upload leaves the store; on_append_done()
//                     (kReferenced at once for a partial that a live final lists).
//
// Outcomes are named, never errno; the protocol handler turns them into status codes.
// Threads: the owning connection's reactor. Messages from other reactors arrive in mailbox_.
#pragma once

#include <cstdint>

#include "engine/io/completion.h"
#include "engine/reactor/reactor.h"
#include "engine/upload/upload.h"
#include "engine/upload/upload_store.h"
#include "engine/upload/upload_writer.h"

namespace ringest {

enum class AppendIntent : uint8_t { kAppend, kRemove };

// A request whose bytes count only if their digest matches (tus Upload-Checksum).
struct ChecksumSpec {
  DigestAlgorithm algorithm = DigestAlgorithm::kNone;  // named before the body
  DigestValue expected;
  bool in_trailer = false;  // named after the body (set_trailer_checksum()): hash with all
  bool wanted() const { return algorithm != DigestAlgorithm::kNone || in_trailer; }
};

struct AppendRequest {
  Upload* upload = nullptr;  // the caller keeps its own reference for the request
  AppendIntent intent = AppendIntent::kAppend;
  uint64_t offset = 0;                       // where the client believes the upload stands
  int64_t body_bytes = -1;                   // -1: unknown until the body ends (chunked)
  uint64_t declare_length = kUnknownLength;  // the request sets the (deferred) length
  uint64_t max_length = 0;                   // the largest length an upload may have
  ChecksumSpec checksum;
  // The request's bytes count only once its whole body has landed: no checkpoint commits, and
  // a body cut short (cut off, timed out, client gone, a failed write) commits nothing, so the
  // committed offset stays where the request began (a protocol whose clients resume at request
  // boundaries: FilePond's chunks). A checksum implies it.
  bool all_or_nothing = false;
};

enum class AppendOutcome : uint8_t {
  kOk,
  kGone,               // the upload was deleted
  kSuperseded,         // a newer request for the upload replaced this one while it waited
  kOffsetMismatch,     // the request's offset is not the committed offset
  kExceedsLength,      // the body would pass the upload's length
  kLengthConflict,     // a declared length differs from the one already known
  kLengthBelowOffset,  // a declared length is below the committed offset
  kLengthTooLarge,     // a declared length is above the largest allowed
  kNoSpace,            // the disk is full
  kBusy,               // out of descriptors or memory: try again later
  kStorageError,       // anything else the disk said
  kFinalUpload,        // an append to a final upload: its bytes are its parts', nothing to add
  kReferenced,         // a removal of a partial that a final lists: refused, nothing changed
  // How a body ended (on_append_done); its bytes up to the reported offset are committed.
  kCutOff,     // a newer request, or shutdown, stopped it
  kPeerGone,   // the client went away
  kTimedOut,   // slower than the minimum body rate
  kMalformed,  // the body's framing was broken
  kOverrun,    // more bytes than the length allows
  // A request with a checksum; nothing of it was committed at its end (an unannounced trailer
  // came after checkpoints may already have committed a part: that part stays):
  kChecksumMismatch,  // the bytes' digest is not the one the client sent
  kChecksumInvalid,   // a trailer checksum missing though announced, malformed, or unexpected
};

const char* append_outcome_name(AppendOutcome outcome);

// How the body of a request ended, as the connection saw it.
enum class BodyEnd : uint8_t {
  kComplete, kPeerGone, kCutOff, kTimedOut, kMalformed, kOverrun, kStorageError
};

class AppendListener {
 public:
  virtual void on_append_ready(AppendOutcome outcome, const UploadView& view) = 0;
  // A newer request for this upload is waiting: stop the body (what arrived is committed).
  virtual void on_append_cut() = 0;
  virtual void on_append_done(AppendOutcome outcome, const UploadView& view) = 0;

 protected:
  ~AppendListener() = default;
};

// Told when a write or commit completes (the body ingest, for backpressure).
class WriteProgress {
 public:
  virtual void on_write_progress() = 0;

 protected:
  ~WriteProgress() = default;
};

class AppendSession final : public CompletionHandler,
                            public StoreListener,
                            public UploadWriterListener {
 public:
  AppendSession() = default;
  AppendSession(const AppendSession&) = delete;
  AppendSession& operator=(const AppendSession&) = delete;

  void init(Reactor* reactor, UploadStore* store, uint64_t checkpoint_bytes, int max_writes);

  void open(const AppendRequest& request, AppendListener* listener);
  UploadWriter& writer() { return writer_; }
  void set_progress(WriteProgress* progress) { progress_ = progress; }
  // The body is over: commit, hand the upload on, then on_append_done().
  void finish(BodyEnd end);
  // The checksum a trailer named (before finish()): the digest to compare with.
  void set_trailer_checksum(DigestAlgorithm algorithm, const DigestValue& expected);
  // A trailer checksum that cannot be used (malformed, or not announced by the request).
  void reject_trailer_checksum() { trailer_rejected_ = true; }
  // After on_append_ready(kOk) for kRemove.
  void remove();
  // The connection goes away while the session waits or owns (no body in progress): let go.
  void abandon();
  // Waited too long for another request to let go (a stuck owner, a lost message): stop
  // waiting and report on_append_ready(kBusy).
  void give_up_waiting();

  bool active() const { return state_ != State::kIdle; }
  bool waiting() const { return state_ == State::kWaiting; }
  // Owns the upload with the writer begun and the body not yet finished.
  bool writing() const { return state_ == State::kOwning && writer_.active(); }
  bool finishing() const { return state_ == State::kFinishing || state_ == State::kRemoving; }
  bool busy() const { return writer_.busy() || op_.busy(); }

  void on_completion(Completion* completion, int res, uint32_t flags) override;
  void on_store_done(StoreOp* op, Status status) override;
  void on_writer_progress() override;
  void on_writer_finished(Status status) override;

 private:
  enum class State : uint8_t { kIdle, kWaiting, kOpening, kOwning, kFinishing, kRemoving };

  UploadOwner self() { return {reactor_, &mailbox_, generation_}; }
  void on_owned();
  AppendOutcome check(const UploadView& view, uint64_t* limit) const;
  void begin_writing(const UploadView& view);
  void ready(AppendOutcome outcome);
  void release_ownership();
  void done(AppendOutcome outcome);
  void post(const UploadOwner& to, UploadMessage kind);
  AppendOutcome verify_checksum();
  static AppendOutcome outcome_of(Status status);

  Reactor* reactor_ = nullptr;
  UploadStore* store_ = nullptr;
  AppendListener* listener_ = nullptr;
  WriteProgress* progress_ = nullptr;
  UploadWriter writer_;
  StoreOp op_;
  Completion mailbox_{this, 0};
  uint32_t generation_ = 0;
  State state_ = State::kIdle;
  AppendRequest request_;
  bool owns_ = false;
  bool was_complete_ = false;
  BodyEnd end_ = BodyEnd::kComplete;
  AppendOutcome verdict_ = AppendOutcome::kOk;  // of a request with a checksum
  bool trailer_rejected_ = false;
  UploadFiles files_;
  uint64_t limit_ = 0;
};

}  // namespace ringest
