// The Redis store's pending counter deltas: coalescing, the bound, drops,
// and the counters-script arguments a batch is taken as.
#include "persist/redis/delta_buffer.h"
#include "persist/redis/redis_slot.h"

#include <gtest/gtest.h>

#include <vector>

namespace tollgate::persist {
namespace {

FieldDelta incr(std::string field, int64_t n) { return {FieldDelta::Op::kIncr, std::move(field), n, 0}; }

// Verifies deltas of one field coalesce into one pending field (and do not
// count against the bound again), whatever the number of ticks.
TEST(DeltaBuffer, CoalescesPerField) {
  DeltaBuffer buffer(10);
  for (int tick = 0; tick < 5; ++tick) {
    std::vector<FieldDelta> d{incr("q|q|7", 2), incr("w|w|3|0", 1)};
    ASSERT_TRUE(buffer.add("k:a", d, 1000));
  }
  EXPECT_EQ(buffer.fields(), 2u);
  DeltaBuffer::Batch b = buffer.take(10, 0);
  EXPECT_EQ(b.keys, std::vector<std::string>{"k:a"});
  EXPECT_EQ(b.args, (std::vector<std::string>{"2", "1000", "i", "q|q|7", "10", "i", "w|w|3|0", "5"}));
  EXPECT_EQ(b.fields, 2u);
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.fields(), 0u);
}

// Verifies the bound: a hash whose new fields would pass it is refused whole
// (fields held in unconfirmed batches count too); existing fields still coalesce.
TEST(DeltaBuffer, BoundRefusesNewFieldsOnly) {
  DeltaBuffer buffer(3);
  std::vector<FieldDelta> two{incr("a", 1), incr("b", 1)};
  ASSERT_TRUE(buffer.add("k:1", two, 1));
  EXPECT_FALSE(buffer.add("k:2", two, 1)) << "2 + 2 > 3";
  EXPECT_EQ(buffer.fields(), 2u) << "all or none";
  std::vector<FieldDelta> one{incr("a", 1)};
  EXPECT_TRUE(buffer.add("k:2", one, 1));
  EXPECT_FALSE(buffer.add("k:3", one, 1));
  EXPECT_TRUE(buffer.add("k:1", two, 1)) << "existing fields coalesce even when full";
  DeltaBuffer other(3);
  EXPECT_FALSE(other.add("k:1", two, 1, 2)) << "2 held in batches + 2 new > 3";
  std::vector<FieldDelta> twice{incr("a", 1), incr("a", 4)};
  EXPECT_TRUE(other.add("k:1", twice, 1, 2)) << "one new field, counted once";
  EXPECT_EQ(other.fields(), 1u);
}

// Verifies RESET's drop removes a limit's pending fields only.
TEST(DeltaBuffer, DropByPrefix) {
  DeltaBuffer buffer(10);
  std::vector<FieldDelta> d{incr("daily|q|7", 1), incr("minute|w|1|0", 1), incr("dailyx|q|7", 1)};
  ASSERT_TRUE(buffer.add("k:a", d, 1));
  buffer.drop("k:a", "daily|");
  EXPECT_EQ(buffer.fields(), 2u);
  buffer.drop("k:a", "");
  EXPECT_TRUE(buffer.empty());
}

// Verifies a batch takes at most max_hashes hashes, and a token bucket's
// advance is computed at take time: a bucket full again sends no op.
TEST(DeltaBuffer, TakeLimitsHashesAndComputesAdvances) {
  DeltaBuffer buffer(100);
  for (int k = 0; k < 5; ++k) {
    std::vector<FieldDelta> d{incr("q", 1)};
    ASSERT_TRUE(buffer.add("k:" + std::to_string(k), d, 1));
  }
  EXPECT_EQ(buffer.take(2, 0).keys.size(), 2u);
  EXPECT_EQ(buffer.fields(), 3u);
  DeltaBuffer tat(10);
  std::vector<FieldDelta> d{{FieldDelta::Op::kTat, "b|t", 1500, 1000}};
  ASSERT_TRUE(tat.add("k:t", d, 1));
  DeltaBuffer copy = tat;
  EXPECT_EQ(tat.take(1, 1200).args, (std::vector<std::string>{"1", "1", "t", "b|t", "300"}));
  EXPECT_EQ(copy.take(1, 2000).args, (std::vector<std::string>{"0", "1"})) << "full again by the time it is sent";
}

// Verifies a cluster buffer hands out batches of one slot each (a script must
// be single-slot), every hash exactly once, and drop() finds its hashes.
TEST(DeltaBuffer, BySlotBatchesHoldOneSlot) {
  DeltaBuffer buffer(1000, true);
  std::vector<std::string> hashes;
  for (int i = 0; i < 40; ++i) hashes.push_back("k:c" + std::to_string(i));
  hashes.push_back("k:{c1}x");  // same slot as "c1" only by tag: k:c1's slot differs
  for (const auto& h : hashes) ASSERT_TRUE(buffer.add(h, std::vector<FieldDelta>{incr("q|q|1", 1)}, 10));
  buffer.drop("k:c0", "");
  size_t taken = 0;
  while (!buffer.empty()) {
    DeltaBuffer::Batch b = buffer.take(256, 0);
    ASSERT_FALSE(b.keys.empty());
    for (const auto& k : b.keys) EXPECT_EQ(key_slot(k), b.slot) << k;
    taken += b.keys.size();
  }
  EXPECT_EQ(taken, hashes.size() - 1);
}

}  // namespace
}  // namespace tollgate::persist
