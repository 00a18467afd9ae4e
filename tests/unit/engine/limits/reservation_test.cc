// Pacing reservations (try_reserve) on every counter limit type.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "engine/limits/limiter.h"
#include "engine/limits/sliding_window.h"
#include "engine/limits/token_bucket.h"
#include "unit/engine/limits/test_words.h"

namespace tollgate {
namespace {

using testing::Words;

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kMs = kNanosPerMilli;
constexpr Nanos kUs = kNanosPerMicro;
constexpr Nanos kNanosMax = std::numeric_limits<Nanos>::max();

// 10,000 per second (T = 100 µs), burst 1: the load-generator pace.
TokenBucket pace() { return *TokenBucket::make(10'000, kNanosPerSecond, 1); }

TEST(TokenBucketReserve, SuccessiveReservationsGetEvenlySpacedSlots) {
  // Verifies 100 reservations at one instant get delays 0, 0.1 ms, 0.2 ms, …
  // and each is charged (recorded_at = its slot, remaining 0 when delayed).
  TokenBucket tb = pace();
  Words w(1);
  tb.init(w.get(), kT0);
  for (int64_t i = 0; i < 100; ++i) {
    LimitResult r = tb.try_reserve(w.get(), 1, kT0, 50 * kMs);
    ASSERT_TRUE(r.allowed) << i;
    EXPECT_EQ(r.delay, i * 100 * kUs) << i;
    EXPECT_EQ(r.recorded_at, kT0 + i * 100 * kUs);
    EXPECT_EQ(r.retry_after, 0);
    EXPECT_EQ(r.remaining, 0);
    EXPECT_EQ(r.reset_after, (i + 1) * 100 * kUs);
  }
  // A plain charge sees the reserved backlog.
  LimitResult plain = tb.try_charge(w.get(), 1, kT0);
  EXPECT_FALSE(plain.allowed);
  EXPECT_EQ(plain.retry_after, 100 * 100 * kUs);
}

TEST(TokenBucketReserve, DelayZeroWhenConformingAndBurstIsUsedFirst) {
  // Verifies a bucket with burst 3 hands out its burst with delay 0, then
  // paces, and that remaining counts whole units still free.
  TokenBucket tb = *TokenBucket::make(10, kNanosPerSecond, 3);  // T = 100 ms
  Words w(1);
  tb.init(w.get(), kT0);
  for (int64_t left = 2; left >= 0; --left) {
    LimitResult r = tb.try_reserve(w.get(), 1, kT0, kNanosPerSecond);
    ASSERT_TRUE(r.allowed);
    EXPECT_EQ(r.delay, 0);
    EXPECT_EQ(r.remaining, left);
  }
  LimitResult r = tb.try_reserve(w.get(), 2, kT0, kNanosPerSecond);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(r.delay, 200 * kMs);  // two units must drip back first
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(tb.try_reserve(w.get(), 1, kT0 + 250 * kMs, kNanosPerSecond).delay, 50 * kMs);
}

TEST(TokenBucketReserve, BeyondMaxDelayIsDeniedWithRetryAfter) {
  // Verifies a slot further than max_delay is denied, charges nothing, and
  // retry_after is when the same reservation would be accepted.
  TokenBucket tb = pace();
  Words w(1);
  tb.init(w.get(), kT0);
  for (int i = 0; i <= 500; ++i) ASSERT_TRUE(tb.try_reserve(w.get(), 1, kT0, 50 * kMs).allowed);
  uint64_t before = w[0].load();
  LimitResult denied = tb.try_reserve(w.get(), 1, kT0, 50 * kMs);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.delay, 0);
  EXPECT_EQ(denied.retry_after, 100 * kUs);  // the next slot is 50.1 ms away
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_EQ(denied.reset_after, 501 * 100 * kUs);
  EXPECT_EQ(w[0].load(), before);
  // Exactly at retry_after the same reservation fits, at the edge.
  LimitResult later = tb.try_reserve(w.get(), 1, kT0 + 100 * kUs, 50 * kMs);
  ASSERT_TRUE(later.allowed);
  EXPECT_EQ(later.delay, 50 * kMs);
  // A smaller max_delay is denied by more.
  EXPECT_EQ(tb.try_reserve(w.get(), 1, kT0 + 100 * kUs, 10 * kMs).retry_after, 40 * kMs + 100 * kUs);
}

TEST(TokenBucketReserve, ZeroOrNegativeMaxDelayIsTryCharge) {
  // Verifies max_delay ≤ 0 answers exactly as try_charge.
  TokenBucket tb = *TokenBucket::make(10, kNanosPerSecond, 5);
  Words a(1), b(1);
  tb.init(a.get(), kT0);
  tb.init(b.get(), kT0);
  for (int i = 0; i < 8; ++i) {
    Nanos now = kT0 + i * 30 * kMs;
    LimitResult x = tb.try_charge(a.get(), 2, now);
    LimitResult y = tb.try_reserve(b.get(), 2, now, i % 2 == 0 ? 0 : -kNanosPerSecond);
    EXPECT_EQ(x.allowed, y.allowed) << i;
    EXPECT_EQ(x.remaining, y.remaining) << i;
    EXPECT_EQ(x.retry_after, y.retry_after) << i;
    EXPECT_EQ(x.reset_after, y.reset_after) << i;
    EXPECT_EQ(y.delay, 0);
    EXPECT_EQ(a[0].load(), b[0].load()) << i;
  }
}

TEST(TokenBucketReserve, CostAboveBurstNeverReserved) {
  // Verifies waiting never helps a cost above the burst (retry_after -1).
  TokenBucket tb = pace();
  Words w(1);
  tb.init(w.get(), kT0);
  LimitResult r = tb.try_reserve(w.get(), 2, kT0, kNanosPerSecond);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.retry_after, -1);
  EXPECT_FALSE(tb.try_reserve(w.get(), -1, kT0, kNanosPerSecond).allowed);
}

TEST(TokenBucketReserve, OverflowSizedMaxDelay) {
  // Verifies max_delay near INT64_MAX saturates instead of wrapping: slots
  // keep coming in order until the TAT would pass the end of Nanos, where
  // the call is refused (-1), never admitted with a wrapped TAT.
  TokenBucket tb = *TokenBucket::make(1, kNanosPerSecond, 1);
  Words w(1);
  tb.init(w.get(), kT0);
  for (int64_t i = 0; i < 5; ++i) {
    LimitResult r = tb.try_reserve(w.get(), 1, kT0, kNanosMax);
    ASSERT_TRUE(r.allowed);
    EXPECT_EQ(r.delay, i * kNanosPerSecond);
  }
  // Near the end of time: the slot is reachable but the TAT is not.
  Nanos late = kNanosMax - kNanosPerSecond / 2;
  Words edge(1);
  tb.init(edge.get(), late);
  LimitResult first = tb.try_reserve(edge.get(), 1, late, kNanosMax);
  EXPECT_FALSE(first.allowed);
  EXPECT_EQ(first.retry_after, -1);
  // max_delay is bounded by kMaxPacing (a TAT further ahead would read as a
  // clock step's): a reservation needing a longer wait is refused with the
  // time until it fits, computed without wrapping.
  Words big(1);
  TokenBucket slow = *TokenBucket::make(1, kNanosMax / 4, 1);
  slow.init(big.get(), 0);
  ASSERT_TRUE(slow.try_reserve(big.get(), 1, 0, kNanosMax).allowed);
  LimitResult second = slow.try_reserve(big.get(), 1, 0, kNanosMax);
  EXPECT_FALSE(second.allowed);
  EXPECT_EQ(second.retry_after, slow.emission_interval() - TokenBucket::kMaxPacing);
}

TEST(TokenBucketReserve, RefundOfReservation) {
  // Verifies refund(recorded_at) of a reservation: before its slot it is
  // given back whole (the next caller gets that slot back at the end of the
  // queue), after its slot only what has not drained, never beyond fresh.
  TokenBucket tb = pace();
  Words w(1);
  tb.init(w.get(), kT0);
  std::vector<LimitResult> r;
  for (int i = 0; i < 10; ++i) r.push_back(tb.try_reserve(w.get(), 1, kT0, 50 * kMs));
  uint64_t full_queue = w[0].load();
  // Immediate rollback (as the engine does when another limit denies).
  tb.refund(w.get(), 1, r[9].recorded_at, kT0);
  EXPECT_EQ(tb.try_reserve(w.get(), 1, kT0, 50 * kMs).delay, 900 * kUs);
  EXPECT_EQ(w[0].load(), full_queue);
  // Cancelling slot 5 before it comes frees one slot at the end.
  tb.refund(w.get(), 1, r[5].recorded_at, kT0 + 200 * kUs);
  EXPECT_EQ(tb.try_reserve(w.get(), 1, kT0 + 200 * kUs, 50 * kMs).delay, 700 * kUs);
  // A refund long after the slot gives nothing back.
  uint64_t before = w[0].load();
  tb.refund(w.get(), 1, r[0].recorded_at, kT0 + 500 * kUs);
  EXPECT_EQ(w[0].load(), before);
  // Half a unit after its slot, half the charge comes back.
  tb.refund(w.get(), 1, r[4].recorded_at, r[4].recorded_at + 50 * kUs);
  EXPECT_EQ(static_cast<Nanos>(w[0].load()), static_cast<Nanos>(before) - 50 * kUs);
  // Refunds never make the bucket fuller than fresh.
  Words lone(1);
  tb.init(lone.get(), kT0);
  LimitResult one = tb.try_reserve(lone.get(), 1, kT0, 50 * kMs);
  tb.refund(lone.get(), 1, one.recorded_at, kT0);
  tb.refund(lone.get(), 1, one.recorded_at, kT0);
  EXPECT_EQ(tb.peek(lone.get(), 0, kT0).remaining, 1);
  EXPECT_EQ(tb.try_reserve(lone.get(), 1, kT0, 50 * kMs).delay, 0);
  EXPECT_EQ(tb.try_reserve(lone.get(), 1, kT0, 50 * kMs).delay, 100 * kUs);
}

TEST(TokenBucketReserve, RacingThreadsNeverShareSlots) {
  // Verifies 4 threads reserving at one instant get exactly 1 + max_delay/T
  // slots in total, all distinct and T apart (no over-admission).
  TokenBucket tb = pace();
  Words w(1);
  tb.init(w.get(), kT0);
  constexpr int kThreads = 4;
  std::vector<std::vector<Nanos>> slots(kThreads);
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      while (!go.load()) {
      }
      for (;;) {
        LimitResult r = tb.try_reserve(w.get(), 1, kT0, 50 * kMs);
        if (!r.allowed) break;
        slots[t].push_back(kT0 + r.delay);
      }
    });
  }
  go = true;
  for (auto& t : threads) t.join();
  std::vector<Nanos> all;
  for (auto& s : slots) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 501u);
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], kT0 + static_cast<Nanos>(i) * 100 * kUs);
}

TEST(TokenBucketReserve, RacingThreadsWithMovingClocksNeverOverAdmit) {
  // Verifies that with per-thread clocks moving forward (and skewed against
  // each other), every two slots handed out are at least T apart, so no
  // interval of length L holds more than L/T + burst calls.
  TokenBucket tb = pace();
  Words w(1);
  tb.init(w.get(), kT0);
  constexpr int kThreads = 4;
  std::vector<std::vector<Nanos>> slots(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Nanos now = kT0 + t * 37 * kUs;  // skew between threads
      for (int i = 0; i < 20'000; ++i) {
        now += 23 * kUs;  // callers ask faster than the pace in aggregate
        LimitResult r = tb.try_reserve(w.get(), 1, now, 2 * kMs);
        if (r.allowed) {
          EXPECT_LE(r.delay, 2 * kMs);
          slots[t].push_back(now + r.delay);
        } else {
          EXPECT_GT(r.retry_after, 0);
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  std::vector<Nanos> all;
  for (auto& s : slots) all.insert(all.end(), s.begin(), s.end());
  std::sort(all.begin(), all.end());
  ASSERT_GT(all.size(), 1000u);
  for (size_t i = 1; i < all.size(); ++i) ASSERT_GE(all[i] - all[i - 1], 100 * kUs) << i;
}

TEST(SlidingWindowReserve, IsTryCharge) {
  // Verifies a sliding window does not pace: try_reserve answers and charges
  // exactly as try_charge, delay 0, whatever max_delay.
  SlidingWindow sw = *SlidingWindow::make(3, kNanosPerSecond, 10);
  Words a(sw.words()), b(sw.words());
  sw.init(a.get(), kT0);
  sw.init(b.get(), kT0);
  for (int i = 0; i < 6; ++i) {
    Nanos now = kT0 + i * 150 * kMs;
    LimitResult x = sw.try_charge(a.get(), 1, now);
    LimitResult y = sw.try_reserve(b.get(), 1, now, 10 * kNanosPerSecond);
    EXPECT_EQ(x.allowed, y.allowed) << i;
    EXPECT_EQ(x.retry_after, y.retry_after) << i;
    EXPECT_EQ(x.remaining, y.remaining) << i;
    EXPECT_EQ(x.recorded_at, y.recorded_at) << i;
    EXPECT_EQ(y.delay, 0);
  }
  for (int i = 0; i < sw.words(); ++i) EXPECT_EQ(a[i].load(), b[i].load());
}

LimitSpec spec_of(LimitType type) {
  LimitSpec s;
  s.name = "l";
  s.type = type;
  s.rate = 10;
  s.per = kNanosPerSecond;
  s.burst = 1;
  s.limit = 1;
  s.window = kNanosPerSecond;
  s.period = Period::kDay;
  return s;
}

TEST(LimiterReserve, DispatchesByType) {
  // Verifies Limiter::try_reserve paces token buckets only; windows and
  // quotas deny as try_charge would, and paced() says which is which.
  Limiter bucket = *Limiter::make(spec_of(LimitType::kTokenBucket), "UTC");
  Limiter window = *Limiter::make(spec_of(LimitType::kSlidingWindow), "UTC");
  Limiter quota = *Limiter::make(spec_of(LimitType::kQuota), "UTC");
  EXPECT_TRUE(bucket.paced());
  EXPECT_FALSE(window.paced());
  EXPECT_FALSE(quota.paced());
  for (const Limiter* l : {&bucket, &window, &quota}) {
    Words w(l->words());
    l->init(w.get(), kT0);
    LimitResult first = l->try_reserve(w.get(), 1, kT0, kNanosPerSecond);
    ASSERT_TRUE(first.allowed);
    EXPECT_EQ(first.delay, 0);
    LimitResult second = l->try_reserve(w.get(), 1, kT0, kNanosPerSecond);
    if (l->paced()) {
      ASSERT_TRUE(second.allowed);
      EXPECT_EQ(second.delay, 100 * kMs);
    } else {
      EXPECT_FALSE(second.allowed);
      EXPECT_EQ(second.delay, 0);
      EXPECT_GT(second.retry_after, 0);
    }
  }
}

}  // namespace
}  // namespace tollgate
