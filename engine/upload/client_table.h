// ClientTable: what each anonymous client (a remote address) holds in unfinished uploads, so
// one address cannot take every upload slot or the whole disk (docs/operations.md, "Disk
// budget"). A fixed open-addressing table sized at start-up: no allocation after it, one mutex
// taken at creation, completion and removal (never per byte). Hand-written: it is 100 lines and
// no Debian library offers a fixed-capacity map with backward-shift deletion.
//
// Threads: any reactor; the table has its own lock.
#pragma once

#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

namespace ringest {

// A client: an IPv4 address (as an IPv4-mapped IPv6 address) or an IPv6 /64 prefix (one host
// usually has a whole /64, so counting single IPv6 addresses would bound nothing).
struct ClientKey {
  uint8_t bytes[16] = {};
  bool operator==(const ClientKey& other) const {
    return std::memcmp(bytes, other.bytes, sizeof bytes) == 0;
  }
  static ClientKey ipv4(uint32_t address_network_order);
  static ClientKey ipv6(const uint8_t address[16]);
};

enum class ClientVerdict : uint8_t {
  kOk,
  kTooManyUploads,  // the client already has max_uploads unfinished uploads
  kTooManyBytes,    // the client's unfinished uploads' lengths would pass max_bytes
  kTableFull,       // too many distinct clients hold unfinished uploads
};

class ClientTable {
 public:
  // Capacity: how many distinct clients may hold unfinished uploads at once.
  static constexpr uint32_t kSlots = 1 << 16;
  static constexpr uint32_t kMaxClients = kSlots / 4 * 3;

  // 0 disables a bound.
  ClientTable(uint32_t max_uploads, uint64_t max_bytes);
  ClientTable(const ClientTable&) = delete;
  ClientTable& operator=(const ClientTable&) = delete;

  // Charges one upload of `bytes` to `client` unless a bound would be passed.
  ClientVerdict charge(const ClientKey& client, uint64_t bytes);
  // Gives back what charge() took (the upload finished, was removed, or was never created).
  void credit(const ClientKey& client, uint64_t bytes);

  uint32_t clients();  // distinct clients holding something
  bool holds(const ClientKey& client, uint32_t* uploads, uint64_t* bytes);

 private:
  struct Entry {
    ClientKey key;
    uint32_t uploads = 0;  // 0: the slot is free
    uint64_t bytes = 0;
  };
  uint32_t home(const ClientKey& key) const;
  uint32_t find(const ClientKey& key) const;  // the slot holding key, or kSlots
  void erase(uint32_t slot);

  const uint32_t max_uploads_;
  const uint64_t max_bytes_;
  const uint64_t seed_;
  std::mutex mu_;
  std::vector<Entry> entries_;  // kSlots, allocated once
  uint32_t used_ = 0;
};

}  // namespace ringest
