#include "engine/subjects/hyperloglog.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <thread>
#include <vector>

#include <xxhash.h>

namespace tollgate {
namespace {

constexpr Nanos kSec = kNanosPerSecond;
constexpr Nanos kDay = 24 * 3600 * kSec;
constexpr Nanos kShanghaiMidnight = 1'710'000'000 * kSec;  // 2024-03-10 00:00 +08:00
// Every accuracy figure below is for this seed: XXH3-64 of the 8-byte index.
constexpr uint64_t kSeed = 42;
// Three standard errors at p = 14: 3 × 1.04 / √16384.
constexpr double kTolerance = 3 * 1.04 / 128.0;

uint64_t subject(uint64_t i) { return XXH3_64bits_withSeed(&i, sizeof i, kSeed); }

HyperLogLog make_hll(int precision = HyperLogLog::kDefaultPrecision) {
  auto h = HyperLogLog::make(precision);
  EXPECT_TRUE(h.has_value());
  return std::move(*h);
}

double relative_error(double estimate, double truth) { return std::abs(estimate - truth) / truth; }

TEST(HyperLogLog, MakeValidatesPrecision) {
  // Verifies the precision bounds and the default's size and standard error.
  EXPECT_FALSE(HyperLogLog::make(3).has_value());
  EXPECT_FALSE(HyperLogLog::make(19).has_value());
  HyperLogLog h = make_hll();
  EXPECT_EQ(h.precision(), 14);
  EXPECT_EQ(h.registers(), 16'384u);
  EXPECT_NEAR(h.standard_error(), 0.008125, 1e-6);
  EXPECT_EQ(h.estimate(), 0.0);
}

TEST(HyperLogLog, RegisterUpdateIsAMax) {
  // Verifies add() stores 1 + leading zeros after the index bits, keeping the max.
  HyperLogLog h = make_hll(4);
  h.add(0x0800'0000'0000'0000ULL);  // register 0, rest 1000…: rank 1
  EXPECT_EQ(h.register_value(0), 1);
  h.add(0x0080'0000'0000'0000ULL);  // register 0, rest 00001…: rank 5
  EXPECT_EQ(h.register_value(0), 5);
  h.add(0x0800'0000'0000'0000ULL);
  EXPECT_EQ(h.register_value(0), 5);
  h.add(0xF000'0000'0000'0000ULL);  // register 15, rest all zero: rank capped at 61
  EXPECT_EQ(h.register_value(15), 61);
}

TEST(HyperLogLog, AccuracyAcrossCardinalities) {
  // Verifies the estimate is within 3 standard errors (2.44%) of the truth at
  // 10, 1,000, 10,000, 50,000, 100,000 and 1,000,000 distinct subjects (seed 42).
  const std::vector<uint64_t> checkpoints = {10, 1'000, 10'000, 50'000, 100'000, 1'000'000};
  HyperLogLog h = make_hll();
  uint64_t added = 0;
  for (uint64_t n : checkpoints) {
    for (; added < n; ++added) h.add(subject(added));
    double e = h.estimate();
    std::printf("[ hll p=14 seed=42 ] n=%llu estimate=%.1f error=%+.3f%%\n",
                static_cast<unsigned long long>(n), e, 100.0 * (e - n) / n);
    EXPECT_LE(relative_error(e, static_cast<double>(n)), kTolerance) << n;
  }
}

TEST(HyperLogLog, DuplicatesDoNotCount) {
  // Verifies re-adding the same subjects leaves the estimate unchanged.
  HyperLogLog h = make_hll();
  for (uint64_t i = 0; i < 5'000; ++i) h.add(subject(i));
  double once = h.estimate();
  for (int round = 0; round < 5; ++round) {
    for (uint64_t i = 0; i < 5'000; ++i) h.add(subject(i));
  }
  EXPECT_EQ(h.estimate(), once);
}

TEST(HyperLogLog, MergeIsTheUnion) {
  // Verifies merge gives the sketch of the union (register-exact) and refuses
  // a different precision.
  HyperLogLog a = make_hll(), b = make_hll(), both = make_hll();
  for (uint64_t i = 0; i < 300'000; ++i) {
    (i < 200'000 ? a : b).add(subject(i));  // disjoint halves…
    both.add(subject(i));
  }
  for (uint64_t i = 100'000; i < 150'000; ++i) b.add(subject(i));  // …plus an overlap
  ASSERT_TRUE(a.merge(b));
  for (uint64_t r = 0; r < a.registers(); ++r) ASSERT_EQ(a.register_value(r), both.register_value(r));
  EXPECT_LE(relative_error(a.estimate(), 300'000), kTolerance);
  HyperLogLog small = make_hll(10);
  EXPECT_FALSE(a.merge(small));
}

TEST(HyperLogLog, ClearForgetsEverything) {
  // Verifies clear() returns the sketch to empty.
  HyperLogLog h = make_hll();
  for (uint64_t i = 0; i < 1'000; ++i) h.add(subject(i));
  h.clear();
  EXPECT_EQ(h.estimate(), 0.0);
  for (uint64_t r = 0; r < h.registers(); ++r) ASSERT_EQ(h.register_value(r), 0);
}

TEST(HyperLogLog, ConcurrentAddsEqualSequentialAdds) {
  // Verifies 4 threads adding 400,000 subjects leave exactly the registers a
  // single thread would (atomic max loses nothing).
  HyperLogLog shared = make_hll(), single = make_hll();
  constexpr uint64_t kN = 400'000;
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = t; i < kN; i += 4) shared.add(subject(i));
    });
  }
  for (uint64_t i = 0; i < kN; ++i) single.add(subject(i));
  for (auto& th : threads) th.join();
  for (uint64_t r = 0; r < single.registers(); ++r) {
    ASSERT_EQ(shared.register_value(r), single.register_value(r)) << r;
  }
}

// --- PeriodHll ---

PeriodHll make_period_hll() {
  auto h = PeriodHll::make(Period::kDay, "Asia/Shanghai");
  EXPECT_TRUE(h.has_value());
  return std::move(*h);
}

TEST(PeriodHll, MakeValidates) {
  // Verifies precision and zone errors.
  EXPECT_FALSE(PeriodHll::make(Period::kDay, "UTC", 2).has_value());
  EXPECT_FALSE(PeriodHll::make(Period::kDay, "Nowhere/Atlantis").has_value());
}

TEST(PeriodHll, CurrentAndPreviousPeriodAcrossRollOvers) {
  // Verifies the current and last full period are estimated separately,
  // roll over exactly at Shanghai midnight, and skipped periods read as 0.
  PeriodHll h = make_period_hll();
  const Nanos day0 = kShanghaiMidnight, day1 = day0 + kDay, day2 = day1 + kDay;
  for (uint64_t i = 0; i < 1'000; ++i) ASSERT_TRUE(h.add(subject(i), day0 + static_cast<Nanos>(i)));
  for (uint64_t i = 0; i < 20'000; ++i) ASSERT_TRUE(h.add(subject(1'000'000 + i), day1 - 1));
  PeriodEstimate e = h.estimate(day1 - 1);
  EXPECT_LE(relative_error(e.current, 21'000), kTolerance);
  EXPECT_EQ(e.previous, 0.0);
  EXPECT_EQ(e.current_period.start, day0);

  for (uint64_t i = 0; i < 5'000; ++i) ASSERT_TRUE(h.add(subject(2'000'000 + i), day1));
  e = h.estimate(day1);
  EXPECT_LE(relative_error(e.current, 5'000), kTolerance);
  EXPECT_LE(relative_error(e.previous, 21'000), kTolerance);
  EXPECT_EQ(e.current_period.start, day1);
  EXPECT_EQ(e.previous_period.start, day0);

  e = h.estimate(day2);  // nothing added yet today
  EXPECT_EQ(e.current, 0.0);
  EXPECT_LE(relative_error(e.previous, 5'000), kTolerance);

  // Several rounds reuse all three generations; nothing leaks across.
  for (int d = 2; d < 9; ++d) {
    const Nanos day = day0 + d * kDay;
    const uint64_t n = 100 * static_cast<uint64_t>(d);
    for (uint64_t i = 0; i < n; ++i) ASSERT_TRUE(h.add(subject(10'000'000 * d + i), day));
    e = h.estimate(day);
    EXPECT_LE(relative_error(e.current, static_cast<double>(n)), kTolerance) << d;
  }
  e = h.estimate(day0 + 11 * kDay);  // two idle days later
  EXPECT_EQ(e.current, 0.0);
  EXPECT_EQ(e.previous, 0.0);
  EXPECT_TRUE(h.add(subject(1), day0 + 11 * kDay));
  e = h.estimate(day0 + 11 * kDay);
  EXPECT_NEAR(e.current, 1.0, 0.01);
}

TEST(PeriodHll, TimeGoingBackwardsCountsInTheNewerPeriod) {
  // Verifies an add whose clock is behind a crossed boundary counts in the
  // newer period, never in a reopened older one.
  PeriodHll h = make_period_hll();
  const Nanos before = kShanghaiMidnight - 1;
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(h.add(subject(i), before));
  ASSERT_TRUE(h.add(subject(500), kShanghaiMidnight));
  for (uint64_t i = 1'000; i < 1'099; ++i) ASSERT_TRUE(h.add(subject(i), before));
  PeriodEstimate e = h.estimate(kShanghaiMidnight);
  EXPECT_NEAR(e.current, 100.0, 1.0);
  EXPECT_NEAR(e.previous, 100.0, 1.0);
  PeriodEstimate behind = h.estimate(before);  // reads the newer period too
  EXPECT_EQ(behind.current, e.current);
  EXPECT_EQ(behind.current_period.start, kShanghaiMidnight);
}

TEST(PeriodHll, ResetForgetsEveryPeriod) {
  // Verifies reset() empties current and previous.
  PeriodHll h = make_period_hll();
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(h.add(subject(i), kShanghaiMidnight));
  for (uint64_t i = 0; i < 100; ++i) ASSERT_TRUE(h.add(subject(i), kShanghaiMidnight + kDay));
  h.reset();
  PeriodEstimate e = h.estimate(kShanghaiMidnight + kDay);
  EXPECT_EQ(e.current, 0.0);
  EXPECT_EQ(e.previous, 0.0);
}

TEST(PeriodHll, ConcurrentAddsAcrossARollOver) {
  // Verifies 4 threads adding across a boundary lose nothing: each period's
  // sketch equals what a single thread builds (within a hair, same registers).
  PeriodHll h = make_period_hll();
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = t; i < 40'000; i += 4) {
        ASSERT_TRUE(h.add(subject(i), kShanghaiMidnight - kDay / 2));
      }
      for (uint64_t i = t; i < 40'000; i += 4) {
        ASSERT_TRUE(h.add(subject(100'000 + i), kShanghaiMidnight + static_cast<Nanos>(i)));
      }
    });
  }
  for (auto& th : threads) th.join();
  HyperLogLog yesterday = make_hll(), today = make_hll();
  for (uint64_t i = 0; i < 40'000; ++i) {
    yesterday.add(subject(i));
    today.add(subject(100'000 + i));
  }
  // A thread still in yesterday when another crossed counts its adds today,
  // so compare the union, which is order-independent.
  PeriodEstimate e = h.estimate(kShanghaiMidnight);
  EXPECT_LE(relative_error(e.current + e.previous, 80'000), 2 * kTolerance);
  EXPECT_LE(e.previous, yesterday.estimate() * (1 + kTolerance));
  EXPECT_GE(e.current, today.estimate() * (1 - kTolerance));
}

}  // namespace
}  // namespace tollgate
