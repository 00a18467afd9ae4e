#include "engine/counter_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

std::pair<Entry*, CounterTable::InsertResult> put(CounterTable& t, const std::string& key, bool dynamic = true) {
  return t.insert(key, CounterTable::hash_key(key), nullptr, 1, dynamic, kNow,
                  [](Entry* e) { e->words()[0].store(42); });
}

// Verifies inserted keys are found with their state, and absent keys are not.
TEST(CounterTable, InsertAndFind) {
  Reclaimer r;
  CounterTable t(r, {.shards = 4, .max_dynamic_keys = 100, .initial_slots_per_shard = 8});
  auto [e, res] = put(t, "ip:1");
  ASSERT_EQ(res, CounterTable::InsertResult::kInserted);
  EXPECT_EQ(e->key(), "ip:1");
  EXPECT_EQ(e->words()[0].load(), 42u);
  EXPECT_EQ(t.find("ip:1", CounterTable::hash_key("ip:1")), e);
  EXPECT_EQ(t.find("ip:2", CounterTable::hash_key("ip:2")), nullptr);
  EXPECT_EQ(put(t, "ip:1").second, CounterTable::InsertResult::kExisted);
  EXPECT_EQ(t.size(), 1u);
}

// Verifies the table grows past its initial size and keeps every key findable.
TEST(CounterTable, GrowsAndKeepsAllKeys) {
  Reclaimer r;
  CounterTable t(r, {.shards = 2, .max_dynamic_keys = 100'000, .initial_slots_per_shard = 8});
  for (int i = 0; i < 20'000; ++i) put(t, "k" + std::to_string(i));
  EXPECT_EQ(t.size(), 20'000u);
  for (int i = 0; i < 20'000; ++i) {
    std::string k = "k" + std::to_string(i);
    ASSERT_NE(t.find(k, CounterTable::hash_key(k)), nullptr) << k;
  }
  r.collect();  // old slot arrays are freed once no reader is inside
  EXPECT_EQ(r.pending(), 0u);
}

// Verifies the dynamic-key bound: inserts beyond max are refused and counted; static keys are not bounded.
TEST(CounterTable, FullTableRefusesNewDynamicKeys) {
  Reclaimer r;
  CounterTable t(r, {.shards = 4, .max_dynamic_keys = 10, .initial_slots_per_shard = 8});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(put(t, "d" + std::to_string(i)).second, CounterTable::InsertResult::kInserted);
  EXPECT_EQ(put(t, "d10").second, CounterTable::InsertResult::kFull);
  EXPECT_EQ(t.rejected_full(), 1u);
  EXPECT_EQ(put(t, "static", false).second, CounterTable::InsertResult::kInserted);
  EXPECT_EQ(put(t, "d3").second, CounterTable::InsertResult::kExisted);  // existing keys still work
}

// Verifies sweep removes only what the predicate accepts, frees it after readers leave, and skips static keys.
TEST(CounterTable, SweepEvictsThroughReclaimer) {
  Reclaimer r;
  int reader = r.register_reader();
  CounterTable t(r, {.shards = 2, .max_dynamic_keys = 1000, .initial_slots_per_shard = 8});
  for (int i = 0; i < 100; ++i) put(t, "d" + std::to_string(i));
  put(t, "static", false);
  r.collect();      // slot arrays replaced while growing
  r.enter(reader);  // a worker is mid-batch and may hold pointers
  size_t removed = t.sweep(1 << 20, [](Entry* e) { return e->key().ends_with('7'); });
  EXPECT_EQ(removed, 10u);
  EXPECT_EQ(t.dynamic_size(), 90u);
  EXPECT_EQ(t.find("d17", CounterTable::hash_key("d17")), nullptr);
  EXPECT_NE(t.find("static", CounterTable::hash_key("static")), nullptr);
  EXPECT_EQ(r.collect(), 0u);  // the reader might still see them
  r.exit(reader);
  EXPECT_GE(r.collect(), 1u);
  EXPECT_EQ(r.pending(), 0u);
  // Slots freed by eviction are reused.
  EXPECT_EQ(put(t, "d17").second, CounterTable::InsertResult::kInserted);
  EXPECT_EQ(t.evicted(), 10u);
}

// Verifies many churn cycles (insert, evict) keep probes finite and the table consistent.
TEST(CounterTable, ChurnDoesNotDegrade) {
  Reclaimer r;
  CounterTable t(r, {.shards = 1, .max_dynamic_keys = 1000, .initial_slots_per_shard = 64});
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 40; ++i) put(t, "r" + std::to_string(round) + "-" + std::to_string(i));
    t.sweep(1 << 20, [](Entry*) { return true; });
    r.collect();
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_LE(t.slot_capacity(), 256u);
}

// Verifies concurrent inserts of overlapping keys from several threads create each key exactly once.
TEST(CounterTable, ConcurrentInsertsCreateEachKeyOnce) {
  Reclaimer r;
  CounterTable t(r, {.shards = 4, .max_dynamic_keys = 1'000'000, .initial_slots_per_shard = 8});
  std::atomic<int> inserted{0};
  std::vector<std::thread> threads;
  for (int th = 0; th < 4; ++th) {
    threads.emplace_back([&] {
      int slot = r.register_reader();
      for (int i = 0; i < 5000; ++i) {
        std::string k = "k" + std::to_string(i);
        r.enter(slot);
        uint64_t h = CounterTable::hash_key(k);
        if (t.find(k, h) == nullptr && put(t, k).second == CounterTable::InsertResult::kInserted) ++inserted;
        r.exit(slot);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(inserted.load(), 5000);
  EXPECT_EQ(t.size(), 5000u);
}

}  // namespace
}  // namespace tollgate
