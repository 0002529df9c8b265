// Proves the per-client table of the disk budget: each bound (unfinished uploads, their bytes)
// refuses exactly at its limit and gives room back on credit; clients are independent; IPv6
// clients are their /64 and IPv4-mapped addresses are the IPv4 client; and thousands of clients
// charged and credited in a scrambled order leave every count right (backward-shift deletion)
// and the table empty.
#include "engine/upload/client_table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace ringest {
namespace {

ClientKey v4(uint32_t host) { return ClientKey::ipv4(host); }

TEST(ClientTable, UploadBound) {
  ClientTable t(2, 0);
  EXPECT_EQ(t.charge(v4(1), 10), ClientVerdict::kOk);
  EXPECT_EQ(t.charge(v4(1), 10), ClientVerdict::kOk);
  EXPECT_EQ(t.charge(v4(1), 10), ClientVerdict::kTooManyUploads);
  EXPECT_EQ(t.charge(v4(2), 10), ClientVerdict::kOk);
  t.credit(v4(1), 10);
  EXPECT_EQ(t.charge(v4(1), 10), ClientVerdict::kOk);
  uint32_t uploads = 0;
  uint64_t bytes = 0;
  ASSERT_TRUE(t.holds(v4(1), &uploads, &bytes));
  EXPECT_EQ(uploads, 2u);
  EXPECT_EQ(bytes, 20u);
}

TEST(ClientTable, ByteBound) {
  ClientTable t(0, 100);
  EXPECT_EQ(t.charge(v4(1), 101), ClientVerdict::kTooManyBytes);
  EXPECT_EQ(t.clients(), 0u) << "a refused first charge leaves no entry";
  EXPECT_EQ(t.charge(v4(1), 60), ClientVerdict::kOk);
  EXPECT_EQ(t.charge(v4(1), 41), ClientVerdict::kTooManyBytes);
  EXPECT_EQ(t.charge(v4(1), 40), ClientVerdict::kOk);
  EXPECT_EQ(t.charge(v4(1), 0), ClientVerdict::kOk);  // a deferred length: 0 bytes
  t.credit(v4(1), 60);
  EXPECT_EQ(t.charge(v4(1), 60), ClientVerdict::kOk);
}

TEST(ClientTable, Ipv6IsItsSlash64AndMappedIpv4IsIpv4) {
  uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1};
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9};
  uint8_t c[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1};
  EXPECT_TRUE(ClientKey::ipv6(a) == ClientKey::ipv6(b));
  EXPECT_FALSE(ClientKey::ipv6(a) == ClientKey::ipv6(c));
  uint8_t mapped[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2};
  uint32_t v4_address = 0;
  std::memcpy(&v4_address, mapped + 12, 4);
  EXPECT_TRUE(ClientKey::ipv6(mapped) == ClientKey::ipv4(v4_address));
}

TEST(ClientTable, ThousandsOfClientsChargedAndCreditedInAnyOrder) {
  ClientTable t(3, 0);
  std::vector<uint32_t> hosts;
  for (uint32_t i = 0; i < 20000; ++i) hosts.push_back(i * 2654435761u);
  for (uint32_t h : hosts) {
    ASSERT_EQ(t.charge(v4(h), 1), ClientVerdict::kOk);
    ASSERT_EQ(t.charge(v4(h), 2), ClientVerdict::kOk);
  }
  EXPECT_EQ(t.clients(), hosts.size());
  std::mt19937 rng(7);
  std::shuffle(hosts.begin(), hosts.end(), rng);
  for (size_t i = 0; i < hosts.size(); ++i) {
    t.credit(v4(hosts[i]), 1);
    if (i % 2 == 0) t.credit(v4(hosts[i]), 2);
  }
  for (size_t i = 0; i < hosts.size(); ++i) {
    uint32_t uploads = 0;
    uint64_t bytes = 0;
    bool held = t.holds(v4(hosts[i]), &uploads, &bytes);
    ASSERT_EQ(held, i % 2 == 1) << i;
    if (held) {
      ASSERT_EQ(uploads, 1u);
      ASSERT_EQ(bytes, 2u);
      t.credit(v4(hosts[i]), 2);
    }
  }
  EXPECT_EQ(t.clients(), 0u);
}

TEST(ClientTable, FullTableRefusesNewClientsOnly) {
  ClientTable t(0, 0);
  for (uint32_t i = 0; i < ClientTable::kMaxClients; ++i) {
    ASSERT_EQ(t.charge(v4(i + 1), 1), ClientVerdict::kOk);
  }
  EXPECT_EQ(t.charge(v4(0xffffffffu), 1), ClientVerdict::kTableFull);
  EXPECT_EQ(t.charge(v4(1), 1), ClientVerdict::kOk);  // a known client still charges
  t.credit(v4(2), 1);
  EXPECT_EQ(t.charge(v4(0xffffffffu), 1), ClientVerdict::kOk);
}

}  // namespace
}  // namespace ringest
