#include "engine/limits/calendar.h"

#include <gtest/gtest.h>

namespace tollgate {
namespace {

constexpr Nanos kSec = kNanosPerSecond;
constexpr Nanos kHour = 3600 * kSec;
constexpr Nanos kDay = 24 * kHour;

// Expected instants below were computed independently with Python zoneinfo.
PeriodBounds bounds_in(Period p, const char* zone, Nanos t) {
  auto cal = Calendar::make(p, zone);
  EXPECT_TRUE(cal.has_value()) << zone;
  return cal->bounds(t);
}

TEST(Calendar, BadZoneIsAnError) {
  // Verifies unknown and empty zone names are refused with a message.
  auto bad = Calendar::make(Period::kDay, "Mars/Olympus_Mons");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("Mars/Olympus_Mons"), std::string::npos);
  EXPECT_FALSE(Calendar::make(Period::kDay, "").has_value());
  EXPECT_TRUE(Calendar::make(Period::kDay, "UTC").has_value());
}

TEST(Calendar, ShanghaiMidnightExactly) {
  // Verifies the day boundary at 00:00 +08:00, 1 ns before and at it.
  const Nanos midnight = 1'710'000'000 * kSec;  // 2024-03-10 00:00 Asia/Shanghai
  auto cal = *Calendar::make(Period::kDay, "Asia/Shanghai");
  EXPECT_EQ(cal.bounds(midnight - 1), (PeriodBounds{midnight - kDay, midnight}));
  EXPECT_EQ(cal.bounds(midnight), (PeriodBounds{midnight, midnight + kDay}));
  EXPECT_EQ(cal.bounds(midnight - 1), (PeriodBounds{midnight - kDay, midnight}));
  EXPECT_EQ(cal.bounds(midnight + kDay - 1), (PeriodBounds{midnight, midnight + kDay}));
}

TEST(Calendar, IsoWeekStartsMonday) {
  // Verifies weeks run Monday 00:00 to the next Monday (2024-01-01 is a Monday).
  const Nanos monday = 1'704'067'200 * kSec, next_monday = 1'704'672'000 * kSec;
  for (Nanos t : {monday, monday + 2 * kDay + 12 * kHour, next_monday - 1}) {
    EXPECT_EQ(bounds_in(Period::kWeek, "UTC", t), (PeriodBounds{monday, next_monday}));
  }
  EXPECT_EQ(bounds_in(Period::kWeek, "UTC", next_monday).start, next_monday);
  EXPECT_EQ(bounds_in(Period::kWeek, "UTC", monday - 1).end, monday);
  EXPECT_EQ(bounds_in(Period::kWeek, "UTC", monday - 1).start, monday - 7 * kDay);
}

TEST(Calendar, MonthLengths) {
  // Verifies month periods, including February of a leap and a common year.
  const Nanos feb24 = 1'706'745'600 * kSec, mar24 = 1'709'251'200 * kSec;
  const Nanos feb23 = 1'675'209'600 * kSec, mar23 = 1'677'628'800 * kSec;
  EXPECT_EQ(bounds_in(Period::kMonth, "UTC", feb24 + 5), (PeriodBounds{feb24, mar24}));
  EXPECT_EQ(mar24 - feb24, 29 * kDay);
  EXPECT_EQ(bounds_in(Period::kMonth, "UTC", mar23 - 1), (PeriodBounds{feb23, mar23}));
  EXPECT_EQ(mar23 - feb23, 28 * kDay);
  PeriodBounds jan = bounds_in(Period::kMonth, "UTC", feb24 - 1);
  EXPECT_EQ(jan.end - jan.start, 31 * kDay);
  PeriodBounds apr = bounds_in(Period::kMonth, "UTC", mar24 + 31 * kDay);
  EXPECT_EQ(apr.end - apr.start, 30 * kDay);
}

TEST(Calendar, DstDaysAre23And25Hours) {
  // Verifies spring-forward and fall-back days in New York and Berlin.
  struct Case {
    const char* zone;
    int64_t start_s, end_s;
  } cases[] = {
      {"America/New_York", 1'710'046'800, 1'710'129'600},  // 2024-03-10, 23 h
      {"America/New_York", 1'730'606'400, 1'730'696'400},  // 2024-11-03, 25 h
      {"Europe/Berlin", 1'711'839'600, 1'711'922'400},     // 2024-03-31, 23 h
      {"Europe/Berlin", 1'729'980'000, 1'730'070'000},     // 2024-10-27, 25 h
  };
  for (const Case& c : cases) {
    PeriodBounds want{c.start_s * kSec, c.end_s * kSec};
    EXPECT_EQ(bounds_in(Period::kDay, c.zone, want.start), want) << c.zone;
    EXPECT_EQ(bounds_in(Period::kDay, c.zone, want.end - 1), want) << c.zone;
  }
  EXPECT_EQ((1'710'129'600 - 1'710'046'800) * kSec, 23 * kHour);
  EXPECT_EQ((1'730'696'400 - 1'730'606'400) * kSec, 25 * kHour);
}

TEST(Calendar, DayStartingAtASkippedMidnight) {
  // Verifies a day whose 00:00 does not exist (America/Santiago jumps from
  // 2024-09-07 24:00 to 01:00) starts at the transition.
  const Nanos start = 1'725'768'000 * kSec, end = 1'725'850'800 * kSec;
  EXPECT_EQ(bounds_in(Period::kDay, "America/Santiago", start), (PeriodBounds{start, end}));
  EXPECT_EQ(bounds_in(Period::kDay, "America/Santiago", start - 1).end, start);
}

TEST(Calendar, RepeatedFallBackHourIsTwoPeriods) {
  // Verifies 01:00 EDT and 01:00 EST on 2024-11-03 are distinct hour periods,
  // and the spring-forward hours around the skipped 02:00 are contiguous.
  auto ny = *Calendar::make(Period::kHour, "America/New_York");
  const Nanos edt1 = 1'730'610'000 * kSec, est1 = 1'730'613'600 * kSec, est2 = 1'730'617'200 * kSec;
  EXPECT_EQ(ny.bounds(edt1 + 30 * 60 * kSec), (PeriodBounds{edt1, est1}));
  EXPECT_EQ(ny.bounds(est1 - 1), (PeriodBounds{edt1, est1}));
  EXPECT_EQ(ny.bounds(est1), (PeriodBounds{est1, est2}));
  EXPECT_EQ(ny.bounds(est1 + 30 * 60 * kSec), (PeriodBounds{est1, est2}));
  EXPECT_EQ(ny.bounds(est2), (PeriodBounds{est2, est2 + kHour}));
  const Nanos one = 1'710'050'400 * kSec, three = 1'710'054'000 * kSec;
  EXPECT_EQ(ny.bounds(one + 1), (PeriodBounds{one, three}));
  EXPECT_EQ(three - one, kHour);
  EXPECT_EQ(ny.bounds(three), (PeriodBounds{three, three + kHour}));
}

TEST(Calendar, CacheAgreesWithFreshComputation) {
  // Verifies cached answers equal uncached ones across many boundaries, and
  // a copy gives the same answers.
  auto cal = *Calendar::make(Period::kHour, "Europe/Berlin");
  Nanos t = 1'729'980'000 * kSec - 3 * kHour;
  for (int i = 0; i < 2000; ++i, t += 7 * 60 * kSec + 13) {
    PeriodBounds cached = cal.bounds(t);
    PeriodBounds fresh = Calendar::make(Period::kHour, "Europe/Berlin")->bounds(t);
    ASSERT_EQ(Calendar(cal).bounds(t), fresh);
    ASSERT_EQ(cached, fresh) << i;
    ASSERT_LE(cached.start, t);
    ASSERT_LT(t, cached.end);
  }
}

}  // namespace
}  // namespace tollgate
