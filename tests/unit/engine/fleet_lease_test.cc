// FleetLease (engine/fleet_lease.h): the lock-free lease word the workers
// take from while the control plane adds grants, drains returns and rolls
// periods. Hammered from several threads: every unit is taken, drained or
// left exactly once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "engine/fleet_lease.h"

namespace tollgate {
namespace {

// Verifies take/give_back respect the tag and never go below zero.
TEST(FleetLease, TakeNeedsTheSameTagAndEnoughUnits) {
  FleetLease lease;
  EXPECT_FALSE(lease.take(1, 7, 1));
  EXPECT_EQ(lease.add(1, 7, 5), 0);
  EXPECT_FALSE(lease.take(1, 8, 1)) << "another period's units are not this one's";
  EXPECT_FALSE(lease.take(1, 7, 6));
  EXPECT_TRUE(lease.take(1, 7, 5));
  EXPECT_EQ(lease.units(1, 7), 0);
  lease.give_back(1, 7, 2);
  EXPECT_EQ(lease.units(1, 7), 2);
  EXPECT_EQ(lease.roll(1, 8), 2) << "a roll hands back what the old period had";
  lease.give_back(1, 7, 1);
  EXPECT_EQ(lease.units(1, 8), 0) << "a give-back of an ended period is dropped";
  EXPECT_EQ(lease.pool(1).taken.load(), 3u) << "5 taken, 2 given back; the dropped one stays among the taken";
  EXPECT_EQ(lease.drain(1, 8, 10), 0);
}

// Verifies the fail: local budget is per period and bounded.
TEST(FleetLease, LocalBudgetPerPeriod) {
  FleetLease lease;
  EXPECT_TRUE(lease.take_local(0, 1, 3, 4));
  EXPECT_FALSE(lease.take_local(0, 1, 2, 4));
  EXPECT_TRUE(lease.take_local(0, 1, 1, 4));
  EXPECT_TRUE(lease.take_local(0, 2, 4, 4)) << "a new period has a fresh budget";
  lease.give_back_local(0, 2, 4);
  EXPECT_TRUE(lease.take_local(0, 2, 4, 4));
}

// Verifies no unit is ever spent twice or lost while workers take and give
// back and the control plane grants, drains and rolls at the same time:
// granted = taken (net of give-backs) + drained + rolled + left.
TEST(FleetLease, HammerEveryUnitCountedOnce) {
  FleetLease lease;
  constexpr int kWorkers = 4;
  constexpr int64_t kGrants = 5000;
  std::atomic<bool> done{false};
  std::atomic<int64_t> calls{0};
  std::atomic<uint32_t> tag{1};
  std::vector<std::thread> workers;
  for (int w = 0; w < kWorkers; ++w) {
    workers.emplace_back([&, w] {
      int64_t mine = 0;
      while (!done.load(std::memory_order_acquire)) {
        const uint32_t t = tag.load(std::memory_order_acquire);
        const int64_t cost = 1 + (w % 2);
        if (lease.take(1, t, cost)) {
          mine += cost;
          // Now and then a later check denies: given back (dropped if the period rolled meanwhile).
          if (mine % 7 == 0) lease.give_back(1, t, cost);
        }
      }
      calls.fetch_add(mine);
    });
  }
  int64_t granted = 0, drained = 0, rolled = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  // Grants, drains and rolls until the workers took kGrants units (or 1 s):
  // the lease is kept short so that the workers race for every grant.
  for (int64_t i = 0; lease.pool(1).taken.load() < static_cast<uint64_t>(kGrants) &&
                      std::chrono::steady_clock::now() < deadline;
       ++i) {
    const uint32_t t = tag.load();
    if (lease.units(1, t) > 16) {
      std::this_thread::yield();
      continue;
    }
    lease.add(1, t, 3);
    granted += 3;
    if (i % 50 == 0) drained += lease.drain(1, t, 2);
    if (i % 2000 == 1999) {
      tag.store(t + 1, std::memory_order_release);
      rolled += lease.roll(1, t + 1);
    }
  }
  done.store(true, std::memory_order_release);
  for (auto& t : workers) t.join();
  const int64_t left = lease.units(1, tag.load());
  // The pool's own count of units taken (net of give-backs that landed): a
  // give-back racing a roll lands before it (the roll counts the unit) or is
  // dropped (the unit stays counted taken): never both, never neither.
  const auto taken = static_cast<int64_t>(lease.pool(1).taken.load());
  EXPECT_EQ(taken + drained + rolled + left, granted);
  EXPECT_GT(calls.load(), 0);
  EXPECT_LE(taken, calls.load());
}

}  // namespace
}  // namespace tollgate
