#include "engine/money/lot_validity.h"

#include <cctz/civil_time.h>
#include <cctz/time_zone.h>

#include <chrono>
#include <limits>

namespace tollgate {

std::expected<Nanos, std::string> lot_expiry(const LotValidity& validity, Nanos created, std::string_view zone) {
  if (!validity.enabled()) return 0;
  if (validity.days <= 0) {
    Nanos expires = 0;
    if (__builtin_add_overflow(created, validity.fixed, &expires)) return std::unexpected("lot expiry out of range");
    return expires;
  }
  if (validity.days > kMaxLotValidityDays) return std::unexpected("lot validity too long");
  cctz::time_zone tz;
  if (!cctz::load_time_zone(std::string(zone), &tz)) return std::unexpected("unknown time zone '" + std::string(zone) + "'");
  const auto seconds = std::chrono::floor<std::chrono::seconds>(std::chrono::nanoseconds(created));
  const Nanos fraction = created - std::chrono::duration_cast<std::chrono::nanoseconds>(seconds).count();
  const cctz::time_point<cctz::seconds> instant(seconds);
  const cctz::civil_second local = cctz::convert(instant, tz);
  const cctz::civil_day day = cctz::civil_day(local) + validity.days;
  const cctz::civil_second later(day.year(), day.month(), day.day(), local.hour(), local.minute(), local.second());
  // lookup().pre: for a wall time a DST change skips, the instant at the
  // offset in force before it (later on the clock); for a repeated one, the first.
  const auto expiry = tz.lookup(later).pre;
  const int64_t s = expiry.time_since_epoch().count();
  constexpr int64_t kMaxSeconds = std::numeric_limits<Nanos>::max() / kNanosPerSecond - 1;
  if (s <= 0 || s > kMaxSeconds) return std::unexpected("lot expiry out of range");
  return s * kNanosPerSecond + fraction;
}

std::string format_lot_validity(const LotValidity& validity) {
  if (validity.days > 0) return std::to_string(validity.days) + "d";
  if (validity.fixed <= 0) return "";
  // The largest unit that divides it (config syntax).
  struct Unit {
    Nanos scale;
    const char* suffix;
  };
  for (const Unit u : {Unit{3'600 * kNanosPerSecond, "h"}, Unit{60 * kNanosPerSecond, "m"}, Unit{kNanosPerSecond, "s"},
                       Unit{kNanosPerMilli, "ms"}, Unit{1000, "us"}})
    if (validity.fixed % u.scale == 0) return std::to_string(validity.fixed / u.scale) + u.suffix;
  return std::to_string(validity.fixed) + "ns";
}

}  // namespace tollgate
