#include "http/access/token_set.h"

#include <chrono>
#include <thread>

#include "engine/base/check.h"

namespace ringest::access {
namespace {

// One hazard slot per thread that has checked a token: reactors (at most 256) plus whatever
// threads tests run. Shared by every registry: a slot holds a set's address, and addresses
// are unique while the set lives.
constexpr size_t kHazardSlots = 1024;

struct alignas(64) HazardSlot {  // own cache line: readers on different cores never share one
  std::atomic<const void*> hazard{nullptr};
  std::atomic<bool> claimed{false};
};

HazardSlot g_slots[kHazardSlots];

// Claims a slot on a thread's first check and gives it back when the thread exits.
struct SlotOwner {
  HazardSlot* slot = nullptr;
  ~SlotOwner() {
    if (slot == nullptr) return;
    slot->hazard.store(nullptr, std::memory_order_release);
    slot->claimed.store(false, std::memory_order_release);
  }
};

HazardSlot* my_slot() {
  thread_local SlotOwner owner;
  if (owner.slot == nullptr) {
    for (HazardSlot& s : g_slots) {
      bool expected = false;
      if (s.claimed.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) {
        owner.slot = &s;
        break;
      }
    }
    RINGEST_CHECK(owner.slot != nullptr);  // more live threads than kHazardSlots
  }
  return owner.slot;
}

bool any_hazard(const void* p) {
  for (HazardSlot& s : g_slots) {
    if (s.hazard.load(std::memory_order_seq_cst) == p) return true;
  }
  return false;
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

}  // namespace

TokenSet::TokenSet(const std::vector<std::string>& tokens) {
  digests_.reserve(tokens.size());
  for (const std::string& t : tokens) digests_.push_back(sha256(t));
}

bool TokenSet::contains(std::string_view candidate) const {
  Digest d = sha256(candidate);
  bool found = false;
  for (const Digest& known : digests_) {
    found |= equal_constant_time(known.data(), d.data(), d.size());  // no early exit
  }
  return found;
}

TokenRegistry::~TokenRegistry() { delete current_.load(std::memory_order_acquire); }

void TokenRegistry::publish(std::unique_ptr<const TokenSet> next) {
  std::lock_guard lock(publish_mu_);
  const TokenSet* old = current_.exchange(next.release(), std::memory_order_seq_cst);
  if (old == nullptr) return;
  // A reader that loaded `old` either has it in its slot by now (we wait for it) or will see
  // the new pointer when it re-checks, and retry with that.
  while (any_hazard(old)) std::this_thread::sleep_for(std::chrono::microseconds(50));
  delete old;
}

bool TokenRegistry::contains(std::string_view candidate) const {
  HazardSlot* slot = my_slot();
  const TokenSet* set = current_.load(std::memory_order_acquire);
  for (;;) {
    slot->hazard.store(set, std::memory_order_seq_cst);
    const TokenSet* again = current_.load(std::memory_order_seq_cst);
    if (again == set) break;
    set = again;
  }
  bool found = set != nullptr && set->contains(candidate);
  slot->hazard.store(nullptr, std::memory_order_release);
  return found;
}

size_t TokenRegistry::size() const {
  // Only publishers free sets, and they hold publish_mu_.
  std::lock_guard lock(publish_mu_);
  const TokenSet* set = current_.load(std::memory_order_acquire);
  return set == nullptr ? 0 : set->size();
}

size_t hazard_slots_in_use() {
  size_t n = 0;
  for (HazardSlot& s : g_slots) n += s.claimed.load(std::memory_order_acquire) ? 1 : 0;
  return n;
}

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view kScheme = "bearer";
  if (authorization.size() <= kScheme.size()) return {};
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (lower(authorization[i]) != kScheme[i]) return {};
  }
  std::string_view rest = authorization.substr(kScheme.size());
  if (rest.front() != ' ' && rest.front() != '\t') return {};  // "Bearerx", another scheme
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  while (!rest.empty() && (rest.back() == ' ' || rest.back() == '\t')) rest.remove_suffix(1);
  return rest;
}

}  // namespace ringest::access
