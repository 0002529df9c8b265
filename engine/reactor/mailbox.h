// Mailboxes: how one connection tells another, possibly on another reactor, that something
// happened, without locks or allocation. A message is one IORING_OP_MSG_RING into the target's
// ring: the CQE's user_data is the target's mailbox Completion and its res carries a 4-bit kind
// and a 28-bit generation, so a message meant for a request that has since ended (the mailbox's
// owner moved on to a new generation) is recognised and dropped.
#pragma once

#include <cstdint>

#include "engine/io/completion.h"

namespace ringest {

class Reactor;

// Where a message goes: enough to post into that mailbox from any reactor.
struct MailboxAddress {
  Reactor* reactor = nullptr;
  Completion* mailbox = nullptr;
  uint32_t generation = 0;
  bool same_as(const MailboxAddress& other) const {
    return mailbox == other.mailbox && generation == other.generation;
  }
};

inline constexpr uint32_t kMailboxGenerationMask = 0x0FFFFFFFu;

inline uint32_t encode_mailbox(uint32_t kind, uint32_t generation) {
  return (kind << 28) | (generation & kMailboxGenerationMask);
}
inline uint32_t mailbox_kind(uint32_t payload) { return payload >> 28; }
inline uint32_t mailbox_generation(uint32_t payload) { return payload & kMailboxGenerationMask; }
inline bool mailbox_generation_matches(uint32_t payload, uint32_t generation) {
  return mailbox_generation(payload) == (generation & kMailboxGenerationMask);
}

}  // namespace ringest
