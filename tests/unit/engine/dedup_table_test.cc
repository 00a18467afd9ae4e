#include "engine/dedup_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <barrier>
#include <thread>
#include <vector>

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kWindow = 600 * kNanosPerSecond;

// Verifies the first call claims, a retry inside the window replays the
// stored reply, and a denied call is forgotten so its retry claims again.
TEST(DedupTable, ClaimReplayForget) {
  DedupTable t(1024, kWindow);
  auto c = t.begin(77, kNow);
  ASSERT_EQ(c.result, DedupTable::Lookup::kClaimed);
  EXPECT_EQ(t.begin(77, kNow).result, DedupTable::Lookup::kInProgress);
  t.finish(c.slot, 77, true, {.remaining = 5, .reset_after_ms = 9, .balance = 40, .limit_index = 1}, kNow);
  auto r = t.begin(77, kNow + kWindow - 1);
  ASSERT_EQ(r.result, DedupTable::Lookup::kReplay);
  EXPECT_EQ(r.stored.remaining, 5);
  EXPECT_EQ(r.stored.balance, 40);
  EXPECT_EQ(r.stored.limit_index, 1);
  EXPECT_EQ(t.begin(77, kNow + kWindow).result, DedupTable::Lookup::kClaimed);  // window over

  auto d = t.begin(88, kNow);
  ASSERT_EQ(d.result, DedupTable::Lookup::kClaimed);
  t.finish(d.slot, 88, false, {}, kNow);
  EXPECT_EQ(t.begin(88, kNow).result, DedupTable::Lookup::kClaimed);
}

// Verifies a full probe window overwrites the entry closest to expiry and
// counts it as an early eviction.
TEST(DedupTable, FullWindowEvictsOldest) {
  DedupTable t(DedupTable::kProbe, kWindow);  // one probe window covers the table
  for (uint64_t h = 0; h < DedupTable::kProbe; ++h) {
    auto c = t.begin(h << 8, kNow);
    ASSERT_EQ(c.result, DedupTable::Lookup::kClaimed);
    t.finish(c.slot, h << 8, true, {}, kNow + static_cast<Nanos>(h));
  }
  EXPECT_EQ(t.early_evictions(), 0u);
  EXPECT_EQ(t.begin(999 << 8, kNow).result, DedupTable::Lookup::kClaimed);
  EXPECT_EQ(t.early_evictions(), 1u);
  EXPECT_EQ(t.begin(0, kNow).result, DedupTable::Lookup::kClaimed);  // the oldest (h = 0) went
}

// Verifies that threads racing on one ID claim it exactly once, also when a
// claim is finished between another thread's scan and its claim attempt.
// Without a charge between begin and finish the claim-finish window is as
// short as it gets, which is what exposes such an overwrite.
TEST(DedupTable, RacingSameIdClaimedOnce) {
  constexpr int kThreads = 4, kRounds = 20'000;
  DedupTable t(1 << 16, kWindow);
  std::atomic<int> claims{0};
  std::barrier sync(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      for (int round = 0; round < kRounds; ++round) {
        uint64_t hash = 0x9e3779b97f4a7c15ULL * static_cast<uint64_t>(round + 1);
        sync.arrive_and_wait();
        auto c = t.begin(hash, kNow);
        if (c.result == DedupTable::Lookup::kClaimed) {
          claims.fetch_add(1, std::memory_order_relaxed);
          t.finish(c.slot, hash, true, {}, kNow);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(claims.load(), kRounds);
}

}  // namespace
}  // namespace tollgate
