#include "engine/limits/quota.h"

#include <gtest/gtest.h>

#include "unit/engine/limits/test_words.h"

namespace tollgate {
namespace {

using testing::Words;

constexpr Nanos kSec = kNanosPerSecond;
constexpr Nanos kHour = 3600 * kSec;
constexpr Nanos kDay = 24 * kHour;
constexpr Nanos kShanghaiMidnight = 1'710'000'000 * kSec;  // 2024-03-10 00:00 +08:00

TEST(Quota, MakeValidates) {
  // Verifies limit bounds, zone errors and the default-zone fallback.
  EXPECT_FALSE(Quota::make(0, Period::kDay, "UTC").has_value());
  EXPECT_FALSE(Quota::make(Quota::kMaxLimit + 1, Period::kDay, "UTC").has_value());
  EXPECT_TRUE(Quota::make(Quota::kMaxLimit, Period::kDay, "UTC").has_value());
  auto bad = Quota::make(5, Period::kDay, "Nowhere/Atlantis");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("unknown time zone"), std::string::npos);
  LimitSpec spec;
  spec.type = LimitType::kQuota;
  spec.limit = 5;
  spec.period = Period::kDay;
  auto q = Quota::make(spec, "Asia/Shanghai");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->calendar().zone_name(), "Asia/Shanghai");
  spec.timezone = "Europe/Berlin";
  EXPECT_EQ(Quota::make(spec, "Asia/Shanghai")->calendar().zone_name(), "Europe/Berlin");
}

TEST(Quota, ResetsExactlyAtShanghaiMidnight) {
  // Verifies the quota is exhausted 1 ns before midnight (+08:00) and fresh at it.
  Quota q = *Quota::make(3, Period::kDay, "Asia/Shanghai");
  Words w(q.words());
  q.init(w.get(), kShanghaiMidnight - kHour);
  LimitResult r = q.try_charge(w.get(), 3, kShanghaiMidnight - kHour);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(r.remaining, 0);
  EXPECT_EQ(r.reset_after, kHour);
  LimitResult d = q.try_charge(w.get(), 1, kShanghaiMidnight - 1);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.remaining, 0);
  EXPECT_EQ(d.retry_after, 1);
  EXPECT_EQ(d.reset_after, 1);
  LimitResult never = q.try_charge(w.get(), 4, kShanghaiMidnight - 1);
  EXPECT_EQ(never.retry_after, -1);
  LimitResult fresh = q.try_charge(w.get(), 1, kShanghaiMidnight);
  ASSERT_TRUE(fresh.allowed);
  EXPECT_EQ(fresh.remaining, 2);
  EXPECT_EQ(fresh.reset_after, kDay);
  EXPECT_EQ(fresh.retry_after, 0);
  LimitResult peek = q.peek(w.get(), 2, kShanghaiMidnight + 5);
  EXPECT_TRUE(peek.allowed);
  EXPECT_EQ(peek.remaining, 0);
  EXPECT_EQ(q.peek(w.get(), 2, kShanghaiMidnight + 5).remaining, 0);  // peek changed nothing
}

TEST(Quota, MonthAndWeekPeriods) {
  // Verifies a monthly quota lasts all of February 2024 (29 days) and a
  // weekly one resets on Monday.
  Quota month = *Quota::make(1, Period::kMonth, "UTC");
  Words w(1);
  const Nanos feb = 1'706'745'600 * kSec, mar = 1'709'251'200 * kSec;
  month.init(w.get(), feb);
  ASSERT_TRUE(month.try_charge(w.get(), 1, feb).allowed);
  LimitResult d = month.try_charge(w.get(), 1, feb + 28 * kDay);  // Feb 29
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kDay);
  EXPECT_FALSE(month.try_charge(w.get(), 1, mar - 1).allowed);
  EXPECT_TRUE(month.try_charge(w.get(), 1, mar).allowed);

  Quota week = *Quota::make(1, Period::kWeek, "UTC");
  const Nanos monday = 1'704'067'200 * kSec;
  week.init(w.get(), monday);
  ASSERT_TRUE(week.try_charge(w.get(), 1, monday + 6 * kDay).allowed);  // Sunday
  EXPECT_FALSE(week.try_charge(w.get(), 1, monday + 7 * kDay - 1).allowed);
  EXPECT_TRUE(week.try_charge(w.get(), 1, monday + 7 * kDay).allowed);
}

TEST(Quota, DstDaysAndRepeatedHour) {
  // Verifies a New York daily quota lasts 23 h on spring-forward day and
  // 25 h on fall-back day, and the repeated 01:00 hour holds two hour quotas.
  Quota day = *Quota::make(1, Period::kDay, "America/New_York");
  Words w(1);
  const Nanos spring = 1'710'046'800 * kSec, fall = 1'730'606'400 * kSec;
  day.init(w.get(), spring);
  LimitResult r = day.try_charge(w.get(), 1, spring);
  ASSERT_TRUE(r.allowed);
  EXPECT_EQ(r.reset_after, 23 * kHour);
  EXPECT_FALSE(day.try_charge(w.get(), 1, spring + 23 * kHour - 1).allowed);
  EXPECT_TRUE(day.try_charge(w.get(), 1, spring + 23 * kHour).allowed);
  ASSERT_TRUE(day.try_charge(w.get(), 1, fall).allowed);
  EXPECT_FALSE(day.try_charge(w.get(), 1, fall + 24 * kHour).allowed);
  EXPECT_TRUE(day.try_charge(w.get(), 1, fall + 25 * kHour).allowed);

  Quota hour = *Quota::make(1, Period::kHour, "America/New_York");
  const Nanos edt1 = 1'730'610'000 * kSec, est1 = 1'730'613'600 * kSec;
  hour.init(w.get(), edt1);
  ASSERT_TRUE(hour.try_charge(w.get(), 1, edt1 + 10 * kSec).allowed);  // 01:00:10 EDT
  LimitResult same = hour.try_charge(w.get(), 1, est1 - 1);
  EXPECT_FALSE(same.allowed);
  EXPECT_EQ(same.retry_after, 1);
  EXPECT_TRUE(hour.try_charge(w.get(), 1, est1 + 10 * kSec).allowed);  // 01:00:10 EST
}

TEST(Quota, TimeGoingBackwardsKeepsTheLaterPeriod) {
  // Verifies a clock stepping back across a boundary gets no fresh quota: the
  // word keeps counting against the later period, and refunds find it.
  Quota q = *Quota::make(2, Period::kDay, "UTC");
  Words w(1);
  const Nanos day2 = 1'704'067'200 * kSec;
  q.init(w.get(), day2 - kHour);
  ASSERT_TRUE(q.try_charge(w.get(), 1, day2 + kSec).allowed);
  LimitResult back = q.try_charge(w.get(), 1, day2 - kSec);
  ASSERT_TRUE(back.allowed);
  EXPECT_EQ(back.remaining, 0);
  EXPECT_EQ(back.recorded_at, day2);
  EXPECT_EQ(back.reset_after, kDay + kSec);  // until the later period ends
  LimitResult denied = q.try_charge(w.get(), 1, day2 - kSec);
  EXPECT_FALSE(denied.allowed);
  EXPECT_EQ(denied.retry_after, kDay + kSec);
  EXPECT_FALSE(q.peek(w.get(), 1, day2 - kSec).allowed);
  EXPECT_FALSE(q.try_seal(w.get(), day2 - kSec));
  q.refund(w.get(), 1, back.recorded_at, day2 - kSec);
  EXPECT_TRUE(q.peek(w.get(), 1, day2 + 2 * kSec).allowed);
  // A refund naming the earlier period does not touch the later count.
  q.refund(w.get(), 1, day2 - kSec, day2 - kSec);
  EXPECT_EQ(q.peek(w.get(), 0, day2 + 2 * kSec).remaining, 1);
  EXPECT_TRUE(q.try_charge(w.get(), 1, day2 + kDay).allowed);
}

TEST(Quota, RefundSealReset) {
  // Verifies refund within the period, sealing only when unused (or only an
  // old period is used), sealed words rejecting everything, and reset.
  Quota q = *Quota::make(5, Period::kHour, "UTC");
  Words w(1);
  const Nanos t = 1'704'067'200 * kSec;
  q.init(w.get(), t);
  ASSERT_TRUE(q.try_charge(w.get(), 5, t).allowed);
  q.refund(w.get(), 2, t, t);
  EXPECT_EQ(q.peek(w.get(), 0, t).remaining, 2);
  q.refund(w.get(), 100, t, t);
  EXPECT_EQ(q.peek(w.get(), 0, t).remaining, 5);
  ASSERT_TRUE(q.try_charge(w.get(), 1, t).allowed);
  EXPECT_FALSE(q.try_seal(w.get(), t + kHour - 1));
  q.reset(w.get(), t);
  EXPECT_EQ(q.peek(w.get(), 0, t).remaining, 5);
  ASSERT_TRUE(q.try_charge(w.get(), 1, t).allowed);
  EXPECT_TRUE(q.try_seal(w.get(), t + kHour));
  EXPECT_TRUE(q.try_charge(w.get(), 1, t + kHour).sealed);
  EXPECT_TRUE(q.peek(w.get(), 1, t + kHour).sealed);
  q.refund(w.get(), 1, t, t);
  q.reset(w.get(), t);
  EXPECT_EQ(w[0].load(), Quota::kSealed);
}

}  // namespace
}  // namespace tollgate
