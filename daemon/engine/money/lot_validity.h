// How long a lot's credits stay spendable (`pricing.lot_validity`, README
// "Lot validity") and the instant that gives a lot. Values only; thread-safe.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

#include "tollgate/time.h"

namespace tollgate {

// Either whole calendar days ("365d") or a fixed duration ("36h", "90m").
// Neither set: lots never expire.
struct LotValidity {
  int64_t days = 0;  // calendar days in the contract's time zone
  Nanos fixed = 0;   // or an exact duration
  [[nodiscard]] bool enabled() const { return days > 0 || fixed > 0; }
  friend bool operator==(const LotValidity&, const LotValidity&) = default;
};

// Longest validity accepted: 100 years (an instant must fit in Nanos).
inline constexpr int64_t kMaxLotValidityDays = 36'500;

// The instant a lot bought at `created` expires: `days` calendar days later
// at the same wall-clock time in `zone` (so across a DST change the lot lives
// 23 h or 25 h of that day, never a shifted hour; a wall time the change
// skips maps to the same offset from midnight as before it, i.e. one hour
// later on the clock), or created + `fixed`. 0 when `validity` is not
// enabled. Errors: an unknown zone, or an instant past what Nanos holds.
// Loads the zone (cctz caches it): control plane, not the hot path.
[[nodiscard]] std::expected<Nanos, std::string> lot_expiry(const LotValidity& validity, Nanos created,
                                                           std::string_view zone);

// "365d", "36h" (config syntax, for CONTRACT and the config diff).
[[nodiscard]] std::string format_lot_validity(const LotValidity& validity);

}  // namespace tollgate
