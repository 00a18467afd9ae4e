#include "engine/dirty_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;

Entry* add(CounterTable& t, const std::string& key) {
  return t.insert(key, CounterTable::hash_key(key), nullptr, 1, true, kNow, [](Entry*) {}).first;
}

// Verifies a key is logged once however often it is marked, is logged again
// after a checkpoint took it, and an unmarked key is never logged.
TEST(DirtyLog, LogsEachChangedKeyOncePerCheckpoint) {
  Reclaimer r;
  CounterTable t(r, {.shards = 4, .max_dynamic_keys = 100, .initial_slots_per_shard = 8});
  Entry* a = add(t, "a");
  add(t, "b");
  DirtyLog log;
  log.mark(a);
  log.mark(a);
  std::vector<uint64_t> taken;
  log.take(taken);
  EXPECT_EQ(taken, std::vector<uint64_t>{a->hash()});
  std::vector<Entry*> found;
  t.for_each_with_hash(a->hash(), [&](Entry* e) { found.push_back(e); });
  ASSERT_EQ(found, std::vector<Entry*>{a});
  EXPECT_TRUE(a->take_dirty());
  EXPECT_FALSE(a->take_dirty());
  taken.clear();
  log.take(taken);
  EXPECT_TRUE(taken.empty());
  log.mark(a);
  log.take(taken);
  EXPECT_EQ(taken, std::vector<uint64_t>{a->hash()});
}

// Verifies that under concurrent marking by several threads while a
// checkpoint thread keeps taking, every key's last change is seen by a
// checkpoint: after the markers stop and a final take, each entry's taken
// value equals its final value (nothing stays changed but unlogged).
TEST(DirtyLog, ConcurrentMarksAreNeverLost) {
  constexpr int kKeys = 256, kThreads = 3, kRounds = 20'000;
  Reclaimer r;
  CounterTable t(r, {.shards = 8, .max_dynamic_keys = 1000, .initial_slots_per_shard = 64});
  std::vector<Entry*> entries;
  for (int i = 0; i < kKeys; ++i) entries.push_back(add(t, "k" + std::to_string(i)));
  std::vector<uint64_t> saved(kKeys, 0);  // what the "checkpoint" last read per key
  DirtyLog log;
  auto checkpoint = [&] {
    std::vector<uint64_t> hashes;
    log.take(hashes);
    for (uint64_t h : hashes)
      t.for_each_with_hash(h, [&](Entry* e) {
        if (!e->take_dirty()) return;
        const size_t i = static_cast<size_t>(std::find(entries.begin(), entries.end(), e) - entries.begin());
        saved[i] = e->words()[0].load(std::memory_order_relaxed);
      });
  };
  std::atomic<bool> done{false};
  std::thread saver([&] {
    while (!done.load()) checkpoint();
  });
  std::vector<std::thread> markers;
  for (int m = 0; m < kThreads; ++m) {
    markers.emplace_back([&, m] {
      for (int i = 0; i < kRounds; ++i) {
        Entry* e = entries[static_cast<size_t>((i * 7 + m * 13) % kKeys)];
        e->words()[0].fetch_add(1, std::memory_order_relaxed);  // the change
        log.mark(e);
      }
    });
  }
  for (auto& th : markers) th.join();
  done = true;
  saver.join();
  checkpoint();
  uint64_t total = 0;
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(saved[static_cast<size_t>(i)], entries[static_cast<size_t>(i)]->words()[0].load()) << "key " << i;
    total += saved[static_cast<size_t>(i)];
  }
  EXPECT_EQ(total, uint64_t{kThreads} * kRounds);
}

}  // namespace
}  // namespace tollgate
