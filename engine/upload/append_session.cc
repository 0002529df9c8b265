#include "engine/upload/append_session.h"

#include "engine/base/clock.h"
#include "engine/base/log.h"
#include "engine/storage/upload_record.h"

namespace ringest {

const char* append_outcome_name(AppendOutcome outcome) {
  switch (outcome) {
    case AppendOutcome::kOk: return "ok";
    case AppendOutcome::kGone: return "gone";
    case AppendOutcome::kSuperseded: return "superseded";
    case AppendOutcome::kOffsetMismatch: return "offset-mismatch";
    case AppendOutcome::kExceedsLength: return "exceeds-length";
    case AppendOutcome::kLengthConflict: return "length-conflict";
    case AppendOutcome::kLengthBelowOffset: return "length-below-offset";
    case AppendOutcome::kLengthTooLarge: return "length-too-large";
    case AppendOutcome::kNoSpace: return "no-space";
    case AppendOutcome::kBusy: return "busy";
    case AppendOutcome::kStorageError: return "storage-error";
    case AppendOutcome::kFinalUpload: return "final-upload";
    case AppendOutcome::kReferenced: return "referenced";
    case AppendOutcome::kCutOff: return "cut-off";
    case AppendOutcome::kPeerGone: return "peer-gone";
    case AppendOutcome::kTimedOut: return "timed-out";
    case AppendOutcome::kMalformed: return "malformed";
    case AppendOutcome::kOverrun: return "overrun";
    case AppendOutcome::kChecksumMismatch: return "checksum-mismatch";
    case AppendOutcome::kChecksumInvalid: return "checksum-invalid";
  }
  return "?";
}

void AppendSession::init(Reactor* reactor, UploadStore* store, uint64_t checkpoint_bytes,
                         int max_writes) {
  reactor_ = reactor;
  store_ = store;
  ReactorStats& stats = reactor->stats();
  writer_.init(&reactor->ring(), &reactor->pool(), this, checkpoint_bytes, max_writes,
               &stats.body_bytes_written, &stats.body_bytes_direct, &stats.commits);
  writer_.set_budget(store->budget());
}

AppendOutcome AppendSession::outcome_of(Status status) {
  switch (status.code) {
    case Code::kOk: return AppendOutcome::kOk;
    case Code::kNoSpace: return AppendOutcome::kNoSpace;
    case Code::kNoDescriptors:
    case Code::kNoMemory: return AppendOutcome::kBusy;
    default: return AppendOutcome::kStorageError;
  }
}

void AppendSession::post(const UploadOwner& to, UploadMessage kind) {
  reactor_->post_message(to, encode_message(kind, to.generation));
}

void AppendSession::open(const AppendRequest& request, AppendListener* listener) {
  RINGEST_CHECK(state_ == State::kIdle && request.upload != nullptr);
  request_ = request;
  verdict_ = AppendOutcome::kOk;
  trailer_rejected_ = false;
  upload_ref(request.upload);
  listener_ = listener;
  ++generation_;  // messages meant for an earlier request must not touch this one
  AcquireOutcome out = acquire_upload(*request.upload, self());
  if (out.send_superseded) post(out.superseded, UploadMessage::kSuperseded);
  if (out.send_abort) post(out.abort_target, UploadMessage::kAbort);
  switch (out.result) {
    case AcquireOutcome::Result::kAcquired:
      owns_ = true;
      on_owned();
      return;
    case AcquireOutcome::Result::kWait:
      state_ = State::kWaiting;  // the owner commits and hands over (kHandoff)
      return;
    case AcquireOutcome::Result::kDeleted:
      state_ = State::kOwning;
      ready(AppendOutcome::kGone);
      return;
  }
}

AppendOutcome AppendSession::check(const UploadView& view, uint64_t* limit) const {
  if (request_.offset != view.offset) return AppendOutcome::kOffsetMismatch;
  uint64_t length = view.length;
  uint64_t declared = request_.declare_length;
  if (declared != kUnknownLength) {
    if (view.length_known() && declared != view.length) return AppendOutcome::kLengthConflict;
    if (declared < view.offset) return AppendOutcome::kLengthBelowOffset;
    if (declared > request_.max_length) return AppendOutcome::kLengthTooLarge;
    length = declared;
  }
  *limit = length != kUnknownLength ? length : request_.max_length;
  // (An upload whose length is unknown may already hold more than a since lowered maximum.)
  if (*limit < view.offset) return AppendOutcome::kExceedsLength;
  if (request_.body_bytes >= 0 &&
      static_cast<uint64_t>(request_.body_bytes) > *limit - view.offset) {
    return AppendOutcome::kExceedsLength;
  }
  return AppendOutcome::kOk;
}

void AppendSession::on_owned() {
  state_ = State::kOwning;
  Upload& upload = *request_.upload;
  UploadView view = upload.view();
  bool newer_waiting;
  {
    std::lock_guard lock(upload.mu);
    newer_waiting = upload.has_waiter;
  }
  if (view.deleted) {
    ready(AppendOutcome::kGone);
    return;
  }
  if (newer_waiting) {
    // A newer request asked for this upload while this one waited: it wins (its abort may have
    // arrived before our handoff).
    ready(AppendOutcome::kSuperseded);
    return;
  }
  if (request_.intent == AppendIntent::kRemove) {
    ready(AppendOutcome::kOk);
    return;
  }
  if (view.kind == UploadKind::kFinal) {
    ready(AppendOutcome::kFinalUpload);  // (protocols refuse before this; the core holds too)
    return;
  }
  AppendOutcome checked = check(view, &limit_);
  if (checked != AppendOutcome::kOk) {
    ready(checked);
    return;
  }
  // Below the free-space reserve an append that needs new space is refused before a byte lands.
  DiskBudget* budget = store_->budget();
  if (budget != nullptr && !budget->append_allowed(upload, request_.body_bytes)) {
    ready(AppendOutcome::kNoSpace);
    return;
  }
  was_complete_ = view.complete();
  if (store_->files().take(upload, &files_)) {
    begin_writing(view);
    return;
  }
  state_ = State::kOpening;
  store_->open_for_append(op_, reactor_->ring(), upload, this);
}

void AppendSession::on_store_done(StoreOp* op, Status status) {
  if (state_ == State::kRemoving) {
    done(status.ok() ? AppendOutcome::kOk : outcome_of(status));
    return;
  }
  RINGEST_CHECK(state_ == State::kOpening);
  state_ = State::kOwning;
  if (!status.ok()) {
    RINGEST_LOG_ERROR("upload %.*s: cannot open its files: %s", 32, request_.upload->id_chars,
                      code_name(status.code));
    ready(outcome_of(status));
    return;
  }
  files_ = op->take_files();
  bool newer_waiting;
  {
    std::lock_guard lock(request_.upload->mu);
    newer_waiting = request_.upload->has_waiter;
  }
  if (newer_waiting) {
    ready(AppendOutcome::kSuperseded);  // asked for while the files were opened: it wins
    return;
  }
  begin_writing(request_.upload->view());  // (owned: the committed state cannot have moved)
}

void AppendSession::begin_writing(const UploadView& view) {
  // A declared length equal to the known one changes nothing: no commit needed for it.
  uint64_t declared = view.length_known() ? kUnknownLength : request_.declare_length;
  writer_.begin(request_.upload, files_, view.offset, limit_, declared);
  const ChecksumSpec& checksum = request_.checksum;
  if (request_.all_or_nothing) writer_.hold_commits();
  if (checksum.in_trailer) {
    writer_.begin_digest(Digester::kAll);
  } else if (checksum.wanted()) {
    writer_.begin_digest(Digester::bit(checksum.algorithm));
  }
  ready(AppendOutcome::kOk);
}

void AppendSession::ready(AppendOutcome outcome) {
  UploadView view = request_.upload->view();
  AppendListener* listener = listener_;
  if (outcome != AppendOutcome::kOk) {
    // Nothing was written: let go at once, so a waiting request need not wait for our answer.
    if (files_.data_fd >= 0) {
      store_->release_files(reactor_->ring(), *request_.upload, files_, !view.complete(),
                            monotonic_ms_now());
    }
    release_ownership();
    state_ = State::kIdle;
    upload_unref(request_.upload);
    request_.upload = nullptr;
  }
  listener->on_append_ready(outcome, view);
}

void AppendSession::release_ownership() {
  if (!owns_) {
    if (state_ == State::kWaiting) abandon_upload(*request_.upload, self());
    return;
  }
  owns_ = false;
  ReleaseOutcome out = release_upload(*request_.upload, self());
  if (out.send_handoff) post(out.handoff_to, UploadMessage::kHandoff);
}

void AppendSession::set_trailer_checksum(DigestAlgorithm algorithm, const DigestValue& expected) {
  if (!request_.checksum.in_trailer) {
    trailer_rejected_ = true;  // not announced: its bytes were not held back, or a second digest
    return;
  }
  request_.checksum.algorithm = algorithm;
  request_.checksum.expected = expected;
}

AppendOutcome AppendSession::verify_checksum() {
  const ChecksumSpec& checksum = request_.checksum;
  if (trailer_rejected_) return AppendOutcome::kChecksumInvalid;
  if (!checksum.wanted()) return AppendOutcome::kOk;
  if (checksum.algorithm == DigestAlgorithm::kNone) return AppendOutcome::kChecksumInvalid;
  DigestValue actual = writer_.finish_digest(checksum.algorithm);
  return actual == checksum.expected ? AppendOutcome::kOk : AppendOutcome::kChecksumMismatch;
}

void AppendSession::finish(BodyEnd end) {
  RINGEST_CHECK(state_ == State::kOwning);
  state_ = State::kFinishing;
  end_ = end;
  progress_ = nullptr;
  // A request with a checksum counts whole or not at all: a body cut short, or bytes whose
  // digest differs, commit nothing. So does one that asked to (AppendRequest::all_or_nothing).
  bool all_or_nothing =
      request_.all_or_nothing || request_.checksum.wanted() || trailer_rejected_;
  if (all_or_nothing) verdict_ = end == BodyEnd::kComplete ? verify_checksum() : verdict_;
  if (all_or_nothing && (end != BodyEnd::kComplete || verdict_ != AppendOutcome::kOk)) {
    writer_.discard();  // may call on_writer_finished() right away
    return;
  }
  // (Only a whole body ends the upload; a write that failed leaves the length open.)
  if (request_.ends_upload && end == BodyEnd::kComplete && !writer_.failed() &&
      !request_.upload->view().length_known()) {
    writer_.declare_length_at_end();
  }
  writer_.finish();  // may call on_writer_finished() right away
}

void AppendSession::on_writer_progress() {
  if (progress_ != nullptr) progress_->on_write_progress();
}

void AppendSession::on_writer_finished(Status status) {
  writer_.end();
  Upload& upload = *request_.upload;
  UploadView view = upload.view();
  if (view.complete() && !was_complete_) {
    reactor_->stats().uploads_completed.fetch_add(1, std::memory_order_relaxed);
    // Still the owner: this comes before any removal's event for the upload.
    if (store_->events() != nullptr) store_->events()->on_finished(upload);
  }
  // The descriptors stay useful while the upload is incomplete and healthy.
  store_->release_files(reactor_->ring(), upload, files_, status.ok() && !view.complete(),
                        monotonic_ms_now());
  AppendOutcome outcome = AppendOutcome::kOk;
  switch (end_) {
    case BodyEnd::kComplete: outcome = AppendOutcome::kOk; break;
    case BodyEnd::kPeerGone: outcome = AppendOutcome::kPeerGone; break;
    case BodyEnd::kCutOff: outcome = AppendOutcome::kCutOff; break;
    case BodyEnd::kTimedOut: outcome = AppendOutcome::kTimedOut; break;
    case BodyEnd::kMalformed: outcome = AppendOutcome::kMalformed; break;
    case BodyEnd::kOverrun: outcome = AppendOutcome::kOverrun; break;
    case BodyEnd::kStorageError: outcome = AppendOutcome::kStorageError; break;
  }
  if (end_ == BodyEnd::kComplete && verdict_ != AppendOutcome::kOk) outcome = verdict_;
  if (outcome == AppendOutcome::kOk && request_.ends_upload && !view.complete()) {
    outcome = AppendOutcome::kLengthConflict;  // the body ended short of the known length
  }
  if (!status.ok() && end_ != BodyEnd::kPeerGone && end_ != BodyEnd::kCutOff) {
    RINGEST_LOG_ERROR("upload %.*s: write failed at or after offset %llu: %s", 32,
                      upload.id_chars, static_cast<unsigned long long>(view.offset),
                      code_name(status.code));
    outcome = outcome_of(status);
  }
  done(outcome);
}

void AppendSession::remove() {
  RINGEST_CHECK(state_ == State::kOwning && request_.intent == AppendIntent::kRemove);
  state_ = State::kRemoving;
  if (!store_->remove(op_, reactor_->ring(), *request_.upload, this)) {
    done(AppendOutcome::kReferenced);  // a final lists it: nothing was changed
  }
}

void AppendSession::done(AppendOutcome outcome) {
  UploadView view = request_.upload->view();
  release_ownership();
  state_ = State::kIdle;
  upload_unref(request_.upload);
  request_.upload = nullptr;
  listener_->on_append_done(outcome, view);
}

void AppendSession::abandon() {
  if (state_ == State::kIdle) return;
  RINGEST_CHECK(!busy());
  if (writer_.active()) writer_.end();
  if (request_.upload != nullptr) {
    if (files_.data_fd >= 0 || files_.record_fd >= 0) {
      store_->release_files(reactor_->ring(), *request_.upload, files_, false, 0);
    }
    if (owns_ || state_ == State::kWaiting) {
      owns_ = false;
      ReleaseOutcome out = abandon_upload(*request_.upload, self());
      if (out.send_handoff) post(out.handoff_to, UploadMessage::kHandoff);
    }
    upload_unref(request_.upload);
    request_.upload = nullptr;
  }
  state_ = State::kIdle;
}

void AppendSession::give_up_waiting() {
  if (state_ != State::kWaiting) return;
  // Undoes whichever applies: still the waiter, or made owner by a handoff that never arrived
  // (then the upload goes on to whoever waits next).
  ReleaseOutcome out = abandon_upload(*request_.upload, self());
  if (out.send_handoff) post(out.handoff_to, UploadMessage::kHandoff);
  state_ = State::kOwning;
  ready(AppendOutcome::kBusy);
}

void AppendSession::on_completion(Completion* /*completion*/, int res, uint32_t /*flags*/) {
  uint32_t payload = static_cast<uint32_t>(res);
  if (state_ == State::kIdle || !generation_matches(payload, generation_)) return;
  switch (message_kind(payload)) {
    case UploadMessage::kAbort:
      if (state_ == State::kOwning && request_.intent == AppendIntent::kAppend &&
          writer_.active()) {
        listener_->on_append_cut();  // the caller stops the body, then finish()
      }
      return;  // otherwise already finishing; the waiter gets its handoff then
    case UploadMessage::kHandoff:
      if (state_ != State::kWaiting) return;
      owns_ = true;
      on_owned();
      return;
    case UploadMessage::kSuperseded:
      if (state_ != State::kWaiting) return;
      abandon_upload(*request_.upload, self());  // no longer the waiter (already replaced)
      state_ = State::kOwning;
      ready(AppendOutcome::kSuperseded);
      return;
  }
}

}  // namespace ringest
