#include "engine/subjects/distinct_set.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include <xxhash.h>

namespace tollgate {
namespace {

constexpr Nanos kSec = kNanosPerSecond;
constexpr Nanos kHour = 3600 * kSec;
constexpr Nanos kDay = 24 * kHour;
constexpr Nanos kShanghaiMidnight = 1'710'000'000 * kSec;  // 2024-03-10 00:00 +08:00
constexpr uint64_t kSeed = 20240310;

uint64_t subject(uint64_t i) { return XXH3_64bits_withSeed(&i, sizeof i, kSeed); }

DistinctSubjects make_set(int64_t limit, std::string_view zone = "Asia/Shanghai",
                          Period period = Period::kDay) {
  auto set = DistinctSubjects::make(limit, period, zone);
  EXPECT_TRUE(set.has_value());
  return std::move(*set);
}

TEST(DistinctSubjects, MakeValidates) {
  // Verifies limit bounds, zone errors, the default zone and the table size.
  EXPECT_FALSE(DistinctSubjects::make(0, Period::kDay, "UTC").has_value());
  EXPECT_FALSE(DistinctSubjects::make(DistinctSubjects::kMaxLimit + 1, Period::kDay, "UTC"));
  EXPECT_FALSE(DistinctSubjects::make(5, Period::kDay, "Nowhere/Atlantis").has_value());
  LimitSpec spec{};
  spec.type = LimitType::kDistinctSubjects;
  spec.limit = 100'000;
  auto set = DistinctSubjects::make(spec, "Asia/Shanghai");
  ASSERT_TRUE(set.has_value());
  EXPECT_EQ(set->calendar().zone_name(), "Asia/Shanghai");
  EXPECT_EQ(set->capacity(), 262'144u);  // next power of two ≥ 2 × limit
  EXPECT_EQ(set->memory_bytes(), 2u * 262'144u * 8u);
  EXPECT_EQ(DistinctSubjects::hash_subject("user-1"), XXH3_64bits("user-1", 6));
}

void check_exact_cap(int64_t limit) {
  DistinctSubjects set = make_set(limit);
  const Nanos now = kShanghaiMidnight + 3 * kHour;
  for (int64_t i = 0; i < limit; ++i) {
    SubjectCharge c = set.try_admit(subject(i), now);
    ASSERT_EQ(c.verdict, SubjectVerdict::kAdmitted) << i;
    ASSERT_EQ(c.count, i + 1);
    ASSERT_EQ(c.remaining, limit - i - 1);
    ASSERT_EQ(c.retry_after, 0);
  }
  SubjectCharge over = set.try_admit(subject(limit), now);
  EXPECT_EQ(over.verdict, SubjectVerdict::kOverCap);
  EXPECT_FALSE(over.allowed());
  EXPECT_EQ(over.retry_after, 21 * kHour);
  EXPECT_EQ(over.reset_after, 21 * kHour);
  EXPECT_EQ(over.remaining, 0);
  EXPECT_FALSE(set.contains(subject(limit), now));
  for (int64_t i = 0; i < limit; ++i) {
    SubjectCharge c = set.try_admit(subject(i), now + i);
    ASSERT_EQ(c.verdict, SubjectVerdict::kSeen) << i;
    ASSERT_TRUE(c.allowed());
  }
  EXPECT_EQ(set.count(now), limit);
  EXPECT_EQ(set.try_admit(subject(limit + 1), now).verdict, SubjectVerdict::kOverCap);
}

TEST(DistinctSubjects, ExactCapAt50) {
  // Verifies exactly 50 distinct admitted, the 51st denied, all 50 still seen.
  check_exact_cap(50);
}

TEST(DistinctSubjects, ExactCapAt100k) {
  // Verifies exactly 100,000 distinct admitted, the next denied, all still seen.
  check_exact_cap(100'000);
}

TEST(DistinctSubjects, HashesZeroAndOneAreSubjectsToo) {
  // Verifies the reserved slot values 0 and 1 still work as subject hashes.
  DistinctSubjects set = make_set(3);
  const Nanos now = kShanghaiMidnight;
  EXPECT_EQ(set.try_admit(0, now).verdict, SubjectVerdict::kAdmitted);
  EXPECT_EQ(set.try_admit(1, now).verdict, SubjectVerdict::kAdmitted);
  EXPECT_EQ(set.try_admit(0, now).verdict, SubjectVerdict::kSeen);
  EXPECT_EQ(set.try_admit(1, now).verdict, SubjectVerdict::kSeen);
  EXPECT_TRUE(set.contains(0, now));
  set.forget(0, now);
  EXPECT_FALSE(set.contains(0, now));
  EXPECT_TRUE(set.contains(1, now));
  EXPECT_EQ(set.count(now), 1);
}

TEST(DistinctSubjects, NewPeriodStartsEmptyExactlyAtShanghaiMidnight) {
  // Verifies the set is full 1 ns before Shanghai midnight and empty at it.
  constexpr int64_t kLimit = 50;
  DistinctSubjects set = make_set(kLimit);
  const Nanos before = kShanghaiMidnight - 1;
  for (int64_t i = 0; i < kLimit; ++i) {
    ASSERT_EQ(set.try_admit(subject(i), kShanghaiMidnight - kHour).verdict,
              SubjectVerdict::kAdmitted);
  }
  SubjectCharge late = set.try_admit(subject(kLimit), before);
  EXPECT_EQ(late.verdict, SubjectVerdict::kOverCap);
  EXPECT_EQ(late.retry_after, 1);
  EXPECT_EQ(set.try_admit(subject(0), before).verdict, SubjectVerdict::kSeen);
  EXPECT_EQ(set.count(before), kLimit);
  EXPECT_EQ(set.reset_after(before), 1);

  EXPECT_EQ(set.count(kShanghaiMidnight), 0);
  EXPECT_FALSE(set.contains(subject(0), kShanghaiMidnight));
  EXPECT_EQ(set.reset_after(kShanghaiMidnight), kDay);
  SubjectCharge fresh = set.try_admit(subject(kLimit), kShanghaiMidnight);
  EXPECT_EQ(fresh.verdict, SubjectVerdict::kAdmitted);
  EXPECT_EQ(fresh.count, 1);
  EXPECT_EQ(fresh.admitted_in, kShanghaiMidnight);
  // Yesterday's subjects are new again, and the cap applies afresh.
  for (int64_t i = 0; i < kLimit - 1; ++i) {
    ASSERT_EQ(set.try_admit(subject(i), kShanghaiMidnight + i).verdict, SubjectVerdict::kAdmitted)
        << i;
  }
  EXPECT_EQ(set.try_admit(subject(kLimit - 1), kShanghaiMidnight).verdict,
            SubjectVerdict::kOverCap);
}

TEST(DistinctSubjects, NoStaleEntryAcrossManyPeriods) {
  // Verifies that across 12 roll-overs (both generations reused many times,
  // with and without skipped periods) no earlier period's subject is seen.
  constexpr int64_t kLimit = 1'000;  // 2048 slots: 8 chunks per generation
  DistinctSubjects set = make_set(kLimit);
  Nanos day = kShanghaiMidnight;
  for (int round = 0; round < 12; ++round) {
    day += (round % 3 == 2 ? 3 : 1) * kDay;  // sometimes skip two days
    const uint64_t base = static_cast<uint64_t>(round) * 10'000;
    // Few calls in some periods, so the spare is not always pre-cleared.
    const int64_t n = round % 2 == 0 ? 5 : kLimit;
    for (int64_t i = 0; i < n; ++i) {
      ASSERT_EQ(set.try_admit(subject(base + i), day + i).verdict, SubjectVerdict::kAdmitted);
    }
    if (round > 0) {
      const uint64_t prev = base - 10'000;
      for (uint64_t i = 0; i < 5; ++i) {
        ASSERT_FALSE(set.contains(subject(prev + i), day)) << round;
      }
    }
    EXPECT_EQ(set.count(day), n);
  }
}

TEST(DistinctSubjects, ForgetFreesASlot) {
  // Verifies forget() undoes an admission in its period and nothing after it.
  DistinctSubjects set = make_set(2);
  const Nanos now = kShanghaiMidnight + kHour;
  SubjectCharge a = set.try_admit(subject(1), now);
  ASSERT_EQ(a.verdict, SubjectVerdict::kAdmitted);
  ASSERT_EQ(set.try_admit(subject(2), now).verdict, SubjectVerdict::kAdmitted);
  ASSERT_EQ(set.try_admit(subject(3), now).verdict, SubjectVerdict::kOverCap);
  set.forget(subject(1), a.admitted_in);
  EXPECT_FALSE(set.contains(subject(1), now));
  EXPECT_EQ(set.count(now), 1);
  set.forget(subject(1), a.admitted_in);  // twice: nothing more
  EXPECT_EQ(set.count(now), 1);
  EXPECT_EQ(set.try_admit(subject(3), now).verdict, SubjectVerdict::kAdmitted);
  EXPECT_EQ(set.try_admit(subject(1), now).verdict, SubjectVerdict::kOverCap);
  // Forgetting into a period that is over changes nothing now.
  SubjectCharge b = set.try_admit(subject(4), now + kDay);
  ASSERT_EQ(b.verdict, SubjectVerdict::kAdmitted);
  set.forget(subject(4), now);
  EXPECT_TRUE(set.contains(subject(4), now + kDay));
  EXPECT_EQ(set.count(now + kDay), 1);
}

TEST(DistinctSubjects, ForgetChurnReusesRemovedSlots) {
  // Verifies that admit/forget cycles far beyond the table size keep working
  // (removed slots are reused) and the cap stays exact.
  constexpr int64_t kLimit = 8;  // 16 slots
  DistinctSubjects set = make_set(kLimit);
  const Nanos now = kShanghaiMidnight;
  for (uint64_t i = 0; i < 1'000; ++i) {
    SubjectCharge c = set.try_admit(subject(i), now);
    ASSERT_EQ(c.verdict, SubjectVerdict::kAdmitted) << i;
    set.forget(subject(i), c.admitted_in);
  }
  for (uint64_t i = 0; i < kLimit; ++i) {
    ASSERT_EQ(set.try_admit(subject(5'000 + i), now).verdict, SubjectVerdict::kAdmitted);
  }
  EXPECT_EQ(set.try_admit(subject(9'999), now).verdict, SubjectVerdict::kOverCap);
  for (uint64_t i = 0; i < kLimit; ++i) {
    ASSERT_EQ(set.try_admit(subject(5'000 + i), now).verdict, SubjectVerdict::kSeen);
  }
}

TEST(DistinctSubjects, TimeGoingBackwardsDoesNotReopenAPeriod) {
  // Verifies a call whose clock is behind a boundary another call crossed
  // counts in the newer period: neither yesterday's set nor a fresh one.
  DistinctSubjects set = make_set(2);
  const Nanos before = kShanghaiMidnight - 1;
  ASSERT_EQ(set.try_admit(subject(1), before).verdict, SubjectVerdict::kAdmitted);
  ASSERT_EQ(set.try_admit(subject(2), before).verdict, SubjectVerdict::kAdmitted);
  ASSERT_EQ(set.try_admit(subject(3), kShanghaiMidnight).verdict, SubjectVerdict::kAdmitted);

  SubjectCharge back = set.try_admit(subject(1), before);
  EXPECT_EQ(back.verdict, SubjectVerdict::kAdmitted);  // new in today's set
  EXPECT_EQ(back.count, 2);
  EXPECT_EQ(back.admitted_in, kShanghaiMidnight);
  EXPECT_EQ(back.reset_after, kDay + 1);
  SubjectCharge full = set.try_admit(subject(2), before);
  EXPECT_EQ(full.verdict, SubjectVerdict::kOverCap);
  EXPECT_EQ(full.retry_after, kDay + 1);
  EXPECT_EQ(set.count(before), 2);
  EXPECT_TRUE(set.contains(subject(3), before));
  // Undo with the instant it reported.
  set.forget(subject(1), back.admitted_in);
  EXPECT_EQ(set.count(kShanghaiMidnight), 1);
}

TEST(DistinctSubjects, ResetEmptiesTheSet) {
  // Verifies admin reset empties the current period's set.
  DistinctSubjects set = make_set(3);
  const Nanos now = kShanghaiMidnight;
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(set.try_admit(subject(i), now).allowed());
  set.reset();
  EXPECT_EQ(set.count(now), 0);
  EXPECT_FALSE(set.contains(subject(0), now));
  EXPECT_EQ(set.try_admit(subject(7), now).verdict, SubjectVerdict::kAdmitted);
}

TEST(DistinctSubjects, MovedObjectKeepsWorking) {
  // Verifies a moved set keeps its contents (storage stays put on the heap).
  DistinctSubjects set = make_set(3);
  ASSERT_EQ(set.try_admit(subject(1), kShanghaiMidnight).verdict, SubjectVerdict::kAdmitted);
  DistinctSubjects moved = std::move(set);
  EXPECT_EQ(moved.try_admit(subject(1), kShanghaiMidnight).verdict, SubjectVerdict::kSeen);
  EXPECT_EQ(moved.try_admit(subject(1), kShanghaiMidnight + kDay).verdict,
            SubjectVerdict::kAdmitted);
}

// --- Concurrency ---

constexpr int kThreads = 4;

TEST(DistinctSubjectsConcurrency, RacingNewSubjectsAdmitExactlyTheCap) {
  // Verifies 4 threads racing 10,000 distinct new subjects at a cap of 1,000
  // admit exactly 1,000, and the set holds exactly the admitted ones.
  constexpr int64_t kLimit = 1'000;
  constexpr uint64_t kCandidates = 10'000;
  DistinctSubjects set = make_set(kLimit);
  const Nanos now = kShanghaiMidnight + kHour;
  std::vector<std::vector<uint64_t>> admitted(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (uint64_t i = static_cast<uint64_t>(t); i < kCandidates; i += kThreads) {
        SubjectCharge c = set.try_admit(subject(i), now);
        if (c.verdict == SubjectVerdict::kAdmitted) admitted[t].push_back(i);
        ASSERT_NE(c.verdict, SubjectVerdict::kSeen);
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<bool> in(kCandidates, false);
  int64_t total = 0;
  for (auto& v : admitted) {
    total += static_cast<int64_t>(v.size());
    for (uint64_t i : v) in[i] = true;
  }
  EXPECT_EQ(total, kLimit);
  EXPECT_EQ(set.count(now), kLimit);
  for (uint64_t i = 0; i < kCandidates; ++i) ASSERT_EQ(set.contains(subject(i), now), in[i]) << i;
}

TEST(DistinctSubjectsConcurrency, OverlappingCandidatesNeverOverAdmit) {
  // Verifies that when all threads race the same 10,000 candidates (in
  // different orders) each subject is admitted at most once, never more than
  // 1,000 in total, the set holds exactly the admitted ones, and the cap is
  // exactly full once the race is over.
  constexpr int64_t kLimit = 1'000;
  constexpr uint64_t kCandidates = 10'000;
  DistinctSubjects set = make_set(kLimit);
  const Nanos now = kShanghaiMidnight + kHour;
  std::vector<std::vector<uint64_t>> admitted(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint64_t> order(kCandidates);
      for (uint64_t i = 0; i < kCandidates; ++i) order[i] = i;
      std::shuffle(order.begin(), order.end(), std::mt19937_64(kSeed + t));
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (uint64_t i : order) {
        if (set.try_admit(subject(i), now).verdict == SubjectVerdict::kAdmitted) {
          admitted[t].push_back(i);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  std::vector<int> times(kCandidates, 0);
  int64_t total = 0;
  for (auto& v : admitted) {
    total += static_cast<int64_t>(v.size());
    for (uint64_t i : v) ++times[i];
  }
  EXPECT_LE(total, kLimit);
  EXPECT_EQ(set.count(now), total);
  for (uint64_t i = 0; i < kCandidates; ++i) {
    ASSERT_LE(times[i], 1) << i;
    ASSERT_EQ(set.contains(subject(i), now), times[i] == 1) << i;
  }
  // Transient denials under the race can only leave room, never overflow.
  for (uint64_t i = 0; i < kCandidates && set.count(now) < kLimit; ++i) {
    if (set.try_admit(subject(i), now).verdict == SubjectVerdict::kAdmitted) ++total;
  }
  EXPECT_EQ(total, kLimit);
  EXPECT_EQ(set.count(now), kLimit);
}

TEST(DistinctSubjectsConcurrency, SameSubjectFromAllThreadsCountsOnce) {
  // Verifies that 4 threads admitting the same new subject (300 rounds)
  // produce exactly one kAdmitted per subject and count it once.
  constexpr int kRounds = 300;
  DistinctSubjects set = make_set(10'000);
  const Nanos now = kShanghaiMidnight + kHour;
  std::atomic<int> admitted{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (int r = 0; r < kRounds; ++r) {
        for (int k = 0; k < 4; ++k) {
          SubjectCharge c = set.try_admit(subject(static_cast<uint64_t>(r)), now);
          if (c.verdict == SubjectVerdict::kAdmitted) admitted.fetch_add(1);
          ASSERT_TRUE(c.allowed());
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(admitted.load(), kRounds);
  EXPECT_EQ(set.count(now), kRounds);
}

TEST(DistinctSubjectsConcurrency, RacingAcrossRollOversNeverOverAdmitsAPeriod) {
  // Verifies that with 4 threads whose clocks cross 6 day boundaries at
  // different moments, no period ever counts more than the cap (attributed by
  // admitted_in) and each period's set is consistent at the end of the race.
  // Each day the threads' clocks run from 100 ms before midnight to 100 ms
  // after it, so they disagree by at most 200 ms: threads' clocks, not a
  // stepped clock (a live period more than kAheadLimit ahead is one, see
  // ClockStep.DistinctSubjects*). A barrier per day keeps them within it.
  constexpr int64_t kLimit = 300;
  constexpr int kDays = 6;
  DistinctSubjects set = make_set(kLimit);
  std::mutex mu;
  std::map<Nanos, int64_t> per_period;  // period start → admitted
  std::atomic<int> ready{0};
  std::atomic<int> day_done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::map<Nanos, int64_t> mine;
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (int d = 0; d < kDays; ++d) {
        const Nanos day = kShanghaiMidnight + d * kDay - 100 * kNanosPerMilli;
        day_done.fetch_add(1);
        while (day_done.load() < (d + 1) * kThreads) {
        }
        for (uint64_t i = 0; i < 200; ++i) {
          SubjectCharge c = set.try_admit(subject(i * kThreads + static_cast<uint64_t>(t)),
                                          day + static_cast<Nanos>(i) * kNanosPerMilli);
          if (c.verdict == SubjectVerdict::kAdmitted) {
            ++mine[set.calendar().bounds(c.admitted_in, false).start];
          }
        }
      }
      std::lock_guard lock(mu);
      for (auto [start, n] : mine) per_period[start] += n;
    });
  }
  for (auto& th : threads) th.join();
  for (auto [start, n] : per_period) EXPECT_LE(n, kLimit) << start;
  const Nanos last = kShanghaiMidnight + (kDays - 1) * kDay;
  EXPECT_EQ(set.count(last), per_period[last]);
  EXPECT_GT(per_period.size(), 1u);  // the race did cross boundaries
}

}  // namespace
}  // namespace tollgate
