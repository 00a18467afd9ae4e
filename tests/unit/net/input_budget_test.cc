// InputBudget: the total of grown input buffers stays under the limit by
// choosing the largest holders as victims.
#include "net/input_budget.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace tollgate {
namespace {

// Opaque identities: the budget never dereferences them.
int holder_a, holder_b, holder_c, worker_1, worker_2;

TEST(InputBudget, GrowthWithinTheLimitIsGranted) {
  // Verifies growth that fits is granted and counted, and shrinking or
  // removal gives the bytes back.
  InputBudget budget(1000);
  std::vector<InputBudget::Victim> victims;
  EXPECT_TRUE(budget.set(&holder_a, &worker_1, 1, 600, victims));
  EXPECT_TRUE(budget.set(&holder_b, &worker_2, 2, 400, victims));
  EXPECT_TRUE(victims.empty());
  EXPECT_EQ(budget.used(), 1000u);
  EXPECT_TRUE(budget.set(&holder_a, &worker_1, 1, 100, victims));  // shrink
  EXPECT_EQ(budget.used(), 500u);
  budget.remove(&holder_b);
  EXPECT_EQ(budget.used(), 100u);
  EXPECT_TRUE(budget.set(&holder_a, &worker_1, 1, 0, victims));  // back to its initial buffer
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_TRUE(victims.empty());
}

TEST(InputBudget, OverTheLimitTheLargestOtherHolderIsDropped) {
  // Verifies a growth past the limit picks the largest holder (on another
  // worker) and still grants the asker, which is smaller.
  InputBudget budget(1000);
  std::vector<InputBudget::Victim> victims;
  ASSERT_TRUE(budget.set(&holder_a, &worker_1, 1, 700, victims));
  ASSERT_TRUE(budget.set(&holder_c, &worker_1, 3, 100, victims));
  EXPECT_TRUE(budget.set(&holder_b, &worker_2, 2, 300, victims));
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0].group, &worker_1);
  EXPECT_EQ(victims[0].id, 1u);
  EXPECT_EQ(victims[0].bytes, 700u);
  EXPECT_EQ(budget.victims_chosen(), 1u);
  // Until the victim is gone its bytes still count; it is not chosen again.
  EXPECT_EQ(budget.used(), 1100u);
  victims.clear();
  EXPECT_TRUE(budget.set(&holder_c, &worker_1, 3, 150, victims));  // shrinking never drops anyone
  EXPECT_TRUE(victims.empty());
  budget.remove(&holder_a);
  EXPECT_EQ(budget.used(), 450u);
}

TEST(InputBudget, TheAskerIsDroppedWhenItIsTheLargest) {
  // Verifies the asking holder is refused (and listed) when it would be the
  // largest, and its old bytes stay counted until it is removed.
  InputBudget budget(1000);
  std::vector<InputBudget::Victim> victims;
  ASSERT_TRUE(budget.set(&holder_a, &worker_1, 1, 300, victims));
  ASSERT_TRUE(budget.set(&holder_b, &worker_2, 2, 500, victims));
  EXPECT_FALSE(budget.set(&holder_a, &worker_1, 1, 900, victims));
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0].id, 1u);
  EXPECT_EQ(budget.used(), 800u);
  victims.clear();
  EXPECT_FALSE(budget.set(&holder_a, &worker_1, 1, 1000, victims));  // still on its way out
  EXPECT_TRUE(victims.empty());
  budget.remove(&holder_a);
  EXPECT_EQ(budget.used(), 500u);
}

TEST(InputBudget, VictimsOnTheirWayOutAreNotFollowedByMore) {
  // Verifies the bytes of a chosen victim count as gone for later growth:
  // the next asker that fits beside the rest picks no second victim.
  InputBudget budget(1000);
  std::vector<InputBudget::Victim> victims;
  ASSERT_TRUE(budget.set(&holder_a, &worker_1, 1, 700, victims));
  ASSERT_TRUE(budget.set(&holder_b, &worker_1, 2, 200, victims));
  ASSERT_TRUE(budget.set(&holder_c, &worker_2, 3, 300, victims));
  ASSERT_EQ(victims.size(), 1u);  // holder_a
  victims.clear();
  int holder_d;
  EXPECT_TRUE(budget.set(&holder_d, &worker_2, 4, 400, victims));  // 200 + 300 + 400 stay
  EXPECT_TRUE(victims.empty());
  EXPECT_EQ(budget.used(), 1600u);  // held until holder_a is freed
  budget.remove(&holder_a);
  EXPECT_EQ(budget.used(), 900u);
  // Now over again: the largest of the rest goes.
  EXPECT_TRUE(budget.set(&holder_b, &worker_1, 2, 350, victims));
  ASSERT_EQ(victims.size(), 1u);
  EXPECT_EQ(victims[0].id, 4u);
}

TEST(InputBudget, ConcurrentHoldersKeepTheBooksExact) {
  // Verifies (and, under TSan, races) growth, shrinking, victims and removal
  // from several threads at once: the books end exact (nothing left when
  // every holder is gone) and victims are chosen along the way.
  InputBudget budget(1 << 20);
  constexpr int kThreads = 4, kHolders = 8, kRounds = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&budget, t] {
      int holders[kHolders];
      std::vector<InputBudget::Victim> victims;
      uint32_t x = 12345u + static_cast<uint32_t>(t);
      for (int r = 0; r < kRounds; ++r) {
        x = x * 1664525u + 1013904223u;
        int* h = &holders[x % kHolders];
        const size_t grown = (x >> 8) % (256 << 10);
        if ((x >> 28) == 0) {
          budget.remove(h);  // closed (a victim, or on its own)
        } else {
          (void)budget.set(h, &holders[0], static_cast<uint64_t>(t * kHolders + (h - holders)), grown, victims);
        }
        victims.clear();
      }
      for (int& h : holders) budget.remove(&h);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(budget.used(), 0u);
  EXPECT_GT(budget.victims_chosen(), 0u);
}

}  // namespace
}  // namespace tollgate
