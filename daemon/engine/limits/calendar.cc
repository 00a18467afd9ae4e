#include "engine/limits/calendar.h"

#include <algorithm>
#include <chrono>

#include <cctz/civil_time.h>

#include "engine/limits/limit_result.h"

namespace tollgate {

namespace {

using Seconds = cctz::time_point<cctz::seconds>;
using Lookup = cctz::time_zone::civil_lookup;

constexpr int kLengthBits = 22;
constexpr uint64_t kLengthMask = (uint64_t{1} << kLengthBits) - 1;
constexpr int64_t kStartLimit = int64_t{1} << 41;

Seconds to_seconds(Nanos t) {
  return Seconds(cctz::seconds(limits_detail::floor_div(t, kNanosPerSecond)));
}

Nanos to_nanos(Seconds t) {
  Nanos n;
  int64_t s = t.time_since_epoch().count();
  if (__builtin_mul_overflow(s, kNanosPerSecond, &n)) {
    return s < 0 ? limits_detail::kNanosMin : limits_detail::kNanosMax;
  }
  return n;
}

// The instant a period starting at civil time `cl` began, as seen from `now`
// (≤ now). For a repeated civil time, hours take the occurrence we are in
// (so both fall-back hours are distinct), longer periods the first one.
Seconds start_instant(const Lookup& cl, Seconds now, bool latest) {
  if (cl.kind == Lookup::SKIPPED) return cl.trans;
  if (cl.kind == Lookup::REPEATED && latest && cl.post <= now) return cl.post;
  return cl.pre;
}

// The first instant after `now` at which civil time `cl` is reached.
Seconds end_instant(const Lookup& cl, Seconds now) {
  if (cl.kind == Lookup::SKIPPED) return cl.trans;
  if (cl.kind == Lookup::REPEATED && cl.pre <= now) return cl.post;
  return cl.pre;
}

}  // namespace

std::expected<Calendar, std::string> Calendar::make(Period period, std::string_view zone) {
  if (zone.empty()) return std::unexpected("empty time zone name");
  cctz::time_zone tz;
  std::string name(zone);
  if (!cctz::load_time_zone(name, &tz)) {
    return std::unexpected("unknown time zone '" + name + "'");
  }
  return Calendar(period, tz, std::move(name));
}

Calendar::Calendar(const Calendar& other)
    : period_(other.period_),
      zone_(other.zone_),
      zone_name_(other.zone_name_),
      cache_(other.cache_.load(std::memory_order_relaxed)) {}

Calendar& Calendar::operator=(const Calendar& other) {
  period_ = other.period_;
  zone_ = other.zone_;
  zone_name_ = other.zone_name_;
  cache_.store(other.cache_.load(std::memory_order_relaxed), std::memory_order_relaxed);
  return *this;
}

PeriodBounds Calendar::compute(Nanos now) const {
  Seconds tp = to_seconds(now);
  cctz::civil_second cs = cctz::convert(tp, zone_);
  cctz::civil_second first, next;
  switch (period_) {
    case Period::kHour:
      first = cctz::civil_hour(cs);
      next = cctz::civil_hour(cs) + 1;
      break;
    case Period::kDay:
      first = cctz::civil_day(cs);
      next = cctz::civil_day(cs) + 1;
      break;
    case Period::kWeek: {
      // prev_weekday is strictly before its argument: the Monday on or before.
      cctz::civil_day monday = cctz::prev_weekday(cctz::civil_day(cs) + 1, cctz::weekday::monday);
      first = monday;
      next = monday + 7;
      break;
    }
    case Period::kMonth:
      first = cctz::civil_month(cs);
      next = cctz::civil_month(cs) + 1;
      break;
  }
  bool hour = period_ == Period::kHour;
  Seconds start = start_instant(zone_.lookup(first), tp, hour);
  Seconds end = end_instant(zone_.lookup(next), tp);
  if (hour) {
    // An offset change ends an hour period (fall-back: 01:00 EDT and 01:00
    // EST are two hours; half-hour shifts split an hour).
    cctz::time_zone::civil_transition tr;
    if (zone_.prev_transition(tp + cctz::seconds(1), &tr)) {
      start = std::max(start, std::min(tp, zone_.lookup(tr.to).trans));
    }
    if (zone_.next_transition(tp, &tr)) end = std::min(end, zone_.lookup(tr.to).trans);
  }
  // Pathological zone histories must still yield start ≤ now < end.
  start = std::min(start, tp);
  if (end <= tp) end = tp + cctz::seconds(1);
  return {to_nanos(start), to_nanos(end)};
}

PeriodBounds Calendar::bounds(Nanos now, bool update_cache) const {
  uint64_t cached = cache_.load(std::memory_order_relaxed);
  if ((cached & kLengthMask) != 0) {
    // Values were produced from in-range Nanos, so these cannot overflow.
    Nanos start = (static_cast<int64_t>(cached) >> kLengthBits) * kNanosPerSecond;
    Nanos end = start + static_cast<int64_t>(cached & kLengthMask) * kNanosPerSecond;
    if (start <= now && now < end) return {start, end};
  }
  PeriodBounds b = compute(now);
  if (update_cache && b.start % kNanosPerSecond == 0 && b.end % kNanosPerSecond == 0) {
    int64_t start_s = b.start / kNanosPerSecond;
    int64_t length_s = (b.end - b.start) / kNanosPerSecond;
    if (start_s > -kStartLimit && start_s < kStartLimit && length_s > 0 &&
        static_cast<uint64_t>(length_s) <= kLengthMask) {
      // A racing writer may store another period; any stored value is whole.
      cache_.store((static_cast<uint64_t>(start_s) << kLengthBits) |
                       static_cast<uint64_t>(length_s),
                   std::memory_order_relaxed);
    }
  }
  return b;
}

}  // namespace tollgate
