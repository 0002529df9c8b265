#include "engine/upload/client_table.h"

#include <random>

#include "engine/base/check.h"

namespace ringest {

ClientKey ClientKey::ipv4(uint32_t address_network_order) {
  ClientKey key;
  key.bytes[10] = key.bytes[11] = 0xff;  // ::ffff:a.b.c.d
  std::memcpy(key.bytes + 12, &address_network_order, 4);
  return key;
}

ClientKey ClientKey::ipv6(const uint8_t address[16]) {
  static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  ClientKey key;
  if (std::memcmp(address, kMapped, sizeof kMapped) == 0) {
    std::memcpy(key.bytes, address, 16);  // an IPv4 client on an IPv6 socket
  } else {
    std::memcpy(key.bytes, address, 8);  // the /64
  }
  return key;
}

ClientTable::ClientTable(uint32_t max_uploads, uint64_t max_bytes)
    : max_uploads_(max_uploads),
      max_bytes_(max_bytes),
      seed_(std::random_device{}() | (uint64_t{std::random_device{}()} << 32)),
      entries_(kSlots) {}

uint32_t ClientTable::home(const ClientKey& key) const {
  // A keyed 64-bit mix (splitmix64 finalizer over both halves): clients cannot aim at one chain.
  uint64_t a = 0, b = 0;
  std::memcpy(&a, key.bytes, 8);
  std::memcpy(&b, key.bytes + 8, 8);
  uint64_t x = a ^ seed_;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x ^= b;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return static_cast<uint32_t>(x) & (kSlots - 1);
}

uint32_t ClientTable::find(const ClientKey& key) const {
  for (uint32_t i = home(key);; i = (i + 1) & (kSlots - 1)) {
    const Entry& e = entries_[i];
    if (e.uploads == 0) return kSlots;
    if (e.key == key) return i;
  }
}

ClientVerdict ClientTable::charge(const ClientKey& client, uint64_t bytes) {
  std::lock_guard lock(mu_);
  uint32_t slot = find(client);
  if (slot == kSlots) {
    if (max_bytes_ != 0 && bytes > max_bytes_) return ClientVerdict::kTooManyBytes;
    if (used_ >= kMaxClients) return ClientVerdict::kTableFull;
    slot = home(client);
    while (entries_[slot].uploads != 0) slot = (slot + 1) & (kSlots - 1);
    entries_[slot].key = client;
    entries_[slot].uploads = 1;
    entries_[slot].bytes = bytes;
    ++used_;
    return ClientVerdict::kOk;
  }
  Entry& e = entries_[slot];
  if (max_uploads_ != 0 && e.uploads >= max_uploads_) return ClientVerdict::kTooManyUploads;
  if (max_bytes_ != 0 && (bytes > max_bytes_ || e.bytes > max_bytes_ - bytes)) {
    return ClientVerdict::kTooManyBytes;
  }
  ++e.uploads;
  e.bytes += bytes;
  return ClientVerdict::kOk;
}

void ClientTable::credit(const ClientKey& client, uint64_t bytes) {
  std::lock_guard lock(mu_);
  uint32_t slot = find(client);
  RINGEST_CHECK(slot != kSlots);
  Entry& e = entries_[slot];
  RINGEST_CHECK(e.bytes >= bytes);
  e.bytes -= bytes;
  if (--e.uploads == 0) erase(slot);
}

void ClientTable::erase(uint32_t slot) {
  // Backward-shift deletion: later members of the probe run move up, so no tombstones build up.
  --used_;
  uint32_t hole = slot;
  for (uint32_t i = (slot + 1) & (kSlots - 1);; i = (i + 1) & (kSlots - 1)) {
    Entry& e = entries_[i];
    if (e.uploads == 0) break;
    uint32_t h = home(e.key);
    // e may fill the hole when its home is not in (hole, i] (cyclically).
    bool stays = hole <= i ? (hole < h && h <= i) : (hole < h || h <= i);
    if (stays) continue;
    entries_[hole] = e;
    hole = i;
  }
  entries_[hole] = Entry{};
}

uint32_t ClientTable::clients() {
  std::lock_guard lock(mu_);
  return used_;
}

bool ClientTable::holds(const ClientKey& client, uint32_t* uploads, uint64_t* bytes) {
  std::lock_guard lock(mu_);
  uint32_t slot = find(client);
  if (slot == kSlots) return false;
  *uploads = entries_[slot].uploads;
  *bytes = entries_[slot].bytes;
  return true;
}

}  // namespace ringest
