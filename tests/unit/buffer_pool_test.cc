// BufferPool on a real mapping: slots come back by reference count, and waiters are served in
// the order they came (a slot that comes back never goes to a newcomer while others wait).
#include "engine/io/buffer_pool.h"

#include <gtest/gtest.h>

#include <vector>

namespace ringest {
namespace {

struct Waiter final : PoolWaiter {
  BufferPool* pool = nullptr;
  std::vector<int>* served = nullptr;
  int id = 0;
  int slot = -1;
  void on_slot_available() override {
    slot = pool->acquire();
    if (slot >= 0) served->push_back(id);
  }
};

TEST(BufferPool, SlotsReturnWhenTheLastReferenceGoes) {
  BufferPool pool;
  ASSERT_TRUE(pool.init(2, 4096).ok());
  int a = pool.acquire();
  int b = pool.acquire();
  ASSERT_GE(a, 0);
  ASSERT_GE(b, 0);
  EXPECT_EQ(pool.acquire(), -1);
  pool.ref(a);
  pool.unref(a);
  EXPECT_EQ(pool.free_count(), 0u);
  pool.unref(a);
  EXPECT_EQ(pool.free_count(), 1u);
  pool.unref(b);
}

TEST(BufferPool, WaitersAreServedInOrderAndNewcomersQueueBehindThem) {
  BufferPool pool;
  ASSERT_TRUE(pool.init(2, 4096).ok());
  int a = pool.acquire();
  int b = pool.acquire();
  std::vector<int> served;
  Waiter w[3];
  for (int i = 0; i < 3; ++i) {
    w[i].pool = &pool;
    w[i].served = &served;
    w[i].id = i;
    pool.add_waiter(&w[i]);
  }
  pool.unref(a);
  // A slot is free, but three wait for one: a newcomer does not get it.
  EXPECT_EQ(pool.acquire(), -1);
  pool.wake_waiters();
  EXPECT_EQ(served, std::vector<int>({0}));
  EXPECT_TRUE(pool.has_waiters());
  pool.unref(b);
  pool.wake_waiters();
  EXPECT_EQ(served, std::vector<int>({0, 1}));
  // A waiter that leaves the queue is skipped.
  pool.remove_waiter(&w[2]);
  EXPECT_FALSE(pool.has_waiters());
  pool.unref(w[0].slot);
  EXPECT_GE(pool.acquire(), 0);  // nobody waits: first come, first served again
}

}  // namespace
}  // namespace ringest
