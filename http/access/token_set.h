// Bearer tokens: an immutable set, and the registry that lets the main thread replace it (on
// SIGHUP) while reactor threads check tokens without locks or allocation.
//
// Comparison: the set keeps the SHA-256 of each token; a presented token is hashed and compared
// with every digest by CRYPTO_memcmp, without stopping at a match. The time taken depends on the
// number of tokens only, not on how much of a token is right, nor on its length.
//
// Reclamation: hazard pointers. A reader publishes the set it is about to use in its thread's
// slot, re-reads the current pointer to make sure that set was not retired meanwhile, uses it
// and clears the slot: two stores and two loads per check, no lock, no allocation (after a
// thread's first check, which claims its slot). The publisher swaps the pointer, then waits
// until no slot holds the old set and frees it. Readers hold a set for one check only
// (microseconds), so the wait is short; it happens on the main thread, never on a reactor.
// std::atomic<std::shared_ptr> was the alternative: libstdc++'s takes an internal spin lock on
// every load and makes the last reader free the old set on a reactor thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "http/access/hmac_sha256.h"

namespace ringest::access {

class TokenSet {
 public:
  explicit TokenSet(const std::vector<std::string>& tokens);
  TokenSet(const TokenSet&) = delete;
  TokenSet& operator=(const TokenSet&) = delete;

  bool contains(std::string_view candidate) const;
  size_t size() const { return digests_.size(); }

 private:
  std::vector<Digest> digests_;
};

class TokenRegistry {
 public:
  TokenRegistry() = default;
  ~TokenRegistry();
  TokenRegistry(const TokenRegistry&) = delete;
  TokenRegistry& operator=(const TokenRegistry&) = delete;

  // Makes `next` the current set. Returns once no thread can still be reading the previous
  // set, which is then freed. Not for reactor threads (it may wait).
  void publish(std::unique_ptr<const TokenSet> next);
  // Any thread, at any time. False while no set has been published.
  bool contains(std::string_view candidate) const;
  // The current set's size (for log lines).
  size_t size() const;

 private:
  std::atomic<const TokenSet*> current_{nullptr};
  mutable std::mutex publish_mu_;  // publishers (and size()); contains() never takes it
};

// Hazard slots in use by live threads (for tests: a thread's slot is released when it exits).
size_t hazard_slots_in_use();

// The token of an `Authorization: Bearer <token>` header value; empty when the header is
// absent, uses another scheme, or has no token. The scheme name is case-insensitive.
std::string_view bearer_token(std::string_view authorization);

}  // namespace ringest::access
