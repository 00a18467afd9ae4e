// Calendar periods (hour, day, ISO week from Monday, month) in an IANA time
// zone: which period an instant falls in, DST-correct (a New York day can be
// 23 or 25 hours; a period starting at a skipped civil time starts at the
// transition). Hour periods also end at every UTC-offset change, so the two
// occurrences of a repeated fall-back hour are distinct periods.
//
// The object is immutable except for a one-word cache of the current
// period's bounds (start seconds and length packed into one atomic), so most
// calls do no cctz work and no torn read is possible. Thread-safe; copyable
// (the copy takes the cache's current value).
#pragma once

#include <atomic>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include <cctz/time_zone.h>

#include "tollgate/limit_spec.h"
#include "tollgate/time.h"

namespace tollgate {

// [start, end): the instants of one period.
struct PeriodBounds {
  Nanos start = 0;
  Nanos end = 0;
  bool operator==(const PeriodBounds&) const = default;
};

class Calendar {
 public:
  // Loads `zone` (an IANA name such as "Asia/Shanghai", or "UTC"); an
  // unknown or empty name is an error.
  static std::expected<Calendar, std::string> make(Period period, std::string_view zone);

  Calendar(const Calendar& other);
  Calendar& operator=(const Calendar& other);

  // The period containing `now`: start ≤ now < end (whole seconds; `end`
  // saturates at the end of Nanos). Uses and refreshes the cache unless
  // `update_cache` is false (for cold paths asking about other periods).
  // Thread-safe, lock-free.
  PeriodBounds bounds(Nanos now, bool update_cache = true) const;

  Period period() const { return period_; }
  const std::string& zone_name() const { return zone_name_; }

 private:
  Calendar(Period period, cctz::time_zone zone, std::string zone_name)
      : period_(period), zone_(zone), zone_name_(std::move(zone_name)) {}

  // The cctz computation behind bounds(). Thread-safe.
  PeriodBounds compute(Nanos now) const;

  Period period_;
  cctz::time_zone zone_;
  std::string zone_name_;
  // (start seconds, signed 42 bits) << 22 | length seconds (22 bits, ≤ 48
  // days); 0 = empty.
  mutable std::atomic<uint64_t> cache_{0};
};

}  // namespace tollgate
