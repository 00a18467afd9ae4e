// The outcome of one limiter operation (try_charge / try_reserve / peek), shared by all
// limiter types. Plain value type.
#pragma once

#include <cstdint>
#include <limits>

#include "tollgate/time.h"

namespace tollgate {

struct LimitResult {
  bool allowed = false;
  // The state words were sealed for eviction: nothing was changed and the
  // caller must look the key up again (it gets a fresh entry).
  bool sealed = false;
  // Units left after this call (allowed) or now (denied); never negative.
  int64_t remaining = 0;
  // 0 when allowed; else the time until `cost` would be allowed; -1 if never
  // (cost exceeds the capacity, or the answer is past the end of Nanos).
  Nanos retry_after = 0;
  // Time until the limit is fully replenished / resets; never negative.
  Nanos reset_after = 0;
  // When allowed: an instant inside the slice/period the units were counted
  // in (normally `now`; later than `now` when another thread's clock was
  // ahead, or for a reservation, its slot: now + delay). Pass it to refund()
  // as `charged_at` to give the charge back.
  Nanos recorded_at = 0;
  // When allowed by try_reserve: how long after `now` the call conforms (its
  // reserved slot); the caller must not act on the call before now + delay.
  // Always 0 from try_charge / peek.
  Nanos delay = 0;
};

namespace limits_detail {

inline constexpr Nanos kNanosMax = std::numeric_limits<Nanos>::max();
inline constexpr Nanos kNanosMin = std::numeric_limits<Nanos>::min();

// A GCRA theoretical arrival time kept in an atomic word. kNanosMin's bit
// pattern is the sealed sentinel (the sweeper is unlinking the entry), so a
// stored TAT stays above it: the next value up means the same thing for GCRA
// (a TAT far in the past, a full bucket whatever the parameters).
inline constexpr Nanos kLongAgo = kNanosMin + 1;
constexpr Nanos load_tat(uint64_t raw) { return static_cast<Nanos>(raw); }
constexpr uint64_t store_tat(Nanos tat) { return static_cast<uint64_t>(tat > kLongAgo ? tat : kLongAgo); }

// a + b, clamped to the Nanos range.
constexpr Nanos saturating_add(Nanos a, Nanos b) {
  Nanos r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kNanosMax : kNanosMin;
  return r;
}

// a - b, clamped to the Nanos range.
constexpr Nanos saturating_sub(Nanos a, Nanos b) {
  Nanos r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? kNanosMax : kNanosMin;
  return r;
}

// Floor division and modulo for possibly negative instants (d > 0).
constexpr int64_t floor_div(int64_t a, int64_t d) {
  int64_t q = a / d;
  return (a % d != 0 && a < 0) ? q - 1 : q;
}
constexpr int64_t floor_mod(int64_t a, int64_t d) {
  int64_t m = a % d;
  return m < 0 ? m + d : m;
}

}  // namespace limits_detail
}  // namespace tollgate
