#include "engine/upload/expiry_collector.h"

#include <cstring>

#include "engine/base/check.h"
#include "engine/base/clock.h"
#include "engine/base/log.h"

namespace ringest {

ExpiryCollector::ExpiryCollector(UploadStore* store) : store_(store) {
  for (Slot& slot : slots_) slot.collector = this;
}

void ExpiryCollector::start(Reactor* reactor) {
  RINGEST_CHECK(store_->expiry().enabled() && reactor_ == nullptr);
  reactor_ = reactor;
  const ExpiryPolicy& policy = store_->expiry();
  auto ms = [](uint64_t v) { return static_cast<unsigned long long>(v); };
  RINGEST_LOG_INFO("expiry: unfinished uploads %llu ms after their last byte, finished ones %llu "
                   "ms after completion (0: never); a sweep every %llu ms on reactor %d",
                   ms(policy.unfinished_ms), ms(policy.finished_ms),
                   ms(policy.sweep_period_ms()), reactor->index());
  arm(0);  // the first sweep at once: what expired while the node was down goes first
}

void ExpiryCollector::begin_shutdown() {
  stopping_ = true;
  if (timer_armed_) reactor_->ring().cancel(&timer_);
}

bool ExpiryCollector::drained() const {
  if (timer_armed_) return false;
  for (const Slot& slot : slots_) {
    if (slot.removing) return false;
  }
  return true;
}

void ExpiryCollector::arm(uint64_t delay_ms) {
  delay_.tv_sec = static_cast<int64_t>(delay_ms / 1000);
  delay_.tv_nsec = static_cast<long long>(delay_ms % 1000) * 1000000;
  reactor_->ring().timeout(&timer_, &delay_);
  timer_armed_ = true;
}

void ExpiryCollector::on_completion(Completion* completion, int /*res*/, uint32_t /*flags*/) {
  if (completion == &mailbox_) return;  // an abort for an upload being removed: see mailbox_
  RINGEST_CHECK(completion == &timer_);
  timer_armed_ = false;
  if (stopping_) return;
  step();
}

size_t ExpiryCollector::free_slots() const {
  size_t n = 0;
  for (const Slot& slot : slots_) n += slot.removing ? 0 : 1;
  return n;
}

void ExpiryCollector::step() {
  const ExpiryPolicy& policy = store_->expiry();
  uint64_t now = unix_ms_now();
  Upload* picked[kSlots];
  size_t want = free_slots();
  size_t n = 0;
  if (want > 0) {
    cursor_ = store_->registry().sweep(cursor_, kVisitsPerStep, [&](Upload& upload) {
      if (n == want) return false;  // come back to this one when a slot is free
      std::lock_guard lock(upload.mu);
      if (expired_and_free_locked(upload, policy, now)) {
        upload_ref(&upload);
        picked[n++] = &upload;
      }
      return true;
    });
  }
  for (size_t i = 0; i < n; ++i) remove(picked[i], now);
  // A sweep under way (or held up by busy slots) goes on soon; a finished one waits a period.
  arm(cursor_ != 0 || want == 0 ? kStepPauseMs : policy.sweep_period_ms());
}

void ExpiryCollector::remove(Upload* upload, uint64_t now_unix_ms) {
  UploadRef ref(upload);
  Slot* slot = nullptr;
  for (Slot& s : slots_) {
    if (!s.removing) {
      slot = &s;
      break;
    }
  }
  RINGEST_CHECK(slot != nullptr);
  slot->me = {reactor_, &mailbox_, ++generation_};
  // Checked again as the claim is taken: a request may have taken it since the sweep saw it.
  if (!claim_expired_upload(*upload, store_->expiry(), now_unix_ms, slot->me)) return;
  slot->upload = std::move(ref);
  slot->removing = true;
  // Remembered before it leaves the registry, so that no request meanwhile hears 404. (If the
  // removal fails the upload comes back, still expired: 410 either way.)
  store_->expired_ids().add(upload->id());
  if (!store_->remove(slot->op, reactor_->ring(), *upload, slot, RemoveReason::kExpired)) {
    let_go(*slot);  // a final listed it meanwhile: it stays while that final lives
  }
}

void ExpiryCollector::Slot::on_store_done(StoreOp* /*op*/, Status status) {
  collector->removed(*this, status);
}

void ExpiryCollector::removed(Slot& slot, Status status) {
  Upload& upload = *slot.upload;
  if (status.ok()) {
    reactor_->stats().uploads_expired.fetch_add(1, std::memory_order_relaxed);
    ++batch_removed_;
  } else {
    RINGEST_LOG_ERROR("expiry: cannot remove upload %.*s: %s (kept; tried again next sweep)",
                      static_cast<int>(upload.id().size()), upload.id().data(),
                      code_name(status.code));
    ++batch_failed_;
  }
  let_go(slot);
  if (free_slots() == kSlots && (batch_removed_ > 0 || batch_failed_ > 0)) {
    RINGEST_LOG_INFO("expiry: removed %llu expired upload(s)%s",
                     static_cast<unsigned long long>(batch_removed_),
                     batch_failed_ > 0 ? "; some could not be removed (see above)" : "");
    batch_removed_ = batch_failed_ = 0;
  }
}

void ExpiryCollector::let_go(Slot& slot) {
  Upload& upload = *slot.upload;
  ReleaseOutcome out = release_upload(upload, slot.me);
  if (out.send_handoff) {
    reactor_->post_message(out.handoff_to, encode_message(UploadMessage::kHandoff,
                                                          out.handoff_to.generation));
  }
  slot.upload.reset();
  slot.removing = false;
}

}  // namespace ringest
