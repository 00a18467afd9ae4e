#include "engine/cell_throttle.h"

#include <gtest/gtest.h>

#include <atomic>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace tollgate {
namespace {

constexpr Nanos kNow = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kSec = kNanosPerSecond;
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();

// One CellThrottle plus a reader slot held for the whole test, as a worker's
// batch would hold it.
struct Fixture {
  Reclaimer reclaimer;
  CellThrottle cell{reclaimer, 1000, 0};
  int slot = reclaimer.register_reader();

  CellResult call(std::string_view key, int64_t burst, int64_t count, int64_t period, int64_t quantity,
                  Nanos now) {
    ReadGuard guard(reclaimer, slot);
    auto r = cell.throttle(key, burst, count, period, quantity, now);
    EXPECT_TRUE(r.has_value()) << "unexpected error " << static_cast<int>(r.error());
    return r.value_or(CellResult{});
  }
  std::expected<CellResult, CellError> raw(int64_t burst, int64_t count, int64_t period, int64_t quantity) {
    ReadGuard guard(reclaimer, slot);
    return cell.throttle("k", burst, count, period, quantity, kNow);
  }
};

// The five reply integers, as redis-cell would send them.
struct Reply {
  int64_t limited, limit, remaining, retry_after_s, reset_after_s;
  bool operator==(const Reply&) const = default;
};
Reply reply(const CellResult& r) {
  return {r.limited ? 1 : 0, r.limit, r.remaining, r.limited ? cell_seconds(r.retry_after) : -1,
          cell_seconds(r.reset_after)};
}
std::ostream& operator<<(std::ostream& os, const Reply& r) {
  return os << "[" << r.limited << " " << r.limit << " " << r.remaining << " " << r.retry_after_s << " "
            << r.reset_after_s << "]";
}

// Verifies the README example `CL.THROTTLE user123 15 30 60 1` on a new key
// answers 0 16 15 -1 2, and that quantity defaults are not needed to get it.
TEST(CellThrottle, ReadmeExample) {
  Fixture f;
  EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow)), (Reply{0, 16, 15, -1, 2}));
}

// Verifies the README key drains one unit per call down to 0, is then
// throttled with retry 2 s, and passes again once 2 s have gone by.
TEST(CellThrottle, ReadmeSequenceThrottles) {
  Fixture f;
  for (int64_t k = 1; k <= 16; ++k) {
    EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow)), (Reply{0, 16, 16 - k, -1, 2 * k})) << k;
  }
  EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow)), (Reply{1, 16, 0, 2, 32}));
  EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow + 1 * kSec)), (Reply{1, 16, 0, 1, 31}));
  EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow + 1500 * kMs)), (Reply{1, 16, 0, 1, 31}));
  EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow + 2 * kSec)), (Reply{0, 16, 0, -1, 32}));
  // A full refill: 32 s after the last charge the key is like new.
  EXPECT_EQ(reply(f.call("user123", 15, 30, 60, 1, kNow + 34 * kSec)), (Reply{0, 16, 15, -1, 2}));
}

// Verifies every row of redis-cell's own it_rate_limits table (limit 5, 1/s),
// including nanosecond-exact reset and retry durations.
TEST(CellThrottle, RedisCellRateLimitTable) {
  Fixture f;
  struct Case {
    Nanos at;
    int64_t quantity;
    int64_t remaining;
    Nanos reset_after;
    Nanos retry_after;
    bool limited;
  };
  const Case cases[] = {
      {0, 6, 5, 0, -1, true},  // never more than the maximum
      {0, 1, 4, 1 * kSec, -1, false},
      {0, 1, 3, 2 * kSec, -1, false},
      {0, 1, 2, 3 * kSec, -1, false},
      {0, 1, 1, 4 * kSec, -1, false},
      {0, 1, 0, 5 * kSec, -1, false},
      {0, 1, 0, 5 * kSec, 1 * kSec, true},
      {3000 * kMs, 1, 2, 3000 * kMs, -1, false},
      {3100 * kMs, 1, 1, 3900 * kMs, -1, false},
      {4000 * kMs, 1, 1, 4000 * kMs, -1, false},
      {8000 * kMs, 1, 4, 1000 * kMs, -1, false},
      {9500 * kMs, 1, 4, 1000 * kMs, -1, false},
      {9500 * kMs, 0, 4, 1 * kSec, -1, false},  // quantity 0 only looks
      {9500 * kMs, 2, 2, 3 * kSec, -1, false},
      {9500 * kMs, 5, 2, 3 * kSec, 3 * kSec, true},
  };
  int row = 0;
  for (const Case& c : cases) {
    CellResult r = f.call("foo", 4, 1, 1, c.quantity, kNow + c.at);
    EXPECT_EQ(r.limited, c.limited) << row;
    EXPECT_EQ(r.limit, 5) << row;
    EXPECT_EQ(r.remaining, c.remaining) << row;
    EXPECT_EQ(r.reset_after, c.reset_after) << row;
    EXPECT_EQ(r.limited ? r.retry_after : -1, c.retry_after) << row;
    ++row;
  }
}

// Verifies redis-cell's end-to-end test: max_burst 0, 1 per 2 s, allowed,
// then throttled for 2 s, then allowed again.
TEST(CellThrottle, RedisCellEndToEndSequence) {
  Fixture f;
  EXPECT_EQ(reply(f.call("user123", 0, 1, 2, 1, kNow)), (Reply{0, 1, 0, -1, 2}));
  EXPECT_EQ(reply(f.call("user123", 0, 1, 2, 1, kNow)), (Reply{1, 1, 0, 2, 2}));
  EXPECT_EQ(reply(f.call("user123", 0, 1, 2, 1, kNow + 2 * kSec)), (Reply{0, 1, 0, -1, 2}));
}

// Verifies seconds round as redis-cell rounds them: up only for a whole
// leftover millisecond; -1 stays -1.
TEST(CellThrottle, SecondsRounding) {
  EXPECT_EQ(cell_seconds(0), 0);
  EXPECT_EQ(cell_seconds(999'999), 0);
  EXPECT_EQ(cell_seconds(1 * kMs), 1);
  EXPECT_EQ(cell_seconds(2 * kSec), 2);
  EXPECT_EQ(cell_seconds(2 * kSec + 500'000), 2);
  EXPECT_EQ(cell_seconds(2 * kSec + 1 * kMs), 3);
  EXPECT_EQ(cell_seconds(2 * kSec + 999 * kMs), 3);
  EXPECT_EQ(cell_seconds(-1), -1);
}

// Verifies a quantity above the limit is refused with retry -1 and charges
// nothing, while a quantity equal to the limit passes on a full bucket.
TEST(CellThrottle, QuantityAboveBurst) {
  Fixture f;
  EXPECT_EQ(reply(f.call("k", 4, 1, 1, 6, kNow)), (Reply{1, 5, 5, -1, 0}));
  EXPECT_EQ(reply(f.call("k", 4, 1, 1, kInt64Max, kNow)), (Reply{1, 5, 5, -1, 0}));
  EXPECT_EQ(f.cell.size(), 0u);  // refused calls store nothing
  EXPECT_EQ(reply(f.call("k", 4, 1, 1, 5, kNow)), (Reply{0, 5, 0, -1, 5}));
  EXPECT_EQ(reply(f.call("k", 4, 1, 1, 6, kNow)), (Reply{1, 5, 0, -1, 5}));
}

// Verifies quantity 0 reports the state without changing it, and creates no
// key for a new one.
TEST(CellThrottle, QuantityZeroOnlyLooks) {
  Fixture f;
  EXPECT_EQ(reply(f.call("new", 15, 30, 60, 0, kNow)), (Reply{0, 16, 16, -1, 0}));
  EXPECT_EQ(f.cell.size(), 0u);
  f.call("k", 15, 30, 60, 3, kNow);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(reply(f.call("k", 15, 30, 60, 0, kNow)), (Reply{0, 16, 13, -1, 6}));
  EXPECT_EQ(reply(f.call("k", 15, 30, 60, 1, kNow)), (Reply{0, 16, 12, -1, 8}));
}

// Verifies parameters may change between calls on the same key: the stored
// TAT is read with the new emission interval and window.
TEST(CellThrottle, ParametersComeWithEachCall) {
  Fixture f;
  f.call("k", 9, 10, 10, 10, kNow);  // 1 s per unit: TAT = now + 10 s, drained
  EXPECT_TRUE(f.call("k", 9, 10, 10, 1, kNow).limited);
  // Same TAT, a 20-unit burst: 10 s of backlog leaves 10 units.
  EXPECT_EQ(reply(f.call("k", 19, 10, 10, 0, kNow)), (Reply{0, 20, 10, -1, 10}));
}

// Verifies time going backwards never adds capacity: the wait is counted
// from the earlier clock.
TEST(CellThrottle, ClockSteppingBack) {
  Fixture f;
  f.call("k", 4, 1, 1, 5, kNow);
  EXPECT_EQ(reply(f.call("k", 4, 1, 1, 1, kNow - 10 * kSec)), (Reply{1, 5, 0, 11, 15}));
  EXPECT_EQ(reply(f.call("k", 4, 1, 1, 1, kNow)), (Reply{1, 5, 0, 1, 5}));
}

// Verifies argument validation: redis-cell's zero-rate error, and tollgate's
// refusals of negative values.
TEST(CellThrottle, BadArguments) {
  Fixture f;
  EXPECT_EQ(f.raw(15, 0, 60, 1).error(), CellError::kZeroRate);
  EXPECT_EQ(f.raw(15, 30, 0, 1).error(), CellError::kZeroRate);
  EXPECT_EQ(f.raw(15, -30, 0, 1).error(), CellError::kZeroRate);
  EXPECT_EQ(f.raw(15, 2'000'000'000, 1, 1).error(), CellError::kZeroRate);  // below 1 ns per unit
  EXPECT_EQ(f.raw(-1, 30, 60, 1).error(), CellError::kNegativeMaxBurst);
  EXPECT_EQ(f.raw(15, -30, 60, 1).error(), CellError::kNegativeCount);
  EXPECT_EQ(f.raw(15, 30, -60, 1).error(), CellError::kNegativePeriod);
  EXPECT_EQ(f.raw(15, 30, 60, -1).error(), CellError::kNegativeQuantity);
  EXPECT_EQ(f.cell.size(), 0u);
  // The fastest rate that works: one unit per nanosecond.
  EXPECT_EQ(reply(f.call("fast", 0, 1'000'000'000, 1, 1, kNow)), (Reply{0, 1, 0, -1, 0}));
}

// Verifies values whose nanosecond arithmetic would overflow are refused
// with an error, and the largest accepted window still works.
TEST(CellThrottle, OverflowSizedArguments) {
  Fixture f;
  EXPECT_EQ(f.raw(15, 30, 9'223'372'037, 1).error(), CellError::kPeriodTooLarge);
  EXPECT_EQ(f.raw(15, 30, kInt64Max, 1).error(), CellError::kPeriodTooLarge);
  EXPECT_EQ(f.raw(kInt64Max, 1, 1, 1).error(), CellError::kWindowTooLarge);
  EXPECT_EQ(f.raw(kInt64Max - 1, 1, 1, 1).error(), CellError::kWindowTooLarge);
  EXPECT_EQ(f.raw(1'000'000'000'000, 1, 1, 1).error(), CellError::kWindowTooLarge);
  EXPECT_EQ(f.raw(0, 1, 9'223'372'036, 1).error(), CellError::kWindowTooLarge);  // 292 years
  // 2^61 ns exactly is accepted: 2^61 units of 1 ns each.
  auto big = f.raw((int64_t{1} << 61) - 1, 1'000'000'000, 1, 1);
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->limit, int64_t{1} << 61);
  EXPECT_EQ(big->remaining, (int64_t{1} << 61) - 1);
  EXPECT_EQ(f.raw(int64_t{1} << 61, 1'000'000'000, 1, 1).error(), CellError::kWindowTooLarge);
  // A long but sane window: 1 per year, burst 50.
  auto yearly = f.raw(49, 1, 365 * 86'400, kInt64Max);
  ASSERT_TRUE(yearly.has_value());
  EXPECT_TRUE(yearly->limited);
  EXPECT_EQ(yearly->retry_after, -1);
}

// Verifies a new key beyond max_keys is refused until a sweep frees room.
TEST(CellThrottle, KeySpaceFull) {
  Reclaimer reclaimer;
  CellThrottle cell(reclaimer, 2, 0);
  int slot = reclaimer.register_reader();
  ReadGuard guard(reclaimer, slot);
  ASSERT_TRUE(cell.throttle("a", 0, 1, 1, 1, kNow).has_value());
  ASSERT_TRUE(cell.throttle("b", 0, 1, 1, 1, kNow).has_value());
  EXPECT_EQ(cell.throttle("c", 0, 1, 1, 1, kNow).error(), CellError::kKeySpaceFull);
  EXPECT_TRUE(cell.throttle("c", 0, 1, 1, 0, kNow).has_value());  // looking needs no room
  EXPECT_TRUE(cell.throttle("a", 0, 1, 1, 1, kNow).has_value());  // existing keys still work
  EXPECT_EQ(cell.sweep(kNow + 2 * kSec, 1 << 20), 2u);
  EXPECT_TRUE(cell.throttle("c", 0, 1, 1, 1, kNow + 2 * kSec).has_value());
}

// Verifies sweep evicts only keys whose TAT is more than idle_timeout in the
// past, and that an evicted key answers exactly like one never seen.
TEST(CellThrottle, SweepEvictsIdleFullKeys) {
  Reclaimer reclaimer;
  CellThrottle cell(reclaimer, 100, 10 * kSec);
  int slot = reclaimer.register_reader();
  {
    ReadGuard guard(reclaimer, slot);
    ASSERT_TRUE(cell.throttle("a", 15, 30, 60, 3, kNow).has_value());  // TAT = now + 6 s
    ASSERT_TRUE(cell.throttle("b", 15, 30, 60, 1, kNow).has_value());  // TAT = now + 2 s
  }
  EXPECT_EQ(cell.sweep(kNow + 12 * kSec, 1 << 20), 0u);  // b: 10 s past its TAT, not more
  EXPECT_EQ(cell.sweep(kNow + 12 * kSec + 1, 1 << 20), 1u);
  EXPECT_EQ(cell.size(), 1u);
  EXPECT_EQ(cell.sweep(kNow + 16 * kSec + 1, 1 << 20), 1u);
  EXPECT_EQ(cell.size(), 0u);
  EXPECT_EQ(cell.evicted(), 2u);
  reclaimer.collect();
  ReadGuard guard(reclaimer, slot);
  auto r = cell.throttle("a", 15, 30, 60, 1, kNow + 20 * kSec);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(reply(*r), (Reply{0, 16, 15, -1, 2}));
}

// Verifies charges racing the sweeper are never lost: keys idle since an
// earlier time are charged by 4 threads while a sweeper evicts them at the
// same instant; each key ends with exactly its one charge, whether the charge
// landed before the seal or retried on a fresh entry after it.
TEST(CellThrottle, SealRaceNeverLosesACharge) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 4000;
  constexpr int kRounds = 5;
  Reclaimer reclaimer;
  CellThrottle cell(reclaimer, kKeys, 0);
  int setup_slot = reclaimer.register_reader();
  int slots[kThreads];
  for (int& s : slots) s = reclaimer.register_reader();
  auto key = [](int i) { return "k" + std::to_string(i); };
  uint64_t evicted_during_race = 0;
  for (int round = 0; round < kRounds; ++round) {
    Nanos idle_at = kNow + round * 1000 * kSec;
    Nanos race_at = idle_at + 100 * kSec;
    {
      ReadGuard guard(reclaimer, setup_slot);
      for (int i = 0; i < kKeys; ++i) ASSERT_TRUE(cell.throttle(key(i), 9, 1, 1, 1, idle_at).has_value());
    }
    std::atomic<bool> go{false};
    std::atomic<int> charged{0};
    std::atomic<int> done{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < kThreads; ++t) {
      workers.emplace_back([&, t] {
        while (!go.load()) {
        }
        for (int i = t; i < kKeys; i += kThreads) {
          ReadGuard guard(reclaimer, slots[t]);
          auto r = cell.throttle(key(i), 9, 1, 1, 1, race_at);
          ASSERT_TRUE(r.has_value());
          EXPECT_FALSE(r->limited);
          EXPECT_EQ(r->remaining, 9);
          charged.fetch_add(1);
        }
        done.fetch_add(1);
      });
    }
    go.store(true);
    // Start sweeping once a quarter of the keys are charged (those must
    // survive), so the rest race the sweeper's seals.
    while (charged.load() < kKeys / 4) {
    }
    while (done.load() < kThreads) evicted_during_race += cell.sweep(race_at, 8);
    for (auto& w : workers) w.join();
    ReadGuard guard(reclaimer, setup_slot);
    for (int i = 0; i < kKeys; ++i) {
      auto r = cell.throttle(key(i), 9, 1, 1, 0, race_at);
      ASSERT_TRUE(r.has_value());
      EXPECT_EQ(r->remaining, 9) << key(i);  // the one charge is there
      EXPECT_EQ(r->reset_after, 1 * kSec) << key(i);
    }
  }
  EXPECT_EQ(cell.size(), static_cast<size_t>(kKeys));
  EXPECT_EQ(cell.evicted(), evicted_during_race);
  EXPECT_LE(evicted_during_race, static_cast<uint64_t>(kRounds * kKeys * 3 / 4));
  RecordProperty("evicted_during_race", static_cast<int>(evicted_during_race));
  reclaimer.collect();
}

// Verifies 4 threads hammering one key with no refill admit exactly `limit`
// units in total (the CAS loop neither loses nor double-spends a charge).
TEST(CellThrottle, FourThreadsOneKeyAdmitExactlyLimit) {
  constexpr int kThreads = 4;
  constexpr int kCallsPerThread = 5000;
  Reclaimer reclaimer;
  CellThrottle cell(reclaimer, 10, 0);
  std::atomic<int64_t> admitted{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < kThreads; ++t) {
    int slot = reclaimer.register_reader();
    workers.emplace_back([&, slot] {
      while (!go.load()) {
      }
      for (int i = 0; i < kCallsPerThread; ++i) {
        ReadGuard guard(reclaimer, slot);
        // 1000 units per day, burst 1000: at a frozen `now` nothing refills.
        auto r = cell.throttle("shared", 999, 1000, 86'400, 1, kNow);
        ASSERT_TRUE(r.has_value());
        if (!r->limited) admitted.fetch_add(1);
      }
    });
  }
  go.store(true);
  for (auto& w : workers) w.join();
  EXPECT_EQ(admitted.load(), 1000);
}

}  // namespace
}  // namespace tollgate
