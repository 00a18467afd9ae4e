#include "engine/limits/token_bucket.h"

#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "unit/engine/limits/test_words.h"

namespace tollgate {
namespace {

using testing::Words;

constexpr Nanos kT0 = 1'700'000'000 * kNanosPerSecond;
constexpr Nanos kMs = kNanosPerMilli;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// 10 per second (T = 100 ms), burst 5.
TokenBucket ten_per_second() { return *TokenBucket::make(10, kNanosPerSecond, 5); }

TEST(TokenBucket, BurstThenExactRefill) {
  // Verifies a fresh bucket admits exactly `burst`, then one unit per T, with
  // exact remaining / retry_after / reset_after values.
  TokenBucket tb = ten_per_second();
  Words w(tb.words());
  tb.init(w.get(), kT0);
  for (int64_t i = 4; i >= 0; --i) {
    LimitResult r = tb.try_charge(w.get(), 1, kT0);
    ASSERT_TRUE(r.allowed);
    EXPECT_EQ(r.remaining, i);
    EXPECT_EQ(r.retry_after, 0);
    EXPECT_EQ(r.reset_after, (5 - i) * 100 * kMs);
    EXPECT_EQ(r.recorded_at, kT0);
  }
  LimitResult denied = tb.try_charge(w.get(), 1, kT0);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.remaining, 0);
  EXPECT_EQ(denied.retry_after, 100 * kMs);
  EXPECT_EQ(denied.reset_after, 500 * kMs);

  LimitResult early = tb.try_charge(w.get(), 1, kT0 + 100 * kMs - 1);
  EXPECT_FALSE(early.allowed);
  EXPECT_EQ(early.retry_after, 1);

  LimitResult on_time = tb.try_charge(w.get(), 1, kT0 + 100 * kMs);
  EXPECT_TRUE(on_time.allowed);
  EXPECT_EQ(on_time.remaining, 0);
  EXPECT_EQ(on_time.reset_after, 500 * kMs);

  // Half-drained: 2.5 units have dripped back, 2 are whole.
  LimitResult partial = tb.peek(w.get(), 1, kT0 + 350 * kMs);
  EXPECT_TRUE(partial.allowed);
  EXPECT_EQ(partial.remaining, 1);
  EXPECT_EQ(partial.reset_after, 350 * kMs);
  LimitResult three = tb.peek(w.get(), 3, kT0 + 350 * kMs);
  EXPECT_FALSE(three.allowed);
  EXPECT_EQ(three.remaining, 2);
  EXPECT_EQ(three.retry_after, 50 * kMs);

  // Fully replenished exactly at reset_after.
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + 600 * kMs).remaining, 5);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + 600 * kMs).reset_after, 0);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + 600 * kMs - 1).remaining, 4);
}

TEST(TokenBucket, CostAboveBurstNeverFits) {
  // Verifies cost > burst is denied with retry_after -1 and charges nothing.
  TokenBucket tb = ten_per_second();
  Words w(1);
  tb.init(w.get(), kT0);
  LimitResult r = tb.try_charge(w.get(), 6, kT0);
  EXPECT_FALSE(r.allowed);
  EXPECT_EQ(r.retry_after, -1);
  EXPECT_EQ(r.remaining, 5);
  EXPECT_EQ(r.reset_after, 0);
  EXPECT_FALSE(tb.try_charge(w.get(), -1, kT0).allowed);
  EXPECT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
}

TEST(TokenBucket, CostEqualToBurst) {
  // Verifies cost == burst fits a full bucket only, and waits a full refill.
  TokenBucket tb = ten_per_second();
  Words w(1);
  tb.init(w.get(), kT0);
  LimitResult r = tb.try_charge(w.get(), 5, kT0);
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset_after, 500 * kMs);
  LimitResult again = tb.try_charge(w.get(), 5, kT0 + 100 * kMs);
  EXPECT_FALSE(again.allowed);
  EXPECT_EQ(again.retry_after, 400 * kMs);
  EXPECT_EQ(again.remaining, 1);
  EXPECT_TRUE(tb.try_charge(w.get(), 5, kT0 + 500 * kMs).allowed);
}

TEST(TokenBucket, TimeGoingBackwardsCreatesNoCapacity) {
  // Verifies a clock stepping back never makes more units available.
  TokenBucket tb = ten_per_second();
  Words w(1);
  tb.init(w.get(), kT0);
  // A fresh bucket stays full when the clock steps back.
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 - 200 * kMs).remaining, 5);
  ASSERT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
  LimitResult back = tb.try_charge(w.get(), 1, kT0 - 50 * kMs);
  EXPECT_FALSE(back.allowed);
  EXPECT_EQ(back.remaining, 0);
  EXPECT_EQ(back.retry_after, 150 * kMs);
  EXPECT_FALSE(tb.try_charge(w.get(), 1, kT0 - 10 * kNanosPerSecond).allowed);
  // Forward again: exactly the refill since the real charge.
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + 200 * kMs).remaining, 2);
  ASSERT_TRUE(tb.try_charge(w.get(), 2, kT0 + 200 * kMs).allowed);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + 100 * kMs).remaining, 0);
}

TEST(TokenBucket, MakeRejectsWhatCannotBeRepresented) {
  // Verifies parameter validation and the rounding of T upwards.
  EXPECT_FALSE(TokenBucket::make(0, kNanosPerSecond, 1).has_value());
  EXPECT_FALSE(TokenBucket::make(1, 0, 1).has_value());
  EXPECT_FALSE(TokenBucket::make(1, kNanosPerSecond, 0).has_value());
  EXPECT_FALSE(TokenBucket::make(2, 1, 1).has_value());  // > 1 unit/ns
  EXPECT_FALSE(TokenBucket::make(1, kMax, 2).has_value());  // burst × T overflows
  // burst × T fits in int64 but now + burst × T would not for every now
  // before 2100: refused (such a bucket would deny cost = burst forever).
  EXPECT_FALSE(TokenBucket::make(kMax, kMax, kMax).has_value());
  EXPECT_FALSE(TokenBucket::make(1, kMax, 1).has_value());
  EXPECT_FALSE(TokenBucket::make(1, TokenBucket::kMaxTolerance + 1, 1).has_value());
  ASSERT_TRUE(TokenBucket::make(1, TokenBucket::kMaxTolerance, 1).has_value());
  ASSERT_TRUE(TokenBucket::make(kMax, kMax, TokenBucket::kMaxTolerance).has_value());  // T = 1 ns
  // 3 per second: T rounds up to 333,333,334 ns (effective rate ≤ 3/s).
  EXPECT_EQ(TokenBucket::make(3, kNanosPerSecond, 1)->emission_interval(), 333'333'334);
}

TEST(TokenBucket, HugeValuesNeitherOverflowNorWrap) {
  // Verifies the largest valid parameters and INT64_MAX-sized costs give sane
  // answers (UBSan checks the arithmetic).
  constexpr Nanos kTol = TokenBucket::kMaxTolerance;
  TokenBucket all_max = *TokenBucket::make(kMax, kMax, kTol);  // T = 1 ns, burst × T = kMaxTolerance
  Words w(1);
  all_max.init(w.get(), 0);
  LimitResult r = all_max.try_charge(w.get(), kTol, 0);
  EXPECT_TRUE(r.allowed);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset_after, kTol);
  LimitResult next = all_max.try_charge(w.get(), 1, 0);
  EXPECT_FALSE(next.allowed);
  EXPECT_EQ(next.retry_after, 1);
  EXPECT_EQ(all_max.try_charge(w.get(), kMax, 0).retry_after, -1);  // cost > burst: never
  // Up to kLatestNow a whole burst is always storable.
  all_max.init(w.get(), TokenBucket::kLatestNow);
  EXPECT_TRUE(all_max.try_charge(w.get(), kTol, TokenBucket::kLatestNow).allowed);
  // Past it the TAT would pass the end of Nanos: refused, not wrapped.
  constexpr Nanos kLate = kMax - kNanosPerSecond;
  all_max.init(w.get(), kLate);
  LimitResult late = all_max.try_charge(w.get(), kTol, kLate);
  EXPECT_FALSE(late.allowed);
  EXPECT_EQ(late.retry_after, -1);
  EXPECT_TRUE(all_max.try_charge(w.get(), kMax - kLate, kLate).allowed);
  EXPECT_FALSE(all_max.try_charge(w.get(), 1, kLate).allowed);
  EXPECT_FALSE(all_max.try_charge(w.get(), 1, std::numeric_limits<Nanos>::min()).allowed);

  // One unit per 162 years.
  TokenBucket slow = *TokenBucket::make(1, kTol, 1);
  slow.init(w.get(), kT0);
  EXPECT_TRUE(slow.peek(w.get(), 1, kT0).allowed);
  EXPECT_TRUE(slow.try_charge(w.get(), 1, kT0).allowed);
  LimitResult s = slow.try_charge(w.get(), 1, kT0);
  EXPECT_FALSE(s.allowed);
  EXPECT_EQ(s.retry_after, kTol);
  slow.init(w.get(), kLate);
  EXPECT_EQ(slow.try_charge(w.get(), 1, kLate).retry_after, -1);  // kLate + T is past the end of Nanos
  EXPECT_EQ(slow.try_charge(w.get(), kMax, kT0).retry_after, -1);
  EXPECT_EQ(ten_per_second().peek(w.get(), kMax, kT0).retry_after, -1);

  // Extreme instants with a normal bucket.
  TokenBucket tb = ten_per_second();
  tb.init(w.get(), std::numeric_limits<Nanos>::max());
  EXPECT_FALSE(tb.try_charge(w.get(), 1, std::numeric_limits<Nanos>::max()).allowed);
  constexpr Nanos kEarly = std::numeric_limits<Nanos>::min() + kNanosPerSecond;
  tb.init(w.get(), kEarly);
  EXPECT_TRUE(tb.try_charge(w.get(), 5, kEarly).allowed);
  EXPECT_FALSE(tb.try_charge(w.get(), 1, kEarly).allowed);
  tb.refund(w.get(), kMax, std::numeric_limits<Nanos>::min(), std::numeric_limits<Nanos>::max());
}

TEST(TokenBucket, RefundGivesBackOnlyWhatIsStillOwed) {
  // Verifies rollback restores units exactly, late refunds give back only the
  // undrained part, and a refund never exceeds a fresh bucket.
  TokenBucket tb = ten_per_second();
  Words w(1);
  tb.init(w.get(), kT0);
  ASSERT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
  tb.refund(w.get(), 2, kT0, kT0);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0).remaining, 2);
  tb.refund(w.get(), 1000, kT0, kT0);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0).remaining, 5);
  EXPECT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
  EXPECT_FALSE(tb.try_charge(w.get(), 1, kT0).allowed);

  // A charge from 200 ms ago has drained 2 of its 5 units already.
  tb.init(w.get(), kT0);
  ASSERT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
  tb.refund(w.get(), 3, kT0, kT0 + 100 * kMs);  // 2 undrained at most
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + 100 * kMs).remaining, 3);

  // A charge that drained completely, followed by new use: refund nothing.
  tb.init(w.get(), kT0);
  ASSERT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
  ASSERT_TRUE(tb.try_charge(w.get(), 5, kT0 + kNanosPerSecond).allowed);
  tb.refund(w.get(), 5, kT0, kT0 + kNanosPerSecond);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0 + kNanosPerSecond).remaining, 0);
}

TEST(TokenBucket, SealOnlyAtRest) {
  // Verifies sealing needs a full bucket, and a sealed word rejects
  // everything without changing.
  TokenBucket tb = ten_per_second();
  Words w(1);
  tb.init(w.get(), kT0);
  ASSERT_TRUE(tb.try_charge(w.get(), 1, kT0).allowed);
  EXPECT_FALSE(tb.try_seal(w.get(), kT0));
  EXPECT_FALSE(tb.try_seal(w.get(), kT0 + 100 * kMs - 1));
  EXPECT_TRUE(tb.try_seal(w.get(), kT0 + 100 * kMs));
  EXPECT_FALSE(tb.try_seal(w.get(), kT0 + 100 * kMs));  // already sealed
  EXPECT_TRUE(tb.try_charge(w.get(), 1, kT0 + kNanosPerSecond).sealed);
  EXPECT_FALSE(tb.try_charge(w.get(), 1, kT0 + kNanosPerSecond).allowed);
  EXPECT_TRUE(tb.peek(w.get(), 1, kT0 + kNanosPerSecond).sealed);
  tb.refund(w.get(), 1, kT0, kT0);
  tb.reset(w.get(), kT0);
  EXPECT_EQ(w[0].load(), TokenBucket::kSealed);
}

TEST(TokenBucket, ResetRefills) {
  // Verifies admin reset makes a drained bucket full.
  TokenBucket tb = ten_per_second();
  Words w(1);
  tb.init(w.get(), kT0);
  ASSERT_TRUE(tb.try_charge(w.get(), 5, kT0).allowed);
  tb.reset(w.get(), kT0);
  EXPECT_EQ(tb.peek(w.get(), 0, kT0).remaining, 5);
  EXPECT_TRUE(tb.try_seal(w.get(), kT0));
}

}  // namespace
}  // namespace tollgate
